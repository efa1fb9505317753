"""The native SDK: what the library exports and needs, the packaged tarball used from a
place the checkout cannot reach (the relocation test), and Python driving the shipped
binary (spatialmw.native) to the Python Engine's samples.
"""
from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import sys
import tarfile
import time
from pathlib import Path

import numpy as np
import pytest

from tests.helpers import LIB, ROOT, build_sdk, ensure_lib, parse_kv

SDK_TESTS = ROOT / "tests" / "sdk"
HOSTILE_ENV = {"NUMBA_DISABLE_JIT": "1", "PYTHONHOME": "/nonexistent", "PYTHONPATH": "/nonexistent",
               "NUMBA_CACHE_DIR": "/nonexistent"}


def _out(cmd, **kw) -> str:
    r = subprocess.run([str(c) for c in cmd], capture_output=True, text=True, **kw)
    assert r.returncode == 0, r.stdout + r.stderr
    return r.stdout


def header_functions() -> set[str]:
    text = (ROOT / "include" / "spatialmw.h").read_text()
    return set(re.findall(r"SMW_API[^;(]*?\b(smw_\w+)\s*\(", text))


# ------------------------------------------------------------------------ the library
def test_exports_exactly_the_c_api():
    lib = ensure_lib()
    dynamic = set(_out(["nm", "-D", "--defined-only", lib]).split()[2::3])
    assert dynamic == header_functions()
    static = lib.parent / "libspatialmw.a"
    globals_ = {line.split()[-1] for line in _out(["nm", "-g", "--defined-only", static]).splitlines()
                if re.match(r"^[0-9a-f]+ [A-Z] ", line)}
    assert globals_ == header_functions()


def test_soname_and_dependencies():
    lib = ensure_lib()
    dyn = _out(["readelf", "-d", lib])
    assert "Library soname: [libspatialmw.so.0]" in dyn
    assert "RPATH" not in dyn and "RUNPATH" not in dyn
    needed = set(re.findall(r"Shared library: \[(.+?)\]", dyn))
    # the loader: __tls_get_addr, for the thread-local error text
    assert needed <= {"libc.so.6", "libm.so.6", "libpthread.so.0", "ld-linux-x86-64.so.2"}, needed
    ldd = _out(["ldd", lib])
    print(ldd)
    for line in ldd.splitlines():
        name = line.split()[0]
        assert re.match(r"(linux-vdso|libc\.so|libm\.so|libpthread\.so|/lib64/ld-linux)", name), line


def test_reads_no_environment_and_takes_no_signals():
    """No getenv (so no PYTHON*/NUMBA_* variable can matter), no signal handlers, no
    dlopen: checked on the library's imports, which is everything it can call."""
    undefined = set(_out(["nm", "-D", "--undefined-only", ensure_lib()]).split()[1::2])
    undefined = {u.split("@")[0] for u in undefined}
    forbidden = {"getenv", "secure_getenv", "signal", "sigaction", "bsd_signal", "sigset", "dlopen",
                 "setenv", "putenv"}
    assert not undefined & forbidden, undefined & forbidden


# ------------------------------------------------------------------------ Python drives the binary
def _scene_blocks(n_blocks, block, n_src, seed=0):
    rng = np.random.default_rng(seed)
    for b in range(n_blocks):
        t = b * block / 48000.0
        poses = [(2.0 * np.cos(2.0 + t * (1 + i)), 2.0 * np.sin(2.0 + t * (1 + i)), 0.3 * i) for i in range(n_src)]
        yield poses, [rng.standard_normal(block).astype(np.float32) * 0.2 for _ in range(n_src)]


