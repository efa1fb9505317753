"""The renderer: fixed-capacity source slots in three flat pools, driven block by block.

The same pools and kernels serve both front ends. The native C library (``bindings/``)
runs the same planning and pool set-up (:mod:`spatialmw.kernels.plan`, compiled ahead of
time), allocates the pools and calls the kernels' @cfunc entry points from the audio
thread. :class:`Engine` owns numpy pools, plans and fills them through the thin wrappers
:func:`build_engine_layout` / :func:`init_pools` and calls the same kernels directly,
which is what Python scenes render through::

    >>> import numpy as np
    >>> from spatialmw.engine import Engine
    >>> eng = Engine(sample_rate=48000, max_sources=4, max_block=512)
    >>> src = eng.add_source(distance_model="none")
    >>> eng.set_source_pose(src, [0.0, 2.0, 0.0])          # 2 m to the left
    >>> eng.write(src, np.random.default_rng(0).standard_normal(512).astype(np.float32))
    >>> out = eng.render(512)                               # (512, 2) float32
    >>> out.shape
    (512, 2)

Positions and quaternions here are native (SOFA axes, metres); :mod:`spatialmw.scene` and
the C API convert engine coordinate systems at their boundary.
"""
from __future__ import annotations

import collections
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from . import defaults as D
from . import geometry
from .kernels import layout as L
from .kernels import plan as P
from .kernels import reverb
from .kernels.corrector import EQUALIZATIONS
from .kernels.plan import (HOP, IBC_EVALS_PER_512_FRAMES, IBC_LOOKUPS_PER_512_FRAMES,  # noqa: F401
                           IBC_TABLE_STEP_DEGREES, N_FFT, REEVAL_DEGREES)
from .kernels.render import (STATE_STOP, _clear_slot, render_core, skip_core, source_is_virtual, write_core,
                             write_stereo_core)
from .errors import SpatialmwError

# Limits and defaults (sample rates, sizes, |position|, |velocity|, gain, distances, a new
# source's values) live in spatialmw/defaults.py, shared with the C library.
# Corrector updates. A source whose direction moved more than REEVAL_DEGREES (or distance
# more than REEVAL_LOG_DISTANCE) gets new gains from the direction table (kernels/
# ibc_table.py: ~0.2 us lookup + ~2 us expansion to per-bin gains), at most
# IBC_LOOKUPS_PER_512_FRAMES per 512 rendered frames shared round-robin (<= ~0.6 ms of a
# 10.7 ms block however many sources move; below 256 moving sources every one is updated
# every block it moves). A source at rest whose gains came from the table gets an exact
# network evaluation (~14 us), at most IBC_EVALS_PER_512_FRAMES per 512 frames. Without a
# table (ibc_table_step = 0) moving sources are evaluated directly under that budget (with
# more than 16 moving, each one's gains refresh every ceil(moving / 16) blocks).
# New sources are always served at once (a lookup, or an evaluation without a table).
# The budgets, the table step and the other constants above live in kernels/plan.py, which
# the native library compiles too.


class EngineConfigError(SpatialmwError, ValueError):
    """Renderer settings that cannot be served (sample rate, sizes)."""


class EngineError(SpatialmwError, RuntimeError):
    """Misuse of a running engine: unknown source, capacity exhausted, bad block size."""


