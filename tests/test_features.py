"""Engine features a game reaches for: directivity cones, occlusion / transmission, air
absorption and the reverb bus, each measured on the rendered audio through both front
ends (the Python Engine and the C library through spatialmw.native).

Band levels are ratios of the same noise rendered with and without the feature, so the
head's own response cancels; references are computed independently here (the ISO 9613-1
absorption formula, written again in numpy; the set gains)."""
from __future__ import annotations

import math

import numpy as np
import pytest

from spatialmw import geometry, metrics
from tests.helpers import LIB, ensure_lib

SR = 48000
BLOCK = 512


def _renderer(front: str, **kw):
    if front == "python":
        from spatialmw.engine import Engine
        return Engine(SR, max_sources=2, max_block=BLOCK, **kw)
    from spatialmw.native import Renderer
    ensure_lib()
    return Renderer(SR, max_sources=2, max_block=BLOCK, lib=LIB, **kw)


def _render(front, setup, pos=(2.0, 0.0, 0.0), quat=(0.0, 0.0, 0.0, 1.0), x=None, blocks=60, renderer_setup=None):
    r = _renderer(front)
    s = r.add_source(distance_model="none")
    r.set_source_pose(s, pos, quat)
    setup(r, s)
    if renderer_setup:
        renderer_setup(r)
    if x is None:
        x = (0.1 * np.random.default_rng(1).standard_normal(BLOCK * blocks)).astype(np.float32)
    out = []
    for b in range(len(x) // BLOCK):
        r.write(s, x[b * BLOCK:(b + 1) * BLOCK])
        out.append(r.render(BLOCK))
    return np.concatenate(out).astype(np.float64)


def _band_db(y, lo, hi, skip=10 * BLOCK):
    return metrics.band_level_db(y[skip:], SR, lo, hi)


FRONTS = ["python", "c"]


@pytest.fixture(scope="module")
def reference_noise():
    """The unoccluded, omnidirectional render at 2 m (per front end: they are equal)."""
    return {f: _render(f, lambda r, s: None) for f in FRONTS}


@pytest.mark.parametrize("front", FRONTS)
def test_transmission_sets_each_band(front, reference_noise):
    low, mid, high = 0.5, 0.25, 0.1
    y = _render(front, lambda r, s: r.set_source_transmission(s, low, mid, high))
    ref = reference_noise[front]
    for (lo, hi), g in (((60, 200), low), ((1200, 2000), mid), ((10000, 16000), high)):
        got = _band_db(y, lo, hi) - _band_db(ref, lo, hi)
        assert np.all(np.abs(got - 20 * math.log10(g)) < 0.5), (lo, hi, got)


def _iso9613_db_per_m(f, temp_c=20.0, rh=50.0):
    """ISO 9613-1 eq. (3)-(5), one atmosphere, written independently of spatialmw.kernels.tone."""
    T = temp_c + 273.15
    h = rh * 10 ** (-6.8346 * (273.16 / T) ** 1.261 + 4.6151)
    fro = 24 + 4.04e4 * h * (0.02 + h) / (0.391 + h)
    frn = (T / 293.15) ** -0.5 * (9 + 280 * h * np.exp(-4.170 * ((T / 293.15) ** (-1 / 3) - 1)))
    return 8.686 * f ** 2 * (1.84e-11 * (T / 293.15) ** 0.5 + (T / 293.15) ** -2.5 * (
        0.01275 * np.exp(-2239.1 / T) / (fro + f ** 2 / fro) + 0.1068 * np.exp(-3352.0 / T) / (frn + f ** 2 / frn)))


@pytest.mark.parametrize("front", FRONTS)
def test_air_absorption_at_100_m_follows_iso_9613(front):
    ref = _render(front, lambda r, s: None, pos=(100.0, 0.0, 0.0))
    y = _render(front, lambda r, s: r.set_source_air_absorption(s, 1.0), pos=(100.0, 0.0, 0.0))
    # the standard's figures at 20 degC / 50 % (Table 1): 29.7 dB/km at 4 kHz, 105 at 8 kHz
    assert abs(_iso9613_db_per_m(4000.0) * 1000 - 29.7) < 0.3
    assert abs(_iso9613_db_per_m(8000.0) * 1000 - 105.0) < 1.0
    for fc in (1000.0, 4000.0, 8000.0):
        f = np.linspace(0.95 * fc, 1.05 * fc, 41)
        expect = 10 * np.log10(np.mean(10 ** (-_iso9613_db_per_m(f) * 100.0 / 10)))
        got = _band_db(y, 0.95 * fc, 1.05 * fc) - _band_db(ref, 0.95 * fc, 1.05 * fc)
        assert np.all(np.abs(got - expect) < 1.0), (fc, got, expect)
    assert np.all(_band_db(y, 7600, 8400) - _band_db(ref, 7600, 8400) < -9.0)


@pytest.mark.parametrize("front", FRONTS)
def test_cone_attenuates_behind_the_source(front, reference_noise):
    """The source at (2, 0, 0) faces +x (identity): the listener is behind it, beyond the
    outer cone. Facing the listener (yaw 180), nothing changes."""
    cone = (60.0, 120.0, 0.25, 0.5)
    away = _render(front, lambda r, s: r.set_source_cone(s, *cone))
    ref = reference_noise[front]
    assert np.all(np.abs(_band_db(away, 300, 1000) - _band_db(ref, 300, 1000) - 20 * math.log10(0.25)) < 0.5)
    hf = _band_db(away, 10000, 16000) - _band_db(ref, 10000, 16000)
    assert np.all(np.abs(hf - 20 * math.log10(0.25 * 0.5)) < 1.0), hf
    facing = _render(front, lambda r, s: r.set_source_cone(s, *cone), quat=geometry.quaternion_from_yaw(180.0))
    assert np.all(np.abs(_band_db(facing, 300, 16000) - _band_db(ref, 300, 16000)) < 0.05)
    # halfway between the half-angles (45 degrees off axis): half the outer attenuation
    half = _render(front, lambda r, s: r.set_source_cone(s, *cone), quat=geometry.quaternion_from_yaw(180.0 - 45.0))
    expect = 20 * math.log10(1.0 + 0.5 * (0.25 - 1.0))
    assert np.all(np.abs(_band_db(half, 300, 1000) - _band_db(ref, 300, 1000) - expect) < 0.5)


def _tone_with_changes(blocks, changes):
    """Left ear of a 300 Hz tone from 2 m ahead, ``changes[b](engine, source)`` applied
    before block b; and the same output high-passed at 3 kHz (where a click would show)."""
    from scipy.signal import butter, sosfilt

    from spatialmw.engine import Engine
    e = Engine(SR, max_sources=1, max_block=BLOCK)
    s = e.add_source(distance_model="none")
    e.set_source_pose(s, (2.0, 0.0, 0.0))
    x = (0.5 * np.sin(2 * np.pi * 300.0 * np.arange(BLOCK * blocks) / SR)).astype(np.float32)
    out = []
    for b in range(blocks):
        if b in changes:
            changes[b](e, s)
        e.write(s, x[b * BLOCK:(b + 1) * BLOCK])
        out.append(e.render(BLOCK))
    y = np.concatenate(out)[:, 0].astype(np.float64)
    return x, y, sosfilt(butter(8, 3000, btype="high", fs=SR, output="sos"), y)


def test_tone_changes_do_not_click():
    """A tone whose transmission drops from 1 to 0.1 in every band mid-stream: the change
    ramps like the corrector's cues, so nothing appears above 3 kHz."""
    _, y, hf = _tone_with_changes(40, {20: lambda e, s: e.set_source_transmission(s, 0.1, 0.1, 0.1)})
    level = np.max(np.abs(y[10 * BLOCK:19 * BLOCK]))
    assert 20 * np.log10(np.max(np.abs(hf[19 * BLOCK:24 * BLOCK])) / level) < -60.0
    assert abs(20 * np.log10(np.max(np.abs(y[30 * BLOCK:])) / level) + 20.0) < 0.5


def test_tone_response_is_the_formula_to_float32_precision():
    """tone_response's polynomial exp, cos and sin (which vectorise) against numpy's, over the
    band gains a game sets (down to MIN_TONE_GAIN) and air paths up to 2 km at 10x."""
    from spatialmw.kernels.tone import (MIN_TONE_GAIN, T_PHI_AIR, T_PHI_HIGH, T_PHI_LOW, T_W_HIGH,
                                        T_W_LOW, TONE_TABLE_ROWS, tone_response)
    rng = np.random.default_rng(3)
    nb = 257
    table = np.concatenate([rng.uniform(0, 1, 2 * nb), rng.uniform(-3, 3, 3 * nb)])
    alpha = rng.uniform(0, 0.2, nb)
    assert TONE_TABLE_ROWS == 5
    row = lambda r: table[r * nb:(r + 1) * nb]
    for g_low, g_mid, g_high, air in [(0.3, 0.1, 0.03, 0.0), (1.0, 0.5, 2.0, 40.0), (0.0, 1.0, 1e-3, 20000.0),
                                      (2.5, 0.01, 1.0, 3.0)]:
        out = np.zeros(2 * nb, np.float32)
        tone_response(table, alpha, g_low, g_mid, g_high, air, out)
        lm, ll, lh = (np.log(max(g, MIN_TONE_GAIN)) for g in (g_mid, g_low, g_high))
        da = -air * np.log(10.0) / 20.0
        mag = lm + (ll - lm) * row(T_W_LOW) + (lh - lm) * row(T_W_HIGH) + da * alpha
        phase = (ll - lm) * row(T_PHI_LOW) + (lh - lm) * row(T_PHI_HIGH) + da * row(T_PHI_AIR)
        ref = np.exp(np.maximum(mag, -104.0)) * np.exp(1j * phase)
        got = out[0::2] + 1j * out[1::2].astype(np.float64)
        np.testing.assert_allclose(got, ref, rtol=3e-7, atol=1e-37)


def test_tone_is_time_invariant_and_adds_no_pre_echo(engine):
    """An occluded, air-absorbed static source is still a linear time-invariant filter to
    within -120 dB, as a flat one is (-130 dB): the tone's minimum-phase response, about 1 ms
    long, lengthens the corrector's, and the product is cut to the corrector's window so
    that nothing folds back across the overlap-save frame (with this 20 dB band tilt and
    10x air absorption it measures -136 dB; -61 dB before the cut), and an impulse has no
    energy before its onset."""
    s = engine.add_source(distance_model="none")
    engine.set_source_pose(s, (2.0, 1.0, 0.0))
    engine.set_source_transmission(s, 0.3, 0.1, 0.03)
    engine.set_source_air_absorption(s, 10.0)
    n = BLOCK * 48
    t = np.arange(n) / SR
    x = np.zeros(n, np.float32)
    x[BLOCK * 8] = 1.0
    x[BLOCK * 24:] = (0.5 * np.sin(2 * np.pi * 1000.0 * t[BLOCK * 24:])).astype(np.float32)
    y = np.concatenate([(engine.write(s, x[b * BLOCK:(b + 1) * BLOCK]), engine.render(BLOCK))[1]
                        for b in range(48)]).astype(np.float64)
    for ear in range(2):
        assert metrics.thd_n_db(y[BLOCK * 30:, ear], SR, 1000.0) < -120.0
        ir = y[BLOCK * 8:BLOCK * 20, ear]
        assert metrics.pre_echo_db(ir, metrics.onset_index(ir), SR) < -60.0


@pytest.mark.parametrize("front", FRONTS)
@pytest.mark.parametrize("decay", [0.6, 2.0])
def test_reverb_decays_at_its_setting_and_is_decorrelated(front, decay):
    x = np.zeros(BLOCK * 260, np.float32)
    x[0] = 1.0
    y = _render(front, lambda r, s: r.set_source_reverb_send(s, 1.0), x=x,
                renderer_setup=lambda r: r.set_reverb(decay_time=decay, pre_delay=0.05, hf_ratio=0.5, wet_gain=1.0))
    dry = _render(front, lambda r, s: None, x=x[:BLOCK * 8], blocks=8)
    onset = metrics.onset_index(dry[:, 0])
    wet = y[:, :]
    wet_head = wet[:dry.shape[0]] - dry
    # nothing of the reverb before the pre-delay, then its first echo
    first = int(np.argmax(np.abs(wet_head[:, 0]) > 1e-4 * np.max(np.abs(dry))))
    assert first >= onset + int(0.05 * SR) - 64
    tail = wet[onset + int(0.06 * SR):]
    for ear in range(2):
        rt = metrics.decay_time_s(tail[:, ear], SR, 500.0, 2000.0)
        assert abs(rt / decay - 1.0) < 0.1, (ear, rt)
    for lo, hi in ((500, 1000), (1000, 2000), (2000, 4000), (4000, 8000)):
        assert metrics.interaural_coherence(tail[:SR // 2, 0], tail[:SR // 2, 1], SR, lo, hi) < 0.3


def test_reverb_off_changes_nothing():
    a = _render("python", lambda r, s: r.set_source_reverb_send(s, 1.0), blocks=20)
    b = _render("python", lambda r, s: None, blocks=20)
    np.testing.assert_array_equal(a, b)


def test_features_render_the_same_through_both_front_ends():
    def setup(r, s):
        r.set_source_cone(s, 90.0, 180.0, 0.5, 0.3)
        r.set_source_transmission(s, 0.8, 0.4, 0.2)
        r.set_source_air_absorption(s, 2.0)
        r.set_source_reverb_send(s, 0.5)
        r.set_source_spread(s, 120.0)
    rev = lambda r: r.set_reverb(decay_time=0.8, pre_delay=0.01, hf_ratio=0.7, wet_gain=0.5)  # noqa: E731
    a = _render("python", setup, pos=(5.0, 3.0, 1.0), quat=geometry.quaternion_from_yaw(150.0), blocks=40,
                renderer_setup=rev)
    b = _render("c", setup, pos=(5.0, 3.0, 1.0), quat=geometry.quaternion_from_yaw(150.0), blocks=40,
                renderer_setup=rev)
    assert np.max(np.abs(a - b)) < 1e-5 * np.max(np.abs(a))


def _moving_with_changes(front):
    """A source circling at 2 m, a pose every block, and feature changes set before or
    after the block's pose (the C library copies a block's pose alone when only poses
    changed since its last copy: a change among them must still arrive)."""
    r = _renderer(front)
    s = r.add_source(distance_model="none")
    changes = {6: (lambda: r.set_source_transmission(s, 0.2, 0.2, 0.2), "before"),
               12: (lambda: r.set_source_cone(s, 60.0, 120.0, 0.1, 0.5), "after"),
               18: (lambda: r.set_source_transmission(s, 1.0, 1.0, 1.0), "before")}
    x = (0.1 * np.random.default_rng(3).standard_normal(BLOCK * 24)).astype(np.float32)
    out = []
    for k in range(24):
        change, when = changes.get(k, (None, None))
        if when == "before":
            change()
        a = 2.0 * np.pi * k / 24
        r.set_source_pose(s, (2.0 * math.cos(a), 2.0 * math.sin(a), 0.0), geometry.quaternion_from_yaw(180.0))
        if when == "after":
            change()
        r.write(s, x[k * BLOCK:(k + 1) * BLOCK])
        out.append(np.asarray(r.render(BLOCK)).reshape(-1, 2).copy())
    return np.concatenate(out)


def test_changes_between_poses_reach_the_c_library():
    a = _moving_with_changes("python")
    b = _moving_with_changes("c")
    assert np.max(np.abs(a - b)) < 1e-5 * np.max(np.abs(a))

    def rms(k0, k1):
        return float(np.sqrt(np.mean(b[k0 * BLOCK:k1 * BLOCK] ** 2)))
    assert rms(8, 12) < 0.3 * rms(2, 6)    # the transmission (0.2, before the pose) took effect
    assert rms(20, 24) > 2.0 * rms(8, 12)  # and its undoing, after the cone


@pytest.mark.parametrize("call, args", [
    ("set_source_cone", (200.0, 100.0, 0.5, 0.5)),    # outer < inner
    ("set_source_cone", (90.0, 180.0, 1.5, 0.5)),
    ("set_source_cone", (float("nan"), 180.0, 0.5, 0.5)),
    ("set_source_transmission", (1.0, -0.1, 1.0)),
    ("set_source_transmission", (1.0, float("inf"), 1.0)),
    ("set_source_air_absorption", (11.0,)),
    ("set_source_reverb_send", (1.5,)),
    ("set_source_spread", (361.0,)),
    ("set_source_spread", (float("nan"),)),
])
@pytest.mark.parametrize("front", FRONTS)
def test_bad_feature_values_are_rejected(front, call, args):
    from spatialmw.engine import EngineError
    from spatialmw.native import NativeError
    r = _renderer(front)
    s = r.add_source()
    with pytest.raises(EngineError if front == "python" else NativeError) as e:
        getattr(r, call)(s, *args)
    if front == "c":
        assert e.value.code == 1   # SMW_ERROR_INVALID_ARGUMENT


@pytest.mark.parametrize("front", FRONTS)
def test_bad_reverb_settings_are_rejected(front):
    from spatialmw.engine import EngineError
    from spatialmw.native import NativeError
    r = _renderer(front)
    for kw in ({"decay_time": 0.0}, {"pre_delay": 0.6}, {"hf_ratio": 0.05}, {"wet_gain": float("nan")}):
        with pytest.raises(EngineError if front == "python" else NativeError):
            r.set_reverb(**kw)


@pytest.mark.parametrize("hop", [256, 128, 64])
@pytest.mark.parametrize("front", FRONTS)
def test_low_latency_hop_reports_the_measured_latency(front, hop):
    """An impulse from a non-spatialised source 2 m away peaks at the reported latency plus
    the propagation delay, and the reported latency is the hop plus the modelling delay."""
    r = _renderer(front, hop=hop)
    s = r.add_source(distance_model="none", spatialize=False)
    r.set_source_pose(s, (2.0, 0.0, 0.0))
    x = np.zeros(BLOCK * 6, np.float32)
    x[BLOCK + 37] = 1.0
    y = np.concatenate([(r.write(s, x[b * BLOCK:(b + 1) * BLOCK]), r.render(BLOCK))[1] for b in range(6)])
    assert r.latency_frames == hop + 12
    measured = int(np.argmax(np.abs(y[:, 0]))) - (BLOCK + 37)
    assert abs(measured - (r.latency_frames + 2.0 / 343.0 * SR)) <= 0.5


@pytest.mark.parametrize("hop", [128, 64])
def test_low_latency_hop_renders_the_default_filters_earlier(hop):
    x = (0.1 * np.random.default_rng(3).standard_normal(BLOCK * 24)).astype(np.float32)

    def run(h):
        from spatialmw.engine import Engine
        e = Engine(SR, max_sources=1, max_block=BLOCK, hop=h)
        s = e.add_source(distance_model="none")
        e.set_source_pose(s, (1.0, 2.0, 0.5))
        return np.concatenate([(e.write(s, x[b * BLOCK:(b + 1) * BLOCK]), e.render(BLOCK))[1] for b in range(24)])
    ref, fast = run(256), run(hop)
    shift = 256 - hop
    a, b = ref[shift + BLOCK * 4:], fast[BLOCK * 4:len(fast) - shift]
    assert np.max(np.abs(a - b)) < 1e-5 * np.max(np.abs(a))


def test_unknown_hop_is_rejected():
    from spatialmw.engine import EngineConfigError
    from spatialmw.native import NativeError
    with pytest.raises(EngineConfigError):
        _renderer("python", hop=100)
    with pytest.raises(NativeError) as e:
        _renderer("c", hop=100)
    assert e.value.code == 1


def _rigid_sphere_level_db(r, theta, f, a, c=343.0, orders=80):
    """Duda & Martens (1998) eq. 7 with scipy's spherical Bessel functions: the level at a
    point of a rigid sphere (radius a) from a point source at r, theta, relative to the
    free field at its centre (an implementation independent of spatialmw.kernels.nearfield)."""
    from scipy.special import eval_legendre, spherical_jn, spherical_yn
    k = 2 * np.pi * f / c
    m = np.arange(orders)
    h = spherical_jn(m, k * r) - 1j * spherical_yn(m, k * r)
    dh = spherical_jn(m, k * a, True) - 1j * spherical_yn(m, k * a, True)
    s = np.sum((2 * m + 1) * eval_legendre(m, np.cos(theta)) * h / dh)
    return 20 * np.log10(abs(r / (k * a) * s))


def test_near_field_ild_grows_as_on_a_rigid_sphere(engine):
    """A source at 90 degrees left: its ILD (300-800 Hz) at 0.25, 0.5 and 1 m, minus its ILD
    at the model's fitted distance, equals the rigid sphere's increase within 1 dB."""
    from spatialmw.engine import Engine
    e = Engine(SR, max_sources=1, max_block=BLOCK)
    r_ref = float(e.model.theta[0])
    a = float(e.model.head_radius)
    x = (0.1 * np.random.default_rng(5).standard_normal(BLOCK * 40)).astype(np.float32)

    def ild(r):
        eng = Engine(SR, max_sources=1, max_block=BLOCK)
        s = eng.add_source(distance_model="none", doppler=False)
        eng.set_source_pose(s, (0.0, r, 0.0))
        y = np.concatenate([(eng.write(s, x[b * BLOCK:(b + 1) * BLOCK]), eng.render(BLOCK))[1] for b in range(40)])
        lv = _band_db(y.astype(np.float64), 300, 800)
        return lv[0] - lv[1]
    base = ild(r_ref)
    sphere_ref = _rigid_sphere_level_db(r_ref, 0, 500, a) - _rigid_sphere_level_db(r_ref, np.pi, 500, a)
    for r in (0.25, 0.5, 1.0):
        want = _rigid_sphere_level_db(r, 0, 500, a) - _rigid_sphere_level_db(r, np.pi, 500, a) - sphere_ref
        got = ild(r) - base
        print(f"near field {r} m: ILD +{got:.2f} dB, rigid sphere +{want:.2f} dB")
        assert abs(got - want) < 1.0
    assert want > 0.3   # the effect is there at 1 m already


def test_spread_lowers_interaural_coherence_without_colouring():
    """Noise 2 m away, slightly left: as the spread grows the interaural coherence (octaves
    500 Hz-8 kHz) falls monotonically, to below 0.3 at 360 degrees, while each ear's
    third-octave levels stay within 2 dB of the point source's (all-passes: no comb)."""
    x = (0.1 * np.random.default_rng(1).standard_normal(BLOCK * 60)).astype(np.float32)
    octaves = ((500, 1000), (1000, 2000), (2000, 4000), (4000, 8000))
    point = _render("python", lambda r, s: None, pos=(2.0, 0.5, 0.0), x=x)[BLOCK * 10:]
    means = []
    for spread in (0.0, 90.0, 180.0, 360.0):
        y = _render("python", lambda r, s: r.set_source_spread(s, spread), pos=(2.0, 0.5, 0.0), x=x)[BLOCK * 10:]
        ic = [metrics.interaural_coherence(y[:, 0], y[:, 1], SR, lo, hi) for lo, hi in octaves]
        print(f"spread {spread:.0f}: interaural coherence " + " ".join(f"{v:.2f}" for v in ic))
        means.append(np.mean(ic))
        for ear in range(2):
            dev = metrics.third_octave_levels(y[:, ear], SR, 200.0) - metrics.third_octave_levels(point[:, ear], SR, 200.0)
            assert np.max(np.abs(dev)) < 2.0, (spread, ear, dev)
    assert means[0] > 0.9
    assert all(b < a - 0.05 for a, b in zip(means, means[1:])), means
    assert max(ic) < 0.3


def test_spread_changes_do_not_click():
    x, y, hf = _tone_with_changes(80, {15: lambda e, s: e.set_source_spread(s, 360.0),
                                       25: lambda e, s: e.set_source_spread(s, 0.0)})
    level = np.max(np.abs(y[8 * BLOCK:14 * BLOCK]))
    assert 20 * np.log10(np.max(np.abs(hf[14 * BLOCK:30 * BLOCK])) / level) < -60.0
    # back to a point: the echoes ring out (spread.TAIL_SAMPLES), then exactly the point
    # source's output again
    from spatialmw.kernels.spread import TAIL_SAMPLES
    ref = _render("python", lambda r, s: None, x=x, blocks=80)[:, 0]
    after = 26 * BLOCK + TAIL_SAMPLES
    assert np.max(np.abs(y[after - 4 * BLOCK:after] - ref[after - 4 * BLOCK:after])) < 1e-4 * level
    assert np.max(np.abs(y[after:] - ref[after:])) < 1e-6 * level


def test_cut_to_window_support_keeps_a_windowed_response_and_truncates_a_longer_one():
    """Against numpy: a response inside the corrector window's support comes back unchanged;
    one that runs past it is truncated there, as numpy's own truncation of the same taps."""
    from spatialmw.kernels.corrector import cut_to_window_support, ir_window, modeling_delay
    from spatialmw.kernels.fft import fft_tables
    from spatialmw.kernels.plan import HOP, N_FFT
    n = N_FFT
    window = ir_window(n, HOP, modeling_delay(SR))
    support = window > 0.0
    rng = np.random.default_rng(3)
    cos, sin, rev = fft_tables(n)
    re, im = np.zeros(n), np.zeros(n)
    for h in (rng.standard_normal((2, n)) * window, rng.standard_normal((2, n))):
        spec = np.fft.rfft(h, n, axis=-1)
        gains = np.stack([spec[0].real, spec[0].imag, spec[1].real, spec[1].imag], axis=1).reshape(-1).copy()
        cut_to_window_support(re, im, window, cos, sin, rev, gains)
        want = np.fft.rfft(h * support, n, axis=-1)
        got = gains.reshape(-1, 4)
        np.testing.assert_allclose(got[:, 0] + 1j * got[:, 1], want[0], atol=1e-9)
        np.testing.assert_allclose(got[:, 2] + 1j * got[:, 3], want[1], atol=1e-9)
