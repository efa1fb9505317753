"""Per-source cost of the native SDK library against the former cffi-embedding build and
OpenAL Soft, at 64 moving sources, in one run (``make bench`` measures the SDK library
against the other peers; this script adds the comparison with the build it replaced).

    PYTHONPATH=. .venv/bin/python benchmarks/sdk_vs_embedded.py [--rev 90d66dc] [--rounds 5]

The embedded build is rebuilt from git revision ``--rev`` (the last one that had
``bindings/build_lib.py``) in a temporary directory, with its own numba cache; both
libraries are driven by the same ``benchmarks/smw_bench.c`` (compiled against each), with
OpenAL Soft, alternating in ``--rounds`` rounds, pinned to one core like ``make bench``.
"""
from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks.run import BLOCK, SR, _run_c_host  # noqa: E402


def build_host(lib_dir: Path, exe: Path) -> Path:
    subprocess.run(["gcc", "-O2", "-std=c11", f"-I{ROOT / 'include'}", "-o", str(exe),
                    str(ROOT / "benchmarks" / "smw_bench.c"), f"-L{lib_dir}", "-lspatialmw",
                    f"-Wl,-rpath,{lib_dir}", "-lm"], check=True)
    return exe


def build_embedded(rev: str, tmp: Path) -> Path:
    tree = tmp / "embedded_tree"
    tree.mkdir()
    archive = subprocess.run(["git", "-C", str(ROOT), "archive", rev, "bindings", "include", "spatialmw"],
                             check=True, capture_output=True).stdout
    subprocess.run(["tar", "-x", "-C", str(tree)], input=archive, check=True)
    out = tree / "build" / "libspatialmw.so"
    subprocess.run([sys.executable, str(tree / "bindings" / "build_lib.py"), "--out", str(out)],
                   check=True, cwd=tree, capture_output=True)
    return out


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rev", default="90d66dc")
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--blocks", type=int, default=200)
    ap.add_argument("--sources", type=int, default=64)
    ns = ap.parse_args(argv)
    os.sched_setaffinity(0, {sorted(os.sched_getaffinity(0))[-1]})
    from spatialmw.peers.openal import OpenALLoopback
    with tempfile.TemporaryDirectory(prefix="smw_sdk_vs_emb_") as t:
        tmp = Path(t)
        sdk = build_host(ROOT / "build" / "lib", tmp / "bench_sdk")
        emb = build_host(build_embedded(ns.rev, tmp).parent, tmp / "bench_embedded")
        cache = {"NUMBA_CACHE_DIR": str(tmp / "numba_cache")}
        _run_c_host(emb, 1, 1, True, None, warmup=0, env=cache, timeout=900)   # compile its kernels once
        n, per = ns.sources, {"sdk": [], "embedded": [], "openal": []}
        with OpenALLoopback(SR, hrtf=True, max_sources=n) as al:
            for r in range(ns.rounds):
                per["sdk"].append(np.median(_run_c_host(sdk, n, ns.blocks, True, None)[0]) / n)
                per["embedded"].append(np.median(_run_c_host(emb, n, ns.blocks, True, None, env=cache)[0]) / n)
                per["openal"].append(np.median(al.render_block_timing(n, ns.blocks + 10, block=BLOCK,
                                                                      moving=True)[10:]) / n)
                print(f"round {r + 1}: " + ", ".join(f"{k} {1e6 * v[-1]:.2f} us" for k, v in per.items()), flush=True)
    med = {k: float(np.median(v)) * 1e6 for k, v in per.items()}
    print(f"{n} moving sources, median of {ns.rounds} rounds, us per source per {BLOCK}-frame block: "
          f"SDK {med['sdk']:.2f}, embedded build {med['embedded']:.2f}, OpenAL Soft {med['openal']:.2f}; "
          f"SDK / embedded {med['sdk'] / med['embedded']:.3f}, SDK / OpenAL Soft {med['sdk'] / med['openal']:.3f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
