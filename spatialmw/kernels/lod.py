"""Level of detail: the K loudest sources on the full path, the rest in a 3rd-order ambisonic bed.

Each block the renderer ranks its audible sources (:func:`lod_rank`) by the level the
previous block gave them (gain x distance gain x cone x loudest transmission band, the
virtual voices' level) times their priority (``P_PRIORITY``). The ``full_sources`` (K)
highest take the full Lite-INN path (two sinc warps, their own transform and corrector
gains); a source already there keeps its place unless another is more than the
hysteresis (``C_LOD_HYSTERESIS``, setting ``lod_hysteresis_db``, default 3 dB) louder, so
near-equal sources do not flap. A source not
ranked yet (its first block) ranks by gain x priority.

The others share the bed, whose cost per source is one 4-point Lagrange read of its delay
line (``tdw.lagrange_block``, a quarter of the warp's sinc taps, once instead of per ear) and
16 multiply-adds per sample (:func:`lod_encode`): the line is read at the source's centre
delay (the warp's propagation delay without the ears' part) minus :func:`bed_delay`,
scaled by the source's level and by the 16 real orthonormal spherical harmonics
(:func:`sh_fill`, ACN order, order 3) of its direction from the listener, all ramped
linearly across the block, into the bed's 16 channels (one lane-major batch of staging:
channel 2l is lane l's left, 2l + 1 its right). Once per hop the bed is transformed (one
8-lane transform) and each channel is multiplied by one filter per ear and added into
the output's spectral mix (:func:`lod_decode`): a fixed cost whatever the number of
sources.

The 2 x 16 filters (:func:`lod_design`) are built at creation from the renderer's own
model: the shaped corrector gains at :data:`DESIGN_POINTS` near-uniform (Fibonacci)
directions at the fitted distance, each times the warp's ear delay for that direction
relative to the centre (Woodworth, as ``geometry.tdw_ear_targets``) plus
:func:`bed_delay`, projected onto the harmonics (quadrature with equal weights: the
least-squares fit on a uniform grid). Order 3 holds the interaural phase up to about
2 kHz; above, a time-aligned decode (Zaunschirm, Schoerkhuber and Hoeldrich 2018) replaces
the ears' delays by one common delay before the projection (raised-cosine crossover
:data:`TA_LOW_HZ`..:data:`TA_HIGH_HZ`), so the high band keeps the magnitudes (ILD,
spectral cues) that order 3 cannot carry with the delays in. The common delay is the
largest an ear has (the far ear at 90 degrees): the high band then never arrives before
the ear's own onset (no pre-echo), it lags by up to the interaural delay instead. The impulse responses are
then windowed like the corrector's, to N - H + 1 taps, so the bed is an exact
overlap-save convolution too.

Reading each source ``bed_delay`` (the head radius / c, in samples) earlier than its
centre delay and putting that delay into the filters keeps every filter causal, and gives
the bed the full path's latency and time alignment: a source changing tier is rendered
in both for one block, the full path's warp gain ramping in or out linearly while its bed
coefficients ramp the other way, a crossfade of two near-equal, time-aligned signals.

What the bed does not carry: the distance-dependent corrector and near-field ILD (it is
the fitted distance's response), the band tone (occlusion, cone high band and air
absorption: the mid band only, as with the corrector off), spread, and interaural
delays above ~2 kHz. Bypassed (non-spatialised) sources always take the full path.
"""
import math

import numpy as np
from numba import njit

from ..geometry import ear_path_length
from .corrector import corrector_gains, pack_ears, window_response
from .ibc import ibc_evaluate
from .lanes import LANES, lanes_encode, prefetch
from .layout import (
    C_LOD_HYSTERESIS, CTL_FLAGS, CTL_STATE, CTL_STRIDE, FLAG_BYPASS, FLAG_PAUSED, H_CONST, H_FULL_SOURCES, H_LOD_SCORE,
    H_SLOTS, H_SRC_CTL, H_SRC_NAP, H_SRC_PARAM, H_SRC_STATE, P_GAIN, P_PRIORITY, PARAM_STRIDE,
    STATE_PLAYING, STATE_RECYCLE, STATE_RESTART, STATE_STRIDE, ST_LEVEL, ST_TIER, VIRTUAL_THRESHOLD,
)

