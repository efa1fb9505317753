"""Evaluation metrics for binaural rendering (pure numpy / scipy).

Waveform metrics follow the Binaural Speech Synthesis / WarpNet line (Richard et al.,
"Neural synthesis of binaural speech from mono audio", ICLR 2021), BinauralGrad (Leng et
al., NeurIPS 2022) and NFS (Lee & Lee, ICASSP 2023), so numbers are comparable with the
literature when a user evaluates on that dataset:

* **wave L2** -- mean squared error of the waveforms (both ears) x 10^3.
* **amplitude error** -- mean |abs(STFT(est)) - abs(STFT(ref))| with n_fft 2048, Hann window
  of sr/25 samples (1920 at 48 kHz) and hop sr/100 (480 at 48 kHz), per ear then averaged.
* **phase error** -- wrapped angle difference in [0, pi] of the same STFT, on the bins
  whose target magnitude exceeds 0.2 x the mean target magnitude.
* **MRSTFT** -- multi-resolution STFT loss (FFT 1024/2048/512, hop 120/240/50, Hann window
  600/1200/240): spectral convergence + L1 of the log magnitudes, averaged over the
  resolutions (the Parallel WaveGAN / auraloss definition used by BinauralGrad and NFS).
* **PESQ** -- wide-band PESQ (ITU-T P.862.2) at 16 kHz, mean over ears.

The STFTs mirror ``torch.stft(center=True, pad_mode="reflect", normalized=False)`` with a
periodic Hann window zero-padded (centred) to n_fft, i.e. unnormalised magnitudes, which is
what the reference implementations use.

HRTF-domain metrics (the protocol: docs/EVALUATION.md):

* **LSD** (:func:`lsd_db`) -- RMS over frequency bins in [fmin, fmax] of 20 log10(|H_est| /
  |H_ref|), averaged over directions and ears; :func:`lsd_eq_db` first removes one fixed
  per-ear equaliser (the mean over directions of the dB difference), so a diffuse-field
  equalised HRTF set is judged on its directional error only.
* **ILD** (:func:`ild_db`) -- broadband energy ratio left over right in dB;
  :func:`ild_band_db` the same from magnitude responses within a band.
* **ITD** (:func:`itd_us`) -- lag of the interaural cross-correlation of the ear signals
  low-passed below 1.5 kHz, 8x band-limited upsampling, parabolic peak interpolation,
  searched within +-1 ms. **Sign: positive when the LEFT ear leads** (the sound reaches
  the left ear first, i.e. a source on the left, +y native, gives a positive ITD).

:func:`transfer_function` estimates per-ear magnitude responses of any renderer from a
white-noise input and its stereo output (Welch H1 estimator), so renderers without an
explicit HRIR (OpenAL Soft, Lite-INN) can be scored with the HRTF-domain metrics.

What games play (static tones, impulses, moving sources): :func:`thd_n_db` (THD+N of a
steady tone, Kaiser window), :func:`tone_amplitude` (least-squares amplitude of a known
tone), :func:`onset_index` / :func:`pre_echo_db` (energy before an impulse response's
onset), :func:`third_octave_levels` and :func:`frame_differences` (per-frame ILD, ITD
and third-octave differences of two binaural signals).

Conventions: time signals with both ears are shaped (n, 2) (waveform metrics) -- ear 0 is
left, 1 right. HRTF-domain arrays put frequency (or time) on the last axis and ears on the
axis before it: (..., 2, F) / (..., 2, n).
"""
from __future__ import annotations

import math
import warnings
from fractions import Fraction

import numpy as np
from scipy import signal

__all__ = [
    "wave_l2", "amplitude_error", "phase_error", "mrstft", "pesq_wb",
    "lsd_db", "lsd_eq_db", "ild_db", "itd_us", "ild_error_db", "itd_error_us",
    "transfer_function", "stft", "ild_band_db", "thd_n_db", "tone_amplitude", "onset_index",
    "pre_echo_db", "third_octave_levels", "frame_differences", "correlation_peak",
]

_EPS = 1e-12


