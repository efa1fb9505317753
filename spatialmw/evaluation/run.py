"""``spatialmw eval``: runs the protocol (:mod:`.protocol`) over the systems
(:mod:`.systems`) and the game measurements (:mod:`.game`), in worker processes when
more than one core is free, and formats the result (:func:`format_table`)."""
from __future__ import annotations

import datetime
import json
import math
import os
import shlex
import sys
import time
import warnings
from pathlib import Path

import numpy as np

from . import game as G
from . import low_latency as LL
from .cost import liteinn_cost
from .protocol import (BASELINES, HELD_OUT_RULE, IR_PRE, METRIC_KEYS, N_FFT, NOISE_SECONDS,
                       PREROLL, QUICK_SPEECH_SECONDS, SPEECH_DIR, SPEECH_PAD, SPEECH_SECONDS,
                       SR, SYSTEMS, TF_FFT, WAVE_KEYS, BAND, EvaluationError, hrtf_scores,
                       impulse_response, itd_of_irs, lag_samples, load_speech, nan_to_none,
                       noise_input, select_directions, sha256, split, WaveScorer)
from .systems import (EngineSystem, Nearest, OpenALSystem, Reference, spherical_harmonics,
                      three_nearest)
from .. import metrics as M


class _Setup:
    """Everything one process needs to render and score (rebuilt in each worker process
    from plain arguments)."""

    def __init__(self, sofa, model_path, with_openal, openal_lag, time_offset, head_radius,
                 speech_seconds=SPEECH_SECONDS):
        from ..hrtf.conditioning import condition_hrirs
        from ..hrtf.sofa import read_sofa

        # the reference the model was fitted to: level normalised, head-transparent bass
        self.hset = hset = condition_hrirs(read_sofa(sofa, sample_rate=SR), head_radius)[0]
        self.train_idx, self.test_idx = split(hset.n_directions)
        self.T = float(time_offset)
        self.model_path = model_path
        self.d0 = int(round(self.T * SR))
        self.systems = {}
        if model_path is not None:
            self.systems["liteinn"] = EngineSystem("liteinn", hset, model_path, True)
            self.systems["lod_bed"] = EngineSystem("lod_bed", hset, model_path, True, bed=True)
        self.systems["tdw"] = EngineSystem("tdw", hset, None, False)
        self.systems["nearest_hrir"] = Nearest(hset, self.T, self.train_idx)
        if with_openal:
            al = OpenALSystem(hset)
            if openal_lag is not None:
                al.latency = float(openal_lag)
            self.systems["openal_soft"] = al
        self.reference = Reference(hset, self.T)
        self.noise = noise_input(self.d0)
        self.speech = load_speech(speech_seconds)
        pad = np.zeros(int(SPEECH_PAD * SR))
        self.speech_in = np.concatenate([pad, self.speech, pad])

    def names(self):
        return [s for s in SYSTEMS if s in self.systems]

    def game_system(self, name):
        return self.reference if name == "reference" else self.systems.get(name)

    def direction(self, idx, with_pesq):
        """IRs (reference included), waveform metrics and pre-echo of every system at ``idx``."""
        irs = {"reference": impulse_response(self.reference, self.noise, idx, self.d0)}
        wave, secs = {}, {}
        scorer = WaveScorer(self.reference.render(self.speech_in, idx))
        for k in self.names():
            t0 = time.time()
            s = self.systems[k]
            irs[k] = impulse_response(s, self.noise, idx, self.d0)
            wave[k] = scorer.score(s.render(self.speech_in, idx), with_pesq)
            secs[k] = time.time() - t0
        pre = {k: G.pre_echo(self.game_system(k), self, idx)
               for k in G.GAME_SYSTEMS if self.game_system(k) is not None}
        return {"irs": irs, "wave": wave, "seconds": secs, "pre_echo": pre}

    def horizontal(self, idx):
        """IRs of liteinn / tdw / openal_soft at ``idx`` (for the horizontal-plane plot)."""
        return {k: impulse_response(self.systems[k], self.noise, idx, self.d0)
                for k in ("liteinn", "tdw", "openal_soft") if k in self.systems}

    def task(self, kind, key, with_pesq):
        if kind == "dir":
            return self.direction(key, with_pesq)
        if kind == "hor":
            return self.horizontal(key)
        if kind == "lowlat":  # key: (hop, directions)
            return LL.render_hop(self, *key)
        return G.MEASUREMENTS[key](self)

    def close(self):
        if "openal_soft" in self.systems:
            self.systems["openal_soft"].close()


