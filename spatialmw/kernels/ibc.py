"""IBC (implicit binaural corrector) forward pass: a hand-written numba MLP.

The IBC is a continuous function of (head-relative direction u, centre distance r,
frequency f) that returns, for both ears, a log-amplitude a (natural log) and an
unwrapped phase phi (radians): G_e = exp(a_e + j phi_e) multiplies the STFT of ear e's
time-domain-warped signal.

Architecture (all sizes live in ``dims``; the flat parameter vector is ``theta``)::

    dims = [n_dir, n_freq, H, L, act, n_out]          (int64, see DIMS_* below)
    enc_p(u, r) = [ux, uy, uz, sin(B_d u) (n_dir), cos(B_d u) (n_dir), rho]   P = 4 + 2 n_dir
        rho = clamp(log(r / r_ref), rho_min, rho_max)   (the range seen in training:
        a single-distance set such as KEMAR has rho_min = rho_max = 0, so distance is
        never extrapolated)
    enc_f(f)    = [x, sin(pi b x) (n_freq), cos(pi b x) (n_freq)],  x = f / f_scale   F = 1 + 2 n_freq
    h1  = act(W_p enc_p + W_f enc_f + b1)       (H)   -- pose part once, freq part precomputed
    h   = act(W_l h + b_l)   for l = 1..L       (H x H)
    out = W_o h + b_o                            (4) = (a_L, phi_L, a_R, phi_R)

Left/right symmetry. The head is (KEMAR's data exactly) mirror symmetric: the left ear at
u = (x, y, z) hears what the right ear hears at (x, -y, z). The network only approximates
that, and on the median plane any difference between its ears is a spurious ITD (up to
26 us p95 on a vertical circle, 5.5 median). :func:`ibc_evaluate` therefore returns,
within SYMMETRY_DEG (15 degrees) of the median plane, out(u) + w/2 (swap(out(u')) - out(u))
with u' the mirrored direction, swap exchanging the ears, and w a raised cosine of the
lateral angle, 1 on the median plane and 0 from SYMMETRY_DEG: both ears equal on the
median plane, the network's left/right asymmetry shrunk by 1 - w near it, continuous in u,
and the network's own output elsewhere (held-out LSD 2.298 -> 2.269 dB, KEMAR; making
the whole sphere symmetric cost 0.2 dB). Near the median plane an evaluation
runs the network twice (the direction table pays that at creation; a source at rest near
the median plane costs two evaluations). ``train/torch_model.py`` mirrors it.

``act``: 0 = relu, 1 = tanh, 2 = sin. B_d (n_dir x 3) and b (n_freq) are trained
Fourier-feature frequencies; the frequency encoding is continuous in f, so any sample
rate / FFT size can be served by choosing the grid.

theta layout (float64, flat)::

    [r_ref, rho_min, rho_max, f_scale] | B_d (n_dir*3) | b (n_freq) | W_p (H*P) | W_f (H*F)
    | b1 (H) | L x (W_l (H*H), b_l (H)) | W_o (n_out*H) | b_o (n_out)

All matrices are row-major (out, in). Cost per evaluation (multiply-accumulates):
pose part P*H + 3*n_dir (once) plus, for each of the K grid points, L*H*H + 4*H
(the frequency part is precomputed by :func:`ibc_prepare` at load). The shipped
default (n_dir 128, n_freq 32, H 64, L 1, sin, K 96; 25,700 trainable parameters) costs
384 + 260*64 + 96 * (64*64 + 4*64) = 434,816 MACs per evaluation, i.e. 40.8 M MAC/s if a
moving source were evaluated every 512-sample block at 48 kHz (93.75 Hz), plus ~2 * 260
sin/cos for the encoding (the 128 direction features are sin/cos pairs). The engine reads
moving sources from a table of these outputs instead (:mod:`.ibc_table`).

Kernel: the grid points are evaluated KT = 48 at a time with the grid index innermost
(register-blocked axpy passes, see :func:`_dense_tile`) and the sin activation / encoding
use branch-free polynomials, so everything vectorises. :func:`ibc_prepare` converts, once
per model and grid, the frequency part (stored hidden-unit major, fpart[i*K + k]), the
hidden matrices and W_p to float32; the encoding, pose part, first layer (fused with its
sin), hidden tiles and activations are float32, the output layer accumulates in float64
(differences from the torch float64 mirror < 1e-5, far below the float32 gains they
feed). ~14 us per evaluation of the shipped model on the 2-core AVX-512 dev box, of which
the 64 x 64 hidden layer is 7 us (~54 G MAC/s); 17.5 us with the per-evaluation weight
copy and float64 pose part, 28 us all-float64, ~290 us with per-grid-point dot products
and libm sin. Scratch does not depend on K.
"""
from __future__ import annotations