# ----------------------------------------------------------------------------- helpers
def _as_stereo_pair(est, ref):
    est = np.asarray(est, dtype=np.float64)
    ref = np.asarray(ref, dtype=np.float64)
    if est.ndim == 1:
        est = est[:, None]
    if ref.ndim == 1:
        ref = ref[:, None]
    if est.ndim != 2 or ref.ndim != 2:
        raise ValueError(f"expected (n, channels) signals, got {est.shape} and {ref.shape}")
    if est.shape != ref.shape:
        raise ValueError(f"estimate and reference shapes differ: {est.shape} vs {ref.shape}")
    if est.shape[0] == 0:
        raise ValueError("empty signals")
    if not (np.all(np.isfinite(est)) and np.all(np.isfinite(ref))):
        raise ValueError("signals contain NaN or Inf")
    return est, ref


def stft(x, n_fft: int, hop: int, win: int, window: str = "hann", center: bool = True) -> np.ndarray:
    """STFT of ``x`` (..., n) -> complex (..., n_fft//2 + 1, frames).

    Defaults: the same as ``torch.stft(x, n_fft, hop, win, torch.hann_window(win),
    center=True, pad_mode="reflect", return_complex=True)``: periodic Hann window,
    zero-padded centred in n_fft, reflect padding of n_fft//2 at both ends, no
    normalisation. ``window="sqrt-hann"`` takes the square root of that window and
    ``center=False`` starts the first frame at sample 0 without padding: with n_fft = win
    = 512 and hop 256 that is the engine's analysis (used to fit the corrector to
    recordings)."""
    x = np.asarray(x, dtype=np.float64)
    if win > n_fft:
        raise ValueError(f"window {win} longer than n_fft {n_fft}")
    if window not in ("hann", "sqrt-hann"):
        raise ValueError(f"window must be 'hann' or 'sqrt-hann', got {window!r}")
    w = np.zeros(n_fft)
    left = (n_fft - win) // 2
    w[left:left + win] = signal.get_window("hann", win, fftbins=True)
    if window == "sqrt-hann":
        w = np.sqrt(w)
    if center:
        pad = n_fft // 2
        mode = "reflect" if x.shape[-1] > 1 else "constant"
        x = np.pad(x, [(0, 0)] * (x.ndim - 1) + [(pad, pad)], mode=mode)
    if x.shape[-1] < n_fft:
        raise ValueError(f"signal of {x.shape[-1]} samples is shorter than n_fft {n_fft}")
    n_frames = 1 + (x.shape[-1] - n_fft) // hop
    idx = np.arange(n_fft)[None, :] + hop * np.arange(n_frames)[:, None]
    frames = x[..., idx] * w  # (..., frames, n_fft)
    return np.swapaxes(np.fft.rfft(frames, axis=-1), -1, -2)


def _binaural_stft(x, sr):
    """The Binaural Speech STFT: n_fft 2048, Hann window sr/25, hop sr/100."""
    win = int(round(sr / 25))
    hop = int(round(sr / 100))
    n_fft = max(2048, 1 << (win - 1).bit_length())
    return stft(x, n_fft, hop, win)


# ----------------------------------------------------------------------- waveform metrics
def wave_l2(est, ref) -> float:
    """Mean squared error over all samples of both ears, x 10^3. Inputs (n, 2)."""
    est, ref = _as_stereo_pair(est, ref)
    return float(np.mean((est - ref) ** 2) * 1e3)


def amplitude_error(est, ref, sr: int = 48000) -> float:
    """Mean |abs(Y_est) - abs(Y_ref)| of the STFT (n_fft 2048, Hann sr/25, hop sr/100 --
    1920 / 480 at 48 kHz), computed per ear, then averaged over ears. Inputs (n, 2)."""
    est, ref = _as_stereo_pair(est, ref)
    ye = np.abs(_binaural_stft(est.T, sr))
    yr = np.abs(_binaural_stft(ref.T, sr))
    per_ear = np.mean(np.abs(ye - yr), axis=(-2, -1))
    return float(np.mean(per_ear))


def phase_error(est, ref, sr: int = 48000, threshold: float = 0.2) -> float:
    """Mean wrapped phase difference (radians, each in [0, pi]) of the STFT used by
    :func:`amplitude_error`, over the time-frequency bins (of both ears together) whose
    target magnitude exceeds ``threshold`` x the mean target magnitude. NaN if no bin
    qualifies (silent target)."""
    est, ref = _as_stereo_pair(est, ref)
    ye = _binaural_stft(est.T, sr)
    yr = _binaural_stft(ref.T, sr)
    mag = np.abs(yr)
    mask = mag > threshold * np.mean(mag)
    if not np.any(mask):
        return float("nan")
    d = np.abs(np.angle(ye[mask] * np.conj(yr[mask])))  # in [0, pi]
    return float(np.mean(d))


