"""SOFA (AES69) HRIR reading, treating every file as untrusted input.

Only the ``SimpleFreeFieldHRIR`` convention is accepted (the one HRIR databases use):
``Data.IR`` (M, R=2, N), ``Data.SamplingRate``, ``SourcePosition`` (spherical or
cartesian) and an optional ``Data.Delay`` (samples, applied to the IRs on load).

Everything is checked *before* an array is read: file size, HDF5 signature, the
conventions attribute, that each dataset is a plain (non-external, non-virtual) numeric
dataset reached through a hard link, and that the declared shapes are consistent and
bounded. A forged header that declares 10**9 directions is therefore rejected without
allocating anything. After reading, values must be finite and the IR set not silent.
Every rejection raises :class:`SOFAError` naming the file.

The listener is assumed at the origin looking along +x (``ListenerView``), as every
HRIR database we know stores it; directions are not re-rotated.
"""
from __future__ import annotations

import hashlib
import math
import os
from dataclasses import dataclass, replace
from fractions import Fraction
from pathlib import Path

import numpy as np

from ..geometry import DEFAULT_HEAD_RADIUS, SPEED_OF_SOUND, ear_path_length, spherical_to_cartesian
from ..errors import SpatialmwError

HDF5_SIGNATURE = b"\x89HDF\r\n\x1a\n"
MAX_DIRECTIONS = 100_000
MAX_TAPS = 65_536
MAX_ELEMENTS = 32 * 2**20  # IR samples in total (256 MiB as float64)
MIN_RATE, MAX_RATE = 8000.0, 384000.0
MAX_DELAY_SAMPLES = 65_536
SUPPORTED_CONVENTIONS = ("SimpleFreeFieldHRIR",)

# Onset estimation (see HRIRSet.onsets): band-limited upsampling factor and the
# threshold relative to each IR's peak.
ONSET_UPSAMPLE = 8
ONSET_THRESHOLD = 0.1  # -20 dB


class SOFAError(SpatialmwError, ValueError):
    """A SOFA file that cannot be used: missing, corrupt, hostile or unsupported."""


def default_sofa_path() -> Path:
    """The shipped MIT KEMAR file (repo ``data/hrtf``), or Debian libmysofa's copy."""
    p = Path(__file__).resolve().parents[2] / "data" / "hrtf" / "MIT_KEMAR_normal_pinna.sofa"
    if p.is_file():
        return p
    return Path("/usr/share/libmysofa/MIT_KEMAR_normal_pinna.sofa")


