"""Time-domain warping: a per-ear fractional delay line with ramped delay and gain.

Interpolation is a 16-tap Kaiser-windowed sinc (beta 6) read from a 1024-phase table
(nearest phase: 1/1024-sample time quantisation, -54 dB error at 16 kHz). Its magnitude
error at 48 kHz, worst over fractional delays, is 0.01 dB up to 16 kHz and 0.65 dB up to
20 kHz. We measured 4-point Lagrange first: it loses up to 3 dB at 12 kHz at half-sample
delays, which turns every moving source's top octave into a fluttering low-pass and
costs the corrector several dB of LSD, so it is not used. The price is 16 multiplies per
ear per sample and a minimum delay of 8 samples (the taps reach 8 samples ahead).

:func:`tdw_block` is the plain scalar float64 reference (15.6 us per source per 512-frame
block for both ears); the tests hold the engine's kernel to it. The engine runs
:func:`tdw_block_stereo_idx`: both ears from one float32 table with float32 sums, read
positions in fixed point (q = floor(x * 1024 + 0.5): sample q >> 10, phase q & 1023)
computed for the whole block first in an integer loop that vectorises (into int64 pool scratch),
then 16 output samples at a time through one transposing reduction tree
(:func:`_dot_taps16`): 2.4 us.

Doppler emerges from reading the line at t - d(t) with a moving delay d; the renderer
integrates d from velocities so it is the exact retarded-time delay (:mod:`.motion`).
"""
import math

import numpy as np
from llvmlite import ir
from numba import njit, types
from numba.extending import intrinsic

from .lanes import VectorIR, transpose_sum

SINC_TAPS = 16
SINC_PHASES = 1024
SINC_BETA = 6.0
# the newest input sample the interpolator reads lies this far ahead of the read point
SINC_LOOKAHEAD = SINC_TAPS // 2
_PHASE_BITS = 10  # log2(SINC_PHASES): fixed-point read positions carry the table phase
# read positions step through the block in integers with this many fraction bits: x86-64-v3
# has no packed float64 -> int64 conversion, and the float loop (floor, convert per sample)
# took 1.0-1.3 us per ear-block, the integer one 0.35 us. Truncating the step to 2^-32
# moves a position by < frames / 2^32 of a table phase: 0 of 1,024,000 positions differed
# from the float loop's in random trials
_STEP_BITS = 32
_STEP_SCALE = float(1 << _STEP_BITS)


def sinc_table(taps: int = SINC_TAPS, phases: int = SINC_PHASES, beta: float = SINC_BETA) -> np.ndarray:
    """(phases + 1, taps) float64 coefficients; row p interpolates at fraction p / phases
    using samples at offsets -(taps/2 - 1) .. taps/2. Each row sums to one (unity DC gain).
    The engine stores it as float32 (:func:`tdw_block_stereo_idx`): rounding the coefficients
    moves the response by < 1e-6 dB."""
    out = np.zeros((phases + 1) * taps)
    sinc_table_fill(beta, phases, taps, out)
    return out.reshape(phases + 1, taps)


@njit(cache=True)
def bessel_i0(x):
    """Modified Bessel function I0 by its power series (sum of ((x/2)^k / k!)^2), to full
    float64 precision for the Kaiser window's |x| <= 20; np.i0 has no numba
    implementation, and the engine's pools are filled by compiled code (kernels/plan.py)."""
    q = 0.25 * x * x
    term = 1.0
    acc = 1.0
    k = 1
    while term > 1e-17 * acc:
        term *= q / (k * k)
        acc += term
        k += 1
    return acc


@njit(cache=True)
def _kaiser_sinc(t, taps, beta):
    """Kaiser-windowed sinc at offset ``t`` (samples), before the row normalisation."""
    arg = max(1.0 - (2.0 * t / taps) ** 2, 0.0)
    s = 1.0 if t == 0.0 else math.sin(math.pi * t) / (math.pi * t)
    return s * bessel_i0(beta * math.sqrt(arg)) / bessel_i0(beta)


