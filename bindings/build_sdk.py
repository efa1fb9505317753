"""Build the native libspatialmw: the numba kernels compiled ahead of time, no Python inside.

    python bindings/build_sdk.py                      # -> build/{include,lib,share}  (make lib)
    python bindings/build_sdk.py --dist dist          # + dist/spatialmw-<v>-linux-x86_64[.tar.gz]  (make sdk)
    python bindings/build_sdk.py --prefix D --cflags "-fsanitize=address,undefined"   # test builds

This is the only build of the C library: the tests, the demo, the benchmarks and
:mod:`spatialmw.native` all use what a game ships. (The earlier cffi-embedding build, which
embedded CPython and compiled the kernels at the first create, is gone: keeping it would
mean two create paths in one shim and two behaviours to test.)

Steps:

1. **Kernels** (``build/aot/kernels.o``). A fresh interpreter with an empty, private
   ``NUMBA_CACHE_DIR`` (numba hides the IR of cached functions) compiles every entry point
   of :data:`spatialmw.kernels.cabi.ENTRY_POINTS` for the x86-64-v3 baseline
   (``NUMBA_CPU_NAME``/``NUMBA_CPU_FEATURES``, so numba's own optimiser vectorises for
   AVX2, not for the build machine), renames each to its C name (``smwk_*``), links the
   modules into one (shared helpers are ``linkonce_odr``) and emits a PIC object with
   llvmlite. Reused while the stamp (a hash of ``spatialmw/kernels/*.py``,
   ``spatialmw/geometry.py``, ``spatialmw/defaults.py`` and the numba/llvmlite versions)
   is unchanged; 1-2 minutes
   otherwise.
2. **Library**: ``bindings/smw_contract.h`` is regenerated (``bindings/gen_contract.py``:
   every constant, limit and default the shim shares with Python), then
   ``bindings/shim.c`` + the kernels + ``bindings/rt_stubs.c`` (stand-ins for
   numba's never-taken exception path) -> ``lib/libspatialmw.so.<major>`` (soname, only
   ``smw_*`` exported, needs libc and libm) and ``lib/libspatialmw.a`` (one relocatable
   object whose only global symbols are ``smw_*``).
3. **Data**: ``share/spatialmw/default.smwm`` (``spatialmw export`` of the shipped model),
   its licence and citation; ``include/spatialmw.h``; pkg-config and CMake files that
   locate the SDK relative to themselves.

CPU baseline: x86-64-v3 (AVX2, FMA, BMI2; 2013+ Intel, 2015+ AMD). ``smw_renderer_create``
checks it (``__builtin_cpu_supports``) and fails with ``SMW_ERROR_UNSUPPORTED_CPU`` naming
the missing feature rather than the audio thread dying of SIGILL. No generic fallback:
every x86-64 machine that runs current games has AVX2.
"""
from __future__ import annotations

import argparse
import hashlib
import os
import re
import shutil
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))   # this tree's spatialmw, whatever the environment has installed
sys.path.insert(0, str(ROOT / "bindings"))   # gen_contract
BINDINGS = ROOT / "bindings"
HEADER = ROOT / "include" / "spatialmw.h"
CPU_NAME = "x86-64-v3"
CPU_FEATURES = "+avx,+avx2,+fma,+bmi,+bmi2,+f16c,+lzcnt,+movbe,+popcnt,+sse4.2,+xsave"
KERNEL_SOURCES = sorted((ROOT / "spatialmw" / "kernels").glob("*.py")) + [ROOT / "spatialmw" / "geometry.py",
                                                                          ROOT / "spatialmw" / "defaults.py"]
CFLAGS = ["-O2", "-std=gnu11", "-fPIC", "-fvisibility=hidden", "-Wall", "-Wextra", "-Wno-unused-parameter"]


def version() -> tuple[int, int, int]:
    text = HEADER.read_text()
    return tuple(int(re.search(rf"#define SMW_VERSION_{k} (\d+)", text).group(1))
                 for k in ("MAJOR", "MINOR", "PATCH"))