@pytest.mark.parametrize("corrector", [True, False])
def test_native_library_renders_the_python_engines_samples(corrector):
    """The shipped binary (kernels compiled ahead of time for x86-64-v3) against the Python
    Engine (the same numba kernels jitted for this CPU), moving sources, 60 blocks: within
    1e-6 of the peak (float32 sums round differently with the vector width: on an AVX-512
    CPU, 1.4e-6 at a peak of 5.2)."""
    from spatialmw.engine import Engine
    from spatialmw.native import Renderer
    ensure_lib()
    block, n_src = 480, 3
    eng = Engine(max_sources=8, max_block=block, ibc=corrector)
    nat = Renderer(max_sources=8, max_block=block, corrector=corrector, lib=LIB)
    se = [eng.add_source(distance_model="none") for _ in range(n_src)]
    sn = [nat.add_source(distance_model="none") for _ in range(n_src)]
    assert eng.latency_frames == nat.latency_frames
    err, peak = 0.0, 0.0
    for poses, xs in _scene_blocks(60, block, n_src):
        for i in range(n_src):
            eng.set_source_pose(se[i], poses[i])
            nat.set_source_pose(sn[i], poses[i])
            eng.write(se[i], xs[i])
            nat.write(sn[i], xs[i])
        a, b = eng.render(block), nat.render(block)
        err, peak = max(err, float(np.max(np.abs(a - b)))), max(peak, float(np.max(np.abs(a))))
    nat.close()
    print(f"native vs Engine (corrector {corrector}): max abs diff {err:.3g}, peak {peak:.3f}")
    assert peak > 0.05
    assert err <= 1e-6 * peak


def test_native_errors_are_specific():
    from spatialmw.native import NativeError, Renderer
    ensure_lib()
    with pytest.raises(NativeError, match="unsupported sample rate 22050") as e:
        Renderer(sample_rate=22050, lib=LIB)
    assert e.value.code == 5
    with Renderer(max_sources=1, max_block=64, corrector=False, lib=LIB) as r:
        r.add_source()
        with pytest.raises(NativeError, match="source slots are in use"):
            r.add_source()
        with pytest.raises(NativeError, match="frames must be 1..max_block_frames") as e:
            r.render(65)
        assert e.value.code == 6


# ------------------------------------------------------------------------ the relocation test
@pytest.fixture(scope="module")
def sdk(tmp_path_factory):
    """`make sdk`'s tarball, unpacked into a fresh directory outside the checkout."""
    ensure_lib()
    d = tmp_path_factory.mktemp("sdk")
    build_sdk("--prefix", ROOT / "build", "--dist", d / "dist")
    tars = list((d / "dist").glob("spatialmw-*-linux-x86_64.tar.gz"))
    assert len(tars) == 1
    unpacked = d / "unpacked"
    tar_kib = tars[0].stat().st_size / 1024
    with tarfile.open(tars[0]) as t:
        t.extractall(unpacked, filter="data")
    shutil.rmtree(d / "dist")   # only the unpacked copy remains
    (root,) = unpacked.iterdir()
    for rel in ("include/spatialmw.h", "lib/libspatialmw.so.0", "lib/libspatialmw.so", "lib/libspatialmw.a",
                "lib/pkgconfig/spatialmw.pc", "lib/cmake/spatialmw/spatialmwConfig.cmake",
                "share/spatialmw/default.smwm", "share/spatialmw/DATA_LICENSE_AND_CITATIONS.md", "README"):
        assert (root / rel).exists(), rel
    sizes = {p.name: p.stat().st_size for p in (root / "lib").iterdir() if p.is_file() and not p.is_symlink()}
    print(f"SDK {root.name}: tarball {tar_kib:.0f} KiB; library files {sizes}; "
          f"asset {(root / 'share/spatialmw/default.smwm').stat().st_size / 1024:.0f} KiB")
    return root