MRSTFT_RESOLUTIONS = ((1024, 120, 600), (2048, 240, 1200), (512, 50, 240))


def mrstft(est, ref, resolutions=MRSTFT_RESOLUTIONS, eps: float = 1e-8) -> float:
    """Multi-resolution STFT distance: for each (n_fft, hop, win) in ``resolutions``,
    spectral convergence ||Y - Y_est||_F / ||Y||_F plus mean |log Y - log Y_est|, with
    magnitudes sqrt(max(re^2 + im^2, eps)) (both ears together, as a batch); averaged over
    resolutions. 0 for identical signals. Inputs (n, 2) or (n,)."""
    est, ref = _as_stereo_pair(est, ref)
    total = 0.0
    for n_fft, hop, win in resolutions:
        se = stft(est.T, n_fft, hop, win)
        sr_ = stft(ref.T, n_fft, hop, win)
        me = np.sqrt(np.maximum(se.real ** 2 + se.imag ** 2, eps))
        mr = np.sqrt(np.maximum(sr_.real ** 2 + sr_.imag ** 2, eps))
        sc = np.linalg.norm(mr - me) / max(np.linalg.norm(mr), _EPS)
        lm = np.mean(np.abs(np.log(mr) - np.log(me)))
        total += sc + lm
    return float(total / len(resolutions))


def pesq_wb(est, ref, sr: int = 48000) -> float:
    """Wide-band PESQ (MOS-LQO) of ``est`` against ``ref`` after resampling to 16 kHz
    (scipy.signal.resample_poly), mean over ears. Returns NaN with a RuntimeWarning when
    PESQ cannot score the input (e.g. silence / no utterance) instead of raising."""
    est, ref = _as_stereo_pair(est, ref)
    try:
        from pesq import pesq as _pesq
    except ImportError as e:  # pragma: no cover - pesq is a declared dependency
        warnings.warn(f"pesq not installed: {e}", RuntimeWarning, stacklevel=2)
        return float("nan")
    frac = Fraction(16000, int(sr))
    scores = []
    for ch in range(est.shape[1]):
        e = signal.resample_poly(est[:, ch], frac.numerator, frac.denominator)
        r = signal.resample_poly(ref[:, ch], frac.numerator, frac.denominator)
        try:
            scores.append(float(_pesq(16000, r, e, "wb")))
        except Exception as exc:  # pesq raises NoUtterancesError, BufferTooShortError, ...
            warnings.warn(f"PESQ failed on ear {ch}: {type(exc).__name__}: {exc}",
                          RuntimeWarning, stacklevel=2)
            return float("nan")
    return float(np.mean(scores))


# ---------------------------------------------------------------------- HRTF-domain metrics
def _band(freqs, fmin, fmax, n_bins):
    freqs = np.asarray(freqs, dtype=np.float64)
    if freqs.shape != (n_bins,):
        raise ValueError(f"freqs has shape {freqs.shape}, expected ({n_bins},)")
    sel = (freqs >= fmin) & (freqs <= fmax)
    if not np.any(sel):
        raise ValueError(f"no frequency bin in [{fmin}, {fmax}] Hz")
    return sel


def _db_diff(mag_est, mag_ref, freqs, fmin, fmax):
    me = np.abs(np.asarray(mag_est, dtype=np.float64))
    mr = np.abs(np.asarray(mag_ref, dtype=np.float64))
    if me.shape != mr.shape:
        raise ValueError(f"magnitude shapes differ: {me.shape} vs {mr.shape}")
    sel = _band(freqs, fmin, fmax, me.shape[-1])
    return 20.0 * np.log10(np.maximum(me[..., sel], _EPS) / np.maximum(mr[..., sel], _EPS))


def lsd_db(mag_est, mag_ref, freqs, fmin: float = 100.0, fmax: float = 16000.0) -> float:
    """Log-spectral distance in dB: sqrt(mean over bins in [fmin, fmax] of
    (20 log10 |H_est| / |H_ref|)^2), then the mean over every other axis (directions, ears).
    Inputs: magnitude arrays (..., F); ``freqs`` (F,) in Hz."""
    d = _db_diff(mag_est, mag_ref, freqs, fmin, fmax)
    return float(np.mean(np.sqrt(np.mean(d ** 2, axis=-1))))


