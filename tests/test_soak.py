"""Concurrency soak of the C API (tests/fuzz/soak.c).

A game thread churns sources (destroy + create ~500 per second), moves 16 sources and the
listener every 60 Hz frame and sends hostile poses now and then, while the audio thread
renders 512-frame blocks at 48 kHz in real time. A watchdog aborts if either thread stalls
for 5 s (deadlock). Checked: no crash, no deadlock, no NaN/Inf in the output, no block whose
processing (16 writes + render) exceeds the 10.67 ms deadline, no resident-memory growth
after warm-up, every slot recycled at the end.

``SMW_SOAK_SECONDS`` sets the duration (default 60 s, as the issue asks; the report's long run used 600 s).
"""
from __future__ import annotations

import os
import subprocess

import pytest

from test_c_api import ensure_lib, parse_kv
from test_fuzz_api import FUZZ, ROOT, model_args

SECONDS = float(os.environ.get("SMW_SOAK_SECONDS", "60"))
SOURCES = 16
DEADLINE_MS = 512 / 48000 * 1e3
RSS_TOLERANCE_KIB = 1024   # after warm-up the process must not grow by more than 1 MiB


@pytest.fixture(scope="module")
def soak(tmp_path_factory):
    lib = ensure_lib()
    d = tmp_path_factory.mktemp("soak")
    exe = d / "soak"
    r = subprocess.run(["gcc", "-O2", "-Wall", "-std=gnu11", f"-I{ROOT / 'include'}", "-o", str(exe),
                        str(FUZZ / "soak.c"), f"-L{lib.parent}", "-lspatialmw", f"-Wl,-rpath,{lib.parent}",
                        "-lpthread", "-lm"], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    run = subprocess.run(["env", "-i", str(exe), str(SECONDS), "--sources", str(SOURCES), *model_args(d)],
                         capture_output=True, text=True, timeout=SECONDS + 120)
    print(run.stdout)
    kv = parse_kv(run.stdout)
    kv["rc"] = run.returncode
    kv["log"] = run.stdout + run.stderr
    return kv


def test_soak_no_crash_no_deadlock(soak):
    assert "DEADLOCK" not in soak["log"], soak["log"]
    assert soak["rc"] == 0, f"soak host exited {soak['rc']}:\n{soak['log'][-4000:]}"
    assert soak["BLOCKS"] >= int(SECONDS * 48000 / 512) - 1


def test_soak_output_finite_and_audible(soak):
    assert soak["NONFINITE"] == 0
    assert soak["RENDER_ERRORS"] == 0 and soak["WRITE_OTHER"] == 0 and soak["OTHER_ERRORS"] == 0
    assert soak["RMS"] > 1e-3


def test_soak_churn_rate_and_bookkeeping(soak):
    assert soak["CREATES_PER_S"] >= 200, "the game thread did not churn hundreds of sources per second"
    # OUT_OF_SOURCES is correct while the audio thread is late (destroyed slots are recycled
    # only by smw_render); with capacity 2 x 16 it must stay rare
    assert soak["CREATE_FULL"] <= 0.001 * soak["CREATES"]
    assert soak["DESTROY_ERRORS"] == 0
    assert soak["DESTROYS"] == soak["CREATES"]
    assert soak["POSE_UNEXPECTED"] == 0 and soak["POSE_REJECTED"] > 0
    assert soak["SLOTS_FREE_AFTER"] == soak["MAX_SOURCES"]


def test_soak_no_deadline_miss_at_16_sources(soak):
    # CPU time of the audio thread: what the library costs; wall time also counts being
    # preempted. On the shared 2-core CI VM, isolated ~30 ms stalls that show up in BOTH
    # clocks were seen about once per 5 minutes (cause not isolated, see docs/RELIABILITY.md),
    # so one isolated miss per run is tolerated; systematic slowness is not: p99.9 must stay
    # under half the deadline.
    assert soak["MISSES_CPU"] <= 1, f"{soak['MISSES_CPU']} misses, max {soak['CPU_MAX_MS']} ms"
    if soak["REALTIME_PRIORITY"]:
        assert soak["MISSES_WALL"] <= 1, f"{soak['MISSES_WALL']} misses, max {soak['WALL_MAX_MS']} ms"
    assert soak["WALL_P999_MS"] < 0.5 * DEADLINE_MS


def test_soak_no_memory_growth(soak):
    assert soak["RSS_GROWTH_KIB"] <= RSS_TOLERANCE_KIB, (soak["RSS_WARM_KIB"], soak["RSS_END_KIB"])
    assert soak["RSS_MAX_KIB"] - soak["RSS_WARM_KIB"] <= RSS_TOLERANCE_KIB
