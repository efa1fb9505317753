"""spatialmw benchmarks: block time vs number of moving sources, peers, cost, start-up.

Run from the source tree: ``python -m benchmarks.run --out DIR`` (``make bench`` writes
``benchmarks/results``). This folder is not part of the installed package, so the
``spatialmw`` command has no ``bench`` subcommand. In Python::

    main(argv: list[str] | None = None) -> int      # 0 on success, 2 on a bad option

Options: ``--out DIR`` (required: nothing is written into the source tree unless asked),
``--quick`` (N in {1, 8}, few blocks, no start-up, no ffmpeg: < 20 s, for the test),
``--sizes 1,8,32``, ``--blocks K``, ``--no-cold``.

Everything is measured in one run at 48 kHz with 512-frame blocks, every source circling
the listener at 2 m (0.5 rev/s) with a pose update every block:

* spatialmw through the C API (the native library ``build/lib/libspatialmw.so``, driven by ``smw_bench.c``
  compiled here with gcc): full Lite-INN (TDW + IBC), Lite-INN with every feature on
  (a directivity cone, transmission, air absorption and a reverb send on every source, the
  reverb bus on) and TDW only; at N = 64 also the low-latency hops (128 and 64 frames,
  Lite-INN, features off). If the library or gcc
  is missing, the same kernels are called through their @cfunc addresses with ctypes
  over numpy pools (the C hot path minus the shim's pose copy) and the JSON says so.
* spatialmw's Python ``Engine`` (same kernels, Python front end) for reference.
* OpenAL Soft 1.19.1 with HRTF, rendering into memory (ALC_SOFT_loopback). spatialmw's C
  API runs and OpenAL Soft alternate in ROUNDS rounds over every N, and each point pools its
  rounds, so a drift in the machine's speed affects both sides of a ratio. Everything
  runs pinned to one core (the child processes inherit the affinity).
* virtual voices and level of detail: 1,000 and 4,096 sources of which 50 and 256 are audible,
  and 1,024 all audible, through the C API (``smw_bench``'s AUDIBLE and FULL arguments), with
  the default level of detail and with every source on the full path, against OpenAL Soft with
  as many sources, all playing; block time as % of the block period (mean, p99).
* block time against N = 1, 4, ..., 4096 (% of the block period, median and p99): spatialmw
  on the full path only, with the default level of detail (all audible), with the level of
  detail and 1/16 of the sources audible (the rest virtual voices), and OpenAL Soft with N
  sources all playing, measured as the virtual-voice rows are (``--quick``: N = 1, 4).
* the project's reference HRIR-interpolation renderer and ffmpeg's ``sofalizer``: both
  are offline renderers, timed per source-second and scaled to a 512-frame block
  (block time = N x per-source cost; no mixing cost is added).

Outputs ``bench.json``, ``bench.md``, ``bench.png`` and ``block_time_vs_n.png`` in the output
directory.
"""
from __future__ import annotations

import argparse
import ctypes
import json
import math
import os
import platform
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from spatialmw import defaults as D
from spatialmw.cli import positive_int

ROOT = Path(__file__).resolve().parent.parent
SR = 48000
BLOCK = 512
BLOCK_S = BLOCK / SR
BUDGET_FRACTION = 0.5      # "fits" = median block time within 50 % of one core
ROUNDS = 5                 # spatialmw and OpenAL Soft alternate this many times per N
DEFAULT_SIZES = (1, 8, 32, 64, 128, 256)
QUICK_SIZES = (1, 8)
REV_PER_S = 0.5
LOW_LATENCY_HOPS = (128, 64)   # timed at N = 64 only (256 is the default, every other column)
RADIUS_M = 2.0
# literature (per second of audio, as reported)
LITERATURE = [
    {"system": "NFS", "params": 0.55e6, "macs_per_s": 3.4e9},
    {"system": "WarpNet", "params": 8.59e6, "macs_per_s": 19.15e9},
    {"system": "Lite-INN (paper)", "params": 0.15e6, "macs_per_s": None, "rtf": 0.121},
]


# ----------------------------------------------------------------------------- utils

def _cpu_model() -> str:
    try:
        out = subprocess.run(["lscpu"], capture_output=True, text=True, timeout=10).stdout
        for line in out.splitlines():
            if line.startswith("Model name:"):
                return line.split(":", 1)[1].strip()
    except (OSError, subprocess.SubprocessError):
        pass
    return platform.processor() or "unknown"


def _busy_cores(seconds=1.0):
    """Cores kept busy by other processes over ``seconds`` (from /proc/stat, minus this
    process's own CPU time); None where /proc is unavailable. The load average is no
    substitute: it still counts a job that finished a minute ago."""
    def sample():
        with open("/proc/stat") as f:
            v = [int(x) for x in f.readline().split()[1:]]
        return sum(v), v[3] + v[4]  # all, idle + iowait (jiffies)
    try:
        tick = os.sysconf("SC_CLK_TCK")
        t0, i0 = sample()
        c0 = time.process_time()
        time.sleep(seconds)
        t1, i1 = sample()
        mine = (time.process_time() - c0) * tick
    except (OSError, ValueError):
        return None
    # clamped: the jiffy counts and this process's CPU time are sampled at slightly
    # different instants, so a saturated machine read 2.01 of 2 cores
    return min(float(os.cpu_count() or 1), max(0.0, ((t1 - t0) - (i1 - i0) - mine) / (seconds * tick)))


def _stats(times_s, n_sources):
    t = np.asarray(times_s, dtype=np.float64)
    med = float(np.median(t))
    return {
        "n_sources": int(n_sources), "blocks": int(t.size),
        "median_ms": med * 1e3, "p99_ms": float(np.percentile(t, 99)) * 1e3,
        "mean_ms": float(t.mean()) * 1e3, "min_ms": float(t.min()) * 1e3,
        "rtf": med / BLOCK_S, "per_source_us": med / n_sources * 1e6,
    }


def _max_n_within(points, budget_ms):
    """Largest N whose (interpolated) median block time fits ``budget_ms``: piecewise
    linear through the measured (N, median) points, extrapolated beyond the last point
    with the last segment's slope. Returns (largest measured N that fits, estimate)."""
    pts = sorted((p["n_sources"], p["median_ms"]) for p in points)
    if not pts:
        return None, None
    fits = [n for n, t in pts if t <= budget_ms]
    measured = max(fits) if fits else 0
    if pts[0][1] > budget_ms:
        return measured, 0
    for (n0, t0), (n1, t1) in zip(pts, pts[1:]):
        if t1 > budget_ms:
            return measured, int(n0 + (budget_ms - t0) * (n1 - n0) / max(t1 - t0, 1e-12))
    if len(pts) == 1:
        n0, t0 = pts[0]
        return measured, int(budget_ms / max(t0 / n0, 1e-12))
    (n0, t0), (n1, t1) = pts[-2], pts[-1]
    slope = max((t1 - t0) / (n1 - n0), 1e-9)
    return measured, int(n1 + (budget_ms - t1) / slope)


