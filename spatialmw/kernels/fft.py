"""Allocation-free in-place radix-2 complex FFT for the audio thread.

rocket-fft (numba's numpy.fft) returns new arrays, which would put malloc on the real-time
path; this kernel works in caller-owned buffers with tables built once at create time.
Tests check it against numpy.fft to 1e-9.
"""
import math

import numpy as np
from numba import njit


def fft_tables(n: int):
    """Twiddles (cos, sin of -2 pi k / n, k < n/2) and the bit-reversal permutation."""
    if n < 2 or n & (n - 1):
        raise ValueError(f"FFT size must be a power of two >= 2, got {n}")
    k = np.arange(n // 2)
    cos = np.cos(2.0 * np.pi * k / n)
    sin = -np.sin(2.0 * np.pi * k / n)
    bits = int(math.log2(n))
    rev = np.array([int(format(i, f"0{bits}b")[::-1], 2) for i in range(n)], dtype=np.int64)
    return cos, sin, rev


@njit(cache=True, fastmath=True)
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
    sgn = -1.0 if inverse else 1.0
    size = 2
    while size <= n:
        half = size >> 1
        step = n // size
        for start in range(0, n, size):
            k = 0
            for j in range(start, start + half):
                wr = cos[k]
                wi = sgn * sin[k]
                l = j + half
                tr = re[l] * wr - im[l] * wi
                ti = re[l] * wi + im[l] * wr
                re[l] = re[j] - tr
                im[l] = im[j] - ti
                re[j] += tr
                im[j] += ti
                k += step
        size <<= 1