@dataclass
class EngineConfig:
    """Creation settings, mirrored by the C ``smw_renderer_settings`` (defaults and ranges:
    :mod:`spatialmw.defaults`)."""
    sample_rate: int = D.SAMPLE_RATE
    max_sources: int = D.MAX_SOURCES
    max_block: int = D.MAX_BLOCK
    model_path: str | None = None
    ibc: bool = D.CORRECTOR
    ibc_evals_per_512: float = IBC_EVALS_PER_512_FRAMES  # <= 0: no limit
    ibc_lookups_per_512: float = IBC_LOOKUPS_PER_512_FRAMES  # <= 0: no limit
    ibc_table_step: float = D.TABLE_STEP_DEG  # degrees between table directions; 0: no table
    equalization: str = D.EQUALIZATION  # "none" (the measured HRTF) or "diffuse_field"
    speed_of_sound: float = D.SPEED_OF_SOUND  # m/s: propagation delay and Doppler
    hop: int = D.HOP_FRAMES  # overlap-save hop, one of D.HOP_FRAMES_CHOICES: latency = hop + modelling delay
    full_sources: int = D.FULL_SOURCES  # level of detail: sources on the full path (0: all; kernels/lod.py)
    lod_hysteresis_db: float = D.LOD_HYSTERESIS_DB  # a full-path source's advantage in the ranking
    worker_threads: int = D.WORKER_THREADS  # the C library's; the Engine takes 0 only (see validate)

    def validate(self) -> "EngineConfig":
        if self.sample_rate not in D.SAMPLE_RATES:
            raise EngineConfigError(
                f"unsupported sample rate {self.sample_rate}; supported: {D.SAMPLE_RATES}")
        if not 1 <= int(self.max_sources) <= D.MAX_SOURCES_LIMIT:
            raise EngineConfigError(f"max_sources must be in 1..{D.MAX_SOURCES_LIMIT}, got {self.max_sources}")
        if not 1 <= int(self.max_block) <= D.MAX_BLOCK_LIMIT:
            raise EngineConfigError(f"max_block must be in 1..{D.MAX_BLOCK_LIMIT}, got {self.max_block}")
        step = float(self.ibc_table_step)
        if not (step == 0.0 or D.TABLE_STEP_MIN_DEG <= step <= D.TABLE_STEP_MAX_DEG):
            raise EngineConfigError(f"ibc_table_step must be 0 (no table) or {D.TABLE_STEP_MIN_DEG:g}.."
                                    f"{D.TABLE_STEP_MAX_DEG:g} degrees, got {step}")
        c = float(self.speed_of_sound)
        if not (math.isfinite(c) and D.SPEED_OF_SOUND_MIN <= c <= D.SPEED_OF_SOUND_MAX):
            raise EngineConfigError(f"speed_of_sound must be {D.SPEED_OF_SOUND_MIN:g}..{D.SPEED_OF_SOUND_MAX:g} m/s, "
                                    f"got {self.speed_of_sound}")
        if self.equalization not in EQUALIZATIONS:
            raise EngineConfigError(f"equalization must be one of {EQUALIZATIONS}, got {self.equalization!r}")
        if self.hop not in D.HOP_FRAMES_CHOICES:
            raise EngineConfigError(f"hop must be one of {D.HOP_FRAMES_CHOICES}, got {self.hop!r}")
        k = self.full_sources
        if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or not 0 <= k <= D.MAX_SOURCES_LIMIT:
            raise EngineConfigError(f"full_sources must be an integer 0..{D.MAX_SOURCES_LIMIT} (0: no limit), "
                                    f"got {self.full_sources!r}")
        h = float(self.lod_hysteresis_db)
        if not (math.isfinite(h) and 0.0 <= h <= D.LOD_HYSTERESIS_MAX_DB):
            raise EngineConfigError(f"lod_hysteresis_db must be 0..{D.LOD_HYSTERESIS_MAX_DB:g} dB, "
                                    f"got {self.lod_hysteresis_db!r}")
        w = self.worker_threads
        if isinstance(w, bool) or not isinstance(w, (int, np.integer)) or not 0 <= w <= D.WORKER_THREADS_MAX:
            raise EngineConfigError(f"worker_threads must be an integer 0..{D.WORKER_THREADS_MAX} (0: none), "
                                    f"got {self.worker_threads!r}")
        if w != 0:
            raise EngineConfigError(
                f"worker_threads={w}: worker threads are the C library's (native.Renderer(worker_threads=...)); "
                "the Python Engine runs every chunk of a block on the calling thread, to the same output")
        return self


@dataclass
class EngineLayout:
    """Pool sizes and the offsets a host needs; everything else is in the int64 header
    (``header``, planned by :func:`spatialmw.kernels.plan.plan_layout`)."""
    config: EngineConfig
    model: object | None
    header: np.ndarray
    settings: np.ndarray

    @property
    def n_f64(self) -> int:
        return int(self.header[L.H_N_F64])

    @property
    def n_f32(self) -> int:
        return int(self.header[L.H_N_F32])

    @property
    def n_i64(self) -> int:
        return int(self.header[L.H_N_I64])

    @property
    def listener(self) -> int:
        return int(self.header[L.H_LISTENER])

    @property
    def source_pose(self) -> int:
        return int(self.header[L.H_SRC_POSE])

    @property
    def source_params(self) -> int:
        return int(self.header[L.H_SRC_PARAM])

    @property
    def source_control(self) -> int:
        return int(self.header[L.H_SRC_CTL])

    @property
    def latency_frames(self) -> int:
        """One hop of the overlap-save convolution plus the corrector's modelling delay."""
        return int(self.header[L.H_HOP] + self.header[L.H_DELAY])


def model_arrays(model, sample_rate):
    """(theta, dims, grid) as the compiled control plane takes them; without a model,
    placeholders and the two-point grid [0, Nyquist]."""
    if model is None:
        return np.zeros(1), np.zeros(1, np.int64), np.array([0.0, sample_rate / 2.0])
    return model.theta, model.dims, np.asarray(model.grid_hz, dtype=np.float64)


def build_engine_layout(config: EngineConfig) -> EngineLayout:
    """Validate ``config``, load the model and plan the three pools."""
    from .model import load_model

    cfg = config.validate()
    model = load_model(cfg.model_path) if cfg.ibc else None
    settings = np.zeros(P.S_LEN)
    P.settings_default(settings)
    settings[P.S_SAMPLE_RATE] = cfg.sample_rate
    settings[P.S_MAX_SOURCES] = cfg.max_sources
    settings[P.S_MAX_BLOCK] = cfg.max_block
    settings[P.S_IBC] = 1.0 if model is not None else 0.0
    settings[P.S_TABLE_STEP] = cfg.ibc_table_step
    settings[P.S_EVALS_PER_512] = cfg.ibc_evals_per_512
    settings[P.S_LOOKUPS_PER_512] = cfg.ibc_lookups_per_512
    settings[P.S_SPEED_OF_SOUND] = cfg.speed_of_sound
    settings[P.S_EQUALIZATION] = EQUALIZATIONS.index(cfg.equalization)
    settings[P.S_HOP] = cfg.hop
    settings[P.S_FULL_SOURCES] = cfg.full_sources
    settings[P.S_LOD_HYSTERESIS_DB] = cfg.lod_hysteresis_db
    settings[P.S_WORKERS] = cfg.worker_threads
    if model is not None:
        settings[P.S_HEAD_RADIUS] = model.head_radius
    theta, dims, grid = model_arrays(model, cfg.sample_rate)
    head = np.zeros(P.PLAN_LEN, dtype=np.int64)
    if P.plan_layout(settings, theta, dims, grid, head) != P.PLAN_OK:
        raise EngineConfigError(f"settings outside the served ranges: {cfg}")
    return EngineLayout(config=cfg, model=model, header=head[:L.HEADER_LEN].copy(), settings=settings)


