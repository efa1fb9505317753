"""C API fuzzing under AddressSanitizer + UndefinedBehaviorSanitizer.

``tests/fuzz/api_fuzz.c`` issues random sequences of every public call with hostile
arguments (NaN/Inf/1e30/denormal floats, zero and denormal quaternions, stale, forged and
zero handles, NULL pointers, oversize and negative frame counts, bad settings, stereo
widths out of [0, 180], mono calls on stereo sources and stereo calls on mono ones, a
stereo create with one slot free, forged handles over every generation of a stereo
source's neighbouring slot, level-of-detail priorities that are NaN, Inf, negative or past
1e6, creates with full_sources or lod_hysteresis_db out of range) and checks each result against the documented set for that
function and against an oracle of the expected code. Two builds are fuzzed:

* **host + shim instrumented**: the fuzz host and a second build of the native library
  whose C files (``bindings/shim.c``, ``rt_stubs.c``) are compiled with
  ``-fsanitize=address,undefined`` (``build_sdk.py --cflags``; same kernels object) --
  every C line of the library runs under ASan/UBSan;
* **host instrumented, shipped library**: the fuzz host against ``build/lib/libspatialmw.so``
  as built by ``make lib`` (ASan still checks the intercepted libc calls and the host).

Not instrumented in either: the numba-compiled kernels (LLVM code, emitted ahead of time).
Every buffer handed to the library ends at a PROT_NONE guard page, so a kernel that reads
or writes past the caller's buffer faults even without instrumentation.
Leak detection is off (``ASAN_OPTIONS=detect_leaks=0``): the fuzz host exits mid-sequence
with renderers alive by design.

Environment: ``SMW_FUZZ_CALLS`` (default 100000), ``SMW_FUZZ_SEED`` (default 20240601).
"""
from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path

import pytest

from tests.helpers import SAN_ENV, SAN_FLAGS, SANITIZER_MARKERS, build_sdk

pytestmark = [pytest.mark.c_api, pytest.mark.fuzz]

ROOT = Path(__file__).resolve().parents[1]
CALLS = int(os.environ.get("SMW_FUZZ_CALLS", "100000"))
SEED = int(os.environ.get("SMW_FUZZ_SEED", "20240601"))


def build_asan_lib(outdir: Path) -> Path:
    """A second build of the native library with its C files under ASan/UBSan."""
    build_sdk("--prefix", outdir, "--cflags", " ".join(SAN_FLAGS + ["-g"]))
    return outdir / "lib" / "libspatialmw.so"


def run_fuzz(run_host, exe: Path, calls: int, seed: int, args=(), timeout=600):
    r = run_host([exe, calls, seed, *args], timeout=timeout, env=SAN_ENV)
    print("\n".join(line for line in r.stdout.splitlines() if not line.startswith("#")))
    return {"rc": r.rc, **r.kv}, r.log


def assert_clean(res: dict, log: str, calls: int, lod: bool):
    """No sanitizer report, no violation; ``lod``: the renderers have the corrector, so the
    level of detail's bed tier must have run (the host gives the first few full_sources)."""
    found = [m for m in SANITIZER_MARKERS if m in log]
    assert not found, f"sanitizer report {found}:\n{log[-6000:]}"
    violations = re.findall(r"^VIOLATION .*$", log, re.M)
    assert not violations, "\n".join(violations[:20])
    assert res["rc"] == 0, f"fuzz host exited {res['rc']} (crash or violation):\n{log[-6000:]}"
    assert res["CALLS"] >= calls
    assert res["VIOLATIONS"] == 0 and res["NONFINITE_OUTPUT"] == 0 and res["INTERNAL_ERRORS"] == 0
    # every call answered with a code inside the enum (the host counts per code)
    assert sum(res[f"RESULT_{k}"] for k in range(17)) > 0.8 * calls
    # the stereo calls ran, hit the two-slot rule (one slot free) and the channel checks
    assert res["STEREO_CALLS"] > 0.05 * calls and res["STEREO_ONE_FREE_REFUSED"] > 0 and res["RESULT_16"] > 0
    assert res["PRIORITY_CALLS"] > 0.002 * calls and res["SKIP_CALLS"] > 0.01 * calls
    assert (res["LOD_STATUS_SEEN"] > 0) == lod


@pytest.mark.slow
def test_fuzz_instrumented_host_and_shim(c_host, run_host, default_model, tmp_path):
    """>= 100,000 calls with host AND shim under ASan/UBSan; zero reports, zero violations."""
    lib = build_asan_lib(tmp_path / "asanlib")
    exe = c_host(ROOT / "tests" / "fuzz" / "api_fuzz.c", *SAN_FLAGS, libdir=lib.parent, opt="-O1")
    res, log = run_fuzz(run_host, exe, CALLS, SEED, ["--renderers", "3"])
    assert_clean(res, log, CALLS, lod=True)


def test_fuzz_instrumented_host_shipped_library(c_host, run_host):
    """The library exactly as `make lib` builds it, time-domain-warp-only renderers."""
    exe = c_host(ROOT / "tests" / "fuzz" / "api_fuzz.c", *SAN_FLAGS, opt="-O1")
    calls = max(CALLS // 4, 1000)
    res, log = run_fuzz(run_host, exe, calls, SEED + 1, ["--renderers", "2", "--tdw-only"])
    assert_clean(res, log, calls, lod=False)


def test_fuzz_instrumented_host_shipped_library_level_of_detail(c_host, run_host):
    """The shipped library with the corrector, so that the level of detail runs: the first
    renderer has 16 sources and 4 full-path places, so its bed tier is used while the
    priorities and settings are hostile."""
    exe = c_host(ROOT / "tests" / "fuzz" / "api_fuzz.c", *SAN_FLAGS, opt="-O1")
    calls = max(CALLS // 4, 1000)
    res, log = run_fuzz(run_host, exe, calls, SEED + 2, ["--renderers", "2"])
    assert_clean(res, log, calls, lod=True)
