"""The engine's control plane, compiled: settings + model -> pool layout, then filled pools.

Both front ends run this same code. :mod:`spatialmw.engine` calls it (jitted) for the
Python :class:`~spatialmw.engine.Engine`; the native library (``bindings/build_sdk.py``)
compiles its @cfunc entry points (:mod:`.cabi`) ahead of time next to the real-time
kernels, so a game's ``smw_renderer_create`` plans and fills the pools without Python.
Nothing here allocates (the AOT library has no numba runtime): every function works on
arrays its caller owns.

Inputs, in the order the cfuncs take them:

* ``settings`` float64 ``S_LEN``: the ``S_*`` fields below (:func:`settings_default`);
* the model: ``theta`` (float64), ``dims`` (int64), ``grid`` (float64 Hz, strictly
  increasing; without a model the caller passes [0, sample_rate / 2] and one-element
  ``theta``/``dims``).

:func:`plan_layout` writes the int64 pool header (:mod:`.layout`: every region's offset,
the scalars, the three pool sizes); the caller allocates zeroed pools of those sizes,
copies the header to the start of the int64 pool and calls :func:`init_pools_core`.

Regions live in ONE table, :data:`REGIONS` (allocation order: header index, pool); their
sizes come from :func:`_region_sizes`. A new region is a header index in :mod:`.layout`,
a row here and a line there.
"""
import math

import numpy as np
from numba import njit

from .. import defaults as D
from .. import geometry
from . import layout as L
from .fft import fft_tables_fill
from . import ibc as ibc_mod
from .ibc import ibc_prepare, ibc_prepared_len, ibc_scratch_len
from .corrector import EQUALIZATIONS, ir_window_fill, lf_blend_fill, lf_pins_fill, lf_pins_len, modeling_delay
from .ibc_table import (build_table, diffuse_field_table_eq, table_distance_rows, table_ring_total,
                        table_rings_fill)
from .lanes import LANES
from .tone import TONE_TABLE_ROWS, set_flat_tone, tone_tables_fill
from . import nearfield, reverb, spread
from .lod import FILTER_STRIDE, bed_delay, lod_design
from .tdw import SINC_BETA, SINC_PHASES, SINC_TAPS, sinc_table_fill

N_FFT = 512
HOP = D.HOP_FRAMES_CHOICES[0]  # the longest hop: the corrector's impulse response fits N - HOP + 1 taps at every hop
MAX_DELAY_SECONDS = 1.0   # 343 m of propagation delay; farther sources keep this delay
REEVAL_DEGREES = 1.0      # a source's corrector gains are updated when its direction moves more than this
REEVAL_LOG_DISTANCE = 0.05
IBC_EVALS_PER_512_FRAMES = 16     # see spatialmw.engine for what these budgets buy
IBC_LOOKUPS_PER_512_FRAMES = 256
IBC_TABLE_STEP_DEGREES = D.TABLE_STEP_DEG  # the creation default (spatialmw/defaults.py)
# the per-source phase of a block runs as this many chunks of consecutive slots (fewer with
# fewer slots), whatever the worker count: each chunk adds into its own accumulators and
# the reduction sums them in chunk order, so the output does not depend on who ran which
# chunk. 16: four participants get four chunks each, and the audio thread never waits for
# more than one chunk's work of a preempted worker (docs/PERFORMANCE.md, "Worker threads")
WORK_CHUNKS = 16

# settings fields (float64)
S_SAMPLE_RATE = 0
S_MAX_SOURCES = 1
S_MAX_BLOCK = 2
S_IBC = 3              # 1: a model is given (corrector on)
S_TABLE_STEP = 4       # degrees between direction-table nodes; 0: no table
S_EVALS_PER_512 = 5    # <= 0: no limit
S_LOOKUPS_PER_512 = 6  # <= 0: no limit
S_HEAD_RADIUS = 7      # metres (the model's, or geometry.DEFAULT_HEAD_RADIUS)
S_SPEED_OF_SOUND = 8
S_EQUALIZATION = 9     # 0: none, 1: diffuse field (the C enum smw_equalization)
S_HOP = 10             # overlap-save hop: one of defaults.HOP_FRAMES_CHOICES (latency = hop + modelling delay)
S_FULL_SOURCES = 11    # level of detail: sources on the full path, 0..MAX_SOURCES_LIMIT (0: all; lod.py)
S_LOD_HYSTERESIS_DB = 12  # level of detail: a full-path source's advantage in the ranking, dB
S_WORKERS = 13         # worker threads sharing the per-source phase with the audio thread, 0..defaults.WORKER_THREADS_MAX
S_LEN = 16
_EQ_DEFAULT = float(EQUALIZATIONS.index(D.EQUALIZATION))
_N_EQ = len(EQUALIZATIONS)
DIFFUSE_FIELD_STEP_DEGREES = 5.0  # directions the diffuse-field average is taken over (~1,650)
EQ_RINGS = 37          # rings of that sphere

