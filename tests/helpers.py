"""Independent signal measurements the tests compare the renderers against."""
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
