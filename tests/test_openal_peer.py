"""OpenAL Soft 1.19 HRTF peer, rendered in memory via ALC_SOFT_loopback (no audio device)."""
import numpy as np
import pytest

from spatialmw import metrics as M

from spatialmw.peers import openal
OpenALError, OpenALLoopback = openal.OpenALError, openal.OpenALLoopback

SR = 48000


@pytest.fixture(scope="module")
def al():
    dev = OpenALLoopback(SR, hrtf=True)  # make test installs OpenAL Soft: no skip
    yield dev
    dev.close()


@pytest.fixture(scope="module")
def noise():
    rng = np.random.default_rng(0)
    return (0.1 * rng.standard_normal(SR // 2)).astype(np.float32)


def test_hrtf_enabled_with_debian_default_48k(al):
    assert al.hrtf_status == openal.ALC_HRTF_ENABLED_SOFT
    assert al.hrtf_name is not None and "default-48000" in al.hrtf_name


def test_coordinate_conversion():
    # native +x forward -> OpenAL -z; +y left -> -x; +z up -> +y
    np.testing.assert_array_equal(openal.native_to_openal([1.0, 0.0, 0.0]), [0.0, 0.0, -1.0])
    np.testing.assert_array_equal(openal.native_to_openal([0.0, 1.0, 0.0]), [-1.0, 0.0, 0.0])
    np.testing.assert_array_equal(openal.native_to_openal([0.0, 0.0, 1.0]), [0.0, 1.0, 0.0])


def test_left_source_louder_and_earlier_in_left_ear(al, noise):
    y = al.render([noise], [np.array([0.0, 2.0, 0.0])])
    assert y.shape == (noise.size, 2) and y.dtype == np.float32
    ild = M.ild_db(y[:, 0], y[:, 1])
    itd = M.itd_us(y[:, 0], y[:, 1], SR)
    assert ild > 3.0
    assert itd > 300.0
    # and the mirror image on the right
    yr = al.render([noise], [np.array([0.0, -2.0, 0.0])])
    assert M.ild_db(yr[:, 0], yr[:, 1]) < -3.0
    assert M.itd_us(yr[:, 0], yr[:, 1], SR) < -300.0


def test_frontal_source_is_centred(al, noise):
    y = al.render([noise], [np.array([2.0, 0.0, 0.0])])
    assert abs(M.ild_db(y[:, 0], y[:, 1])) < 1.0
    assert abs(M.itd_us(y[:, 0], y[:, 1], SR)) < 50.0
    assert np.sqrt(np.mean(y ** 2)) > 0.01  # not silent


def test_distance_model_none_keeps_level(al, noise):
    near = al.render([noise], [np.array([1.0, 0.0, 0.0])])
    far = al.render([noise], [np.array([8.0, 0.0, 0.0])])
    assert abs(10 * np.log10(np.sum(near ** 2) / np.sum(far ** 2))) < 0.5


def test_moving_source_renders_finite_and_pans(al, noise):
    block = 512
    n_blocks = -(-noise.size // block)
    az = np.linspace(-np.pi / 2, np.pi / 2, n_blocks)  # right -> left
    pos = np.stack([2 * np.cos(az), 2 * np.sin(az), np.zeros_like(az)], axis=1)
    y = al.render([noise], [pos], block=block)
    assert np.all(np.isfinite(y))
    q = y.shape[0] // 4
    assert M.ild_db(y[:q, 0], y[:q, 1]) < -3.0   # starts on the right
    assert M.ild_db(y[-q:, 0], y[-q:, 1]) > 3.0  # ends on the left


def test_two_sources_mix_linearly(al, noise):
    other = np.roll(noise, 1234)
    pa, pb = np.array([0.0, 2.0, 0.0]), np.array([1.0, -1.0, 0.5])
    ya = al.render([noise], [pa])
    yb = al.render([other], [pb])
    yab = al.render([noise, other], [pa, pb])
    np.testing.assert_allclose(yab, ya + yb, atol=1e-5)


def test_transfer_function_left_vs_right(al, noise):
    y = al.render([noise], [np.array([0.0, 2.0, 0.0])])
    f, mag = M.transfer_function(noise, y, n_fft=1024, sr=SR)
    band = (f > 2000) & (f < 8000)
    # head shadow: the far (right) ear is well below the near (left) ear at high frequency
    assert np.mean(20 * np.log10(mag[0, band] / mag[1, band])) > 6.0


@pytest.mark.parametrize("bad", [
    dict(monos=[np.zeros((100, 2), np.float32)], positions=[np.array([1.0, 0, 0])]),
    dict(monos=[np.zeros(100, np.float32)], positions=[np.array([np.nan, 0, 0])]),
    dict(monos=[np.full(100, np.inf, np.float32)], positions=[np.array([1.0, 0, 0])]),
    dict(monos=[np.zeros(100, np.float32)], positions=[np.array([0.0, 0, 0])]),
    dict(monos=[np.zeros(100, np.float32)], positions=[np.zeros((7, 2))]),
    dict(monos=[np.zeros(100, np.float32)], positions=[]),
    dict(monos=np.zeros(100, np.float32), positions=[np.array([1.0, 0, 0])]),
])
def test_bad_input_raises(al, bad):
    with pytest.raises((OpenALError, ValueError)):
        al.render(**bad)
    # and the device still works afterwards
    y = al.render([np.ones(512, np.float32)], [np.array([1.0, 0.0, 0.0])])
    assert np.all(np.isfinite(y))


def test_bad_constructor_args():
    with pytest.raises(ValueError):
        OpenALLoopback(1234)
    with pytest.raises(OpenALError):
        OpenALLoopback(SR, hrtf_preference="no-such-hrtf")


def test_render_block_timing(al):
    t = al.render_block_timing(8, 20, block=256)
    assert t.shape == (20,) and np.all(t > 0) and np.all(np.isfinite(t))


def test_pose_overhead_benchmark_times_the_position_updates_alone():
    from benchmarks.openal_pose_overhead import measure
    r = measure(rounds=2, n=8, blocks=30)
    assert len(r["whole_us_per_source"]) == len(r["pose_updates_us_per_source"]) == 2
    # rendering 8 HRTF sources costs more than setting their 8 positions: the loop alone is less
    assert 0.0 < r["pose_updates_median"] < r["whole_median"]
    assert 0.0 < r["pose_share_median"] < 1.0
