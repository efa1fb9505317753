"""Scene scripting for sound designers: sources, trajectories, a listener, render to WAV.

In Python::

    from spatialmw.scene import Scene, Source, Listener, Orbit, Linear, Turn
    scene = Scene(duration=6.0, listener=Listener(orientation=Turn(rate_deg_s=30)))
    scene.add(Source("/usr/share/sounds/alsa/Front_Center.wav", Orbit(radius=2.0, period=4.0), loop=True))
    scene.add(Source("noise:pink", Linear(start=(5, -5, 0), end=(5, 5, 0)), gain=0.3))
    stereo = scene.render()                 # (n, 2) float32, Lite-INN renderer
    scene.write("out.wav", normalize="peak")  # 32-bit float WAV, peak at -1 dBFS

The same scenes as JSON files (``spatialmw render scene.json -o out.wav``): the format,
every key with its unit and default, and a copyable example are in ``docs/SCENES.md``.
Python and JSON use the same names (``positions`` for keyframes, ``loop`` on the source)
and the same defaults (a source plays once unless ``loop`` is true). Unknown keys are
rejected, so a typo fails loudly instead of being ignored.

Offline renders are latency-compensated: sample 0 of the output is what the listener hears
at time 0 (propagation delay included, the STFT latency removed).

Sources can also have a directivity ``Cone`` (with an ``orientation``), a ``transmission``
(three band gains, static or a ``Transmission`` over time), ``air_absorption``, a
``spread`` (degrees), a ``reverb_send`` and a level-of-detail ``priority``; the scene a ``Reverb``, a ``hop``,
a ``master_gain``, ``full_sources`` (the level of detail: that many sources on the full path, the others
in the ambisonic bed, 0 for no limit) and ``lod_hysteresis_db`` (how much louder another source must rank
to take a full-path place). They are validated
by the Engine's own checks (:func:`spatialmw.engine.check_cone` and the others), applied by
the ``liteinn`` and ``tdw`` renderers, and ignored with a warning by ``reference``.
"""
from __future__ import annotations

import json
import math
import os
import sys
import tempfile
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from . import defaults as D
from . import geometry
from .errors import SpatialmwError
from .kernels import reverb as R
from .kernels.corrector import EQUALIZATIONS
from .kernels.motion import block_pose

MAX_SCENE_BYTES = 4 * 2 ** 20
MAX_SOURCES = 256
MAX_DURATION = 3600.0
MAX_WAV_SECONDS = 3600.0
RENDERERS = ("liteinn", "tdw", "reference")
NORMALIZE_MODES = (None, "peak", "loudness")
PEAK_TARGET_DBFS = -1.0
LOUDNESS_TARGET_DB = -23.0
OUTPUT_EXTENSIONS = (".wav",)


class SceneError(SpatialmwError, ValueError):
    """A scene (file or object) that cannot be rendered; the message names the field."""


def _finite(v, what, lo=-math.inf, hi=math.inf):
    try:
        x = float(v)
    except (TypeError, ValueError):
        raise SceneError(f"{what} must be a number, got {v!r}") from None
    if not math.isfinite(x) or not lo <= x <= hi:
        raise SceneError(f"{what} must be finite and within [{lo:g}, {hi:g}], got {v!r}")
    return x


def _flag(v, what):
    """A JSON true/false (a string such as "false" would otherwise read as True)."""
    if not isinstance(v, bool):
        raise SceneError(f"{what} must be true or false, got {v!r}")
    return v


def _vec3(v, what):
    try:
        return geometry.as_vector3(v, what)
    except geometry.GeometryError as e:
        raise SceneError(str(e)) from None


# ---------------------------------------------------------------- trajectories
# A trajectory is any object with ``at(t)``: positions (len(t), 3) at times t (seconds),
# in the scene's coordinate system. (``positions`` is the keyframes' data, in Python as in
# JSON, so the method has another name.)
@dataclass
class Static:
    position: tuple = (1.0, 0.0, 0.0)

    def at(self, t):
        return np.broadcast_to(_vec3(self.position, "static position"), (len(t), 3)).copy()


@dataclass
class Linear:
    start: tuple = (-5.0, 2.0, 0.0)
    end: tuple = (5.0, 2.0, 0.0)
    t0: float = 0.0
    t1: float | None = None  # None: the scene's duration

    def at(self, t, duration=None):
        a, b = _vec3(self.start, "linear start"), _vec3(self.end, "linear end")
        t1 = self.t1 if self.t1 is not None else (duration or (t[-1] if len(t) else 1.0))
        span = max(float(t1) - float(self.t0), 1e-9)
        u = np.clip((t - self.t0) / span, 0.0, 1.0)[:, None]
        return a + (b - a) * u


@dataclass
class Orbit:
    radius: float = 2.0
    period: float = 4.0
    center: tuple = (0.0, 0.0, 0.0)
    elevation_deg: float = 0.0
    phase_deg: float = 0.0

    def at(self, t):
        c = _vec3(self.center, "orbit center")
        if self.period == 0:
            raise SceneError("orbit period must be non-zero")
        az = np.radians(self.phase_deg) + 2 * np.pi * t / self.period
        el = math.radians(self.elevation_deg)
        return c + np.stack([self.radius * math.cos(el) * np.cos(az),
                             self.radius * math.cos(el) * np.sin(az),
                             np.full_like(az, self.radius * math.sin(el))], axis=1)


