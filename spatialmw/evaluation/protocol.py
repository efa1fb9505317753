"""The fidelity protocol: ground truth, held-out split, inputs, and how a system's output
becomes a score (docs/EVALUATION.md is the whole protocol in words).

Ground truth is the measured HRIR set (MIT KEMAR by default) resampled to 48 kHz; the
held-out directions are those with index % 10 == 3, never used to fit the default model.
Static sources sit at each held-out direction at the measurement distance, distance model
none. Time alignment: one global latency per system, never per direction, so ITD and
propagation delay stay measured.

HRTF-domain scores: 1 s of white noise (after a discarded pre-roll) through the system;
the per-ear transfer function is the Welch H1 estimate (:func:`metrics.transfer_function`,
TF_FFT-point) between the input and the output advanced by round(T * fs) (T the set's time
offset, one constant for every system), back to an impulse response in the measured
HRIR's own time frame, compared with rfft(HRIR, N_FFT) by :func:`hrtf_scores`.
Waveform scores: ~3 s of real speech rendered by the system and by the reference renderer,
compared with the literature metrics (:class:`WaveScorer`).
"""
from __future__ import annotations

import glob
import hashlib
import math
import os
import warnings

import numpy as np

from .. import metrics as M
from ..errors import SpatialmwError

SR = 48000
N_FFT = 1024
BAND = (100.0, 16000.0)
HELD_OUT_MOD, HELD_OUT_REM = 10, 3
HELD_OUT_RULE = "index % 10 == 3"
SYSTEMS = ("liteinn", "lod_bed", "tdw", "nearest_hrir", "openal_soft")
BASELINES = ("three_nearest", "sh10")
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
TF_FFT = 8192      # Welch segment of the transfer-function estimate (>> the IR length)
IR_PRE = 64        # samples kept before IR time 0 (pre-ringing of STFT / sinc filters)
NOISE_SEED = 20250917


class EvaluationError(SpatialmwError, RuntimeError):
    """The evaluation cannot run (no speech material, unreadable inputs...)."""


def sha256(path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def split(n_directions: int):
    """(fitted, held-out) direction indices: held out when index % 10 == 3."""
    idx = np.arange(n_directions)
    held = idx % HELD_OUT_MOD == HELD_OUT_REM
    return idx[~held], idx[held]


def select_directions(test_idx, quick: bool) -> np.ndarray:
    """All held-out directions, or (quick) QUICK_DIRECTIONS spread evenly through the
    held-out list, which is sorted by elevation then azimuth, so they span its range."""
    if not quick:
        return np.asarray(test_idx)
    pick = np.unique(np.linspace(0, len(test_idx) - 1, QUICK_DIRECTIONS).round().astype(int))
    return np.asarray(test_idx)[pick]


def noise_input(d0: int) -> np.ndarray:
    """The white-noise input of the transfer-function estimate (sigma 0.25, fixed seed)."""
    rng = np.random.default_rng(NOISE_SEED)
    return 0.25 * rng.standard_normal(PREROLL + int(NOISE_SECONDS * SR) + d0 + 1)


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
    return np.concatenate(parts)[:target]


def lag_samples(est: np.ndarray, ref: np.ndarray, max_lag: int = 1024, upsample: int = 16) -> float:
    """Lag (samples, fractional) of (n, 2) ``est`` relative to ``ref`` (positive: est
    later), from the summed per-ear cross-correlation, band-limited upsampling, parabola."""
    n = est.shape[0]
    m = 1 << int(math.ceil(math.log2(2 * n)))
    X = np.sum(np.fft.rfft(est, m, axis=0) * np.conj(np.fft.rfft(ref, m, axis=0)), axis=1)
    c = np.fft.irfft(X, m * upsample)
    return M.correlation_peak(c, max_lag * upsample) / upsample


def impulse_response(system, noise, idx, d0):
    """(2, N_FFT) impulse response of ``system`` at direction ``idx``, in the measured
    HRIR's time frame, starting IR_PRE samples before IR time 0: the Welch H1 estimate
    (TF_FFT-point, so the estimator's window bias is negligible) of the transfer function
    from the noise to the output advanced by ``d0``, back to the time domain, and the
    window [-IR_PRE, N_FFT - IR_PRE) kept. Its N_FFT-point magnitude is directly
    comparable with rfft(measured HRIR, N_FFT)."""
    y = system.render(noise, idx)
    n = noise.shape[0]
    _, h = M.transfer_function(noise[PREROLL:n - d0], y[PREROLL + d0:n], n_fft=TF_FFT, sr=SR,
                               return_complex=True)
    ir = np.fft.irfft(h, TF_FFT, axis=-1)
    return np.concatenate([ir[:, -IR_PRE:], ir[:, :N_FFT - IR_PRE]], axis=-1)


def itd_of_irs(irs) -> np.ndarray:
    """ITD (us, :func:`metrics.itd_us`) of each (2, n) response in ``irs``."""
    return np.array([M.itd_us(r[0], r[1], SR) for r in irs])


def hrtf_scores(mag_est, itd_est, H_meas, itd_meas, freqs):
    """Summary and per-direction HRTF-domain scores of magnitude responses (D, 2, F) and
    ITDs (D,) against the measured HRTFs (D, 2, F) and their ITDs: LSD and EQ-matched LSD
    (100 Hz - 16 kHz), mean |ILD error| (band ILD of the magnitudes), median |ITD error|."""
    me, mm = np.abs(mag_est), np.abs(H_meas)
    sel = (freqs >= BAND[0]) & (freqs <= BAND[1])
    d = 20 * np.log10(np.maximum(me[..., sel], 1e-12) / np.maximum(mm[..., sel], 1e-12))
    ild_est = M.ild_band_db(me, freqs, *BAND)
    ild_err = np.abs(ild_est - M.ild_band_db(mm, freqs, *BAND))
    itd_err = np.abs(np.asarray(itd_est) - itd_meas)
    summary = {
        "lsd_db": M.lsd_db(me, mm, freqs, *BAND),
        "lsd_eq_db": M.lsd_eq_db(me, mm, freqs, *BAND, ear_axis=-2),
        "ild_err_db": float(np.nanmean(ild_err)),
        "itd_err_us": float(np.nanmedian(itd_err)),
    }
    per_dir = {"lsd_db": np.mean(np.sqrt(np.mean(d ** 2, axis=-1)), axis=-1), "ild_db": ild_est,
               "itd_us": np.asarray(itd_est), "ild_err_db": ild_err, "itd_err_us": itd_err}
    return summary, per_dir


class WaveScorer:
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


def nan_to_none(o):
    """``o`` with numpy types made plain and non-finite floats None (strict JSON)."""
    if isinstance(o, dict):
        return {k: nan_to_none(v) for k, v in o.items()}
    if isinstance(o, (list, tuple)):
        return [nan_to_none(v) for v in o]
    if isinstance(o, np.ndarray):
        return nan_to_none(o.tolist())
    if isinstance(o, (np.floating, float)):
        return None if not math.isfinite(float(o)) else float(o)
    if isinstance(o, np.integer):
        return int(o)
    if isinstance(o, np.bool_):
        return bool(o)
    return o
