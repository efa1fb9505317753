"""Fidelity evaluation against measured HRIRs and peers (DESIGN.md, "Fidelity evaluation
protocol"). ``spatialmw eval`` calls :func:`run_eval` and prints :func:`format_table`.

Ground truth: the measured HRIR set (MIT KEMAR by default) resampled to 48 kHz; the
held-out directions are those with index % 10 == 3 (71 of 710), never used to fit the
default model. Every system renders a *static* source at each held-out direction at the
measurement distance (1.4 m), distance model none, and is compared with the reference
renderer (:func:`spatialmw.hrtf.reference.render_static`: convolution with the measured
HRIR of that direction, delayed by the set's time offset T so arrivals are physical):

``liteinn``       :class:`spatialmw.engine.Engine` with the Lite-INN model (TDW + IBC),
``tdw``           the same engine with ``ibc=False`` (the DSP baseline),
``nearest_hrir``  convolution with the nearest measured HRIR among the *fitted* directions,
``openal_soft``   OpenAL Soft 1.19.1's own HRTF mixer (``OpenALLoopback``, its
                  ``default-48000`` data set, which has all 710 KEMAR directions).

Time alignment: one global latency per system, never per direction (ITD and propagation
delay stay measured): the engine's ``latency_frames``; 0 for the convolution; for OpenAL
Soft one fractional lag estimated once from a frontal source (cross-correlation of its
output with the reference's, both ears together) and applied to every direction as a
band-limited shift.

HRTF-domain metrics (per direction, then averaged; ITD error is the median): 1 s of white
noise (after a pre-roll that is discarded) through the system; the per-ear complex
transfer function is the Welch H1 estimate (:func:`metrics.transfer_function`, 1024-point,
Hann, 50 %) between the input and the output advanced by round(T * fs) (one global
constant for every system, so the estimated response sits in the measured HRIR's own time
frame and the estimator's delay bias is the same as for the measurement). It is compared
with the measured HRTF, rfft(HRIR, 1024):

``lsd_db``      :func:`metrics.lsd_db`, 100 Hz - 16 kHz,
``lsd_eq_db``   :func:`metrics.lsd_eq_db` (one per-ear EQ, the mean over the evaluated
                directions of the dB difference, removed first),
``ild_err_db``  mean |ILD_est - ILD_meas|, ILD = 10 log10 of the left/right energy ratio
                of the magnitude responses in 100 Hz - 16 kHz,
``itd_err_us``  median |ITD_est - ITD_meas| with :func:`metrics.itd_us` (positive = left
                leads, cross-correlation below 1.5 kHz, 8x upsampled, parabolic peak) on the
                estimated impulse response irfft(H1, 1024) vs the measured HRIR.

The estimator's own floor is reported as ``reference_floor``: the reference renderer run
through the identical pipeline (should be ~0 everywhere).

Waveform metrics (literature definitions, :mod:`spatialmw.metrics`) on ~3 s of real speech
(``/usr/share/sounds/alsa/*.wav``, 48 kHz; leading/trailing silence trimmed, a few files
concatenated, 0.1 s of silence before and after), rendered per direction and compared
with the reference renderer's output of the same input: ``wave_l2_e3``, ``amp_err``,
``phase_err``, ``mrstft``, ``pesq`` (wideband, mean over ears); mean over directions.
PESQ runs on every direction in a full run. ``quick`` scores 8 held-out directions spread
over elevation, on 2 s of speech, without PESQ and without the horizontal-plane renders.

OpenAL Soft's HRTF set is diffuse-field equalised, so its raw LSD mostly measures that
EQ (``lsd_eq_db`` is its directional error) and its waveform metrics (level/colour against
the raw KEMAR reference) suffer from it as well.
"""
from __future__ import annotations

import datetime
import glob
import hashlib
import json
import math
import os
import shlex
import sys
import time
import warnings
from pathlib import Path

import numpy as np

from . import metrics as M
from .errors import SpatialmwError

SR = 48000
N_FFT = 1024
BAND = (100.0, 16000.0)
HELD_OUT_MOD, HELD_OUT_REM = 10, 3
SYSTEMS = ("liteinn", "tdw", "nearest_hrir", "openal_soft")
__all__ = ["run_eval", "format_table", "load_speech", "liteinn_cost", "stft_macs_per_hop",
           "table_update_macs",
           "EvaluationError", "SYSTEMS", "METRIC_KEYS"]
METRIC_KEYS = ("lsd_db", "lsd_eq_db", "ild_err_db", "itd_err_us", "wave_l2_e3", "amp_err",
               "phase_err", "mrstft", "pesq")
HRTF_KEYS = METRIC_KEYS[:4]
WAVE_KEYS = METRIC_KEYS[4:]
BLOCK = 512
NOISE_SECONDS = 1.0
PREROLL = 4096            # noise samples discarded before the transfer-function analysis
SPEECH_SECONDS = 3.0
QUICK_SPEECH_SECONDS = 2.0
SPEECH_PAD = 0.1          # seconds of silence before and after the speech
SPEECH_DIR = "/usr/share/sounds/alsa"
QUICK_DIRECTIONS = 8
ENGINE_BLOCK_RATE_WORST = SR / BLOCK   # IBC evaluations per second, moving source


class EvaluationError(SpatialmwError, RuntimeError):
    """The evaluation cannot run (no speech material, unreadable inputs...)."""


# --------------------------------------------------------------------------- helpers

