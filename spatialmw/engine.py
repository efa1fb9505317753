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

import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from . import geometry
from .kernels import layout as L
from .kernels import plan as P
from .kernels import reverb
from .kernels.corrector import EQUALIZATIONS
from .kernels.plan import (HOP, IBC_EVALS_PER_512_FRAMES, IBC_LOOKUPS_PER_512_FRAMES,  # noqa: F401
                           IBC_TABLE_STEP_DEGREES, N_FFT, REEVAL_DEGREES)
from .kernels.render import STATE_STOP, _clear_slot, render_core, write_core
from .errors import SpatialmwError

SUPPORTED_SAMPLE_RATES = (44100, 48000, 96000)
MAX_POSITION = 1.0e6      # metres; beyond this a pose is rejected as absurd
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
    """Creation settings, mirrored by the C ``smw_renderer_settings``."""
    sample_rate: int = 48000
    max_sources: int = 64
    max_block: int = 1024
    model_path: str | None = None
    ibc: bool = True
    ibc_evals_per_512: float = IBC_EVALS_PER_512_FRAMES  # <= 0: no limit
    ibc_lookups_per_512: float = IBC_LOOKUPS_PER_512_FRAMES  # <= 0: no limit
    ibc_table_step: float = IBC_TABLE_STEP_DEGREES  # degrees between table directions; 0: no table
    equalization: str = "none"  # "none" (the measured HRTF) or "diffuse_field"
    speed_of_sound: float = geometry.SPEED_OF_SOUND  # m/s: propagation delay and Doppler

    def validate(self) -> "EngineConfig":
        if self.sample_rate not in SUPPORTED_SAMPLE_RATES:
            raise EngineConfigError(
                f"unsupported sample rate {self.sample_rate}; supported: {SUPPORTED_SAMPLE_RATES}")
        if not 1 <= int(self.max_sources) <= 4096:
            raise EngineConfigError(f"max_sources must be in 1..4096, got {self.max_sources}")
        if not 1 <= int(self.max_block) <= 16384:
            raise EngineConfigError(f"max_block must be in 1..16384, got {self.max_block}")
        step = float(self.ibc_table_step)
        if not (step == 0.0 or 0.5 <= step <= 30.0):
            raise EngineConfigError(f"ibc_table_step must be 0 (no table) or 0.5..30 degrees, got {step}")
        if not (math.isfinite(float(self.speed_of_sound)) and 1.0 <= float(self.speed_of_sound) <= 1.0e4):
            raise EngineConfigError(f"speed_of_sound must be 1..10000 m/s, got {self.speed_of_sound}")
        if self.equalization not in EQUALIZATIONS:
            raise EngineConfigError(f"equalization must be one of {EQUALIZATIONS}, got {self.equalization!r}")
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


def _as_float32(v):
    try:
        with np.errstate(over="ignore", invalid="ignore"):
            return np.asarray(v, dtype=np.float32).astype(np.float64)
    except (TypeError, ValueError):
        raise geometry.GeometryError(f"expected numbers, got {v!r}") from None