def _hosts(sdk: Path, tmp: Path) -> dict[str, Path]:
    """The host built three ways from the SDK alone."""
    src = SDK_TESTS / "reloc_host.c"
    env = dict(os.environ, PKG_CONFIG_PATH=str(sdk / "lib" / "pkgconfig"))
    flags = _out(["pkg-config", "--cflags", "--libs", "spatialmw"], env=env).split()
    assert any(f.startswith("-I") and f.endswith("include") for f in flags), flags
    hosts = {"pkg-config": tmp / "reloc_host_pc"}
    _out(["gcc", "-O2", "-Wall", "-o", hosts["pkg-config"], src, *flags, f"-Wl,-rpath,{sdk / 'lib'}", "-lm"])
    # static: next to the SDK's share/ (bin/), where it finds the default model by itself
    (sdk / "bin").mkdir(exist_ok=True)
    hosts["static"] = sdk / "bin" / "reloc_host_static"
    _out(["gcc", "-O2", "-o", hosts["static"], src, f"-I{sdk / 'include'}", sdk / "lib" / "libspatialmw.a", "-lm"])
    if shutil.which("cmake"):
        bld = tmp / "cmake_build"
        _out(["cmake", "-S", SDK_TESTS, "-B", bld, f"-DCMAKE_PREFIX_PATH={sdk}", "-DCMAKE_BUILD_TYPE=Release"])
        _out(["cmake", "--build", bld])
        hosts["cmake"] = bld / "reloc_host_cmake"
    else:
        print("cmake not installed: the CMake host is skipped (make test installs it)")
    return hosts


def _isolated(cmd: list[str]) -> list[str]:
    """``cmd`` under env -i with hostile Python/numba variables and, where a mount namespace
    is available, empty filesystems over /work (the checkout and its .venv) and the Python
    installation; otherwise only env -i (the SDK lives in a pytest temp dir either way)."""
    env = ["env", "-i", *[f"{k}={v}" for k, v in HOSTILE_ENV.items()]]
    hide = sorted(p for p in {str(ROOT.parent), sys.base_prefix, os.path.realpath(sys.prefix)} if os.path.isdir(p))
    hide = [p for p in hide if not any(p.startswith(q + "/") for q in hide)]   # outermost only
    if shutil.which("unshare") and subprocess.run(["unshare", "-m", "true"], capture_output=True).returncode == 0:
        mounts = " && ".join(f"mount -t tmpfs none '{h}'" for h in hide)
        return ["unshare", "-m", "sh", "-c", f"{mounts} && test ! -e '{ROOT}' && exec \"$@\"", "sh", *env, *cmd]
    return env + cmd


def test_relocated_sdk_renders_and_stops_on_sigint(sdk, tmp_path):
    hosts = _hosts(sdk, tmp_path)
    assert "pkg-config" in hosts and "static" in hosts
    for how, exe in hosts.items():
        # a runner started in the background (`make test &`) ignores SIGINT, and its children
        # inherit that: the host starts with the default disposition a game has
        p = subprocess.Popen(_isolated([str(exe)]), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                             preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
        lines = []
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            line = p.stdout.readline()
            if not line:
                break
            lines.append(line)
            if line.strip() == "READY":
                break
        if not lines or lines[-1].strip() != "READY":
            p.kill()
            pytest.fail(f"{how}: {''.join(lines)}{p.communicate()[1]}")
        p.send_signal(signal.SIGINT)
        try:
            rc = p.wait(timeout=10)
        except subprocess.TimeoutExpired:
            p.kill()
            pytest.fail(f"{how}: SIGINT did not stop the host")
        k = parse_kv("".join(lines))
        print(f"{how}: RMS L {k['RMS_L']:.4f} R {k['RMS_R']:.4f} "
              f"(ILD {20 * np.log10(k['RMS_L'] / k['RMS_R']):.1f} dB), SIGINT -> rc {rc}")
        assert k["SIGINT_DEFAULT"] == 1, f"{how}: the library replaced the host's SIGINT disposition"
        assert rc == -signal.SIGINT, f"{how}: exited {rc} instead of dying of SIGINT"
        assert k["RMS_L"] > 0.01 and k["RMS_L"] > 1.5 * k["RMS_R"], f"{how}: left source not louder on the left: {k}"
