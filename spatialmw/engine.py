"""The renderer: fixed-capacity source slots in three flat pools, driven block by block.

The same pools and kernels serve both front ends. The C library (``bindings/``) allocates
the pools, lets :func:`init_pools` fill them and calls the kernels' @cfunc entry points
from the audio thread. :class:`Engine` owns numpy pools and calls the same kernels
directly, which is what Python scenes render through::

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
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from . import geometry
from .kernels import layout as L
from .kernels.fft import fft_tables
from .kernels.lanes import LANES
from .kernels.tdw import SINC_PHASES, SINC_TAPS, sinc_table
from .kernels.ibc import ibc_prepare, ibc_prepared_size, ibc_scratch_size
from .kernels.corrector import ir_window, lf_blend, modeling_delay
from .kernels.ibc_table import build_table, diffuse_field_table_eq, table_distance_rows, table_rings
from .kernels.render import STATE_STOP, _clear_slot, render_core, write_core
from .errors import SpatialmwError

SUPPORTED_SAMPLE_RATES = (44100, 48000, 96000)
N_FFT = 512
HOP = 256
MAX_DELAY_SECONDS = 1.0   # 343 m of propagation delay; farther sources keep this delay
MAX_POSITION = 1.0e6      # metres; beyond this a pose is rejected as absurd
REEVAL_DEGREES = 1.0      # a source's corrector gains are updated when its direction moves more than this
REEVAL_LOG_DISTANCE = 0.05
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
IBC_EVALS_PER_512_FRAMES = 16
IBC_LOOKUPS_PER_512_FRAMES = 256
IBC_TABLE_STEP_DEGREES = 3.0  # 0.09 dB interpolation error, ~4,600 directions
EQUALIZATIONS = ("none", "diffuse_field")
DIFFUSE_FIELD_STEP_DEGREES = 5.0  # directions the diffuse-field average is taken over (~1,650)


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
    """Pool sizes and the offsets a host needs; everything else is in the int64 header."""
    config: EngineConfig
    model: object | None
    n_f64: int = 0
    n_f32: int = 0
    n_i64: int = 0
    listener: int = 0
    source_pose: int = 0
    source_params: int = 0
    source_control: int = 0
    latency_frames: int = 0
    regions: dict = field(default_factory=dict)
    table_rings: tuple = ()   # (counts, offsets) of the corrector's direction table, if any


class _Allocator:
    def __init__(self, start=0):
        self.size = start

    def take(self, n: int, align: int = 8) -> int:
        self.size = (self.size + align - 1) // align * align
        off = self.size
        self.size += int(n)
        return off


def _grid(model, sample_rate):
    if model is None:
        return np.array([0.0, sample_rate / 2.0])
    return np.asarray(model.grid_hz, dtype=np.float64)


def build_engine_layout(config: EngineConfig) -> EngineLayout:
    """Validate ``config``, load the model and plan the three pools."""
    from .model import load_model

    cfg = config.validate()
    model = load_model(cfg.model_path) if cfg.ibc else None
    s, sr, mb = int(cfg.max_sources), int(cfg.sample_rate), int(cfg.max_block)
    nbins = N_FFT // 2 + 1
    grid = _grid(model, sr)
    k = grid.shape[0]
    theta_len = model.theta.shape[0] if model is not None else 1
    dims_len = model.dims.shape[0] if model is not None else 1
    scratch_len = ibc_scratch_size(model.dims) if model is not None else 1
    prep_len = ibc_prepared_size(model.dims, k) if model is not None else 1
    use_table = model is not None and cfg.ibc_table_step > 0.0
    rings = table_rings(cfg.ibc_table_step) if use_table else ()
    counts = rings[0] if rings else np.zeros(0, np.int64)
    n_rho = table_distance_rows(model.theta) if use_table else 0
    table_len = max(1, int(counts.sum()) * n_rho * 4 * nbins)
    delay = modeling_delay(sr) if model is not None else 0
    ring_len = 1 << math.ceil(math.log2(MAX_DELAY_SECONDS * sr + mb + 8))
    stage_len = N_FFT + mb
    batches = -(-s // LANES)
    # corrector on: every source has its own lane of staging and gains; off: the warped
    # sources are summed into one shared stereo staging buffer (the STFT is linear)
    stage = batches * 2 * stage_len * LANES if model is not None else 2 * stage_len
    gains = batches * 4 * nbins * LANES if model is not None else LANES
    fifo_len = mb + 2 * HOP

    f64, f32, i64 = _Allocator(), _Allocator(), _Allocator(L.HEADER_LEN)
    r = {}
    r[L.H_LISTENER] = f64.take(L.LISTENER_LEN)
    r[L.H_LISTENER_TRACK] = f64.take(L.LT_LEN)
    r[L.H_SRC_POSE] = f64.take(s * L.POSE_STRIDE)
    r[L.H_SRC_PARAM] = f64.take(s * L.PARAM_STRIDE)
    r[L.H_THETA] = f64.take(theta_len)
    r[L.H_SCRATCH] = f64.take(scratch_len)
    r[L.H_IBC_OUT] = f64.take(4 * k)
    r[L.H_BIN_W] = f64.take(nbins)
    r[L.H_TWID_COS] = f64.take(N_FFT)
    r[L.H_TWID_SIN] = f64.take(N_FFT)
    r[L.H_WINDOW] = f64.take(N_FFT)
    r[L.H_SRC_STATE] = f64.take(s * L.STATE_STRIDE)
    r[L.H_WORK] = f64.take(2 * N_FFT)
    r[L.H_MIX] = f64.take(4 * nbins)
    r[L.H_MIX_DELTA] = f64.take(4 * nbins)
    r[L.H_CONST] = f64.take(L.C_LEN)
    r[L.H_LF_BLEND] = f64.take(nbins)
    r[L.H_EQ] = f64.take(4 * nbins)
    r[L.H_IR_WINDOW] = f64.take(N_FFT)
    r[L.H_RING] = f32.take(s * ring_len, 16)
    r[L.H_STAGE] = f32.take(stage, 16)
    r[L.H_GCUR] = f32.take(gains, 16)
    r[L.H_GTGT] = f32.take(gains, 16)
    r[L.H_GPREV] = f32.take(gains, 16)
    r[L.H_GDELTA] = f32.take(gains, 16)
    r[L.H_GAIN_SCRATCH] = f32.take(4 * nbins, 16)
    r[L.H_FIFO] = f32.take(2 * fifo_len, 16)
    r[L.H_SINC] = f32.take((SINC_PHASES + 1) * SINC_TAPS, 16)
    r[L.H_LANE_WORK] = f32.take(2 * N_FFT * LANES, 16)
    r[L.H_LANE_MIX] = f32.take(4 * nbins * LANES, 16)
    r[L.H_LANE_MIX_DELTA] = f32.take(4 * nbins * LANES, 16)
    r[L.H_TABLES32] = f32.take(3 * N_FFT, 16)
    r[L.H_LANE_ALPHA] = f32.take(LANES, 16)
    r[L.H_TDW_OUT] = f32.take(2 * mb, 16)
    r[L.H_IBC_PREP] = f32.take(prep_len, 16)
    r[L.H_IBC_TABLE] = f32.take(table_len, 16)
    r[L.H_TABLE_COUNTS] = i64.take(max(1, 2 * counts.shape[0]))
    r[L.H_SRC_CTL] = i64.take(s * L.CTL_STRIDE)
    r[L.H_DIMS] = i64.take(dims_len)
    r[L.H_BIN_IDX] = i64.take(nbins)
    r[L.H_BITREV] = i64.take(N_FFT)
    r[L.H_SRC_COUNT] = i64.take(s * L.COUNT_STRIDE)
    r[L.H_GLOBAL] = i64.take(L.G_LEN)
    r[L.H_TDW_IDX] = i64.take(2 * mb)
    r["scalars"] = {
        L.H_SAMPLE_RATE: sr, L.H_MAX_SOURCES: s, L.H_MAX_BLOCK: mb, L.H_NFFT: N_FFT, L.H_HOP: HOP,
        L.H_RING_LEN: ring_len, L.H_GRID_K: k, L.H_IBC_ENABLED: int(model is not None),
        L.H_THETA_LEN: theta_len, L.H_DIMS_LEN: dims_len, L.H_SCRATCH_LEN: scratch_len,
        L.H_STAGE_LEN: stage_len, L.H_FIFO_LEN: fifo_len, L.H_MAX_DELAY: ring_len - mb - 8,
        L.H_IBC_PREP_LEN: prep_len, L.H_BATCHES: batches,
        L.H_TABLE_RINGS: counts.shape[0], L.H_TABLE_NRHO: n_rho, L.H_DELAY: delay,
    }
    return EngineLayout(
        config=cfg, model=model, n_f64=f64.size, n_f32=f32.size, n_i64=i64.size,
        listener=r[L.H_LISTENER], source_pose=r[L.H_SRC_POSE], source_params=r[L.H_SRC_PARAM],
        source_control=r[L.H_SRC_CTL], latency_frames=HOP + delay, regions=r, table_rings=rings,
    )


def init_pools(layout: EngineLayout, f64: np.ndarray, f32: np.ndarray, i64: np.ndarray) -> None:
    """Fill zeroed pools: header, model weights, FFT and window tables, initial state."""
    if f64.shape[0] < layout.n_f64 or f32.shape[0] < layout.n_f32 or i64.shape[0] < layout.n_i64:
        raise EngineConfigError("pools are smaller than the layout requires")
    r = layout.regions
    i64[:L.HEADER_LEN] = 0
    i64[L.H_MAGIC] = L.MAGIC
    i64[L.H_N_F64], i64[L.H_N_F32], i64[L.H_N_I64] = layout.n_f64, layout.n_f32, layout.n_i64
    for idx, value in r["scalars"].items():
        i64[idx] = value
    for idx, off in r.items():
        if idx != "scalars":
            i64[idx] = off
    sr = layout.config.sample_rate
    model = layout.model
    lis = r[L.H_LISTENER]
    f64[lis:lis + 7] = (0, 0, 0, 0, 0, 0, 1)
    for s in range(layout.config.max_sources):
        f64[r[L.H_SRC_POSE] + s * L.POSE_STRIDE + 6] = 1.0
    c = r[L.H_CONST]
    f64[c + L.C_SPEED_OF_SOUND] = layout.config.speed_of_sound
    f64[c + L.C_HEAD_RADIUS] = model.head_radius if model is not None else geometry.DEFAULT_HEAD_RADIUS
    f64[c + L.C_COS_REEVAL] = math.cos(math.radians(REEVAL_DEGREES))
    f64[c + L.C_LOGDIST_REEVAL] = REEVAL_LOG_DISTANCE
    f64[c + L.C_EVALS_PER_512] = layout.config.ibc_evals_per_512
    f64[c + L.C_LOOKUPS_PER_512] = layout.config.ibc_lookups_per_512
    sinc = r[L.H_SINC]
    f32[sinc:sinc + (SINC_PHASES + 1) * SINC_TAPS] = sinc_table().ravel()
    cos, sin, rev = fft_tables(N_FFT)
    f64[r[L.H_TWID_COS]:r[L.H_TWID_COS] + N_FFT] = cos
    f64[r[L.H_TWID_SIN]:r[L.H_TWID_SIN] + N_FFT] = sin
    i64[r[L.H_BITREV]:r[L.H_BITREV] + N_FFT] = rev
    # overlap-save convolution: each frame is the newest N samples, unwindowed (kernels/render.py)
    win = np.ones(N_FFT)
    f64[r[L.H_WINDOW]:r[L.H_WINDOW] + N_FFT] = win
    f32[r[L.H_TABLES32]:r[L.H_TABLES32] + 3 * N_FFT] = np.concatenate([cos, sin, win])
    grid = _grid(model, sr)
    fb = np.arange(N_FFT // 2 + 1) * sr / N_FFT
    k = np.clip(np.searchsorted(grid, fb, side="right") - 1, 0, len(grid) - 2)
    w = np.clip((fb - grid[k]) / (grid[k + 1] - grid[k]), 0.0, 1.0)
    i64[r[L.H_BIN_IDX]:r[L.H_BIN_IDX] + len(k)] = k
    f64[r[L.H_BIN_W]:r[L.H_BIN_W] + len(w)] = w
    nbins = N_FFT // 2 + 1
    delay = r["scalars"][L.H_DELAY]
    f64[r[L.H_LF_BLEND]:r[L.H_LF_BLEND] + nbins] = lf_blend(fb)
    if model is not None:
        f64[r[L.H_IR_WINDOW]:r[L.H_IR_WINDOW] + N_FFT] = ir_window(N_FFT, HOP, delay)
        th = r[L.H_THETA]
        f64[th:th + model.theta.shape[0]] = model.theta
        d = r[L.H_DIMS]
        i64[d:d + model.dims.shape[0]] = model.dims
        pp = r[L.H_IBC_PREP]
        prep = f32[pp:pp + r["scalars"][L.H_IBC_PREP_LEN]]
        ibc_prepare(model.theta, model.dims, grid, prep)
        shaping = (k.astype(np.int64), w, f64[r[L.H_LF_BLEND]:r[L.H_LF_BLEND] + nbins],
                   2.0 * np.pi * delay / N_FFT, f64[r[L.H_IR_WINDOW]:r[L.H_IR_WINDOW] + N_FFT],
                   cos, sin, rev, np.zeros(N_FFT), np.zeros(N_FFT))
        eq = f64[r[L.H_EQ]:r[L.H_EQ] + 4 * nbins]
        scratch = np.zeros(ibc_scratch_size(model.dims))
        grid_out = np.zeros(4 * grid.shape[0])
        if layout.config.equalization == "diffuse_field":
            diffuse_field_table_eq(model.theta, model.dims, prep,
                                   table_rings(DIFFUSE_FIELD_STEP_DEGREES)[0], shaping, scratch,
                                   grid_out, np.zeros(4 * nbins), np.zeros(2 * nbins), eq)
        if layout.table_rings:
            counts, offsets = layout.table_rings
            n_rings = counts.shape[0]
            tc = r[L.H_TABLE_COUNTS]
            i64[tc:tc + 2 * n_rings] = np.concatenate([counts, offsets])
            n_rho = r["scalars"][L.H_TABLE_NRHO]
            tb = r[L.H_IBC_TABLE]
            build_table(model.theta, model.dims, prep, counts, offsets, n_rho, shaping, eq,
                        f32[tb:tb + int(counts.sum()) * n_rho * 4 * nbins], scratch, grid_out)
    g = r[L.H_GLOBAL]
    i64[g + L.G_STAGE_FILL] = N_FFT - HOP  # the first frame's history: silence
    i64[g + L.G_FIFO_COUNT] = HOP  # primed with one hop of silence: any frame count works


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
        old and new position crossfaded over one block. (Jumps faster than sound, or of
        more than 1.7 m of path off the motion in one update, are detected without this.)"""
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

    def source_status(self, src: int) -> int:
        """Status bits the kernels reported (bit 0: a write had NaN/Inf and was muted); clears them."""
        ctl = self._ctl(src)
        v = int(self.i64[ctl + L.CTL_STATUS])
        self.i64[ctl + L.CTL_STATUS] = 0
        return v

    def write(self, src: int, samples) -> bool:
        """Queue mono samples for the next render. Returns False if they were non-finite
        (the block is muted, the other sources are unaffected)."""
        self._ctl(src)
        x = np.ascontiguousarray(samples, dtype=np.float32)
        if x.ndim != 1:
            raise EngineError(f"source samples must be mono (1-D), got shape {x.shape}")
        rc = write_core(self.f64, self.f32, self.i64, src, x, x.shape[0])
        if rc == L.WRITE_FULL:
            raise EngineError(f"more than max_block={self.max_block} frames queued before render")
        return rc == L.WRITE_OK

    def render(self, frames: int) -> np.ndarray:
        """Render ``frames`` (1..max_block) stereo frames; returns a new (frames, 2) float32 array."""
        if not 1 <= int(frames) <= self.max_block:
            raise EngineError(f"frame count must be in 1..{self.max_block}, got {frames}")
        render_core(self.f64, self.f32, self.i64, self._out, int(frames))
        return self._out[:2 * frames].reshape(frames, 2).copy()