def lsd_eq_db(mag_est, mag_ref, freqs, fmin: float = 100.0, fmax: float = 16000.0,
              ear_axis: int | None = -2, return_eq: bool = False):
    """LSD after removing one fixed per-ear equaliser: EQ_e(f) = mean over directions of
    the dB difference 20 log10 |H_est| / |H_ref| of ear e, subtracted from every direction
    before :func:`lsd_db`. Inputs (D..., 2, F) with the ear axis at ``ear_axis`` (every
    other non-frequency axis counts as directions); ``ear_axis=None`` for (D..., F) with a
    single common equaliser. With ``return_eq`` returns (lsd, eq_db (2, F_band) or (F_band,)).
    """
    d = _db_diff(mag_est, mag_ref, freqs, fmin, fmax)
    if ear_axis is None:
        axes = tuple(range(d.ndim - 1))
    else:
        ea = ear_axis % d.ndim
        if ea == d.ndim - 1:
            raise ValueError("ear_axis cannot be the frequency axis")
        axes = tuple(a for a in range(d.ndim - 1) if a != ea)
    eq = np.mean(d, axis=axes, keepdims=True) if axes else np.zeros_like(d)
    r = d - eq
    lsd = float(np.mean(np.sqrt(np.mean(r ** 2, axis=-1))))
    if return_eq:
        return lsd, np.squeeze(eq, axis=axes) if axes else eq
    return lsd


def ild_db(left, right) -> float | np.ndarray:
    """Broadband interaural level difference 10 log10(sum left^2 / sum right^2) in dB,
    positive when the left ear is louder. Time on the last axis (batched over the rest)."""
    left = np.asarray(left, dtype=np.float64)
    right = np.asarray(right, dtype=np.float64)
    el = np.sum(left ** 2, axis=-1)
    er = np.sum(right ** 2, axis=-1)
    out = 10.0 * np.log10(np.maximum(el, 1e-30) / np.maximum(er, 1e-30))
    return float(out) if np.ndim(out) == 0 else out


def ild_band_db(mag, freqs, fmin: float = 100.0, fmax: float = 16000.0):
    """Interaural level difference of magnitude responses ``mag`` (..., 2, F): 10 log10 of
    the left/right energy of the bins in [fmin, fmax], in dB (positive: left louder)."""
    mag = np.abs(np.asarray(mag, dtype=np.float64))
    if mag.ndim < 2 or mag.shape[-2] != 2:
        raise ValueError(f"expected magnitudes shaped (..., 2, F), got {mag.shape}")
    sel = _band(freqs, fmin, fmax, mag.shape[-1])
    e = np.sum(mag[..., sel] ** 2, axis=-1)
    out = 10.0 * np.log10(np.maximum(e[..., 0], 1e-30) / np.maximum(e[..., 1], 1e-30))
    return float(out) if np.ndim(out) == 0 else out


def _butter_sq(f, fc, order):
    """|H(f)|^2 of an order-``order`` Butterworth low-pass at fc (zero phase)."""
    return 1.0 / (1.0 + (np.abs(f) / fc) ** (2 * order))


