"""Reference (ground-truth) binaural renderer: convolution with measured HRIRs.

Physical model (docs/CONVENTIONS.md): a source at distance r in the direction of
measurement m is heard as

    y_e(t) = gain * (x * h_{m,e})(t - T - (r - r_meas)/c)

with T = :meth:`HRIRSet.time_offset`. No distance attenuation is applied (the game's
distance model is the caller's ``gain``), no near-field filtering.

Static sources (:func:`render_static`): one FFT convolution with the measured HRIR and an
exact band-limited fractional delay applied in the frequency domain (linear phase on a
zero-padded FFT grid, so nothing wraps into the kept output). Output length is len(x):
the convolution tail past the end of x is dropped.

Moving sources (:class:`ReferenceRenderer`): every measured HRIR is first onset-aligned
(shifted, exactly, so its -20 dB onset sits at a fixed ``PRE_ONSET_S`` pre-roll). At
sub-block boundaries (every ``block`` samples, default 32 = 0.67 ms at 48 kHz) the
aligned HRIRs of the 4 nearest measured directions (great-circle distance) are mixed with
modified-Shepard weights w_i = ((d4 - d_i) / (d4 d_i))^2 for the 3 nearest (Franke &
Nielson): exact at measured directions and continuous when the neighbour set changes
(the 3rd neighbour's weight reaches 0 exactly when it swaps with the 4th). The per-ear
onset and the measurement distance are interpolated with the same weights. Per sample,
each ear's input is read from a delay line at

    D_e(t) = onset_e(t) - PRE_ONSET_S + T + (r(t) - r_meas(t)) / c,   clamped to [0, 1 s]

(r(t) exact per sample, the onset linearly interpolated between boundaries) by the
engine's own fractional-delay reader (:func:`spatialmw.kernels.tdw.tdw_block`) with a
finer table than the engine's: a 64-tap Kaiser-windowed sinc (beta 9, 4096 phases, so
the phase rounding stays below -70 dB at 16 kHz), which gives the Doppler shift of a
moving source (r is taken at the reception time t, as in the TDW engine: a source
approaching at speed v is heard at f (1 + v/c), not the emission-time f / (1 - v/c); the
two differ by (v/c)^2), and is then filtered by the aligned HRIR, linearly crossfaded from one
boundary's IR to the next across each sub-block (a time-varying FIR whose taps move
linearly: click-free). A static source through :meth:`ReferenceRenderer.render` matches
:func:`render_static` to about -60 dB (tests/test_reference.py).

Degenerate positions: a source at the listener (|rel| < 1e-9 m) is rendered from the
front; delays are clamped to [0, ``MAX_DELAY_S``] so r = 0 and r = 1e9 m stay finite (the
latter is simply one second late); gain is applied as given, at the output.
"""
from __future__ import annotations

import math

import numpy as np
from numba import njit

from ..geometry import SPEED_OF_SOUND
from ..kernels.tdw import sinc_table, tdw_block
from .sofa import HRIRSet

MAX_DELAY_S = 1.0
PRE_ONSET_S = 1.0e-3
SINC_TAPS = 64  # the fractional-delay interpolator (the engine's reader, a longer table)
SINC_PHASES = 4096
SINC_BETA = 9.0


def _check_signal(x) -> np.ndarray:
    x = np.asarray(x, dtype=np.float64)
    if x.ndim != 1:
        raise ValueError(f"mono signal must be 1-D, got shape {x.shape}")
    if not np.all(np.isfinite(x)):
        raise ValueError("input signal contains NaN or Inf")
    return x


def _clamp_delay(d: float) -> float:
    return float(min(max(d, 0.0), MAX_DELAY_S))