import math

import numpy as np
from llvmlite import ir
from numba import njit, types
from numba.extending import intrinsic

DIMS_LEN = 6
D_NDIR, D_NFREQ, D_H, D_L, D_ACT, D_NOUT = range(6)
HEADER_LEN = 4
ACT_RELU, ACT_TANH, ACT_SIN = 0, 1, 2
N_OUT = 4
SYMMETRY_DEG = 15.0  # lateral angle (degrees) where the mirror blend of ibc_evaluate ends


@njit(cache=True)
def ibc_layout(dims):
    """Offsets into theta: (o_bd, o_bf, o_wp, o_wf, o_b1, o_hidden, o_wo, o_bo, total, P, F)."""
    nd = dims[D_NDIR]
    nf = dims[D_NFREQ]
    h = dims[D_H]
    nl = dims[D_L]
    no = dims[D_NOUT]
    p = 4 + 2 * nd
    f = 1 + 2 * nf
    o_bd = HEADER_LEN
    o_bf = o_bd + nd * 3
    o_wp = o_bf + nf
    o_wf = o_wp + h * p
    o_b1 = o_wf + h * f
    o_hid = o_b1 + h
    o_wo = o_hid + nl * (h * h + h)
    o_bo = o_wo + no * h
    total = o_bo + no
    return o_bd, o_bf, o_wp, o_wf, o_b1, o_hid, o_wo, o_bo, total, p, f


def ibc_param_count(dims) -> int:
    """Length theta must have for ``dims`` (header constants included)."""
    return int(ibc_layout(np.asarray(dims, dtype=np.int64))[8])


# ------------------------------------------------------------------ evaluation kernel
#
# The K grid points are evaluated together, KT at a time ("tiles"): every layer is a
# sequence of axpy passes over a tile (grid index innermost, contiguous), which LLVM turns
# into packed FMAs, and the sin activation is a branch-free polynomial (below) instead of
# a libm call, so that loop vectorises too. Tiling keeps the scratch independent of K and
# the working set (2 H KT floats) in L1.

KT = 48  # grid points per tile (the shipped K = 96 is two tiles)

_TWO_PI = 2.0 * math.pi
_INV_TWO_PI = 1.0 / (2.0 * math.pi)
_PI = math.pi
_HALF_PI = 0.5 * math.pi
# odd near-minimax polynomial for sin on [-pi/2, pi/2]: max abs error 1.3e-11 there
_S1 = 0.9999999998898517
_S3 = -0.16666666541437958
_S5 = 0.00833332926443286
_S7 = -0.00019840702860267367
_S9 = 2.751885553237813e-06
_S11 = -2.3794711758074314e-08


@njit(cache=True, fastmath=True, inline="always")
def fast_sin(x):
    """sin(x), |error| < 2e-11 for |x| up to ~1e5 (range reduction to [-pi, pi] by a
    multiple of 2 pi, folding to [-pi/2, pi/2], odd degree-11 polynomial). Branch free,
    so loops over it vectorise. Not for non-finite input."""
    n = math.floor(x * _INV_TWO_PI + 0.5)
    r = x - n * _TWO_PI
    r = _PI - r if r > _HALF_PI else r
    r = -_PI - r if r < -_HALF_PI else r
    r2 = r * r
    return r * (_S1 + r2 * (_S3 + r2 * (_S5 + r2 * (_S7 + r2 * (_S9 + r2 * _S11)))))


# float32 sin for the float32 hidden tiles: round-to-nearest by the 1.5 * 2^23 trick,
# two-constant (Cody-Waite) reduction by 2 pi, fold to [-pi/2, pi/2], odd degree-9
# polynomial (3.3e-9 in exact arithmetic). |error| < 4e-7 for |x| < 1e3, the size of
# float32 rounding of the result. Must be compiled WITHOUT fastmath reassociation (which
# would fold the magic-number rounding and the two-part reduction away): see _FM32.
_F32 = np.float32
_INV_TWO_PI32 = _F32(1.0 / (2.0 * math.pi))
_MAGIC32 = _F32(12582912.0)
_C1_32 = _F32(2.0 * math.pi)
_C2_32 = _F32(2.0 * math.pi - float(_F32(2.0 * math.pi)))
_PI32 = _F32(math.pi)
_HALF_PI32 = _F32(0.5 * math.pi)
_T1 = _F32(9.99999977e-01)
_T3 = _F32(-1.66666476e-01)
_T5 = _F32(8.33289982e-03)
_T7 = _F32(-1.98008976e-04)
_T9 = _F32(2.59048819e-06)
_FM32 = {"nnan", "ninf", "nsz", "arcp", "contract", "afn"}