_WORKER: _Setup | None = None


def _worker_init(args):
    global _WORKER
    warnings.simplefilter("ignore", RuntimeWarning)
    _WORKER = _Setup(*args)


def _worker_task(task):
    return task, _WORKER.task(*task)


def _run_tasks(tasks, args, setup, n_workers, log):
    """{(kind, key): result} of every task; in ``n_workers`` fork/spawn processes when more
    than one, else (or when the pool fails) in this process with ``setup``."""
    results = {}
    if n_workers > 1:
        import concurrent.futures as cf
        import multiprocessing as mp
        # fork (no re-import of the caller's script) once this process holds no OpenAL
        # context; every worker builds its own systems in _worker_init
        setup.close()
        setup = None
        method = "fork" if "fork" in mp.get_all_start_methods() else "spawn"
        log(f"{len(tasks)} tasks on {n_workers} worker processes ({method})")
        try:
            with cf.ProcessPoolExecutor(n_workers, mp_context=mp.get_context(method),
                                        initializer=_worker_init, initargs=(args,)) as ex:
                futs = [ex.submit(_worker_task, t) for t in tasks]
                for j, fu in enumerate(cf.as_completed(futs)):
                    t, r = fu.result()
                    results[t[:2]] = r
                    if j % 10 == 0 or j == len(tasks) - 1:
                        log(f"task {j + 1}/{len(tasks)} done")
        except (cf.process.BrokenProcessPool, OSError, RuntimeError) as e:
            log(f"worker processes failed ({type(e).__name__}: {e}); continuing in-process")
            n_workers = 1
    todo = [t for t in tasks if t[:2] not in results]
    if todo and setup is None:
        setup = _Setup(*args)
    for j, t in enumerate(todo):
        results[t[:2]] = setup.task(*t)
        if j % 10 == 0 or j == len(todo) - 1:
            log(f"task {j + 1}/{len(todo)} ({t[0]} {t[1]})")
    if setup is not None:
        setup.close()
    return results, n_workers


def _load_model(model_path, log):
    """(path, model or None, note): the default model may be missing (reported, not fatal);
    an explicit path that does not load raises ModelError."""
    from ..model import default_model_path, load_model
    mpath = Path(default_model_path() if model_path is None else os.fspath(model_path))
    if model_path is None and not mpath.is_file():
        note = f"default model {mpath} not found: liteinn not evaluated"
        log(note)
        return mpath, None, note
    return mpath, load_model(mpath), None


def _open_setup(sofa, model_arg, T, head_radius, speech_s, log):
    """The parent's own setup, with OpenAL Soft if it opens (else a note why not)."""
    try:
        return _Setup(sofa, model_arg, True, None, T, head_radius, speech_s), None
    except Exception as e:  # OpenALError / OSError: library or HRTF data set missing
        note = f"OpenAL Soft unavailable: {type(e).__name__}: {e}"
        log(note)
        return _Setup(sofa, model_arg, False, None, T, head_radius, speech_s), note


def _calibrate(setup, log):
    """OpenAL Soft's one global lag (frontal source), and every system's residual lag at
    the front after alignment (informative)."""
    hset = setup.hset
    front = int(np.argmax(hset.unit_vectors() @ np.array([1.0, 0.0, 0.0])))
    ref_front = setup.reference.render(setup.noise, front)
    lag = None
    if "openal_soft" in setup.systems:
        lag = setup.systems["openal_soft"].calibrate(setup.noise, ref_front, front)
        log(f"OpenAL Soft global lag vs reference (frontal source, index {front}): {lag:+.2f} samples")
    checks = {k: lag_samples(setup.systems[k].render(setup.noise, front), ref_front)
              for k in setup.names()}
    return lag, checks


def _pesq_set(eval_idx, quick, pesq_directions):
    if quick:
        return set()
    if pesq_directions is None or pesq_directions >= eval_idx.size:
        return set(eval_idx.tolist())
    k = max(1, int(pesq_directions))
    return set(eval_idx[np.unique(np.linspace(0, eval_idx.size - 1, k).round().astype(int))].tolist())


