"""Peer renderer: ffmpeg's ``sofalizer`` filter (libmysofa) on a mono signal.

Runs ``ffmpeg`` as a subprocess (argument list, no shell) on a temporary float WAV and
reads the stereo result back with soundfile.

Conventions of the installed filter (ffmpeg 5.1, verified in tests/test_reference.py
with lateral sources): the direction is set with ``rotation`` (azimuth, degrees) and
``elevation``, added to the mono channel's default virtual-speaker position (front,
0/0). ``rotation`` is counter-clockwise like SOFA: +90 puts the source on the LEFT. (The
``speakers=`` option is not used: in 5.1 a mono input's channel is matched under the
name FL, not FC, so ``speakers=FC ...`` is silently ignored.) sofalizer truncates both
angles to whole degrees and takes elevation modulo 90 (90 -> 0!), then picks the nearest
measured direction (``interpolate=0``): use measured directions below the zenith for
comparisons. ``normalize=0`` keeps the measured IR levels; sofalizer applies a fixed
-3 dB per input channel (``gain - 3 * channels``), compensated with ``gain=3``, so at the
SOFA file's own rate the output equals plain convolution with the stored IR
(verified: 0.000 dB, correlation 1.0). The filter runs at the SOFA file's rate, so the
signal is resampled to it and back with swresample (64-tap, cutoff 0.97 of Nyquist):
content above ~21.4 kHz is lost. The output has no leading time offset (the IR as
stored, plus Data.Delay if any).
"""
from __future__ import annotations

import math
import os
import shutil
import subprocess
import tempfile
from pathlib import Path

import numpy as np

from ..errors import SpatialmwError


class SofalizerError(SpatialmwError, RuntimeError):
    """ffmpeg/sofalizer missing or failed."""


def ffmpeg_path() -> str | None:
    return shutil.which("ffmpeg") or (
        "/usr/bin/ffmpeg" if os.path.exists("/usr/bin/ffmpeg") else None)


def sofalize(x, sofa_path, azimuth_deg: float, elevation_deg: float = 0.0,
             sample_rate: int = 48000, radius: float | None = None,
             processing: str = "freq", timeout_s: float = 120.0) -> np.ndarray:
    """Render mono ``x`` at (azimuth, elevation) in degrees, SOFA convention
    (counter-clockwise from the front, 90 = left), with ffmpeg's sofalizer.

    ``radius`` (metres, 0..5) selects the measurement distance for libmysofa's nearest
    lookup; None uses sofalizer's default (1 m, fine for single-distance sets).
    Returns (len(x), 2) float64, ear 0 = left.
    """
    import soundfile as sf

    exe = ffmpeg_path()
    if exe is None:
        raise SofalizerError("ffmpeg not found on PATH")
    x = np.asarray(x, dtype=np.float64)
    if x.ndim != 1 or x.size == 0 or not np.all(np.isfinite(x)):
        raise ValueError("x must be a non-empty finite 1-D signal")
    az, el = float(azimuth_deg), float(elevation_deg)
    if not (math.isfinite(az) and math.isfinite(el) and -90.0 <= el <= 90.0):
        raise ValueError(f"bad direction ({azimuth_deg!r}, {elevation_deg!r})")
    az = az % 360.0
    if processing not in ("freq", "time"):
        raise ValueError("processing must be 'freq' or 'time'")
    sofa = Path(sofa_path).resolve()
    if not sofa.is_file():
        raise FileNotFoundError(sofa)
    # ffmpeg's option parser splits on ':' '=' ',' and treats '\\' and "'" specially.
    s = str(sofa)
    if any(ch in s for ch in ":=,'\\;[]"):
        raise ValueError(f"SOFA path {s!r} contains characters ffmpeg filter syntax cannot take")
    opts = [f"sofa={s}", f"type={processing}", "gain=3", "normalize=0", "interpolate=0",
            "minphase=0",
            f"rotation={az if az <= 180.0 else az - 360.0:.6f}", f"elevation={el:.6f}"]
    if radius is not None:
        rad = float(radius)
        if not (math.isfinite(rad) and 0.0 <= rad <= 5.0):
            raise ValueError(f"radius must be in 0..5 m, got {radius!r}")
        opts.append(f"radius={rad:.6f}")
    from ..hrtf.sofa import read_sofa

    # sofalizer runs at the SOFA file's own rate (it forces that on its input pad), so
    # resample explicitly around it with swresample at a higher quality than the
    # auto-inserted default (64-tap filter, 2**10 phases).
    sofa_rate = int(round(read_sofa(sofa, sample_rate=None).sample_rate))
    rs = "filter_size=64:phase_shift=10:cutoff=0.97"
    chain = ""
    if sofa_rate != int(sample_rate):
        chain = f"aresample={sofa_rate}:{rs},"
    chain += "sofalizer=" + ":".join(opts)
    if sofa_rate != int(sample_rate):
        chain += f",aresample={int(sample_rate)}:{rs}"
    n = x.shape[0]
    with tempfile.TemporaryDirectory(prefix="smw_sofalizer_") as tmp:
        src, dst = os.path.join(tmp, "in.wav"), os.path.join(tmp, "out.wav")
        sf.write(src, x.astype(np.float32), int(sample_rate), subtype="FLOAT")
        cmd = [exe, "-nostdin", "-hide_banner", "-loglevel", "error", "-y",
               "-i", src, "-af", chain, "-c:a", "pcm_f32le", dst]
        try:
            proc = subprocess.run(cmd, capture_output=True, timeout=timeout_s, check=False)
        except subprocess.TimeoutExpired:
            raise SofalizerError(f"ffmpeg sofalizer timed out after {timeout_s} s") from None
        if proc.returncode != 0:
            raise SofalizerError(f"ffmpeg sofalizer failed ({proc.returncode}): "
                                 f"{proc.stderr.decode('utf-8', 'replace').strip()[-800:]}")
        y, fs = sf.read(dst, dtype="float64", always_2d=True)
    if fs != int(sample_rate) or y.shape[1] != 2:
        raise SofalizerError(f"unexpected sofalizer output: {fs} Hz, {y.shape[1]} channels")
    out = np.zeros((n, 2))
    k = min(n, y.shape[0])
    out[:k] = y[:k]
    return out