def _sha256(path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def _shift(y: np.ndarray, delay: float, n_out: int) -> np.ndarray:
    """Band-limited shift of (n, ch) ``y`` later by ``delay`` samples (negative: earlier),
    first ``n_out`` samples; zero padded, nothing wraps."""
    n = y.shape[0]
    pad = int(math.ceil(abs(delay))) + 64
    nfft = 1 << int(math.ceil(math.log2(n + 2 * pad)))
    if float(delay).is_integer():
        d = int(delay)
        out = np.zeros((n_out,) + y.shape[1:])
        src0 = max(0, -d)
        dst0 = max(0, d)
        m = min(n - src0, n_out - dst0)
        if m > 0:
            out[dst0:dst0 + m] = y[src0:src0 + m]
        return out
    yp = np.zeros((nfft,) + y.shape[1:])
    yp[pad:pad + n] = y
    Y = np.fft.rfft(yp, axis=0)
    ph = np.exp(-2j * np.pi * np.fft.rfftfreq(nfft) * delay)
    Y *= ph.reshape((-1,) + (1,) * (y.ndim - 1))
    return np.fft.irfft(Y, nfft, axis=0)[pad:pad + n_out]


def _lag_samples(est: np.ndarray, ref: np.ndarray, max_lag: int = 1024, upsample: int = 16) -> float:
    """Lag (samples, fractional) of (n, 2) ``est`` relative to ``ref`` (positive: est
    later), from the summed per-ear cross-correlation, band-limited upsampling, parabola."""
    n = est.shape[0]
    m = 1 << int(math.ceil(math.log2(2 * n)))
    X = np.sum(np.fft.rfft(est, m, axis=0) * np.conj(np.fft.rfft(ref, m, axis=0)), axis=1)
    c = np.fft.irfft(X, m * upsample)
    return M.correlation_peak(c, max_lag * upsample) / upsample


def load_speech(seconds: float = SPEECH_SECONDS, sr: int = SR, directory: str = SPEECH_DIR) -> np.ndarray:
    """~``seconds`` of real speech at ``sr`` (float64, int16 full scale = 1.0): the ALSA
    test recordings (``Front_Center``, ``Front_Left``, ... ``Noise.wav`` excluded) in
    sorted order, leading/trailing silence (< 1 % of the peak) trimmed, joined with 50 ms
    gaps, cut to ``seconds``."""
    from scipy.io import wavfile
    from scipy.signal import resample_poly

    files = sorted(f for f in glob.glob(os.path.join(directory, "*.wav"))
                   if "noise" not in os.path.basename(f).lower())
    if not files:
        raise EvaluationError(f"no speech recordings in {directory} (Debian package alsa-utils)")
    parts, total = [], 0
    target = int(round(seconds * sr))
    for f in files:
        rate, x = wavfile.read(f)
        x = np.asarray(x, dtype=np.float64)
        if x.ndim > 1:
            x = x.mean(axis=1)
        x = x / 32768.0
        if rate != sr:
            g = math.gcd(int(rate), int(sr))
            x = resample_poly(x, sr // g, int(rate) // g)
        nz = np.nonzero(np.abs(x) > 0.01 * np.max(np.abs(x)))[0]
        if nz.size == 0:
            continue
        x = x[nz[0]:nz[-1] + 1]
        parts += [x, np.zeros(int(0.05 * sr))]
        total += x.size + int(0.05 * sr)
        if total >= target:
            break
    s = np.concatenate(parts)[:target]
    return s


# --------------------------------------------------------------------------- systems

class _Reference:
    name = "reference"
    latency = 0.0

    def __init__(self, hset, T):
        self.hset, self.T = hset, T

    def render(self, x, idx):
        from .hrtf.reference import render_static
        return render_static(x, self.hset, int(idx), time_offset=self.T)


class _Nearest(_Reference):
    """Convolution with the nearest measured direction among the fitted (training) ones."""
    name = "nearest_hrir"

    def __init__(self, hset, T, train_idx):
        super().__init__(hset, T)
        u = hset.unit_vectors()
        self.train_idx = np.asarray(train_idx)
        self._u, self._ut = u, u[self.train_idx]

    def nearest(self, idx):
        return int(self.train_idx[int(np.argmax(self._ut @ self._u[int(idx)]))])

    def render(self, x, idx):
        return super().render(x, self.nearest(idx))


class _EngineSystem:
    """The real renderer, one fresh Engine per rendering (no state carried over)."""

    def __init__(self, name, hset, model_path, ibc):
        from .engine import Engine
        self.name = name
        self.hset = hset
        self._make = lambda: Engine(SR, 1, BLOCK, model=model_path, ibc=ibc)
        eng = self._make()
        self.latency = float(eng.latency_frames)
        self.model = eng.model

    def render(self, x, idx):
        pos = self.hset.positions()[int(idx)]
        eng = self._make()
        src = eng.add_source(distance_model="none")
        eng.set_source_pose(src, pos)
        lat = int(self.latency)
        n = x.shape[0]
        total = n + lat
        nb = -(-total // BLOCK)
        xp = np.zeros(nb * BLOCK, dtype=np.float32)
        xp[:n] = x
        out = np.empty((nb * BLOCK, 2), dtype=np.float64)
        for b in range(nb):
            eng.write(src, xp[b * BLOCK:(b + 1) * BLOCK])
            out[b * BLOCK:(b + 1) * BLOCK] = eng.render(BLOCK)
        return out[lat:lat + n]


class _OpenALSystem:
    name = "openal_soft"

    def __init__(self, hset):
        from .peers.openal import OpenALLoopback
        self.hset = hset
        self.al = OpenALLoopback(SR, hrtf=True, max_sources=4)
        self.latency = 0.0
        self.hrtf_name = self.al.hrtf_name

    def raw(self, x, pos, tail):
        return np.asarray(self.al.render([np.asarray(x, dtype=np.float32)], [pos],
                                         block=BLOCK, tail=int(tail)), dtype=np.float64)

    def calibrate(self, x, ref_out, idx):
        """One global lag from the frontal source: OpenAL's output vs the reference's."""
        y = self.raw(x, self.hset.positions()[int(idx)], 0)
        self.latency = _lag_samples(y, ref_out)
        return self.latency

    def render(self, x, idx):
        tail = int(math.ceil(max(self.latency, 0.0))) + 64
        y = self.raw(x, self.hset.positions()[int(idx)], tail)
        return _shift(y, -self.latency, x.shape[0])

    def close(self):
        self.al.close()


# --------------------------------------------------------------------------- analysis

TF_FFT = 8192      # Welch segment of the transfer-function estimate (>> the IR length)
IR_PRE = 64        # samples kept before IR time 0 (pre-ringing of STFT / sinc filters)


def _impulse_response(system, noise, idx, d0):
    """(2, N_FFT) impulse response of ``system`` at direction ``idx``, in the measured
    HRIR's time frame, starting IR_PRE samples before IR time 0: the Welch H1 estimate
    (TF_FFT-point, so the estimator's window bias is negligible) of the transfer function
    from the noise to the output advanced by ``d0``, back to the time domain, and the
    window [-IR_PRE, N_FFT - IR_PRE) kept. Its N_FFT-point magnitude is directly
    comparable with rfft(measured HRIR, N_FFT)."""
    y = system.render(noise, idx)
    n = noise.shape[0]
    seg_x = noise[PREROLL:n - d0]
    seg_y = y[PREROLL + d0:n]
    _, h = M.transfer_function(seg_x, seg_y, n_fft=TF_FFT, sr=SR, return_complex=True)
    ir = np.fft.irfft(h, TF_FFT, axis=-1)
    return np.concatenate([ir[:, -IR_PRE:], ir[:, :N_FFT - IR_PRE]], axis=-1)


def _ild_band(mag, freqs):
    sel = (freqs >= BAND[0]) & (freqs <= BAND[1])
    e = np.sum(np.abs(mag[..., sel]) ** 2, axis=-1)
    return 10.0 * np.log10(np.maximum(e[..., 0], 1e-30) / np.maximum(e[..., 1], 1e-30))


def _itd_of_ir(ir):
    return M.itd_us(ir[0], ir[1], SR)


def _hrtf_metrics(ir_est, H_meas, itd_meas, freqs):
    """Per-direction and summary HRTF-domain metrics of (D, 2, N_FFT) estimated IRs."""
    me, mm = np.abs(np.fft.rfft(ir_est, N_FFT, axis=-1)), np.abs(H_meas)
    sel = (freqs >= BAND[0]) & (freqs <= BAND[1])
    d = 20 * np.log10(np.maximum(me[..., sel], 1e-12) / np.maximum(mm[..., sel], 1e-12))
    lsd_dir = np.mean(np.sqrt(np.mean(d ** 2, axis=-1)), axis=-1)  # (D,) mean over ears
    ild_est, ild_meas = _ild_band(me, freqs), _ild_band(mm, freqs)
    itd_est = np.array([_itd_of_ir(r) for r in ir_est])
    ild_err = np.abs(ild_est - ild_meas)
    itd_err = np.abs(itd_est - itd_meas)
    summary = {
        "lsd_db": M.lsd_db(me, mm, freqs, *BAND),
        "lsd_eq_db": M.lsd_eq_db(me, mm, freqs, *BAND, ear_axis=-2),
        "ild_err_db": float(np.nanmean(ild_err)),
        "itd_err_us": float(np.nanmedian(itd_err)),
    }
    per_dir = {"lsd_db": lsd_dir, "ild_db": ild_est, "itd_us": itd_est,
               "ild_err_db": ild_err, "itd_err_us": itd_err}
    return summary, per_dir, me


class _WaveScorer:
    """The waveform metrics of :mod:`spatialmw.metrics` (wave_l2, amplitude_error,
    phase_error, mrstft, pesq_wb) against one reference, with the reference's STFTs
    computed once and shared by every system (same formulas; tests check equality)."""

    def __init__(self, ref, sr=SR):
        self.ref = np.asarray(ref, dtype=np.float64)
        self.sr = sr
        win = int(round(sr / 25))
        self._b = (max(2048, 1 << (win - 1).bit_length()), int(round(sr / 100)), win)
        self.yb = M.stft(self.ref.T, *self._b)
        self.mr = []
        for n_fft, hop, w in M.MRSTFT_RESOLUTIONS:
            s = M.stft(self.ref.T, n_fft, hop, w)
            mr = np.sqrt(np.maximum(s.real ** 2 + s.imag ** 2, 1e-8))
            self.mr.append((mr, np.log(mr), max(np.linalg.norm(mr), 1e-12)))

    def score(self, est, with_pesq=False) -> dict:
        est = np.asarray(est, dtype=np.float64)
        if est.shape != self.ref.shape or not np.all(np.isfinite(est)):
            raise EvaluationError(f"bad rendering: shape {est.shape}, finite {np.all(np.isfinite(est))}")
        ye = M.stft(est.T, *self._b)
        mag_r = np.abs(self.yb)
        amp = float(np.mean(np.mean(np.abs(np.abs(ye) - mag_r), axis=(-2, -1))))
        mask = mag_r > 0.2 * np.mean(mag_r)
        phase = float(np.mean(np.abs(np.angle(ye[mask] * np.conj(self.yb[mask]))))) if np.any(mask) \
            else float("nan")
        total = 0.0
        for (n_fft, hop, w), (mr, lmr, nr) in zip(M.MRSTFT_RESOLUTIONS, self.mr):
            s = M.stft(est.T, n_fft, hop, w)
            me = np.sqrt(np.maximum(s.real ** 2 + s.imag ** 2, 1e-8))
            total += np.linalg.norm(mr - me) / nr + np.mean(np.abs(lmr - np.log(me)))
        out = {"wave_l2_e3": M.wave_l2(est, self.ref), "amp_err": amp, "phase_err": phase,
               "mrstft": float(total / len(M.MRSTFT_RESOLUTIONS)), "pesq": float("nan")}
        if with_pesq:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", RuntimeWarning)
                out["pesq"] = M.pesq_wb(est, self.ref, self.sr)
        return out


# --------------------------------------------------------------------------- cost

def stft_macs_per_hop(n_fft: int = 512) -> dict:
    """Per-source STFT cost of one engine hop, in real multiply-accumulates (MACs):
    window both ears (2 n_fft), one complex n_fft-point radix-2 FFT of (left + j right)
    counted as 5 N log2 N / 2 (the classic 5 N log2 N real flops, i.e. adds and multiplies,
    halved to MAC pairs), and the per-bin complex gain multiply-accumulate into the mix
    (2 ears x (n_fft/2 + 1) bins x 4 real MACs). The one inverse FFT per hop for the whole
    mix is shared by all sources and not counted per source."""
    nb = n_fft // 2 + 1
    win = 2 * n_fft
    fft = int(round(5 * n_fft * math.log2(n_fft) / 2))
    gain = 2 * nb * 4
    return {"window": win, "fft": fft, "gain": gain, "total": win + fft + gain}


def liteinn_cost(model, sr: int = SR, hop: int = 256, n_fft: int = 512) -> dict:
    from .kernels.ibc import ibc_macs_per_evaluation
    from .kernels.tdw import SINC_TAPS

    tdw = 2 * int(SINC_TAPS) * sr
    st = stft_macs_per_hop(n_fft)
    stft = st["total"] * sr / hop
    ibc_eval = int(ibc_macs_per_evaluation(model.dims, model.n_grid))
    ibc_network = ibc_eval * sr / BLOCK
    update = table_update_macs(model.n_grid, n_fft // 2 + 1)
    ibc_table = update * sr / BLOCK
    return {
        "params": int(model.n_params),
        "params_note": "len(theta) minus the 4 fixed header constants (r_ref, rho_min, rho_max, "
                       "f_scale); grid_hz and dims not counted",
        "macs_per_second": float(tdw + stft + ibc_table),
        "macs_per_second_static": float(tdw + stft),
        "macs_breakdown_per_second": {"tdw": float(tdw), "stft": float(stft),
                                      "ibc_moving_table": float(ibc_table),
                                      "ibc_moving_network": float(ibc_network), "ibc_static": 0.0},
        "ibc_macs_per_evaluation": ibc_eval,
        "ibc_macs_per_table_update": update,
        "macs_formula": (f"TDW 2 ears x {SINC_TAPS} taps x sr; STFT per source per hop of {hop}: "
                         f"window 2*{n_fft} + complex {n_fft}-pt FFT 5*N*log2(N)/2 = {st['fft']} "
                         f"+ per-bin gain 2*{n_fft // 2 + 1}*4 = {st['gain']} -> {st['total']} x "
                         f"sr/{hop}; IBC, moving source, worst case one update per {BLOCK}-frame "
                         f"block: a direction-table update (the engine's default) "
                         f"table_update_macs = {update}, or without the table a network "
                         f"evaluation ibc_macs_per_evaluation(dims, K={model.n_grid}) = {ibc_eval}; "
                         f"a static source evaluates the network once; the shared inverse FFT "
                         f"of the mix is excluded"),
    }


def table_update_macs(k_grid: int, nbins: int) -> int:
    """Real multiply-accumulates of one direction-table update: the bilinear lookup (4 rows
    of 4 K values) plus the expansion to per-bin gains, per bin and ear: 2 interpolations
    (4), exp(a) (2-part reduction + degree-7 polynomial = 9), cos and sin of the reduced
    phase (2 + 2 x 5 for the odd degree-9 polynomials) and the 2 products = 27."""
    return 4 * 4 * int(k_grid) + 2 * int(nbins) * 27


# --------------------------------------------------------------------------- main entry

def _nan_to_none(o):
    if isinstance(o, dict):
        return {k: _nan_to_none(v) for k, v in o.items()}
    if isinstance(o, (list, tuple)):
        return [_nan_to_none(v) for v in o]
    if isinstance(o, np.ndarray):
        return _nan_to_none(o.tolist())
    if isinstance(o, (np.floating, float)):
        return None if not math.isfinite(float(o)) else float(o)
    if isinstance(o, np.integer):
        return int(o)
    if isinstance(o, np.bool_):
        return bool(o)
    return o


def _select_directions(test_idx, quick):
    if not quick:
        return np.asarray(test_idx)
    # ~QUICK_DIRECTIONS spread evenly through the held-out list, which is sorted by
    # elevation then azimuth, so they span -40..90 degrees of elevation
    pick = np.unique(np.linspace(0, len(test_idx) - 1, QUICK_DIRECTIONS).round().astype(int))
    return np.asarray(test_idx)[pick]


class _Setup:
    """Everything one process needs to render and score directions (rebuilt in each
    worker process from plain arguments)."""

    def __init__(self, sofa, model_path, with_openal, openal_lag, time_offset,
                 speech_seconds=SPEECH_SECONDS):
        from .hrtf.sofa import read_sofa

        self.hset = hset = read_sofa(sofa, sample_rate=SR)
        idx = np.arange(hset.n_directions)
        held = idx % HELD_OUT_MOD == HELD_OUT_REM
        self.train_idx, self.test_idx = idx[~held], idx[held]
        self.T = float(time_offset)
        self.d0 = int(round(self.T * SR))
        self.systems = {}
        if model_path is not None:
            self.systems["liteinn"] = _EngineSystem("liteinn", hset, model_path, True)
        self.systems["tdw"] = _EngineSystem("tdw", hset, None, False)
        self.systems["nearest_hrir"] = _Nearest(hset, self.T, self.train_idx)
        if with_openal:
            al = _OpenALSystem(hset)
            if openal_lag is not None:
                al.latency = float(openal_lag)
            self.systems["openal_soft"] = al
        self.reference = _Reference(hset, self.T)
        rng = np.random.default_rng(20250917)
        self.noise = 0.25 * rng.standard_normal(PREROLL + int(NOISE_SECONDS * SR) + self.d0 + 1)
        self.speech = load_speech(speech_seconds)
        pad = np.zeros(int(SPEECH_PAD * SR))
        self.speech_in = np.concatenate([pad, self.speech, pad])

    def names(self):
        return [s for s in SYSTEMS if s in self.systems]

    def direction(self, idx, with_pesq):
        """IRs (reference included) and waveform metrics of every system at ``idx``."""
        irs = {"reference": _impulse_response(self.reference, self.noise, idx, self.d0)}
        wave = {}
        scorer = _WaveScorer(self.reference.render(self.speech_in, idx))
        secs = {}
        for k in self.names():
            t0 = time.time()
            s = self.systems[k]
            irs[k] = _impulse_response(s, self.noise, idx, self.d0)
            wave[k] = scorer.score(s.render(self.speech_in, idx), with_pesq)
            secs[k] = time.time() - t0
        return {"irs": irs, "wave": wave, "seconds": secs}

    def horizontal(self, idx):
        """IRs of liteinn / tdw / openal_soft at ``idx`` (for the horizontal-plane plot)."""
        return {k: _impulse_response(self.systems[k], self.noise, idx, self.d0)
                for k in ("liteinn", "tdw", "openal_soft") if k in self.systems}

    def close(self):
        if "openal_soft" in self.systems:
            self.systems["openal_soft"].close()


_WORKER: _Setup | None = None


def _worker_init(args):
    global _WORKER
    warnings.simplefilter("ignore", RuntimeWarning)
    _WORKER = _Setup(*args)


def _worker_task(task):
    kind, idx, with_pesq = task
    if kind == "dir":
        return kind, idx, _WORKER.direction(idx, with_pesq)
    return kind, idx, _WORKER.horizontal(idx)


def run_eval(model_path=None, sofa_path=None, json_path=None, plots_dir=None, quick=False,
             progress=True, pesq_directions=None, workers=None) -> dict:
    """Run the DESIGN.md fidelity protocol; returns the result dict (also written to
    ``json_path`` when given, NaN as null) and writes PNG plots into ``plots_dir``.

    ``model_path``: Lite-INN model (None: the shipped default; if that file does not exist
    yet the ``liteinn`` row is reported as unavailable instead of failing; an explicit path
    that does not load raises :class:`spatialmw.model.ModelError`). ``sofa_path``: SOFA
    file (None: the shipped MIT KEMAR). ``quick``: 8 held-out directions, 2 s of speech,
    no PESQ, no extra horizontal-plane renders. ``pesq_directions``: score PESQ on at most this many
    held-out directions, evenly spread (None: all of them in a full run). ``workers``:
    processes rendering directions in parallel (None: up to the CPU count, at most 4).
    """
    from .geometry import DEFAULT_HEAD_RADIUS
    from .hrtf.sofa import default_sofa_path
    from .model import default_model_path, load_model

    t_start = time.time()

    def log(msg):
        if progress:
            print(f"[eval {time.time() - t_start:6.1f}s] {msg}", file=sys.stderr, flush=True)

    sofa = Path(default_sofa_path() if sofa_path is None else os.fspath(sofa_path))

    # ---- model
    model_note = None
    mpath = Path(default_model_path() if model_path is None else os.fspath(model_path))
    model = None
    if model_path is None and not mpath.is_file():
        model_note = f"default model {mpath} not found: liteinn not evaluated"
        log(model_note)
    else:
        model = load_model(mpath)  # an explicit bad path raises ModelError
    head_radius = model.head_radius if model is not None else DEFAULT_HEAD_RADIUS

    # ---- the parent's own setup: ground truth, calibration, and serial rendering
    from .hrtf.sofa import read_sofa
    hset0 = read_sofa(sofa, sample_rate=SR)
    T = hset0.time_offset(head_radius)
    openal_note = None
    speech_s = QUICK_SPEECH_SECONDS if quick else SPEECH_SECONDS
    try:
        setup = _Setup(sofa, str(mpath) if model is not None else None, True, None, T, speech_s)
    except Exception as e:  # OpenALError / OSError: library or HRTF data set missing
        openal_note = f"OpenAL Soft unavailable: {type(e).__name__}: {e}"
        log(openal_note)
        setup = _Setup(sofa, str(mpath) if model is not None else None, False, None, T, speech_s)
    hset, d0 = setup.hset, setup.d0
    test_idx = setup.test_idx
    if test_idx.size == 0 or setup.train_idx.size == 0:
        raise EvaluationError(f"{sofa}: {hset.n_directions} directions leave no held-out or no fitted direction")
    if hset.n_taps > N_FFT - IR_PRE:
        raise EvaluationError(f"{sofa}: {hset.n_taps}-tap HRIRs exceed the {N_FFT}-point analysis")
    eval_idx = _select_directions(test_idx, quick)
    log(f"{sofa.name}: {hset.n_directions} directions, {test_idx.size} held out, evaluating {eval_idx.size}")

    # ---- one global latency per system; OpenAL's from a frontal source
    front = int(np.argmax(hset.unit_vectors() @ np.array([1.0, 0.0, 0.0])))
    ref_front = setup.reference.render(setup.noise, front)
    checks = {}
    openal_lag = None
    if "openal_soft" in setup.systems:
        openal_lag = setup.systems["openal_soft"].calibrate(setup.noise, ref_front, front)
        log(f"OpenAL Soft global lag vs reference (frontal source, index {front}): {openal_lag:+.2f} samples")
    for k in ("liteinn", "tdw", "nearest_hrir", "openal_soft"):
        if k in setup.systems:  # residual lag at the front after the global alignment
            checks[k] = _lag_samples(setup.systems[k].render(setup.noise, front), ref_front)

    # ---- PESQ subset
    if quick:
        pesq_set = set()
    elif pesq_directions is None or pesq_directions >= eval_idx.size:
        pesq_set = set(eval_idx.tolist())
    else:
        k = max(1, int(pesq_directions))
        pesq_set = set(eval_idx[np.unique(np.linspace(0, eval_idx.size - 1, k).round().astype(int))].tolist())

    # ---- tasks: held-out directions, plus the horizontal plane for the plots
    el0 = np.where(np.abs(hset.directions_deg[:, 1]) < 1e-6)[0]
    el0 = el0[np.argsort(np.mod(hset.directions_deg[el0, 0] + 180.0, 360.0) - 180.0)]
    horiz_idx = el0 if (plots_dir is not None and not quick) else np.zeros(0, dtype=int)
    tasks = [("dir", int(i), int(i) in pesq_set) for i in eval_idx]
    tasks += [("hor", int(i), False) for i in horiz_idx]
    n_workers = workers if workers is not None else min(os.cpu_count() or 1, 4)
    n_workers = max(1, min(int(n_workers), len(tasks)))
    names = setup.names()
    hrtf_name = setup.systems["openal_soft"].hrtf_name if "openal_soft" in setup.systems else None
    latencies = {k: float(getattr(v, "latency", 0.0)) for k, v in setup.systems.items()}
    nearest = [setup.systems["nearest_hrir"].nearest(i) for i in eval_idx]
    speech_len = setup.speech.size
    args = (str(sofa), str(mpath) if model is not None else None,
            "openal_soft" in setup.systems, openal_lag, T, speech_s)
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
                    kind, idx, r = fu.result()
                    results[(kind, idx)] = r
                    if j % 10 == 0 or j == len(tasks) - 1:
                        log(f"task {j + 1}/{len(tasks)} done")
        except (cf.process.BrokenProcessPool, OSError, RuntimeError) as e:
            log(f"worker processes failed ({type(e).__name__}: {e}); continuing in-process")
            n_workers = 1
    todo = [t for t in tasks if (t[0], t[1]) not in results]
    if todo and setup is None:
        setup = _Setup(*args)
    for j, t in enumerate(todo):
        kind, idx, r = _worker_task_with(setup, t)
        results[(kind, idx)] = r
        if j % 10 == 0 or j == len(todo) - 1:
            log(f"task {j + 1}/{len(todo)} ({kind} {idx})")
    if setup is not None:
        setup.close()

    # ---- ground truth and scores
    freqs = np.fft.rfftfreq(N_FFT, 1.0 / SR)
    H_meas = np.fft.rfft(hset.hrirs[eval_idx], N_FFT, axis=-1)
    itd_meas = np.array([M.itd_us(h[0], h[1], SR) for h in hset.hrirs[eval_idx]])
    systems_out, per_direction, mags = {}, {}, {}
    for k in names + ["reference"]:
        irs = np.array([results[("dir", int(i))]["irs"][k] for i in eval_idx])
        summ, per, mags[k] = _hrtf_metrics(irs, H_meas, itd_meas, freqs)
        if k != "reference":
            for key in WAVE_KEYS:
                vals = np.array([results[("dir", int(i))]["wave"][k][key] for i in eval_idx], dtype=float)
                summ[key] = float(np.nanmean(vals)) if np.any(np.isfinite(vals)) else float("nan")
                per[key] = vals
            summ["seconds"] = round(sum(results[("dir", int(i))]["seconds"][k] for i in eval_idx), 2)
        systems_out[k] = summ
        per_direction[k] = per
    reference_floor = systems_out.pop("reference")
    per_direction.pop("reference")
    for k in SYSTEMS:
        if k not in systems_out:
            systems_out[k] = {key: float("nan") for key in METRIC_KEYS}
            systems_out[k]["available"] = False
            systems_out[k]["note"] = model_note if k == "liteinn" else openal_note
        else:
            systems_out[k]["available"] = True
    if model is not None:
        systems_out["liteinn"].update(liteinn_cost(model))
        systems_out["liteinn"]["model_meta_final_metrics"] = \
            model.meta.get("provenance", {}).get("final_metrics", {}).get("heldout")
    if hrtf_name is not None:
        systems_out["openal_soft"]["hrtf"] = hrtf_name

    # ---- plots
    plot_files = []
    if plots_dir is not None:
        horiz = None
        if horiz_idx.size:
            Hm = np.fft.rfft(hset.hrirs[horiz_idx], N_FFT, axis=-1)
            horiz = {"index": horiz_idx,
                     "azimuth_deg": np.mod(hset.directions_deg[horiz_idx, 0] + 180.0, 360.0) - 180.0,
                     "measured": (_ild_band(np.abs(Hm), freqs),
                                  np.array([M.itd_us(h[0], h[1], SR) for h in hset.hrirs[horiz_idx]]))}
            for k in ("liteinn", "tdw", "openal_soft"):
                if k in names:
                    irs = np.array([results[("hor", int(i))][k] for i in horiz_idx])
                    horiz[k] = (_ild_band(np.abs(np.fft.rfft(irs, N_FFT, axis=-1)), freqs),
                                np.array([_itd_of_ir(r) for r in irs]))
        plot_files = make_plots(plots_dir, hset, eval_idx, H_meas, mags, itd_meas,
                                per_direction, freqs, horiz)
        log(f"wrote {len(plot_files)} plots to {plots_dir}")

    argv = getattr(sys, "argv", None) or []
    result = {
        "systems": {k: systems_out[k] for k in SYSTEMS},
        "reference_floor": reference_floor,
        "per_direction": {
            "index": eval_idx, "azimuth_deg": hset.directions_deg[eval_idx, 0],
            "elevation_deg": hset.directions_deg[eval_idx, 1],
            "measured_ild_db": _ild_band(np.abs(H_meas), freqs), "measured_itd_us": itd_meas,
            "nearest_fitted_index": nearest,
            "pesq_scored": [int(i) in pesq_set for i in eval_idx],
            **per_direction,
        },
        "metadata": {
            "protocol": "DESIGN.md 'Fidelity evaluation protocol'",
            "model_path": str(mpath) if model is not None else None,
            "model_sha256": _sha256(mpath) if model is not None else None,
            "model_note": model_note,
            "sofa_path": str(sofa), "sofa_sha256": hset.sha256,
            "sample_rate": SR, "n_directions": int(eval_idx.size),
            "n_heldout_total": int(test_idx.size), "held_out_rule": "index % 10 == 3",
            "quick": bool(quick), "pesq_directions": len(pesq_set),
            "time_offset_s": T, "analysis_advance_samples": d0,
            "head_radius_for_time_offset": head_radius,
            "latency_samples": latencies,
            "frontal_residual_lag_samples": checks,
            "frontal_residual_lag_note": "cross-correlation lag of each aligned system vs the "
                                         "reference at the frontal source (positive = later); "
                                         "informative only, not applied",
            "hrtf_input": f"white noise (sigma 0.25), {NOISE_SECONDS:g} s analysed after a "
                          f"{PREROLL}-sample pre-roll; Welch H1 ({TF_FFT}-point) -> impulse "
                          f"response [-{IR_PRE}, {N_FFT - IR_PRE}) samples -> {N_FFT}-point "
                          f"magnitude vs rfft(measured HRIR, {N_FFT})",
            "ild_definition": "10 log10 of the left/right energy of the magnitude response, 100 Hz-16 kHz",
            "itd_definition": "metrics.itd_us on the (estimated / measured) impulse responses",
            "speech_input": f"{speech_len / SR:.2f} s of {SPEECH_DIR}/*.wav speech "
                            f"(int16 full scale = 1) + {SPEECH_PAD:g} s silence each side",
            "openal_note": openal_note or "OpenAL Soft's HRTF set is diffuse-field equalised: raw "
                           "lsd_db mostly measures that EQ (lsd_eq_db is its directional "
                           "error); its waveform metrics suffer from it too",
            "workers": n_workers,
            "command_line": shlex.join(argv) if argv else None,
            "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
            "seconds": None,
            "plots": plot_files,
        },
    }
    result["metadata"]["seconds"] = round(time.time() - t_start, 1)
    result = _nan_to_none(result)
    if json_path is not None:
        p = Path(os.fspath(json_path))
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(json.dumps(result, indent=1, allow_nan=False) + "\n")
        log(f"wrote {p}")
    log(f"done in {result['metadata']['seconds']} s")
    return result


def _worker_task_with(setup, task):
    kind, idx, with_pesq = task
    if kind == "dir":
        return kind, idx, setup.direction(idx, with_pesq)
    return kind, idx, setup.horizontal(idx)


# --------------------------------------------------------------------------- plots

_STYLE = {"measured": dict(color="k", lw=2.0), "liteinn": dict(color="tab:blue"),
          "tdw": dict(color="tab:orange", ls="--"), "nearest_hrir": dict(color="tab:green", ls=":"),
          "openal_soft": dict(color="tab:red", ls="-.")}


def make_plots(plots_dir, hset, eval_idx, H_meas, mags, itd_meas, per_direction, freqs, horiz=None):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    d = Path(os.fspath(plots_dir))
    d.mkdir(parents=True, exist_ok=True)
    files = []
    names = [k for k in SYSTEMS if k in per_direction]
    az = hset.directions_deg[eval_idx, 0]
    el = hset.directions_deg[eval_idx, 1]
    ild_meas = _ild_band(np.abs(H_meas), freqs)

    # 1. ILD / ITD vs azimuth
    fig, axes = plt.subplots(2, 2 if horiz is not None else 1, figsize=(13 if horiz else 7, 8),
                             squeeze=False)
    if horiz is not None:
        a = horiz["azimuth_deg"]
        held = np.isin(horiz["index"], eval_idx)
        for row, (what, unit) in enumerate((("ILD", "dB"), ("ITD", "µs"))):
            ax = axes[row, 0]
            ax.plot(a, horiz["measured"][row], label="measured", **_STYLE["measured"])
            for k in ("liteinn", "tdw", "openal_soft"):
                if k in horiz:
                    ax.plot(a, horiz[k][row], label=k, **_STYLE[k])
            ax.plot(a[held], horiz["measured"][row][held], "ko", ms=5, mfc="none",
                    label="held-out directions")
            ax.set_xlabel("azimuth (deg, + = left)")
            ax.set_ylabel(f"{what} ({unit})")
            ax.set_title(f"{what} on the horizontal plane (all {a.size} measured azimuths)")
            ax.grid(alpha=0.3)
            ax.legend(fontsize=8)
    col = axes.shape[1] - 1
    azs = np.mod(az + 180.0, 360.0) - 180.0
    for row, (what, unit, meas, key) in enumerate((("ILD", "dB", ild_meas, "ild_db"),
                                                    ("ITD", "µs", itd_meas, "itd_us"))):
        ax = axes[row, col]
        ax.plot(azs, meas, "ko", ms=6, mfc="none", label="measured")
        mk = {"liteinn": "x", "tdw": "+", "nearest_hrir": "1", "openal_soft": "."}
        for k in names:
            ax.plot(azs, per_direction[k][key], mk[k], color=_STYLE[k]["color"], label=k)
        ax.set_xlabel("azimuth (deg, + = left), all elevations")
        ax.set_ylabel(f"{what} ({unit})")
        ax.set_title(f"{what}, held-out directions ({eval_idx.size})")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    fig.tight_layout()
    f = d / "ild_itd_vs_azimuth.png"
    fig.savefig(f, dpi=110)
    plt.close(fig)
    files.append(str(f))

    # 2. LSD per held-out direction
    fig, axes = plt.subplots(2, 1, figsize=(max(8, 0.16 * eval_idx.size + 4), 7))
    x = np.arange(eval_idx.size)
    w = 0.8 / max(1, len(names))
    for i, k in enumerate(names):
        axes[0].bar(x + (i - (len(names) - 1) / 2) * w, per_direction[k]["lsd_db"], w,
                    color=_STYLE[k]["color"], label=k)
        axes[1].plot(x, per_direction[k]["itd_err_us"], "o-", ms=3, color=_STYLE[k]["color"], label=k)
    labels = [f"{a:.0f}/{e:.0f}" for a, e in zip(az, el)]
    for ax, yl in zip(axes, ("LSD (dB, raw, mean of ears)", "|ITD error| (µs)")):
        ax.set_xticks(x)
        ax.set_xticklabels(labels, rotation=90, fontsize=6)
        ax.set_ylabel(yl)
        ax.grid(alpha=0.3, axis="y")
        ax.legend(fontsize=8, ncol=4)
    axes[1].set_xlabel("held-out direction (azimuth/elevation, deg)")
    axes[0].set_title("Per-direction error vs measured KEMAR HRTF")
    fig.tight_layout()
    f = d / "lsd_per_direction.png"
    fig.savefig(f, dpi=110)
    plt.close(fig)
    files.append(str(f))

    # 3. magnitude responses at a few directions
    targets = [(0, 0), (90, 0), (180, 0), (45, 30), (300, -30), (0, 90)]
    u = hset.unit_vectors()[eval_idx]
    from .geometry import spherical_to_cartesian
    picks = []
    for a_, e_ in targets:
        j = int(np.argmax(u @ spherical_to_cartesian(a_, e_)))
        if j not in picks:
            picks.append(j)
    picks = picks[:4]
    fig, axes = plt.subplots(len(picks), 2, figsize=(12, 2.8 * len(picks)), squeeze=False)
    sel = (freqs >= 50) & (freqs <= 20000)
    for r, j in enumerate(picks):
        for e, ear in enumerate(("left", "right")):
            ax = axes[r, e]
            ax.semilogx(freqs[sel], 20 * np.log10(np.abs(H_meas[j, e, sel]) + 1e-12),
                        label="measured", **_STYLE["measured"])
            for k in ("liteinn", "tdw", "openal_soft"):
                if k in mags:
                    ax.semilogx(freqs[sel], 20 * np.log10(mags[k][j, e, sel] + 1e-12),
                                label=k, **_STYLE[k])
            ax.set_title(f"az {az[j]:.0f}°, el {el[j]:.0f}° (index {eval_idx[j]}), {ear} ear", fontsize=9)
            ax.set_ylabel("dB")
            ax.grid(alpha=0.3, which="both")
            if r == len(picks) - 1:
                ax.set_xlabel("frequency (Hz)")
    axes[0, 0].legend(fontsize=8)
    fig.tight_layout()
    f = d / "magnitude_responses.png"
    fig.savefig(f, dpi=110)
    plt.close(fig)
    files.append(str(f))
    return files


# --------------------------------------------------------------------------- table

_COLS = (("lsd_db", "LSD dB", "{:.2f}"), ("lsd_eq_db", "LSD-EQ dB", "{:.2f}"),
         ("ild_err_db", "ILD err dB", "{:.2f}"), ("itd_err_us", "ITD err µs", "{:.1f}"),
         ("wave_l2_e3", "L2 x1e3", "{:.4f}"), ("amp_err", "amp err", "{:.4f}"),
         ("phase_err", "phase err", "{:.3f}"), ("mrstft", "MRSTFT", "{:.3f}"),
         ("pesq", "PESQ", "{:.2f}"))


def format_table(result: dict) -> str:
    """One row per system, one column per metric (markdown-style table) plus the
    Lite-INN cost line, the estimator floor and the notes."""
    def fmt(v, f):
        if v is None or (isinstance(v, float) and not math.isfinite(v)):
            return "n/a"
        return f.format(v)

    head = ["system"] + [c[1] for c in _COLS]
    rows = []
    for k in SYSTEMS:
        s = result["systems"].get(k, {})
        rows.append([k] + [fmt(s.get(c[0]), c[2]) for c in _COLS])
    fl = result.get("reference_floor") or {}
    rows.append(["(reference floor)"] + [fmt(fl.get(c[0]), c[2]) for c in _COLS])
    widths = [max(len(r[i]) for r in rows + [head]) for i in range(len(head))]
    line = lambda r: "| " + " | ".join(c.ljust(w) for c, w in zip(r, widths)) + " |"
    out = [line(head), "|" + "|".join("-" * (w + 2) for w in widths) + "|"] + [line(r) for r in rows]
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
               f"ITD error is the median, the others means.")
    out.append("openal_soft: its HRTF set is diffuse-field equalised, so raw LSD (and the "
               "waveform metrics) mostly measure that EQ; LSD-EQ is its directional error.")
    if md.get("seconds") is not None:
        out.append(f"runtime {md['seconds']} s")
    return "\n".join(out)