@njit(cache=True, fastmath=_FM32, inline="always")
def _reduce_2pi32(x):
    """x minus the nearest multiple of 2 pi (two-constant reduction), in [-pi, pi]."""
    n = (x * _INV_TWO_PI32 + _MAGIC32) - _MAGIC32
    r = x - n * _C1_32
    return r - n * _C2_32


@njit(cache=True, fastmath=_FM32, inline="always")
def fast_sin32(x):
    """float32 sin of a float32 ``x`` (see the constants above). Branch free."""
    r = _reduce_2pi32(x)
    r = _PI32 - r if r > _HALF_PI32 else r
    r = -_PI32 - r if r < -_HALF_PI32 else r
    r2 = r * r
    return r * (_T1 + r2 * (_T3 + r2 * (_T5 + r2 * (_T7 + r2 * _T9))))


@njit(cache=True, fastmath=_FM32, boundscheck=False)
def _activate32(buf, kind):
    """buf[:] = act(buf[:]) in place for a float32 tile."""
    if kind == ACT_SIN:
        for t in range(buf.shape[0]):
            buf[t] = fast_sin32(buf[t])
    elif kind == ACT_TANH:
        for t in range(buf.shape[0]):
            buf[t] = math.tanh(buf[t])
    else:
        for t in range(buf.shape[0]):
            v = buf[t]
            buf[t] = v if v > _F32(0.0) else _F32(0.0)


_EXP_LO = -87.0   # exp(-87) ~ 1.6e-38: the smallest normal float32, below any audible gain


@njit(cache=True, fastmath=True, inline="always")
def fast_exp(x):
    """exp(x) for x clamped to [-87, 20] (the caller's gain ceiling), relative error
    < 2e-11: Taylor degree 13 of exp(x/128), then squared 7 times. Branch and table free,
    so loops over it vectorise."""
    x = min(max(x, _EXP_LO), 20.0) * (1.0 / 128.0)
    e = 1.0 / 6227020800.0
    e = e * x + 1.0 / 479001600.0
    e = e * x + 1.0 / 39916800.0
    e = e * x + 1.0 / 3628800.0
    e = e * x + 1.0 / 362880.0
    e = e * x + 1.0 / 40320.0
    e = e * x + 1.0 / 5040.0
    e = e * x + 1.0 / 720.0
    e = e * x + 1.0 / 120.0
    e = e * x + 1.0 / 24.0
    e = e * x + 1.0 / 6.0
    e = e * x + 0.5
    e = e * x + 1.0
    e = e * x + 1.0
    e = e * e
    e = e * e
    e = e * e
    e = e * e
    e = e * e
    e = e * e
    e = e * e  # (exp(x/128))^128
    return e


@intrinsic
def _f32_from_bits(typingctx, bits):
    """The float32 whose IEEE-754 bit pattern is the int32 ``bits``."""
    if not isinstance(bits, types.Integer):
        return None

    def codegen(context, builder, signature, args):
        b = context.cast(builder, args[0], signature.args[0], types.int32)
        return builder.bitcast(b, ir.FloatType())

    return types.float32(bits), codegen


_LOG2E32 = _F32(1.0 / math.log(2.0))
_LN2_HI32 = _F32(0.693145751953125)           # ln 2 in float32 with 8 trailing zero bits
_LN2_LO32 = _F32(math.log(2.0) - 0.693145751953125)


