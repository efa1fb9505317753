"""The corrector's direction table: shaped per-bin gains precomputed on a sphere of directions.

A moving source needs new corrector gains whenever its direction changes by about a
degree (the shipped model's gains differ by ~0.4 dB LSD between directions 1 degree apart),
and evaluating the network for every moving source every block costs too much. The table
holds, for each node of a sphere of directions, the gains the engine multiplies: the
network's output shaped by :func:`~spatialmw.kernels.corrector.corrector_gains` (equaliser,
low-frequency blend, modelling delay, impulse-response window) at the engine's bins. A
lookup blends the 4 surrounding nodes bilinearly in (azimuth, elevation), and linearly
between distance rows for a model that depends on distance; a weighted sum of impulse
responses that fit the window still fits it, so table gains keep the corrector
time-invariant. Sources at rest get an exact network evaluation (:mod:`.render`).

Layout. Rings r = 0 .. R-1 at elevation -90 + r * 180 / (R - 1) degrees (native frame:
x front, y left, z up; azimuth from +x towards +y), ring r has ``counts[r]`` nodes at
azimuths 360 j / counts[r] (one node at each pole), about ``step`` degrees apart on the
sphere; node (r, j) is number ``offsets[r] + j``. Each node has ``n_rho`` distance rows at
rho = rho_min + i (rho_max - rho_min) / (n_rho - 1) (rho = log(distance / r_ref), the
model's clamped distance coordinate; one row when the model does not depend on distance).
Row (node, i) holds the 4 nbins float32 gains at ``table[(node * n_rho + i) * 4 nbins:]``.
"""
import math

import numpy as np
from numba import njit

from ..geometry import fast_atan2
from .corrector import corrector_gains, diffuse_field_equaliser
from .ibc import ibc_evaluate
from .lanes import LANES, lanes_rows4_scatter

DISTANCE_NODES = 5  # rows per direction for a distance-dependent model (linear in rho)


def table_rings(step_deg: float):
    """(counts, offsets) int64 arrays of the rings for a node spacing of ``step_deg``."""
    if not 0.5 <= step_deg <= 30.0:
        raise ValueError(f"direction table step must be in 0.5..30 degrees, got {step_deg}")
    counts = np.zeros(table_ring_total(step_deg), dtype=np.int64)
    offsets = np.zeros_like(counts)
    table_rings_fill(step_deg, counts, offsets)
    return counts, offsets


@njit(cache=True)
def table_ring_total(step_deg):
    """Number of rings for a node spacing of ``step_deg`` (0.5..30 degrees)."""
    return int(np.rint(180.0 / step_deg)) + 1


@njit(cache=True)
def table_rings_fill(step_deg, counts, offsets):
    """Fill :func:`table_rings`' arrays (length :func:`table_ring_total`) in place; returns
    the number of nodes. Compiled, so the native library plans the same table."""
    n_rings = counts.shape[0]
    total = 0
    for r in range(n_rings):
        el = math.radians(-90.0 + r * 180.0 / (n_rings - 1))
        c = max(1, int(np.rint(360.0 * math.cos(el) / step_deg)))
        counts[r] = 1 if r == 0 or r == n_rings - 1 else c
        offsets[r] = total
        total += counts[r]
    return total


@njit(cache=True)
def table_distance_rows(theta):
    """Distance rows per node: 1 for a model whose distance range is a single value."""
    return 1 if theta[2] <= theta[1] else DISTANCE_NODES


@njit(cache=True, inline="always")
def _node_direction(n_rings, ring, j, count):
    """Unit vector of node ``j`` of ``ring`` (of ``count`` nodes)."""
    el = math.radians(-90.0 + ring * 180.0 / (n_rings - 1))
    az = 2.0 * math.pi * j / count
    return math.cos(el) * math.cos(az), math.cos(el) * math.sin(az), math.sin(el)


