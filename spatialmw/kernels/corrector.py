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
   :func:`ir_window`: zero over the first :data:`IR_SILENT_FRACTION` of the modelling delay,
   a raised-cosine rise over the rest (energy before the warp's onset is pre-echo), flat,
   and a raised-cosine fall to zero at N - H + 1 taps. The silent taps (3 at 48 kHz) land
   0.25 ms or more before the measured onset (the warp reaches each ear 0.05-0.1 ms before
   KEMAR's -20 dB onset), where they were all of the pre-echo: held-out worst direction
   -32 dB with the rise over the whole delay, -66 dB without those taps, for +0.02 dB of
   LSD (``scripts/sound_bounds.py``);
5. the window spreads the gains above the crossover down to the bass (by up to 6 dB at
   50 Hz, and 4 dB of ILD, before this step): each ear's impulse response minus the
   transparent head's (the modelling delay alone) is made to have exactly zero response at
   :data:`LF_PINNED_HZ` (0 and 50 Hz), by the smallest correction in the window's first
   :data:`LF_PIN_TAPS` taps (:func:`lf_pins_fill`). Up to 50 Hz a source then plays at the
   warp's distance gain with no ILD, at 100 Hz within 0.1 dB (held-out KEMAR, every
   direction), and the held-out LSD rises by 0.03 dB. Pinning 100 Hz as well cost 0.08 dB
   of LSD; a correction reaching further into the window costs less LSD but, lengthened
   by a source's tone, leaks past the frame (THD+N of an occluded tone -63 dB at 200 taps,
   -68 at 120, -69 unpinned).

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
IR_SILENT_FRACTION = 0.25  # the window is 0 on this first part of the modelling delay (pre-echo)
MAX_LOG_AMPLITUDE = 20.0  # exp(20) = +174 dB: nothing a fitted corrector comes near
MIN_LOG_AMPLITUDE = -87.0
MAX_PHASE = 1.0e3         # radians; a hostile model's phases stay finite and accurate
LF_PINNED_HZ = (0.0, 50.0)  # where the response is exactly the transparent head's
LF_PIN_ROWS = 2 * len(LF_PINNED_HZ) - 1   # a cosine and a sine per pin (no sine at 0 Hz)
LF_PIN_TAPS = 120         # the pins' correction fades out (cos^2) by this tap (see lf_pins_fill)


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
    silent = int(delay * IR_SILENT_FRACTION)
    for n in range(n_fft):
        if n >= taps or n < silent:
            w = 0.0
        elif n < delay:
            w = 0.5 - 0.5 * math.cos(math.pi * (n - silent + 1) / (delay - silent + 1))
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


@njit(cache=True)
def lf_pins_len(n_fft):
    """Length of :func:`lf_pins_fill`'s array for an ``n_fft``-point frame."""
    return 2 * LF_PIN_ROWS * n_fft + LF_PIN_ROWS + LF_PIN_ROWS * LF_PIN_ROWS


@njit(cache=True)
def lf_pins_fill(sample_rate, delay, window, pins):
    """``pins`` (:func:`lf_pins_len`) = what step 5 of the module docstring needs: the pinned
    frequencies' cosine and sine rows B (LF_PIN_ROWS x N), the correction's rows
    X = (B W B^T)^-1 B W, B's column at the modelling ``delay``, and the Gram matrix's room
    (set-up scratch; no allocation, so this runs in the compiled library). W is ``window``
    times cos^2 falling to 0 at :data:`LF_PIN_TAPS`: the correction stays inside the
    window and ends early, so a source's tone (:mod:`.tone`, multiplied on afterwards and
    up to a few ms long) does not carry it past the frame (with W = the window alone, an
    occluded, air-absorbed tone measured THD+N -45 dB instead of -68). Returns False if
    the window cannot hold the pins."""
    n = window.shape[0]
    m = LF_PIN_ROWS
    basis = pins[:m * n]
    fix = pins[m * n:2 * m * n]
    at_delay = pins[2 * m * n:2 * m * n + m]
    gram = pins[2 * m * n + m:]
    r = 0
    for f in LF_PINNED_HZ:
        w = 2.0 * math.pi * f / sample_rate
        for t in range(n):
            basis[r * n + t] = math.cos(w * t)
        r += 1
        if f > 0.0:
            for t in range(n):
                basis[r * n + t] = math.sin(w * t)
            r += 1
    for i in range(m):
        for t in range(n):
            fade = math.cos(0.5 * math.pi * t / LF_PIN_TAPS) ** 2 if t < LF_PIN_TAPS else 0.0
            fix[i * n + t] = basis[i * n + t] * window[t] * fade
        for j in range(m):
            acc = 0.0
            for t in range(n):
                acc += fix[i * n + t] * basis[j * n + t]
            gram[i * m + j] = acc
        at_delay[i] = basis[i * n + delay]
    # Gauss-Jordan on [gram | fix] (m = 5): fix becomes gram^-1 B W
    for c in range(m):
        p = c
        for i in range(c + 1, m):
            if abs(gram[i * m + c]) > abs(gram[p * m + c]):
                p = i
        if not abs(gram[p * m + c]) > 1e-12:
            return False
        for j in range(m):
            gram[c * m + j], gram[p * m + j] = gram[p * m + j], gram[c * m + j]
        for t in range(n):
            fix[c * n + t], fix[p * n + t] = fix[p * n + t], fix[c * n + t]
        inv = 1.0 / gram[c * m + c]
        for j in range(m):
            gram[c * m + j] *= inv
        for t in range(n):
            fix[c * n + t] *= inv
        for i in range(m):
            k = gram[i * m + c]
            if i != c and k != 0.0:
                for j in range(m):
                    gram[i * m + j] -= k * gram[c * m + j]
                for t in range(n):
                    fix[i * n + t] -= k * fix[c * n + t]
    return True


