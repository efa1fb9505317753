"""Allocation-free in-place complex FFT for the audio thread.

rocket-fft (numba's numpy.fft) returns new arrays, which would put malloc on the real-time
path; this kernel works in caller-owned buffers with tables built once at create time.
Tests check it against numpy.fft to 1e-9.

Algorithm: decimation in time over bit-reversed input. The first two radix-2 stages are
one radix-4 pass with trivial twiddles (+-1, +-j); the remaining stages are fused in pairs
(radix-2^2: one pass over the data per two stages, three twiddle products per four
points), with a final radix-2 stage when the stage count is odd. The audio path loads its
input straight into bit-reversed positions and calls :func:`fft_core`, so the
permutation costs nothing. Twiddles are stored per pass in read order, so every butterfly
loop is contiguous and LLVM vectorises it. Measured at n = 512 on the benchmark machine:
2.1 us per transform (3.6-3.9 us with strided twiddle reads and signed indices, 5.9 us for
the plain radix-2 loop before that).
"""
import math

import numpy as np
from numba import njit, uint64

from .lanes import LANES, lanes_load_radix4, lanes_radix2, lanes_radix22


def fft_tables(n: int):
    """Twiddles and the bit-reversal permutation for :func:`fft_core`.

    ``cos``/``sin`` (length ``n``, zero padded) hold cos and sin of -2 pi m / n laid out
    per pass in the order :func:`fft_core` reads them: for each radix-2^2 pass of
    half-size q (q = 4, 16, ...), w1[k], w2[k], w3[k] for k < q (3 q entries), then, if
    the stage count is odd, the last radix-2 stage's w[k], k < q. Every butterfly loop
    therefore reads its twiddles contiguously (n - 4 entries in all for n >= 16)."""
    if n < 2 or n & (n - 1):
        raise ValueError(f"FFT size must be a power of two >= 2, got {n}")
    cos = np.zeros(n)
    sin = np.zeros(n)
    rev = np.zeros(n, dtype=np.int64)
    fft_tables_fill(n, cos, sin, rev)
    return cos, sin, rev