# plan_layout results
PLAN_OK = 0
PLAN_BAD_SETTINGS = 1

F64, F32, I64 = 0, 1, 2
_ALIGN = (8, 16, 8)   # elements: float32 regions start on 64-byte boundaries for the vector code

# (header index, pool), in allocation order
REGIONS = np.array([
    (L.H_LISTENER, F64), (L.H_SRC_POSE, F64), (L.H_SRC_PARAM, F64), (L.H_THETA, F64),
    (L.H_SCRATCH, F64), (L.H_IBC_OUT, F64), (L.H_BIN_W, F64), (L.H_TWID_COS, F64),
    (L.H_TWID_SIN, F64), (L.H_SRC_STATE, F64), (L.H_WORK, F64),
    (L.H_MIX, F64), (L.H_MIX_DELTA, F64), (L.H_CONST, F64), (L.H_LF_BLEND, F64), (L.H_EQ, F64),
    (L.H_IR_WINDOW, F64), (L.H_LF_PINS, F64), (L.H_LISTENER_TRACK, F64), (L.H_TONE_BANDS, F64), (L.H_AIR_ALPHA, F64), (L.H_LOD_SCORE, F64),
    (L.H_NEARFIELD, F64), (L.H_REVERB, F64), (L.H_REVERB_LINES, F32), (L.H_REVERB_PRE, F32), (L.H_REVERB_IN, F32),
    (L.H_RING, F32), (L.H_STAGE, F32), (L.H_GCUR, F32), (L.H_GTGT, F32),
    (L.H_GAIN_SCRATCH, F32), (L.H_LANE_MIX_DELTA, F32), (L.H_FIFO, F32),
    (L.H_SINC, F32), (L.H_LANE_WORK, F32), (L.H_LANE_MIX, F32), (L.H_TABLES32, F32),
    (L.H_LANE_RAMP, F32), (L.H_TDW_OUT, F32), (L.H_LOD_STAGE, F32), (L.H_LOD_FILTERS, F32), (L.H_LOD_COEF, F32), (L.H_TONE, F32), (L.H_SPREAD, F32), (L.H_IBC_PREP, F32), (L.H_IBC_TABLE, F32),
    (L.H_TABLE_COUNTS, I64), (L.H_SRC_CTL, I64), (L.H_DIMS, I64), (L.H_BIN_IDX, I64),
    (L.H_BITREV, I64), (L.H_SRC_COUNT, I64), (L.H_GLOBAL, I64), (L.H_TDW_IDX, I64),
    (L.H_EQ_RINGS, I64), (L.H_LANE_OF, I64), (L.H_LANE_SLOT, I64),
    (L.H_SRC_BLOCK, F64), (L.H_SRC_KIND, F64), (L.H_SRC_NAP, I64), (L.H_PART_F64, F64), (L.H_PART_F32, F32), (L.H_CHUNK_ACC, F32),
    (L.H_PART, I64), (L.H_PART_I64, I64), (L.H_CHUNKS, I64),
], dtype=np.int64)


@njit(cache=True)
def settings_default(settings):
    """Fill ``settings`` (float64 ``S_LEN``) with the creation defaults of
    :mod:`spatialmw.defaults` (48 kHz, 64 sources, 1024-frame blocks, corrector on with
    the 3-degree table), the update budgets and the default head."""
    settings[:] = 0.0
    settings[S_SAMPLE_RATE] = D.SAMPLE_RATE
    settings[S_MAX_SOURCES] = D.MAX_SOURCES
    settings[S_MAX_BLOCK] = D.MAX_BLOCK
    settings[S_IBC] = 1.0 if D.CORRECTOR else 0.0
    settings[S_TABLE_STEP] = D.TABLE_STEP_DEG
    settings[S_EVALS_PER_512] = IBC_EVALS_PER_512_FRAMES
    settings[S_LOOKUPS_PER_512] = IBC_LOOKUPS_PER_512_FRAMES
    settings[S_HEAD_RADIUS] = geometry.DEFAULT_HEAD_RADIUS
    settings[S_SPEED_OF_SOUND] = D.SPEED_OF_SOUND
    settings[S_EQUALIZATION] = _EQ_DEFAULT
    settings[S_HOP] = D.HOP_FRAMES
    settings[S_FULL_SOURCES] = D.FULL_SOURCES
    settings[S_LOD_HYSTERESIS_DB] = D.LOD_HYSTERESIS_DB
    settings[S_WORKERS] = D.WORKER_THREADS


@njit(cache=True, inline="always")
def _pad(n, a):
    return (n + a - 1) // a * a


