"""Plain functions the tests share: independent signal measurements the renderers are
compared against, and small test inputs. Fixtures live in ``tests/conftest.py``."""
from pathlib import Path

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


def nearest_measured_bounds(hset):
    """Independent computation of the nearest-measured-HRIR baseline: each held-out KEMAR
    direction (index % 10 == 3) rendered by the measured HRIR of the closest training
    direction (great-circle angle from the SOFA azimuth/elevation); LSD (mean over
    directions and ears of the RMS dB difference of 1024-point spectra, 100 Hz-16 kHz) and
    mean absolute ILD error (dB, band energies). On KEMAR's rings most held-out directions
    have two equidistant training neighbours, and which one a fitter takes is arbitrary,
    so this returns the (lowest, highest) value over those choices."""
    az, el = np.radians(hset.directions_deg).T
    held = np.flatnonzero(np.arange(len(az)) % 10 == 3)
    train = np.flatnonzero(np.arange(len(az)) % 10 != 3)
    f = np.fft.rfftfreq(1024, 1.0 / hset.sample_rate)
    band = (f >= 100.0) & (f <= 16000.0)
    mag = np.abs(np.fft.rfft(hset.hrirs, 1024, axis=-1))[..., band]          # (M, 2, bins)
    ild = 10 * np.log10(np.sum(mag[:, 0] ** 2, axis=-1) / np.sum(mag[:, 1] ** 2, axis=-1))
    lsd_range, ild_range = [], []
    for i in held:
        cos_angle = (np.sin(el[i]) * np.sin(el[train])
                     + np.cos(el[i]) * np.cos(el[train]) * np.cos(az[i] - az[train]))
        tied = train[cos_angle >= cos_angle.max() - 1e-9]
        lsd = [np.mean(np.sqrt(np.mean((20 * np.log10(mag[j] / mag[i])) ** 2, axis=-1))) for j in tied]
        err = np.abs(ild[tied] - ild[i])
        lsd_range.append((min(lsd), max(lsd)))
        ild_range.append((err.min(), err.max()))
    return tuple(np.mean(lsd_range, axis=0)), tuple(np.mean(ild_range, axis=0))


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


# ------------------------------------------------------------------ the native library

ROOT = Path(__file__).resolve().parents[1]
LIB = ROOT / "build" / "lib" / "libspatialmw.so"
# what the native library is built from (the Makefile's LIB_SOURCES)
LIB_SOURCES = [ROOT / "bindings" / "shim.c", ROOT / "bindings" / "rt_stubs.c",
               ROOT / "bindings" / "build_sdk.py", ROOT / "bindings" / "gen_contract.py",
               ROOT / "include" / "spatialmw.h", ROOT / "spatialmw" / "geometry.py",
               ROOT / "spatialmw" / "defaults.py", ROOT / "spatialmw" / "asset.py",
               *sorted((ROOT / "spatialmw" / "kernels").glob("*.py"))]
SAN_FLAGS = ["-fsanitize=address,undefined", "-fno-omit-frame-pointer", "-fno-sanitize-recover=undefined"]
SAN_ENV = {"ASAN_OPTIONS": "detect_leaks=0:halt_on_error=1:abort_on_error=0:allocator_may_return_null=1",
           "UBSAN_OPTIONS": "print_stacktrace=1:halt_on_error=1"}
SANITIZER_MARKERS = ("ERROR: AddressSanitizer", "runtime error:", "ERROR: LeakSanitizer",
                     "UndefinedBehaviorSanitizer", "SUMMARY: ")


def stale_library() -> list[str]:
    """Why build/lib/libspatialmw.so cannot be tested as is (empty: it is current)."""
    if not LIB.is_file():
        return [f"{LIB} is missing"]
    t = LIB.stat().st_mtime
    return [f"{LIB.name} is older than {p.relative_to(ROOT)}" for p in LIB_SOURCES if p.stat().st_mtime > t]


def ensure_lib() -> Path:
    """The native library `make lib` built; a missing or stale one is a set-up error."""
    problems = stale_library()
    assert not problems, "; ".join(problems) + ": build it with `make lib`"
    return LIB


def build_sdk(*args):
    """Run bindings/build_sdk.py (the compiled kernels are reused while their sources are
    unchanged), e.g. a sanitizer build into another prefix, or the SDK tarball."""
    import subprocess
    import sys
    r = subprocess.run([sys.executable, str(ROOT / "bindings" / "build_sdk.py"), *map(str, args)],
                       cwd=ROOT, capture_output=True, text=True, timeout=1200)
    assert r.returncode == 0, r.stdout + r.stderr
    return r


def parse_kv(text: str) -> dict[str, float]:
    """The ``KEY value`` lines a C host prints, as numbers."""
    import re
    out = {}
    for line in text.splitlines():
        m = re.match(r"^([A-Z][A-Z0-9_]+) (-?[0-9.eE+-]+)$", line.strip())
        if m:
            out[m.group(1)] = float(m.group(2))
    return out