def itd_us(left, right, sr: int, max_lag_ms: float = 1.0, cutoff: float = 1500.0,
           upsample: int = 8, lp_order: int = 4) -> float:
    """Interaural time difference in microseconds. **Positive when the LEFT ear leads**
    (right = left delayed by tau gives +tau; a source on the left gives ITD > 0).

    The cross-correlation c(k) = sum_n l[n] r[n + k] of both ears low-passed below
    ``cutoff`` (an order-``lp_order`` Butterworth applied to both ears, i.e. |H|^2 on the
    cross-spectrum) is computed in the frequency domain with zero padding (linear, not
    circular) and band-limited ``upsample``-x interpolation (zero-padded spectrum), its
    maximum within +-``max_lag_ms`` is refined by a parabola through the peak and its
    neighbours. NaN if either ear is silent."""
    l = np.asarray(left, dtype=np.float64).ravel()
    r = np.asarray(right, dtype=np.float64).ravel()
    if l.shape != r.shape or l.size < 2:
        raise ValueError(f"left/right must be equal-length 1-D signals, got {l.shape}, {r.shape}")
    if not (np.all(np.isfinite(l)) and np.all(np.isfinite(r))):
        raise ValueError("signals contain NaN or Inf")
    if not np.any(l) or not np.any(r):
        return float("nan")
    n = l.size
    n_fft = 1 << (2 * n - 1).bit_length()
    L = np.fft.rfft(l, n_fft)
    R = np.fft.rfft(r, n_fft)
    f = np.fft.rfftfreq(n_fft, 1.0 / sr)
    X = np.conj(L) * R * _butter_sq(f, cutoff, lp_order)
    m = n_fft * upsample
    c = np.fft.irfft(X, m) * upsample  # band-limited interpolation of the correlation
    max_lag = int(math.ceil(max_lag_ms * 1e-3 * sr * upsample))
    max_lag = min(max_lag, m // 2 - 2)
    lag = correlation_peak(c, max_lag) / (sr * upsample)
    return float(lag * 1e6)


def correlation_peak(c, max_lag: int) -> float:
    """Lag (in samples of ``c``, fractional) of the maximum of a circular correlation ``c``
    within +-``max_lag``, refined by a parabola through the peak and its neighbours."""
    m = len(c)
    lags = np.arange(-max_lag, max_lag + 1)
    vals = c[lags % m]
    i = int(np.argmax(vals))
    shift = 0.0
    if 0 < i < len(vals) - 1:
        y0, y1, y2 = vals[i - 1], vals[i], vals[i + 1]
        den = y0 - 2.0 * y1 + y2
        if den < 0:
            shift = 0.5 * (y0 - y2) / den
    return float(lags[i] + shift)


def _pairs(x, ear_axis):
    a = np.asarray(x, dtype=np.float64)
    a = np.moveaxis(a, ear_axis, -2)
    if a.shape[-2] != 2:
        raise ValueError(f"expected 2 ears on axis {ear_axis}, got shape {np.shape(x)}")
    return a.reshape(-1, 2, a.shape[-1])


def _reduce(err, reduce):
    if reduce is None:
        return err
    if reduce == "mean":
        return float(np.nanmean(err))
    if reduce == "median":
        return float(np.nanmedian(err))
    raise ValueError(f"reduce must be None, 'mean' or 'median', got {reduce!r}")


def ild_error_db(est, ref, ear_axis: int = -2, reduce: str | None = "mean"):
    """|ILD(est) - ILD(ref)| per direction, in dB. ``est``/``ref``: ear signals (HRIRs or
    renders) shaped (D..., 2, n) (ears on ``ear_axis``, time last). ``reduce`` = 'mean'
    (default), 'median' or None (array of per-direction errors)."""
    e, r = _pairs(est, ear_axis), _pairs(ref, ear_axis)
    if e.shape[0] != r.shape[0]:
        raise ValueError(f"{e.shape[0]} estimate directions vs {r.shape[0]} reference")
    err = np.abs(ild_db(e[:, 0], e[:, 1]) - ild_db(r[:, 0], r[:, 1]))
    return _reduce(np.atleast_1d(err), reduce)


def itd_error_us(est, ref, sr: int, ear_axis: int = -2, reduce: str | None = "median",
                 **itd_kwargs):
    """|ITD(est) - ITD(ref)| per direction, in microseconds (see :func:`itd_us`); inputs as
    :func:`ild_error_db`. ``reduce`` defaults to 'median' (as the evaluation reports it)."""
    e, r = _pairs(est, ear_axis), _pairs(ref, ear_axis)
    if e.shape[0] != r.shape[0]:
        raise ValueError(f"{e.shape[0]} estimate directions vs {r.shape[0]} reference")
    err = np.array([abs(itd_us(a[0], a[1], sr, **itd_kwargs) - itd_us(b[0], b[1], sr, **itd_kwargs))
                    for a, b in zip(e, r)])
    return _reduce(err, reduce)


def transfer_function(x_in, y_out, n_fft: int = 1024, sr: int = 48000,
                      return_complex: bool = False):
    """Per-ear transfer function of a system from its mono input ``x_in`` (n,) (white noise
    works best) and stereo output ``y_out`` (n, 2), by the Welch H1 estimator
    H_e(f) = S_xy_e(f) / S_xx(f) (Hann segments of ``n_fft``, 50 % overlap). Unbiased by
    noise added at the output. Returns (freqs (F,), |H| (2, F)) -- or complex H with
    ``return_complex``; F = n_fft // 2 + 1. Keep the system's latency well below n_fft."""
    x = np.asarray(x_in, dtype=np.float64).ravel()
    y = np.asarray(y_out, dtype=np.float64)
    if y.ndim == 1:
        y = y[:, None]
    if y.ndim != 2 or y.shape[0] != x.size:
        raise ValueError(f"output must be (n, ears) with n = {x.size}, got {np.shape(y_out)}")
    if x.size < n_fft:
        raise ValueError(f"need at least n_fft = {n_fft} samples, got {x.size}")
    if not (np.all(np.isfinite(x)) and np.all(np.isfinite(y))):
        raise ValueError("signals contain NaN or Inf")
    kw = dict(fs=sr, window="hann", nperseg=n_fft, noverlap=n_fft // 2, detrend=False)
    freqs, sxx = signal.welch(x, **kw)
    hs = []
    for e in range(y.shape[1]):
        _, sxy = signal.csd(x, y[:, e], **kw)  # E[conj(X) Y]
        hs.append(sxy / np.maximum(sxx, 1e-300))
    h = np.array(hs)
    return freqs, (h if return_complex else np.abs(h))


# ------------------------------------------------------------- what games play
THD_KAISER_BETA = 20.0   # Kaiser window: side lobes below -150 dB, main lobe +-6.5 bins


def _check_1d(x, what="signal"):
    x = np.asarray(x, dtype=np.float64)
    if x.ndim != 1 or x.size < 16:
        raise ValueError(f"{what} must be 1-D with at least 16 samples, got shape {x.shape}")
    if not np.all(np.isfinite(x)):
        raise ValueError(f"{what} contains NaN or Inf")
    return x


def thd_n_db(x, sr: int, f0: float, fmin: float = 20.0, fmax: float = 20000.0,
             beta: float = THD_KAISER_BETA) -> float:
    """THD+N of a steady tone ``x`` (1-D, the steady-state segment only) at ``f0`` Hz, in
    dB: 10 log10 of the energy of the bins in [fmin, fmax] outside the fundamental's main
    lobe over the energy of all bins in [fmin, fmax]. Window: Kaiser(``beta``) over the
    whole segment (side lobes below -150 dB, so the floor of a pure float64 sine is far
    below -120 dB); main lobe: the bins within sqrt(1 + (beta/pi)^2) + 1 bins of f0.
    -inf for a pure tone computed exactly, NaN for silence."""
    x = _check_1d(x)
    n = x.size
    if not 0.0 < f0 < sr / 2:
        raise ValueError(f"f0 must be in (0, {sr / 2}) Hz, got {f0}")
    spec = np.abs(np.fft.rfft(x * signal.windows.kaiser(n, beta, sym=False))) ** 2
    f = np.fft.rfftfreq(n, 1.0 / sr)
    band = (f >= fmin) & (f <= fmax)
    half = math.sqrt(1.0 + (beta / math.pi) ** 2) + 1.0
    lobe = np.abs(f - f0) <= half * sr / n
    total = float(np.sum(spec[band]))
    if total <= 0.0:
        return float("nan")
    rest = float(np.sum(spec[band & ~lobe]))
    return 10.0 * math.log10(rest / total) if rest > 0.0 else float("-inf")


def tone_amplitude(x, sr: int, f0: float) -> float:
    """Peak amplitude of the ``f0`` Hz component of ``x`` (1-D): least-squares fit of
    a cos + b sin + c, amplitude hypot(a, b). Exact for a steady tone whatever the segment
    length; other components leak in only as much as they correlate with f0 over it."""
    x = _check_1d(x)
    t = np.arange(x.size) / sr
    basis = np.stack([np.cos(2 * np.pi * f0 * t), np.sin(2 * np.pi * f0 * t), np.ones_like(t)], axis=1)
    coef, *_ = np.linalg.lstsq(basis, x, rcond=None)
    return float(math.hypot(coef[0], coef[1]))


def onset_index(ir, threshold_db: float = -20.0) -> int:
    """First sample of ``ir`` (1-D) whose magnitude is within ``threshold_db`` of its peak."""
    h = np.abs(_check_1d(ir, "impulse response"))
    peak = float(np.max(h))
    if peak <= 0.0:
        raise ValueError("impulse response is silent")
    return int(np.argmax(h >= peak * 10.0 ** (threshold_db / 20.0)))


def pre_echo_db(ir, onset: int, sr: int, window_ms=(0.25, 1.3)) -> float:
    """Energy of ``ir`` (1-D) in the samples [onset - round(window_ms[1] ms),
    onset - round(window_ms[0] ms)) relative to the energy of the whole ``ir``, in dB.
    ``onset`` is a sample index of ``ir`` (e.g. :func:`onset_index` of the true response
    in the same time frame). -inf when that window is exactly silent."""
    h = _check_1d(ir, "impulse response")
    a = int(onset) - int(round(window_ms[1] * 1e-3 * sr))
    b = int(onset) - int(round(window_ms[0] * 1e-3 * sr))
    if a < 0 or b > h.size or a >= b:
        raise ValueError(f"pre-echo window [{a}, {b}) outside the {h.size}-sample response")
    total = float(np.sum(h ** 2))
    if total <= 0.0:
        raise ValueError("impulse response is silent")
    e = float(np.sum(h[a:b] ** 2))
    return 10.0 * math.log10(e / total) if e > 0.0 else float("-inf")


def band_level_db(y, sr: int, fmin: float, fmax: float) -> np.ndarray:
    """Energy (dB) of ``y`` (n,) or (n, channels) in [fmin, fmax) Hz, from one rfft of the
    whole signal per channel (no window: for stationary noise, compared between renders)."""
    y = np.asarray(y, dtype=np.float64)
    p = np.abs(np.fft.rfft(y, axis=0)) ** 2
    f = np.fft.rfftfreq(y.shape[0], 1.0 / sr)
    sel = (f >= fmin) & (f < fmax)
    return 10.0 * np.log10(np.maximum(p[sel].sum(axis=0), 1e-30))


def third_octave_centres(fmin: float = 100.0, fmax: float = 16000.0) -> np.ndarray:
    """Base-2 third-octave centre frequencies fc = 1000 * 2^(k/3) of the bands that overlap
    [fmin, fmax] (fc 2^1/6 > fmin and fc 2^-1/6 < fmax: the nominal 100 Hz band, whose
    exact centre is 99.2 Hz, up to the 16 kHz band)."""
    k = np.arange(math.floor(3 * math.log2(fmin / 1000.0) - 0.5) + 1,
                  math.ceil(3 * math.log2(fmax / 1000.0) + 0.5))
    return 1000.0 * 2.0 ** (k / 3.0)


THIRD_OCTAVE_FFT = 8192  # zero padding: a 20 ms frame's 50 Hz bins would miss low bands


def third_octave_levels(x, sr: int, fmin: float = 100.0, fmax: float = 16000.0) -> np.ndarray:
    """Band levels (dB) of the Hann-windowed spectrum of ``x`` (..., n), zero-padded to at
    least THIRD_OCTAVE_FFT points: energy of the rfft bins in [fc 2^-1/6, fc 2^1/6) for
    each centre fc of :func:`third_octave_centres`."""
    x = np.asarray(x, dtype=np.float64)
    n = x.shape[-1]
    m = max(n, THIRD_OCTAVE_FFT)
    p = np.abs(np.fft.rfft(x * np.hanning(n), m, axis=-1)) ** 2
    f = np.fft.rfftfreq(m, 1.0 / sr)
    out = []
    for fc in third_octave_centres(fmin, fmax):
        sel = (f >= fc * 2 ** (-1 / 6)) & (f < fc * 2 ** (1 / 6))
        if not np.any(sel):
            raise ValueError(f"no {m}-point bin in the {fc:.0f} Hz third octave")
        out.append(10.0 * np.log10(np.maximum(np.sum(p[..., sel], axis=-1), 1e-30)))
    return np.stack(out, axis=-1)


def frame_differences(est, ref, sr: int, frame: int = 960, fmin: float = 100.0,
                      fmax: float = 16000.0) -> dict:
    """Per frame of ``frame`` samples (20 ms at 48 kHz, no overlap) of two binaural signals
    (n, 2): ``ild_db`` |ILD(est) - ILD(ref)| (:func:`ild_db`), ``itd_us``
    |ITD(est) - ITD(ref)| (:func:`itd_us`), ``third_octave_db`` the mean over ears and
    third-octave bands in [fmin, fmax] of |level(est) - level(ref)|
    (:func:`third_octave_levels`). Each an array over frames; NaN where a frame is
    silent."""
    est, ref = _as_stereo_pair(est, ref)
    if est.shape[1] != 2:
        raise ValueError(f"expected (n, 2) binaural signals, got {est.shape}")
    n_frames = est.shape[0] // frame
    if n_frames == 0:
        raise ValueError(f"signals shorter than one {frame}-sample frame")
    fe = est[:n_frames * frame].reshape(n_frames, frame, 2).transpose(0, 2, 1)
    fr = ref[:n_frames * frame].reshape(n_frames, frame, 2).transpose(0, 2, 1)
    ild = np.abs(ild_db(fe[:, 0], fe[:, 1]) - ild_db(fr[:, 0], fr[:, 1]))
    itd = np.array([abs(itd_us(a[0], a[1], sr) - itd_us(b[0], b[1], sr)) for a, b in zip(fe, fr)])
    lev = np.abs(third_octave_levels(fe, sr, fmin, fmax) - third_octave_levels(fr, sr, fmin, fmax))
    return {"ild_db": ild, "itd_us": itd, "third_octave_db": np.mean(lev, axis=(-2, -1))}


def delay_samples(reference, output, at: int, length: int = 4096, search: int = 30000) -> int:
    """How many samples ``output`` lags ``reference`` around output sample ``at``: the peak of
    the cross-correlation of ``output[at:at + length]`` with ``reference`` over lags 0 ..
    ``search`` (for noise-like signals; a moving delay smears the peak)."""
    seg = np.asarray(output[at:at + length], dtype=np.float64)
    lo = max(at - search, 0)
    ref = np.asarray(reference[lo:at + length], dtype=np.float64)
    c = np.correlate(ref, seg, mode="valid")
    return int(at - lo - int(np.argmax(np.abs(c))))


def decay_time_s(ir, sr: int, fmin: float, fmax: float, fit_db=(-5.0, -25.0)) -> float:
    """Reverberation time (RT60) of an impulse response in one band: Schroeder backward
    integration of the band-passed response (4th-order Butterworth, zero phase), a straight
    line between the ``fit_db`` levels of the decay curve (T20 by default), extrapolated to
    60 dB (ISO 3382-1)."""
    from scipy.signal import butter, sosfiltfilt
    x = sosfiltfilt(butter(4, [fmin, fmax], btype="band", fs=sr, output="sos"), _check_1d(ir, "ir"))
    energy = np.cumsum((x * x)[::-1])[::-1]
    curve = 10.0 * np.log10(np.maximum(energy / energy[0], 1e-30))
    i0 = int(np.argmax(curve <= fit_db[0]))
    i1 = int(np.argmax(curve <= fit_db[1]))
    if i1 <= i0:
        raise ValueError(f"the response does not decay by {-fit_db[1]:g} dB")
    t = np.arange(i0, i1) / sr
    slope = np.polyfit(t, curve[i0:i1], 1)[0]   # dB per second
    return -60.0 / slope


def interaural_coherence(left, right, sr: int, fmin: float, fmax: float) -> float:
    """Interaural coherence in one band: the maximum over lags within +-1 ms of the
    normalised cross-correlation of the band-passed ears (as in binaural room acoustics,
    IACC)."""
    from scipy.signal import butter, sosfiltfilt
    sos = butter(4, [fmin, fmax], btype="band", fs=sr, output="sos")
    l = sosfiltfilt(sos, _check_1d(left, "left"))
    r = sosfiltfilt(sos, _check_1d(right, "right"))
    n = l.shape[0]
    spec = np.fft.rfft(l, 2 * n) * np.conj(np.fft.rfft(r, 2 * n))
    c = np.fft.irfft(spec, 2 * n)
    lag = int(round(1e-3 * sr))
    peak = np.max(np.abs(np.concatenate([c[:lag + 1], c[-lag:]])))
    return float(peak / np.sqrt(np.sum(l * l) * np.sum(r * r)))