def init_pools(layout: EngineLayout, f64: np.ndarray, f32: np.ndarray, i64: np.ndarray) -> None:
    """Fill zeroed pools: header, model weights, FFT and window tables, initial state."""
    if f64.shape[0] < layout.n_f64 or f32.shape[0] < layout.n_f32 or i64.shape[0] < layout.n_i64:
        raise EngineConfigError("pools are smaller than the layout requires")
    i64[:L.HEADER_LEN] = layout.header
    theta, dims, grid = model_arrays(layout.model, layout.config.sample_rate)
    P.init_pools_core(layout.settings, theta, dims, grid, f64, f32, i64)


def _in_range(name, v, lo, hi) -> float:
    """``v`` as a float within [lo, hi], or an EngineError naming it (a string, None or
    NaN included)."""
    try:
        x = float(v)
    except (TypeError, ValueError):
        raise EngineError(f"{name} must be a number, got {v!r}") from None
    if not (math.isfinite(x) and lo <= x <= hi):
        raise EngineError(f"{name} must be in [{lo:g}, {hi:g}], got {v}")
    return x


# The feature setters' validation, shared by the Engine and scenes (spatialmw.scene), so
# a value is accepted or refused identically whichever front end receives it.
def check_cone(inner_deg, outer_deg, outer_gain, outer_hf_gain) -> tuple:
    c = (_in_range("inner_deg", inner_deg, 0.0, D.MAX_CONE_DEG), _in_range("outer_deg", outer_deg, 0.0, D.MAX_CONE_DEG),
         _in_range("outer_gain", outer_gain, 0.0, 1.0), _in_range("outer_hf_gain", outer_hf_gain, 0.0, 1.0))
    if c[1] < c[0]:
        raise EngineError(f"outer_deg {outer_deg} < inner_deg {inner_deg}")
    return c


def check_transmission(low, mid, high) -> tuple:
    return tuple(_in_range(f"transmission {name}", v, 0.0, 1.0)
                 for name, v in (("low", low), ("mid", mid), ("high", high)))


def check_air_absorption(factor) -> float:
    return _in_range("air absorption factor", factor, 0.0, D.MAX_AIR_ABSORPTION)


def check_reverb_send(send) -> float:
    return _in_range("reverb send", send, 0.0, 1.0)


def check_spread(degrees) -> float:
    return _in_range("spread (degrees)", degrees, 0.0, D.MAX_CONE_DEG)


def check_stereo_width(degrees) -> float:
    return _in_range("stereo width (degrees)", degrees, 0.0, D.MAX_STEREO_WIDTH_DEG)


def check_priority(priority) -> float:
    return _in_range("priority", priority, 0.0, D.MAX_PRIORITY)


def check_reverb(decay_time, pre_delay, hf_ratio, wet_gain) -> tuple:
    return (_in_range("reverb decay_time", decay_time, reverb.MIN_DECAY_TIME_S, reverb.MAX_DECAY_TIME_S),
            _in_range("reverb pre_delay", pre_delay, 0.0, reverb.MAX_PRE_DELAY_S),
            _in_range("reverb hf_ratio", hf_ratio, reverb.MIN_HF_RATIO, 1.0),
            _in_range("reverb wet_gain", wet_gain, 0.0, reverb.MAX_WET_GAIN))


def check_master_gain(gain) -> float:
    return _in_range("master gain", gain, 0.0, D.MAX_GAIN)  # the C shim uses the source gain's cap too


def _as_float32(v):
    try:
        with np.errstate(over="ignore", invalid="ignore"):
            return np.asarray(v, dtype=np.float32).astype(np.float64)
    except (TypeError, ValueError):
        raise geometry.GeometryError(f"expected numbers, got {v!r}") from None


def _checked(v, what: str, limit: float, unit: str) -> np.ndarray:
    """A position or velocity as the C API receives it (float32), refused beyond ``limit``
    by its Euclidean norm, as the C API refuses it."""
    a = _as_float32(geometry.as_vector3(v, what))
    n = D.norm3(a)
    if not n <= limit:
        raise geometry.GeometryError(f"{what} {a.tolist()}: its norm {n:g} {unit} is beyond {limit:g} {unit}")
    return a