@njit(cache=True, fastmath=_FM32, inline="always")
def fast_exp32(x):
    """float32 exp of a float32 ``x`` clamped to [-87, 20] (as :func:`fast_exp`): n = round(x
    log2 e) by the 1.5 * 2^23 trick, r = x - n ln 2 in two parts (|r| <= ln 2 / 2), exp(r) by
    its degree-7 Taylor polynomial (1.2e-8 truncation), times 2^n built from its bits.
    Relative error < 3e-7. Branch free. Compile without reassociation (_FM32)."""
    x = min(max(x, _F32(_EXP_LO)), _F32(20.0))
    n = (x * _LOG2E32 + _MAGIC32) - _MAGIC32
    r = x - n * _LN2_HI32
    r = r - n * _LN2_LO32
    p = _F32(1.0 / 5040.0)
    p = p * r + _F32(1.0 / 720.0)
    p = p * r + _F32(1.0 / 120.0)
    p = p * r + _F32(1.0 / 24.0)
    p = p * r + _F32(1.0 / 6.0)
    p = p * r + _F32(0.5)
    p = p * r + _F32(1.0)
    p = p * r + _F32(1.0)
    return p * _f32_from_bits((np.int32(n) + np.int32(127)) << np.int32(23))


@njit(cache=True, fastmath=_FM32, boundscheck=False)
def polar_to_complex32(a, phi):
    """In place, float32: (a, phi) -> (exp(a) cos phi, exp(a) sin phi) (log-amplitude and
    phase to a complex gain), vectorised: :func:`fast_exp32`, and :func:`fast_sin32` of the
    phase reduced to [-pi, pi] first (so cos = sin(r + pi/2) does not round a large phase).
    Relative error < 1e-6 for phases to +-1000 rad."""
    for c in range(a.shape[0]):
        mag = fast_exp32(a[c])
        r = _reduce_2pi32(phi[c])
        a[c] = mag * fast_sin32(r + _HALF_PI32)
        phi[c] = mag * fast_sin32(r)


def _scratch_parts(p, h, no):
    """float64-element offsets of the scratch parts: (o_ta, o_tb, o_to, o_pm, end). The
    hidden tiles are float32 (two per float64 element); o_pm: the mirrored direction's pose
    part (:data:`SYMMETRY_DEG`)."""
    o_ta = p + h
    o_tb = o_ta + (h * KT + 1) // 2
    o_to = o_tb + (h * KT + 1) // 2
    o_pm = o_to + no * KT
    end = o_pm + h
    return o_ta, o_tb, o_to, o_pm, end


_scratch_parts_jit = njit(cache=True)(_scratch_parts)


def ibc_scratch_size(dims) -> int:
    """float64 elements of scratch :func:`ibc_evaluate` needs:
    P (the float32 encoding uses half) + H (pose part) + two float32 H x KT hidden tiles + n_out KT (float64
    output tile) + H (the mirrored direction's pose part); independent of the grid size K."""
    return int(ibc_scratch_len(np.asarray(dims, dtype=np.int64)))


@njit(cache=True)
def ibc_scratch_len(dims):
    """:func:`ibc_scratch_size` for an int64 ``dims`` array, compiled (kernels/plan.py)."""
    return _scratch_parts_jit(4 + 2 * dims[D_NDIR], dims[D_H], dims[D_NOUT])[4]


def ibc_prepared_size(dims, k: int) -> int:
    """float32 elements of :func:`ibc_prepare`'s output for a grid of ``k`` points."""
    return int(ibc_prepared_len(np.asarray(dims, dtype=np.int64), int(k)))


@njit(cache=True)
def ibc_prepared_len(dims, k):
    """:func:`ibc_prepared_size` for an int64 ``dims`` array, compiled (kernels/plan.py)."""
    h = dims[D_H]
    return h * k + dims[D_L] * h * h + h * (4 + 2 * dims[D_NDIR])


def ibc_macs_per_evaluation(dims, k: int) -> int:
    """Multiply-accumulates of one :func:`ibc_evaluate` call with ``k`` grid points."""
    d = np.asarray(dims, dtype=np.int64)
    h, nl, nd = int(d[D_H]), int(d[D_L]), int(d[D_NDIR])
    p = 4 + 2 * nd
    return 3 * nd + p * h + int(k) * (nl * h * h + int(d[D_NOUT]) * h)


@njit(cache=True)
def ibc_frequency_part(theta, dims, grid_hz, fpart):
    """fpart[i*K + k] = (W_f enc_f(grid_hz[k]) + b1)[i] (hidden unit major, grid index
    contiguous, as :func:`ibc_evaluate` reads it)."""
    o_bd, o_bf, o_wp, o_wf, o_b1, o_hid, o_wo, o_bo, total, p, fdim = ibc_layout(dims)
    nf = dims[D_NFREQ]
    h = dims[D_H]
    k_count = grid_hz.shape[0]
    f_scale = theta[3]
    for k in range(k_count):
        x = grid_hz[k] / f_scale
        for i in range(h):
            row = o_wf + i * fdim
            acc = theta[o_b1 + i] + theta[row] * x
            for j in range(nf):
                arg = math.pi * theta[o_bf + j] * x
                acc += theta[row + 1 + j] * math.sin(arg) + theta[row + 1 + nf + j] * math.cos(arg)
            fpart[i * k_count + k] = acc