@njit(cache=True)
def _part_sizes(mb, scratch_len, k):
    """One extra participant's scratch (H_PART_*, layout.PT_*): float64, float32 and int64
    elements, each part starting aligned."""
    nbins = N_FFT // 2 + 1
    return (_pad(scratch_len, 8) + _pad(4 * k, 8) + 2 * N_FFT,
            _pad(2 * mb, 16) + 6 * LANES + _pad(4 * nbins, 16), 2 * mb)


@njit(cache=True)
def _chunk_acc_sizes(mb, lod, ibc):
    """One chunk's accumulators (layout.CK_*): the bed, the shared staging, the reverb
    input (0 where the renderer has none), float32, each 16-aligned."""
    return (2 * mb * LANES if lod else 0), (_pad(2 * mb, 16) if not ibc else 0), _pad(mb, 16)


@njit(cache=True)
def slot_count(max_sources):
    """Voice slots for ``max_sources`` live voices: the spares (defaults.SPARE_SLOTS_MIN,
    SPARE_SLOTS_DIVISOR) hold destroyed voices' fade-outs while new voices start."""
    return max_sources + max(D.SPARE_SLOTS_MIN, max_sources // D.SPARE_SLOTS_DIVISOR)


@njit(cache=True)
def _uses_table(settings):
    return settings[S_IBC] != 0.0 and settings[S_TABLE_STEP] > 0.0


@njit(cache=True)
def _region_sizes(settings, theta, dims, grid, head):
    """head[h] = elements of region h (region and scalar indices are disjoint), the
    header's scalars, and the ring counts after the header (see :func:`plan_layout`)."""
    s = slot_count(int(settings[S_MAX_SOURCES]))
    sr = int(settings[S_SAMPLE_RATE])
    hop = int(settings[S_HOP])
    mb = int(settings[S_MAX_BLOCK])
    ibc = settings[S_IBC] != 0.0
    nbins = N_FFT // 2 + 1
    k = grid.shape[0]
    theta_len = theta.shape[0] if ibc else 1
    dims_len = dims.shape[0] if ibc else 1
    scratch_len = ibc_scratch_len(dims) if ibc else 1
    prep_len = ibc_prepared_len(dims, k) if ibc else 1
    n_rings = table_ring_total(settings[S_TABLE_STEP]) if _uses_table(settings) else 0
    n_rho = table_distance_rows(theta) if n_rings > 0 else 0
    nodes = 0
    if n_rings > 0:
        counts = head[L.HEADER_LEN:L.HEADER_LEN + n_rings]
        offsets = head[L.HEADER_LEN + n_rings:L.HEADER_LEN + 2 * n_rings]
        nodes = table_rings_fill(settings[S_TABLE_STEP], counts, offsets)
    ring_len = 1 << int(math.ceil(math.log2(MAX_DELAY_SECONDS * sr + mb + 8)))
    stage_len = N_FFT + mb
    batches = (s + LANES - 1) // LANES
    size = head
    size[L.H_LISTENER] = L.LISTENER_LEN
    size[L.H_LISTENER_TRACK] = L.LT_LEN
    size[L.H_LF_BLEND] = nbins
    size[L.H_EQ] = 4 * nbins
    size[L.H_IR_WINDOW] = N_FFT
    size[L.H_LF_PINS] = lf_pins_len(N_FFT) if ibc else 1
    size[L.H_TONE_BANDS] = TONE_TABLE_ROWS * nbins
    size[L.H_TONE] = s * 2 * nbins if ibc else 1
    size[L.H_NEARFIELD] = nearfield.TABLE_LEN
    size[L.H_SPREAD] = s * 2 * spread.N_SECTIONS * spread.spread_ring_len(sr) if ibc else 1
    head[L.H_SPREAD_LEN] = spread.spread_ring_len(sr)
    size[L.H_REVERB] = reverb.STATE_LEN
    size[L.H_REVERB_LINES] = reverb.N_LINES * reverb.LINE_LEN
    size[L.H_REVERB_PRE] = reverb.pre_delay_len(sr, hop + (modeling_delay(sr) if ibc else 0))
    size[L.H_REVERB_IN] = mb
    size[L.H_AIR_ALPHA] = nbins
    size[L.H_MIX_DELTA] = 4 * nbins
    size[L.H_GAIN_SCRATCH] = 4 * nbins
    size[L.H_LANE_MIX_DELTA] = 4 * nbins * LANES
    size[L.H_EQ_RINGS] = 2 * EQ_RINGS
    size[L.H_SRC_POSE] = s * L.POSE_STRIDE
    size[L.H_SRC_PARAM] = s * L.PARAM_STRIDE
    size[L.H_THETA] = theta_len
    size[L.H_SCRATCH] = scratch_len
    size[L.H_IBC_OUT] = 4 * k
    size[L.H_BIN_W] = nbins
    size[L.H_TWID_COS] = N_FFT
    size[L.H_TWID_SIN] = N_FFT
    size[L.H_SRC_STATE] = s * L.STATE_STRIDE
    size[L.H_WORK] = 2 * N_FFT
    size[L.H_MIX] = 4 * nbins
    size[L.H_CONST] = L.C_LEN
    size[L.H_RING] = s * ring_len
    # corrector on: every source has its own lane of staging and gains; off: the warped
    # sources are summed into one shared stereo staging buffer (the STFT is linear)
    size[L.H_STAGE] = batches * 2 * stage_len * LANES if ibc else 2 * stage_len
    size[L.H_GCUR] = batches * 4 * nbins * LANES if ibc else LANES
    size[L.H_GTGT] = size[L.H_GCUR]
    size[L.H_LANE_OF] = s
    size[L.H_LANE_SLOT] = batches * LANES
    size[L.H_FIFO] = 2 * (mb + 2 * hop)
    size[L.H_SINC] = (SINC_PHASES + 1) * SINC_TAPS
    size[L.H_LANE_WORK] = 2 * N_FFT * LANES
    size[L.H_LANE_MIX] = 4 * nbins * LANES
    size[L.H_TABLES32] = 2 * N_FFT
    size[L.H_LANE_RAMP] = LANES
    size[L.H_TDW_OUT] = 2 * mb
    lod = ibc and settings[S_FULL_SOURCES] > 0  # (corrector off: no per-source transform to save)
    size[L.H_LOD_SCORE] = 2 * s if lod else 1
    size[L.H_LOD_STAGE] = 2 * stage_len * LANES if lod else 1
    size[L.H_LOD_FILTERS] = nbins * LANES * FILTER_STRIDE if lod else 1
    size[L.H_LOD_COEF] = 6 * LANES
    head[L.H_FULL_SOURCES] = int(settings[S_FULL_SOURCES]) if lod else 0
    size[L.H_IBC_PREP] = prep_len
    size[L.H_IBC_TABLE] = max(1, nodes * n_rho * 4 * nbins)
    size[L.H_TABLE_COUNTS] = max(1, 2 * n_rings)
    size[L.H_SRC_CTL] = s * L.CTL_STRIDE
    size[L.H_DIMS] = dims_len
    size[L.H_BIN_IDX] = nbins
    size[L.H_BITREV] = N_FFT
    size[L.H_SRC_COUNT] = s * L.COUNT_STRIDE
    size[L.H_GLOBAL] = L.G_LEN
    size[L.H_TDW_IDX] = 2 * mb
    parts = 1 + int(settings[S_WORKERS])
    chunks = min(s, WORK_CHUNKS)
    p64, p32, pi = _part_sizes(mb, scratch_len, k)
    size[L.H_SRC_BLOCK] = s * L.BK_STRIDE
    size[L.H_SRC_KIND] = s
    size[L.H_SRC_NAP] = s
    size[L.H_PART] = parts * L.PT_STRIDE
    size[L.H_PART_F64] = max(1, (parts - 1) * p64)
    size[L.H_PART_F32] = max(1, (parts - 1) * p32)
    size[L.H_PART_I64] = max(1, (parts - 1) * pi)
    size[L.H_CHUNKS] = chunks * L.CK_STRIDE
    a_bed, a_stage, a_rev = _chunk_acc_sizes(mb, lod, ibc)
    size[L.H_CHUNK_ACC] = max(1, (chunks - 1) * (a_bed + a_stage + a_rev))
    head[L.H_PARTICIPANTS] = parts
    head[L.H_N_CHUNKS] = chunks
    head[L.H_SAMPLE_RATE] = sr
    head[L.H_SLOTS] = s
    head[L.H_MAX_BLOCK] = mb
    head[L.H_NFFT] = N_FFT
    head[L.H_HOP] = hop
    head[L.H_RING_LEN] = ring_len
    head[L.H_GRID_K] = k
    head[L.H_IBC_ENABLED] = 1 if ibc else 0
    head[L.H_THETA_LEN] = theta_len
    head[L.H_DIMS_LEN] = dims_len
    head[L.H_SCRATCH_LEN] = scratch_len
    head[L.H_STAGE_LEN] = stage_len
    head[L.H_FIFO_LEN] = mb + 2 * hop
    head[L.H_MAX_DELAY] = ring_len - mb - 8
    head[L.H_IBC_PREP_LEN] = prep_len
    head[L.H_BATCHES] = batches
    head[L.H_TABLE_RINGS] = n_rings
    head[L.H_TABLE_NRHO] = n_rho
    head[L.H_DELAY] = modeling_delay(sr) if ibc else 0


@njit(cache=True)
def settings_valid(settings):
    """The ranges the engine serves (:mod:`spatialmw.defaults`; callers report which
    one failed themselves)."""
    sr = settings[S_SAMPLE_RATE]
    rate_ok = False
    for r in D.SAMPLE_RATES:
        rate_ok = rate_ok or sr == r
    step = settings[S_TABLE_STEP]
    eq = settings[S_EQUALIZATION]
    full = settings[S_FULL_SOURCES]
    workers = settings[S_WORKERS]
    return (rate_ok
            and 0.0 <= workers <= D.WORKER_THREADS_MAX and workers == math.floor(workers)
            and 0.0 <= full <= D.MAX_SOURCES_LIMIT and full == math.floor(full)
            and 0.0 <= settings[S_LOD_HYSTERESIS_DB] <= D.LOD_HYSTERESIS_MAX_DB
            and 1.0 <= settings[S_MAX_SOURCES] <= D.MAX_SOURCES_LIMIT
            and 1.0 <= settings[S_MAX_BLOCK] <= D.MAX_BLOCK_LIMIT
            and (step == 0.0 or D.TABLE_STEP_MIN_DEG <= step <= D.TABLE_STEP_MAX_DEG)
            and D.SPEED_OF_SOUND_MIN <= settings[S_SPEED_OF_SOUND] <= D.SPEED_OF_SOUND_MAX
            and 0.0 <= eq < _N_EQ and eq == math.floor(eq)
            and (settings[S_HOP] == D.HOP_FRAMES_CHOICES[0] or settings[S_HOP] == D.HOP_FRAMES_CHOICES[1]
                 or settings[S_HOP] == D.HOP_FRAMES_CHOICES[2]))


MAX_RINGS = 361                       # rings of the finest table (0.5 degrees)
PLAN_LEN = L.HEADER_LEN + 2 * MAX_RINGS  # plan_layout's output: the header, then scratch


@njit(cache=True)
def plan_layout(settings, theta, dims, grid, head):
    """Write the pool header into ``head[:L.HEADER_LEN]`` (``head`` has ``PLAN_LEN``
    elements; the rest is scratch): every region's offset, the scalars and the three pool
    sizes. Returns ``PLAN_OK`` or ``PLAN_BAD_SETTINGS``."""
    if not settings_valid(settings):
        return PLAN_BAD_SETTINGS
    head[:] = 0
    _region_sizes(settings, theta, dims, grid, head)
    f64_end = 0
    f32_end = 0
    i64_end = L.HEADER_LEN
    for row in range(REGIONS.shape[0]):
        h = REGIONS[row, 0]
        pool = REGIONS[row, 1]
        n = head[h]
        a = _ALIGN[pool]
        if pool == F64:
            head[h] = (f64_end + a - 1) // a * a
            f64_end = head[h] + n
        elif pool == F32:
            head[h] = (f32_end + a - 1) // a * a
            f32_end = head[h] + n
        else:
            head[h] = (i64_end + a - 1) // a * a
            i64_end = head[h] + n
    head[L.H_MAGIC] = L.MAGIC
    head[L.H_N_F64] = f64_end
    head[L.H_N_F32] = f32_end
    head[L.H_N_I64] = i64_end
    return PLAN_OK


@njit(cache=True)
def init_pools_core(settings, theta, dims, grid, f64, f32, i64):
    """Fill zeroed pools whose int64 pool starts with :func:`plan_layout`'s header: model
    weights, FFT, window and sinc tables, the corrector's prepared weights and direction
    table, constants and the initial state."""
    sr = settings[S_SAMPLE_RATE]
    ibc = settings[S_IBC] != 0.0
    s = i64[L.H_SLOTS]
    k = grid.shape[0]
    nbins = N_FFT // 2 + 1
    lis = i64[L.H_LISTENER]
    f64[lis + 6] = 1.0   # identity orientation
    for j in range(s):
        f64[i64[L.H_SRC_POSE] + j * L.POSE_STRIDE + 6] = 1.0
        set_flat_tone(f64, i64[L.H_SRC_STATE] + j * L.STATE_STRIDE + L.ST_TONE)
    c = i64[L.H_CONST]
    f64[c + L.C_SPEED_OF_SOUND] = settings[S_SPEED_OF_SOUND]
    f64[c + L.C_HEAD_RADIUS] = settings[S_HEAD_RADIUS]
    f64[c + L.C_COS_REEVAL] = math.cos(math.radians(REEVAL_DEGREES))
    f64[c + L.C_DISTANCE_RATIO_REEVAL] = math.exp(REEVAL_LOG_DISTANCE)
    f64[c + L.C_EVALS_PER_512] = settings[S_EVALS_PER_512]
    f64[c + L.C_LOOKUPS_PER_512] = settings[S_LOOKUPS_PER_512]
    f64[c + L.C_LOD_HYSTERESIS] = 10.0 ** (settings[S_LOD_HYSTERESIS_DB] / 20.0)
    sinc = i64[L.H_SINC]
    sinc_table_fill(SINC_BETA, SINC_PHASES, SINC_TAPS, f32[sinc:sinc + (SINC_PHASES + 1) * SINC_TAPS])
    cos = f64[i64[L.H_TWID_COS]:i64[L.H_TWID_COS] + N_FFT]
    sin = f64[i64[L.H_TWID_SIN]:i64[L.H_TWID_SIN] + N_FFT]
    fft_tables_fill(N_FFT, cos, sin, i64[i64[L.H_BITREV]:i64[L.H_BITREV] + N_FFT])
    t32 = i64[L.H_TABLES32]
    for n in range(N_FFT):
        f32[t32 + n] = cos[n]
        f32[t32 + N_FFT + n] = sin[n]
    blend = f64[i64[L.H_LF_BLEND]:i64[L.H_LF_BLEND] + nbins]
    lf_blend_fill(sr / N_FFT, blend)
    rv = i64[L.H_REVERB]
    reverb.reverb_init(f64[rv:rv + reverb.STATE_LEN], sr)
    for j in range(4):  # the listener region carries the game's settings (reverb off)
        f64[lis + L.L_REVERB + j] = f64[rv + reverb.R_DECAY + j]
    work = f64[i64[L.H_WORK]:i64[L.H_WORK] + 2 * N_FFT]
    tone_tables_fill(sr, N_FFT, f64[i64[L.H_TONE_BANDS]:i64[L.H_TONE_BANDS] + TONE_TABLE_ROWS * nbins],
                     f64[i64[L.H_AIR_ALPHA]:i64[L.H_AIR_ALPHA] + nbins], cos, sin,
                     i64[i64[L.H_BITREV]:i64[L.H_BITREV] + N_FFT], work[:N_FFT], work[N_FFT:])
    work[:] = 0.0
    # each FFT bin reads the grid's (a, phi) linearly between its two enclosing points
    for b in range(nbins):
        fb = b * sr / N_FFT
        j = 0
        while j < k - 2 and grid[j + 1] <= fb:   # the last grid point <= fb, clamped to 0..k-2
            j += 1
        i64[i64[L.H_BIN_IDX] + b] = j
        f64[i64[L.H_BIN_W] + b] = min(max((fb - grid[j]) / (grid[j + 1] - grid[j]), 0.0), 1.0)
    if ibc:
        nf = i64[L.H_NEARFIELD]
        nearfield.nearfield_table_fill(settings[S_HEAD_RADIUS], settings[S_SPEED_OF_SOUND], theta[0],
                                       f64[nf:nf + nearfield.TABLE_LEN])
        # element loops, not slice assignment: numba's array copy may allocate a temporary
        th = i64[L.H_THETA]
        for j in range(theta.shape[0]):
            f64[th + j] = theta[j]
        d = i64[L.H_DIMS]
        for j in range(dims.shape[0]):
            i64[d + j] = dims[j]
        pp = i64[L.H_IBC_PREP]
        prep = f32[pp:pp + i64[L.H_IBC_PREP_LEN]]
        ibc_prepare(theta, dims, grid, prep)
        window = f64[i64[L.H_IR_WINDOW]:i64[L.H_IR_WINDOW] + N_FFT]
        ir_window_fill(HOP, i64[L.H_DELAY], window)
        pins = f64[i64[L.H_LF_PINS]:i64[L.H_LF_PINS] + lf_pins_len(N_FFT)]
        lf_pins_fill(sr, i64[L.H_DELAY], window, pins)
        # the evaluation scratch, output and work regions serve the set-up, then start clean
        scratch = f64[i64[L.H_SCRATCH]:i64[L.H_SCRATCH] + i64[L.H_SCRATCH_LEN]]
        out = f64[i64[L.H_IBC_OUT]:i64[L.H_IBC_OUT] + 4 * k]
        work = f64[i64[L.H_WORK]:i64[L.H_WORK] + 2 * N_FFT]
        shaping = (i64[i64[L.H_BIN_IDX]:i64[L.H_BIN_IDX] + nbins],
                   f64[i64[L.H_BIN_W]:i64[L.H_BIN_W] + nbins], blend,
                   2.0 * math.pi * i64[L.H_DELAY] / N_FFT, window, pins, cos, sin,
                   i64[i64[L.H_BITREV]:i64[L.H_BITREV] + N_FFT], work[:N_FFT], work[N_FFT:])
        eq = f64[i64[L.H_EQ]:i64[L.H_EQ] + 4 * nbins]
        if settings[S_EQUALIZATION] == 1.0:
            er = i64[L.H_EQ_RINGS]
            eq_counts = i64[er:er + EQ_RINGS]
            table_rings_fill(DIFFUSE_FIELD_STEP_DEGREES, eq_counts, i64[er + EQ_RINGS:er + 2 * EQ_RINGS])
            power = f64[i64[L.H_MIX_DELTA]:i64[L.H_MIX_DELTA] + 2 * nbins]
            diffuse_field_table_eq(theta, dims, prep, eq_counts, shaping, scratch, out,
                                   f32[i64[L.H_GAIN_SCRATCH]:i64[L.H_GAIN_SCRATCH] + 4 * nbins], power, eq)
            power[:] = 0.0
        n_rings = i64[L.H_TABLE_RINGS]
        if n_rings > 0:
            tc = i64[L.H_TABLE_COUNTS]
            counts = i64[tc:tc + n_rings]
            offsets = i64[tc + n_rings:tc + 2 * n_rings]
            nodes = table_rings_fill(settings[S_TABLE_STEP], counts, offsets)
            n_rho = i64[L.H_TABLE_NRHO]
            tb = i64[L.H_IBC_TABLE]
            build_table(theta, dims, prep, counts, offsets, n_rho, shaping, eq,
                        f32[tb:tb + nodes * n_rho * 4 * nbins], scratch, out)
        if i64[L.H_FULL_SOURCES] > 0:  # the level of detail's decoding filters (lod.py)
            delay = bed_delay(settings[S_HEAD_RADIUS], settings[S_SPEED_OF_SOUND], sr)
            f64[c + L.C_BED_DELAY] = delay
            lf = i64[L.H_LOD_FILTERS]
            lc = i64[L.H_LOD_COEF]
            lod_design(theta, dims, prep, shaping, eq, settings[S_HEAD_RADIUS], settings[S_SPEED_OF_SOUND],
                       sr, delay, f32[lc:lc + 16], f32[i64[L.H_GAIN_SCRATCH]:i64[L.H_GAIN_SCRATCH] + 4 * nbins],
                       scratch, out, f32[lf:lf + nbins * LANES * FILTER_STRIDE])
            f32[lc:lc + 16] = 0.0
        scratch[:] = 0.0
        out[:] = 0.0
        work[:] = 0.0
    _parts_fill(i64, k)
    _chunks_fill(i64)
    g = i64[L.H_GLOBAL]
    i64[g + L.G_STAGE_FILL] = N_FFT - i64[L.H_HOP]
    i64[g + L.G_FIFO_COUNT] = i64[L.H_HOP]  # primed with one hop of silence: any frame count works


@njit(cache=True)
def _parts_fill(i64, k):
    """The participants' scratch offsets (H_PART): the audio thread's are the regions
    themselves, each worker's a slice of H_PART_*."""
    pt = i64[L.H_PART]
    i64[pt + L.PT_TDW_OUT] = i64[L.H_TDW_OUT]
    i64[pt + L.PT_TDW_IDX] = i64[L.H_TDW_IDX]
    i64[pt + L.PT_LOD_COEF] = i64[L.H_LOD_COEF]
    i64[pt + L.PT_GAIN_SCRATCH] = i64[L.H_GAIN_SCRATCH]
    i64[pt + L.PT_SCRATCH] = i64[L.H_SCRATCH]
    i64[pt + L.PT_IBC_OUT] = i64[L.H_IBC_OUT]
    i64[pt + L.PT_WORK] = i64[L.H_WORK]
    mb = i64[L.H_MAX_BLOCK]
    nbins = N_FFT // 2 + 1
    p64, p32, pi = _part_sizes(mb, i64[L.H_SCRATCH_LEN], k)
    for w in range(1, i64[L.H_PARTICIPANTS]):
        row = pt + w * L.PT_STRIDE
        b64 = i64[L.H_PART_F64] + (w - 1) * p64
        i64[row + L.PT_SCRATCH] = b64
        i64[row + L.PT_IBC_OUT] = b64 + _pad(i64[L.H_SCRATCH_LEN], 8)
        i64[row + L.PT_WORK] = b64 + _pad(i64[L.H_SCRATCH_LEN], 8) + _pad(4 * k, 8)
        b32 = i64[L.H_PART_F32] + (w - 1) * p32
        i64[row + L.PT_TDW_OUT] = b32
        i64[row + L.PT_LOD_COEF] = b32 + _pad(2 * mb, 16)
        i64[row + L.PT_GAIN_SCRATCH] = b32 + _pad(2 * mb, 16) + 6 * LANES
        i64[row + L.PT_TDW_IDX] = i64[L.H_PART_I64] + (w - 1) * pi


@njit(cache=True)
def _chunks_fill(i64):
    """Each chunk's slots (consecutive, as even as they divide) and its accumulators."""
    s = i64[L.H_SLOTS]
    n = i64[L.H_N_CHUNKS]
    a_bed, a_stage, a_rev = _chunk_acc_sizes(i64[L.H_MAX_BLOCK], i64[L.H_FULL_SOURCES] > 0,
                                             i64[L.H_IBC_ENABLED] != 0)
    for c in range(n):
        row = i64[L.H_CHUNKS] + c * L.CK_STRIDE
        i64[row + L.CK_FIRST] = c * s // n
        i64[row + L.CK_END] = (c + 1) * s // n
        if c > 0:
            base = i64[L.H_CHUNK_ACC] + (c - 1) * (a_bed + a_stage + a_rev)
            i64[row + L.CK_BED] = base
            i64[row + L.CK_STAGE] = base + a_bed
            i64[row + L.CK_REVERB] = base + a_bed + a_stage


# check_model results: 0 = usable; each other code names the first rule broken
MODEL_OK = 0
MODEL_BAD_DIMS = 1        # n_dir/n_freq/H/L outside LIMITS, unknown activation, n_out != 4
MODEL_TOO_LARGE = 2       # dims imply more than MAX_PARAMS parameters
MODEL_THETA_LENGTH = 3    # theta's length is not what dims imply
MODEL_THETA_VALUES = 4    # NaN/Inf or |value| > 1e6 in theta
MODEL_HEADER = 5          # r_ref <= 0, rho_min > rho_max or f_scale <= 0
MODEL_GRID = 6            # grid not 2..MAX_GRID finite, >= 0, strictly increasing, <= 1e6 Hz
MODEL_HEAD_RADIUS = 7     # head radius outside 0.03..0.2 m
MODEL_CHECK_TEXT = (
    "usable",
    "dims out of range (n_dir, n_freq, H <= 1024, L <= 16, activation 0..2, n_out 4)",
    "dims imply too many parameters",
    "theta length is not what dims need",
    "theta contains NaN/Inf or magnitudes > 1e6",
    "bad header constants (r_ref > 0, rho_min <= rho_max, f_scale > 0)",
    "grid_hz must be 2..4096 finite points, >= 0, strictly increasing, <= 1e6 Hz",
    "head radius outside 0.03..0.2 m",
)
MAX_PARAMS = 1_000_000    # loader bound (the shipped design target is <= 50,000)
MAX_GRID = 4096
DIM_LIMITS = (1024, 1024, 1024, 16)   # n_dir, n_freq, H, L
DIM_LOWER = (0, 0, 1, 0)
HEAD_RADIUS_MIN = 0.03
HEAD_RADIUS_MAX = 0.2


@njit(cache=True)
def check_model(theta, dims, grid, head_radius):
    """The model's values against what the engine can run safely (model files are
    untrusted); returns ``MODEL_OK`` or the first ``MODEL_*`` code broken. ``dims`` must
    have ``ibc.DIMS_LEN`` elements (the file formats check that before calling). The one
    implementation of these rules: the .npz loader (:mod:`spatialmw.model`), the asset
    reader (:mod:`spatialmw.asset`) and the C library all call it."""
    code = check_model_arrays(theta, dims, grid)
    if code == MODEL_OK and not HEAD_RADIUS_MIN <= head_radius <= HEAD_RADIUS_MAX:
        return MODEL_HEAD_RADIUS
    return code


@njit(cache=True)
def check_model_arrays(theta, dims, grid):
    """:func:`check_model` without the head radius."""
    for i in range(4):
        if not DIM_LOWER[i] <= dims[i] <= DIM_LIMITS[i]:
            return MODEL_BAD_DIMS
    if not 0 <= dims[ibc_mod.D_ACT] <= 2 or dims[ibc_mod.D_NOUT] != ibc_mod.N_OUT:
        return MODEL_BAD_DIMS
    total = ibc_mod.ibc_layout(dims)[8]
    if total > MAX_PARAMS:
        return MODEL_TOO_LARGE
    if theta.shape[0] != total:
        return MODEL_THETA_LENGTH
    for v in theta:
        if not abs(v) <= 1e6:
            return MODEL_THETA_VALUES
    if not (theta[0] > 0.0 and theta[1] <= theta[2] and theta[3] > 0.0):
        return MODEL_HEADER
    n = grid.shape[0]
    if not 2 <= n <= MAX_GRID or not (0.0 <= grid[0] and grid[n - 1] <= 1e6):
        return MODEL_GRID
    for j in range(n):
        if not math.isfinite(grid[j]) or (j > 0 and not grid[j] > grid[j - 1]):
            return MODEL_GRID
    return MODEL_OK
