"""Fixtures shared by the test modules: paths, the built C library, C hosts compiled
against it, engines of the common shapes, test inputs.

Plain functions (independent reference computations, small test inputs) live in
``tests/helpers.py``; no test module imports another test module. Markers are registered
in ``pyproject.toml`` and described in ``tests/README.md``.
"""
from __future__ import annotations

import hashlib
import re
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.helpers import LIB, parse_kv, stale_library

ROOT = Path(__file__).resolve().parents[1]
C_TESTS = ROOT / "tests" / "c"
SPEECH = Path("/usr/share/sounds/alsa/Front_Center.wav")


@pytest.fixture(scope="session")
def repo_root() -> Path:
    return ROOT


@pytest.fixture(scope="session")
def default_model() -> Path:
    """The shipped Lite-INN model file (every C host and default engine loads it)."""
    from spatialmw.model import default_model_path
    path = default_model_path()
    if not path.is_file():
        pytest.fail(f"the shipped model {path} is missing: restore it from git or re-fit it with `make model`")
    return path


@pytest.fixture(scope="session")
def small_model_path(tmp_path_factory) -> Path:
    """A small valid model file (tests/helpers.small_model) for tests that must not depend
    on the shipped weights."""
    from spatialmw.model import save_model
    from tests.helpers import small_model
    return save_model(small_model(), tmp_path_factory.mktemp("small_model") / "small.npz")


@pytest.fixture(scope="session")
def speech_path() -> Path:
    """Real speech: alsa-utils' Front_Center.wav (installed by `make test`)."""
    if not SPEECH.is_file():
        pytest.fail(f"{SPEECH} is missing: install the Debian package alsa-utils (`make test` does)")
    return SPEECH


# ---------------------------------------------------------------------- the C library
@pytest.fixture(scope="session")
def smw_lib() -> Path:
    """``build/lib/libspatialmw.so``, the native library `make lib` / `make test` build.
    Tests never build it themselves: a missing or stale library is a set-up error."""
    problems = stale_library()
    if problems:
        pytest.fail("; ".join(problems) + ": build it with `make lib`")
    return LIB


@pytest.fixture(scope="session")
def gcc() -> str:
    path = shutil.which("gcc")
    if path is None:
        pytest.fail("gcc is required to compile the C test hosts (Debian package gcc)")
    return path


@pytest.fixture(scope="session")
def c_host(smw_lib, gcc, tmp_path_factory):
    """``c_host(source, *extra, libdir=None, opt="-O2")`` compiles a C host against
    include/spatialmw.h and the library in ``libdir`` (default: build/) and returns the
    executable. Identical builds are compiled once per session."""
    out_dir = tmp_path_factory.mktemp("c_hosts")
    built: dict[tuple, Path] = {}

    def build(source, *extra, libdir: Path | None = None, opt: str = "-O2") -> Path:
        source = Path(source)
        libdir = Path(libdir) if libdir is not None else smw_lib.parent
        key = (str(source), extra, str(libdir), opt)
        if key not in built:
            tag = hashlib.sha1(repr(key).encode()).hexdigest()[:8]
            exe = out_dir / f"{source.stem}_{tag}"
            cmd = [gcc, opt, "-g", "-Wall", "-std=gnu11", f"-I{ROOT / 'include'}", f"-I{C_TESTS}",
                   "-o", str(exe), str(source), f"-L{libdir}", "-lspatialmw", f"-Wl,-rpath,{libdir}",
                   *extra, "-lpthread", "-lm"]
            r = subprocess.run(cmd, capture_output=True, text=True)
            assert r.returncode == 0, f"{' '.join(cmd)}\n{r.stderr}"
            built[key] = exe
        return built[key]
    return build


@dataclass
class HostRun:
    """A finished C host: exit status, output, and its ``KEY value`` lines as numbers."""
    rc: int
    stdout: str
    stderr: str
    kv: dict

    @property
    def log(self) -> str:
        return self.stdout + self.stderr


@pytest.fixture(scope="session")
def run_host():
    """``run_host(args, timeout=120, env=None)`` runs a host with an EMPTY environment
    plus ``env`` (``env -i``: the library must find its Python by itself)."""
    def run(args, timeout: float = 120, env: dict | None = None) -> HostRun:
        cmd = ["env", "-i", *(f"{k}={v}" for k, v in (env or {}).items()), *(str(a) for a in args)]
        r = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
        return HostRun(r.returncode, r.stdout, r.stderr, parse_kv(r.stdout))
    return run


# ---------------------------------------------------------------------- Python engines
@pytest.fixture
def engine(default_model):
    """Full Lite-INN engine, 48 kHz, 4 sources, 512-frame blocks, shipped model."""
    from spatialmw.engine import Engine
    return Engine(48000, max_sources=4, max_block=512)


@pytest.fixture
def tdw_engine():
    """Time-domain-warp-only engine (no corrector), 48 kHz, 2 sources, 512-frame blocks."""
    from spatialmw.engine import Engine
    return Engine(48000, max_sources=2, max_block=512, ibc=False)