@njit(cache=True)
def ibc_prepare(theta, dims, grid_hz, prep):
    """Fill ``prep`` (float32, :func:`ibc_prepared_size`) for :func:`ibc_evaluate`: the
    frequency half of the first layer at every grid point (:func:`ibc_frequency_part`),
    the L hidden matrices and the pose half of the first layer W_p, all rounded to
    float32 (the first-layer sum is rounded to float32 anyway; half the bytes to read per
    evaluation). Run once per model and grid (at engine creation), not per evaluation."""
    h = dims[D_H]
    nl = dims[D_L]
    k_count = grid_hz.shape[0]
    ibc_frequency_part(theta, dims, grid_hz, prep[:h * k_count])
    o_wp = ibc_layout(dims)[2]
    o_hid = ibc_layout(dims)[5]
    p = ibc_layout(dims)[9]
    w = prep[h * k_count:]
    for l in range(nl):
        src = theta[o_hid + l * (h * h + h):o_hid + l * (h * h + h) + h * h]
        for j in range(h * h):
            w[l * h * h + j] = src[j]
    wp = w[nl * h * h:nl * h * h + h * p]
    for j in range(h * p):
        wp[j] = theta[o_wp + j]


# Inner loops index arrays (or views) with plain loop variables and constant trip counts:
# numba then can prove the index non-negative and drops its negative-index wraparound
# select (which otherwise blocks vectorisation), and LLVM fully vectorises the KT lanes.



@njit(cache=True, fastmath=True, boundscheck=False)
def _dense_tile(w, b, n_in, n_out, src, dst):
    """dst[i*KT + t] = b[i] + sum_j w[i*n_in + j] src[j*KT + t] for all KT lanes.

    Register-blocked axpy passes: four output rows by four input rows per pass, so each
    loaded input lane feeds four FMA chains and each weight broadcast is reused across the
    KT lanes. Remainder rows/columns fall back to narrower passes. Works for float32 tiles
    (hidden layers) and float64 ones (output layer)."""
    i = 0
    while i + 4 <= n_out:
        b0 = b[i]
        b1 = b[i + 1]
        b2 = b[i + 2]
        b3 = b[i + 3]
        d0 = i * KT
        d1 = d0 + KT
        d2 = d1 + KT
        d3 = d2 + KT
        for t in range(KT):
            dst[d0 + t] = b0
            dst[d1 + t] = b1
            dst[d2 + t] = b2
            dst[d3 + t] = b3
        r0 = i * n_in
        r1 = r0 + n_in
        r2 = r1 + n_in
        r3 = r2 + n_in
        j = 0
        while j + 4 <= n_in:
            w00 = w[r0 + j]
            w01 = w[r0 + j + 1]
            w02 = w[r0 + j + 2]
            w03 = w[r0 + j + 3]
            w10 = w[r1 + j]
            w11 = w[r1 + j + 1]
            w12 = w[r1 + j + 2]
            w13 = w[r1 + j + 3]
            w20 = w[r2 + j]
            w21 = w[r2 + j + 1]
            w22 = w[r2 + j + 2]
            w23 = w[r2 + j + 3]
            w30 = w[r3 + j]
            w31 = w[r3 + j + 1]
            w32 = w[r3 + j + 2]
            w33 = w[r3 + j + 3]
            s = j * KT
            for t in range(KT):
                x0 = src[s + t]
                x1 = src[s + KT + t]
                x2 = src[s + 2 * KT + t]
                x3 = src[s + 3 * KT + t]
                dst[d0 + t] += w00 * x0 + w01 * x1 + w02 * x2 + w03 * x3
                dst[d1 + t] += w10 * x0 + w11 * x1 + w12 * x2 + w13 * x3
                dst[d2 + t] += w20 * x0 + w21 * x1 + w22 * x2 + w23 * x3
                dst[d3 + t] += w30 * x0 + w31 * x1 + w32 * x2 + w33 * x3
            j += 4
        while j < n_in:
            w00 = w[r0 + j]
            w10 = w[r1 + j]
            w20 = w[r2 + j]
            w30 = w[r3 + j]
            s = j * KT
            for t in range(KT):
                x0 = src[s + t]
                dst[d0 + t] += w00 * x0
                dst[d1 + t] += w10 * x0
                dst[d2 + t] += w20 * x0
                dst[d3 + t] += w30 * x0
            j += 1
        i += 4
    while i < n_out:
        b0 = b[i]
        d0 = i * KT
        for t in range(KT):
            dst[d0 + t] = b0
        r0 = i * n_in
        for j in range(n_in):
            w00 = w[r0 + j]
            s = j * KT
            for t in range(KT):
                dst[d0 + t] += w00 * src[s + t]
        i += 1