@dataclass
class HRIRSet:
    """Measured HRIRs. ``hrirs`` (M, 2, N) float64, ear 0 = left; ``directions_deg`` (M, 2)
    azimuth (counter-clockwise from +x towards +y) and elevation in degrees;
    ``distance_m`` (M,)."""

    hrirs: np.ndarray
    directions_deg: np.ndarray
    distance_m: np.ndarray
    sample_rate: float
    source: str
    sha256: str

    @property
    def n_directions(self) -> int:
        return int(self.hrirs.shape[0])

    @property
    def n_taps(self) -> int:
        return int(self.hrirs.shape[2])

    def positions(self) -> np.ndarray:
        """(M, 3) native cartesian positions in metres (+x front, +y left, +z up)."""
        return spherical_to_cartesian(self.directions_deg[:, 0], self.directions_deg[:, 1],
                                      self.distance_m)

    def unit_vectors(self) -> np.ndarray:
        """(M, 3) unit direction vectors."""
        return spherical_to_cartesian(self.directions_deg[:, 0], self.directions_deg[:, 1], 1.0)

    def resampled(self, rate: float) -> "HRIRSet":
        """The set at ``rate`` Hz by polyphase resampling (``scipy.signal.resample_poly``).

        The ratio is taken as an exact fraction (44100 -> 48000 is 160/147); the
        anti-alias filter is scipy's default Kaiser-windowed FIR, zero-delay aligned, so
        sample n of the input and sample n * up / down of the output are the same instant.
        An IR is a filter, not a waveform: its samples are scaled by old_rate / new_rate
        so the frequency response (the DTFT, what a convolution applies) is preserved
        below the lower Nyquist, i.e. a signal convolved at either rate comes out at the
        same level (without this, 44.1 -> 48 kHz would be 0.74 dB too loud).
        """
        from scipy.signal import resample_poly

        rate = float(rate)
        if not (math.isfinite(rate) and MIN_RATE <= rate <= MAX_RATE):
            raise SOFAError(f"{self.source}: cannot resample to {rate!r} Hz "
                            f"(allowed {MIN_RATE:g}..{MAX_RATE:g})")
        if rate == self.sample_rate:
            return replace(self, hrirs=self.hrirs.copy())
        frac = Fraction(rate).limit_denominator(1000) / Fraction(self.sample_rate).limit_denominator(1000)
        up, down = frac.numerator, frac.denominator
        if max(up, down) > 200_000:
            raise SOFAError(f"{self.source}: resampling ratio {rate:g}/{self.sample_rate:g} "
                            f"= {up}/{down} is too complex")
        y = resample_poly(self.hrirs, up, down, axis=-1) * (down / up)
        return replace(self, hrirs=np.ascontiguousarray(y, dtype=np.float64),
                       sample_rate=self.sample_rate * up / down)

    def onsets(self) -> np.ndarray:
        """(M, 2) measured arrival time of each IR in seconds (IR time, i.e. n / fs).

        Leading-edge threshold on the band-limited interpolation of the IR: each IR is
        upsampled x8 with a polyphase low-pass (``resample_poly``, linear phase, delay
        compensated), and the onset is the first point whose magnitude reaches -20 dB of
        that IR's peak, refined by linear interpolation between the two neighbouring
        upsampled samples. This is the "threshold" onset/ITD method (Katz & Noisternig,
        JASA 2014): unlike the peak it does not jump between pinna reflections, and unlike
        cross-correlation it needs no reference. -20 dB sits well above the measurement
        noise floor and the interpolation filter's pre-ringing (< -40 dB), so the estimate
        is stable to a fraction of a sample, including the weak contralateral ear.
        """
        from scipy.signal import resample_poly

        h = self.hrirs.reshape(-1, self.hrirs.shape[-1])
        u = ONSET_UPSAMPLE
        hu = np.abs(resample_poly(h, u, 1, axis=-1))
        peak = hu.max(axis=-1, keepdims=True)
        thr = ONSET_THRESHOLD * peak
        above = hu >= thr
        idx = np.argmax(above, axis=-1)
        rows = np.arange(hu.shape[0])
        prev = np.maximum(idx - 1, 0)
        a, b = hu[rows, prev], hu[rows, idx]
        with np.errstate(divide="ignore", invalid="ignore"):
            frac = np.where((idx > 0) & (b > a), (thr[:, 0] - a) / (b - a), 0.0)
        pos = np.where(idx > 0, prev + np.clip(frac, 0.0, 1.0), 0.0)
        return (pos / (u * self.sample_rate)).reshape(self.hrirs.shape[0], 2)

    def ear_path_lengths(self, head_radius: float = DEFAULT_HEAD_RADIUS) -> np.ndarray:
        """(M, 2) spherical-head (Woodworth) path lengths from each measured position."""
        pos = self.positions()
        out = np.empty((pos.shape[0], 2))
        for m in range(pos.shape[0]):
            p = pos[m]
            out[m, 0] = ear_path_length(p, 1.0, head_radius)
            out[m, 1] = ear_path_length(p, -1.0, head_radius)
        return out

    def time_offset(self, head_radius: float = DEFAULT_HEAD_RADIUS, c: float = SPEED_OF_SOUND) -> float:
        """Seconds T such that IR sample n is physical time n / fs + T (CONVENTIONS.md).

        T = median over directions and ears of (ear_path_length / c - onset), with the
        onsets of :meth:`onsets`. The median ignores the few directions where the
        Woodworth sphere and the KEMAR torso/pinna disagree most. Positive when the
        measurement truncated the flight time (MIT KEMAR: about +3.19 ms of the 4.08 ms
        it takes sound to travel 1.4 m).
        """
        paths = self.ear_path_lengths(head_radius) / c
        return float(np.median(paths - self.onsets()))

    def nearest(self, direction) -> int:
        """Index of the measured direction nearest (great circle) to a native vector."""
        v = np.asarray(direction, dtype=np.float64)
        n = np.linalg.norm(v)
        v = np.array([1.0, 0.0, 0.0]) if not (n > 1e-12 and np.isfinite(n)) else v / n
        return int(np.argmax(self.unit_vectors() @ v))