ORDER = 3
CHANNELS = (ORDER + 1) ** 2          # 16: two per lane of one staging batch
DESIGN_POINTS = 1024                 # directions the decoding filters are fitted over
TA_LOW_HZ = 2000.0                   # time-aligned decode: full ear delays below ...
TA_HIGH_HZ = 4000.0                  # ... none above
FILTER_STRIDE = 8                    # floats per bin and lane: (L re, L im, R re, R im) x (even, odd)


@njit(cache=True, fastmath=True, inline="always")
def sh_fill(x, y, z, out, o):
    """out[o:o + 16] = the real orthonormal spherical harmonics (integral of Y^2 over the
    sphere = 1, i.e. N3D / sqrt(4 pi)) of order <= 3 at unit vector (x, y, z), ACN order."""
    out[o] = 0.28209479177387814
    c1 = 0.4886025119029199
    out[o + 1] = c1 * y
    out[o + 2] = c1 * z
    out[o + 3] = c1 * x
    c2 = 1.0925484305920792
    out[o + 4] = c2 * x * y
    out[o + 5] = c2 * y * z
    out[o + 6] = 0.31539156525252005 * (3.0 * z * z - 1.0)
    out[o + 7] = c2 * x * z
    out[o + 8] = 0.5462742152960396 * (x * x - y * y)
    c33 = 0.5900435899266435
    c31 = 0.4570457994644658
    out[o + 9] = c33 * y * (3.0 * x * x - y * y)
    out[o + 10] = 2.890611442640554 * x * y * z
    out[o + 11] = c31 * y * (5.0 * z * z - 1.0)
    out[o + 12] = 0.3731763325901154 * z * (5.0 * z * z - 3.0)
    out[o + 13] = c31 * x * (5.0 * z * z - 1.0)
    out[o + 14] = 1.445305721320277 * z * (x * x - y * y)
    out[o + 15] = c33 * x * (x * x - 3.0 * y * y)


@njit(cache=True, inline="always")
def fibonacci_point(i, count):
    """Unit vector ``i`` of ``count`` near-uniform (equal-area) Fibonacci directions."""
    z = 1.0 - (2.0 * i + 1.0) / count
    r = math.sqrt(max(0.0, 1.0 - z * z))
    phi = i * math.pi * (3.0 - math.sqrt(5.0))
    return r * math.cos(phi), r * math.sin(phi), z


@njit(cache=True)
def bed_delay(head_radius, c, sample_rate):
    """Samples the bed reads a source ahead of its centre delay (the most the near ear
    leads the centre: the head radius / c), put back by the decoding filters."""
    return head_radius / c * sample_rate


@njit(cache=True)
def _ta_weight(f):
    """1: the ears' delays stay in the target; 0: replaced by the common one (time-aligned
    above TA_HIGH_HZ)."""
    t = min(max((f - TA_LOW_HZ) / (TA_HIGH_HZ - TA_LOW_HZ), 0.0), 1.0)
    return 0.5 + 0.5 * math.cos(math.pi * t)


