import math

import numpy as np
import pytest

from spatialmw import geometry as G
from tests.helpers import lag_samples, rms_db

# "left of the listener" and "straight ahead", spelled in each engine's own axes
LEFT = {"native": [0, 2, 0], "unity": [-2, 0, 0], "unreal": [0, -200, 0], "openal": [-2, 0, 0]}
AHEAD = {"native": [2, 0, 0], "unity": [0, 0, 2], "unreal": [200, 0, 0], "openal": [0, 0, -2]}
# a 90 degree turn to the listener's left, in each engine's quaternion convention
TURN_LEFT = {
    "native": G.quaternion_from_yaw(90),
    "unity": [0, -math.sin(math.pi / 4), 0, math.cos(math.pi / 4)],   # left-handed: -90 about +y
    "unreal": [0, 0, -math.sin(math.pi / 4), math.cos(math.pi / 4)],  # left-handed: -90 yaw
    "openal": [0, math.sin(math.pi / 4), 0, math.cos(math.pi / 4)],   # right-handed: +90 about +y
}


@pytest.mark.parametrize("system", sorted(LEFT))
def test_left_is_left_in_every_system(system):
    rel = G.to_native_position(LEFT[system], system)
    np.testing.assert_allclose(rel, [0, 2, 0], atol=1e-12)
    dl, dr = G.ear_delays(rel)
    assert dl < dr


@pytest.mark.parametrize("system", sorted(TURN_LEFT))
def test_turned_listener_hears_front_source_on_the_side(system):
    q = G.to_native_quaternion(TURN_LEFT[system], system)
    pos = G.to_native_position(AHEAD[system], system)
    rel = G.head_relative(np.zeros(3), q, pos)
    # turned left by 90 degrees, the source that was ahead is now on the right
    np.testing.assert_allclose(rel, [0, -2, 0], atol=1e-9)


@pytest.mark.parametrize("system", sorted(LEFT))
def test_rendered_left_source_is_louder_and_earlier_on_the_left(tdw_engine, system):
    eng = tdw_engine
    s = eng.add_source(distance_model="none")
    eng.set_source_pose(s, G.to_native_position(LEFT[system], system))
    x = np.random.default_rng(1).standard_normal(512 * 20).astype(np.float32)
    y = []
    for i in range(0, len(x), 512):
        eng.write(s, x[i:i + 512])
        y.append(eng.render(512))
    y = np.concatenate(y)
    assert rms_db(y[:, 0]) > rms_db(y[:, 1])
    assert lag_samples(y[:, 1], y[:, 0]) > 10  # right ear lags by ~30 samples


def test_woodworth_path_matches_closed_form_for_far_lateral_source():
    a = 0.0875
    r = 1000.0
    dl, dr = G.ear_delays([0, r, 0], head_radius=a)
    # far field Woodworth ITD for 90 degrees: a/c (theta + sin theta)
    assert (dr - dl) * 1e6 == pytest.approx(a / G.SPEED_OF_SOUND * (math.pi / 2 + 1) * 1e6, abs=0.5)


def test_source_at_listener_is_finite_and_symmetric():
    dl, dr = G.ear_delays([0, 0, 0])
    assert math.isfinite(dl) and dl == pytest.approx(dr)
    t = G.tdw_ear_targets((0.0, 0.0, 0.0), 0.0875, 343.0, True)
    assert all(math.isfinite(v) for v in t)


@pytest.mark.parametrize("bad", [[np.nan, 0, 0], [0, np.inf, 0], [1, 2], "abc"])
def test_bad_positions_raise(bad):
    with pytest.raises(G.GeometryError):
        G.as_vector3(bad)


@pytest.mark.parametrize("bad", [[0, 0, 0, 0], [0, 0, 0, 1e-12], [np.nan, 0, 0, 1], [1, 0, 0]])
def test_bad_quaternions_raise(bad):
    with pytest.raises(G.GeometryError):
        G.normalize_quaternion(bad)