# --------------------------------------------------------------------------- reading

def _fail(path, msg) -> SOFAError:
    return SOFAError(f"{path}: {msg}")


def _attr_str(obj, name):
    if name not in obj.attrs:
        return None
    v = obj.attrs[name]
    if isinstance(v, bytes):
        return v.decode("utf-8", "replace")
    if isinstance(v, str):
        return v
    if isinstance(v, np.ndarray) and v.size == 1:
        v = v.reshape(-1)[0]
        return v.decode("utf-8", "replace") if isinstance(v, bytes) else str(v)
    if isinstance(v, np.bytes_):
        return bytes(v).decode("utf-8", "replace")
    try:
        return str(v)
    except Exception:  # pragma: no cover - exotic attribute types
        return None


def _dataset(f, name, path, ndim, required=True):
    import h5py

    link = f.get(name, getlink=True)
    if link is None:
        if required:
            raise _fail(path, f"missing required dataset {name!r}")
        return None
    if not isinstance(link, h5py.HardLink):
        raise _fail(path, f"{name!r} is a {type(link).__name__}, only plain datasets are accepted")
    ds = f[name]
    if not isinstance(ds, h5py.Dataset):
        raise _fail(path, f"{name!r} is not a dataset")
    if ds.external or ds.is_virtual:
        raise _fail(path, f"{name!r} uses external or virtual storage, refused")
    dt = ds.dtype
    if dt.kind not in "fiu" or dt.itemsize > 8:
        raise _fail(path, f"{name!r} has non-numeric or unsupported dtype {dt}")
    if ds.shape is None or len(ds.shape) not in ndim:
        raise _fail(path, f"{name!r} must have {' or '.join(map(str, ndim))} dimensions, "
                          f"got shape {ds.shape}")
    return ds


def _read(ds, path, name):
    try:
        a = np.asarray(ds[()], dtype=np.float64)
    except Exception as e:  # h5py raises OSError/ValueError/... for corrupt storage
        raise _fail(path, f"cannot read {name!r}: {e}") from None
    if not np.all(np.isfinite(a)):
        raise _fail(path, f"{name!r} contains NaN or Inf")
    return a


def _norm_units(s):
    return [u.strip().lower() for u in s.replace(";", ",").split(",") if u.strip()]


_METRE = {"metre", "meter", "metres", "meters", "m"}
_DEGREE = {"degree", "degrees", "deg"}


def _check_signature(path, size):
    # HDF5 allows a user block: the superblock sits at 0, 512, 1024, 2048, ...
    with open(path, "rb") as fh:
        off = 0
        while off + 8 <= size and off <= 1 << 20:
            fh.seek(off)
            if fh.read(8) == HDF5_SIGNATURE:
                return
            off = 512 if off == 0 else off * 2
    raise SOFAError(f"{path}: not an HDF5/netCDF4 file (no HDF5 signature); SOFA files are netCDF4")


