"""The corrector as a time-invariant filter: per-bin gains whose impulse response fits the frame.

The engine applies each source's corrector by overlap-save convolution: each hop transforms
the newest N input samples, multiplies them by per-bin gains, inverse transforms and keeps
the last H outputs (:mod:`.render`). That is exact linear convolution, so a
static source is a linear time-invariant system with no trace of the hop rate, provided the
gains' impulse response is at most N - H + 1 taps long. The network returns log-amplitude
and phase on a coarse frequency grid; interpolated to the bins, that response has an
impulse response of any length (it wrapped around the frame and smeared each tone into
sidebands at multiples of the hop rate). :func:`corrector_gains` therefore shapes every
set of gains the engine uses, from the network or from the direction table, the same way:

1. (a, phi) per ear, linearly interpolated from the grid to the bins, plus an optional
   equaliser (:func:`diffuse_field_equaliser`);
2. below the low-frequency crossover the head is acoustically transparent: (a, phi) are
   blended to 0 (``lf_blend``, 0 below :data:`LF_TRANSPARENT_HZ`, 1 above
   :data:`LF_CORRECTED_HZ`), so the level tends to the warp's distance gain, the ILD to 0
   and the phase to the warp's pure delay (the measured KEMAR set cannot say otherwise:
   its loudspeaker rolls off below about 200 Hz);
3. a modelling delay of :data:`MODELING_DELAY_S` (12 samples at 48 kHz) makes the small
   non-causal part of the residual filter causal; the engine reports it in its latency;
4. the impulse response (both ears in one complex transform) is multiplied by
   :func:`ir_window`: a raised-cosine rise over the modelling delay (energy before the
   warp's onset is pre-echo), flat, and a raised-cosine fall to zero at N - H + 1 taps.

The result is what the engine multiplies; the fitter trains through the same shaping, so
the network learns what is rendered. Gains are stored 4 floats per bin: left re, left im,
right re, right im.
"""
import math

import numpy as np
from numba import njit

from .fft import fft_inplace

EQUALIZATIONS = ("none", "diffuse_field")  # the equaliser choices, in the C enum's order
MODELING_DELAY_S = 12.0 / 48000.0
LF_TRANSPARENT_HZ = 250.0
LF_CORRECTED_HZ = 500.0
IR_TAIL_TAPS = 64         # raised-cosine fall at the end of the impulse response window
MAX_LOG_AMPLITUDE = 20.0  # exp(20) = +174 dB: nothing a fitted corrector comes near
MIN_LOG_AMPLITUDE = -87.0
MAX_PHASE = 1.0e3         # radians; a hostile model's phases stay finite and accurate


@njit(cache=True)
def modeling_delay(sample_rate):
    """The corrector's modelling delay in samples at ``sample_rate``."""
    return int(round(MODELING_DELAY_S * sample_rate))


def ir_taps(n_fft: int, hop: int) -> int:
    """Longest impulse response overlap-save convolution with this frame and hop allows."""
    return n_fft - hop + 1


@njit(cache=True)
def ir_window_fill(hop, delay, out):
    """``out`` (n_fft) = the window of the corrector's impulse response (module docstring);
    returns False if ``delay`` does not fit."""
    n_fft = out.shape[0]
    taps = n_fft - hop + 1
    if not 0 < delay < taps - IR_TAIL_TAPS:
        return False
    for n in range(n_fft):
        if n >= taps:
            w = 0.0
        elif n < delay:
            w = 0.5 - 0.5 * math.cos(math.pi * (n + 1) / (delay + 1))
        elif n >= taps - IR_TAIL_TAPS:
            w = 0.5 + 0.5 * math.cos(math.pi * (n - (taps - IR_TAIL_TAPS) + 1) / (IR_TAIL_TAPS + 1))
        else:
            w = 1.0
        out[n] = w
    return True