def test_unknown_coordinate_system():
    with pytest.raises(G.GeometryError, match="unknown coordinate system"):
        G.to_native_position([1, 2, 3], "godot-upside-down")


def test_unreal_centimetres():
    np.testing.assert_allclose(G.to_native_position([100, 50, 20], "unreal"), [1.0, -0.5, 0.2])
    np.testing.assert_allclose(G.from_native_position([1.0, -0.5, 0.2], "unreal"), [100, 50, 20])


def test_ear_path_length_is_woodworths_straight_line_or_tangent_plus_arc():
    """The renderer's path (cosines compared, one acos of cos(gamma - beta)) against
    Woodworth's formula written with both angles: gamma = acos(y / d), beta = acos(a / d)."""
    a = 0.0875
    rng = np.random.default_rng(3)
    for _ in range(2000):
        v = rng.normal(size=3)
        v *= rng.uniform(0.1, 40.0) / np.linalg.norm(v)
        for ear in (1.0, -1.0):
            d = float(np.linalg.norm(v))
            gamma = math.acos(float(np.clip(v[1] * ear / d, -1.0, 1.0)))
            beta = math.acos(a / d)
            want = (float(np.linalg.norm(v - np.array([0.0, ear * a, 0.0]))) if gamma <= beta
                    else math.sqrt(d * d - a * a) + a * (gamma - beta))
            assert abs(G.ear_path_length(tuple(v), ear, a) - want) < 1e-9


def test_nearfield_gains_of_both_ears_match_the_table_read_at_each_ears_angle():
    """One acos for both ears (the far ear's angle is pi minus the near one's) gives what
    reading the table at each ear's own angle gives (bilinear in log distance and angle)."""
    from spatialmw.kernels import nearfield as nf
    a = 0.0875
    table = np.zeros(nf.TABLE_LEN)
    nf.nearfield_table_fill(a, 343.0, 1.4, table)
    grid = table.reshape(nf.N_DISTANCES, nf.N_ANGLES)
    lo, hi = math.log(nf.MIN_DISTANCE_RADII * a), math.log(nf.MAX_DISTANCE_M)

    def direct(r, c):
        x = np.clip((math.log(r) - lo) / (hi - lo) * (nf.N_DISTANCES - 1), 0, nf.N_DISTANCES - 1)
        y = math.acos(c) / math.pi * (nf.N_ANGLES - 1)
        i, j = min(int(x), nf.N_DISTANCES - 2), min(int(y), nf.N_ANGLES - 2)
        fx, fy = x - i, y - j
        v = ((1 - fx) * ((1 - fy) * grid[i, j] + fy * grid[i, j + 1])
             + fx * ((1 - fy) * grid[i + 1, j] + fy * grid[i + 1, j + 1]))
        return math.exp(v)
    for r in (0.15, 0.3, 0.7, 1.4, 5.0):
        for c in np.linspace(-1.0, 1.0, 23):
            near, far = nf.nearfield_gains(table, r, float(c), a)
            assert abs(near - direct(r, c)) < 1e-9 * direct(r, c)
            assert abs(far - direct(r, -c)) < 1e-9 * direct(r, -c)
    assert nf.nearfield_gains(table, 0.3, 0.9, a)[0] > nf.nearfield_gains(table, 0.3, 0.9, a)[1]  # near ear louder


def test_fast_atan2_is_libms_atan2_within_2e_9_rad_in_every_quadrant_and_scale():
    rng = np.random.default_rng(7)
    y = rng.standard_normal(20000) * 10.0 ** rng.uniform(-9, 4, 20000)
    x = rng.standard_normal(20000) * 10.0 ** rng.uniform(-9, 4, 20000)
    pts = list(zip(y, x)) + [(0.0, 1.0), (0.0, -1.0), (1.0, 0.0), (-1.0, 0.0), (1.0, 1.0), (-1.0, -1.0), (0.0, 0.0)]
    err = max(abs(G.fast_atan2(a, b) - math.atan2(a, b)) for a, b in pts)
    assert err < 2e-9