def exported_symbols() -> list[str]:
    """Every function the header declares (the library's whole export list)."""
    return sorted(set(re.findall(r"SMW_API[^;(]*?\b(smw_\w+)\s*\(", HEADER.read_text())))


def run(cmd, **kw):
    r = subprocess.run([str(c) for c in cmd], capture_output=True, text=True, **kw)
    if r.returncode != 0:
        raise SystemExit(f"build_sdk: {' '.join(map(str, cmd))} failed:\n{r.stdout}\n{r.stderr}")
    return r


# ------------------------------------------------------------------------------- kernels
def emit_object(out: Path) -> None:
    """(In the private-cache subprocess.) Compile the entry points and write one object."""
    import llvmlite.binding as llvm
    from spatialmw.kernels.cabi import ENTRY_POINTS

    module = None
    for c_name, cf in ENTRY_POINTS.items():
        ir = cf._library.get_llvm_str()
        name = cf.native_name
        ir = ir.replace(f'@"{name}"', f"@{c_name}").replace(f"@{name}(", f"@{c_name}(")
        m = llvm.parse_assembly(ir)
        if module is None:
            module = m
        else:
            module.link_in(m)
    module.verify()
    llvm.initialize_native_target()
    llvm.initialize_native_asmprinter()
    target = llvm.Target.from_triple("x86_64-unknown-linux-gnu")
    tm = target.create_target_machine(cpu=CPU_NAME, features=CPU_FEATURES, opt=3, reloc="pic",
                                      codemodel="default")
    out.write_bytes(tm.emit_object(module))


def kernels_stamp() -> str:
    import llvmlite
    import numba
    h = hashlib.sha256(f"{numba.__version__} {llvmlite.__version__} {CPU_NAME} {CPU_FEATURES}".encode())
    for p in KERNEL_SOURCES:
        h.update(p.name.encode() + p.read_bytes())
    return h.hexdigest()


def build_kernels(aot: Path) -> Path:
    obj, stamp_file = aot / "kernels.o", aot / "kernels.stamp"
    stamp = kernels_stamp()
    if obj.exists() and stamp_file.exists() and stamp_file.read_text() == stamp:
        return obj
    aot.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="smw_numba_cache_") as cache:
        env = {k: v for k, v in os.environ.items() if not k.startswith("NUMBA_")}
        env.update(NUMBA_CACHE_DIR=cache, NUMBA_CPU_NAME=CPU_NAME, NUMBA_CPU_FEATURES=CPU_FEATURES,
                   PYTHONPATH=str(ROOT))
        print("build_sdk: compiling the kernels for", CPU_NAME, "(empty numba cache, 1-2 min)", flush=True)
        run([sys.executable, __file__, "--emit", obj.with_suffix(".o.tmp")], env=env, cwd=ROOT)
    os.replace(obj.with_suffix(".o.tmp"), obj)
    stamp_file.write_text(stamp)
    return obj