@njit(cache=True, fastmath=_FM32, boundscheck=False)
def _first_layer32(pose, fpart, k_count, k0, n, tile, kind):
    """tile[i*KT + t] = act(pose[i] + fpart[i*K + k0 + t]) for the tile's n grid points,
    0 for the padding lanes t >= n (float32; one fused pass for the sin activation)."""
    h = pose.shape[0]
    for i in range(h):
        pv = np.float32(pose[i])
        f = fpart[i * k_count + k0:i * k_count + k0 + n]
        d = tile[i * KT:(i + 1) * KT]
        if kind == ACT_SIN:
            for t in range(n):
                d[t] = fast_sin32(pv + f[t])
        else:
            for t in range(n):
                d[t] = pv + f[t]
        for t in range(n, KT):
            d[t] = 0.0
    if kind != ACT_SIN:
        _activate32(tile, kind)


@njit(cache=True, inline="always")
def symmetry_weight(uy):
    """Weight of the mirrored direction's output at lateral component ``uy`` (sine of the
    lateral angle): 1 on the median plane, a raised cosine to 0 at :data:`SYMMETRY_DEG`."""
    lat = math.degrees(math.asin(min(1.0, abs(uy))))
    if lat >= SYMMETRY_DEG:
        return 0.0
    return 0.5 + 0.5 * math.cos(math.pi * lat / SYMMETRY_DEG)


@njit(cache=True, fastmath=True, boundscheck=False)
def _encode_pose(theta, dims, wp32, ux, uy, uz, distance, enc, pose):
    """pose = W_p enc_p(u, rho) (float32 encoding in ``enc``)."""
    nd = dims[D_NDIR]
    bd = theta[HEADER_LEN:HEADER_LEN + 3 * nd]
    # fast_sin is accurate to ~1e-11 here; cos x = sin(x + pi/2)
    enc[0] = ux
    enc[1] = uy
    enc[2] = uz
    es = enc[3:3 + nd]
    ec = enc[3 + nd:3 + 2 * nd]
    for j in range(nd):
        arg = bd[3 * j] * ux + bd[3 * j + 1] * uy + bd[3 * j + 2] * uz
        es[j] = fast_sin(arg)
        ec[j] = fast_sin(arg + _HALF_PI)
    r = distance if distance > 1e-9 else 1e-9
    rho = math.log(r / theta[0])
    if rho < theta[1]:
        rho = theta[1]
    if rho > theta[2]:
        rho = theta[2]
    enc[3 + 2 * nd] = rho
    _pose_part(wp32, enc, pose)