def _ratios_by_n(systems, peer="openal_soft", mine=("spatialmw_liteinn", "spatialmw_features")):
    """Time per source of each of ``mine`` over ``peer``'s at every N both measured."""
    out = {}
    p_peer = {p["n_sources"]: p for p in systems.get(peer, {}).get("points", [])}
    for k in mine:
        for p in systems.get(k, {}).get("points", []):
            if p["n_sources"] in p_peer:
                out.setdefault(f"{k} / {peer}", {})[str(p["n_sources"])] = (
                    p["per_source_us"] / p_peer[p["n_sources"]]["per_source_us"])
    return out


def _blocks_for(n, blocks):
    """Fewer timed blocks for large N so the default run stays within ~3 minutes."""
    return blocks if n <= 64 else max(30, blocks * 64 // n)


def _angles(n, k):
    return 2.0 * math.pi * (np.arange(n) / n + REV_PER_S * BLOCK_S * k)


# ------------------------------------------------------------------------ C API host

def _build_c_host(tmpdir: Path):
    lib = ROOT / "build" / "lib" / "libspatialmw.so"
    cc = shutil.which("gcc") or shutil.which("cc")
    if not lib.is_file() or cc is None:
        return None, f"C library {'missing' if not lib.is_file() else 'present'}, compiler {cc}"
    exe = tmpdir / "smw_bench"
    cmd = [cc, "-O2", "-std=c11", f"-I{ROOT / 'include'}", "-o", str(exe),
           str(ROOT / "benchmarks" / "smw_bench.c"), f"-L{lib.parent}", "-lspatialmw",
           f"-Wl,-rpath,{lib.parent}", "-lm"]
    proc = subprocess.run(cmd, capture_output=True, text=True)
    if proc.returncode != 0:
        return None, "smw_bench.c did not compile: " + proc.stderr.strip()[-400:]
    return exe, "ok"


def _c_env(extra=None):
    env = {"PATH": "/usr/bin:/bin", "HOME": os.environ.get("HOME", "/tmp")}
    for k in ("NUMBA_CACHE_DIR",):
        if k in os.environ:
            env[k] = os.environ[k]
    env.update(extra or {})
    return env


ALL_FEATURES = 15   # smw_bench's mask: cone 1, transmission 2, air absorption 4, reverb send + bus 8


def _run_c_host(exe, n, blocks, corrector, model, warmup=10, env=None, timeout=600, features=0, hop=256,
                audible=None, full_sources=None, workers=None, cpus=None, skip=False, far=False):
    """(block times, creation seconds, smw_render times) of one smw_bench run: ``features``
    (ALL_FEATURES' bits) set on every source, the renderer's ``hop``; ``audible`` of the ``n``
    sources play, the others are virtual voices (default: all audible); ``full_sources``: the
    level of detail's setting (default: the library's); ``workers``: its worker_threads
    (default 0); ``cpus``: the child's CPU affinity (default: this process's); ``skip``: the
    game makes no call for the virtual voices' audio (smw_bench's SKIP); ``far``: the
    inaudible sources are far rather than quiet (smw_bench's FAR)."""
    args = [str(exe), str(n), str(blocks), str(BLOCK), str(int(corrector)), model or "-", str(warmup),
            str(int(features)), str(hop)]
    if audible is not None or full_sources is not None or workers is not None or skip or far:
        args.append(str(n if audible is None else audible))
    if full_sources is not None or workers is not None or skip or far:
        args.append(str(-1 if full_sources is None else full_sources))
    if workers is not None or skip or far:
        args.append(str(0 if workers is None else workers))
    if skip or far:
        args.append(str(int(skip)))
    if far:
        args.append("1")
    preexec = (lambda: os.sched_setaffinity(0, cpus)) if cpus is not None else None
    proc = subprocess.run(args, capture_output=True, text=True, env=_c_env(env), timeout=timeout,
                          preexec_fn=preexec)
    if proc.returncode != 0:
        raise RuntimeError(f"smw_bench exited {proc.returncode}: {proc.stderr.strip()[-400:]}")
    times, create_s, render = [], None, []
    for line in proc.stdout.splitlines():
        key, _, val = line.partition(" ")
        if key == "block":
            times.append(float(val))
        elif key == "render":
            render.append(float(val))
        elif key == "create_s":
            create_s = float(val)
    return np.array(times), create_s, np.array(render)


# ------------------------------------------------------------- kernels via ctypes

def _kernel_block_times(n, blocks, ibc, model, warmup=10):
    """Fallback when the C library is missing: the @cfunc entry points called through
    ctypes over numpy pools, poses written into the pool as the shim would."""
    from spatialmw.engine import EngineConfig, build_engine_layout, init_pools
    from spatialmw.kernels import layout as L
    from spatialmw.kernels.cabi import render_cfunc, write_cfunc

    lay = build_engine_layout(EngineConfig(SR, n, BLOCK, model, ibc))
    f64 = np.zeros(lay.n_f64)
    f32 = np.zeros(lay.n_f32, dtype=np.float32)
    i64 = np.zeros(lay.n_i64, dtype=np.int64)
    init_pools(lay, f64, f32, i64)
    vp, i32 = ctypes.c_void_p, ctypes.c_int32
    render = ctypes.CFUNCTYPE(i32, vp, vp, vp, vp, i32)(render_cfunc.address)
    write = ctypes.CFUNCTYPE(i32, vp, vp, vp, i32, vp, i32)(write_cfunc.address)
    idx = np.arange(n)
    i64[lay.source_control + idx * L.CTL_STRIDE] = L.STATE_RESTART
    i64[lay.source_control + idx * L.CTL_STRIDE + L.CTL_DISTANCE_MODEL] = 1
    par = lay.source_params + idx * L.PARAM_STRIDE
    f64[par], f64[par + 1], f64[par + 2], f64[par + 3] = 1.0, 1.0, 1000.0, 1.0
    pose = lay.source_pose + idx * L.POSE_STRIDE
    f64[pose + 6] = 1.0
    x = (0.1 * np.random.default_rng(0).standard_normal(4 * BLOCK)).astype(np.float32)
    out = np.zeros(2 * BLOCK, dtype=np.float32)
    a = (f64.ctypes.data, f32.ctypes.data, i64.ctypes.data)
    times = np.zeros(blocks)
    for k in range(warmup + blocks):
        ang = _angles(n, k)
        t0 = time.perf_counter()
        f64[pose] = RADIUS_M * np.cos(ang)
        f64[pose + 1] = RADIUS_M * np.sin(ang)
        for s in range(n):
            write(*a, s, x[((k + s) & 3) * BLOCK // 4:].ctypes.data, BLOCK)
        render(*a, out.ctypes.data, BLOCK)
        if k >= warmup:
            times[k - warmup] = time.perf_counter() - t0
    return times


# -------------------------------------------------------------------- Python Engine

def _engine_block_times(n, blocks, ibc, model, warmup=10):
    from spatialmw.engine import Engine
    eng = Engine(SR, n, BLOCK, model=model, ibc=ibc)
    hs = [eng.add_source(distance_model="inverse_clamped", max_distance=1000.0) for _ in range(n)]
    x = (0.1 * np.random.default_rng(0).standard_normal(4 * BLOCK)).astype(np.float32)
    times = np.zeros(blocks)
    for k in range(warmup + blocks):
        ang = _angles(n, k)
        cs, sn = RADIUS_M * np.cos(ang), RADIUS_M * np.sin(ang)
        t0 = time.perf_counter()
        for i, h in enumerate(hs):
            eng.set_source_pose(h, (cs[i], sn[i], 0.0))
        for i, h in enumerate(hs):
            off = ((k + i) & 3) * BLOCK // 4
            eng.write(h, x[off:off + BLOCK])
        eng.render(BLOCK)
        if k >= warmup:
            times[k - warmup] = time.perf_counter() - t0
    return times


# -------------------------------------------------------------------- virtual voices

# (label, sources, audible, full_sources, skipped, far): the audible ones are spread evenly
# over the slots, as a game's would be; the others play at -100 dB (or, ``far``, beyond their
# distance model's reach: smw_bench's FAR), below the virtual-voice threshold, with poses
# every block and writes unless ``skipped`` (the game makes no call for a virtual voice's
# audio); full_sources None is the library's default level of detail (defaults.FULL_SOURCES),
# 0 every audible source on the full path. Rows are compared with the first one when they
# have as many audible.
VIRTUAL_ROWS = (("50 real", 50, 50, None, False, False),
                ("1,000: 50 audible + 950 virtual", 1000, 50, None, False, False),
                ("1,000: 50 audible + 950 virtual, skipped", 1000, 50, None, True, False),
                ("1,000: 50 audible + 950 virtual by distance, skipped", 1000, 50, None, True, True),
                ("4,096: 256 audible + 3,840 virtual, default LOD", 4096, 256, None, False, False),
                ("4,096: 256 audible + 3,840 virtual, default LOD, skipped", 4096, 256, None, True, False),
                ("4,096: 256 audible + 3,840 virtual, full path only", 4096, 256, 0, False, False),
                ("1,024 all audible, default LOD", 1024, 1024, None, False, False),
                ("1,024 all audible, full path only", 1024, 1024, 0, False, False))
VIRTUAL_ROWS_QUICK = (("8 real", 8, 8, None, False, False), ("64: 8 audible + 56 virtual", 64, 8, None, False, False),
                      ("64: 8 audible + 56 virtual, skipped", 64, 8, None, True, False),
                      ("64: 8 audible + 56 virtual by distance, skipped", 64, 8, None, True, True),
                      ("128 all audible, default LOD", 128, 128, None, False, False),
                      ("128 all audible, full path only", 128, 128, 0, False, False))
OPENAL_MAX_MEASURED = 1024  # the virtual-voice table times OpenAL Soft up to this many sources (the sweep: 4,096)


def _pct(t):
    """Median, mean and p99 of block times ``t`` (s) as % of the block period."""
    return {"median_pct": float(np.median(t)) / BLOCK_S * 100, "mean_pct": float(np.mean(t)) / BLOCK_S * 100,
            "p99_pct": float(np.percentile(t, 99)) / BLOCK_S * 100}


def _time_rows(exe, model, rows, blocks, rounds, al_max, log, what):
    """smw_bench (Lite-INN) for every (label, sources, audible, full_sources, skip, far) row of ``rows``
    and OpenAL Soft with as many sources, all playing (up to ``al_max``; once per number of
    sources and round), alternating in ``rounds`` rounds; fewer blocks at large N
    (:func:`_blocks_for`). Returns ({label: (block times, render times)}, {N: OpenAL Soft
    block times}, a note on OpenAL Soft or None). Where OpenAL Soft fails at some N
    (it cannot create that many sources, say), it is not tried at that N or above."""
    al, al_note = None, None
    try:
        from spatialmw.peers.openal import OpenALLoopback
        al = OpenALLoopback(SR, hrtf=True, max_sources=al_max).__enter__()
    except Exception as exc:
        al_note = f"OpenAL Soft not measured: {exc}"
    smw = {row[0]: ([], []) for row in rows}
    peer = {}
    try:
        for r in range(rounds):
            timed = set()
            for label, n, audible, full, skip, far in rows:
                b = max(10, _blocks_for(n, blocks) // rounds)
                t, _, rt = _run_c_host(exe, n, b, True, model, audible=audible, full_sources=full, skip=skip,
                                       far=far)
                smw[label][0].append(t)
                smw[label][1].append(rt)
                if al is not None and n <= al_max and n not in timed:
                    timed.add(n)
                    try:
                        peer.setdefault(n, []).append(al.render_block_timing(n, b + 10, block=BLOCK, moving=True)[10:])
                    except Exception as exc:
                        al_max = n - 1
                        al_note = f"OpenAL Soft failed at {n} sources ({exc}): measured up to {al_max}."
            log(f"{what} round {r + 1}/{rounds}")
    finally:
        if al is not None:
            al.__exit__(None, None, None)
    return smw, {n: t for n, t in peer.items() if n <= al_max}, al_note


def _virtual_voices(exe, model, blocks, quick, log):
    """Block time with many sources of which few are audible (the C API, Lite-INN), and
    OpenAL Soft with the same number of sources (all playing: it has no virtual voices),
    alternating in ROUNDS rounds."""
    rows = VIRTUAL_ROWS_QUICK if quick else VIRTUAL_ROWS
    al_max = min(OPENAL_MAX_MEASURED, max(row[1] for row in rows))
    smw, peer, al_note = _time_rows(exe, model, rows, blocks, ROUNDS, al_max, log, "virtual voices")
    out = {"rows": [], "note": (
        "C API, Lite-INN, every source circling at 2 m with a pose and a write every block; the "
        "audible sources are spread evenly over the slots, the others at gain 1e-5 (virtual; 'by "
        "distance': at gain 1 circling at 90 m, beyond the 30 m of a linear distance model). "
        "'skipped': the game asks smw_source_is_virtual for each source and makes no call for the "
        "audio of the virtual ones (as a game that does not decode them; a virtual voice needs no "
        "write). "
        "'block' = poses + writes + smw_render, 'render' = smw_render alone. OpenAL Soft 1.19.1 "
        "renders the same number of sources, all playing (no virtual voices), timed as in the "
        f"main table (poses + render; buffers queued up front); measured up to {al_max} sources. "
        f"'default LOD': full_sources {D.FULL_SOURCES} (the loudest on the full path, the others in "
        "the ambisonic bed); 'full path only': full_sources 0.")}
    if al_note:
        out["note"] += " " + al_note
    al_by_n = {n: _pct(np.concatenate(t)) for n, t in peer.items()}
    for label, n, audible, full, skip, far in rows:
        t = np.concatenate(smw[label][0])
        row = {"label": label, "n_sources": n, "audible": audible, "skipped": skip, "far": far, "blocks": int(t.size),
               "full_sources": D.FULL_SOURCES if full is None else full,
               "block": _pct(t), "render": _pct(np.concatenate(smw[label][1]))}
        if n in al_by_n:
            row["openal_soft"] = al_by_n[n]
            row["vs_openal_soft"] = row["block"]["mean_pct"] / al_by_n[n]["mean_pct"]
        out["rows"].append(row)
    real = out["rows"][0]
    for row in out["rows"][1:]:
        if row["audible"] == real["audible"]:
            row["vs_real"] = {k: row[k]["mean_pct"] / real[k]["mean_pct"] for k in ("block", "render")}
    return out


# ------------------------------------------------------------ worker threads

# (label, sources, full_sources) of the worker-scaling rows: all audible, circling at 2 m
WORKER_ROWS = ((f"1,024 all audible, default LOD (full_sources {D.FULL_SOURCES})", 1024, None),
               ("256 all audible, full path only", 256, 0))
WORKER_ROWS_QUICK = (("16 all audible, default LOD", 16, None),)
WORKER_COUNTS = (0, 1, 2, 4)


def _worker_scaling(exe, model, blocks, quick, cpus, log):
    """Block time with 0, 1, 2 and 4 worker threads (smw_bench's WORKERS) for each of
    WORKER_ROWS, every count once per round in ROUNDS rounds (one with ``quick``), the child free to use
    ``cpus`` (the whole machine, not the one core the other measurements are pinned to)."""
    rows = WORKER_ROWS_QUICK if quick else WORKER_ROWS
    out = {"cores": len(cpus), "rows": [], "note": (
        f"C API, Lite-INN, every source circling at 2 m with a pose and a write every block; "
        f"smw_bench free to run on all {len(cpus)} cores; 'block' = poses + writes + smw_render, "
        "'render' = smw_render alone; ratio = median render time against 0 workers (below 1: "
        f"faster). More workers than spare cores ({len(cpus) - 1} here) oversubscribe the machine.")}
    for label, n, full in rows:
        times = {w: ([], []) for w in WORKER_COUNTS}
        rounds = 1 if quick else ROUNDS
        b = max(10, _blocks_for(n, blocks) // rounds)
        for r in range(rounds):
            for w in WORKER_COUNTS:
                t, _, rt = _run_c_host(exe, n, b, True, model, full_sources=full, workers=w, cpus=cpus)
                times[w][0].append(t)
                times[w][1].append(rt)
            log(f"worker threads: {label} round {r + 1}/{rounds}")
        base = float(np.median(np.concatenate(times[0][1])))
        for w in WORKER_COUNTS:
            t, rt = np.concatenate(times[w][0]), np.concatenate(times[w][1])
            out["rows"].append({"label": label, "n_sources": n, "worker_threads": w, "blocks": int(t.size),
                                "full_sources": D.FULL_SOURCES if full is None else full,
                                "block": _pct(t), "render": _pct(rt),
                                "render_ratio_vs_0": float(np.median(rt)) / base})
    return out


# ------------------------------------------------------------ block time against N

# (key, label, audible divisor, full_sources) of the sweep's spatialmw curves: 1/divisor of
# the sources audible (at least one, spread over the slots), the others virtual voices;
# full_sources None is the library's default level of detail, 0 every source on the full path
SWEEP_CURVES = (("full_path", "spatialmw, full path only", 1, 0),
                ("default_lod", f"spatialmw, default LOD (full_sources {D.FULL_SOURCES}), all audible", 1, None),
                ("lod_virtual", "spatialmw, default LOD, 1/16 audible + virtual voices", 16, None))
SWEEP_SIZES = (1, 4, 16, 64, 256, 1024, 4096)
SWEEP_SIZES_QUICK = (1, 4)
SWEEP_ROUNDS = 2  # fewer than ROUNDS: 21 smw_bench processes per round, each starting a renderer


def _block_time_sweep(exe, model, blocks, quick, log):
    """Median and p99 block time (% of the block period) against N for the SWEEP_CURVES and
    OpenAL Soft with N sources all playing, measured as the virtual-voice rows are."""
    sizes = SWEEP_SIZES_QUICK if quick else SWEEP_SIZES
    rows = [(f"{key} {n}", n, max(1, n // div), full, False, False) for n in sizes for key, _, div, full in SWEEP_CURVES]
    smw, peer, al_note = _time_rows(exe, model, rows, blocks, SWEEP_ROUNDS, max(sizes), log, "block time vs N")
    curves = {}
    for key, label, div, full in SWEEP_CURVES:
        pts = []
        for n in sizes:
            t = np.concatenate(smw[f"{key} {n}"][0])
            pts.append(dict(_pct(t), n_sources=n, audible=max(1, n // div), blocks=int(t.size)))
        curves[key] = {"label": label, "full_sources": D.FULL_SOURCES if full is None else full, "points": pts}
    al_sizes = [n for n in sizes if n in peer]
    curves["openal_soft"] = {"label": "OpenAL Soft 1.19.1 HRTF, all playing", "points": [
        dict(_pct(np.concatenate(peer[n])), n_sources=n, audible=n, blocks=int(sum(map(len, peer[n]))))
        for n in al_sizes]}
    note = (f"C API, Lite-INN, block = poses + writes + smw_render, every source circling at 2 m; "
            f"{SWEEP_ROUNDS} rounds alternating with OpenAL Soft, fewer blocks at large N; the "
            f"virtual voices play at gain 1e-5. OpenAL Soft measured up to "
            f"{max(al_sizes) if al_sizes else 0} sources.")
    return {"sizes": list(sizes), "block_ms": BLOCK_S * 1e3, "rounds": SWEEP_ROUNDS, "curves": curves,
            "note": note + (" " + al_note if al_note else "")}


# ---------------------------------------------------------------------------- peers

def _reference_per_source_second(seconds):
    from spatialmw.hrtf.reference import ReferenceRenderer
    from spatialmw.hrtf.sofa import default_sofa_path, read_sofa
    rr = ReferenceRenderer(read_sofa(default_sofa_path(), sample_rate=SR), SR)
    n = int(seconds * SR)
    x = 0.1 * np.random.default_rng(0).standard_normal(n)
    t = np.arange(n) / SR
    a = 2 * math.pi * REV_PER_S * t
    rel = np.stack([RADIUS_M * np.cos(a), RADIUS_M * np.sin(a), np.zeros(n)], axis=1)
    rr.render(x[:SR // 10], rel[:SR // 10])  # compile / warm
    runs = []
    for _ in range(3):
        t0 = time.perf_counter()
        rr.render(x, rel)
        runs.append((time.perf_counter() - t0) / seconds)
    return float(np.median(runs)), "moving source (HRIR interpolation every 32 samples)"


def _child_cpu():
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime


def _sofalizer_per_source_second(seconds):
    import soundfile as sf
    from spatialmw.hrtf.sofa import default_sofa_path
    from spatialmw.peers.sofalizer import ffmpeg_path, sofalize
    exe = ffmpeg_path()
    if exe is None:
        raise RuntimeError("ffmpeg not found")
    x = 0.1 * np.random.default_rng(0).standard_normal(int(seconds * SR))
    sofa = default_sofa_path()
    sofalize(x[:SR // 10], sofa, 30.0)
    wall, cpu = [], []
    for _ in range(3):
        c0, t0 = _child_cpu(), time.perf_counter()
        sofalize(x, sofa, 30.0)
        wall.append(time.perf_counter() - t0)
        cpu.append(_child_cpu() - c0)
    # the same ffmpeg invocation without the filter: process start + WAV I/O
    with tempfile.TemporaryDirectory(prefix="smw_bench_") as tmp:
        src, dst = os.path.join(tmp, "in.wav"), os.path.join(tmp, "out.wav")
        sf.write(src, x.astype(np.float32), SR, subtype="FLOAT")
        null_wall, null_cpu = [], []
        for _ in range(3):
            c0, t0 = _child_cpu(), time.perf_counter()
            subprocess.run([exe, "-nostdin", "-hide_banner", "-loglevel", "error", "-y", "-i", src,
                            "-af", "anull", "-c:a", "pcm_f32le", dst], check=True, capture_output=True)
            null_wall.append(time.perf_counter() - t0)
            null_cpu.append(_child_cpu() - c0)
    net = max(float(np.median(cpu)) - float(np.median(null_cpu)), 1e-6)
    return {
        "per_source_second_s": net / seconds,
        "wall_s": float(np.median(wall)), "cpu_s": float(np.median(cpu)),
        "null_ffmpeg_cpu_s": float(np.median(null_cpu)), "seconds_of_audio": seconds,
        "note": ("ffmpeg process CPU time minus the same command with -af anull; static "
                 "source; includes 48k->44.1k->48k resampling (KEMAR is 44.1 kHz)"),
    }


def _offline_points(per_source_second_s, sizes):
    """Block time of an offline renderer scaled to N sources (N x per-source cost)."""
    per_block = per_source_second_s * BLOCK_S
    return [{"n_sources": n, "median_ms": n * per_block * 1e3, "p99_ms": None,
             "rtf": n * per_block / BLOCK_S, "per_source_us": per_block * 1e6,
             "extrapolated": True} for n in sizes]


# -------------------------------------------------------------------------- startup

def _startup(exe, model, cold: bool):
    """Seconds from renderer creation to the end of the first block, in fresh processes:
    cold = empty NUMBA_CACHE_DIR (everything compiles), then warm = same cache again."""
    out = {}
    with tempfile.TemporaryDirectory(prefix="smw_numba_cache_") as cache:
        env = {"NUMBA_CACHE_DIR": cache}
        order = (("cold", env), ("warm", env)) if cold else (("warm", {}),)
        for label, e in order:
            entry = {}
            if exe is not None:
                _, create_s, _ = _run_c_host(exe, 1, 1, 1, model, warmup=0, env=e)
                entry["c_api_s"] = create_s
            code = ("import time; t0 = time.perf_counter()\n"
                    "import numpy as np\nfrom spatialmw.engine import Engine\n"
                    f"eng = Engine(48000, 1, 512, model={model!r})\n"
                    "s = eng.add_source(); eng.set_source_pose(s, [1.0, 1.0, 0.0])\n"
                    "eng.write(s, np.zeros(512, np.float32)); eng.render(512)\n"
                    "print(time.perf_counter() - t0)\n")
            penv = dict(os.environ)
            penv.update(e)
            proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                                  env=penv, cwd=str(ROOT), timeout=600)
            if proc.returncode == 0:
                entry["python_engine_s"] = float(proc.stdout.strip().splitlines()[-1])
            else:
                entry["python_engine_error"] = proc.stderr.strip()[-300:]
            out[label] = entry
    return out


# ------------------------------------------------------------------ cost accounting

def _cost(model_path):
    """Per-source parameters and MAC/s, from the evaluation protocol's accounting
    (:func:`spatialmw.evaluation.liteinn_cost`), for the benchmark trajectory."""
    from spatialmw.engine import HOP, IBC_EVALS_PER_512_FRAMES, IBC_LOOKUPS_PER_512_FRAMES, N_FFT, REEVAL_DEGREES
    from spatialmw.evaluation import liteinn_cost
    from spatialmw.model import load_model
    m = load_model(model_path)
    c = liteinn_cost(m, SR, HOP, N_FFT)
    b = c["macs_breakdown_per_second"]
    deg_per_block = 360.0 * REV_PER_S * BLOCK_S
    per_source = {
        "tdw": {"params": 0, "macs_per_s": b["tdw"], "note": "2 ears x 16-tap sinc per sample"},
        "stft": {"params": 0, "macs_per_s": b["stft"],
                 "note": f"per hop: window, one {N_FFT}-point complex FFT for both ears, per-bin gains"},
        "ibc": {"params": m.n_params, "macs_per_s": b["ibc_moving_table"],
                "macs_per_table_update": c["ibc_macs_per_table_update"],
                "macs_per_evaluation": c["ibc_macs_per_evaluation"],
                "macs_per_s_evaluating_every_block": b["ibc_moving_network"],
                "note": (f"moving source: a direction-table update (lookup + expansion to per-bin "
                         f"gains) whenever the direction moves > {REEVAL_DEGREES:g} deg, at most once "
                         f"per block (the benchmark trajectory moves {deg_per_block:.2f} deg/block; "
                         f"at most {IBC_LOOKUPS_PER_512_FRAMES} updates per 512 frames in all); a source "
                         f"at rest gets one network evaluation (at most {IBC_EVALS_PER_512_FRAMES} per "
                         f"512 frames). The table itself is built once, at creation")},
    }
    total = sum(v["macs_per_s"] for v in per_source.values())
    shared = {"inverse_stft_macs_per_s": b["stft"] / 2,
              "note": "one inverse FFT per hop for the whole mix, shared by all sources (about half "
                      "a source's STFT: no split, no gains, one transform per hop)"}
    return {"per_source": per_source, "total_per_source": {"params": m.n_params, "macs_per_s": total},
            "shared_per_renderer": shared, "literature": LITERATURE}


# -------------------------------------------------------------------------- outputs

def _plot_lines(path, lines, hlines, ylabel, title, xticks=None):
    """A log-log figure (x base 2) of ``lines`` [(x, y, style, colour or None, label or None:
    no legend entry)] with horizontal reference ``hlines`` [(y, colour, label)], into ``path``."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    fig, ax = plt.subplots(figsize=(7.5, 5))
    for x, y, style, colour, label in lines:
        ax.plot(x, y, style, marker="o", color=colour, label=label)
    for y, colour, label in hlines:
        ax.axhline(y, color=colour, lw=0.8, ls=":", label=label)
    ax.set_xscale("log", base=2)
    ax.set_yscale("log")
    if xticks:
        ax.set_xticks(xticks, [str(x) for x in xticks])
    ax.set_xlabel("moving sources N")
    ax.set_ylabel(ylabel)
    ax.set_title(title)
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def _title(result):
    return f"48 kHz, 512-frame blocks; {result['machine']['cpu']} ({result['machine']['cores']} cores)"


def _plot(result, path):
    lines = [([p["n_sources"] for p in s["points"]], [p["median_ms"] for p in s["points"]],
              "--" if s["points"][0].get("extrapolated") else "-", None, s["label"])
             for s in result["systems"].values() if s.get("points")]
    _plot_lines(path, lines, [(BLOCK_S * 1e3, "k", "block duration (10.67 ms)"),
                              (BUDGET_FRACTION * BLOCK_S * 1e3, "r", "50 % of one core")],
                "median time per 512-frame block (ms)", _title(result))


def _plot_sweep(result, path):
    """block_time_vs_n.png: median (solid) and p99 (dashed) of each curve of the sweep."""
    sweep = result["block_time_vs_n"]
    lines = []
    for i, c in enumerate(sweep["curves"].values()):
        n = [p["n_sources"] for p in c["points"]]
        lines += [(n, [p["median_pct"] for p in c["points"]], "-", f"C{i}", c["label"]),
                  (n, [p["p99_pct"] for p in c["points"]], "--", f"C{i}", None)]
    _plot_lines(path, lines, [(100.0, "k", "block period (10.67 ms)"), (BUDGET_FRACTION * 100, "r", "50 % of one core")],
                "block time, % of the 10.67 ms block period\n(solid: median, dashed: p99)", _title(result),
                xticks=sweep["sizes"])


def _fmt(v, nd=3):
    return "–" if v is None else f"{v:.{nd}f}"


def _markdown(result):
    m = result["machine"]
    sizes = result["sizes"]
    systems = result["systems"]
    lines = [
        "# spatialmw benchmark",
        "",
        f"Command: `{result['command']}`  ",
        f"Machine: {m['cpu']}, {m['cores']} cores (other processes busy at start: "
        f"{_fmt(m.get('busy_cores_start'), 2)} cores), "
        f"Python {m['python']}, pinned to CPU {m.get('pinned_cpu', '(not pinned)')}. "
        "48 kHz, 512-frame blocks, every source moving "
        f"(circle at {RADIUS_M:g} m, {REV_PER_S:g} rev/s), pose update every block.",
        "",
        "Median (p99) milliseconds per 512-frame block; a block lasts 10.67 ms. spatialmw (C API) "
        f"and OpenAL Soft alternate in {ROUNDS} rounds over every N (times pooled), so drift in the "
        "machine's speed affects both. Offline renderers (marked *) are timed per source-second "
        "and scaled by N.",
        "",
        "| N | " + " | ".join(s["label"] for s in systems.values()) + " |",
        "|---|" + "---|" * len(systems),
    ]
    for n in sizes:
        row = [str(n)]
        for s in systems.values():
            p = next((p for p in s.get("points", []) if p["n_sources"] == n), None)
            if p is None:
                row.append("–")
            elif p.get("extrapolated"):
                row.append(f"{p['median_ms']:.3f}*")
            else:
                row.append(f"{p['median_ms']:.3f} ({p['p99_ms']:.3f})")
        lines.append("| " + " | ".join(row) + " |")
    lines += ["", "| system | µs per source per block (N=64) | RTF (N=64) | largest N in 50 % of a core "
              "(measured / interpolated) |", "|---|---|---|---|"]
    for s in systems.values():
        p = next((p for p in s.get("points", []) if p["n_sources"] == 64), None)
        lines.append(f"| {s['label']} | {_fmt(p and p['per_source_us'], 1)} | {_fmt(p and p['rtf'], 4)} | "
                     f"{s.get('max_n_50pct_measured', '–')} / {s.get('max_n_50pct_estimate', '–')} |")
    if result.get("low_latency_n64"):
        lines += ["", "Low-latency mode at N = 64 (Lite-INN, features off; hop 256 is the default, the "
                  "Lite-INN column above):", "",
                  "| hop (frames) | median (p99) ms per 512-frame block | µs per source per block |",
                  "|---|---|---|"]
        for p in result["low_latency_n64"].values():
            lines.append(f"| {p['hop_frames']} | {p['median_ms']:.3f} ({p['p99_ms']:.3f}) | {p['per_source_us']:.1f} |")
    if result.get("ratios_n64"):
        lines += ["", "Ratio spatialmw / peer, time per source at N = 64 (< 1: spatialmw is faster):", ""]
        rounds = result.get("ratios_n64_rounds", {})
        for k, v in result["ratios_n64"].items():
            per = rounds.get(k)
            lines.append(f"- {k}: {v:.3f}" + (
                f" (round by round: {', '.join(f'{x:.2f}' for x in per)})" if per else ""))
    if result.get("ratios_by_n"):
        lines += ["", "Ratio to OpenAL Soft, time per source, at every N (pooled rounds):", "",
                  "| ratio | " + " | ".join(f"N={n}" for n in sizes) + " |", "|---|" + "---|" * len(sizes)]
        for k, v in result["ratios_by_n"].items():
            lines.append(f"| {k} | " + " | ".join(_fmt(v.get(str(n)), 2) for n in sizes) + " |")
    vv = result.get("virtual_voices")
    if vv:
        lines += ["", "Virtual voices: block time as % of the 10.67 ms block period, mean / p99. " + vv["note"], "",
                  "| sources | block (C API) | render alone | OpenAL Soft, all playing | block vs OpenAL Soft | block vs real |",
                  "|---|---|---|---|---|---|"]
        def pct(v):
            return "–" if v is None else f"{v['mean_pct']:.1f} / {v['p99_pct']:.1f}"
        for row in vv["rows"]:
            vs = row.get("vs_real")
            ratio = f"{vs['block']:.2f}x (render {vs['render']:.2f}x)" if vs else "–"
            al = row.get("vs_openal_soft")
            lines.append(f"| {row['label']} | {pct(row['block'])} | {pct(row['render'])} | "
                         f"{pct(row.get('openal_soft'))} | {'–' if al is None else f'{al:.2f}x'} | {ratio} |")
    sweep = result.get("block_time_vs_n")
    if sweep:
        curves = list(sweep["curves"].values())
        lines += ["", "Block time against N (`block_time_vs_n.png`): % of the 10.67 ms block period, "
                  "median / p99. " + sweep["note"], "",
                  "| N | " + " | ".join(c["label"] for c in curves) + " |", "|---|" + "---|" * len(curves)]
        for n in sweep["sizes"]:
            cells = [next((f"{p['median_pct']:.1f} / {p['p99_pct']:.1f}" for p in c["points"]
                           if p["n_sources"] == n), "–") for c in curves]
            lines.append(f"| {n} | " + " | ".join(cells) + " |")
    wk = result.get("worker_threads")
    if wk:
        lines += ["", "Worker threads (`worker_threads`): % of the 10.67 ms block period, median / p99. "
                  + wk["note"], "",
                  "| sources | workers | block (C API) | render alone | render vs 0 workers (median) |",
                  "|---|---|---|---|---|"]
        for row in wk["rows"]:
            lines.append(f"| {row['label']} | {row['worker_threads']} | {row['block']['median_pct']:.1f} / "
                         f"{row['block']['p99_pct']:.1f} | {row['render']['median_pct']:.1f} / "
                         f"{row['render']['p99_pct']:.1f} | {row['render_ratio_vs_0']:.2f} |")
    if result.get("startup"):
        lines += ["", "Start-up, renderer creation to the end of the first block (s):", "",
                  "| cache | C API (smw_renderer_create) | Python Engine (incl. imports) |",
                  "|---|---|---|"]
        for label, e in result["startup"].items():
            lines.append(f"| {label} | {_fmt(e.get('c_api_s'), 2)} | {_fmt(e.get('python_engine_s'), 2)} |")
    c = result.get("cost")
    if c:
        lines += ["", "Cost per source per second of audio:", "",
                  "| part | parameters | MAC/s |", "|---|---|---|"]
        for part, v in c["per_source"].items():
            lines.append(f"| {part.upper()} | {v['params']:,} | {v['macs_per_s'] / 1e6:.2f} M |")
        t = c["total_per_source"]
        lines.append(f"| **spatialmw total** | **{t['params']:,}** | **{t['macs_per_s'] / 1e6:.2f} M** |")
        for lit in c["literature"]:
            mac = "–" if lit["macs_per_s"] is None else f"{lit['macs_per_s'] / 1e9:.2f} G"
            extra = f" (RTF {lit['rtf']})" if lit.get("rtf") else ""
            lines.append(f"| {lit['system']}{extra} | {lit['params'] / 1e6:.2f} M | {mac} |")
        lines.append("")
        ibc = c["per_source"]["ibc"]
        lines.append(f"IBC: {ibc['note']}. Evaluating the network instead at every update would cost "
                     f"{ibc['macs_per_s_evaluating_every_block'] / 1e6:.2f} M MAC/s "
                     f"({ibc['macs_per_evaluation']:,} per evaluation vs {ibc['macs_per_table_update']:,} per "
                     f"table update). The inverse STFT is shared by the mix "
                     f"({c['shared_per_renderer']['inverse_stft_macs_per_s'] / 1e6:.2f} M MAC/s per renderer).")
    if result.get("notes"):
        lines += ["", "Notes:", ""] + [f"- {n}" for n in result["notes"]]
    return "\n".join(lines) + "\n"


# ----------------------------------------------------------------------------- main

def _sizes(text):
    return tuple(positive_int(s) for s in text.split(","))


def _parse(argv):
    ap = argparse.ArgumentParser(prog="python -m benchmarks.run", description=__doc__.split("\n")[0],
                                 formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    ap.add_argument("--out", required=True, help="output folder for bench.json, bench.md, bench.png "
                                                 "(make bench: benchmarks/results)")
    ap.add_argument("--quick", action="store_true", help="tiny configuration (< 20 s), for tests")
    ap.add_argument("--sizes", type=_sizes, default=None,
                    help=f"comma-separated source counts (default: {','.join(map(str, DEFAULT_SIZES))}, "
                         f"with --quick {','.join(map(str, QUICK_SIZES))})")
    ap.add_argument("--blocks", type=positive_int, default=None, help="timed blocks per point (default 150, 15 with --quick)")
    ap.add_argument("--no-cold", action="store_true", help="skip the cold-cache start-up measurement")
    ap.add_argument("--workers-only", action="store_true",
                    help="only the worker-thread scaling (0, 1, 2, 4 workers; needs the C library)")
    return ap.parse_args(argv)


def _measure(args, sizes, blocks, result, notes, log, cpus):
    """Every measurement of :func:`main`, into ``result`` / ``notes`` (``cpus``: the cores
    the worker-thread rows may use)."""
    with tempfile.TemporaryDirectory(prefix="smw_bench_") as tmp:
        tmpdir = Path(tmp)
        model = None  # the shipped default (spatialmw/data/default_kemar.npz)
        result["model"] = "shipped default model"
        exe, why = _build_c_host(tmpdir)
        if args.workers_only:
            if exe is None:
                notes.append(f"worker threads not measured: the C library is not usable ({why})")
            else:
                result["worker_threads"] = _worker_scaling(exe, model, blocks, args.quick, cpus, log)
            return
        via = "C API (libspatialmw.so)" if exe is not None else "kernels via ctypes (@cfunc)"
        if exe is None:
            notes.append(f"C library not usable ({why}): spatialmw timed through the @cfunc kernel "
                         "addresses over numpy pools (the C hot path minus the shim's pose copy).")

        def smw_times(n, b, corrector):
            if exe is not None:
                return _run_c_host(exe, n, b, corrector, model)[0]
            return _kernel_block_times(n, b, corrector, model)

        # the features and the low-latency hops are set through the C API only (the ctypes
        # fallback drives bare kernels): without the library these columns are absent
        extra = {}
        if exe is not None:
            extra["spatialmw_features"] = lambda n, b: _run_c_host(exe, n, b, True, model, features=ALL_FEATURES)[0]
            for hop in LOW_LATENCY_HOPS:
                extra[f"spatialmw_hop{hop}"] = (
                    lambda n, b, hop=hop: _run_c_host(exe, n, b, True, model, hop=hop)[0] if n == 64 else None)

        # spatialmw and OpenAL Soft alternate, ROUNDS times over every N, and each point
        # pools its rounds: a drift in this VM's speed during the run (we have seen 30 %
        # within a minute) then hits both sides of the ratio alike
        live = ["spatialmw_liteinn", "spatialmw_tdw"] + list(extra)
        times = {k: {n: [] for n in sizes} for k in live + ["openal_soft"]}
        al = None
        try:
            from spatialmw.peers.openal import OpenALLoopback
            al = OpenALLoopback(SR, hrtf=True, max_sources=max(sizes)).__enter__()
        except Exception as exc:  # a missing peer is reported, not fatal
            notes.append(f"OpenAL Soft not measured: {exc}")
        try:
            for r in range(ROUNDS):
                for n in sizes:
                    b = max(10, _blocks_for(n, blocks) // ROUNDS)
                    times["spatialmw_liteinn"][n].append(smw_times(n, b, True))
                    times["spatialmw_tdw"][n].append(smw_times(n, b, False))
                    for k, timed in extra.items():
                        t = timed(n, b)
                        if t is not None:
                            times[k][n].append(t)
                    if al is not None:
                        times["openal_soft"][n].append(
                            al.render_block_timing(n, b + 10, block=BLOCK, moving=True)[10:])
                log(f"round {r + 1}/{ROUNDS}: " + ", ".join(
                    f"{k} N=64 {np.median(times[k][64][-1]) * 1e3:.3f} ms"
                    for k in times if 64 in sizes and times[k][64]))
        finally:
            if al is not None:
                al.__exit__(None, None, None)
        labels = {"spatialmw_liteinn": (f"spatialmw Lite-INN ({'C API' if exe is not None else 'cfunc'})", via),
                  "spatialmw_features": ("spatialmw Lite-INN, all features on (C API)", via),
                  "spatialmw_tdw": (f"spatialmw TDW only ({'C API' if exe is not None else 'cfunc'})", via),
                  "openal_soft": ("OpenAL Soft 1.19.1 HRTF", "ALC_SOFT_loopback via ctypes")}
        for k, (label, how) in labels.items():
            if k in times and all(times[k][n] for n in sizes):
                result["systems"][k] = {"label": label, "via": how, "rounds": ROUNDS,
                                        "points": [_stats(np.concatenate(times[k][n]), n) for n in sizes]}
        # the low-latency hops, N = 64 only: a table of their own, not a column of mostly gaps
        hops = {}
        for hop in LOW_LATENCY_HOPS:
            k = f"spatialmw_hop{hop}"
            if k in times and times[k].get(64):
                hops[k] = dict(_stats(np.concatenate(times[k][64]), 64), hop_frames=hop,
                               label=f"spatialmw Lite-INN, hop {hop} (C API)")
        if hops:
            result["low_latency_n64"] = hops
        pts = []
        for n in sizes:
            pts.append(_stats(_engine_block_times(n, _blocks_for(n, blocks), True, model), n))
            log(f"Python Engine N={n}: {pts[-1]['median_ms']:.3f} ms")
        result["systems"]["spatialmw_python"] = {"label": "spatialmw Lite-INN (Python Engine)",
                                                 "via": "spatialmw.engine.Engine", "points": pts}
        try:
            per_s, desc = _reference_per_source_second(1.0 if args.quick else 4.0)
            result["systems"]["reference_hrir"] = {
                "label": "reference HRIR renderer*", "via": "spatialmw.hrtf.reference.ReferenceRenderer",
                "per_source_second_s": per_s, "note": desc, "points": _offline_points(per_s, sizes)}
            log("reference renderer done")
        except Exception as exc:
            notes.append(f"reference HRIR renderer not measured: {exc}")
        if not args.quick:
            try:
                so = _sofalizer_per_source_second(10.0)
                result["systems"]["ffmpeg_sofalizer"] = dict(
                    label="ffmpeg sofalizer*", via="ffmpeg -af sofalizer (subprocess)", **so,
                    points=_offline_points(so["per_source_second_s"], sizes))
                log("sofalizer done")
            except Exception as exc:
                notes.append(f"ffmpeg sofalizer not measured: {exc}")
        for s in result["systems"].values():
            s["max_n_50pct_measured"], s["max_n_50pct_estimate"] = _max_n_within(
                s["points"], result["budget_ms"])
        ratios = {}
        for mine in ("spatialmw_liteinn", "spatialmw_features", "spatialmw_tdw") + tuple(hops):
            if mine in hops:
                p_m = hops[mine]
            elif mine in result["systems"]:
                p_m = next((p for p in result["systems"][mine]["points"] if p["n_sources"] == 64), None)
            else:
                continue
            for peer in ("openal_soft", "reference_hrir", "ffmpeg_sofalizer"):
                s = result["systems"].get(peer)
                p_p = s and next((p for p in s["points"] if p["n_sources"] == 64), None)
                if p_m and p_p:
                    ratios[f"{mine} / {peer}"] = p_m["per_source_us"] / p_p["per_source_us"]
        result["ratios_n64"] = ratios
        result["ratios_by_n"] = _ratios_by_n(result["systems"])
        if 64 in sizes and times["openal_soft"][64]:
            # the same ratio within each round: its spread shows how much the machine drifted
            result["ratios_n64_rounds"] = {
                f"{k} / openal_soft": [float(np.median(a) / np.median(b)) for a, b in
                                       zip(times[k][64], times["openal_soft"][64])] for k in live if times[k][64]}
        if exe is not None:
            result["virtual_voices"] = _virtual_voices(exe, model, blocks, args.quick, log)
            result["block_time_vs_n"] = _block_time_sweep(exe, model, blocks, args.quick, log)
            result["worker_threads"] = _worker_scaling(exe, model, blocks, args.quick, cpus, log)
        else:
            notes.append("virtual voices and block time against N not measured: they need the C library")
        result["cost"] = _cost(model)
        if not args.quick:
            try:
                result["startup"] = _startup(exe, model, cold=not args.no_cold)
                log("start-up done")
            except Exception as exc:
                notes.append(f"start-up not measured: {exc}")


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    try:
        args = _parse(argv)
    except SystemExit as e:  # argparse's exit (bad option, --help) as a return code
        return int(e.code or 0)
    if str(ROOT) not in sys.path:
        sys.path.insert(0, str(ROOT))
    sizes = args.sizes or (QUICK_SIZES if args.quick else DEFAULT_SIZES)
    blocks = args.blocks or (15 if args.quick else 150)
    out_dir = Path(args.out)
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
        (out_dir / ".write-test").touch()
        (out_dir / ".write-test").unlink()
    except OSError as e:  # before minutes of measuring, not after
        print(f"bench: error: cannot write into {out_dir}: {e.strerror or e}", file=sys.stderr)
        return 2
    t_start = time.perf_counter()
    notes = []
    result = {
        "command": "python -m benchmarks.run " + " ".join(argv),
        "machine": {"cpu": _cpu_model(), "cores": os.cpu_count(), "python": platform.python_version(),
                    "busy_cores_start": _busy_cores()},
        "sample_rate": SR, "block": BLOCK, "block_ms": BLOCK_S * 1e3,
        "budget_ms": BUDGET_FRACTION * BLOCK_S * 1e3, "sizes": list(sizes), "quick": bool(args.quick),
        "trajectory": f"circle r={RADIUS_M} m, {REV_PER_S} rev/s, phases spread over 2 pi, pose every block",
        "systems": {},
    }

    def log(msg):
        print(f"[bench {time.perf_counter() - t_start:6.1f}s] {msg}", flush=True)

    # One core for everything measured (the child processes inherit it): unpinned, this
    # VM's scheduler moved processes between its two cores and a system's block time
    # jumped between two levels (OpenAL Soft at N = 64: 0.58 or 1.05 ms) from run to run.
    affinity = None
    cpus = set(range(os.cpu_count() or 1))
    try:
        affinity = os.sched_getaffinity(0)
        cpus = set(affinity)
        os.sched_setaffinity(0, {max(affinity)})
        result["machine"]["pinned_cpu"] = max(affinity)
    except (AttributeError, OSError) as exc:
        notes.append(f"not pinned to one core ({exc}): block times include migrations")
    try:
        _measure(args, sizes, blocks, result, notes, log, cpus)
    finally:
        if affinity is not None:  # the caller (a test, say) gets its cores back
            os.sched_setaffinity(0, affinity)
    busy = result["machine"]["busy_cores_start"]
    if busy is not None and busy > 0.2:
        notes.append(f"other processes kept {busy:.2f} cores busy at the start; p99 and medians "
                     "may include their interference on this 2-core machine")
    result["notes"] = notes
    result["elapsed_s"] = time.perf_counter() - t_start
    (out_dir / "bench.json").write_text(json.dumps(result, indent=1, allow_nan=False))
    (out_dir / "bench.md").write_text(_markdown(result))
    plots = [] if args.workers_only else [(_plot, "bench.png")]
    plots += [(_plot_sweep, "block_time_vs_n.png")] if "block_time_vs_n" in result else []
    for plot, name in plots:
        try:
            plot(result, out_dir / name)
        except Exception as exc:
            print(f"bench: {name} not written: {exc}", file=sys.stderr)
    log(f"wrote {out_dir / 'bench.json'}, bench.md, " + ", ".join(name for _, name in plots))
    return 0


if __name__ == "__main__":
    sys.exit(main())
