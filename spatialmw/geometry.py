"""Poses, quaternions, coordinate systems and the spherical head model.

Native frame (the one every kernel uses) is SOFA's: right-handed, +x forward, +y left,
+z up, metres. A pose is a position plus a unit quaternion stored ``(x, y, z, w)`` that
rotates the body frame into the world frame: an identity listener faces +x with +z up.

Engines speak other frames; :func:`to_native_position` and
:func:`to_native_quaternion` convert at the boundary::

    >>> import numpy as np
    >>> to_native_position([1.0, 0.0, 0.0], "unity")   # Unity +x is right
    array([ 0., -1.,  0.])

Ear paths use a rigid sphere (Woodworth): the lit ear gets the straight line, the shadowed
ear the tangent line plus the arc around the head, which gives the ~650 us lateral ITD that
KEMAR measures where a straight-line model gives 510 us.
"""
from __future__ import annotations

import math

import numpy as np
from numba import njit

from .errors import SpatialmwError

SPEED_OF_SOUND = 343.0  # m/s, air at 20 C
DEFAULT_HEAD_RADIUS = 0.0875  # m
MIN_QUATERNION_NORM = 1e-6  # shorter (or denormal) quaternions are refused, in C too

# Rows map an engine's axes to native axes: native = M @ engine * scale.
COORDINATE_SYSTEMS = {
    "native": (np.eye(3), 1.0),
    "sofa": (np.eye(3), 1.0),
    # Unity: left-handed, +x right, +y up, +z forward, metres.
    "unity": (np.array([[0.0, 0.0, 1.0], [-1.0, 0.0, 0.0], [0.0, 1.0, 0.0]]), 1.0),
    # Unreal: left-handed, +x forward, +y right, +z up, centimetres.
    "unreal": (np.array([[1.0, 0.0, 0.0], [0.0, -1.0, 0.0], [0.0, 0.0, 1.0]]), 0.01),
    # OpenAL / OpenGL: right-handed, +x right, +y up, -z forward, metres.
    "openal": (np.array([[0.0, 0.0, -1.0], [-1.0, 0.0, 0.0], [0.0, 1.0, 0.0]]), 1.0),
    "opengl": (np.array([[0.0, 0.0, -1.0], [-1.0, 0.0, 0.0], [0.0, 1.0, 0.0]]), 1.0),
}
# The order of the C enum smw_coordinate_system.
COORDINATE_SYSTEM_IDS = ("native", "unity", "unreal", "openal")


class GeometryError(SpatialmwError, ValueError):
    """A pose, position or quaternion that cannot be used (NaN, Inf, zero length)."""


def _system(name: str):
    try:
        return COORDINATE_SYSTEMS[name.lower()]
    except (KeyError, AttributeError):
        raise GeometryError(
            f"unknown coordinate system {name!r}; expected one of {sorted(COORDINATE_SYSTEMS)}"
        ) from None


def as_vector3(v, what: str = "position") -> np.ndarray:
    """Return ``v`` as a finite float64 array of shape (3,) or raise :class:`GeometryError`."""
    try:
        a = np.asarray(v, dtype=np.float64)
    except (TypeError, ValueError):
        raise GeometryError(f"{what} must be 3 numbers, got {v!r}") from None
    if a.shape != (3,):
        raise GeometryError(f"{what} must have 3 components, got shape {a.shape}")
    if not np.all(np.isfinite(a)):
        raise GeometryError(f"{what} contains NaN or Inf: {a.tolist()}")
    return a


def normalize_quaternion(q, what: str = "orientation") -> np.ndarray:
    """Return ``q`` (x, y, z, w) normalised; zero, denormal or non-finite ones raise."""
    try:
        a = np.asarray(q, dtype=np.float64)
    except (TypeError, ValueError):
        raise GeometryError(f"{what} quaternion must be 4 numbers, got {q!r}") from None
    if a.shape != (4,):
        raise GeometryError(f"{what} quaternion must have 4 components (x, y, z, w), got {a.shape}")
    if not np.all(np.isfinite(a)):
        raise GeometryError(f"{what} quaternion contains NaN or Inf: {a.tolist()}")
    n = float(np.sqrt(np.sum(a * a)))
    if n < MIN_QUATERNION_NORM:
        raise GeometryError(f"{what} quaternion has (near) zero length {n:g}")
    return a / n


def to_native_position(p, system: str = "native") -> np.ndarray:
    """Convert a position from ``system`` (see COORDINATE_SYSTEMS) to native metres."""
    m, scale = _system(system)
    return m @ as_vector3(p) * scale


