"""Metrics against independent computations (no mocks)."""
import math

import numpy as np
import pytest
from scipy import signal

from spatialmw import metrics as M

SR = 48000
SPEECH = "/usr/share/sounds/alsa/Front_Center.wav"


def _frac_delay(x, delay_samples):
    """Delay x by a fractional number of samples: exact linear phase in the FFT domain."""
    n = x.size
    X = np.fft.rfft(x)
    k = np.arange(X.size)
    return np.fft.irfft(X * np.exp(-2j * np.pi * k * delay_samples / n), n)


def _burst(n=4096, pad=4096, seed=0):
    rng = np.random.default_rng(seed)
    b = rng.standard_normal(n) * signal.get_window("hann", n)
    return np.concatenate([np.zeros(pad), b, np.zeros(pad)])


def _speech():
    import soundfile as sf  # the speech comes with alsa-utils, which make test installs
    x, sr = sf.read(SPEECH, dtype="float64")
    assert sr == SR
    return x


# ------------------------------------------------------------------------------- wave
def test_wave_l2_by_hand():
    est = np.array([[1.0, 0.0], [0.5, -1.0]])
    ref = np.array([[0.0, 0.0], [0.5, 1.0]])
    # squared errors 1, 0, 0, 4 -> mean 1.25 -> x1e3
    assert M.wave_l2(est, ref) == pytest.approx(1250.0)
    assert M.wave_l2(ref, ref) == 0.0


def test_wave_l2_rejects_bad_input():
    with pytest.raises(ValueError):
        M.wave_l2(np.zeros((10, 2)), np.zeros((11, 2)))
    with pytest.raises(ValueError):
        M.wave_l2(np.full((10, 2), np.nan), np.zeros((10, 2)))