class Engine:
    """A renderer over numpy-owned pools, driven from Python (native coordinates).

    Not thread-safe: poses, writes and renders come from one thread. The C library is the
    front end for a game's separate game and audio threads.

    ``ibc=False`` renders the time-domain warp only; ``ibc_table_step`` is the spacing in
    degrees of the corrector's direction table (0: none, every update evaluates the
    network), as the C setting ``corrector_table_step_deg``. ``equalization``:
    ``"none"`` renders the measured HRTF as fitted, ``"diffuse_field"`` divides out its
    average over all directions (minimum phase), as OpenAL Soft's data sets are.
    """

    def __init__(self, sample_rate: int = 48000, max_sources: int = 64, max_block: int = 1024,
                 model: str | Path | None = None, ibc: bool = True,
                 ibc_table_step: float = IBC_TABLE_STEP_DEGREES, equalization: str = "none",
                 speed_of_sound: float = geometry.SPEED_OF_SOUND):
        self.layout = build_engine_layout(EngineConfig(
            int(sample_rate), int(max_sources), int(max_block),
            None if model is None else str(model), bool(ibc), ibc_table_step=float(ibc_table_step),
            equalization=equalization, speed_of_sound=float(speed_of_sound)))
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
        self._free = list(range(self.max_sources - 1, -1, -1))
        self._active: set[int] = set()
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

    def add_source(self, gain: float = 1.0, distance_model: str = "inverse_clamped",
                   min_distance: float = 1.0, max_distance: float = 1.0e6, rolloff: float = 1.0,
                   doppler: bool = True, spatialize: bool = True) -> int:
        """Claim a slot; returns its handle. Raises EngineError when all slots are in use.
        The defaults are the C API's (smw_source_create)."""
        if not self._free:
            raise EngineError(f"all {self.max_sources} source slots are in use")
        src = self._free.pop()
        self._active.add(src)
        ctl = self._ctl(src)
        self.i64[ctl:ctl + L.CTL_STRIDE] = (L.STATE_RESTART, 0, 0, 0)
        # a released slot is cleared at the next render; clear it now so a write before
        # that render is not wiped
        _clear_slot(self.f64, self.f32, self.i64, src, N_FFT // 2 + 1)
        par = self.layout.source_params + src * L.PARAM_STRIDE
        self.f64[par:par + L.PARAM_STRIDE] = L.PARAM_DEFAULTS
        self.set_source_params(src, gain=gain, distance_model=distance_model,
                               min_distance=min_distance, max_distance=max_distance,
                               rolloff=rolloff, doppler=doppler, spatialize=spatialize, paused=False)
        p = self.layout.source_pose + src * L.POSE_STRIDE
        self.f64[p:p + 7] = (1.0, 0, 0, 0, 0, 0, 1)
        return src

    def remove_source(self, src: int) -> None:
        """Release a slot; its audio stops at the next render."""
        ctl = self._ctl(src)
        self.i64[ctl + L.CTL_STATE] = STATE_STOP
        self._active.discard(src)
        self._free.append(src)

    def set_listener_pose(self, position, quaternion=(0.0, 0.0, 0.0, 1.0)) -> None:
        """Poses are rounded to float32 first, as the C API receives them, so a scene
        renders to the same samples through either front end."""
        pos = _as_float32(geometry.as_vector3(position, "listener position"))
        if np.max(np.abs(pos)) > MAX_POSITION:
            raise geometry.GeometryError(f"listener position {pos.tolist()} beyond {MAX_POSITION:g} m")
        q = geometry.normalize_quaternion(_as_float32(quaternion), "listener")
        lis = self.layout.listener
        self.f64[lis:lis + 3] = pos
        self.f64[lis + 3:lis + 7] = q

    def set_source_pose(self, src: int, position, quaternion=(0.0, 0.0, 0.0, 1.0)) -> None:
        self._ctl(src)
        pos = _as_float32(geometry.as_vector3(position, "source position"))
        if np.max(np.abs(pos)) > MAX_POSITION:
            raise geometry.GeometryError(f"source position {pos.tolist()} beyond {MAX_POSITION:g} m")
        q = geometry.normalize_quaternion(_as_float32(quaternion), "source")
        p = self.layout.source_pose + src * L.POSE_STRIDE
        self.f64[p:p + 3] = pos
        self.f64[p + 3:p + 7] = q

    def set_source_velocity(self, src: int, velocity) -> None:
        """The source's velocity (native m/s), which Doppler and the motion between pose
        updates follow (:mod:`spatialmw.kernels.motion`); ``None`` returns to estimating it
        from the poses (the default)."""
        ctl = self._ctl(src)
        par = self.layout.source_params + src * L.PARAM_STRIDE
        if velocity is None:
            self.i64[ctl + L.CTL_FLAGS] &= ~L.FLAG_VELOCITY
            return
        v = _as_float32(geometry.as_vector3(velocity, "source velocity"))
        if np.max(np.abs(v)) > MAX_POSITION:
            raise geometry.GeometryError(f"source velocity {v.tolist()} beyond {MAX_POSITION:g} m/s")
        self.f64[par + L.P_VEL:par + L.P_VEL + 3] = v
        self.i64[ctl + L.CTL_FLAGS] |= L.FLAG_VELOCITY

    def set_listener_velocity(self, velocity) -> None:
        """The listener's velocity (native m/s); ``None``: estimated from its poses."""
        lis = self.layout.listener
        if velocity is None:
            self.f64[lis + L.L_VEL_SET] = 0.0
            return
        v = _as_float32(geometry.as_vector3(velocity, "listener velocity"))
        if np.max(np.abs(v)) > MAX_POSITION:
            raise geometry.GeometryError(f"listener velocity {v.tolist()} beyond {MAX_POSITION:g} m/s")
        self.f64[lis + L.L_VEL:lis + L.L_VEL + 3] = v
        self.f64[lis + L.L_VEL_SET] = 1.0

    def teleport_source(self, src: int) -> None:
        """Treat the source's next pose as a jump: no Doppler sweep, nothing replayed, the
        old and new position crossfaded over one block. (Jumps faster than 0.9 x the speed of
        sound are detected without this; slower ones glide, as fast motion would.)"""
        self._ctl(src)
        self.f64[self.layout.source_params + src * L.PARAM_STRIDE + L.P_TELEPORTS] += 1.0

    def set_source_params(self, src: int, *, gain=None, distance_model=None, min_distance=None,
                          max_distance=None, rolloff=None, doppler=None, spatialize=None,
                          paused=None) -> None:
        """Change any subset of a source's parameters (validated; None keeps the value)."""
        ctl = self._ctl(src)
        par = self.layout.source_params + src * L.PARAM_STRIDE
        cur = self.f64[par:par + 4].copy()
        for i, (name, v) in enumerate((("gain", gain), ("min_distance", min_distance),
                                       ("max_distance", max_distance), ("rolloff", rolloff))):
            if v is not None:
                v = float(v)
                if not math.isfinite(v) or v < 0.0 or (name == "min_distance" and v <= 0.0):
                    raise EngineError(f"{name} must be finite and {'> 0' if i == 1 else '>= 0'}, got {v}")
                cur[i] = v
        if cur[2] < cur[1]:
            raise EngineError(f"max_distance {cur[2]} < min_distance {cur[1]}")
        self.f64[par:par + 4] = cur
        if distance_model is not None:
            if distance_model not in geometry.DISTANCE_MODELS:
                raise EngineError(f"unknown distance model {distance_model!r}; "
                                  f"expected one of {sorted(geometry.DISTANCE_MODELS)}")
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
        for name, v, hi in (("inner_deg", inner_deg, 360.0), ("outer_deg", outer_deg, 360.0),
                            ("outer_gain", outer_gain, 1.0), ("outer_hf_gain", outer_hf_gain, 1.0)):
            if not (math.isfinite(float(v)) and 0.0 <= float(v) <= hi):
                raise EngineError(f"{name} must be in [0, {hi:g}], got {v}")
        if float(outer_deg) < float(inner_deg):
            raise EngineError(f"outer_deg {outer_deg} < inner_deg {inner_deg}")
        self.f64[par + L.P_CONE_INNER:par + L.P_CONE_OUTER_HF + 1] = (inner_deg, outer_deg, outer_gain,
                                                                       outer_hf_gain)

    def set_source_transmission(self, src: int, low: float = 1.0, mid: float = 1.0,
                                high: float = 1.0) -> None:
        """Occlusion or transmission through geometry, set by the game: linear gains (0..1)
        of the low, mid and high bands (below :data:`~spatialmw.kernels.tone.LOW_BAND_HZ`,
        between, above :data:`~spatialmw.kernels.tone.HIGH_BAND_HZ`), applied as a smooth
        per-bin gain in the corrector and ramped like its cues. Without the corrector only
        ``mid`` applies (broadband)."""
        par = self._par(src)
        for name, v in (("low", low), ("mid", mid), ("high", high)):
            if not (math.isfinite(float(v)) and 0.0 <= float(v) <= 1.0):
                raise EngineError(f"transmission {name} must be in [0, 1], got {v}")
        self.f64[par + L.P_TRANSMISSION:par + L.P_TRANSMISSION + 3] = (low, mid, high)

    def set_source_air_absorption(self, src: int, factor: float) -> None:
        """Air absorption after ISO 9613-1 (20 degC, 50 % humidity), times ``factor`` (0..10;
        0 is off, the default; 1 the standard atmosphere). Needs the corrector."""
        par = self._par(src)
        if not (math.isfinite(float(factor)) and 0.0 <= float(factor) <= 10.0):
            raise EngineError(f"air absorption factor must be in [0, 10], got {factor}")
        self.f64[par + L.P_AIR_ABSORPTION] = factor

    def set_source_reverb_send(self, src: int, send: float) -> None:
        """Linear send (0..1, default 0) of the source into the renderer's reverb
        (:meth:`set_reverb`), times its gain, before distance attenuation."""
        par = self._par(src)
        if not (math.isfinite(float(send)) and 0.0 <= float(send) <= 1.0):
            raise EngineError(f"reverb send must be in [0, 1], got {send}")
        self.f64[par + L.P_REVERB_SEND] = send

    def set_reverb(self, decay_time: float = reverb.DEFAULT_DECAY_TIME_S,
                   pre_delay: float = reverb.DEFAULT_PRE_DELAY_S,
                   hf_ratio: float = reverb.DEFAULT_HF_RATIO, wet_gain: float = 1.0) -> None:
        """The shared late reverb (:mod:`spatialmw.kernels.reverb`): ``decay_time`` (RT60,
        0.1..20 s) at low and mid frequencies, ``hf_ratio`` (0.1..1) times that at high
        frequencies, ``pre_delay`` (0..0.5 s) after the dry sound, output ``wet_gain``
        (0..4; 0 turns it off, which is how a renderer starts)."""
        for name, v, lo, hi in (("decay_time", decay_time, reverb.MIN_DECAY_TIME_S, reverb.MAX_DECAY_TIME_S),
                                ("pre_delay", pre_delay, 0.0, reverb.MAX_PRE_DELAY_S),
                                ("hf_ratio", hf_ratio, 0.1, 1.0), ("wet_gain", wet_gain, 0.0, reverb.MAX_WET_GAIN)):
            if not (math.isfinite(float(v)) and lo <= float(v) <= hi):
                raise EngineError(f"reverb {name} must be in [{lo:g}, {hi:g}], got {v}")
        lis = self.layout.listener
        self.f64[lis + L.L_REVERB:lis + L.L_REVERB + 4] = (decay_time, pre_delay, hf_ratio, wet_gain)

    def _par(self, src: int) -> int:
        self._ctl(src)
        return self.layout.source_params + src * L.PARAM_STRIDE

    def source_status(self, src: int) -> int:
        """The status bits since the last query, then cleared (the C API's
        SMW_SOURCE_STATUS_*): ``layout.STATUS_NONFINITE`` (a write had NaN/Inf and was
        muted), ``STATUS_UNDERRUN`` (a block had fewer frames written than it rendered),
        ``STATUS_PAUSED`` (a block ran while it or the engine was paused), ``STATUS_PLAYING``
        (a block of it was rendered), ``STATUS_VIRTUAL`` (a block of it was inaudible: its
        level, gain x distance gain x cone x loudest transmission band, was below
        ``layout.VIRTUAL_THRESHOLD``, -70 dB, so it was not rendered; it comes back
        ``VIRTUAL_HYSTERESIS`` (+3 dB) above, faded in over one block)."""
        ctl = self._ctl(src)
        v = int(self.i64[ctl + L.CTL_STATUS])
        self.i64[ctl + L.CTL_STATUS] = 0
        return v

    def set_master_gain(self, gain: float) -> None:
        """Output gain 0..1000 (default 1), ramped across the next block."""
        g = float(gain)
        if not (math.isfinite(g) and 0.0 <= g <= 1000.0):
            raise EngineError(f"master gain must be finite and in [0, 1000], got {gain}")
        self._master_gain = g

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
        """Queue mono samples for the next render. Returns False if they were non-finite
        (the block is muted, the other sources are unaffected)."""
        self._ctl(src)
        x = np.ascontiguousarray(samples, dtype=np.float32)
        if x.ndim != 1:
            raise EngineError(f"source samples must be mono (1-D), got shape {x.shape}")
        rc = write_core(self.f64, self.f32, self.i64, src, x, x.shape[0])
        if rc == L.WRITE_FULL:
            raise EngineError(f"more than max_block={self.max_block} frames queued before render "
                              "(a paused source or engine does not consume)")
        return rc == L.WRITE_OK

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
        render_core(self.f64, self.f32, self.i64, self._out, frames)
        self._applied_gain = g1
        out = self._out[:2 * frames].reshape(frames, 2).copy()
        if g0 != 1.0 or g1 != 1.0:  # the same float32 ramp as smw_render
            k = np.arange(1, frames + 1, dtype=np.float32)
            out *= (g0 + (g1 - g0) * k / np.float32(frames))[:, None]
        return out