class Engine:
    """A renderer over numpy-owned pools, driven from Python (native coordinates).

    Not thread-safe: poses, writes and renders come from one thread. The C library is the
    front end for a game's separate game and audio threads.

    ``ibc=False`` renders the time-domain warp only; ``ibc_table_step`` is the spacing in
    degrees of the corrector's direction table (0: none, every update evaluates the
    network), as the C setting ``corrector_table_step_deg``. ``equalization``:
    ``"none"`` renders the measured HRTF as fitted, ``"diffuse_field"`` divides out its
    average over all directions (minimum phase), as OpenAL Soft's data sets are. ``hop``
    (256, 128 or 64, the C setting ``hop_frames``) lowers the algorithmic latency to hop +
    the modelling delay with the same filters, at 2x or 4x the transform cost.
    ``full_sources`` (the C setting ``full_sources``): each block the loudest this many
    audible sources (level x :meth:`set_source_priority`; one on the full path keeps it
    against sources up to ``lod_hysteresis_db`` louder) take the full path, the others a
    shared 3rd-order ambisonic bed at a small constant cost per source
    (:mod:`spatialmw.kernels.lod`); 0: no limit. Needs the corrector.

    ``worker_threads`` must be 0: worker threads are a setting of the C library
    (:class:`spatialmw.native.Renderer`, ``smw_renderer_settings.worker_threads``), where they
    share each block's per-source chunks with the audio thread. The Engine runs the same
    chunks on the calling thread, and the output does not depend on who runs them.
    """

    def __init__(self, sample_rate: int = D.SAMPLE_RATE, max_sources: int = D.MAX_SOURCES,
                 max_block: int = D.MAX_BLOCK, model: str | Path | None = None, ibc: bool = D.CORRECTOR,
                 ibc_table_step: float = D.TABLE_STEP_DEG, equalization: str = D.EQUALIZATION,
                 speed_of_sound: float = D.SPEED_OF_SOUND, hop: int = D.HOP_FRAMES,
                 full_sources: int = D.FULL_SOURCES, lod_hysteresis_db: float = D.LOD_HYSTERESIS_DB,
                 worker_threads: int = D.WORKER_THREADS):
        self.layout = build_engine_layout(EngineConfig(
            int(sample_rate), int(max_sources), int(max_block),
            None if model is None else str(model), bool(ibc), ibc_table_step=float(ibc_table_step),
            equalization=equalization, speed_of_sound=float(speed_of_sound), hop=int(hop),
            full_sources=full_sources, lod_hysteresis_db=lod_hysteresis_db, worker_threads=worker_threads))
        lay = self.layout
        self.f64 = np.zeros(lay.n_f64, dtype=np.float64)
        self.f32 = np.zeros(lay.n_f32, dtype=np.float32)
        self.i64 = np.zeros(lay.n_i64, dtype=np.int64)
        init_pools(lay, self.f64, self.f32, self.i64)
        self.sample_rate = lay.config.sample_rate
        self.max_sources = lay.config.max_sources
        self.max_block = lay.config.max_block
        self.model = lay.model
        self._out = np.zeros(2 * self.max_block, dtype=np.float32)
        self._slots = int(lay.header[L.H_SLOTS])   # max_sources and the spares (plan.slot_count)
        # freed slots are reused last, so a removed source's fade-out (kernels/render.py) can
        # end: with the spares, even when a source is removed and another added at full capacity
        self._free = collections.deque(range(self._slots))
        self._active: set[int] = set()
        self._partner: dict[int, int] = {}   # a stereo source's handle -> its right voice's slot
        self._master_gain = 1.0
        self._paused = False
        self._applied_gain = np.float32(1.0)  # master gain x (not paused) at the last block's end

    @property
    def latency_frames(self) -> int:
        """Algorithmic latency in frames (one hop, plus the corrector's modelling delay when
        the corrector is on), excluding propagation delay."""
        return self.layout.latency_frames

    def _ctl(self, src: int) -> int:
        if src not in self._active:
            raise EngineError(f"unknown source handle {src!r}")
        return self.layout.source_control + src * L.CTL_STRIDE

    def add_source(self, gain: float = D.SOURCE_GAIN, distance_model: str = D.SOURCE_DISTANCE_MODEL,
                   min_distance: float = D.SOURCE_MIN_DISTANCE, max_distance: float = D.SOURCE_MAX_DISTANCE,
                   rolloff: float = D.SOURCE_ROLLOFF, doppler: bool = D.SOURCE_DOPPLER,
                   spatialize: bool = D.SOURCE_SPATIALIZE) -> int:
        """Claim a slot; returns its handle. Raises EngineError when max_sources voices are live.
        The source starts as smw_source_create's does (:mod:`spatialmw.defaults`: at the
        origin, every parameter at its default), then takes the arguments."""
        if self._live_voices() >= self.max_sources:
            raise EngineError(f"all {self.max_sources} source slots are in use")
        src = self._claim()
        self._active.add(src)
        try:
            self.set_source_params(src, gain=gain, distance_model=distance_model,
                                   min_distance=min_distance, max_distance=max_distance,
                                   rolloff=rolloff, doppler=doppler, spatialize=spatialize)
        except EngineError:
            self.remove_source(src)
            raise
        return src

    def add_stereo_source(self, width: float = D.SOURCE_STEREO_WIDTH_DEG, **params) -> int:
        """A two-channel source, as smw_source_create_stereo: two voices (two slots of
        ``max_sources``), its left channel ``width / 2`` degrees to the listener's left of
        the source's direction and its right channel as far to the right, turned about the
        listener's up axis every block (so the pair keeps its width as the listener turns).
        ``width`` 0..180 (default 60). The handle takes every source call (both voices
        follow it; its status is the OR of theirs) and :meth:`write` of (frames, 2) arrays.
        ``params`` as :meth:`add_source`. Raises EngineError when fewer than two slots are free."""
        w = check_stereo_width(width)
        if self._live_voices() + 2 > self.max_sources:
            raise EngineError(f"a stereo source needs two free slots of the {self.max_sources}; "
                              f"{self.max_sources - self._live_voices()} free")
        src = self.add_source(**params)
        self._partner[src] = self._claim()
        self.f64[self._par(src) + L.P_AZIMUTH_OFFSET] = 0.5 * w
        self._sync_voices()
        return src

    def _live_voices(self) -> int:
        """Voices of live sources (a stereo source has two): at most max_sources, whatever
        the spare slots hold."""
        return len(self._active) + len(self._partner)

    def _claim(self) -> int:
        """A free slot, started with a new source's values (not yet a handle)."""
        src = self._free.popleft()
        ctl = self.layout.source_control + src * L.CTL_STRIDE
        self.i64[ctl:ctl + L.CTL_STRIDE] = (L.STATE_RESTART, 0, 0, 0)
        # a released slot is cleared once its fade-out has passed (or cut short here, when it
        # is reused first): clear it now so a write before the next render is not wiped
        _clear_slot(self.f64, self.f32, self.i64, src, N_FFT // 2 + 1)
        par = self.layout.source_params + src * L.PARAM_STRIDE
        self.f64[par:par + L.PARAM_STRIDE] = D.source_params()
        self.i64[ctl + L.CTL_DISTANCE_MODEL] = geometry.DISTANCE_MODELS[D.SOURCE_DISTANCE_MODEL]
        self.i64[ctl + L.CTL_FLAGS] = D.source_flags()
        p = self.layout.source_pose + src * L.POSE_STRIDE
        self.f64[p:p + 7] = (*D.SOURCE_POSITION, *D.SOURCE_ORIENTATION)
        return src

    def _sync_voices(self) -> None:
        """Each stereo source's right voice takes its pose, parameters and flags, with the
        azimuth offset mirrored (as the C library does at each render)."""
        lay = self.layout
        for src, right in self._partner.items():
            a, b = lay.source_pose + src * L.POSE_STRIDE, lay.source_pose + right * L.POSE_STRIDE
            self.f64[b:b + L.POSE_STRIDE] = self.f64[a:a + L.POSE_STRIDE]
            a, b = lay.source_params + src * L.PARAM_STRIDE, lay.source_params + right * L.PARAM_STRIDE
            self.f64[b:b + L.PARAM_STRIDE] = self.f64[a:a + L.PARAM_STRIDE]
            self.f64[b + L.P_AZIMUTH_OFFSET] = -self.f64[a + L.P_AZIMUTH_OFFSET]
            a, b = lay.source_control + src * L.CTL_STRIDE, lay.source_control + right * L.CTL_STRIDE
            self.i64[b + L.CTL_DISTANCE_MODEL] = self.i64[a + L.CTL_DISTANCE_MODEL]
            self.i64[b + L.CTL_FLAGS] = self.i64[a + L.CTL_FLAGS]

    def _voices(self, src: int) -> tuple:
        """The slots of a source's voices: its own, and a stereo source's right voice."""
        self._ctl(src)
        return (src, self._partner[src]) if src in self._partner else (src,)

    def is_stereo(self, src: int) -> bool:
        self._ctl(src)
        return src in self._partner

    def set_source_stereo_width(self, src: int, degrees: float) -> None:
        """A stereo source's width, 0..180 degrees (smw_source_set_stereo_width); a mono
        source's handle raises EngineError."""
        if not self.is_stereo(src):
            raise EngineError(f"source {src} is mono: only a stereo source has a width")
        self.f64[self._par(src) + L.P_AZIMUTH_OFFSET] = 0.5 * check_stereo_width(degrees)

    def remove_source(self, src: int) -> None:
        """Release a slot (a stereo source: both). A source that was heard fades out across
        the next render's block (its stream time still running), then its slot is cleared;
        until then the slot is the last one :meth:`add_source` reuses."""
        for slot in self._voices(src):
            self.i64[self.layout.source_control + slot * L.CTL_STRIDE + L.CTL_STATE] = STATE_STOP
            self._free.append(slot)
        self._active.discard(src)
        self._partner.pop(src, None)

    def set_listener_pose(self, position, quaternion=(0.0, 0.0, 0.0, 1.0)) -> None:
        """Poses are rounded to float32 first, as the C API receives them, so a scene
        renders to the same samples through either front end."""
        pos = _checked(position, "listener position", D.MAX_POSITION_M, "m")
        q = geometry.normalize_quaternion(_as_float32(quaternion), "listener")
        lis = self.layout.listener
        self.f64[lis:lis + 3] = pos
        self.f64[lis + 3:lis + 7] = q

    def set_source_pose(self, src: int, position, quaternion=(0.0, 0.0, 0.0, 1.0)) -> None:
        self._ctl(src)
        pos = _checked(position, "source position", D.MAX_POSITION_M, "m")
        q = geometry.normalize_quaternion(_as_float32(quaternion), "source")
        p = self.layout.source_pose + src * L.POSE_STRIDE
        self.f64[p:p + 3] = pos
        self.f64[p + 3:p + 7] = q

    def set_source_velocity(self, src: int, velocity) -> None:
        """The source's velocity (native m/s), which Doppler and the motion between pose
        updates follow (:mod:`spatialmw.kernels.motion`); ``None`` returns to estimating it
        from the poses (the default)."""
        ctl = self._ctl(src)
        par = self._par(src, wake=velocity is None)  # (back to estimating: a change of mode, not motion)
        if velocity is None:
            self.i64[ctl + L.CTL_FLAGS] &= ~L.FLAG_VELOCITY
            return
        v = _checked(velocity, "source velocity", D.MAX_SPEED_M_S, "m/s")
        self.f64[par + L.P_VEL:par + L.P_VEL + 3] = v
        self.i64[ctl + L.CTL_FLAGS] |= L.FLAG_VELOCITY

    def set_listener_velocity(self, velocity) -> None:
        """The listener's velocity (native m/s); ``None``: estimated from its poses."""
        lis = self.layout.listener
        if velocity is None:
            self.f64[lis + L.L_VEL_SET] = 0.0
            return
        v = _checked(velocity, "listener velocity", D.MAX_SPEED_M_S, "m/s")
        self.f64[lis + L.L_VEL:lis + L.L_VEL + 3] = v
        self.f64[lis + L.L_VEL_SET] = 1.0

    def teleport_source(self, src: int) -> None:
        """Treat the source's next pose as a jump: no Doppler sweep, nothing replayed, the
        old and new position crossfaded over one block. (Jumps faster than 0.9 x the speed of
        sound are detected without this; slower ones glide, as fast motion would.)"""
        self.f64[self._par(src) + L.P_TELEPORTS] += 1.0

    def set_source_params(self, src: int, *, gain=None, distance_model=None, min_distance=None,
                          max_distance=None, rolloff=None, doppler=None, spatialize=None,
                          paused=None) -> None:
        """Change any subset of a source's parameters (None keeps the value), validated as
        the C setters validate them (:mod:`spatialmw.defaults`): 0 <= gain <= MAX_GAIN,
        0 < min_distance <= max_distance <= MAX_DISTANCE_M, 0 <= rolloff <= MAX_ROLLOFF.
        Values are rounded to float32 first, as the C API receives them."""
        ctl = self._ctl(src)
        if distance_model is not None and distance_model not in geometry.DISTANCE_MODELS:
            raise EngineError(f"unknown distance model {distance_model!r}; "
                              f"expected one of {sorted(geometry.DISTANCE_MODELS)}")
        par = self._par(src)
        fields = (L.P_GAIN, L.P_MIN_DISTANCE, L.P_MAX_DISTANCE, L.P_ROLLOFF)
        cur = {i: float(self.f64[par + i]) for i in fields}
        for i, name, v in ((L.P_GAIN, "gain", gain), (L.P_MIN_DISTANCE, "min_distance", min_distance),
                           (L.P_MAX_DISTANCE, "max_distance", max_distance), (L.P_ROLLOFF, "rolloff", rolloff)):
            if v is not None:
                try:
                    with np.errstate(over="ignore"):
                        cur[i] = float(np.float32(v))
                except (TypeError, ValueError):
                    raise EngineError(f"{name} must be a number, got {v!r}") from None
                if not math.isfinite(cur[i]):
                    raise EngineError(f"{name} must be finite, got {v}")
        if not 0.0 <= cur[L.P_GAIN] <= D.MAX_GAIN:
            raise EngineError(f"gain must be in [0, {D.MAX_GAIN:g}], got {cur[L.P_GAIN]}")
        if not 0.0 < cur[L.P_MIN_DISTANCE] <= cur[L.P_MAX_DISTANCE] <= D.MAX_DISTANCE_M:
            raise EngineError(f"distances need 0 < min_distance ({cur[L.P_MIN_DISTANCE]}) <= max_distance "
                              f"({cur[L.P_MAX_DISTANCE]}) <= {D.MAX_DISTANCE_M:g} m")
        if not 0.0 <= cur[L.P_ROLLOFF] <= D.MAX_ROLLOFF:
            raise EngineError(f"rolloff must be in [0, {D.MAX_ROLLOFF:g}], got {cur[L.P_ROLLOFF]}")
        for i in fields:
            self.f64[par + i] = cur[i]
        if distance_model is not None:
            self.i64[ctl + L.CTL_DISTANCE_MODEL] = geometry.DISTANCE_MODELS[distance_model]
        flags = int(self.i64[ctl + L.CTL_FLAGS])
        for bit, v in ((L.FLAG_DOPPLER, doppler), (L.FLAG_BYPASS, None if spatialize is None else not spatialize),
                       (L.FLAG_PAUSED, paused)):
            if v is not None:
                flags = flags | bit if v else flags & ~bit
        self.i64[ctl + L.CTL_FLAGS] = flags

    def set_source_cone(self, src: int, inner_deg: float = 360.0, outer_deg: float = 360.0,
                        outer_gain: float = 0.0, outer_hf_gain: float = 1.0) -> None:
        """Directivity, as OpenAL's and EFX's cones: full level within ``inner_deg`` (full
        angle) of the source's forward axis (+x of its orientation), ``outer_gain`` and,
        above the high band (:data:`spatialmw.kernels.tone.HIGH_BAND_HZ`), also
        ``outer_hf_gain`` beyond ``outer_deg``, linear in angle between. Angles 0..360,
        gains 0..1; 360/360 is omnidirectional (the default)."""
        par = self._par(src)
        self.f64[par + L.P_CONE_INNER:par + L.P_CONE_OUTER_HF + 1] = check_cone(inner_deg, outer_deg, outer_gain,
                                                                                 outer_hf_gain)

    def set_source_transmission(self, src: int, low: float = 1.0, mid: float = 1.0,
                                high: float = 1.0) -> None:
        """Occlusion or transmission through geometry, set by the game: linear gains (0..1)
        of the low, mid and high bands (below :data:`~spatialmw.kernels.tone.LOW_BAND_HZ`,
        between, above :data:`~spatialmw.kernels.tone.HIGH_BAND_HZ`), applied as a smooth
        per-bin gain in the corrector and ramped like its cues. Without the corrector only
        ``mid`` applies (broadband)."""
        par = self._par(src)
        self.f64[par + L.P_TRANSMISSION:par + L.P_TRANSMISSION + 3] = check_transmission(low, mid, high)

    def set_source_air_absorption(self, src: int, factor: float) -> None:
        """Air absorption after ISO 9613-1 (20 degC, 50 % humidity), times ``factor`` (0..10;
        0 is off, the default; 1 the standard atmosphere). Needs the corrector."""
        par = self._par(src)
        self.f64[par + L.P_AIR_ABSORPTION] = check_air_absorption(factor)

    def set_source_reverb_send(self, src: int, send: float) -> None:
        """Linear send (0..1, default 0) of the source into the renderer's reverb
        (:meth:`set_reverb`), times its gain, before distance attenuation."""
        par = self._par(src)
        self.f64[par + L.P_REVERB_SEND] = check_reverb_send(send)

    def set_reverb(self, decay_time: float = reverb.DEFAULT_DECAY_TIME_S,
                   pre_delay: float = reverb.DEFAULT_PRE_DELAY_S,
                   hf_ratio: float = reverb.DEFAULT_HF_RATIO, wet_gain: float = reverb.DEFAULT_WET_GAIN) -> None:
        """The shared late reverb (:mod:`spatialmw.kernels.reverb`): ``decay_time`` (RT60,
        0.1..20 s) at low and mid frequencies, ``hf_ratio`` (0.1..1) times that at high
        frequencies, ``pre_delay`` (0..0.5 s) after the dry sound, output ``wet_gain``
        (0..4; 0 turns it off, which is how a renderer starts)."""
        lis = self.layout.listener
        self.f64[lis + L.L_REVERB:lis + L.L_REVERB + 4] = check_reverb(decay_time, pre_delay, hf_ratio, wet_gain)
        naps = int(self.i64[L.H_SRC_NAP])  # a virtual voice's send may be heard now: check every one
        self.i64[naps:naps + self._slots] = 0

    def set_source_spread(self, src: int, degrees: float) -> None:
        """Spread of the source, 0 (a point, the default) .. 360 degrees (diffuse): each ear
        passes through its own all-pass decorrelator, stronger as the spread grows, so the
        interaural coherence falls while neither ear's spectrum is coloured
        (:mod:`spatialmw.kernels.spread`). Needs the corrector."""
        par = self._par(src)
        self.f64[par + L.P_SPREAD] = check_spread(degrees)

    def set_source_priority(self, src: int, priority: float) -> None:
        """The source's level-of-detail priority, 0..``defaults.MAX_PRIORITY`` (default 1):
        it multiplies the level the renderer ranks sources by when choosing the
        ``full_sources`` that take the full path (0: the full path only while there is
        room)."""
        par = self._par(src)
        self.f64[par + L.P_PRIORITY] = check_priority(priority)

    def _par(self, src: int, wake: bool = True) -> int:
        """The source's parameter row, for a setter: with ``wake`` its voices' levels are
        checked in the next block even if they nap (layout.NAP_BLOCKS), as the C library's
        are; motion (the velocity) does not wake them, as a pose does not."""
        if wake:
            naps = int(self.i64[L.H_SRC_NAP])
            for slot in self._voices(src):
                self.i64[naps + slot] = 0
        return self.layout.source_params + src * L.PARAM_STRIDE

    def source_status(self, src: int) -> int:
        """The status bits since the last query, then cleared (the C API's
        SMW_SOURCE_STATUS_*): ``layout.STATUS_NONFINITE`` (a write had NaN/Inf and was
        muted), ``STATUS_UNDERRUN`` (a block had fewer frames written than it rendered; not for a
        virtual voice, which needs no write),
        ``STATUS_PAUSED`` (a block ran while it or the engine was paused), ``STATUS_PLAYING``
        (a block of it was rendered), ``STATUS_VIRTUAL`` (a block of it was inaudible: its
        level, gain x distance gain x cone x loudest transmission band, was below
        ``layout.VIRTUAL_THRESHOLD``, -70 dB, so it was not rendered; it comes back
        ``VIRTUAL_HYSTERESIS`` (+3 dB) above, faded in over one block), ``STATUS_LOD`` (a
        block of it was rendered in the level of detail's bed)."""
        v = 0
        for slot in self._voices(src):   # a stereo source: the OR of its voices'
            ctl = self.layout.source_control + slot * L.CTL_STRIDE
            v |= int(self.i64[ctl + L.CTL_STATUS])
            self.i64[ctl + L.CTL_STATUS] = 0
        return v

    def set_master_gain(self, gain: float) -> None:
        """Output gain 0..MAX_GAIN (1000, default 1), ramped across the next block."""
        self._master_gain = check_master_gain(gain)

    def set_paused(self, paused: bool) -> None:
        """Pause-all, as smw_renderer_set_paused: the next render fades out across its
        block, the renders after it are silence and advance nothing (every source's stream
        time stands still; writes queue up to max_block frames); on resume the output
        continues where it stopped, faded in across the first block."""
        self._paused = bool(paused)

    def model_info(self) -> dict:
        """What the engine runs, as the C API's smw_model_info."""
        m, cfg = self.model, self.layout.config
        rate = m.meta.get("sample_rate", 0) if m is not None else 0
        return {"sample_rate": self.sample_rate,
                "fitted_sample_rate": int(round(rate)) if isinstance(rate, (int, float)) else 0,
                "corrector_enabled": int(m is not None),
                "parameter_count": int(m.theta.shape[0]) if m is not None else 0,
                "grid_points": len(m.grid_hz) if m is not None else 0,
                "head_radius_m": float(np.float32(self.layout.settings[P.S_HEAD_RADIUS])),
                "corrector_table_step_deg": float(np.float32(cfg.ibc_table_step)) if m is not None else 0.0,
                "latency_frames": self.latency_frames}

    def write(self, src: int, samples) -> bool:
        """Queue samples for the next render: a mono source's as a 1-D array, a stereo
        source's as (frames, 2) (left, right); the other shape raises EngineError. Returns
        False if they were non-finite (the block is muted, the other sources are unaffected)."""
        self._ctl(src)
        x = np.ascontiguousarray(samples, dtype=np.float32)
        if src in self._partner:
            if x.ndim != 2 or x.shape[1] != 2:
                raise EngineError(f"source {src} is stereo: samples must be (frames, 2), got shape {x.shape}")
            rc = write_stereo_core(self.f64, self.f32, self.i64, src, self._partner[src], x.reshape(-1), x.shape[0])
        else:
            if x.ndim != 1:
                raise EngineError(f"source {src} is mono: samples must be 1-D, got shape {x.shape}")
            rc = write_core(self.f64, self.f32, self.i64, src, x, x.shape[0])
        if rc == L.WRITE_FULL:
            raise EngineError(f"more than max_block={self.max_block} frames queued before render "
                              "(a paused source or engine does not consume)")
        return rc == L.WRITE_OK

    def skip(self, src: int, frames: int) -> None:
        """Queue ``frames`` of silence without samples, as smw_source_skip: a missed write
        without the underrun status, for a source whose audio the game has not decoded.
        Nothing is copied; the skipped part of the delay line is zeroed only if a block
        reads it. A virtual voice does not even need this: a block of a source :meth:`is_virtual`
        calls virtual that the game neither writes nor skips is skipped. ::

            for src in sources:
                if not engine.is_virtual(src):  # (a virtual voice: no decoding, no call)
                    engine.write(src, decoder[src].read(512))
            out = engine.render(512)
        """
        self._ctl(src)
        if not 1 <= int(frames) <= self.max_block:
            raise EngineError(f"frame count must be in 1..{self.max_block}, got {frames}")
        rc = skip_core(self.f64, self.f32, self.i64, src, self._partner.get(src, -1), int(frames))
        if rc == L.WRITE_FULL:
            raise EngineError(f"more than max_block={self.max_block} frames queued before render "
                              "(a paused source or engine does not consume)")

    def is_virtual(self, src: int) -> bool:
        """True if the source's last rendered block left it a virtual voice (rendered on no
        path: see :meth:`source_status`), so the next block reads none of its audio unless
        its level rises; False before its first block. Clears nothing."""
        return all(source_is_virtual(self.f64, self.i64, slot) for slot in self._voices(src))

    def render(self, frames: int) -> np.ndarray:
        """Render ``frames`` (1..max_block) stereo frames; returns a new (frames, 2) float32 array."""
        if not 1 <= int(frames) <= self.max_block:
            raise EngineError(f"frame count must be in 1..{self.max_block}, got {frames}")
        frames = int(frames)
        g0 = self._applied_gain
        g1 = np.float32(0.0 if self._paused else self._master_gain)
        if self._paused and g0 == 0.0:  # faded out: nothing runs, nothing advances
            for src in self._active:
                self.i64[self._ctl(src) + L.CTL_STATUS] |= L.STATUS_PAUSED
            return np.zeros((frames, 2), dtype=np.float32)
        self._sync_voices()
        render_core(self.f64, self.f32, self.i64, self._out, frames)
        self._applied_gain = g1
        out = self._out[:2 * frames].reshape(frames, 2).copy()
        if g0 != 1.0 or g1 != 1.0:  # the same float32 ramp as smw_render
            k = np.arange(1, frames + 1, dtype=np.float32)
            out *= (g0 + (g1 - g0) * k / np.float32(frames))[:, None]
        return out
