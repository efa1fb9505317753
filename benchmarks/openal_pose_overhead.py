"""How much of OpenAL Soft's benchmark time is our Python driving it, not OpenAL Soft.

`make bench` times OpenAL Soft through ctypes (spatialmw.peers.openal): each block's 64
position updates are Python calls, slower than a game's C calls, while spatialmw's own
figures come from a C host (benchmarks/smw_bench.c). This times, in alternating rounds, the
peer's whole benchmark block and the same position updates alone (no rendering), so the
per-source ratio in the README can be read with that bias known:

    python -m benchmarks.openal_pose_overhead [--out benchmarks/results]

It writes ``openal_pose_overhead.json``: per round, microseconds per source per block for
the whole block and for the position updates alone, and their medians.
"""
from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

from spatialmw.peers.openal import OpenALLoopback

SR = 48000
BLOCK = 512
N_SOURCES = 64
BLOCKS = 400
ROUNDS = 5
WARMUP = 10


def measure(rounds: int = ROUNDS, n: int = N_SOURCES, blocks: int = BLOCKS) -> dict:
    """Median microseconds per source per block, per round: the peer's benchmark block
    (poses + render) and its pose updates alone."""
    whole, poses = [], []
    with OpenALLoopback(SR, hrtf=True, max_sources=n) as al:
        for _ in range(rounds):
            t = al.render_block_timing(n, blocks + WARMUP, block=BLOCK, moving=True)[WARMUP:]
            whole.append(float(np.median(t)) / n * 1e6)
            t = al.render_block_timing(n, blocks + WARMUP, block=BLOCK, moving=True, render=False)[WARMUP:]
            poses.append(float(np.median(t)) / n * 1e6)
    return {"n_sources": n, "block": BLOCK, "blocks_per_round": blocks,
            "whole_us_per_source": whole, "pose_updates_us_per_source": poses,
            "whole_median": float(np.median(whole)), "pose_updates_median": float(np.median(poses)),
            "pose_share_median": float(np.median(np.array(poses) / np.array(whole)))}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", type=Path, default=Path("benchmarks/results"))
    args = ap.parse_args(argv)
    r = measure()
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "openal_pose_overhead.json").write_text(json.dumps(r, indent=1) + "\n")
    print(f"OpenAL Soft at {r['n_sources']} sources: {r['whole_median']:.1f} us per source per block, "
          f"of which the Python position updates {r['pose_updates_median']:.2f} us "
          f"({100 * r['pose_share_median']:.0f} %)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