@njit(cache=True)
def fft_tables_fill(n, cos, sin, rev):
    """Fill :func:`fft_tables`'s arrays (length ``n``, zeroed) in place: compiled, so the
    native library's pool set-up (kernels/plan.py) builds the same tables."""
    j = 0
    q = 4
    while 4 * q <= n:
        for part in range(3):
            for k in range(q):
                m = k * (n // (2 * q)) if part == 0 else (k + (part - 1) * q) * (n // (4 * q))
                cos[j] = math.cos(2.0 * math.pi * m / n)
                sin[j] = -math.sin(2.0 * math.pi * m / n)
                j += 1
        q *= 4
    while q < n:
        for k in range(q):
            m = k * (n // (2 * q))
            cos[j] = math.cos(2.0 * math.pi * m / n)
            sin[j] = -math.sin(2.0 * math.pi * m / n)
            j += 1
        q <<= 1
    bits = 0
    while (1 << bits) < n:
        bits += 1
    for i in range(n):
        r = 0
        for b in range(bits):
            r |= ((i >> b) & 1) << (bits - 1 - b)
        rev[i] = r


@njit(cache=True, fastmath=True, boundscheck=False)
def fft_core(re, im, cos, sin, n, inverse):
    """DFT (or unscaled inverse) of length ``n`` whose input is already in bit-reversed
    order in ``re`` + j ``im``; the result is in natural order. ``cos``/``sin`` are the
    :func:`fft_tables` twiddles for this ``n``."""
    sgn = -1.0 if inverse else 1.0
    if n == 2:
        ar = re[0]
        ai = im[0]
        re[0] = ar + re[1]
        im[0] = ai + im[1]
        re[1] = ar - re[1]
        im[1] = ai - im[1]
        return
    _radix4_first(re, im, n, sgn)
    _fft_passes(re, im, cos, sin, n, sgn)


@njit(cache=True, fastmath=True, inline="always")
def _butterfly4(a0r, a0i, a1r, a1i, a2r, a2i, a3r, a3i, sgn):
    """Radix-4 butterfly with twiddles 1 and -j (+j when ``sgn`` is -1, the inverse), inputs
    in bit-reversed order; returns the four outputs in natural order."""
    b0r = a0r + a1r
    b0i = a0i + a1i
    b1r = a0r - a1r
    b1i = a0i - a1i
    b2r = a2r + a3r
    b2i = a2i + a3i
    b3r = a2r - a3r
    b3i = a2i - a3i
    t3r = sgn * b3i
    t3i = -sgn * b3r
    return (b0r + b2r, b0i + b2i, b1r + t3r, b1i + t3i,
            b0r - b2r, b0i - b2i, b1r - t3r, b1i - t3i)


@njit(cache=True, fastmath=True, boundscheck=False, inline="always")
def _radix4_first(re, im, n, sgn):
    # stages of size 2 and 4 as one radix-4 pass
    for s in range(0, n, 4):
        (re[s], im[s], re[s + 1], im[s + 1], re[s + 2], im[s + 2], re[s + 3], im[s + 3]) = _butterfly4(
            re[s], im[s], re[s + 1], im[s + 1], re[s + 2], im[s + 2], re[s + 3], im[s + 3], sgn)


@njit(cache=True, fastmath=True, boundscheck=False)
def fft_load_forward(xl, xr, rev, re, im, cos, sin, n):
    """Forward DFT of the frame xl + j xr (natural order, any float arrays of length
    >= n, n >= 4 a power of two) into re + j im (natural order).

    Same results as loading re[rev[j]] = xl[j] (im likewise) and calling
    :func:`fft_core`, with the bit-reversal and the first radix-4 pass fused:
    the four inputs of output quad s = 4 rev[4 j] are x[j], x[j + n/2], x[j + n/4],
    x[j + 3n/4] (j < n/4), read contiguously."""
    m = n // 4
    um = uint64(m)
    for jj in range(m):
        j = uint64(jj)
        s = uint64(4 * rev[4 * jj])
        k0, k1, k2, k3 = j, j + um + um, j + um, j + um + um + um
        y = _butterfly4(xl[k0], xr[k0], xl[k1], xr[k1], xl[k2], xr[k2], xl[k3], xr[k3], 1.0)
        re[s] = y[0]
        im[s] = y[1]
        re[s + uint64(1)] = y[2]
        im[s + uint64(1)] = y[3]
        re[s + uint64(2)] = y[4]
        im[s + uint64(2)] = y[5]
        re[s + uint64(3)] = y[6]
        im[s + uint64(3)] = y[7]
    _fft_passes(re, im, cos, sin, n, 1.0)


@njit(cache=True, fastmath=True, inline="always")
def _twiddle_bfly(ur, ui, xr, xi, wr, wi):
    """The DIT butterfly: (u + w x, u - w x) for complex u, x and twiddle w."""
    tr = xr * wr - xi * wi
    ti = xr * wi + xi * wr
    return ur + tr, ui + ti, ur - tr, ui - ti


@njit(cache=True, fastmath=True, boundscheck=False)
def _fft_passes(re, im, cos, sin, n, sgn):
    """The stages after the first radix-4 pass (see :func:`fft_core`)."""
    # Two radix-2 stages (sizes 2q and 4q) per pass, then a last radix-2 stage if the
    # stage count is odd. The butterfly index k runs over contiguous data and contiguous
    # twiddles (``o``: the pass's offset in the tables); indices are uint64 so numba emits
    # no negative-index wraparound, which would turn every access into a gather and keep
    # LLVM from vectorising the k loop (3.6 -> 2.1 us at n = 512).
    q = 4
    o = 0
    while 4 * q <= n:
        uq = uint64(q)
        for start in range(0, n, 4 * q):
            for kk in range(q):
                k = uint64(kk)
                i0 = uint64(start) + k
                i1 = i0 + uq
                i2 = i1 + uq
                i3 = i2 + uq
                t = uint64(o) + k
                w1r = cos[t]
                w1i = sgn * sin[t]
                t += uq
                w2r = cos[t]
                w2i = sgn * sin[t]
                t += uq
                w3r = cos[t]
                w3i = sgn * sin[t]
                a0r, a0i, a1r, a1i = _twiddle_bfly(re[i0], im[i0], re[i1], im[i1], w1r, w1i)
                a2r, a2i, a3r, a3i = _twiddle_bfly(re[i2], im[i2], re[i3], im[i3], w1r, w1i)
                re[i0], im[i0], re[i2], im[i2] = _twiddle_bfly(a0r, a0i, a2r, a2i, w2r, w2i)
                re[i1], im[i1], re[i3], im[i3] = _twiddle_bfly(a1r, a1i, a3r, a3i, w3r, w3i)
        o += 3 * q
        q *= 4
    while q < n:
        uq = uint64(q)
        for start in range(0, n, 2 * q):
            for kk in range(q):
                k = uint64(kk)
                t = uint64(o) + k
                wr = cos[t]
                wi = sgn * sin[t]
                j = uint64(start) + k
                l = j + uq
                re[j], im[j], re[l], im[l] = _twiddle_bfly(re[j], im[j], re[l], im[l], wr, wi)
        o += q
        q <<= 1


@njit(cache=True, fastmath=True, boundscheck=False)
def fft_inplace(re, im, cos, sin, rev, inverse):
    """Forward (or unscaled inverse) DFT of re + j im, length n = len(rev), in place."""
    n = rev.shape[0]
    for i in range(n):
        j = rev[i]
        if j > i:
            t = re[i]
            re[i] = re[j]
            re[j] = t
            t = im[i]
            im[i] = im[j]
            im[j] = t
    fft_core(re, im, cos, sin, n, inverse)


# ------------------------------------------------------------------ lane-batched float32
#
# The corrected sources each need their own forward transform. LANES of them run at once,
# lane-major (element j of lane l at [j * LANES + l]) in float32, every butterfly one
# LANES-wide vector operation (kernels/lanes.py): same pass structure and twiddle tables as
# above, with each twiddle broadcast across the lanes.


@njit(cache=True, fastmath=True, boundscheck=False)
def fft_lanes_load(stage, off_l, off_r, rev, re, im, n):
    """Load LANES frames of (left + j right) from a lane-major float32 ``stage`` (frame
    sample k of the left ears at ``stage[off_l + k * LANES:+LANES]``, right at ``off_r``)
    into ``re``/``im`` (float32, n * LANES) in bit-reversed order with the first radix-4
    pass done; :func:`fft_lanes_passes` finishes the transform."""
    m = n // 4
    for j in range(m):
        lanes_load_radix4(stage, off_l, off_r, j, m, re, im, 4 * rev[4 * j] * LANES)


@njit(cache=True, fastmath=True, boundscheck=False)
def fft_lanes_passes(re, im, cos, sin, n):
    """The forward stages after the first radix-4 pass for LANES transforms at once
    (float32, lane-major, in place; natural-order output). ``cos``/``sin`` are the
    :func:`fft_tables` twiddles as float32."""
    q = 4
    o = 0
    while 4 * q <= n:
        qw = q * LANES
        for start in range(0, n, 4 * q):
            for k in range(q):
                t = o + k
                lanes_radix22(re, im, (start + k) * LANES, qw, cos[t], sin[t], cos[t + q],
                              sin[t + q], cos[t + 2 * q], sin[t + 2 * q])
        o += 3 * q
        q *= 4
    while q < n:
        qw = q * LANES
        for start in range(0, n, 2 * q):
            for k in range(q):
                lanes_radix2(re, im, (start + k) * LANES, qw, cos[o + k], sin[o + k])
        o += q
        q <<= 1
