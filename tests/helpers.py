"""Plain functions the tests share: independent signal measurements the renderers are
compared against, and small test inputs. Fixtures live in ``tests/conftest.py``."""
import numpy as np


def fractional_delay(x, delay_samples):
    """Delay ``x`` by a (fractional) number of samples exactly, in the frequency domain."""
    n = len(x)
    m = 1 << int(np.ceil(np.log2(2 * n + abs(delay_samples) + 16)))
    f = np.fft.rfftfreq(m)
    return np.fft.irfft(np.fft.rfft(x, m) * np.exp(-2j * np.pi * f * delay_samples), m)[:n]


def lag_samples(a, b, upsample=32):
    """Lag of ``a`` relative to ``b`` in samples (positive: a is later), from the
    cross-correlation peak upsampled by zero-padding in frequency, parabolic refined."""
    n = len(a)
    m = 1 << int(np.ceil(np.log2(2 * n)))
    cross = np.fft.rfft(a, m) * np.conj(np.fft.rfft(b, m))
    c = np.fft.irfft(cross, m * upsample)
    c = np.concatenate([c[-(m * upsample) // 2:], c[:(m * upsample) // 2]])
    k = int(np.argmax(c))
    y0, y1, y2 = c[k - 1], c[k], c[k + 1]
    frac = 0.5 * (y0 - y2) / (y0 - 2 * y1 + y2)
    return (k + frac - (m * upsample) // 2) / upsample


def dominant_frequency(x, sr):
    """Frequency of the strongest sinusoid, refined by quadratic interpolation of the
    log-magnitude of a Hann-windowed, 16x zero-padded spectrum."""
    n = len(x)
    m = 16 * (1 << int(np.ceil(np.log2(n))))
    spec = np.abs(np.fft.rfft(x * np.hanning(n), m))
    k = int(np.argmax(spec))
    a, b, c = np.log(spec[k - 1:k + 2])
    p = 0.5 * (a - c) / (a - 2 * b + c)
    return (k + p) * sr / m


def rms_db(x):
    return 10 * np.log10(np.mean(np.asarray(x, dtype=np.float64) ** 2) + 1e-30)


def small_model(seed=0):
    """A small valid Lite-INN model (4 direction and 4 frequency encodings, one hidden
    layer of 16, 32 grid points) with random weights: a real model for loader and engine
    tests that must not depend on the shipped weights."""
    from spatialmw.kernels.ibc import ibc_param_count
    from spatialmw.model import LiteINNModel
    dims = np.array([4, 4, 16, 1, 2, 4], dtype=np.int64)
    theta = np.random.default_rng(seed).normal(size=ibc_param_count(dims)) * 0.1
    theta[:4] = [1.4, 0.0, 0.0, 24000.0]  # fixed header: r_ref, rho_min, rho_max, f_scale
    return LiteINNModel(theta=theta, dims=dims, grid_hz=np.linspace(0, 24000, 32), head_radius=0.0875,
                        meta={"provenance": {"seed": seed}})