def fractional_delay_fft(y: np.ndarray, delay_samples: float, n_out: int) -> np.ndarray:
    """Delay the last axis of ``y`` by ``delay_samples`` (fractional; negative advances)
    exactly (band-limited, on a zero-padded FFT grid so nothing wraps) and return its
    first ``n_out`` samples."""
    n = y.shape[-1]
    if delay_samples >= n_out or -delay_samples >= n:
        return np.zeros(y.shape[:-1] + (n_out,))
    lead = int(math.ceil(max(-delay_samples, 0.0)))  # advancing: delay by the rest, drop lead
    span = max(n + int(math.ceil(abs(delay_samples))), n_out + lead) + 64
    nfft = 1 << int(math.ceil(math.log2(2 * span)))
    Y = np.fft.rfft(y, nfft, axis=-1)
    Y *= np.exp(-2j * np.pi * np.fft.rfftfreq(nfft) * (delay_samples + lead))
    return np.fft.irfft(Y, nfft, axis=-1)[..., lead:lead + n_out]


def render_static(x, hrirset: HRIRSet, index: int, distance: float | None = None,
                  gain: float = 1.0, time_offset: float | None = None,
                  c: float = SPEED_OF_SOUND) -> np.ndarray:
    """(len(x), 2) float64: mono ``x`` convolved with measured HRIR ``index``, delayed by
    T + (distance - r_meas)/c (clamped to [0, MAX_DELAY_S]) and scaled by ``gain``.

    ``x`` is at ``hrirset.sample_rate``. ``time_offset`` defaults to
    ``hrirset.time_offset()`` (pass it to avoid recomputing). The tail of the
    convolution beyond len(x) is truncated.
    """
    x = _check_signal(x)
    idx = int(index)
    if not 0 <= idx < hrirset.n_directions:
        raise IndexError(f"HRIR index {index} outside 0..{hrirset.n_directions - 1}")
    r_meas = float(hrirset.distance_m[idx])
    r = r_meas if distance is None else float(distance)
    if not math.isfinite(r) or r < 0:
        raise ValueError(f"distance must be finite and >= 0, got {distance!r}")
    g = float(gain)
    if not math.isfinite(g):
        raise ValueError(f"gain must be finite, got {gain!r}")
    T = hrirset.time_offset() if time_offset is None else float(time_offset)
    fs = hrirset.sample_rate
    d = _clamp_delay(T + (r - r_meas) / c) * fs
    n = x.shape[0]
    if n == 0:
        return np.zeros((0, 2))
    h = hrirset.hrirs[idx]
    nconv = n + h.shape[-1] - 1
    nfft = 1 << int(math.ceil(math.log2(nconv + int(math.ceil(d)) + 64)))
    X = np.fft.rfft(x, nfft)
    H = np.fft.rfft(h, nfft, axis=-1)
    Y = X[None, :] * H * np.exp(-2j * np.pi * np.fft.rfftfreq(nfft) * d)[None, :]
    y = np.fft.irfft(Y, nfft, axis=-1)[:, :n]
    return np.ascontiguousarray((g * y).T)


@njit(cache=True)
def _neighbours(u, units, idx_out, w_out):
    """4 nearest measured directions to unit vector u; Shepard weights for the 3 nearest."""
    m = units.shape[0]
    best_d = np.full(4, 10.0)
    best_i = np.zeros(4, dtype=np.int64)
    for j in range(m):
        dot = u[0] * units[j, 0] + u[1] * units[j, 1] + u[2] * units[j, 2]
        d = math.acos(min(1.0, max(-1.0, dot)))
        if d < best_d[3]:
            k = 3
            while k > 0 and best_d[k - 1] > d:
                best_d[k] = best_d[k - 1]
                best_i[k] = best_i[k - 1]
                k -= 1
            best_d[k] = d
            best_i[k] = j
    for k in range(3):
        idx_out[k] = best_i[min(k, m - 1)]
        w_out[k] = 0.0
    if best_d[0] < 1e-7 or m < 4:
        w_out[0] = 1.0
        return
    d4 = best_d[3]
    s = 0.0
    for k in range(3):
        v = (d4 - best_d[k]) / (d4 * best_d[k])
        v = v * v if v > 0.0 else 0.0
        w_out[k] = v
        s += v
    if s <= 0.0:  # 4 equidistant neighbours: fall back to equal weights
        for k in range(3):
            w_out[k] = 1.0 / 3.0
        return
    for k in range(3):
        w_out[k] /= s