@njit(cache=True, fastmath=True, boundscheck=False)
def ibc_evaluate(theta, dims, prep, ux, uy, uz, distance, scratch, out):
    """Evaluate the IBC for one pose at every grid frequency.

    ``(ux, uy, uz)`` head-relative unit direction (native frame), ``distance`` centre
    distance in metres; ``prep`` from :func:`ibc_prepare` (it fixes the grid); ``scratch``
    float64 of at least :func:`ibc_scratch_size`; ``out`` float64 of at least K*4, written
    out[k*4 + (0, 1, 2, 3)] = (log-amp L, phase L, log-amp R, phase R). Allocation free.

    Within :data:`SYMMETRY_DEG` of the median plane the output is the network's blended
    with the ears swapped of its output at the mirrored direction (y -> -y), weight
    :func:`symmetry_weight` / 2: the head's left/right symmetry (module docstring).
    """
    o_bd, o_bf, o_wp, o_wf, o_b1, o_hid, o_wo, o_bo, total, p, fdim = ibc_layout(dims)
    h = dims[D_H]
    nl = dims[D_L]
    kind = dims[D_ACT]
    no = dims[D_NOUT]
    k_count = (prep.shape[0] - nl * h * h - h * p) // h
    fpart = prep[:h * k_count]
    w32 = prep[h * k_count:h * k_count + nl * h * h]
    wp32 = prep[h * k_count + nl * h * h:h * k_count + nl * h * h + h * p]
    o_ta, o_tb, o_to, o_pm, end = _scratch_parts_jit(p, h, no)
    enc = scratch[0:(p + 1) // 2].view(np.float32)[:p]
    pose = scratch[p:p + h]
    pose_m = scratch[o_pm:o_pm + h]
    # hidden tiles in float32 (twice the FMA throughput; the hidden activations are
    # bounded); the encoding, pose part and output layer stay float64
    ta = scratch[o_ta:o_tb].view(np.float32)[:h * KT]
    tb = scratch[o_tb:o_to].view(np.float32)[:h * KT]
    to = scratch[o_to:o_to + no * KT]
    wm = 0.5 * symmetry_weight(uy) if no == N_OUT else 0.0
    if wm > 0.0:
        _encode_pose(theta, dims, wp32, ux, -uy, uz, distance, enc, pose_m)
    _encode_pose(theta, dims, wp32, ux, uy, uz, distance, enc, pose)
    # ---- grid points, KT at a time; lanes past K in the last tile are zero-padded
    for k0 in range(0, k_count, KT):
        n = min(KT, k_count - k0)
        _output_tile(theta, dims, pose, fpart, w32, k_count, k0, n, ta, tb, to)
        for t in range(n):
            for o in range(no):
                out[(k0 + t) * no + o] = to[o * KT + t]
        if wm > 0.0:
            _output_tile(theta, dims, pose_m, fpart, w32, k_count, k0, n, ta, tb, to)
            for t in range(n):
                for o in range(no):
                    i = (k0 + t) * no + o
                    out[i] += wm * (to[(o ^ 2) * KT + t] - out[i])  # o ^ 2: the other ear


@njit(cache=True, fastmath=True, boundscheck=False)
def _output_tile(theta, dims, pose, fpart, w32, k_count, k0, n, ta, tb, to):
    """``to`` (n_out x KT) = the network's outputs at grid points k0 .. k0 + n - 1 for the
    pose part ``pose``."""
    o_bd, o_bf, o_wp, o_wf, o_b1, o_hid, o_wo, o_bo, total, p, fdim = ibc_layout(dims)
    h = dims[D_H]
    nl = dims[D_L]
    kind = dims[D_ACT]
    no = dims[D_NOUT]
    _first_layer32(pose, fpart, k_count, k0, n, ta, kind)
    cur = ta
    nxt = tb
    for l in range(nl):
        wo = o_hid + l * (h * h + h)
        _dense_tile(w32[l * h * h:(l + 1) * h * h], theta[wo + h * h:wo + h * h + h], h, h,
                    cur, nxt)
        _activate32(nxt, kind)
        tmp = cur
        cur = nxt
        nxt = tmp
    _dense_tile(theta[o_wo:o_wo + no * h], theta[o_bo:o_bo + no], h, no, cur, to)


@njit(cache=True, fastmath=True, boundscheck=False)
def _pose_part(w, enc, pose):
    """pose = W_p enc (row-major H x P, float32 sums), four rows per pass so each
    encoding load feeds four vectorised reductions."""
    h = pose.shape[0]
    p = enc.shape[0]
    i = 0
    while i + 4 <= h:
        w0 = w[i * p:(i + 1) * p]
        w1 = w[(i + 1) * p:(i + 2) * p]
        w2 = w[(i + 2) * p:(i + 3) * p]
        w3 = w[(i + 3) * p:(i + 4) * p]
        a0 = np.float32(0.0)
        a1 = np.float32(0.0)
        a2 = np.float32(0.0)
        a3 = np.float32(0.0)
        for j in range(p):
            e = enc[j]
            a0 += w0[j] * e
            a1 += w1[j] * e
            a2 += w2[j] * e
            a3 += w3[j] * e
        pose[i] = a0
        pose[i + 1] = a1
        pose[i + 2] = a2
        pose[i + 3] = a3
        i += 4
    while i < h:
        acc = np.float32(0.0)
        for j in range(p):
            acc += w[i * p + j] * enc[j]
        pose[i] = acc
        i += 1