# ------------------------------------------------------------------------------ stft
def test_stft_matches_direct_frame_computation():
    rng = np.random.default_rng(1)
    x = rng.standard_normal(5000)
    n_fft, hop, win = 2048, 480, 1920
    S = M.stft(x, n_fft, hop, win)
    # independent: frame 3 by hand
    xp = np.pad(x, n_fft // 2, mode="reflect")
    w = np.zeros(n_fft)
    w[64:64 + win] = 0.5 - 0.5 * np.cos(2 * np.pi * np.arange(win) / win)
    frame = xp[3 * hop:3 * hop + n_fft] * w
    np.testing.assert_allclose(S[:, 3], np.fft.rfft(frame), atol=1e-9)
    assert S.shape == (n_fft // 2 + 1, 1 + len(x) // hop)


def test_amplitude_error_scaled_copy():
    rng = np.random.default_rng(2)
    ref = rng.standard_normal((9600, 2))
    assert M.amplitude_error(ref, ref, SR) == 0.0
    # |0.5 Y - Y| = 0.5 |Y|: amplitude error = 0.5 x mean |Y|
    mean_mag = np.mean([np.mean(np.abs(M.stft(ref[:, e], 2048, 480, 1920))) for e in range(2)])
    assert M.amplitude_error(0.5 * ref, ref, SR) == pytest.approx(0.5 * mean_mag, rel=1e-9)


def test_phase_error_self_zero_negated_pi():
    rng = np.random.default_rng(3)
    ref = rng.standard_normal((9600, 2))
    assert M.phase_error(ref, ref, SR) == pytest.approx(0.0, abs=1e-9)
    assert M.phase_error(-ref, ref, SR) == pytest.approx(math.pi, abs=1e-6)
    # a magnitude change alone has no phase error
    assert M.phase_error(3.0 * ref, ref, SR) == pytest.approx(0.0, abs=1e-9)


def test_phase_error_matches_reference_formula():
    # The Binaural Speech formula: d = angle(est) - angle(ref) in (-2pi, 2pi), wrapped as
    # pi - | |d| - pi |, averaged over bins with |ref| > 0.2 mean |ref| (both ears).
    rng = np.random.default_rng(8)
    ref = rng.standard_normal((9600, 2))
    est = ref + 0.7 * rng.standard_normal(ref.shape)
    se = np.stack([M.stft(est[:, e], 2048, 480, 1920) for e in range(2)])
    sr_ = np.stack([M.stft(ref[:, e], 2048, 480, 1920) for e in range(2)])
    mask = np.abs(sr_) > 0.2 * np.mean(np.abs(sr_))
    d = np.arctan2(se.imag, se.real)[mask] - np.arctan2(sr_.imag, sr_.real)[mask]
    expected = np.mean(np.pi - np.abs(np.abs(d) - np.pi))
    got = M.phase_error(est, ref, SR)
    assert got == pytest.approx(expected, rel=1e-9)
    assert 0.2 < got < np.pi / 2


def test_mrstft_zero_for_identical_positive_otherwise():
    rng = np.random.default_rng(4)
    ref = rng.standard_normal((12000, 2))
    assert M.mrstft(ref, ref) == 0.0
    a = M.mrstft(ref + 0.01 * rng.standard_normal(ref.shape), ref)
    b = M.mrstft(ref + 0.3 * rng.standard_normal(ref.shape), ref)
    assert 0 < a < b


def test_mrstft_scaled_copy_by_hand():
    # est = g ref: spectral convergence |1-g| and log-mag L1 |log g| at every resolution
    # (where magnitudes are far above the eps floor).
    rng = np.random.default_rng(5)
    ref = rng.standard_normal((12000, 2))
    g = 0.5
    assert M.mrstft(g * ref, ref) == pytest.approx(abs(1 - g) + abs(math.log(g)), rel=1e-4)


def test_pesq_speech():
    x = _speech()
    ref = np.stack([x, x], axis=1)
    clean = M.pesq_wb(ref, ref, SR)
    rng = np.random.default_rng(6)
    noisy = ref + 0.1 * np.std(x) * rng.standard_normal(ref.shape)  # 20 dB SNR
    deg = M.pesq_wb(noisy, ref, SR)
    assert clean > 4.0
    assert deg < clean - 0.5


def test_pesq_silence_is_nan_with_warning():
    z = np.zeros((SR, 2))
    with pytest.warns(RuntimeWarning):
        v = M.pesq_wb(z, z, SR)
    assert math.isnan(v)


# ----------------------------------------------------------------------- HRTF domain
def test_lsd_flat_one_db_and_eq():
    rng = np.random.default_rng(7)
    freqs = np.linspace(0, 24000, 513)
    ref = np.exp(rng.standard_normal((10, 2, 513)))
    est = ref * 10 ** (1 / 20)
    assert M.lsd_db(est, ref, freqs) == pytest.approx(1.0, abs=1e-9)
    assert M.lsd_eq_db(est, ref, freqs) == pytest.approx(0.0, abs=1e-9)
    assert M.lsd_db(ref, ref, freqs) == 0.0


def test_lsd_band_limits_and_eq_per_ear():
    freqs = np.linspace(0, 24000, 513)
    ref = np.ones((4, 2, 513))
    est = ref.copy()
    est[..., freqs > 16000] *= 100.0  # outside the band: ignored
    assert M.lsd_db(est, ref, freqs) == 0.0
    # a different fixed error per ear is one per-ear equaliser -> lsd_eq 0
    est = ref.copy()
    est[:, 0] *= 10 ** (3 / 20)
    est[:, 1] *= 10 ** (-2 / 20)
    assert M.lsd_db(est, ref, freqs) == pytest.approx(2.5)
    lsd, eq = M.lsd_eq_db(est, ref, freqs, return_eq=True)
    assert lsd == pytest.approx(0.0, abs=1e-9)
    np.testing.assert_allclose(eq[0], 3.0)
    np.testing.assert_allclose(eq[1], -2.0)
    # a direction-dependent error survives: +2 dB on half the directions, 0 on the others
    est = ref.copy()
    est[:2] *= 10 ** (2 / 20)
    assert M.lsd_eq_db(est, ref, freqs) == pytest.approx(1.0)


def test_ild_six_db():
    x = _burst()
    assert M.ild_db(2.0 * x, x) == pytest.approx(20 * math.log10(2.0), abs=1e-9)  # 6.02
    assert M.ild_db(x, 2.0 * x) == pytest.approx(-6.0206, abs=1e-3)


@pytest.mark.parametrize("delay", [0.0, 0.37, 5.25, -7.8, 31.6])
def test_itd_recovers_fractional_delay_with_sign(delay):
    left = _burst(seed=3)
    right = _frac_delay(left, delay)  # right lags by `delay` -> the LEFT ear leads
    expected = delay / SR * 1e6
    assert M.itd_us(left, right, SR) == pytest.approx(expected, abs=2.0)
    assert M.itd_us(right, left, SR) == pytest.approx(-expected, abs=2.0)


def test_itd_ignores_content_above_cutoff_and_search_range():
    # Low band lags by 10 samples, a strong 6 kHz band by -20: only the low band counts.
    lo = signal.sosfilt(signal.butter(4, 1000, fs=SR, output="sos"), _burst(seed=9))
    hi = signal.sosfilt(signal.butter(4, [5000, 7000], "bandpass", fs=SR, output="sos"),
                        10 * _burst(seed=10))
    left = lo + hi
    right = _frac_delay(lo, 10.0) + _frac_delay(hi, -20.0)
    assert M.itd_us(left, right, SR) == pytest.approx(10 / SR * 1e6, abs=5.0)
    # a lag beyond +-1 ms is not found
    far = _frac_delay(left, 96.0)  # 2 ms
    assert abs(M.itd_us(left, far, SR)) <= 1000.0 + 1e-6
    assert math.isnan(M.itd_us(np.zeros(100), np.ones(100), SR))


def test_ild_itd_error_sets():
    base = _burst(seed=11)
    est, ref = [], []
    for k, (g, d) in enumerate([(1.0, 0.0), (2.0, 4.8), (0.5, -9.6)]):
        ref.append([g * base, _frac_delay(base, d)])
        est.append([g * base * 10 ** (1 / 20), _frac_delay(base, d + 0.48)])  # +1 dB, +10 us
    est, ref = np.array(est), np.array(ref)
    np.testing.assert_allclose(M.ild_error_db(est, ref, reduce=None), 1.0, atol=1e-3)
    assert M.ild_error_db(est, ref) == pytest.approx(1.0, abs=1e-3)
    errs = M.itd_error_us(est, ref, SR, reduce=None)
    np.testing.assert_allclose(errs, 10.0, atol=2.0)
    assert M.itd_error_us(est, ref, SR) == pytest.approx(10.0, abs=2.0)
    # ears on the last-but-one axis vs an (D, n, 2) layout via ear_axis
    assert M.ild_error_db(np.swapaxes(est, 1, 2), np.swapaxes(ref, 1, 2), ear_axis=-1) == \
        pytest.approx(1.0, abs=1e-3)


def test_transfer_function_of_known_fir():
    rng = np.random.default_rng(12)
    x = rng.standard_normal(SR * 2)
    hl = np.array([1.0, 0.5, 0.0, -0.2])
    hr = 0.25 * np.array([0.0, 1.0, -0.5])
    y = np.stack([signal.lfilter(hl, 1, x), signal.lfilter(hr, 1, x)], axis=1)
    y += 1e-3 * rng.standard_normal(y.shape)  # output noise does not bias H1
    freqs, mag = M.transfer_function(x, y, n_fft=1024, sr=SR)
    assert mag.shape == (2, 513) and freqs.shape == (513,)
    _, Hl = signal.freqz(hl, worN=freqs, fs=SR)
    _, Hr = signal.freqz(hr, worN=freqs, fs=SR)
    ok = (freqs >= 100) & (freqs <= 16000)
    np.testing.assert_allclose(20 * np.log10(mag[0, ok]), 20 * np.log10(np.abs(Hl[ok])), atol=0.2)
    np.testing.assert_allclose(20 * np.log10(mag[1, ok]), 20 * np.log10(np.abs(Hr[ok])), atol=0.2)
    assert M.lsd_db(mag, np.abs(np.stack([Hl, Hr])), freqs) < 0.1


# ------------------------------------------------------------- what games play
def _sine(f0, n, amp=0.5, phase=0.3):
    return amp * np.sin(2 * np.pi * f0 * np.arange(n) / SR + phase)


@pytest.mark.parametrize("f0", [50.0, 1000.0, 4000.0])
def test_thd_n_of_a_pure_sine_is_below_minus_100_db(f0):
    assert M.thd_n_db(_sine(f0, 1 << 15), SR, f0) < -100.0


@pytest.mark.parametrize("f0", [50.0, 100.0, 1000.0])
def test_thd_n_of_a_sine_with_a_minus_40_db_harmonic(f0):
    x = _sine(f0, 1 << 15) + _sine(3 * f0, 1 << 15, amp=0.5 * 10 ** (-40 / 20), phase=1.1)
    expected = 10 * math.log10(1e-4 / (1 + 1e-4))  # harmonic energy over the total
    assert M.thd_n_db(x, SR, f0) == pytest.approx(expected, abs=0.5)


def test_thd_n_counts_noise_and_rejects_bad_input():
    rng = np.random.default_rng(5)
    n = 1 << 15
    noise = 0.5 * 10 ** (-60 / 20) / math.sqrt(2) * rng.standard_normal(n)  # -60 dB re the sine power
    assert M.thd_n_db(_sine(1000.0, n) + noise, SR, 1000.0) == pytest.approx(-60.0 + 10 * math.log10(20 / 24), abs=0.5)
    with pytest.raises(ValueError):
        M.thd_n_db(np.full(n, np.nan), SR, 1000.0)
    with pytest.raises(ValueError):
        M.thd_n_db(_sine(1000.0, n), SR, 30000.0)


def test_tone_amplitude_recovers_a_known_tone_among_others():
    n = 20000
    x = _sine(50.0, n, amp=0.3) + _sine(440.0, n, amp=0.2) + 0.1
    assert M.tone_amplitude(x, SR, 50.0) == pytest.approx(0.3, rel=2e-3)


def test_onset_and_pre_echo_of_a_known_impulse_pair():
    h = np.zeros(1024)
    h[300] = 1.0
    h[300 - 30] = 0.1            # 0.625 ms before the onset: inside 0.25-1.3 ms
    assert M.onset_index(h) == 270  # 0.1 is exactly -20 dB of the peak
    assert M.onset_index(h, -10.0) == 300
    assert M.pre_echo_db(h, 300, SR) == pytest.approx(10 * math.log10(0.01 / 1.01), abs=1e-9)
    h[300 - 30] = 0.0
    h[300 - 5] = 0.1             # 0.1 ms before: outside the window
    h[300 - 70] = 0.01           # 1.46 ms before: outside too
    assert M.pre_echo_db(h, 300, SR) == -math.inf
    with pytest.raises(ValueError):
        M.pre_echo_db(h, 40, SR)  # the window would start before the response


def test_third_octave_levels_of_a_tone_and_frame_differences():
    c = M.third_octave_centres()
    assert c[0] == pytest.approx(99.2, abs=0.1) and c[-1] == pytest.approx(16000.0, abs=1.0) and c.size == 23
    lev = M.third_octave_levels(_sine(1000.0, 4800), SR)
    assert np.argmax(lev) == np.argmin(np.abs(c - 1000.0))
    rng = np.random.default_rng(6)
    mono = rng.standard_normal(9600)
    ref = np.stack([mono, mono], axis=1)  # ITD 0, ILD 0
    est = np.stack([2.0 * mono, _frac_delay(mono, 4.8)], axis=1)  # +6 dB left, right 100 us later
    d = M.frame_differences(est, ref, SR)
    assert d["ild_db"].shape == (10,)
    np.testing.assert_allclose(d["ild_db"], 20 * math.log10(2.0), atol=0.3)  # the delay leaks a little level
    np.testing.assert_allclose(d["itd_us"], 100.0, atol=5.0)
    np.testing.assert_allclose(d["third_octave_db"], 20 * math.log10(2.0) / 2, atol=0.5)


def test_ild_band_db_of_magnitudes():
    f = np.fft.rfftfreq(1024, 1 / SR)
    mag = np.ones((3, 2, f.size))
    mag[:, 1] *= 0.5
    mag[:, 0, f > 16000] = 100.0  # outside the band: ignored
    np.testing.assert_allclose(M.ild_band_db(mag, f), 20 * math.log10(2.0))