def ir_window(n_fft: int, hop: int, delay: int) -> np.ndarray:
    """(n_fft,) :func:`ir_window_fill` as a new array."""
    w = np.zeros(n_fft)
    if not ir_window_fill(hop, delay, w):
        raise ValueError(f"modelling delay {delay} does not fit a {ir_taps(n_fft, hop)}-tap response")
    return w


@njit(cache=True, inline="always")
def _blend_at(f):
    t = min(max((f - LF_TRANSPARENT_HZ) / (LF_CORRECTED_HZ - LF_TRANSPARENT_HZ), 0.0), 1.0)
    return 0.5 - 0.5 * math.cos(math.pi * t)


@njit(cache=True)
def lf_blend_fill(bin_hz, out):
    """``out[k]`` = the corrector's weight at frequency ``k * bin_hz``: 0 where the head is
    transparent, 1 where the network is used, a raised cosine between."""
    for k in range(out.shape[0]):
        out[k] = _blend_at(k * bin_hz)


def lf_blend(freqs_hz) -> np.ndarray:
    """:func:`lf_blend_fill`'s weight at arbitrary frequencies."""
    f = np.asarray(freqs_hz, dtype=np.float64)
    return np.array([_blend_at(x) for x in f.ravel()]).reshape(f.shape)


@njit(cache=True, fastmath=True, boundscheck=False)
def corrector_gains(grid_out, bin_idx, bin_w, blend, eq, phase_step, window, cos, sin, rev,
                    re, im, gains):
    """Shaped per-bin gains from one corrector output on the grid.

    ``grid_out``: (a_L, phi_L, a_R, phi_R) per grid point, flat (4 K, float64), as
    :func:`~spatialmw.kernels.ibc.ibc_evaluate` returns; ``bin_idx``/``bin_w``: each bin's
    grid interval and weight; ``blend`` (nbins): the low-frequency blend; ``eq`` (4 nbins):
    an equaliser (a_L, phi_L, a_R, phi_R per bin, zeros for none); ``phase_step``:
    2 pi D / N (the modelling delay's phase per bin); ``window`` (N): :func:`ir_window`;
    ``cos``/``sin``/``rev``: :func:`~spatialmw.kernels.fft.fft_tables` for N; ``re``/``im``
    (N, float64): scratch. Writes ``gains`` (4 nbins, float32 or float64)."""
    n = rev.shape[0]
    nbins = n // 2 + 1
    for k in range(nbins):
        i4 = 4 * bin_idx[k]
        w = bin_w[k]
        u = 1.0 - w
        b = blend[k]
        al = b * (grid_out[i4] * u + grid_out[i4 + 4] * w + eq[4 * k])
        pl = b * (grid_out[i4 + 1] * u + grid_out[i4 + 5] * w + eq[4 * k + 1])
        ar = b * (grid_out[i4 + 2] * u + grid_out[i4 + 6] * w + eq[4 * k + 2])
        pr = b * (grid_out[i4 + 3] * u + grid_out[i4 + 7] * w + eq[4 * k + 3])
        al = min(max(al, MIN_LOG_AMPLITUDE), MAX_LOG_AMPLITUDE)
        ar = min(max(ar, MIN_LOG_AMPLITUDE), MAX_LOG_AMPLITUDE)
        pl = min(max(pl, -MAX_PHASE), MAX_PHASE) - phase_step * k
        pr = min(max(pr, -MAX_PHASE), MAX_PHASE) - phase_step * k
        ml = math.exp(al)
        mr = math.exp(ar)
        glr, gli = ml * math.cos(pl), ml * math.sin(pl)
        grr, gri = mr * math.cos(pr), mr * math.sin(pr)
        if k == 0 or k == nbins - 1:  # a real filter's response is real at DC and Nyquist
            gli = 0.0
            gri = 0.0
        # Z = G_L + j G_R: one transform carries both ears' (real) impulse responses
        re[k] = glr - gri
        im[k] = gli + grr
        if 0 < k < nbins - 1:
            re[n - k] = glr + gri
            im[n - k] = grr - gli
    window_response(re, im, window, cos, sin, rev, gains)