@njit(cache=True)
def build_table(theta, dims, prep, counts, offsets, n_rho, shaping, eq, table, scratch, out):
    """Fill ``table`` (float32, nodes * n_rho * 4 nbins) with the shaped gains of the network
    at every node; ``shaping`` = (bin_idx, bin_w, blend, phase_step, window, pins, cos, sin,
    rev, re, im) as for :func:`corrector_gains`, ``eq`` its equaliser; ``scratch``/``out`` as for
    :func:`ibc_evaluate`. Run once at engine creation."""
    bin_idx, bin_w, blend, phase_step, window, pins, cos, sin, rev, re, im = shaping
    n_rings = counts.shape[0]
    row_len = 4 * (rev.shape[0] // 2 + 1)
    for r in range(n_rings):
        for j in range(counts[r]):
            ux, uy, uz = _node_direction(n_rings, r, j, counts[r])
            for i in range(n_rho):
                rho = theta[1] if n_rho == 1 else theta[1] + i * (theta[2] - theta[1]) / (n_rho - 1)
                ibc_evaluate(theta, dims, prep, ux, uy, uz, theta[0] * math.exp(rho), scratch, out)
                row = ((offsets[r] + j) * n_rho + i) * row_len
                corrector_gains(out, bin_idx, bin_w, blend, eq, phase_step, window, pins, cos, sin, rev,
                                re, im, table[row:row + row_len])


@njit(cache=True)
def diffuse_field_table_eq(theta, dims, prep, counts, shaping, scratch, out, gains, power, eq):
    """The diffuse-field equaliser of a model: :func:`diffuse_field_equaliser` of the mean
    power of its shaped gains (no equaliser) over the nodes of ``counts``' rings (about
    uniform on the sphere) at the model's reference distance. Writes ``eq`` (4 nbins)."""
    bin_idx, bin_w, blend, phase_step, window, pins, cos, sin, rev, re, im = shaping
    n_rings = counts.shape[0]
    nbins = rev.shape[0] // 2 + 1
    eq[:] = 0.0
    power[:] = 0.0
    nodes = 0
    for r in range(n_rings):
        for j in range(counts[r]):
            ux, uy, uz = _node_direction(n_rings, r, j, counts[r])
            ibc_evaluate(theta, dims, prep, ux, uy, uz, theta[0], scratch, out)
            corrector_gains(out, bin_idx, bin_w, blend, eq, phase_step, window, pins, cos, sin, rev,
                            re, im, gains)
            for k in range(nbins):
                power[k] += gains[4 * k] ** 2 + gains[4 * k + 1] ** 2
                power[nbins + k] += gains[4 * k + 2] ** 2 + gains[4 * k + 3] ** 2
            nodes += 1
    diffuse_field_equaliser(power, nodes, cos, sin, rev, re, im, eq)


@njit(cache=True, fastmath=True, inline="always")
def _ring_nodes(counts, offsets, ring, az, n_rho, i0, weight):
    """The two nodes of ``ring`` around azimuth ``az`` (a fraction of a turn): the row of
    each at distance row ``i0`` and its bilinear weight times ``weight``."""
    c = counts[ring]
    y = az * c
    j = int(y)
    fa = y - j
    j = j % c
    return ((offsets[ring] + j) * n_rho + i0, (offsets[ring] + (j + 1) % c) * n_rho + i0,
            weight * (1.0 - fa), weight * fa)


@njit(cache=True, fastmath=True, boundscheck=False)
def lookup_table(table, counts, offsets, n_rho, k4, theta, ux, uy, uz, distance, out, o0, stride):
    """out[o0 + m stride] for m < ``k4`` (a row's length) = the table interpolated at unit
    direction (ux, uy, uz) and ``distance`` (metres): bilinear over the two enclosing rings
    and the two nodes around the azimuth on each, linear between the enclosing distance
    rows. The engine writes a moving source's target straight into its lane-major gains
    (stride LANES)."""
    n_rings = counts.shape[0]
    el = math.degrees(fast_atan2(uz, math.sqrt(ux * ux + uy * uy)))
    x = (el + 90.0) * (n_rings - 1) / 180.0
    r0 = min(int(x), n_rings - 2)
    fe = x - r0
    az = fast_atan2(uy, ux) / (2.0 * math.pi)
    if az < 0.0:
        az += 1.0
    i0 = 0
    fr = 0.0
    if n_rho > 1:
        rho = math.log(max(distance, 1e-9) / theta[0])
        z = (min(max(rho, theta[1]), theta[2]) - theta[1]) / (theta[2] - theta[1]) * (n_rho - 1)
        i0 = min(int(z), n_rho - 2)
        fr = z - i0
    # the 4 direction nodes: 2 on each enclosing ring
    rows0, rows1, w0, w1 = _ring_nodes(counts, offsets, r0, az, n_rho, i0, 1.0 - fe)
    rows2, rows3, w2, w3 = _ring_nodes(counts, offsets, r0 + 1, az, n_rho, i0, fe)
    # one pass per distance row: four weighted rows summed in registers
    full = k4 - k4 % LANES
    for ii in range(2 if n_rho > 1 else 1):
        wr = (fr if ii == 1 else 1.0 - fr) if n_rho > 1 else 1.0
        j0, j1, j2, j3 = (rows0 + ii) * k4, (rows1 + ii) * k4, (rows2 + ii) * k4, (rows3 + ii) * k4
        a0 = np.float32(w0 * wr)
        a1 = np.float32(w1 * wr)
        a2 = np.float32(w2 * wr)
        a3 = np.float32(w3 * wr)
        for m in range(0, full, LANES):
            lanes_rows4_scatter(table, j0 + m, j1 + m, j2 + m, j3 + m, a0, a1, a2, a3, out, o0 + m * stride,
                                stride, ii == 1)
        for m in range(full, k4):
            x = a0 * table[j0 + m] + a1 * table[j1 + m] + a2 * table[j2 + m] + a3 * table[j3 + m]
            if ii == 0:
                out[o0 + m * stride] = x
            else:
                out[o0 + m * stride] += x