@njit(cache=True)
def sinc_table_fill(beta, phases, taps, out):
    """Fill ``out`` (flat, row-major (phases + 1) x taps, any float dtype) with
    :func:`sinc_table`'s coefficients."""
    for p in range(phases + 1):
        frac = p / phases
        total = 0.0
        for j in range(taps):
            total += _kaiser_sinc((j - (taps // 2 - 1)) - frac, taps, beta)
        for j in range(taps):
            out[p * taps + j] = _kaiser_sinc((j - (taps // 2 - 1)) - frac, taps, beta) / total


@njit(cache=True, fastmath=True, inline="always")
def sinc_read(ring, mask, pos, table):
    """Read ``ring`` (power-of-two length, ``mask`` = length - 1) at fractional ``pos``."""
    n = math.floor(pos)
    phases = table.shape[0] - 1
    taps = table.shape[1]
    p = int((pos - n) * phases + 0.5)
    i = int(n) - (taps // 2 - 1)
    acc = 0.0
    for j in range(taps):
        acc += table[p, j] * ring[(i + j) & mask]
    return acc


@njit(cache=True, fastmath=True, boundscheck=False)
def tdw_block(ring, mask, t0, frames, d0, d1, g0, g1, table, out, out_off):
    """Warp ``frames`` samples starting at absolute time ``t0`` into ``out[out_off:]``.

    Delay (samples, >= SINC_LOOKAHEAD so nothing unwritten is read) and gain ramp linearly
    from (d0, g0) to reach (d1, g1) on the last sample, so consecutive blocks join without
    a step.

    Same arithmetic as :func:`sinc_read` per sample; the taps are read as one contiguous
    slice (vectorised dot product) unless they straddle the ring's end, which happens for
    at most ``taps`` samples per trip around the ring (about 2.5x faster than masking
    every tap index).
    """
    inv = 1.0 / frames
    dd = (d1 - d0) * inv
    dg = (g1 - g0) * inv
    phases = table.shape[0] - 1
    taps = table.shape[1]
    back = taps // 2 - 1
    ring_len = mask + 1
    for i in range(frames):
        d = d0 + dd * (i + 1)
        g = g0 + dg * (i + 1)
        pos = float(t0 + i) - d
        n = math.floor(pos)
        p = int((pos - n) * phases + 0.5)
        s = (int(n) - back) & mask
        row = table[p]
        acc = 0.0
        if s + taps <= ring_len:
            seg = ring[s:s + taps]
            for j in range(taps):
                acc += row[j] * seg[j]
        else:
            for j in range(taps):
                acc += row[j] * ring[(s + j) & mask]
        out[out_off + i] = g * acc



@intrinsic
def _dot_taps(typingctx, a, ia, b, ib):
    """float32 dot product of ``a[ia:ia + SINC_TAPS]`` and ``b[ib:ib + SINC_TAPS]`` (1-D
    contiguous float32 arrays, offsets unchecked) as one SINC_TAPS-lane vector multiply
    and a pairwise tree sum (fixed order, so results do not depend on the target).

    numba runs LLVM's loop vectoriser but not its SLP vectoriser, and a 16-trip inner loop
    is fully unrolled before the loop vectoriser sees it, so the plain-Python dot product
    compiles to 16 dependent scalar FMAs; this emits the vector IR directly (one 512-bit
    or two 256-bit multiplies, whatever the target has), no slice objects, no refcounts."""
    if not (isinstance(a, types.Array) and isinstance(b, types.Array) and a.dtype == types.float32
            and b.dtype == types.float32 and a.ndim == 1 and b.ndim == 1
            and isinstance(ia, types.Integer) and isinstance(ib, types.Integer)):
        return None
    sig = types.float32(a, ia, b, ib)

    def codegen(context, builder, signature, args):
        e = VectorIR(context, builder, SINC_TAPS)
        i32 = ir.IntType(32)
        ad, ia_, bd, ib_ = e.unpack(signature, args)
        v = builder.fmul(e.load(ad, ia_), e.load(bd, ib_))
        w = SINC_TAPS
        while w > 1:
            h = w // 2
            lo = builder.shuffle_vector(v, v, ir.Constant(ir.VectorType(i32, h), list(range(h))))
            hi = builder.shuffle_vector(v, v, ir.Constant(ir.VectorType(i32, h), list(range(h, w))))
            v = builder.fadd(lo, hi)
            w = h
        return builder.extract_element(v, ir.Constant(i32, 0))

    return sig, codegen


@njit(cache=True, fastmath=True, boundscheck=False, inline="always")
def _tap_dot(table, p, ring, s, mask):
    """Row ``p`` of the flat float32 sinc table times the SINC_TAPS ring samples from
    ``s``; the masked scalar path runs only when the taps straddle the ring's end (at most
    SINC_TAPS samples per trip around the ring)."""
    if s + SINC_TAPS <= mask + 1:
        return _dot_taps(table, p * SINC_TAPS, ring, s)
    acc = np.float32(0.0)
    for j in range(SINC_TAPS):
        acc += table[p * SINC_TAPS + j] * ring[(s + j) & mask]
    return acc


@intrinsic
def _dot_taps16(typingctx, table, ring, sidx, pidx, i0, out, oo):
    """16 consecutive output samples at once: out[oo + m] = table[pidx[i0 + m]:+16] .
    ring[sidx[i0 + m]:+16] for m < 16 (float32; indices unchecked, every ring read must lie
    inside the ring). The 16 product vectors are reduced together by
    :func:`~spatialmw.kernels.lanes.transpose_sum` (30 two-source shuffles and 15 adds for
    16 sums instead of 64 and 64), which adds each sample's products in exactly
    :func:`_dot_taps`' pairwise order, so results are bit-identical to it; the 16 sums are
    stored as one vector."""
    f32t = types.float32
    if not (isinstance(table, types.Array) and isinstance(ring, types.Array)
            and isinstance(out, types.Array) and table.dtype == f32t and ring.dtype == f32t
            and out.dtype == f32t and isinstance(sidx, types.Array) and isinstance(pidx, types.Array)
            and sidx.dtype == types.int64 and pidx.dtype == types.int64
            and isinstance(i0, types.Integer) and isinstance(oo, types.Integer)):
        return None
    sig = types.void(table, ring, sidx, pidx, i0, out, oo)
    n = SINC_TAPS

    def codegen(context, builder, signature, args):
        e = VectorIR(context, builder, n)
        i64 = ir.IntType(64)
        table_, ring_, sidx_, pidx_, base, out_, oo_ = e.unpack(signature, args)

        def index_at(arr, m):
            p = builder.gep(arr, [e.add_i(base, m)], inbounds=True, source_etype=i64)
            return builder.load(p, typ=i64)

        # plain fmul (no contraction), so every sum rounds exactly as _dot_taps' does
        vecs = [builder.fmul(e.load(table_, index_at(pidx_, m)), e.load(ring_, index_at(sidx_, m)))
                for m in range(n)]
        e.store(out_, oo_, transpose_sum(builder, vecs, n))
        return context.get_dummy_value()

    return sig, codegen


@njit(cache=True, fastmath=True, boundscheck=False, inline="always")
def _tdw_ear_idx(ring, mask, base, frames, qa, qb, table, out, out_off, sidx, pidx):
    """One ear of :func:`tdw_block_stereo_idx` without the gain: read positions for the
    block (vectorised), then the dot products 16 samples at a time."""
    q0 = np.int64(math.floor(qa * _STEP_SCALE))  # (exact: a power of two)
    dq = np.int64(math.floor(qb * _STEP_SCALE))
    q = q0  # (an additive induction: AVX2 has no packed 64-bit multiply)
    for i in range(frames):
        p = q >> _STEP_BITS
        pidx[i] = (p & (SINC_PHASES - 1)) * SINC_TAPS
        sidx[i] = (base + (p >> _PHASE_BITS)) & mask
        q += dq
    lim = mask + 1 - SINC_TAPS
    i = 0
    while i + SINC_TAPS <= frames:
        ok = True
        for m in range(SINC_TAPS):
            ok &= sidx[i + m] <= lim
        if ok:
            _dot_taps16(table, ring, sidx, pidx, i, out, out_off + i)
        else:
            for m in range(i, i + SINC_TAPS):
                out[out_off + m] = _tap_dot(table, pidx[m] // SINC_TAPS, ring, sidx[m], mask)
        i += SINC_TAPS
    for m in range(i, frames):
        out[out_off + m] = _tap_dot(table, pidx[m] // SINC_TAPS, ring, sidx[m], mask)


@njit(cache=True, fastmath=True, boundscheck=False)
def tdw_block_stereo_idx(ring, mask, t0, frames, dl0, dl1, dr0, dr1, gl0, gl1, gr0, gr1, table,
                         tmp_l, tmp_r, idx, dst, dst_l, dst_r, stride, accumulate):
    """Both ears of :func:`tdw_block` (delays ``d*``, gains ``g*``) from a float32
    ``table``, written to ``dst[dst_l + i * stride]`` (left) and ``dst[dst_r + i * stride]``
    (right) for i < frames, or added there when ``accumulate``.

    ``tmp_l``/``tmp_r`` (float32) and ``idx`` (int64, 2 ``frames``) are scratch: each ear's
    read positions (ring start, table row offset) are computed for the whole block first,
    in a loop that vectorises, then the dot products run 16 output samples at a time
    (:func:`_dot_taps16`) into the scratch, then one pass applies the gain ramp and
    stores (the stride lets the engine write straight into its lane-major staging)."""
    inv = 1.0 / frames
    ddl = (dl1 - dl0) * inv
    ddr = (dr1 - dr0) * inv
    dgl = (gl1 - gl0) * inv
    dgr = (gr1 - gr0) * inv
    base = t0 - (SINC_TAPS // 2 - 1)
    sidx = idx[0:frames]
    pidx = idx[frames:2 * frames]
    _tdw_ear_idx(ring, mask, base, frames, 0.5 - SINC_PHASES * (dl0 + ddl),
                 SINC_PHASES * (1.0 - ddl), table, tmp_l, 0, sidx, pidx)
    _tdw_ear_idx(ring, mask, base, frames, 0.5 - SINC_PHASES * (dr0 + ddr),
                 SINC_PHASES * (1.0 - ddr), table, tmp_r, 0, sidx, pidx)
    end = (frames - 1) * stride + 1
    _ramp_store(tmp_l, frames, gl0, dgl, dst[dst_l:dst_l + end:stride], accumulate)
    _ramp_store(tmp_r, frames, gr0, dgr, dst[dst_r:dst_r + end:stride], accumulate)


@njit(cache=True, fastmath=True, boundscheck=False, inline="always")
def _ramp_store(x, frames, g0, dg, dst, accumulate):
    """dst[i] (+)= (g0 + dg (i + 1)) x[i] for i < frames. ``dst`` is a strided view indexed
    from 0 and the ramp's count a float induction, so a store costs no negative-index
    wrap-around and no scalar int64 -> float64 conversion."""
    k = 0.0
    if accumulate:
        for i in range(frames):
            k += 1.0
            dst[i] += np.float32(g0 + dg * k) * x[i]
    else:
        for i in range(frames):
            k += 1.0
            dst[i] = np.float32(g0 + dg * k) * x[i]




@njit(cache=True, fastmath=True, boundscheck=False)
def lagrange_block(ring, mask, t0, frames, d0, d1, out):
    """``out[:frames]`` (float32) = ``ring`` read at a delay ramping from ``d0`` to reach ``d1``
    on the last sample, by 4-point (3rd-order) Lagrange interpolation: the cheap read of the
    level of detail's bed (:mod:`.lod`), a quarter of the sinc's taps, at the cost the module
    docstring gives (up to 3 dB lost at 12 kHz at half-sample delays). Reads 2 samples ahead
    of the read point (delays >= 2).

    Sample i reads at t0 + i - d(i), i.e. at t0 + i + u(i) with u(i) = -(d0 + dd (i + 1))
    linear in i; the block is cut into runs over which floor(u) is constant (one run when the
    delay holds still, a few when it moves), so within a run the taps are contiguous and the
    fraction is linear: a loop that vectorises. (Within a run the fraction stays in [0, 1]
    up to float32 rounding, which the cubic, being continuous, does not mind.)"""
    dd = (d1 - d0) / frames
    u0 = -(d0 + dd)
    i = 0
    while i < frames:
        u = u0 - dd * i
        c = math.floor(u)
        if dd > 0.0:    # u falls: the run lasts while u >= c
            end = min(frames, int(math.floor((u0 - c) / dd)) + 1)
        elif dd < 0.0:  # u rises: ... while u < c + 1
            end = min(frames, int(math.ceil((c + 1.0 - u0) / -dd)))
        else:
            end = frames
        end = max(end, i + 1)
        f0 = np.float32(u - c)
        fd = np.float32(dd)
        s0 = (t0 + i + int(c) - 1) & mask
        n = end - i
        run = out[i:end]  # indexed from 0: no negative-index wrap-around per sample, so it vectorises
        if s0 + n + 3 <= mask + 1:
            seg = ring[s0:s0 + n + 3]
            for m in range(n):
                run[m] = _lagrange4(seg[m], seg[m + 1], seg[m + 2], seg[m + 3], f0 - fd * np.float32(m))
        else:  # (the taps wrap around the ring's end)
            for m in range(n):
                s = s0 + m
                run[m] = _lagrange4(ring[s & mask], ring[(s + 1) & mask], ring[(s + 2) & mask],
                                        ring[(s + 3) & mask], f0 - fd * np.float32(m))
        i = end


@njit(cache=True, fastmath=True, inline="always")
def _lagrange4(a, b, c, d, f):
    """The cubic through (-1, a), (0, b), (1, c), (2, d) at 0 <= f <= 1 (float32)."""
    one = np.float32(1.0)
    fm = f - one
    fp = f + one
    f2 = f - np.float32(2.0)
    return f * fm * (d * fp - a * f2) * np.float32(1.0 / 6.0) + fp * f2 * (b * fm - c * f) * np.float32(0.5)