def to_native_quaternion(q, system: str = "native") -> np.ndarray:
    """Convert an orientation quaternion (x, y, z, w) from ``system`` to native.

    A rotation R in engine axes is M R M^T natively. Its axis is an axial vector, so it maps
    as det(M) M v: handedness flips reverse the sense of rotation.
    """
    m, _ = _system(system)
    q = normalize_quaternion(q)
    v = np.linalg.det(m) * (m @ q[:3])
    return np.array([v[0], v[1], v[2], q[3]])


def from_native_position(p, system: str = "native") -> np.ndarray:
    """Inverse of :func:`to_native_position`."""
    m, scale = _system(system)
    return m.T @ as_vector3(p) / scale


def quaternion_from_yaw(yaw_deg: float) -> np.ndarray:
    """Native quaternion for a turn of ``yaw_deg`` about +z (positive turns left)."""
    h = math.radians(yaw_deg) / 2.0
    return np.array([0.0, 0.0, math.sin(h), math.cos(h)])


def quaternion_from_euler(yaw_deg: float, pitch_deg: float = 0.0, roll_deg: float = 0.0) -> np.ndarray:
    """Native quaternion for intrinsic yaw (about z), then pitch (about y), then roll (x)."""
    cy, sy = math.cos(math.radians(yaw_deg) / 2), math.sin(math.radians(yaw_deg) / 2)
    cp, sp = math.cos(math.radians(pitch_deg) / 2), math.sin(math.radians(pitch_deg) / 2)
    cr, sr = math.cos(math.radians(roll_deg) / 2), math.sin(math.radians(roll_deg) / 2)
    return np.array([
        sr * cp * cy - cr * sp * sy,
        cr * sp * cy + sr * cp * sy,
        cr * cp * sy - sr * sp * cy,
        cr * cp * cy + sr * sp * sy,
    ])


@njit(cache=True, fastmath=False)
def rotate_inverse(q, v):
    """Rotate vector ``v`` by the inverse of unit quaternion ``q`` (x, y, z, w): R^T v.

    Returns a tuple so the audio-thread kernels that call it allocate nothing."""
    qx, qy, qz, qw = -q[0], -q[1], -q[2], q[3]
    # t = 2 * cross(q.xyz, v); v' = v + w t + cross(q.xyz, t)
    tx = 2.0 * (qy * v[2] - qz * v[1])
    ty = 2.0 * (qz * v[0] - qx * v[2])
    tz = 2.0 * (qx * v[1] - qy * v[0])
    return (v[0] + qw * tx + (qy * tz - qz * ty),
            v[1] + qw * ty + (qz * tx - qx * tz),
            v[2] + qw * tz + (qx * ty - qy * tx))


@njit(cache=True)
def head_relative(listener_pos, listener_q, source_pos):
    """Source position in the listener's head frame (native axes), metres, as a tuple."""
    d = (source_pos[0] - listener_pos[0], source_pos[1] - listener_pos[1],
         source_pos[2] - listener_pos[2])
    return rotate_inverse(listener_q, d)


# atan(t) / t as a polynomial in t^2 on [0, 1] (least squares, weighted by t): within
# 1.1e-9 rad of atan(t) there
_ATAN_POLY = (0.9999999778948637, -0.3333316438830098, 0.19996155469079624, -0.14244972276266543,
              0.10868259404783459, -0.08188944707223417, 0.054646333258227944, -0.028141755699878326,
              0.009392840347360588, -0.0014725681774848327)


@njit(cache=True, fastmath=True, inline="always")
def fast_atan2(y, x):
    """atan2(y, x) for finite arguments, within 2e-9 rad, with no libm call: the renderer
    takes angles of every moving source every block (the shadowed ear's arc, the
    direction table's azimuth and elevation), where libm's atan2, acos and asin were
    about 1.5 % of its time. (0, 0) gives 0."""
    ax, ay = abs(x), abs(y)
    big = max(ax, ay)
    if big == 0.0:
        return 0.0
    t = min(ax, ay) / big
    t2 = t * t
    p = _ATAN_POLY[9]
    for k in range(8, -1, -1):
        p = p * t2 + _ATAN_POLY[k]
    a = t * p
    if ay > ax:
        a = 0.5 * math.pi - a
    if x < 0.0:
        a = math.pi - a
    return -a if y < 0.0 else a


