"""Near field: the head shadow of a close source, as on a rigid sphere.

The corrector is fitted to measurements at one distance (the model's ``r_ref``, 1.4 m for
the shipped KEMAR set), so by itself it renders a source at 0.25 m with the interaural
level difference of one at 1.4 m. Close to a head the level difference grows: the near
ear is much closer than the far one and the sphere's shadow deepens. The engine scales
each ear by the rigid-sphere ratio

    g_e(r, theta_e) = |H(r, theta_e)| / |H(r_ref, theta_e)|

where H is the pressure at a point on a rigid sphere (the head radius) from a point
source at distance r, relative to the free field at the sphere's centre (Duda & Martens
1998, eq. 7), and theta_e the angle between the source and the ear. The distance model
and the warp's delays stay as they are. H is evaluated at :data:`REFERENCE_HZ`: the
near-field increase of the level difference is nearly flat with frequency (within about
1 dB from 100 Hz to 3 kHz at 0.25 m), so one broadband gain per ear, ramped across each
block like the warp's other gains, carries it at no cost per bin.

The ratio is tabulated at renderer creation over log-spaced distances
(:data:`MIN_DISTANCE_RADII` head radii .. :data:`MAX_DISTANCE_M`) and angles, and read
bilinearly.
"""
import math

from numba import njit

REFERENCE_HZ = 500.0
N_DISTANCES = 32
N_ANGLES = 37            # 0, 5, ..., 180 degrees
MIN_DISTANCE_RADII = 1.25
MAX_DISTANCE_M = 10.0
TABLE_LEN = N_DISTANCES * N_ANGLES
MAX_ORDER = 60


@njit(cache=True)
def _sphere_sum(kr, ka, cos_theta):
    """|sum_m (2m + 1) P_m(cos theta) h_m(kr) / h_m'(ka)|, spherical Hankel functions of
    the second kind by upward recurrence (stable for them), until the terms vanish."""
    # h_m(x) = j_m(x) - i y_m(x); h_0 = i e^{-ix} / x, h_1 = e^{-ix} (i / x^2 - 1 / x)
    hr0, hi0 = math.sin(kr) / kr, math.cos(kr) / kr
    hr1, hi1 = math.sin(kr) / kr ** 2 - math.cos(kr) / kr, math.cos(kr) / kr ** 2 + math.sin(kr) / kr
    ar0, ai0 = math.sin(ka) / ka, math.cos(ka) / ka
    ar1, ai1 = math.sin(ka) / ka ** 2 - math.cos(ka) / ka, math.cos(ka) / ka ** 2 + math.sin(ka) / ka
    p0, p1 = 1.0, cos_theta
    sr, si = 0.0, 0.0
    # m = 0: h_0' = -h_1
    sr, si = _add_term(sr, si, 1.0 * p0, hr0, hi0, -ar1, -ai1)
    for m in range(1, MAX_ORDER):
        # h_m'(ka) = h_{m-1}(ka) - (m + 1) / ka h_m(ka)
        dr = ar0 - (m + 1) / ka * ar1
        di = ai0 - (m + 1) / ka * ai1
        tr, ti = sr, si
        sr, si = _add_term(sr, si, (2 * m + 1) * p1, hr1, hi1, dr, di)
        if m > 2 * kr + 10 and abs(sr - tr) + abs(si - ti) < 1e-12 * (abs(sr) + abs(si)):
            break
        # next orders
        hr0, hi0, hr1, hi1 = hr1, hi1, (2 * m + 1) / kr * hr1 - hr0, (2 * m + 1) / kr * hi1 - hi0
        ar0, ai0, ar1, ai1 = ar1, ai1, (2 * m + 1) / ka * ar1 - ar0, (2 * m + 1) / ka * ai1 - ai0
        p0, p1 = p1, ((2 * m + 1) * cos_theta * p1 - m * p0) / (m + 1)
    return math.sqrt(sr * sr + si * si)


@njit(cache=True, inline="always")
def _add_term(sr, si, w, nr, ni, dr, di):
    d = dr * dr + di * di
    return sr + w * (nr * dr + ni * di) / d, si + w * (ni * dr - nr * di) / d


@njit(cache=True)
def sphere_level(r, theta, head_radius, c):
    """|H(r, theta)| at :data:`REFERENCE_HZ` (module docstring)."""
    k = 2.0 * math.pi * REFERENCE_HZ / c
    ka = k * head_radius
    return r / ka * _sphere_sum(k * r, ka, math.cos(theta))


@njit(cache=True)
def _distance_at(i, head_radius):
    lo = math.log(MIN_DISTANCE_RADII * head_radius)
    return math.exp(lo + (math.log(MAX_DISTANCE_M) - lo) * i / (N_DISTANCES - 1))


@njit(cache=True)
def nearfield_table_fill(head_radius, c, r_ref, out):
    """``out`` (TABLE_LEN): log g_e(r_i, theta_j), row-major by distance."""
    for j in range(N_ANGLES):
        theta = math.pi * j / (N_ANGLES - 1)
        ref = sphere_level(r_ref, theta, head_radius, c)
        for i in range(N_DISTANCES):
            out[i * N_ANGLES + j] = math.log(sphere_level(_distance_at(i, head_radius), theta, head_radius, c) / ref)


@njit(cache=True)
def nearfield_gains(table, r, cos_theta, head_radius):
    """(g_e, g_e') at distance ``r`` (clamped to the table) for the ear at cos(source-to-ear
    angle) ``cos_theta`` and the opposite ear (angle pi minus it: one acos for both)."""
    lo = math.log(MIN_DISTANCE_RADII * head_radius)
    x = (math.log(max(r, 1e-9)) - lo) / (math.log(MAX_DISTANCE_M) - lo) * (N_DISTANCES - 1)
    x = min(max(x, 0.0), N_DISTANCES - 1.0)
    y = math.acos(min(1.0, max(-1.0, cos_theta))) / math.pi * (N_ANGLES - 1)
    i = min(int(x), N_DISTANCES - 2)
    fx = x - i
    return _interpolated_gain(table, i, fx, y), _interpolated_gain(table, i, fx, (N_ANGLES - 1) - y)


@njit(cache=True, inline="always")
def _interpolated_gain(table, i, fx, y):
    """exp of the table bilinearly interpolated at distance row i + fx, angle index y."""
    j = min(int(y), N_ANGLES - 2)
    fy = y - j
    v = ((1.0 - fx) * ((1.0 - fy) * table[i * N_ANGLES + j] + fy * table[i * N_ANGLES + j + 1])
         + fx * ((1.0 - fy) * table[(i + 1) * N_ANGLES + j] + fy * table[(i + 1) * N_ANGLES + j + 1]))
    return math.exp(v)