# ------------------------------------------------------------------------------- library
def build_library(prefix: Path, kernels: Path, cflags=(), ldflags=()) -> Path:
    import gen_contract
    if gen_contract.write():
        print(f"build_sdk: regenerated {gen_contract.OUT.relative_to(ROOT)}", flush=True)
    major, minor, patch = version()
    lib = prefix / "lib"
    lib.mkdir(parents=True, exist_ok=True)
    work = prefix / "obj"
    work.mkdir(parents=True, exist_ok=True)
    syms = exported_symbols()
    (work / "exports.map").write_text("{\n  global:\n" + "".join(f"    {s};\n" for s in syms)
                                      + "  local: *;\n};\n")
    cc = os.environ.get("CC", "gcc")
    objs = []
    for src in ("shim.c", "rt_stubs.c"):
        o = work / (Path(src).stem + ".o")
        run([cc, *CFLAGS, *cflags, f"-I{ROOT / 'include'}", "-c", BINDINGS / src, "-o", o])
        objs.append(o)
    objs.append(kernels)
    real = lib / f"libspatialmw.so.{major}.{minor}.{patch}"
    run([cc, "-shared", "-o", real, *objs, f"-Wl,-soname,libspatialmw.so.{major}",
         f"-Wl,--version-script={work / 'exports.map'}", "-Wl,--no-undefined", "-Wl,-z,now",
         "-Wl,-z,relro", "-Wl,-z,noexecstack", *cflags, *ldflags, "-lm"])
    for link, target in ((f"libspatialmw.so.{major}", real.name), ("libspatialmw.so", f"libspatialmw.so.{major}")):
        p = lib / link
        if p.is_symlink() or p.exists():
            p.unlink()
        p.symlink_to(target)
    # static: one relocatable object, every non-API symbol made local
    combined = work / "spatialmw_all.o"
    run(["ld", "-r", "-d", "-o", combined, *objs])   # -d: allocate commons, so they can be localised
    defined = run(["nm", "-g", "--defined-only", combined]).stdout.split()[2::3]
    (work / "internal.txt").write_text("".join(f"{n}\n" for n in defined if n not in syms))
    run(["objcopy", f"--localize-symbols={work / 'internal.txt'}", combined])
    static = lib / "libspatialmw.a"
    if static.exists():
        static.unlink()
    run(["ar", "rcs", static, combined])
    return lib / "libspatialmw.so"


# ------------------------------------------------------------------------------- data
PC = """prefix=${{pcfiledir}}/../..
includedir=${{prefix}}/include
libdir=${{prefix}}/lib

Name: spatialmw
Description: Binaural spatial audio for games (Lite-INN), native SDK
Version: {v}
Cflags: -I${{includedir}}
Libs: -L${{libdir}} -lspatialmw
Libs.private: -lm
"""

CMAKE = """# spatialmw {v}: find_package(spatialmw) -> spatialmw::spatialmw (shared), spatialmw::static
get_filename_component(_smw_prefix "${{CMAKE_CURRENT_LIST_DIR}}/../../.." ABSOLUTE)
set(spatialmw_VERSION {v})
set(spatialmw_INCLUDE_DIRS "${{_smw_prefix}}/include")
if(NOT TARGET spatialmw::spatialmw)
  add_library(spatialmw::spatialmw SHARED IMPORTED)
  set_target_properties(spatialmw::spatialmw PROPERTIES
    IMPORTED_LOCATION "${{_smw_prefix}}/lib/libspatialmw.so.{major}"
    IMPORTED_SONAME "libspatialmw.so.{major}"
    INTERFACE_INCLUDE_DIRECTORIES "${{_smw_prefix}}/include")
  add_library(spatialmw::static STATIC IMPORTED)
  set_target_properties(spatialmw::static PROPERTIES
    IMPORTED_LOCATION "${{_smw_prefix}}/lib/libspatialmw.a"
    INTERFACE_INCLUDE_DIRECTORIES "${{_smw_prefix}}/include"
    INTERFACE_LINK_LIBRARIES "m")
endif()
"""

CMAKE_VERSION = """set(PACKAGE_VERSION {v})
if(PACKAGE_FIND_VERSION_MAJOR STREQUAL "{major}" AND NOT PACKAGE_FIND_VERSION VERSION_GREATER PACKAGE_VERSION)
  set(PACKAGE_VERSION_COMPATIBLE TRUE)
  if(PACKAGE_FIND_VERSION STREQUAL PACKAGE_VERSION)
    set(PACKAGE_VERSION_EXACT TRUE)
  endif()
else()
  set(PACKAGE_VERSION_COMPATIBLE FALSE)
endif()
"""