@dataclass
class Keyframes:
    """A Catmull-Rom spline through ``positions`` (one [x, y, z] per entry of ``times``,
    seconds, strictly increasing): C1-smooth, held constant outside the times."""
    times: list = field(default_factory=lambda: [0.0, 1.0])
    positions: list = field(default_factory=lambda: [[1, 0, 0], [0, 1, 0]])

    def at(self, t):
        times = np.asarray(self.times, dtype=np.float64)
        pts = np.asarray(self.positions, dtype=np.float64)
        if times.ndim != 1 or len(times) < 2 or pts.shape != (len(times), 3):
            raise SceneError("keyframes need >= 2 times and one [x, y, z] per time")
        if not (np.all(np.isfinite(times)) and np.all(np.isfinite(pts))):
            raise SceneError("keyframes contain NaN or Inf")
        if np.any(np.diff(times) <= 0):
            raise SceneError("keyframe times must increase strictly")
        # Catmull-Rom tangents for non-uniform knots (finite differences), Hermite basis
        m = np.empty_like(pts)
        m[1:-1] = (pts[2:] - pts[:-2]) / (times[2:] - times[:-2])[:, None]
        m[0] = (pts[1] - pts[0]) / (times[1] - times[0])
        m[-1] = (pts[-1] - pts[-2]) / (times[-1] - times[-2])
        tc = np.clip(t, times[0], times[-1])
        i = np.clip(np.searchsorted(times, tc, side="right") - 1, 0, len(times) - 2)
        h = (times[i + 1] - times[i])[:, None]
        s = ((tc - times[i]) / (times[i + 1] - times[i]))[:, None]
        h00, h10 = 2 * s ** 3 - 3 * s ** 2 + 1, s ** 3 - 2 * s ** 2 + s
        h01, h11 = -2 * s ** 3 + 3 * s ** 2, s ** 3 - s ** 2
        return h00 * pts[i] + h10 * h * m[i] + h01 * pts[i + 1] + h11 * h * m[i + 1]


@dataclass
class Facing:
    """Fixed orientation (degrees; yaw turns left, about +z)."""
    yaw_deg: float = 0.0
    pitch_deg: float = 0.0
    roll_deg: float = 0.0

    def quaternions(self, t):
        q = geometry.quaternion_from_euler(self.yaw_deg, self.pitch_deg, self.roll_deg)
        return np.broadcast_to(q, (len(t), 4)).copy()


@dataclass
class Turn:
    """Constant-rate yaw (degrees per second; positive turns left)."""
    rate_deg_s: float = 90.0
    yaw_deg: float = 0.0

    def quaternions(self, t):
        h = np.radians(self.yaw_deg + self.rate_deg_s * t) / 2
        return np.stack([np.zeros_like(h), np.zeros_like(h), np.sin(h), np.cos(h)], axis=1)


# ---------------------------------------------------------------- room and tone features
@dataclass
class Cone:
    """Directivity about the source's forward axis (+x of its ``orientation``), as
    ``Engine.set_source_cone``: full angles in degrees, gains 0..1."""
    inner_deg: float = D.SOURCE_PARAMS["P_CONE_INNER"]
    outer_deg: float = D.SOURCE_PARAMS["P_CONE_OUTER"]
    outer_gain: float = D.SOURCE_PARAMS["P_CONE_OUTER_GAIN"]
    outer_hf_gain: float = D.SOURCE_PARAMS["P_CONE_OUTER_HF"]


@dataclass
class Transmission:
    """Band gains (low, mid, high; 0..1) changing over time: one [low, mid, high] per entry
    of ``times`` (seconds, strictly increasing), linear between, held outside. A static
    transmission is a plain (low, mid, high) tuple."""
    times: list = field(default_factory=lambda: [0.0, 1.0])
    values: list = field(default_factory=lambda: [[1, 1, 1], [1, 1, 1]])

    def at(self, t):
        try:
            times = np.asarray(self.times, dtype=np.float64)
            v = np.asarray(self.values, dtype=np.float64)
        except (TypeError, ValueError):
            raise SceneError("transmission keyframes must be numbers") from None
        if times.ndim != 1 or len(times) < 2 or v.shape != (len(times), 3):
            raise SceneError("transmission keyframes need >= 2 times and one [low, mid, high] per time")
        if np.any(~np.isfinite(times)) or np.any(np.diff(times) <= 0):
            raise SceneError("transmission times must be finite and increase strictly")
        return np.stack([np.interp(t, times, v[:, b]) for b in range(3)], axis=1)


@dataclass
class Reverb:
    """The scene's shared late reverb, as ``Engine.set_reverb`` (RT60 seconds, seconds,
    ratio, linear gain)."""
    decay_time: float = R.DEFAULT_DECAY_TIME_S
    pre_delay: float = R.DEFAULT_PRE_DELAY_S
    hf_ratio: float = R.DEFAULT_HF_RATIO
    wet_gain: float = R.DEFAULT_WET_GAIN


def _engine_checked(what, check, *args):
    """The Engine's validation of a feature value, its error as a SceneError naming ``what``."""
    from .engine import EngineError

    try:
        return check(*args)
    except EngineError as e:
        raise SceneError(f"{what}: {e}") from None


def _transmission_bands(tr, t):
    """(len(t), 3) band gains of a static (low, mid, high) or a :class:`Transmission`."""
    if isinstance(tr, Transmission):
        return tr.at(t)
    try:
        low, mid, high = tr
        bands = np.array([low, mid, high], dtype=np.float64)
    except (TypeError, ValueError):
        raise SceneError(f"transmission must be [low, mid, high] (numbers) or transmission keyframes, "
                         f"got {tr!r}") from None
    return np.broadcast_to(bands, (len(t), 3))


# ---------------------------------------------------------------- signals
def _check_signal_keys(spec: dict, what: str = "signal") -> None:
    if "loop" in spec:
        raise SceneError(f"{what}: 'loop' is a key of the source, not of its signal: "
                         "write \"loop\": true next to \"signal\" (see docs/SCENES.md)")
    unknown = set(spec) - {"wav", "noise", "tone", "steps", "seed", "level"}
    if unknown:
        raise SceneError(f"{what}: unknown signal keys {sorted(unknown)}")


