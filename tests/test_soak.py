"""Concurrency soak of the C API (tests/fuzz/soak.c).

A game thread churns sources (destroy + create ~500 per second), moves 16 sources and the
listener every 60 Hz frame and sends hostile poses now and then, while the audio thread
renders 512-frame blocks at 48 kHz in real time. A watchdog aborts if either thread stalls
for 5 s (deadlock). Checked: no crash, no deadlock, no NaN/Inf in the output, an audio
thread that never spins or waits on the game thread (its CPU time per block has no heavy
tail against its own median), no resident-memory growth after warm-up, every slot recycled
at the end. The per-block times it prints are figures, not checks: speed is measured by
`make bench` (benchmarks/run.py) and the long runs are recorded in docs/RELIABILITY.md.

``SMW_SOAK_SECONDS`` sets the duration (default 60 s, as the issue asks; the report's long run used 600 s).
"""
from __future__ import annotations

import os
from pathlib import Path

import pytest

pytestmark = [pytest.mark.c_api, pytest.mark.realtime, pytest.mark.slow]

SECONDS = float(os.environ.get("SMW_SOAK_SECONDS", "60"))
SOURCES = 16
RSS_TOLERANCE_KIB = 1024   # after warm-up the process must not grow by more than 1 MiB


@pytest.fixture(scope="module")
def soak(c_host, run_host, default_model):
    exe = c_host(Path(__file__).resolve().parent / "fuzz" / "soak.c")
    run = run_host([exe, SECONDS, "--sources", SOURCES], timeout=SECONDS + 120)
    print(run.stdout)
    return {**run.kv, "rc": run.rc, "log": run.log}


def test_soak_no_crash_no_deadlock(soak):
    assert "DEADLOCK" not in soak["log"], soak["log"]
    assert soak["rc"] == 0, f"soak host exited {soak['rc']}:\n{soak['log'][-4000:]}"
    assert soak["BLOCKS"] >= int(SECONDS * 48000 / 512) - 1


def test_soak_output_finite_and_audible(soak):
    assert soak["NONFINITE"] == 0
    assert soak["RENDER_ERRORS"] == 0 and soak["WRITE_OTHER"] == 0 and soak["OTHER_ERRORS"] == 0
    assert soak["RMS"] > 1e-3


def test_soak_churn_and_bookkeeping(soak):
    # the game thread replaces a source every 2 ms (~5 per audio block); it must have churned
    # at least one per block on average, or the audio thread never met a fresh slot
    assert soak["CREATES"] >= soak["BLOCKS"], "the game thread did not churn sources while rendering"
    # a destroyed source's slot is reusable at once, however late the audio thread is, and
    # at most 16 of the 2 x 16 slots are live: every create succeeds
    assert soak["CREATE_FULL"] == 0
    assert soak["DESTROY_ERRORS"] == 0
    assert soak["DESTROYS"] == soak["CREATES"]
    assert soak["POSE_UNEXPECTED"] == 0 and soak["POSE_REJECTED"] > 0
    assert soak["SLOTS_FREE_AFTER"] == soak["MAX_SOURCES"]


def test_soak_audio_thread_never_waits_on_the_game_thread(soak):
    """The audio thread's CPU time per block (writes + render; preemption does not count)
    against its own median, in the same run: a spin on the game thread's seqlocks, lock
    contention or a slow path hit by churn would put the 99th percentile far above the
    median. A ratio, so it holds on any CPU; 10x is ~4x the worst seen here."""
    assert soak["CPU_P50_MS"] > 0
    assert soak["CPU_P99_MS"] <= 10.0 * soak["CPU_P50_MS"], (soak["CPU_P50_MS"], soak["CPU_P99_MS"])


def test_soak_no_memory_growth(soak):
    assert soak["RSS_GROWTH_KIB"] <= RSS_TOLERANCE_KIB, (soak["RSS_WARM_KIB"], soak["RSS_END_KIB"])
    assert soak["RSS_MAX_KIB"] - soak["RSS_WARM_KIB"] <= RSS_TOLERANCE_KIB
