"""TDW and engine behaviour, checked against independent computations."""
import math

import numpy as np
import pytest
from numba import njit

from spatialmw import geometry as G
from spatialmw.engine import Engine, EngineConfigError, EngineError
from spatialmw.kernels import layout as L
from spatialmw.kernels.fft import fft_inplace, fft_tables
from tests.helpers import dominant_frequency, fractional_delay, lag_samples

SR = 48000


def run(eng, src_signals, frames=512, poses=None):
    """Drive ``eng``: src_signals {handle: mono}; poses(block_index) -> {handle: position}."""
    n = len(next(iter(src_signals.values())))
    out = []
    for b, i in enumerate(range(0, n, frames)):
        if poses:
            for h, p in poses(b).items():
                eng.set_source_pose(h, p)
        for h, x in src_signals.items():
            eng.write(h, x[i:i + frames])
        out.append(eng.render(min(frames, n - i)))
    return np.concatenate(out)


def lowpassed_noise(n, cutoff, seed):
    spec = np.fft.rfft(np.random.default_rng(seed).standard_normal(n))
    spec[np.fft.rfftfreq(n, 1 / SR) > cutoff] = 0
    x = np.fft.irfft(spec, n)
    return (x / np.max(np.abs(x))).astype(np.float32)


@njit
def _rocket_fft(z):
    return np.fft.fft(z)  # compiled by rocket-fft: an independent FFT inside numba


def test_fft_kernel_matches_rocket_fft():
    import rocket_fft  # noqa: F401  (registers numpy.fft with numba)
    for n in (8, 64, 512):
        cos, sin, rev = fft_tables(n)
        rng = np.random.default_rng(n)
        z = rng.standard_normal(n) + 1j * rng.standard_normal(n)
        re, im = z.real.copy(), z.imag.copy()
        fft_inplace(re, im, cos, sin, rev, False)
        np.testing.assert_allclose(re + 1j * im, _rocket_fft(z), atol=1e-9)
        fft_inplace(re, im, cos, sin, rev, True)
        np.testing.assert_allclose((re + 1j * im) / n, z, atol=1e-12)


def test_fused_fft_matches_rocket_fft():
    """The engine's forward transform (bit reversal and first pass fused) against
    rocket-fft on the frame."""
    import rocket_fft  # noqa: F401
    from spatialmw.kernels.fft import fft_load_forward
    for n in (4, 16, 512):
        cos, sin, rev = fft_tables(n)
        rng = np.random.default_rng(n + 1)
        xl, xr = rng.standard_normal(n), rng.standard_normal(n)
        re, im = np.zeros(n), np.zeros(n)
        fft_load_forward(xl, xr, rev, re, im, cos, sin, n)
        np.testing.assert_allclose(re + 1j * im, _rocket_fft(xl + 1j * xr), atol=1e-9)


def test_lane_batched_fft_matches_rocket_fft():
    """The corrected sources' transform: LANES frames from a lane-major float32
    staging, against rocket-fft on each frame (float32 accuracy)."""
    import rocket_fft  # noqa: F401
    from spatialmw.kernels.fft import fft_lanes_load, fft_lanes_passes
    from spatialmw.kernels.lanes import LANES
    for n in (16, 64, 512):
        cos, sin, rev = fft_tables(n)
        rng = np.random.default_rng(n + 2)
        sl, off = n + 40, 13
        stage = rng.standard_normal((2, sl, LANES)).astype(np.float32)  # ear, sample, lane
        re = np.zeros(n * LANES, np.float32)
        im = np.zeros(n * LANES, np.float32)
        fft_lanes_load(stage.ravel(), off * LANES, (sl + off) * LANES, rev, re, im, n)
        fft_lanes_passes(re, im, cos.astype(np.float32), sin.astype(np.float32), n)
        got = (re + 1j * im.astype(np.complex128)).reshape(n, LANES)
        for lane in range(LANES):
            z = stage[0, off:off + n, lane] + 1j * stage[1, off:off + n, lane].astype(np.float64)
            ref = _rocket_fft(z)
            np.testing.assert_allclose(got[:, lane], ref, atol=2e-5 * np.abs(ref).max())


@pytest.mark.parametrize("ibc", [False, True])
def test_stft_path_reconstructs_a_bypassed_source_exactly(ibc):
    """Spatialisation off, Doppler off: both ears = input delayed by the STFT latency plus
    the fixed warp delay; checks the STFT/mix/OLA path for perfect reconstruction: the
    shared staging (corrector off), and the lane-batched float32 path with unit gains
    (corrector on, 9 slots: two batches, one source)."""
    eng = Engine(SR, 9, 300, ibc=ibc)
    s = eng.add_source(distance_model="none", doppler=False, spatialize=False)
    eng.set_source_pose(s, [3.0, 0.0, 0.0])
    # band-limited to 16 kHz, where the warp's interpolator is flat to 0.01 dB
    x = lowpassed_noise(SR, 16000.0, seed=2)
    y = run(eng, {s: x}, frames=300)   # 300 is deliberately not a multiple of the hop
    radius = eng.model.head_radius if ibc else G.DEFAULT_HEAD_RADIUS  # the fitted head's, with a model
    delay = eng.latency_frames + radius / G.SPEED_OF_SOUND * SR + 8.0
    ref = fractional_delay(x.astype(np.float64), delay)
    for ear in range(2):
        err = y[2000:, ear] - ref[2000:]
        assert np.max(np.abs(err)) < 2e-3, np.max(np.abs(err))


