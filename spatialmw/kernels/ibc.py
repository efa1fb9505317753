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

``act``: 0 = relu, 1 = tanh, 2 = sin. B_d (n_dir x 3) and b (n_freq) are trained
Fourier-feature frequencies; the frequency encoding is continuous in f, so any sample
rate / FFT size can be served by choosing the grid.

theta layout (float64, flat)::

    [r_ref, rho_min, rho_max, f_scale] | B_d (n_dir*3) | b (n_freq) | W_p (H*P) | W_f (H*F)
    | b1 (H) | L x (W_l (H*H), b_l (H)) | W_o (n_out*H) | b_o (n_out)

All matrices are row-major (out, in). Cost per evaluation (multiply-accumulates):
pose part P*H + 3*n_dir (once) plus, for each of the K grid points, L*H*H + 4*H
(the frequency part is precomputed by :func:`ibc_frequency_part` at load). The shipped
default (n_dir 128, n_freq 32, H 48, L 1, sin, K 96; 18,612 trainable parameters) costs
384 + 260*48 + 96 * (48*48 + 4*48) = 252,480 MACs per evaluation, i.e. 23.7 M MAC/s at the
engine's worst case of one evaluation per 512-sample block at 48 kHz (93.75 Hz), plus
~2 * 260 sin/cos for the encoding (the 128 direction features are sin/cos pairs).
"""
from __future__ import annotations

import math

import numpy as np
from numba import njit

DIMS_LEN = 6
D_NDIR, D_NFREQ, D_H, D_L, D_ACT, D_NOUT = range(6)
HEADER_LEN = 4
ACT_RELU, ACT_TANH, ACT_SIN = 0, 1, 2
N_OUT = 4


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


def ibc_scratch_size(dims) -> int:
    """float64 elements of scratch :func:`ibc_evaluate` needs: P (encoding) + 3 H."""
    d = np.asarray(dims, dtype=np.int64)
    return int(4 + 2 * d[D_NDIR] + 3 * d[D_H])


def ibc_macs_per_evaluation(dims, k: int) -> int:
    """Multiply-accumulates of one :func:`ibc_evaluate` call with ``k`` grid points."""
    d = np.asarray(dims, dtype=np.int64)
    h, nl, nd = int(d[D_H]), int(d[D_L]), int(d[D_NDIR])
    p = 4 + 2 * nd
    return 3 * nd + p * h + int(k) * (nl * h * h + int(d[D_NOUT]) * h)


@njit(cache=True, inline="always")
def _act(x, kind):
    if kind == ACT_RELU:
        return x if x > 0.0 else 0.0
    if kind == ACT_TANH:
        return math.tanh(x)
    return math.sin(x)


@njit(cache=True)
def ibc_frequency_part(theta, dims, grid_hz, fpart):
    """fpart[k*H + i] = (W_f enc_f(grid_hz[k]) + b1)[i]. Run once at model load."""
    o_bd, o_bf, o_wp, o_wf, o_b1, o_hid, o_wo, o_bo, total, p, fdim = ibc_layout(dims)
    nf = dims[D_NFREQ]
    h = dims[D_H]
    f_scale = theta[3]
    for k in range(grid_hz.shape[0]):
        x = grid_hz[k] / f_scale
        for i in range(h):
            row = o_wf + i * fdim
            acc = theta[o_b1 + i] + theta[row] * x
            for j in range(nf):
                arg = math.pi * theta[o_bf + j] * x
                acc += theta[row + 1 + j] * math.sin(arg) + theta[row + 1 + nf + j] * math.cos(arg)
            fpart[k * h + i] = acc


@njit(cache=True)
def ibc_evaluate(theta, dims, fpart, ux, uy, uz, distance, scratch, out):
    """Evaluate the IBC for one pose at every precomputed grid frequency.

    ``(ux, uy, uz)`` head-relative unit direction (native frame), ``distance`` centre
    distance in metres; ``fpart`` from :func:`ibc_frequency_part`; ``scratch`` float64 of
    at least :func:`ibc_scratch_size`; ``out`` float64 of at least K*4, written
    out[k*4 + (0, 1, 2, 3)] = (log-amp L, phase L, log-amp R, phase R). Allocation free.
    """
    o_bd, o_bf, o_wp, o_wf, o_b1, o_hid, o_wo, o_bo, total, p, fdim = ibc_layout(dims)
    nd = dims[D_NDIR]
    h = dims[D_H]
    nl = dims[D_L]
    kind = dims[D_ACT]
    no = dims[D_NOUT]
    k_count = fpart.shape[0] // h
    enc = scratch[0:p]
    pose = scratch[p:p + h]
    ha = scratch[p + h:p + 2 * h]
    hb = scratch[p + 2 * h:p + 3 * h]
    # ---- pose encoding
    enc[0] = ux
    enc[1] = uy
    enc[2] = uz
    for j in range(nd):
        arg = theta[o_bd + 3 * j] * ux + theta[o_bd + 3 * j + 1] * uy + theta[o_bd + 3 * j + 2] * uz
        enc[3 + j] = math.sin(arg)
        enc[3 + nd + j] = math.cos(arg)
    r = distance if distance > 1e-9 else 1e-9
    rho = math.log(r / theta[0])
    if rho < theta[1]:
        rho = theta[1]
    if rho > theta[2]:
        rho = theta[2]
    enc[3 + 2 * nd] = rho
    for i in range(h):
        row = o_wp + i * p
        acc = 0.0
        for j in range(p):
            acc += theta[row + j] * enc[j]
        pose[i] = acc
    # ---- per grid point
    for k in range(k_count):
        for i in range(h):
            ha[i] = _act(pose[i] + fpart[k * h + i], kind)
        src = ha
        dst = hb
        for l in range(nl):
            wo = o_hid + l * (h * h + h)
            bo = wo + h * h
            for i in range(h):
                acc = theta[bo + i]
                row = wo + i * h
                for j in range(h):
                    acc += theta[row + j] * src[j]
                dst[i] = _act(acc, kind)
            tmp = src
            src = dst
            dst = tmp
        for o in range(no):
            acc = theta[o_bo + o]
            row = o_wo + o * h
            for j in range(h):
                acc += theta[row + j] * src[j]
            out[k * no + o] = acc