def read_sofa(path, sample_rate: float | None = 48000.0, max_bytes: int = 256 * 2**20) -> HRIRSet:
    """Read a SimpleFreeFieldHRIR SOFA file into an :class:`HRIRSet`.

    ``sample_rate``: resample to this rate (None keeps the file's). Raises
    :class:`SOFAError` for anything that is not a sane HRIR set (see module docstring).
    """
    try:
        import h5py
    except ImportError as e:  # pragma: no cover
        raise SOFAError(f"{path}: h5py is required to read SOFA files") from e

    path_s = os.fspath(path) if isinstance(path, (str, os.PathLike)) else None
    if path_s is None:
        raise SOFAError(f"SOFA path must be a str or path, got {type(path).__name__}")
    if sample_rate is not None:
        try:
            sr_req = float(sample_rate)
        except (TypeError, ValueError):
            raise SOFAError(f"{path_s}: requested sample rate {sample_rate!r} is not a number") from None
        if not (math.isfinite(sr_req) and MIN_RATE <= sr_req <= MAX_RATE):
            raise SOFAError(f"{path_s}: requested sample rate {sample_rate!r} outside "
                            f"{MIN_RATE:g}..{MAX_RATE:g} Hz")
    try:
        st = os.stat(path_s)
    except OSError as e:
        raise SOFAError(f"{path_s}: cannot open SOFA file: {e.strerror or e}") from None
    if not os.path.isfile(path_s):
        raise SOFAError(f"{path_s}: not a regular file")
    if st.st_size > max_bytes:
        raise SOFAError(f"{path_s}: file is {st.st_size} bytes, over the {max_bytes}-byte limit")
    if st.st_size < 8:
        raise SOFAError(f"{path_s}: file is too small ({st.st_size} bytes) to be SOFA/HDF5")
    try:
        _check_signature(path_s, st.st_size)
        digest = hashlib.sha256()
        with open(path_s, "rb") as fh:
            for chunk in iter(lambda: fh.read(1 << 20), b""):
                digest.update(chunk)
    except OSError as e:
        raise SOFAError(f"{path_s}: cannot read: {e}") from None
    sha = digest.hexdigest()

    try:
        with h5py.File(path_s, "r") as f:
            hs = _parse(f, path_s)
    except SOFAError:
        raise
    except Exception as e:  # OSError, KeyError, ValueError, RuntimeError from h5py/HDF5
        raise SOFAError(f"{path_s}: corrupt or unreadable SOFA/HDF5 file: "
                        f"{type(e).__name__}: {e}") from None
    hs = HRIRSet(hs[0], hs[1], hs[2], hs[3], path_s, sha)
    if sample_rate is not None and float(sample_rate) != hs.sample_rate:
        hs = hs.resampled(float(sample_rate))
    return hs