def _score_systems(results, names, eval_idx, H_meas, itd_meas, freqs):
    """HRTF-domain and waveform summaries, per-direction arrays and magnitudes of every
    rendered system and of the reference (the estimator's floor)."""
    out, per_direction, mags = {}, {}, {}
    for k in names + ["reference"]:
        irs = np.array([results[("dir", int(i))]["irs"][k] for i in eval_idx])
        mags[k] = np.abs(np.fft.rfft(irs, N_FFT, axis=-1))
        summ, per = hrtf_scores(mags[k], itd_of_irs(irs), H_meas, itd_meas, freqs)
        if k != "reference":
            for key in WAVE_KEYS:
                vals = np.array([results[("dir", int(i))]["wave"][k][key] for i in eval_idx], dtype=float)
                summ[key] = float(np.nanmean(vals)) if np.any(np.isfinite(vals)) else float("nan")
                per[key] = vals
            summ["seconds"] = round(sum(results[("dir", int(i))]["seconds"][k] for i in eval_idx), 2)
        out[k], per_direction[k] = summ, per
    per_direction.pop("reference")
    return out, per_direction, mags


def _score_baselines(hset, train_idx, eval_idx, H_meas, itd_meas, freqs):
    """The 3-nearest and order-10 spherical-harmonic baselines (HRTF metrics only)."""
    out = {}
    for name, fn in zip(BASELINES, (three_nearest, spherical_harmonics)):
        mag, itd = fn(hset, train_idx, eval_idx)
        summ, _ = hrtf_scores(mag, itd, H_meas, itd_meas, freqs)
        out[name] = {**summ, **{k: float("nan") for k in WAVE_KEYS}, "available": True}
    return out


def _game_results(results, eval_idx):
    """{system: {key: value}} of every game measurement, pre-echo summarised over the
    held-out directions (median and worst)."""
    game = {}
    for name in G.MEASUREMENTS:
        for sysname, row in results[("game", name)].items():
            game.setdefault(sysname, {}).update(row)
    for sysname in G.GAME_SYSTEMS:
        vals = [results[("dir", int(i))]["pre_echo"].get(sysname) for i in eval_idx]
        vals = np.array([v for v in vals if v is not None], dtype=float)
        if vals.size:
            game.setdefault(sysname, {}).update({"pre_echo_median_db": float(np.median(vals)),
                                                 "pre_echo_worst_db": float(np.max(vals))})
    return game


def _horizontal_curves(results, hset, horiz_idx, names, freqs):
    """Measured and rendered ILD/ITD on the horizontal plane (for the plot), or None."""
    if not horiz_idx.size:
        return None
    Hm = np.abs(np.fft.rfft(hset.hrirs[horiz_idx], N_FFT, axis=-1))
    horiz = {"index": horiz_idx,
             "azimuth_deg": np.mod(hset.directions_deg[horiz_idx, 0] + 180.0, 360.0) - 180.0,
             "measured": (M.ild_band_db(Hm, freqs, *BAND), itd_of_irs(hset.hrirs[horiz_idx]))}
    for k in ("liteinn", "tdw", "openal_soft"):
        if k in names:
            irs = np.array([results[("hor", int(i))][k] for i in horiz_idx])
            horiz[k] = (M.ild_band_db(np.abs(np.fft.rfft(irs, N_FFT, axis=-1)), freqs, *BAND), itd_of_irs(irs))
    return horiz


def _write_json(result, json_path, log):
    p = Path(os.fspath(json_path))
    p.parent.mkdir(parents=True, exist_ok=True)
    p.write_text(json.dumps(result, indent=1, allow_nan=False) + "\n")
    log(f"wrote {p}")