@njit(cache=True)
def lod_design(theta, dims, prep, shaping, eq, head_radius, c, sample_rate, delay, ylm,
               gains, scratch, out, filters):
    """Fill ``filters`` (float32, nbins x LANES x FILTER_STRIDE) with the bed's decoding
    filters (module docstring) for the model (``theta``, ``dims``, prepared weights
    ``prep``, its ``shaping`` and equaliser ``eq`` as for ``ibc_table.build_table``);
    ``delay`` = :func:`bed_delay`. Scratch: ``ylm`` (16), ``gains`` (4 nbins),
    ``scratch``/``out`` as for ``ibc_evaluate``. Run once at creation."""
    bin_idx, bin_w, blend, phase_step, window, pins, cos, sin, rev, re, im = shaping
    n = rev.shape[0]
    nbins = n // 2 + 1
    filters[:] = 0.0
    w = 4.0 * math.pi / DESIGN_POINTS
    r = theta[0]  # the model's fitted distance
    tau_hf = (ear_path_length((0.0, -r, 0.0), 1.0, head_radius) - r) / c * sample_rate  # the far ear at 90 degrees
    for i in range(DESIGN_POINTS):
        ux, uy, uz = fibonacci_point(i, DESIGN_POINTS)
        ibc_evaluate(theta, dims, prep, ux, uy, uz, r, scratch, out)
        corrector_gains(out, bin_idx, bin_w, blend, eq, phase_step, window, pins, cos, sin, rev, re, im,
                        gains)
        rel = (ux * r, uy * r, uz * r)
        tau_l = (ear_path_length(rel, 1.0, head_radius) - r) / c * sample_rate
        tau_r = (ear_path_length(rel, -1.0, head_radius) - r) / c * sample_rate
        sh_fill(ux, uy, uz, ylm, 0)
        for k in range(nbins):
            wt = _ta_weight(k * sample_rate / n)
            om = -2.0 * math.pi * k / n
            pl = om * (delay + wt * tau_l + (1.0 - wt) * tau_hf)
            pr = om * (delay + wt * tau_r + (1.0 - wt) * tau_hf)
            cl, sl = math.cos(pl), math.sin(pl)
            cr, sr = math.cos(pr), math.sin(pr)
            glr, gli = gains[4 * k], gains[4 * k + 1]
            grr, gri = gains[4 * k + 2], gains[4 * k + 3]
            hlr, hli = glr * cl - gli * sl, glr * sl + gli * cl
            hrr, hri = grr * cr - gri * sr, grr * sr + gri * cr
            for ch in range(CHANNELS):
                y = w * ylm[ch]
                f = (k * LANES + ch // 2) * FILTER_STRIDE + 4 * (ch % 2)
                filters[f] += y * hlr
                filters[f + 1] += y * hli
                filters[f + 2] += y * hrr
                filters[f + 3] += y * hri
    # each channel's two filters: impulse responses windowed to the corrector's length
    for ch in range(CHANNELS):
        for k in range(nbins):
            f = (k * LANES + ch // 2) * FILTER_STRIDE + 4 * (ch % 2)
            pack_ears(re, im, k, filters[f], filters[f + 1], filters[f + 2], filters[f + 3])
        window_response(re, im, window, cos, sin, rev, gains)
        for k in range(nbins):
            f = (k * LANES + ch // 2) * FILTER_STRIDE + 4 * (ch % 2)
            for m in range(4):
                filters[f + m] = gains[4 * k + m]


@njit(cache=True, fastmath=True, boundscheck=False)
def lod_encode(dst, da, db, src, frames, coef):
    """Add ``src[:frames]`` into the bed's staging (even channels at ``dst[da + i LANES:]``,
    odd at ``db``), sample i weighted by coef[:2 LANES] + (i + 1) coef[2 LANES:] (float32
    4 LANES: the 16 start coefficients, even channels then odd, and their steps)."""
    lanes_encode(dst, da, db, coef, src, frames)


@njit(cache=True, fastmath=True, boundscheck=False)
def lod_decode(re, im, filters, mix, n):
    """mix (float64, 4 nbins: left re, im, right re, im) += the bed's 16 channels, whose
    8-lane transform is ``re``/``im`` (lane-major, lane l = channel 2l + j channel 2l + 1),
    each through its two ears' filters."""
    nbins = n // 2 + 1
    for k in range(nbins):
        nk = (n - k) % n
        lr = 0.0
        li = 0.0
        rr = 0.0
        ri = 0.0
        for lane in range(LANES):
            zr = re[k * LANES + lane]
            zi = im[k * LANES + lane]
            wr = re[nk * LANES + lane]
            wi = -im[nk * LANES + lane]  # conj(Z[N - k])
            ar = 0.5 * (zr + wr)         # the even channel
            ai = 0.5 * (zi + wi)
            br = 0.5 * (zi - wi)         # the odd one: (Z - conj Z[N-k]) / 2j
            bi = -0.5 * (zr - wr)
            f = (k * LANES + lane) * FILTER_STRIDE
            lr += ar * filters[f] - ai * filters[f + 1] + br * filters[f + 4] - bi * filters[f + 5]
            li += ar * filters[f + 1] + ai * filters[f] + br * filters[f + 5] + bi * filters[f + 4]
            rr += ar * filters[f + 2] - ai * filters[f + 3] + br * filters[f + 6] - bi * filters[f + 7]
            ri += ar * filters[f + 3] + ai * filters[f + 2] + br * filters[f + 7] + bi * filters[f + 6]
        mix[4 * k] += lr
        mix[4 * k + 1] += li
        mix[4 * k + 2] += rr
        mix[4 * k + 3] += ri


@njit(cache=True, boundscheck=False)
def _kth_largest(a, count, k):
    """The ``k``-th largest (1-based) of a[:count], by in-place selection (Hoare)."""
    lo = 0
    hi = count - 1
    target = k - 1
    while lo < hi:
        pivot = a[(lo + hi) // 2]
        i = lo
        j = hi
        while i <= j:
            while a[i] > pivot:
                i += 1
            while a[j] < pivot:
                j -= 1
            if i <= j:
                a[i], a[j] = a[j], a[i]
                i += 1
                j -= 1
        if target <= j:
            hi = j
        elif target >= i:
            lo = i
        else:
            break
    return a[target]


RANK_PREFETCH_AHEAD = 4  # sources: lod_rank fetches this far ahead (lanes.prefetch)


@njit(cache=True, boundscheck=False)
def lod_rank(f64, i64):
    """Set every candidate source's tier (ST_TIER: 0 full path, 1 bed) for this block: the
    ``H_FULL_SOURCES`` highest scores take the full path (module docstring). Candidates:
    playing or starting, not paused, not bypassed, not inaudible (an inaudible source keeps
    its tier: it is a virtual voice in either). No allocation: O(sources) on average."""
    k_full = i64[H_FULL_SOURCES]
    hysteresis = f64[i64[H_CONST] + C_LOD_HYSTERESIS]
    nsrc = i64[H_SLOTS]
    score = f64[i64[H_LOD_SCORE]: i64[H_LOD_SCORE] + nsrc]
    work = f64[i64[H_LOD_SCORE] + nsrc: i64[H_LOD_SCORE] + 2 * nsrc]
    naps = i64[H_SRC_NAP]
    count = 0
    for s in range(nsrc):
        n = s + RANK_PREFETCH_AHEAD
        if n < nsrc and i64[naps + n] <= 0:  # thousands of sources' lines are not in the caches
            prefetch(i64, i64[H_SRC_CTL] + n * CTL_STRIDE)
            prefetch(f64, i64[H_SRC_STATE] + n * STATE_STRIDE + ST_LEVEL)
            prefetch(f64, i64[H_SRC_PARAM] + n * PARAM_STRIDE + P_PRIORITY)
        score[s] = -1.0
        if i64[naps + s] > 0:  # a napping virtual voice (layout.NAP_BLOCKS) is inaudible
            continue
        ctl = i64[H_SRC_CTL] + s * CTL_STRIDE
        state = i64[ctl + CTL_STATE]
        flags = i64[ctl + CTL_FLAGS]
        st = i64[H_SRC_STATE] + s * STATE_STRIDE
        if flags & FLAG_BYPASS:
            f64[st + ST_TIER] = 0.0
            continue
        if flags & FLAG_PAUSED:
            continue
        par = i64[H_SRC_PARAM] + s * PARAM_STRIDE
        if state == STATE_PLAYING:
            if f64[st + ST_LEVEL] < VIRTUAL_THRESHOLD:
                continue
            v = f64[st + ST_LEVEL] * f64[par + P_PRIORITY]
        elif state == STATE_RESTART or state == STATE_RECYCLE:  # not ranked yet
            v = f64[par + P_GAIN] * f64[par + P_PRIORITY]
            f64[st + ST_TIER] = 1.0
        else:
            continue
        if f64[st + ST_TIER] == 0.0:
            v *= hysteresis
        score[s] = v
        work[count] = v
        count += 1
    if count <= k_full:
        for s in range(nsrc):
            if score[s] >= 0.0:
                f64[i64[H_SRC_STATE] + s * STATE_STRIDE + ST_TIER] = 0.0
        return
    thr = _kth_largest(work, count, k_full)
    taken = 0
    for s in range(nsrc):
        if score[s] > thr:
            f64[i64[H_SRC_STATE] + s * STATE_STRIDE + ST_TIER] = 0.0
            taken += 1
    for s in range(nsrc):
        st = i64[H_SRC_STATE] + s * STATE_STRIDE
        if score[s] == thr and taken < k_full:
            f64[st + ST_TIER] = 0.0
            taken += 1
        elif 0.0 <= score[s] <= thr:
            f64[st + ST_TIER] = 1.0