@njit(cache=True)
def _boundaries(rel, block, units, onsets, rmeas, idx, w, on_b, rm_b):
    n = rel.shape[0]
    nb = idx.shape[0]
    u = np.empty(3)
    ii = np.empty(3, dtype=np.int64)
    ww = np.empty(3)
    for b in range(nb):
        t = min(b * block, n - 1)
        r = math.sqrt(rel[t, 0] ** 2 + rel[t, 1] ** 2 + rel[t, 2] ** 2)
        if r < 1e-9:
            u[0], u[1], u[2] = 1.0, 0.0, 0.0
        else:
            u[0], u[1], u[2] = rel[t, 0] / r, rel[t, 1] / r, rel[t, 2] / r
        _neighbours(u, units, ii, ww)
        on_b[b, 0] = 0.0
        on_b[b, 1] = 0.0
        rm_b[b] = 0.0
        for k in range(3):
            idx[b, k] = ii[k]
            w[b, k] = ww[k]
            on_b[b, 0] += ww[k] * onsets[ii[k], 0]
            on_b[b, 1] += ww[k] * onsets[ii[k], 1]
            rm_b[b] += ww[k] * rmeas[ii[k]]


@njit(cache=True, fastmath=True)
def _warp(ring, mask, n, rel, block, on_b, rm_b, base_delay, fs, c, max_delay, table, out):
    """out[e, t] = x(t - D_e(t)) for t < n: the per-sample delay, read from ``ring`` (x
    followed by enough zeros that no read wraps onto signal) by the engine's reader."""
    for t in range(n):
        b = t // block
        a = (t - b * block) / block
        b1 = min(b + 1, on_b.shape[0] - 1)
        r = math.sqrt(rel[t, 0] ** 2 + rel[t, 1] ** 2 + rel[t, 2] ** 2)
        rm = (1.0 - a) * rm_b[b] + a * rm_b[b1]
        for e in range(2):
            on = (1.0 - a) * on_b[b, e] + a * on_b[b1, e]
            d = on + base_delay + (r - rm) / c
            if d < 0.0:
                d = 0.0
            elif d > max_delay:
                d = max_delay
            tdw_block(ring, mask, t, 1, d * fs, d * fs, 1.0, 1.0, table, out[e], t)


@njit(cache=True, fastmath=True)
def _filter(xw, aligned, idx, w, block, gain, out):
    """Time-varying FIR: the IR is crossfaded linearly between sub-block boundaries."""
    n = xw.shape[1]
    L = aligned.shape[2]
    nb = idx.shape[0]
    ir0 = np.zeros((2, L))
    ir1 = np.zeros((2, L))
    for b in range(nb - 1):
        t0 = b * block
        if t0 >= n:
            break
        for e in range(2):
            for l in range(L):
                ir0[e, l] = 0.0
                ir1[e, l] = 0.0
            for k in range(3):
                wk0 = w[b, k]
                wk1 = w[b + 1, k]
                m0 = idx[b, k]
                m1 = idx[b + 1, k]
                if wk0 != 0.0:
                    for l in range(L):
                        ir0[e, l] += wk0 * aligned[m0, e, l]
                if wk1 != 0.0:
                    for l in range(L):
                        ir1[e, l] += wk1 * aligned[m1, e, l]
        t1 = min(t0 + block, n)
        for t in range(t0, t1):
            a = (t - t0) / block
            lmax = min(L, t + 1)
            for e in range(2):
                s0 = 0.0
                s1 = 0.0
                for l in range(lmax):
                    v = xw[e, t - l]
                    s0 += ir0[e, l] * v
                    s1 += ir1[e, l] * v
                out[t, e] = gain[t] * ((1.0 - a) * s0 + a * s1)