def run_eval(model_path=None, sofa_path=None, json_path=None, plots_dir=None, quick=False,
             progress=True, pesq_directions=None, workers=None) -> dict:
    """Run the fidelity protocol (docs/EVALUATION.md); returns the result dict (also
    written to ``json_path`` when given, NaN as null) and writes PNG plots into ``plots_dir``.

    ``model_path``: Lite-INN model (None: the shipped default; if that file does not exist
    yet the ``liteinn`` row is reported as unavailable instead of failing; an explicit path
    that does not load raises :class:`spatialmw.model.ModelError`). ``sofa_path``: SOFA
    file (None: the shipped MIT KEMAR). ``quick``: 8 held-out directions, 2 s of speech,
    no PESQ, no extra horizontal-plane renders. ``pesq_directions``: score PESQ on at most
    this many held-out directions, evenly spread (None: all of them in a full run).
    ``workers``: processes rendering in parallel (None: up to the CPU count, at most 4).
    """
    from ..geometry import DEFAULT_HEAD_RADIUS
    from ..hrtf.sofa import default_sofa_path, read_sofa
    from .plots import make_plots

    t_start = time.time()

    def log(msg):
        if progress:
            print(f"[eval {time.time() - t_start:6.1f}s] {msg}", file=sys.stderr, flush=True)

    sofa = Path(default_sofa_path() if sofa_path is None else os.fspath(sofa_path))
    mpath, model, model_note = _load_model(model_path, log)
    model_arg = str(mpath) if model is not None else None
    head_radius = model.head_radius if model is not None else DEFAULT_HEAD_RADIUS
    T = read_sofa(sofa, sample_rate=SR).time_offset(head_radius)
    speech_s = QUICK_SPEECH_SECONDS if quick else SPEECH_SECONDS
    setup, openal_note = _open_setup(sofa, model_arg, T, head_radius, speech_s, log)
    hset, test_idx = setup.hset, setup.test_idx
    if test_idx.size == 0 or setup.train_idx.size == 0:
        raise EvaluationError(f"{sofa}: {hset.n_directions} directions leave no held-out or no fitted direction")
    if hset.n_taps > N_FFT - IR_PRE:
        raise EvaluationError(f"{sofa}: {hset.n_taps}-tap HRIRs exceed the {N_FFT}-point analysis")
    eval_idx = select_directions(test_idx, quick)
    log(f"{sofa.name}: {hset.n_directions} directions, {test_idx.size} held out, evaluating {eval_idx.size}")

    openal_lag, checks = _calibrate(setup, log)
    pesq_set = _pesq_set(eval_idx, quick, pesq_directions)
    el0 = np.where(np.abs(hset.directions_deg[:, 1]) < 1e-6)[0]
    el0 = el0[np.argsort(np.mod(hset.directions_deg[el0, 0] + 180.0, 360.0) - 180.0)]
    horiz_idx = el0 if (plots_dir is not None and not quick) else np.zeros(0, dtype=int)
    # the long game measurements first, so the workers finish together
    tasks = [("game", name, False) for name in reversed(G.MEASUREMENTS)]
    if model is not None:
        tasks += [("lowlat", (hop, tuple(int(i) for i in eval_idx)), False) for hop in LL.LOW_HOPS]
    tasks += [("dir", int(i), int(i) in pesq_set) for i in eval_idx]
    tasks += [("hor", int(i), False) for i in horiz_idx]
    n_workers = workers if workers is not None else min(os.cpu_count() or 1, 4)
    n_workers = max(1, min(int(n_workers), len(tasks)))
    names = setup.names()
    hrtf_name = setup.systems["openal_soft"].hrtf_name if "openal_soft" in setup.systems else None
    latencies = {k: float(v.latency) for k, v in setup.systems.items()}
    nearest = [setup.systems["nearest_hrir"].nearest(i) for i in eval_idx]
    speech_len = setup.speech.size
    args = (str(sofa), model_arg, "openal_soft" in setup.systems, openal_lag, T, head_radius, speech_s)
    results, n_workers = _run_tasks(tasks, args, setup, n_workers, log)

    freqs = np.fft.rfftfreq(N_FFT, 1.0 / SR)
    H_meas = np.fft.rfft(hset.hrirs[eval_idx], N_FFT, axis=-1)
    itd_meas = itd_of_irs(hset.hrirs[eval_idx])
    systems_out, per_direction, mags = _score_systems(results, names, eval_idx, H_meas, itd_meas, freqs)
    reference_floor = systems_out.pop("reference")
    for k in SYSTEMS:
        if k in systems_out:
            systems_out[k]["available"] = True
        else:
            systems_out[k] = {**{key: float("nan") for key in METRIC_KEYS}, "available": False,
                              "note": model_note if k in ("liteinn", "lod_bed") else openal_note}
    if model is not None:
        systems_out["liteinn"].update(liteinn_cost(model))
        systems_out["liteinn"]["model_meta_final_metrics"] = \
            model.meta.get("provenance", {}).get("final_metrics", {}).get("heldout")
    if hrtf_name is not None:
        systems_out["openal_soft"]["hrtf"] = hrtf_name
    baselines = _score_baselines(hset, setup.train_idx, eval_idx, H_meas, itd_meas, freqs)
    game = _game_results(results, eval_idx)
    low_latency = None
    if model is not None:
        low_latency = LL.low_latency_rows(
            np.array([results[("dir", int(i))]["irs"]["liteinn"] for i in eval_idx]), latencies["liteinn"],
            game["liteinn"], {hop: results[("lowlat", (hop, tuple(int(i) for i in eval_idx)))] for hop in LL.LOW_HOPS},
            H_meas, itd_meas, freqs)

    plot_files = []
    if plots_dir is not None:
        horiz = _horizontal_curves(results, hset, horiz_idx, names, freqs)
        plot_files = make_plots(plots_dir, hset, eval_idx, H_meas, mags, itd_meas, per_direction, freqs, horiz)
        log(f"wrote {len(plot_files)} plots to {plots_dir}")

    argv = getattr(sys, "argv", None) or []
    result = {
        "systems": {**{k: systems_out[k] for k in SYSTEMS}, **baselines},
        "reference_floor": reference_floor,
        "game": game,
        "low_latency": low_latency,
        "per_direction": {
            "index": eval_idx, "azimuth_deg": hset.directions_deg[eval_idx, 0],
            "elevation_deg": hset.directions_deg[eval_idx, 1],
            "measured_ild_db": M.ild_band_db(np.abs(H_meas), freqs, *BAND), "measured_itd_us": itd_meas,
            "nearest_fitted_index": nearest,
            "pesq_scored": [int(i) in pesq_set for i in eval_idx],
            **per_direction,
        },
        "metadata": {
            "protocol": "docs/EVALUATION.md",
            "model_path": model_arg,
            "model_sha256": sha256(mpath) if model is not None else None,
            "model_note": model_note,
            "sofa_path": str(sofa), "sofa_sha256": hset.sha256,
            "sample_rate": SR, "n_directions": int(eval_idx.size),
            "n_heldout_total": int(test_idx.size), "held_out_rule": HELD_OUT_RULE,
            "quick": bool(quick), "pesq_directions": len(pesq_set),
            "time_offset_s": T, "analysis_advance_samples": setup.d0,
            "head_radius_for_time_offset": model.head_radius if model is not None else DEFAULT_HEAD_RADIUS,
            "latency_samples": latencies,
            "frontal_residual_lag_samples": checks,
            "frontal_residual_lag_note": "cross-correlation lag of each aligned system vs the "
                                         "reference at the frontal source (positive = later); "
                                         "informative only, not applied",
            "hrtf_input": f"white noise (sigma 0.25), {NOISE_SECONDS:g} s analysed after a "
                          f"{PREROLL}-sample pre-roll; Welch H1 ({TF_FFT}-point) -> impulse "
                          f"response [-{IR_PRE}, {N_FFT - IR_PRE}) samples -> {N_FFT}-point "
                          f"magnitude vs rfft(measured HRIR, {N_FFT})",
            "ild_definition": "metrics.ild_band_db: 10 log10 of the left/right energy of the "
                              "magnitude response, 100 Hz-16 kHz",
            "itd_definition": "metrics.itd_us on the (estimated / measured) impulse responses",
            "speech_input": f"{speech_len / SR:.2f} s of {SPEECH_DIR}/*.wav speech "
                            f"(int16 full scale = 1) + {SPEECH_PAD:g} s silence each side",
            "openal_note": openal_note or "OpenAL Soft's HRTF set is diffuse-field equalised: raw "
                           "lsd_db mostly measures that EQ (lsd_eq_db is its directional "
                           "error); its waveform metrics suffer from it too",
            "workers": n_workers,
            "command_line": shlex.join(argv) if argv else None,
            "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
            "plots": plot_files,
        },
    }
    result["metadata"]["seconds"] = round(time.time() - t_start, 1)
    result = nan_to_none(result)
    if json_path is not None:
        _write_json(result, json_path, log)
    log(f"done in {result['metadata']['seconds']} s")
    return result