def _load_signal(spec, loop, sample_rate, n, base: Path | None, stereo: bool = False):
    """The float32 signal of a source, exactly ``n`` samples: cut, looped (``loop``) or
    padded with silence (played once); mono (n,) or, for a ``stereo`` source, (n, 2)."""
    if isinstance(spec, str):
        spec = {"noise": spec[6:]} if spec.startswith("noise:") else {"wav": spec}
    if isinstance(spec, np.ndarray):
        x = np.asarray(spec, dtype=np.float64)
        if stereo and (x.ndim != 2 or x.shape[1] != 2):
            raise SceneError(f"a stereo source's signal array must be (n, 2), got shape {x.shape}")
        if not stereo and x.ndim != 1:
            raise SceneError(f"source signal arrays must be mono (1-D), got shape {x.shape} "
                             "(a two-channel source needs a stereo_width)")
    elif isinstance(spec, dict):
        _check_signal_keys(spec)
        level = _finite(spec.get("level", 1.0), "signal level", 0.0, 100.0)
        if "wav" in spec:
            x = _read_wav(spec["wav"], sample_rate, base, stereo)
        elif stereo:
            raise SceneError("a stereo source's signal must be a two-channel WAV or an (n, 2) array")
        elif "noise" in spec:
            rng = np.random.default_rng(int(_finite(spec.get("seed", 0), "seed", 0, 2 ** 32)))
            x = rng.standard_normal(n)
            if spec["noise"] == "pink":
                f = np.fft.rfftfreq(n, 1.0 / sample_rate)
                spec_ = np.fft.rfft(x)
                spec_[1:] /= np.sqrt(f[1:] / f[1])
                spec_[0] = 0
                x = np.fft.irfft(spec_, n)
            elif spec["noise"] != "white":
                raise SceneError(f"noise must be 'white' or 'pink', got {spec['noise']!r}")
            x = 0.25 * x / (np.std(x) + 1e-12)
        elif "tone" in spec:
            f0 = _finite(spec["tone"], "tone frequency", 1.0, sample_rate / 2)
            x = 0.5 * np.sin(2 * np.pi * f0 * np.arange(n) / sample_rate)
        elif "steps" in spec:
            # footsteps: a broadband noise thump (30 ms decay) every 1/rate seconds, 0.5 peak
            rate = _finite(spec["steps"], "steps per second", 0.1, 50.0)
            rng = np.random.default_rng(int(_finite(spec.get("seed", 0), "seed", 0, 2 ** 32)))
            k = np.arange(n)
            age = (k % max(1, int(round(sample_rate / rate)))) / sample_rate
            x = rng.uniform(-0.5, 0.5, n) * np.exp(-age / 0.03)
        else:
            raise SceneError("a signal needs one of 'wav', 'noise', 'tone', 'steps'")
        x = x * level
    else:
        raise SceneError(f"a source signal must be a WAV path, dict or numpy array, got {type(spec).__name__}")
    if not np.all(np.isfinite(x)):
        raise SceneError("source signal contains NaN or Inf")
    if len(x) == 0:
        raise SceneError("source signal is empty")
    if len(x) >= n:
        return x[:n].astype(np.float32)
    if loop:
        return np.tile(x, (-(-n // len(x)),) + (1,) * (x.ndim - 1))[:n].astype(np.float32)
    return np.concatenate([x, np.zeros((n - len(x),) + x.shape[1:])]).astype(np.float32)


def _read_wav(path, sample_rate, base, stereo=False):
    """A WAV file at ``sample_rate``: mono (channels averaged), or ``stereo`` (n, 2) from
    a two-channel file."""
    import soundfile as sf
    from scipy.signal import resample_poly

    p = Path(path)
    if not p.is_absolute() and base is not None:
        p = base / p
    # checked here, with the file named, because libsndfile says only "System error."
    if not p.is_file():
        raise SceneError(f"cannot read WAV {p}: no such file")
    if not os.access(p, os.R_OK):
        raise SceneError(f"cannot read WAV {p}: permission denied")
    try:
        info = sf.info(str(p))
        if info.frames / max(info.samplerate, 1) > MAX_WAV_SECONDS:
            raise SceneError(f"{p}: longer than {MAX_WAV_SECONDS:g} s")
        x, sr = sf.read(str(p), dtype="float64", always_2d=True)
    except SceneError:
        raise
    except Exception as e:  # soundfile raises RuntimeError/LibsndfileError/OSError variants
        raise SceneError(f"cannot read WAV {p}: {e}") from None
    if stereo and x.shape[1] != 2:
        raise SceneError(f"{p}: a stereo source needs a two-channel WAV, this one has {x.shape[1]}")
    if not stereo:
        x = x.mean(axis=1)
    if sr != sample_rate:
        g = math.gcd(int(sr), int(sample_rate))
        x = resample_poly(x, int(sample_rate) // g, int(sr) // g, axis=0)
    return x


# ---------------------------------------------------------------- scene objects
@dataclass
class Source:
    signal: object
    trajectory: object = field(default_factory=Static)
    gain: float = D.SOURCE_GAIN
    distance_model: str = D.SOURCE_DISTANCE_MODEL
    min_distance: float = D.SOURCE_MIN_DISTANCE
    max_distance: float = D.SOURCE_MAX_DISTANCE
    rolloff: float = D.SOURCE_ROLLOFF
    doppler: bool = D.SOURCE_DOPPLER
    spatialize: bool = D.SOURCE_SPATIALIZE
    loop: bool = False    # True: repeat the signal until the scene ends; False: play it once
    name: str = ""
    orientation: object = field(default_factory=Facing)   # where the cone points (+x of it)
    cone: Cone | None = None                               # None: omnidirectional
    transmission: object = D.SOURCE_PARAMS["P_TRANSMISSION"]  # (low, mid, high) or a Transmission
    air_absorption: float = D.SOURCE_PARAMS["P_AIR_ABSORPTION"]
    reverb_send: float = D.SOURCE_PARAMS["P_REVERB_SEND"]
    spread: float = D.SOURCE_PARAMS["P_SPREAD"]          # degrees, 0 (a point) .. 360
    # None: a mono source (a multichannel WAV is averaged); degrees 0..180: a stereo source
    # (two-channel WAV or (n, 2) array), its channels as two points +-width/2 about it
    stereo_width: float | None = None
    priority: float = D.SOURCE_PRIORITY                   # level of detail: ranking weight, 0..1e6

    def check_features(self, what: str = "source") -> None:
        """The cone, transmission, air absorption and send, through the Engine's checks."""
        from . import engine as E

        if self.cone is not None:
            c = self.cone
            _engine_checked(f"{what} cone", E.check_cone, c.inner_deg, c.outer_deg, c.outer_gain, c.outer_hf_gain)
        tr = self.transmission
        try:  # the values at the keyframes' own times: linear between, so none is out of range
            times = tr.times if isinstance(tr, Transmission) else [0.0]
            rows = _transmission_bands(tr, np.asarray(times, dtype=np.float64))
        except (TypeError, ValueError) as e:  # SceneError included
            msg = str(e) if isinstance(e, SceneError) else f"transmission times must be numbers ({e})"
            raise SceneError(f"{what}: {msg}") from None
        for row in rows:
            _engine_checked(f"{what} transmission", E.check_transmission, *row)
        _engine_checked(f"{what} air_absorption", E.check_air_absorption, self.air_absorption)
        _engine_checked(f"{what} reverb_send", E.check_reverb_send, self.reverb_send)
        _engine_checked(f"{what} spread", E.check_spread, self.spread)
        if self.stereo_width is not None:
            _engine_checked(f"{what} stereo_width", E.check_stereo_width, self.stereo_width)
        _engine_checked(f"{what} priority", E.check_priority, self.priority)

    def has_features(self) -> bool:
        """True when any room or tone feature differs from a plain source."""
        plain_tr = not isinstance(self.transmission, Transmission) and tuple(self.transmission) == (1, 1, 1)
        return not (self.cone is None and plain_tr and self.air_absorption == 0 and self.reverb_send == 0
                    and self.spread == 0)


@dataclass
class Listener:
    trajectory: object = field(default_factory=lambda: Static((0.0, 0.0, 0.0)))
    orientation: object = field(default_factory=Facing)


def _positions(traj, t, duration):
    if isinstance(traj, Linear):
        return traj.at(t, duration)
    return traj.at(t)


def _axes(coordinate_system):
    """(axis matrix, scale) of a coordinate system name, or a SceneError naming the valid ones."""
    try:
        return geometry.COORDINATE_SYSTEMS[coordinate_system]
    except (KeyError, TypeError):
        raise SceneError(f"unknown coordinate_system {coordinate_system!r}; expected one of "
                         f"{', '.join(sorted(geometry.COORDINATE_SYSTEMS))}") from None


@dataclass
class Scene:
    duration: float = 5.0
    sample_rate: int = 48000
    listener: Listener = field(default_factory=Listener)
    sources: list = field(default_factory=list)
    coordinate_system: str = "native"
    base_dir: Path | None = None
    equalization: str = "none"     # "none" (the measured HRTF) or "diffuse_field" (Lite-INN only)
    reverb: Reverb | None = None   # None: no reverb (every source's reverb_send is then unheard)
    hop: int = D.HOP_FRAMES        # 256, 128 or 64: the engine's overlap-save hop (latency, cost)
    full_sources: int = D.FULL_SOURCES  # level of detail: sources on the full path (0: no limit)
    lod_hysteresis_db: float = D.LOD_HYSTERESIS_DB  # dB another source must rank above a full-path one to take its place
    master_gain: float = 1.0       # linear, 0..1000, on the whole mix

    def __post_init__(self):
        _axes(self.coordinate_system)
        if self.equalization not in EQUALIZATIONS:
            raise SceneError(f"unknown equalization {self.equalization!r}; expected one of {EQUALIZATIONS}")

    def add(self, source: Source) -> Source:
        self.sources.append(source)
        return source

    # -- sampling the scene
    def _check(self):
        _finite(self.duration, "duration", 1e-3, MAX_DURATION)
        if self.sample_rate not in D.SAMPLE_RATES:
            raise SceneError(f"unsupported sample rate {self.sample_rate}; use one of {D.SAMPLE_RATES}")
        if not self.sources:
            raise SceneError("the scene has no sources")
        if len(self.sources) > MAX_SOURCES:
            raise SceneError(f"too many sources ({len(self.sources)} > {MAX_SOURCES})")
        from . import engine as E

        if self.hop not in D.HOP_FRAMES_CHOICES or isinstance(self.hop, bool):
            raise SceneError(f"hop must be one of {D.HOP_FRAMES_CHOICES}, got {self.hop!r}")
        k = self.full_sources
        if isinstance(k, bool) or not isinstance(k, int) or not 0 <= k <= D.MAX_SOURCES_LIMIT:
            raise SceneError(f"full_sources must be an integer 0..{D.MAX_SOURCES_LIMIT} (0: no limit), got {k!r}")
        h = self.lod_hysteresis_db
        if isinstance(h, bool) or not isinstance(h, (int, float)) or not 0.0 <= h <= D.LOD_HYSTERESIS_MAX_DB:
            raise SceneError(f"lod_hysteresis_db must be a number 0..{D.LOD_HYSTERESIS_MAX_DB:g} dB, got {h!r}")
        _engine_checked("scene", E.check_master_gain, self.master_gain)
        if self.reverb is not None:
            r = self.reverb
            _engine_checked("scene", E.check_reverb, r.decay_time, r.pre_delay, r.hf_ratio, r.wet_gain)
        for i, s in enumerate(self.sources):
            s.check_features(f"source {i}")

    def _native(self, pos):
        m, scale = _axes(self.coordinate_system)
        return pos @ m.T * scale

    def _native_q(self, q):
        m, _ = _axes(self.coordinate_system)
        v = np.linalg.det(m) * (q[:, :3] @ m.T)
        n = np.linalg.norm(q, axis=1, keepdims=True)
        if np.any(~np.isfinite(n)) or np.any(n < geometry.MIN_QUATERNION_NORM):
            raise SceneError("listener orientation has a zero or non-finite quaternion")
        return np.concatenate([v, q[:, 3:]], axis=1) / n

    def listener_poses(self, t):
        """(positions (n,3), quaternions (n,4)) of the listener in native axes at times t."""
        p = self._native(_positions(self.listener.trajectory, t, self.duration))
        q = self._native_q(self.listener.orientation.quaternions(t))
        return p, q

    def source_positions(self, i, t):
        """Native positions of source i at times t."""
        return self._native(_positions(self.sources[i].trajectory, t, self.duration))

    def source_orientations(self, i, t):
        """Native quaternions of source i at times t (where its cone points)."""
        return self._native_q(self.sources[i].orientation.quaternions(t))

    def signals(self):
        """Every source's float32 signal, the scene's length at its sample rate: (n,), or
        (n, 2) for a stereo source (WAV files are read, checked and resampled here)."""
        n = int(round(self.duration * self.sample_rate))
        return [_load_signal(s.signal, s.loop, self.sample_rate, n, self.base_dir, s.stereo_width is not None)
                for s in self.sources]

    # -- rendering
    def render(self, renderer: str = "liteinn", block: int = 512, model=None, progress: bool = False,
               normalize: str | None = None) -> np.ndarray:
        """Render the whole scene to a (n, 2) float32 array with the chosen renderer.

        ``model``: a Lite-INN model file for ``renderer="liteinn"`` (default: the shipped
        KEMAR model); the other renderers use none, so giving one is an error rather than
        silently ignored. ``progress``: a progress bar on stderr (and, on a cold numba cache,
        a "compiling kernels" line first). ``normalize``: None (as rendered, peaks above 1.0
        kept), ``"peak"`` or ``"loudness"`` (see :func:`normalize_audio`). Every WAV is read
        and checked before the engine is built, so a bad file fails at once."""
        self._check()
        if renderer not in RENDERERS:
            raise SceneError(f"unknown renderer {renderer!r}; expected one of {RENDERERS}")
        if model is not None and renderer != "liteinn":
            raise SceneError(f"a model is used only by the liteinn renderer, not by {renderer!r}")
        if normalize not in NORMALIZE_MODES:
            raise SceneError(f"unknown normalize mode {normalize!r}; expected one of {NORMALIZE_MODES}")
        xs = self.signals()
        if renderer == "reference":
            ignored = [name for name, on in (("reverb", self.reverb is not None), ("hop", self.hop != D.HOP_FRAMES),
                                              ("master_gain", self.master_gain != 1.0),
                                              ("source cone/transmission/air_absorption/reverb_send/spread",
                                               any(s.has_features() for s in self.sources))) if on]
            if ignored:
                warnings.warn(f"the reference renderer ignores {', '.join(ignored)} (only liteinn and tdw "
                              "render them)", UserWarning, stacklevel=2)
            y = self._render_reference(xs, progress)
        else:
            y = self._render_engine(xs, renderer == "liteinn", block, model, progress)
        return normalize_audio(y, normalize)

    def engine_blocks(self, block: int, extra: int = 0, signals=None):
        """The scene as the engine sees it, block by block: yields (frames, listener
        position, listener velocity, listener quaternion, [source positions], [source
        velocities], [mono chunks]) in native axes: the poses and velocities
        (:func:`spatialmw.kernels.motion.block_pose`, the velocity of the block's chord) with
        which the engine, moving a pose on with its velocity, starts each block exactly on
        the path and ends it there. The quaternion is the one at the block's end
        (orientations are not extrapolated: the engine ramps towards them). ``extra``
        appends that many frames of silent input (to flush the latency); ``signals`` are
        :meth:`signals`' result when the caller has it already."""
        xs = self.signals() if signals is None else signals
        n = len(xs[0])
        total = n + extra
        starts = np.arange(0, total, block)
        ends = np.minimum(starts + block, total)
        t0, t1 = starts / self.sample_rate, ends / self.sample_rate
        span = (t1 - t0)[:, None]
        lp1, lq = self.listener_poses(t1)
        lp, lv = block_pose(self.listener_poses(t0)[0], lp1, span)
        sp, sv = zip(*[block_pose(self.source_positions(i, t0), self.source_positions(i, t1), span)
                       for i in range(len(self.sources))])
        for b, (a, e) in enumerate(zip(starts, ends)):
            yield (int(e - a), lp[b], lv[b], lq[b], [p[b] for p in sp], [v[b] for v in sv],
                   [x[a:e] if a < n else np.zeros(0, np.float32) for x in xs])

    def engine_features(self, block: int, extra: int = 0):
        """Per block, as :meth:`engine_blocks` yields them (values at each block's end,
        which the engine ramps towards, as for the quaternions): ([source quaternions],
        [source (low, mid, high) transmissions])."""
        n = int(round(self.duration * self.sample_rate))
        t_end = np.minimum(np.arange(0, n + extra, block) + block, n + extra) / self.sample_rate
        sq = [self.source_orientations(i, t_end) for i in range(len(self.sources))]
        tr = [_transmission_bands(s.transmission, t_end) for s in self.sources]
        for b in range(len(t_end)):
            yield [q[b] for q in sq], [x[b] for x in tr]

    def _render_engine(self, xs, ibc, block, model, progress):
        from tqdm import tqdm

        from . import kernel_cache_is_cold
        from .engine import Engine

        if progress and kernel_cache_is_cold():
            print("compiling kernels (first run only)...", file=sys.stderr, flush=True)
        n = int(round(self.duration * self.sample_rate))
        voices = sum(1 if s.stereo_width is None else 2 for s in self.sources)   # a stereo source: two
        eng = Engine(self.sample_rate, voices, block, model=model, ibc=ibc,
                     equalization=self.equalization, hop=self.hop, full_sources=self.full_sources,
                     lod_hysteresis_db=self.lod_hysteresis_db)
        lat = eng.latency_frames
        handles = []
        for s in self.sources:
            params = dict(gain=s.gain, distance_model=s.distance_model, min_distance=s.min_distance,
                          max_distance=s.max_distance, rolloff=s.rolloff, doppler=s.doppler, spatialize=s.spatialize)
            handles.append(eng.add_source(**params) if s.stereo_width is None
                           else eng.add_stereo_source(s.stereo_width, **params))
        for h, s in zip(handles, self.sources):
            if s.cone is not None:
                eng.set_source_cone(h, s.cone.inner_deg, s.cone.outer_deg, s.cone.outer_gain, s.cone.outer_hf_gain)
            eng.set_source_air_absorption(h, s.air_absorption)
            eng.set_source_reverb_send(h, s.reverb_send)
            eng.set_source_spread(h, s.spread)
            eng.set_source_priority(h, s.priority)
        if self.reverb is not None:
            r = self.reverb
            eng.set_reverb(r.decay_time, r.pre_delay, r.hf_ratio, r.wet_gain)
        eng.set_master_gain(self.master_gain)
        out = np.zeros((n + lat, 2), dtype=np.float32)
        pos = 0
        bar = None
        for (frames, lp, lv, lq, sp, sv, chunks), (sq, tr) in zip(self.engine_blocks(block, extra=lat, signals=xs),
                                                                  self.engine_features(block, extra=lat)):
            eng.set_listener_pose(lp, lq)
            eng.set_listener_velocity(lv)
            for h, p, v, q, bands, x in zip(handles, sp, sv, sq, tr, chunks):
                eng.set_source_pose(h, p, q)
                eng.set_source_velocity(h, v)
                eng.set_source_transmission(h, *bands)
                if len(x):
                    eng.write(h, x)
            out[pos:pos + frames] = eng.render(frames)
            pos += frames
            # the bar starts after the first block, which compiles the render kernels on a
            # cold cache: its rate and ETA are then the steady state's, not the compiler's
            if bar is not None:
                bar.update()
            elif progress:
                bar = tqdm(total=-(-(n + lat) // block), initial=1, desc="render", unit="block")
        if bar is not None:
            bar.close()
        return out[lat:]

    def _render_reference(self, xs, progress):
        from tqdm import tqdm

        from .hrtf.reference import ReferenceRenderer
        from .hrtf.sofa import default_sofa_path, read_sofa

        n = len(xs[0])
        hrirs = read_sofa(default_sofa_path(), sample_rate=self.sample_rate)
        ref = ReferenceRenderer(hrirs, self.sample_rate)
        t = np.arange(n) / self.sample_rate
        lp, lq = self.listener_poses(t)
        out = np.zeros((n, 2))
        for i, s in enumerate(tqdm(self.sources, disable=not progress, desc="reference", unit="source")):
            rel = _rotate_inverse(lq, self.source_positions(i, t) - lp)
            d = np.linalg.norm(rel, axis=1)
            gain = s.gain * _distance_gain_array(s, d)
            # a stereo source's channels: two points turned +-width/2 about the listener's up axis
            half = 0.0 if s.stereo_width is None else math.radians(s.stereo_width) / 2
            for x, turn in ([(xs[i], 0.0)] if s.stereo_width is None else [(xs[i][:, 0], half), (xs[i][:, 1], -half)]):
                if not s.spatialize:
                    out += (gain * x)[:, None]
                    continue
                c, sn = math.cos(turn), math.sin(turn)
                out += ref.render(x, np.stack([c * rel[:, 0] - sn * rel[:, 1], sn * rel[:, 0] + c * rel[:, 1],
                                               rel[:, 2]], axis=1), gain)
        return out.astype(np.float32)

    def write(self, path, renderer: str = "liteinn", progress: bool = False, normalize: str | None = None,
              **kw) -> np.ndarray:
        """Render and write a stereo 32-bit float WAV; returns the audio.

        The output path is checked before rendering (a ``.wav`` name, not a folder, a
        writable folder: :class:`OutputError` otherwise). The audio goes to a temporary
        file in the destination folder, renamed over ``path`` only once completely
        written, so a failure (disk full, interrupted) leaves no truncated WAV behind."""
        import soundfile as sf

        path = Path(path)
        tmp = _claim_output(path)
        try:
            y = self.render(renderer, progress=progress, normalize=normalize, **kw)
            sf.write(tmp, y, self.sample_rate, subtype="FLOAT", format="WAV")
            os.replace(tmp, path)
        except sf.SoundFileError as e:
            raise OutputError(f"cannot write {path}: {e} (disk full or a file-size limit?); "
                              "nothing was written") from None
        finally:
            if os.path.exists(tmp):
                os.unlink(tmp)
        return y


def loudness_db(y) -> float:
    """Ungated, unweighted BS.1770-style loudness of stereo ``y`` (n, 2):
    -0.691 + 10 log10(mean(left^2) + mean(right^2)). It is LUFS without the K-weighting
    filter and without gating: plain RMS power summed over the two channels, with the
    BS.1770 offset so a 1 kHz tone reads about as in LUFS. -inf for silence."""
    y = np.asarray(y, dtype=np.float64)
    power = float(np.sum(np.mean(y * y, axis=0))) if y.size else 0.0
    return -0.691 + 10 * math.log10(power) if power > 0 else -math.inf


def normalize_audio(y: np.ndarray, mode: str | None) -> np.ndarray:
    """Scale ``y`` so its peak is at -1 dBFS (``"peak"``) or its :func:`loudness_db` is
    -23 dB (``"loudness"``, broadcast level; the peak may then exceed 1.0); ``None`` and
    silence are returned unchanged."""
    if mode is None:
        return y
    if mode == "peak":
        peak = float(np.max(np.abs(y))) if y.size else 0.0
        gain = 10 ** (PEAK_TARGET_DBFS / 20) / peak if peak > 0 else 1.0
    elif mode == "loudness":
        level = loudness_db(y)
        gain = 10 ** ((LOUDNESS_TARGET_DB - level) / 20) if math.isfinite(level) else 1.0
    else:
        raise SceneError(f"unknown normalize mode {mode!r}; expected one of {NORMALIZE_MODES}")
    return (y * gain).astype(np.float32)


class OutputError(SpatialmwError, OSError):
    """An output file that cannot be written: unsupported format, a folder, no permission,
    disk full."""


def _claim_output(path: Path) -> str:
    """Check ``path`` as a WAV destination and create the empty temporary file the audio
    will be written to (same folder, so the final rename is atomic); returns its path.
    The folder is created if missing."""
    if path.is_dir():
        raise OutputError(f"cannot write {path}: it is a folder; give a file name ending in .wav")
    if path.suffix.lower() not in OUTPUT_EXTENSIONS:
        raise OutputError(f"cannot write {path}: unsupported output format {path.suffix or '(no extension)'}; "
                          f"only {' or '.join(OUTPUT_EXTENSIONS)} is written")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".part", dir=path.parent)
    except OSError as e:
        raise OutputError(f"cannot write {path}: cannot create a file in {path.parent} "
                          f"({e.strerror or e})") from None
    # mkstemp makes the file private (0600); the WAV gets the mode a plain open() would
    umask = os.umask(0)
    os.umask(umask)
    os.fchmod(fd, 0o666 & ~umask)
    os.close(fd)
    return tmp


def _rotate_inverse(q, v):
    """R(q)^T v for arrays of quaternions (n,4 x,y,z,w) and vectors (n,3)."""
    u = -q[:, :3]
    w = q[:, 3:]
    t = 2.0 * np.cross(u, v)
    return v + w * t + np.cross(u, t)


def _distance_gain_array(src: Source, d):
    model = geometry.DISTANCE_MODELS[src.distance_model]
    return np.array([geometry.distance_gain(model, x, src.min_distance, src.max_distance, src.rolloff)
                     for x in d[::64]]).repeat(64)[:len(d)]


# ---------------------------------------------------------------- JSON
_TRAJ = {"static": ({"position"}, lambda d: Static(tuple(d["position"]))),
         "linear": ({"start", "end", "t0", "t1"},
                    lambda d: Linear(tuple(d["start"]), tuple(d["end"]), float(d.get("t0", 0.0)),
                                     None if d.get("t1") is None else float(d["t1"]))),
         "orbit": ({"radius", "period", "center", "elevation_deg", "phase_deg"},
                   lambda d: Orbit(_finite(d.get("radius", 2.0), "orbit radius", 0.0, 1e6),
                                   _finite(d.get("period", 4.0), "orbit period", -1e6, 1e6),
                                   tuple(d.get("center", (0, 0, 0))),
                                   _finite(d.get("elevation_deg", 0.0), "elevation_deg", -90, 90),
                                   _finite(d.get("phase_deg", 0.0), "phase_deg"))),
         "keyframes": ({"times", "positions"}, lambda d: Keyframes(list(d["times"]), list(d["positions"])))}
_ORIENT = {"static": ({"yaw_deg", "pitch_deg", "roll_deg"},
                      lambda d: Facing(*(_finite(d.get(k, 0.0), k) for k in ("yaw_deg", "pitch_deg", "roll_deg")))),
           "turn": ({"rate_deg_s", "yaw_deg"},
                    lambda d: Turn(_finite(d.get("rate_deg_s", 90.0), "rate_deg_s", -1e5, 1e5),
                                   _finite(d.get("yaw_deg", 0.0), "yaw_deg")))}
_SOURCE_KEYS = {"name", "signal", "trajectory", "gain", "distance_model", "min_distance", "max_distance",
                "rolloff", "doppler", "spatialize", "loop", "orientation", "cone", "transmission",
                "air_absorption", "reverb_send", "spread", "stereo_width",
                "priority"}
_SCENE_KEYS = {"sample_rate", "duration", "coordinate_system", "listener", "sources", "description",
               "equalization", "reverb", "hop", "master_gain", "full_sources", "lod_hysteresis_db"}


def _number(v, what):
    """A JSON number (not a string, a boolean or null); its range is the Engine's to check."""
    if isinstance(v, bool) or not isinstance(v, (int, float)):
        raise SceneError(f"{what} must be a number, got {v!r}")
    return float(v)


def _fields(d, cls, what):
    """A dataclass of numbers from a JSON object with (a subset of) its field names."""
    names = list(cls.__dataclass_fields__)
    if not isinstance(d, dict):
        raise SceneError(f"{what} must be an object with keys {names}")
    unknown = set(d) - set(names)
    if unknown:
        raise SceneError(f"{what}: unknown keys {sorted(unknown)}; expected {names}")
    return cls(**{k: _number(v, f"{what} {k}") for k, v in d.items()})


def _transmission_from_json(v, what):
    if isinstance(v, dict):
        if set(v) != {"times", "values"}:
            raise SceneError(f"{what} keyframes need exactly 'times' and 'values', got {sorted(v)}")
        times, values = v["times"], v["values"]
        if not isinstance(times, list) or not isinstance(values, list) or not all(
                isinstance(row, list) for row in values):
            raise SceneError(f"{what}: 'times' must be a list of seconds, 'values' a list of [low, mid, high]")
        return Transmission([_number(t, f"{what} time") for t in times],
                            [[_number(x, f"{what} value") for x in row] for row in values])
    if not isinstance(v, list) or len(v) != 3:
        raise SceneError(f"{what} must be [low, mid, high] or {{\"times\": [...], \"values\": [[low, mid, high], ...]}}, "
                         f"got {v!r}")
    return tuple(_number(x, f"{what} band") for x in v)


def _typed(d, table, what):
    if not isinstance(d, dict) or "type" not in d:
        raise SceneError(f"{what} must be an object with a 'type'")
    kind = d["type"]
    if kind not in table:
        raise SceneError(f"{what}: unknown type {kind!r}; expected one of {sorted(table)}")
    keys, make = table[kind]
    if kind == "keyframes" and "points" in d:
        raise SceneError(f"{what}: keyframes take 'positions' (as in Python), not 'points'")
    unknown = set(d) - keys - {"type"}
    if unknown:
        raise SceneError(f"unknown {what} keys {sorted(unknown)} for type {kind!r}")
    try:
        obj = make(d)
    except SceneError:
        raise
    except (KeyError, TypeError, ValueError) as e:
        raise SceneError(f"bad {what} ({kind}): {e}") from None
    return obj


def scene_from_dict(d: dict, base_dir: Path | None = None) -> Scene:
    """Build (and validate) a Scene from the JSON structure documented above.

    Scene files are untrusted: whatever malformed value reaches numpy or float() (ragged
    keyframes, strings, 2**1100, a list where a name belongs) surfaces as SceneError."""
    try:
        return _scene_from_dict(d, base_dir)
    except SceneError:
        raise
    except (ValueError, TypeError, KeyError, IndexError, OverflowError, ZeroDivisionError,
            RecursionError) as e:
        raise SceneError(f"malformed scene: {type(e).__name__}: {e}") from None


def _scene_from_dict(d, base_dir):
    if not isinstance(d, dict):
        raise SceneError("a scene must be a JSON object")
    unknown = set(d) - _SCENE_KEYS
    if unknown:
        raise SceneError(f"unknown scene keys {sorted(unknown)}")
    cs = d.get("coordinate_system", "native")
    _axes(cs)
    lis = d.get("listener", {})
    if not isinstance(lis, dict) or set(lis) - {"trajectory", "orientation"}:
        raise SceneError("listener must be an object with 'trajectory' and/or 'orientation'")
    listener = Listener(
        _typed(lis.get("trajectory", {"type": "static", "position": [0, 0, 0]}), _TRAJ, "trajectory"),
        _typed(lis.get("orientation", {"type": "static"}), _ORIENT, "orientation"))
    srcs = d.get("sources")
    if not isinstance(srcs, list) or not srcs:
        raise SceneError("'sources' must be a non-empty list")
    if len(srcs) > MAX_SOURCES:
        raise SceneError(f"too many sources ({len(srcs)} > {MAX_SOURCES})")
    sources = []
    for i, s in enumerate(srcs):
        if not isinstance(s, dict):
            raise SceneError(f"source {i} must be an object")
        unknown = set(s) - _SOURCE_KEYS
        if unknown:
            raise SceneError(f"source {i}: unknown keys {sorted(unknown)}")
        if "signal" not in s:
            raise SceneError(f"source {i}: missing 'signal'")
        if isinstance(s["signal"], dict):
            _check_signal_keys(s["signal"], f"source {i}")
        dm = s.get("distance_model", "inverse_clamped")
        if dm not in geometry.DISTANCE_MODELS:
            raise SceneError(f"source {i}: unknown distance_model {dm!r}")
        sources.append(Source(
            signal=s["signal"] if isinstance(s["signal"], dict) else {"wav": str(s["signal"])},
            trajectory=_typed(s.get("trajectory", {"type": "static", "position": [1, 0, 0]}), _TRAJ,
                              f"source {i} trajectory"),
            gain=_finite(s.get("gain", D.SOURCE_GAIN), f"source {i} gain", 0.0, D.MAX_GAIN),
            distance_model=dm,
            min_distance=_finite(s.get("min_distance", D.SOURCE_MIN_DISTANCE), f"source {i} min_distance",
                                 1e-3, D.MAX_DISTANCE_M),
            max_distance=_finite(s.get("max_distance", D.SOURCE_MAX_DISTANCE), f"source {i} max_distance",
                                 1e-3, D.MAX_DISTANCE_M),
            rolloff=_finite(s.get("rolloff", D.SOURCE_ROLLOFF), f"source {i} rolloff", 0.0, D.MAX_ROLLOFF),
            doppler=_flag(s.get("doppler", D.SOURCE_DOPPLER), f"source {i} doppler"),
            spatialize=_flag(s.get("spatialize", D.SOURCE_SPATIALIZE), f"source {i} spatialize"),
            loop=_flag(s.get("loop", False), f"source {i} loop"),
            name=str(s.get("name", f"source{i}")),
            orientation=_typed(s.get("orientation", {"type": "static"}), _ORIENT, f"source {i} orientation"),
            cone=None if "cone" not in s else _fields(s["cone"], Cone, f"source {i} cone"),
            transmission=_transmission_from_json(s.get("transmission", [1.0, 1.0, 1.0]), f"source {i} transmission"),
            air_absorption=_number(s.get("air_absorption", 0.0), f"source {i} air_absorption"),
            reverb_send=_number(s.get("reverb_send", 0.0), f"source {i} reverb_send"),
            spread=_number(s.get("spread", 0.0), f"source {i} spread"),
            stereo_width=None if "stereo_width" not in s else _number(s["stereo_width"], f"source {i} stereo_width"),
            priority=_number(s.get("priority", D.SOURCE_PRIORITY), f"source {i} priority")))
        if sources[-1].max_distance < sources[-1].min_distance:
            raise SceneError(f"source {i}: max_distance < min_distance")
    sr = d.get("sample_rate", 48000)
    if sr not in D.SAMPLE_RATES:
        raise SceneError(f"unsupported sample_rate {sr!r}; use one of {D.SAMPLE_RATES}")
    hop = d.get("hop", D.HOP_FRAMES)
    if isinstance(hop, bool) or hop not in D.HOP_FRAMES_CHOICES:
        raise SceneError(f"hop must be one of {list(D.HOP_FRAMES_CHOICES)} (frames), got {hop!r}")
    scene = Scene(duration=_finite(d.get("duration", 5.0), "duration", 1e-3, MAX_DURATION),
                  sample_rate=int(sr), listener=listener, sources=sources, coordinate_system=cs,
                  base_dir=base_dir, equalization=d.get("equalization", "none"),
                  reverb=None if "reverb" not in d else _fields(d["reverb"], Reverb, "reverb"),
                  hop=int(hop), master_gain=_number(d.get("master_gain", 1.0), "master_gain"),
                  full_sources=d.get("full_sources", D.FULL_SOURCES),
                  lod_hysteresis_db=_number(d.get("lod_hysteresis_db", D.LOD_HYSTERESIS_DB), "lod_hysteresis_db"))
    scene._check()  # every value's range, by the Engine's own checks
    # sample every trajectory once so a bad one fails at load, not mid-render
    t = np.linspace(0.0, scene.duration, 16)
    # (native positions, limited by their norm as the engine limits them)
    paths = [("listener", scene.listener_poses(t)[0])]
    paths += [(f"source {i}", scene.source_positions(i, t)) for i in range(len(sources))]
    for what, p in paths:
        if not np.all(np.isfinite(p)) or np.max(np.linalg.norm(p, axis=1)) > D.MAX_POSITION_M:
            raise SceneError(f"{what}: trajectory leaves the world (farther than {D.MAX_POSITION_M:g} m "
                             "from the origin, or non-finite)")
    return scene


def load_scene(path) -> Scene:
    """Read and validate a JSON scene file (untrusted input)."""
    p = Path(path)
    try:
        size = p.stat().st_size
        if size > MAX_SCENE_BYTES:
            raise SceneError(f"{p}: scene file too large ({size} bytes > {MAX_SCENE_BYTES})")
        text = p.read_text(encoding="utf-8")
    except SceneError:
        raise
    except (OSError, UnicodeDecodeError) as e:
        raise SceneError(f"cannot read scene {p}: {e}") from None
    try:
        d = json.loads(text)
    except (ValueError, RecursionError) as e:  # ValueError: also int literals > 4300 digits
        raise SceneError(f"{p}: not valid JSON: {e}") from None
    return scene_from_dict(d, base_dir=p.resolve().parent)