def lf_pins(sample_rate: float, delay: int, window: np.ndarray) -> np.ndarray:
    """:func:`lf_pins_fill` as a new array."""
    pins = np.zeros(lf_pins_len(window.shape[0]))
    if not lf_pins_fill(float(sample_rate), int(delay), window, pins):
        raise ValueError("the impulse response window cannot hold the low-frequency pins")
    return pins


@njit(cache=True, fastmath=True, boundscheck=False)
def _pin_low_frequencies(h, pins):
    """In place: ``h`` (N) minus the correction that zeroes its response relative to the
    transparent head at :data:`LF_PINNED_HZ` (:func:`lf_pins_fill`)."""
    n = h.shape[0]
    m = LF_PIN_ROWS
    for r in range(m):
        c = -pins[2 * m * n + r]
        for t in range(n):
            c += pins[r * n + t] * h[t]
        if c != 0.0:
            fix = m * n + r * n
            for t in range(n):
                h[t] -= c * pins[fix + t]


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
def corrector_gains(grid_out, bin_idx, bin_w, blend, eq, phase_step, window, pins, cos, sin, rev,
                    re, im, gains):
    """Shaped per-bin gains from one corrector output on the grid.

    ``grid_out``: (a_L, phi_L, a_R, phi_R) per grid point, flat (4 K, float64), as
    :func:`~spatialmw.kernels.ibc.ibc_evaluate` returns; ``bin_idx``/``bin_w``: each bin's
    grid interval and weight; ``blend`` (nbins): the low-frequency blend; ``eq`` (4 nbins):
    an equaliser (a_L, phi_L, a_R, phi_R per bin, zeros for none); ``phase_step``:
    2 pi D / N (the modelling delay's phase per bin); ``window`` (N): :func:`ir_window`;
    ``pins``: :func:`lf_pins`; ``cos``/``sin``/``rev``: :func:`~spatialmw.kernels.fft.fft_tables` for N; ``re``/``im``
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
        pack_ears(re, im, k, ml * math.cos(pl), ml * math.sin(pl), mr * math.cos(pr), mr * math.sin(pr))
    windowed_irs(re, im, window, cos, sin, rev)
    _pin_low_frequencies(re, pins)
    _pin_low_frequencies(im, pins)
    split_gains(re, im, cos, sin, rev, gains)


@njit(cache=True, inline="always")
def pack_ears(re, im, k, glr, gli, grr, gri):
    """Bin ``k`` of Z = G_L + j G_R into ``re + j im`` (N), with its mirror bin: one
    transform then carries both ears' (real) impulse responses. A real filter's response
    is real at DC and Nyquist, so the imaginary parts are dropped there."""
    n = re.shape[0]
    if k == 0 or k == n // 2:
        gli = 0.0
        gri = 0.0
    re[k] = glr - gri
    im[k] = gli + grr
    if 0 < k < n // 2:
        re[n - k] = glr + gri
        im[n - k] = grr - gli


@njit(cache=True, fastmath=True, boundscheck=False)
def windowed_irs(re, im, window, cos, sin, rev, support_only=False):
    """Step 4 of the shaping, first half: ``re + j im`` (N) holds the spectrum G_L + j G_R
    of both ears; afterwards ``re`` and ``im`` hold their impulse responses times
    ``window`` (``support_only``: times 1 where it is not zero)."""
    n = rev.shape[0]
    fft_inplace(re, im, cos, sin, rev, True)
    scale = 1.0 / n
    for t in range(n):
        wt = (1.0 if window[t] > 0.0 else 0.0) * scale if support_only else window[t] * scale
        re[t] *= wt
        im[t] *= wt


@njit(cache=True, fastmath=True, boundscheck=False)
def split_gains(re, im, cos, sin, rev, gains):
    """Step 4 of the shaping, second half: the impulse responses ``re`` (left) and ``im``
    (right), transformed and split into ``gains`` (4 nbins: left re, left im, right re,
    right im per bin)."""
    n = rev.shape[0]
    nbins = n // 2 + 1
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
def window_response(re, im, window, cos, sin, rev, gains):
    """Step 4 of the shaping without the low-frequency pins (:func:`windowed_irs`, then
    :func:`split_gains`): for filters that are not one direction's response relative to the
    transparent head (the level of detail's decoding filters, :mod:`.lod`)."""
    windowed_irs(re, im, window, cos, sin, rev)
    split_gains(re, im, cos, sin, rev, gains)


@njit(cache=True, fastmath=True, boundscheck=False)
def cut_to_window_support(re, im, window, cos, sin, rev, gains):
    """``gains`` (4 nbins, both ears) cut in place to the support of ``window``: zero beyond
    it, unchanged inside. A response that was windowed and then lengthened (times a tone's,
    :mod:`.tone`) fits the overlap-save frame again; one that was not lengthened comes back
    exactly. ``re``/``im`` (N, float64): scratch."""
    for k in range(rev.shape[0] // 2 + 1):
        pack_ears(re, im, k, gains[4 * k], gains[4 * k + 1], gains[4 * k + 2], gains[4 * k + 3])
    windowed_irs(re, im, window, cos, sin, rev, True)
    split_gains(re, im, cos, sin, rev, gains)


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