@njit(cache=True)
def ear_path_length(rel, ear_sign, head_radius):
    """Acoustic path from a head-relative source to one ear of a rigid sphere.

    ``ear_sign`` is +1 for the left ear (+y), -1 for the right. The lit ear gets the
    straight line; the shadowed ear the tangent to the sphere plus the arc to the ear
    (Woodworth). Continuous (C1) across the shadow boundary; a source inside the head
    gets the straight line, so a source at the listener gives finite equal paths.
    """
    a = head_radius
    dist = math.sqrt(rel[0] * rel[0] + rel[1] * rel[1] + rel[2] * rel[2])
    ex, ey, ez = 0.0, ear_sign * a, 0.0
    straight = math.sqrt((rel[0] - ex) ** 2 + (rel[1] - ey) ** 2 + (rel[2] - ez) ** 2)
    if dist <= a * 1.000001:
        return straight
    # gamma: the angle between the source direction and the ear axis; beyond beta the ear
    # is behind the sphere. Compared as cosines, and the arc gamma - beta taken as one acos
    # of cos(gamma - beta): the renderer calls this for both ears of every moving source
    cos_gamma = min(1.0, max(-1.0, (rel[1] * ear_sign) / dist))
    cos_beta = a / dist
    if cos_gamma >= cos_beta:
        return straight
    tangent = math.sqrt(dist * dist - a * a)
    sin_gamma = math.sqrt(1.0 - cos_gamma * cos_gamma)
    cos_arc = min(1.0, cos_gamma * cos_beta + sin_gamma * (tangent / dist))
    arc = fast_atan2(math.sqrt(max(0.0, 1.0 - cos_arc * cos_arc)), cos_arc)  # acos(cos_arc)
    return tangent + a * arc


@njit(cache=True)
def direction_angles(rel):
    """(azimuth, elevation) in degrees, SOFA convention: azimuth counter-clockwise from
    +x towards +y (left), elevation up. A zero vector is treated as straight ahead."""
    dist = math.sqrt(rel[0] * rel[0] + rel[1] * rel[1] + rel[2] * rel[2])
    if dist < 1e-9:
        return 0.0, 0.0
    az = math.degrees(math.atan2(rel[1], rel[0]))
    if az < 0.0:
        az += 360.0
    el = math.degrees(math.asin(max(-1.0, min(1.0, rel[2] / dist))))
    return az, el


def spherical_to_cartesian(az_deg, el_deg, r=1.0) -> np.ndarray:
    """SOFA spherical (deg, deg, m) to native cartesian; broadcasts over arrays."""
    az = np.radians(np.asarray(az_deg, dtype=np.float64))
    el = np.radians(np.asarray(el_deg, dtype=np.float64))
    r = np.asarray(r, dtype=np.float64)
    return np.stack([r * np.cos(el) * np.cos(az), r * np.cos(el) * np.sin(az), r * np.sin(el)], axis=-1)


def ear_delays(rel, head_radius: float = DEFAULT_HEAD_RADIUS, c: float = SPEED_OF_SOUND):
    """(left, right) propagation delays in seconds for a head-relative source position."""
    rel = tuple(as_vector3(rel))
    return (ear_path_length(rel, 1.0, head_radius) / c, ear_path_length(rel, -1.0, head_radius) / c)


# Distance models, as in OpenAL: the game-facing gain of a source at distance d (metres).
DISTANCE_NONE = 0
DISTANCE_INVERSE_CLAMPED = 1
DISTANCE_LINEAR = 2
DISTANCE_MODELS = {"none": DISTANCE_NONE, "inverse_clamped": DISTANCE_INVERSE_CLAMPED,
                   "linear": DISTANCE_LINEAR}


@njit(cache=True, inline="always")
def distance_gain(model, d, min_distance, max_distance, rolloff):
    """OpenAL's distance attenuation: none, inverse-clamped or linear (clamped)."""
    if model == DISTANCE_NONE:
        return 1.0
    dc = min(max(d, min_distance), max_distance)
    if model == DISTANCE_INVERSE_CLAMPED:
        return min_distance / (min_distance + rolloff * (dc - min_distance))
    span = max_distance - min_distance
    if span <= 0.0:
        return 1.0
    return max(0.0, 1.0 - rolloff * (dc - min_distance) / span)


@njit(cache=True)
def tdw_ear_targets(rel, head_radius, c, doppler):
    """Per-ear delay (seconds) and near-field gain of the time-domain warp.

    Returns (delay_left, delay_right, nearfield_left, nearfield_right, centre_distance).
    With Doppler on the delay is the full acoustic path; with it off only the interaural
    part moves (path - centre distance + head radius >= 0), so distance changes do not
    shift pitch. The near-field factor max(d, 2a) / max(d_ear, 2a) is spherical spreading
    relative to the head centre, flattened inside 2a so a source at the listener stays
    finite. The game's distance model multiplies on top (see :func:`distance_gain`).
    """
    d = math.sqrt(rel[0] * rel[0] + rel[1] * rel[1] + rel[2] * rel[2])
    pl = ear_path_length(rel, 1.0, head_radius)
    pr = ear_path_length(rel, -1.0, head_radius)
    r0 = 2.0 * head_radius
    nl = max(d, r0) / max(pl, r0)
    nr = max(d, r0) / max(pr, r0)
    if doppler:
        return pl / c, pr / c, nl, nr, d
    return (pl - d + head_radius) / c, (pr - d + head_radius) / c, nl, nr, d
