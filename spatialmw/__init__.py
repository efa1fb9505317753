"""spatialmw — binaural spatial-audio middleware (Lite-INN: TDW + implicit binaural corrector)."""
import hashlib
import os
from pathlib import Path

from .errors import SpatialmwError

# The one place the version is written: pyproject.toml reads it (dynamic version),
# ``spatialmw --version`` prints it. include/spatialmw.h's SMW_VERSION_* must match
# (tests/test_cli.py checks).
__version__ = "0.4.0"
VERSION_TUPLE = tuple(int(p) for p in __version__.split("."))

__all__ = ["SpatialmwError", "__version__", "VERSION_TUPLE", "kernel_cache_is_cold"]


def _numba_cache_dir() -> None:
    """Point numba's on-disk cache at a folder keyed by the kernels' source.

    numba invalidates a cached function only when its own file changes, not when a kernel
    it calls does: a cfunc in kernels/cabi.py would keep running an old render.py. Keying
    the folder by a hash of every file that holds compiled code makes any edit a cache miss.
    An explicit NUMBA_CACHE_DIR from the user wins.
    """
    if "NUMBA_CACHE_DIR" in os.environ:
        return
    here = Path(__file__).resolve().parent
    h = hashlib.sha1()
    for p in sorted([here / "geometry.py", *(here / "kernels").glob("*.py")]):
        h.update(p.name.encode())
        h.update(p.read_bytes())
    for base in (here / "__pycache__", Path(os.environ.get("TMPDIR", "/tmp")) / "spatialmw-numba"):
        d = base / f"numba-{h.hexdigest()[:16]}"
        try:
            d.mkdir(parents=True, exist_ok=True)
            if os.access(d, os.W_OK):
                os.environ["NUMBA_CACHE_DIR"] = str(d)
                _prune_stale(base, d)
                break
        except OSError:
            continue
    import sys
    if "numba" in sys.modules:  # imported before us: make it re-read the variable
        from numba.core import config
        config.reload_config()


def kernel_cache_is_cold() -> bool:
    """True when numba's on-disk cache holds no compiled real-time kernels yet, so the first
    engine build and block will compile them (30-90 s, once per install or kernel edit).

    A cheap heuristic, meant for a "please wait" line: it looks for the cache index file of
    ``render_core``, the entry point every render compiles, in the folder numba caches to
    (NUMBA_CACHE_DIR, set above, or numba's default next to the kernels).
    """
    cache = os.environ.get("NUMBA_CACHE_DIR") or str(Path(__file__).resolve().parent / "kernels" / "__pycache__")
    return not any(Path(cache).rglob("render.render_core-*.nbi"))


def _prune_stale(base: Path, keep: Path) -> None:
    """Drop caches of kernel sources that no longer exist (best effort)."""
    import shutil
    for old in base.glob("numba-*"):
        if old != keep:
            shutil.rmtree(old, ignore_errors=True)


_numba_cache_dir()