@njit(cache=True, fastmath=True, boundscheck=False)
def window_response(re, im, window, cos, sin, rev, gains):
    """Step 4 of the shaping: ``re + j im`` (N) holds the spectrum G_L + j G_R of both
    ears; their impulse responses are multiplied by ``window`` and the result is split
    into ``gains`` (4 nbins: left re, left im, right re, right im per bin)."""
    n = rev.shape[0]
    nbins = n // 2 + 1
    fft_inplace(re, im, cos, sin, rev, True)
    scale = 1.0 / n
    for t in range(n):
        wt = window[t] * scale
        re[t] *= wt
        im[t] *= wt
    fft_inplace(re, im, cos, sin, rev, False)
    for k in range(nbins):
        nk = (n - k) % n
        ar_, ai_ = re[k], im[k]
        br_, bi_ = re[nk], -im[nk]  # conj(Z[N - k])
        gains[4 * k] = 0.5 * (ar_ + br_)
        gains[4 * k + 1] = 0.5 * (ai_ + bi_)
        gains[4 * k + 2] = 0.5 * (ai_ - bi_)
        gains[4 * k + 3] = -0.5 * (ar_ - br_)


@njit(cache=True, fastmath=True, boundscheck=False)
def delay_gains(phase_step, nbins, gains):
    """Gains of a pure modelling delay (a bypassed source in a corrected engine, so every
    source keeps the same latency)."""
    for k in range(nbins):
        p = -phase_step * k
        gains[4 * k] = math.cos(p)
        gains[4 * k + 1] = 0.0 if k == 0 or k == nbins - 1 else math.sin(p)
        gains[4 * k + 2] = gains[4 * k]
        gains[4 * k + 3] = gains[4 * k + 1]


@njit(cache=True)
def minimum_phase(re, im, cos, sin, rev):
    """In place: given the log-magnitude in ``re[:nbins]`` (any ``im``), leave the log
    magnitude in ``re[:nbins]`` and its minimum phase in ``im[:nbins]`` (real cepstrum,
    folded). ``re``/``im``: N float64; ``cos``/``sin``/``rev``: the FFT tables for N."""
    n = rev.shape[0]
    nbins = n // 2 + 1
    for k in range(nbins):
        im[k] = 0.0
        if 0 < k < nbins - 1:
            re[n - k] = re[k]
            im[n - k] = 0.0
    fft_inplace(re, im, cos, sin, rev, True)   # real cepstrum (times n)
    for t in range(n):
        im[t] = 0.0
        if 0 < t < n // 2:
            re[t] *= 2.0 / n
        elif t == 0 or t == n // 2:
            re[t] *= 1.0 / n
        else:
            re[t] = 0.0
    fft_inplace(re, im, cos, sin, rev, False)
    im[0] = 0.0
    im[nbins - 1] = 0.0


@njit(cache=True)
def diffuse_field_equaliser(power, count, cos, sin, rev, re, im, eq):
    """Minimum-phase inverse of the mean power response, per ear: the diffuse-field
    equaliser (as applied to OpenAL Soft's and makemhr's data sets).

    ``power`` (2 nbins): the sum over ``count`` directions of |G|^2 per ear and bin (the
    corrector's gains, uniform-ish directions); writes ``eq`` (4 nbins: a, phi per ear) with
    a = -log(rms) and phi its minimum phase."""
    n = rev.shape[0]
    nbins = n // 2 + 1
    for e in range(2):
        for k in range(nbins):
            re[k] = -0.5 * math.log(max(power[e * nbins + k] / count, 1e-30))
        minimum_phase(re, im, cos, sin, rev)
        for k in range(nbins):
            eq[4 * k + 2 * e] = re[k]
            eq[4 * k + 2 * e + 1] = im[k]