# --------------------------------------------------------------------------- table

_COLS = (("lsd_db", "LSD dB", "{:.2f}"), ("lsd_eq_db", "LSD-EQ dB", "{:.2f}"),
         ("ild_err_db", "ILD err dB", "{:.2f}"), ("itd_err_us", "ITD err µs", "{:.1f}"),
         ("wave_l2_e3", "L2 x1e3", "{:.4f}"), ("amp_err", "amp err", "{:.4f}"),
         ("phase_err", "phase err", "{:.3f}"), ("mrstft", "MRSTFT", "{:.3f}"),
         ("pesq", "PESQ", "{:.2f}"))
_ROW_NAMES = {"three_nearest": "3 nearest (dB)", "sh10": "spherical harmonics order 10"}


def _fmt(v, f):
    if v is None or (isinstance(v, float) and not math.isfinite(v)):
        return "n/a"
    if isinstance(v, dict):
        return " / ".join(_fmt(v.get(k), f) for k in ("median", "p95"))
    if isinstance(v, (list, tuple)):
        return " / ".join(_fmt(x, f) for x in v)
    return f.format(v)


def _markdown(head, rows):
    widths = [max(len(r[i]) for r in rows + [head]) for i in range(len(head))]
    line = lambda r: "| " + " | ".join(c.ljust(w) for c, w in zip(r, widths)) + " |"
    return [line(head), "|" + "|".join("-" * (w + 2) for w in widths) + "|"] + [line(r) for r in rows]