def install_data(prefix: Path) -> None:
    from spatialmw.asset import export
    major, minor, patch = version()
    v = f"{major}.{minor}.{patch}"
    (prefix / "include").mkdir(parents=True, exist_ok=True)
    shutil.copy2(HEADER, prefix / "include" / "spatialmw.h")
    share = prefix / "share" / "spatialmw"
    share.mkdir(parents=True, exist_ok=True)
    asset = share / "default.smwm"
    model = ROOT / "spatialmw" / "data" / "default_kemar.npz"
    if not asset.exists() or asset.stat().st_mtime < model.stat().st_mtime:
        export(model, asset)
    shutil.copy2(ROOT / "data" / "hrtf" / "README.md", share / "DATA_LICENSE_AND_CITATIONS.md")
    (prefix / "lib" / "pkgconfig").mkdir(parents=True, exist_ok=True)
    (prefix / "lib" / "pkgconfig" / "spatialmw.pc").write_text(PC.format(v=v))
    cm = prefix / "lib" / "cmake" / "spatialmw"
    cm.mkdir(parents=True, exist_ok=True)
    (cm / "spatialmwConfig.cmake").write_text(CMAKE.format(v=v, major=major))
    (cm / "spatialmwConfigVersion.cmake").write_text(CMAKE_VERSION.format(v=v, major=major))


SDK_README = """spatialmw {v} -- native SDK (linux x86_64, CPU baseline x86-64-v3)

  include/spatialmw.h           the C API (documented in the header)
  lib/libspatialmw.so.{major}   shared library (needs only libc, libm); libspatialmw.a static
  lib/pkgconfig/spatialmw.pc    cc game.c $(pkg-config --cflags --libs spatialmw)
  lib/cmake/spatialmw/          find_package(spatialmw) -> spatialmw::spatialmw / spatialmw::static
  share/spatialmw/default.smwm  the default model (MIT KEMAR fit); found relative to the library
                                (lib/../share/spatialmw/), or name an asset in settings.model_path

Build against it from anywhere:
  export PKG_CONFIG_PATH=$SDK/lib/pkgconfig
  cc game.c $(pkg-config --cflags --libs spatialmw) -Wl,-rpath,$SDK/lib -o game
or in CMake: list(APPEND CMAKE_PREFIX_PATH $SDK) / find_package(spatialmw REQUIRED) /
  target_link_libraries(game PRIVATE spatialmw::spatialmw)

A static link looks for the default model at <executable's dir>/../share/spatialmw/.
spatialmw is released under the MIT licence. The default model was fitted to MIT KEMAR data:
its licence and citation are in share/spatialmw/DATA_LICENSE_AND_CITATIONS.md. Lite-INN: Lu, Liu,
Shi, Sang, "Lightweight Implicit Neural Network for Binaural Audio Synthesis", ICASSP 2026.
"""


def package(prefix: Path, dist: Path) -> Path:
    major, minor, patch = version()
    v = f"{major}.{minor}.{patch}"
    name = f"spatialmw-{v}-linux-x86_64"
    root = dist / name
    if root.exists():
        shutil.rmtree(root)
    root.mkdir(parents=True)
    for sub in ("include", "share"):
        shutil.copytree(prefix / sub, root / sub, symlinks=True)
    shutil.copytree(prefix / "lib", root / "lib", symlinks=True)
    (root / "README").write_text(SDK_README.format(v=v, major=major))
    tar = dist / f"{name}.tar.gz"
    with tarfile.open(tar, "w:gz") as t:
        t.add(root, arcname=name)
    return tar


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--prefix", default=str(ROOT / "build"), help="install tree (default build/)")
    ap.add_argument("--dist", help="also package the prefix into DIST/spatialmw-<v>-linux-x86_64[.tar.gz]")
    ap.add_argument("--cflags", default="", help="extra compiler and linker flags (sanitizers)")
    ap.add_argument("--emit", help=argparse.SUPPRESS)
    ns = ap.parse_args(argv)
    if ns.emit:
        emit_object(Path(ns.emit))
        return 0
    prefix = Path(ns.prefix).resolve()
    kernels = build_kernels(ROOT / "build" / "aot")
    lib = build_library(prefix, kernels, ns.cflags.split())
    install_data(prefix)
    print(f"built {lib}")
    if ns.dist:
        print(f"packaged {package(prefix, Path(ns.dist).resolve())}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
