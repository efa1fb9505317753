"""C API fuzzing under AddressSanitizer + UndefinedBehaviorSanitizer.

``tests/fuzz/api_fuzz.c`` issues random sequences of every public call with hostile
arguments (NaN/Inf/1e30/denormal floats, zero and denormal quaternions, stale, forged and
zero handles, NULL pointers, oversize and negative frame counts, bad settings) and checks
each result against the documented set for that function and against an oracle of the
expected code. Two builds are fuzzed:

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

from test_c_api import ROOT, build_sdk, ensure_lib, parse_kv

FUZZ = ROOT / "tests" / "fuzz"
SAN_FLAGS = ["-fsanitize=address,undefined", "-fno-omit-frame-pointer", "-fno-sanitize-recover=undefined"]
CALLS = int(os.environ.get("SMW_FUZZ_CALLS", "100000"))
SEED = int(os.environ.get("SMW_FUZZ_SEED", "20240601"))
SAN_ENV = {"ASAN_OPTIONS": "detect_leaks=0:halt_on_error=1:abort_on_error=0:allocator_may_return_null=1",
           "UBSAN_OPTIONS": "print_stacktrace=1:halt_on_error=1"}
SANITIZER_MARKERS = ("ERROR: AddressSanitizer", "runtime error:", "ERROR: LeakSanitizer",
                     "UndefinedBehaviorSanitizer", "SUMMARY: ")


def write_test_model(path: Path) -> Path:
    """A small valid Lite-INN model, so the corrector path runs even before a default
    model is shipped."""
    import numpy as np
    from spatialmw.kernels.ibc import ibc_param_count
    from spatialmw.model import LiteINNModel, save_model
    dims = np.array([4, 4, 16, 1, 2, 4], dtype=np.int64)
    rng = np.random.default_rng(0)
    theta = rng.normal(size=ibc_param_count(dims)) * 0.1
    theta[:4] = [1.4, 0.0, 0.0, 24000.0]
    return save_model(LiteINNModel(theta=theta, dims=dims, grid_hz=np.linspace(0, 24000, 32),
                                   head_radius=0.0875), path)


def model_args(tmp: Path) -> list[str]:
    """Fuzz the full Lite-INN path: the shipped model if there is one, else a test model."""
    from spatialmw.model import default_model_path
    if default_model_path().exists():
        return []
    return ["--model", str(write_test_model(tmp / "fuzz_model.npz"))]


def compile_host(src: Path, exe: Path, libdir: Path, extra=()) -> Path:
    cmd = ["gcc", "-O1", "-g", "-Wall", "-std=gnu11", f"-I{ROOT / 'include'}", "-o", str(exe), str(src),
           f"-L{libdir}", "-lspatialmw", f"-Wl,-rpath,{libdir}", *extra, "-lpthread", "-lm"]
    r = subprocess.run(cmd, capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    return exe


def build_asan_lib(outdir: Path) -> Path:
    """A second build of the native library with its C files under ASan/UBSan."""
    build_sdk("--prefix", outdir, "--cflags", " ".join(SAN_FLAGS + ["-g"]))
    return outdir / "lib" / "libspatialmw.so"


def run_fuzz(exe: Path, calls: int, seed: int, args=(), timeout=600) -> tuple[dict, str]:
    cmd = ["env", "-i"] + [f"{k}={v}" for k, v in SAN_ENV.items()] + [str(exe), str(calls), str(seed), *args]
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
    log = r.stdout + r.stderr
    print("\n".join(line for line in r.stdout.splitlines() if not line.startswith("#")))
    return {"rc": r.returncode, **parse_kv(r.stdout)}, log


def assert_clean(res: dict, log: str, calls: int):
    found = [m for m in SANITIZER_MARKERS if m in log]
    assert not found, f"sanitizer report {found}:\n{log[-6000:]}"
    violations = re.findall(r"^VIOLATION .*$", log, re.M)
    assert not violations, "\n".join(violations[:20])
    assert res["rc"] == 0, f"fuzz host exited {res['rc']} (crash or violation):\n{log[-6000:]}"
    assert res["CALLS"] >= calls
    assert res["VIOLATIONS"] == 0 and res["NONFINITE_OUTPUT"] == 0 and res["INTERNAL_ERRORS"] == 0
    # every call answered with a code inside the enum (the host counts per code)
    assert sum(res[f"RESULT_{k}"] for k in range(15)) > 0.8 * calls




@pytest.fixture(scope="module")
def fuzz_env(tmp_path_factory):
    ensure_lib()
    d = tmp_path_factory.mktemp("fuzz")
    return {"dir": d, "model": model_args(d)}


def test_fuzz_instrumented_host_and_shim(fuzz_env):
    """>= 100,000 calls with host AND shim under ASan/UBSan; zero reports, zero violations."""
    d = fuzz_env["dir"]
    lib = build_asan_lib(d / "asanlib")
    exe = compile_host(FUZZ / "api_fuzz.c", d / "api_fuzz_asanlib", lib.parent, SAN_FLAGS)
    res, log = run_fuzz(exe, CALLS, SEED, ["--renderers", "3", *fuzz_env["model"]])
    assert_clean(res, log, CALLS)


def test_fuzz_instrumented_host_shipped_library(fuzz_env):
    """The library exactly as `make lib` builds it, time-domain-warp-only renderers."""
    d = fuzz_env["dir"]
    exe = compile_host(FUZZ / "api_fuzz.c", d / "api_fuzz", ensure_lib().parent, SAN_FLAGS)
    calls = max(CALLS // 4, 1000)
    res, log = run_fuzz(exe, calls, SEED + 1, ["--renderers", "2", "--tdw-only"])
    assert_clean(res, log, calls)