def _game_table(game):
    systems = [k for k in G.GAME_SYSTEMS if k in game]
    rows = [[label] + [_fmt(game[s].get(key), f) for s in systems]
            for key, (label, f) in G.LABELS.items()
            if any(key in game[s] for s in systems)]
    return _markdown(["what games play"] + systems, rows)


def format_table(result: dict) -> str:
    """One row per system and baseline, one column per metric (markdown-style table), the
    game measurements (one row per measurement, one column per system), the Lite-INN
    cost line, the estimator floor and the notes."""
    rows = []
    for k, s in result["systems"].items():
        rows.append([_ROW_NAMES.get(k, k)] + [_fmt(s.get(c[0]), c[2]) for c in _COLS])
    fl = result.get("reference_floor") or {}
    rows.append(["(reference floor)"] + [_fmt(fl.get(c[0]), c[2]) for c in _COLS])
    out = _markdown(["system"] + [c[1] for c in _COLS], rows)
    md = result.get("metadata", {})
    li = result["systems"].get("liteinn", {})
    if li.get("params") is not None:
        b = li.get("macs_breakdown_per_second", {})
        out.append(f"liteinn: {li['params']} parameters (theta minus 4 header constants), "
                   f"{li['macs_per_second'] / 1e6:.2f} M MAC/s per moving source "
                   f"(TDW {b.get('tdw', 0) / 1e6:.2f} + STFT {b.get('stft', 0) / 1e6:.2f} + "
                   f"IBC table {b.get('ibc_moving_table', 0) / 1e6:.2f}, or "
                   f"{b.get('ibc_moving_network', 0) / 1e6:.2f} evaluating the network every block; static "
                   f"{li['macs_per_second_static'] / 1e6:.2f})")
    for k in SYSTEMS:
        note = result["systems"].get(k, {}).get("note")
        if note:
            out.append(f"{k}: {note}")
    out.append(f"{md.get('n_directions')} held-out directions ({md.get('held_out_rule')}); "
               f"PESQ on {md.get('pesq_directions')} of them; HRTF metrics vs measured HRTF "
               f"(1024-pt, 100 Hz-16 kHz), waveform metrics vs the reference renderer on speech; "
               f"ITD error is the median, the others means. Baselines (3 nearest, SH order 10) "
               f"are predicted from the fitted directions' HRIRs, HRTF metrics only.")
    out.append("openal_soft: its HRTF set is diffuse-field equalised, so raw LSD (and the "
               "waveform metrics) mostly measure that EQ; LSD-EQ is its directional error.")
    if result.get("game"):
        out += [""] + _game_table(result["game"])
    if result.get("low_latency"):
        out += [""] + _markdown(LL.TABLE_HEAD, LL.table_rows(result["low_latency"]))
        out.append(f"low latency: the same held-out directions and estimator as the liteinn row; goal: "
                   f"latency <= 256 frames with LSD within {LL.LSD_GOAL_DB:g} dB of the default hop")
    if md.get("seconds") is not None:
        out.append(f"runtime {md['seconds']} s")
    return "\n".join(out)