def align_hrirs(hrirs: np.ndarray, onsets_samples: np.ndarray, pre_samples: float) -> np.ndarray:
    """Shift each IR (exactly, band-limited, FFT on a padded grid) so its onset lands at
    ``pre_samples``; content earlier than ``onset - pre_samples`` is dropped. Returns
    (M, 2, N + ceil(pre)) so a late-onset IR shifted later is not truncated."""
    m, _, n = hrirs.shape
    L = n + int(math.ceil(pre_samples))
    nfft = 1 << int(math.ceil(math.log2(2 * (L + n))))
    H = np.fft.rfft(hrirs, nfft, axis=-1)
    shift = onsets_samples - pre_samples  # advance by this much
    H *= np.exp(2j * np.pi * np.fft.rfftfreq(nfft)[None, None, :] * shift[:, :, None])
    return np.ascontiguousarray(np.fft.irfft(H, nfft, axis=-1)[..., :L])


class ReferenceRenderer:
    """Ground-truth renderer for moving sources by HRIR interpolation (module docstring).

    ``render(x, rel_positions, gain)``: ``x`` (n,) mono at ``sample_rate``,
    ``rel_positions`` (n, 3) head-relative native metres per sample (+x front, +y left,
    +z up), ``gain`` (n,) or None. Returns (n, 2) float64, ear 0 = left.
    """

    def __init__(self, hrirset: HRIRSet, sample_rate: float = 48000.0, block: int = 32,
                 c: float = SPEED_OF_SOUND):
        fs = float(sample_rate)
        if hrirset.sample_rate != fs:
            hrirset = hrirset.resampled(fs)
        if not (isinstance(block, (int, np.integer)) and 1 <= block <= 4096):
            raise ValueError(f"block must be an int in 1..4096, got {block!r}")
        self.hrirset = hrirset
        self.sample_rate = fs
        self.block = int(block)
        self.c = float(c)
        self.time_offset = hrirset.time_offset()
        self.onsets = hrirset.onsets()  # seconds
        self.units = np.ascontiguousarray(hrirset.unit_vectors())
        self.rmeas = np.ascontiguousarray(hrirset.distance_m, dtype=np.float64)
        self.aligned = align_hrirs(hrirset.hrirs, self.onsets * fs, PRE_ONSET_S * fs)
        self._table = sinc_table(SINC_TAPS, SINC_PHASES, SINC_BETA)

    def render_static(self, x, index, distance=None, gain=1.0) -> np.ndarray:
        """:func:`render_static` with this renderer's HRIRs and time offset."""
        return render_static(x, self.hrirset, index, distance, gain, self.time_offset, self.c)

    def render(self, x, rel_positions, gain=None) -> np.ndarray:
        x = _check_signal(x)
        n = x.shape[0]
        rel = np.ascontiguousarray(rel_positions, dtype=np.float64)
        if rel.shape != (n, 3):
            raise ValueError(f"rel_positions must have shape ({n}, 3), got {rel.shape}")
        if not np.all(np.isfinite(rel)):
            raise ValueError("rel_positions contains NaN or Inf")
        if gain is None:
            g = np.ones(n)
        else:
            g = np.ascontiguousarray(np.broadcast_to(np.asarray(gain, dtype=np.float64), (n,)))
            if not np.all(np.isfinite(g)):
                raise ValueError("gain contains NaN or Inf")
        if n == 0:
            return np.zeros((0, 2))
        B = self.block
        nb = (n + B - 1) // B + 1
        idx = np.zeros((nb, 3), dtype=np.int64)
        w = np.zeros((nb, 3))
        on_b = np.zeros((nb, 2))
        rm_b = np.zeros(nb)
        _boundaries(rel, B, self.units, self.onsets, self.rmeas, idx, w, on_b, rm_b)
        xw = np.zeros((2, n))
        base = self.time_offset - PRE_ONSET_S
        # zeros after x cover the reader's look-ahead and, wrapped, every delay up to
        # MAX_DELAY_S before the start
        ring = np.zeros(1 << int(math.ceil(math.log2(n + MAX_DELAY_S * self.sample_rate + 2 * SINC_TAPS))))
        ring[:n] = x
        _warp(ring, ring.size - 1, n, rel, B, on_b, rm_b, base, self.sample_rate, self.c, MAX_DELAY_S,
              self._table, xw)
        out = np.zeros((n, 2))
        _filter(xw, self.aligned, idx, w, B, g, out)
        return out