def test_latency_is_at_most_10_7_ms():
    eng = Engine(SR, 1, 512, ibc=False)
    assert eng.latency_frames / SR <= 0.0107


@pytest.mark.parametrize("side", [1.0, -1.0])
def test_itd_of_static_lateral_source_matches_ear_paths(side):
    eng = Engine(SR, 1, 512, ibc=False)
    s = eng.add_source(distance_model="none")
    pos = np.array([0.5, side * 1.5, 0.2])
    eng.set_source_pose(s, pos)
    x = np.random.default_rng(3).standard_normal(SR // 2).astype(np.float32)
    y = run(eng, {s: x})
    dl, dr = G.ear_delays(pos)
    itd_expected_us = (dr - dl) * 1e6            # right minus left arrival
    itd_measured_us = lag_samples(y[4096:, 1], y[4096:, 0]) / SR * 1e6
    assert abs(itd_measured_us - itd_expected_us) < 2.0, (itd_measured_us, itd_expected_us)
    assert np.sign(itd_measured_us) == side      # the near ear leads


def test_doppler_of_approaching_source():
    v = 20.0
    f0 = 1000.0
    eng = Engine(SR, 1, 480, ibc=False)
    s = eng.add_source(distance_model="none")
    t = np.arange(SR * 2) / SR
    x = np.sin(2 * np.pi * f0 * t).astype(np.float32)
    start = 60.0
    # head-on approach along +x, pose updated every 10 ms block (a game frame)
    y = run(eng, {s: x}, frames=480, poses=lambda b: {s: [start - v * b * 480 / SR, 0.0, 0.0]})
    seg = y[SR // 2: 3 * SR // 2, 0].astype(np.float64)
    ratio = dominant_frequency(seg, SR) / f0
    expected = G.SPEED_OF_SOUND / (G.SPEED_OF_SOUND - v)
    assert abs(ratio / expected - 1.0) < 0.005, (ratio, expected)
    assert ratio > 1.05  # pitch actually rises


def test_distance_models():
    for model, d, expect in [("none", 10.0, 1.0), ("inverse_clamped", 4.0, 0.25),
                             ("inverse_clamped", 0.5, 1.0), ("linear", 55.0, 0.5)]:
        g = G.distance_gain(G.DISTANCE_MODELS[model], d, 1.0, 109.0 if model == "linear" else 1e4, 1.0)
        assert g == pytest.approx(expect, rel=1e-9)
    eng = Engine(SR, 2, 512, ibc=False)
    near = eng.add_source(distance_model="inverse_clamped", min_distance=1.0)
    far = eng.add_source(distance_model="inverse_clamped", min_distance=1.0)
    eng.set_source_pose(near, [2.0, 0, 0])
    eng.set_source_pose(far, [8.0, 0, 0])
    x = lowpassed_noise(SR // 4, 16000.0, seed=4)
    e = {}
    for h in (near, far):  # the other source paused (and not written: it would not consume)
        eng.set_source_params(near, paused=h != near)
        eng.set_source_params(far, paused=h != far)
        y = run(eng, {h: x})
        e[h] = np.sqrt(np.mean(y[8000:] ** 2))
    assert 20 * np.log10(e[near] / e[far]) == pytest.approx(20 * np.log10(4.0), abs=0.3)


def test_ramped_motion_has_no_steps():
    """A source jumping 60 degrees between blocks is ramped: the output has no sample
    jump larger than the input signal itself produces."""
    eng = Engine(SR, 1, 512, ibc=False)
    s = eng.add_source(distance_model="none")
    t = np.arange(SR) / SR
    x = (0.5 * np.sin(2 * np.pi * 200 * t)).astype(np.float32)
    pos = lambda b: {s: [2 * math.cos(math.radians(60 * (b % 2))), 2 * math.sin(math.radians(60 * (b % 2))), 0]}
    y = run(eng, {s: x}, poses=pos)
    max_input_step = np.max(np.abs(np.diff(x)))
    assert np.max(np.abs(np.diff(y[2048:], axis=0))) < 1.5 * max_input_step


def test_source_at_listener_and_far_away_are_finite():
    eng = Engine(SR, 3, 512, ibc=False)
    hs = [eng.add_source(distance_model=m) for m in ("none", "inverse_clamped", "linear")]
    x = np.random.default_rng(5).standard_normal(SR // 4).astype(np.float32)
    for pos in ([0.0, 0.0, 0.0], [1e6, 0.0, 0.0], [0.0, 1e-9, 0.0]):
        for h in hs:
            eng.set_source_pose(h, pos)
        y = run(eng, {h: x for h in hs})
        assert np.all(np.isfinite(y))
    # at the listener the source is audible in both ears, equally
    for h in hs:
        eng.set_source_pose(h, [0.0, 0.0, 0.0])
    y = run(eng, {h: x for h in hs})[4096:]
    assert np.std(y[:, 0]) > 0.1 and np.std(y[:, 0]) == pytest.approx(np.std(y[:, 1]), rel=1e-3)


def test_nan_source_is_muted_and_others_keep_playing():
    eng = Engine(SR, 2, 512, ibc=False)
    good = eng.add_source(distance_model="none")
    bad = eng.add_source(distance_model="none")
    eng.set_source_pose(good, [0, 2, 0])
    eng.set_source_pose(bad, [0, -2, 0])
    x = np.random.default_rng(6).standard_normal(512).astype(np.float32)
    xb = x.copy()
    xb[10] = np.nan
    outs = []
    for _ in range(20):
        assert eng.write(good, x)
        assert not eng.write(bad, xb)
        outs.append(eng.render(512))
    y = np.concatenate(outs)
    assert np.all(np.isfinite(y))
    assert eng.source_status(bad) & L.STATUS_NONFINITE and not eng.source_status(good) & L.STATUS_NONFINITE
    # the good source (left) still plays: left ear energy close to a solo render
    assert np.std(y[4096:, 0]) > 0.3


def test_bad_engine_use_raises():
    with pytest.raises(EngineConfigError, match="sample rate"):
        Engine(22050, 1, 512, ibc=False)
    with pytest.raises(EngineConfigError):
        Engine(48000, 0, 512, ibc=False)
    eng = Engine(SR, 1, 256, ibc=False)
    s = eng.add_source()
    with pytest.raises(EngineError, match="in use"):
        eng.add_source()
    with pytest.raises(EngineError, match="frame count"):
        eng.render(257)
    with pytest.raises(EngineError, match="frame count"):
        eng.render(0)
    with pytest.raises(EngineError, match="mono"):
        eng.write(s, np.zeros((4, 2), np.float32))
    eng.write(s, np.zeros(256, np.float32))
    with pytest.raises(EngineError, match="queued"):
        eng.write(s, np.zeros(1, np.float32))
    with pytest.raises(G.GeometryError):
        eng.set_source_pose(s, [np.nan, 0, 0])
    with pytest.raises(G.GeometryError):
        eng.set_source_pose(s, [1, 0, 0], [0, 0, 0, 0])
    with pytest.raises(G.GeometryError, match="beyond"):
        eng.set_source_pose(s, [1e9, 0, 0])
    with pytest.raises(EngineError, match="distance model"):
        eng.set_source_params(s, distance_model="exponential-ish")
    with pytest.raises(EngineError, match="gain"):
        eng.set_source_params(s, gain=float("nan"))
    eng.remove_source(s)
    with pytest.raises(EngineError, match="unknown source"):
        eng.remove_source(s)
    with pytest.raises(EngineError, match="unknown source"):
        eng.write(s, np.zeros(8, np.float32))


def test_engine_warp_kernel_matches_the_scalar_reference():
    """The engine's vectorised stereo warp (float32 table, fixed-point positions, 16 samples
    per reduction) against the plain float64 per-sample kernel, with ramped delays and gains."""
    from spatialmw.kernels.tdw import sinc_table, tdw_block, tdw_block_stereo_idx
    table = sinc_table()
    ring_len = 1 << 12
    ring = np.random.default_rng(7).standard_normal(ring_len).astype(np.float32)
    mask = ring_len - 1
    for t0, frames, dl, dr in [(3000, 512, (40.3, 47.9), (60.0, 52.25)), (5000, 37, (8.0, 8.5), (300.7, 299.1))]:
        ref_l = np.zeros(frames)
        ref_r = np.zeros(frames)
        tdw_block(ring, mask, t0, frames, dl[0], dl[1], 0.9, 0.5, table, ref_l, 0)
        tdw_block(ring, mask, t0, frames, dr[0], dr[1], 0.3, 1.1, table, ref_r, 0)
        tmp = np.zeros((2, frames), np.float32)
        idx = np.zeros(2 * frames, np.int64)
        for stride, accumulate in ((1, False), (3, True)):  # contiguous, and strided mixing
            dst = np.ones(2 * frames * stride + 5, np.float32)
            tdw_block_stereo_idx(ring, mask, t0, frames, dl[0], dl[1], dr[0], dr[1], 0.9, 0.5, 0.3, 1.1,
                                 table.astype(np.float32).ravel(), tmp[0], tmp[1], idx, dst, 2,
                                 2 + frames * stride, stride, accumulate)
            base = 1.0 if accumulate else 0.0
            np.testing.assert_allclose(dst[2:2 + frames * stride:stride] - base, ref_l, atol=2e-5)
            np.testing.assert_allclose(dst[2 + frames * stride::stride][:frames] - base, ref_r, atol=2e-5)
            assert dst[0] == dst[1] == 1.0 and (stride == 1 or dst[3] == 1.0)  # nothing off the stride
