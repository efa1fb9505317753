"""Build libspatialmw.so: the C API (include/spatialmw.h) over the numba kernels.

    python bindings/build_lib.py --out build/libspatialmw.so

cffi *embedding* mode: the library embeds CPython. The C shim (bindings/shim.c) implements
every public ``smw_*`` function in C; only three control functions are Python-backed
(``smwpy_*``, declared with ``ffibuilder.embedding_api`` and implemented by
``@ffi.def_extern`` in the init code below, which delegates to :mod:`spatialmw.abi`).
``smw_render`` / ``smw_source_write`` never enter Python: they call the numba ``@cfunc``
kernels through the addresses ``spatialmw.abi`` hands back at create time.

A plain C host started with an empty environment (``env -i ./host``) must work, so the
build bakes in, as C string constants:

* ``SMW_PYTHON_HOME``: this interpreter's ``sys.base_prefix`` (the stdlib lives there);
  the shim initialises CPython itself with an isolated PyConfig whose ``home`` is this;
* ``SMW_VENV_SITE``: the build environment's site-packages (numpy, numba, cffi...),
  added with ``site.addsitedir`` by the init code;
* ``SMW_REPO_ROOT``: the source tree, put first on ``sys.path`` so ``spatialmw`` imports;
* an rpath to libpython's directory, so the loader finds ``libpython3.X.so`` without
  ``LD_LIBRARY_PATH``.
"""
from __future__ import annotations

import argparse
import os
import re
import shutil
import sys
import sysconfig
from pathlib import Path

from cffi import FFI

ROOT = Path(__file__).resolve().parents[1]
BINDINGS = ROOT / "bindings"
MODULE = "_spatialmw_cffi"



def py_args_cdef() -> str:
    """The declaration of struct smw_py_args, read from shim.c so the two cannot drift
    (cffi's cdef needs it; comments are stripped, cffi does not parse them)."""
    text = (BINDINGS / "shim.c").read_text()
    m = re.search(r"typedef struct smw_py_args \{.*?\} smw_py_args;", text, re.S)
    if m is None:
        raise SystemExit("bindings/shim.c: struct smw_py_args not found")
    return re.sub(r"/\*.*?\*/", "", m.group(0), flags=re.S)


EMBEDDING_API = """
int32_t smwpy_create_layout(smw_py_args* args);
int32_t smwpy_init_pools(smw_py_args* args, double* f64, float* f32, int64_t* i64);
int32_t smwpy_release(smw_py_args* args);
"""

INIT_CODE = r'''
import sys

_SMW_REPO_ROOT = {repo!r}
_SMW_VENV_SITE = {site!r}

if "site" not in sys.modules:
    # We started the interpreter (site_import=0): process the venv's .pth files too.
    import site as _site
    _site.addsitedir(_SMW_VENV_SITE)
elif _SMW_VENV_SITE not in sys.path:
    sys.path.append(_SMW_VENV_SITE)      # a Python host: keep its own environment first
if _SMW_REPO_ROOT not in sys.path:
    sys.path.insert(0, _SMW_REPO_ROOT)

from {module} import ffi, lib

_SMW_PYTHON_INIT = 10


def _smw_report(args, code, text):
    data = str(text).encode("utf-8", "replace")[: ffi.sizeof(args.message) - 1] + b"\0"
    ffi.memmove(args.message, data, len(data))
    args.result = code


@ffi.def_extern()
def smwpy_create_layout(args):
    try:
        from spatialmw import abi
    except BaseException as exc:   # noqa: BLE001 - every failure must become a result code
        _smw_report(args, _SMW_PYTHON_INIT, "cannot import spatialmw.abi (sys.path=%r): %s: %s"
                    % (sys.path, type(exc).__name__, exc))
        return args.result
    return abi.create_layout(ffi, args)


@ffi.def_extern()
def smwpy_init_pools(args, f64, f32, i64):
    try:
        from spatialmw import abi
        return abi.init_pools(ffi, args, f64, f32, i64)
    except BaseException as exc:   # noqa: BLE001
        _smw_report(args, _SMW_PYTHON_INIT, "%s: %s" % (type(exc).__name__, exc))
        return args.result


@ffi.def_extern()
def smwpy_release(args):
    try:
        from spatialmw import abi
        abi.release(ffi, args)
    except BaseException:   # noqa: BLE001
        pass
    return 0
'''


def c_string(s: str) -> str:
    return '"' + s.replace("\\", "\\\\").replace('"', '\\"') + '"'


def make_builder() -> FFI:
    python_home = sys.base_prefix
    venv_site = sysconfig.get_paths()["purelib"]
    libdir = sysconfig.get_config_var("LIBDIR") or os.path.join(python_home, "lib")
    ver = f"{sys.version_info.major}{sys.version_info.minor}"
    stdlib = os.path.join(python_home, "lib", f"python{sys.version_info.major}.{sys.version_info.minor}")
    stdlib_zip = os.path.join(python_home, "lib", f"python{ver}.zip")
    if not os.path.isfile(os.path.join(stdlib, "os.py")):
        raise SystemExit(f"cannot find the standard library of {sys.executable} at {stdlib}")

    ffibuilder = FFI()
    ffibuilder.cdef(py_args_cdef())
    ffibuilder.embedding_api(EMBEDDING_API)
    ffibuilder.embedding_init_code(
        INIT_CODE.format(repo=str(ROOT), site=venv_site, module=MODULE))
    source = "\n".join([
        f"#define SMW_PYTHON_HOME {c_string(python_home)}",
        f"#define SMW_VENV_SITE {c_string(venv_site)}",
        f"#define SMW_REPO_ROOT {c_string(str(ROOT))}",
        f"#define SMW_STDLIB {c_string(stdlib)}",
        f"#define SMW_STDLIB_DYNLOAD {c_string(os.path.join(stdlib, 'lib-dynload'))}",
        f"#define SMW_STDLIB_ZIP {c_string(stdlib_zip)}",
        '#include "shim.c"',
    ])
    ffibuilder.set_source(
        MODULE, source,
        include_dirs=[str(BINDINGS), str(ROOT / "include")],
        extra_compile_args=["-O2", "-std=gnu11", "-Wno-unused-parameter"],
        extra_link_args=[f"-Wl,-rpath,{libdir}", "-lpthread", "-lm"],
    )
    return ffibuilder


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default=str(ROOT / "build" / "libspatialmw.so"))
    ap.add_argument("--verbose", action="store_true")
    ns = ap.parse_args(argv)
    out = Path(ns.out).resolve()
    tmp = out.parent / "cffi_build"
    tmp.mkdir(parents=True, exist_ok=True)
    built = make_builder().compile(tmpdir=str(tmp), target="libspatialmw.*", verbose=ns.verbose)
    built = Path(built)
    if built.resolve() != out:
        shutil.copy2(built, out.with_suffix(".so.tmp"))
        os.replace(out.with_suffix(".so.tmp"), out)
    print(f"built {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