def _parse(f, path):
    conv = _attr_str(f, "SOFAConventions")
    if conv is None:
        raise _fail(path, "no SOFAConventions attribute: not a SOFA file")
    if conv not in SUPPORTED_CONVENTIONS:
        raise _fail(path, f"SOFAConventions {conv!r} is not supported "
                          f"(expected one of {SUPPORTED_CONVENTIONS})")
    dtype_attr = _attr_str(f, "DataType")
    if dtype_attr is not None and dtype_attr != "FIR":
        raise _fail(path, f"DataType {dtype_attr!r} is not supported (expected 'FIR')")

    ir = _dataset(f, "Data.IR", path, (3,))
    m, r, n = (int(v) for v in ir.shape)
    if r != 2:
        raise _fail(path, f"Data.IR has {r} receivers; binaural HRIRs need exactly 2")
    if not 1 <= m <= MAX_DIRECTIONS:
        raise _fail(path, f"Data.IR declares {m} directions (allowed 1..{MAX_DIRECTIONS})")
    if not 1 <= n <= MAX_TAPS:
        raise _fail(path, f"Data.IR declares {n} taps (allowed 1..{MAX_TAPS})")
    if m * r * n > MAX_ELEMENTS:
        raise _fail(path, f"Data.IR declares {m * r * n} samples, over the {MAX_ELEMENTS} limit")

    sr_ds = _dataset(f, "Data.SamplingRate", path, (1,))
    if sr_ds.shape[0] not in (1, m):
        raise _fail(path, f"Data.SamplingRate has shape {sr_ds.shape}, expected (1,) or ({m},)")
    units = _attr_str(sr_ds, "Units")
    if units is not None and units.strip().lower() not in ("hertz", "hz"):
        raise _fail(path, f"Data.SamplingRate units {units!r} are not hertz")

    sp = _dataset(f, "SourcePosition", path, (2,))
    if sp.shape[1] != 3 or sp.shape[0] not in (1, m):
        raise _fail(path, f"SourcePosition has shape {sp.shape}, expected ({m}, 3) or (1, 3)")
    ptype = _attr_str(sp, "Type")
    punits = _attr_str(sp, "Units")
    if ptype is None:
        raise _fail(path, "SourcePosition has no Type attribute (spherical/cartesian)")
    ptype = ptype.strip().lower()
    if ptype not in ("spherical", "cartesian"):
        raise _fail(path, f"SourcePosition Type {ptype!r} not supported (spherical or cartesian)")
    if punits is not None:
        u = _norm_units(punits)
        ok = (len(u) == 3 and u[0] in _DEGREE and u[1] in _DEGREE and u[2] in _METRE) \
            if ptype == "spherical" else (len(u) in (1, 3) and all(x in _METRE for x in u))
        if not ok:
            raise _fail(path, f"SourcePosition units {punits!r} invalid for {ptype} coordinates")

    delay_ds = _dataset(f, "Data.Delay", path, (2,), required=False)
    if delay_ds is not None and (delay_ds.shape[1] != 2 or delay_ds.shape[0] not in (1, m)):
        raise _fail(path, f"Data.Delay has shape {delay_ds.shape}, expected (1, 2) or ({m}, 2)")

    # All declared shapes are sane and bounded: now read.
    srs = _read(sr_ds, path, "Data.SamplingRate")
    if not np.all(srs == srs[0]):
        raise _fail(path, "Data.SamplingRate varies across measurements")
    fs = float(srs[0])
    if not MIN_RATE <= fs <= MAX_RATE:
        raise _fail(path, f"sample rate {fs:g} Hz outside {MIN_RATE:g}..{MAX_RATE:g}")

    pos = _read(sp, path, "SourcePosition")
    pos = np.broadcast_to(pos, (m, 3)).copy()
    if ptype == "cartesian":
        d = np.linalg.norm(pos, axis=1)
        if np.any(d <= 0.0):
            raise _fail(path, "SourcePosition contains a source at the listener (direction undefined)")
        az = np.degrees(np.arctan2(pos[:, 1], pos[:, 0])) % 360.0
        el = np.degrees(np.arcsin(np.clip(pos[:, 2] / d, -1.0, 1.0)))
        dirs, dist = np.stack([az, el], axis=1), d
    else:
        if np.any(np.abs(pos[:, 1]) > 90.0 + 1e-6):
            raise _fail(path, "SourcePosition elevation outside [-90, 90] degrees")
        if np.any(pos[:, 2] <= 0.0):
            raise _fail(path, "SourcePosition distance must be > 0 m")
        dirs = np.stack([pos[:, 0] % 360.0, np.clip(pos[:, 1], -90.0, 90.0)], axis=1)
        dist = pos[:, 2].copy()
    if np.any(dist > 1e4):
        raise _fail(path, "SourcePosition distance over 10 km: wrong units?")

    h = _read(ir, path, "Data.IR")
    if h.shape != (m, 2, n):
        raise _fail(path, f"Data.IR read back with shape {h.shape}, declared {(m, 2, n)}")
    if not np.any(h):
        raise _fail(path, "Data.IR is all zeros")
    if np.max(np.abs(h)) > 1e6:
        raise _fail(path, "Data.IR has absurd magnitudes (> 1e6)")

    if delay_ds is not None:
        dl = _read(delay_ds, path, "Data.Delay")
        if np.any(dl < 0) or np.any(dl > MAX_DELAY_SAMPLES):
            raise _fail(path, f"Data.Delay outside 0..{MAX_DELAY_SAMPLES} samples")
        if np.any(dl):
            h = _apply_delays(h, np.broadcast_to(dl, (m, 2)))
            if h.size > MAX_ELEMENTS:
                raise _fail(path, "Data.IR with Data.Delay applied exceeds the size limit")
    return np.ascontiguousarray(h), dirs, dist, fs


def _apply_delays(h, delays):
    """Delay each IR by its Data.Delay (samples, fractional allowed, exact band-limited
    shift in the frequency domain on a zero-padded grid so nothing wraps)."""
    m, _, n = h.shape
    extra = int(math.ceil(float(delays.max())))
    out_n = n + extra
    nfft = 1 << int(math.ceil(math.log2(2 * out_n + 64)))
    H = np.fft.rfft(h, nfft, axis=-1)
    f = np.fft.rfftfreq(nfft)
    H *= np.exp(-2j * np.pi * f[None, None, :] * delays[:, :, None])
    return np.fft.irfft(H, nfft, axis=-1)[..., :out_n]
