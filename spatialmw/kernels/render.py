"""The block renderer: TDW per source, corrector by overlap-save convolution, one inverse per hop.

Everything here runs on the audio thread (through the @cfunc wrappers in ``cabi.py``, or
directly from the Python :class:`spatialmw.engine.Engine`): the functions only read and
write the three pools, whose regions are found through the int64 header (``layout.py``).

Per block of ``frames``:
  1. each playing source: pose (its position moved on to the block's end with its velocity:
     :mod:`.motion`) -> per-ear delay/gain targets; the warp ramps to them across
     the block and stores the result in the source's lane of the staging (corrector off:
     adds it into one shared stereo staging). If the direction moved more than the update
     threshold, the source gets a new corrector target: shaped per-bin gains
     (:mod:`.corrector`) read from the direction table (:mod:`.ibc_table`; a source at rest
     gets an exact network evaluation instead, within the block's budgets), stamped with
     the sample clock of the block's end, where the warp reaches the same pose.
  2. for every H new staged samples (one hop): each source's frame of the newest N samples
     is transformed, LANES sources at a time (lane-major float32, one complex FFT of
     left + j right per source, :mod:`.lanes`), split into the two half spectra,
     multiplied by the source's gains and summed into the spectral mix (corrector off: one
     FFT of the shared staging). One inverse FFT of (mix_left + j mix_right) per hop gives
     both ears; its last H samples are the hop's output (overlap-save). Because every gain's
     impulse response fits N - H + 1 taps, that output is the exact linear convolution of
     the input with one filter: a static source is time-invariant. A source's gains for a
     hop are interpolated between its previous and current target at the hop's last
     sample, so the corrector's cues and the warp describe the same pose at the same sample;
     when any gains changed since the previous hop, a second inverse transform of the
     change (previous minus current gains, changing sources only) crossfades the output
     sample by sample from the previous hop's filters to this hop's, so a moving source's
     filter changes without hop-rate edges.
  3. copy ``frames`` from the output FIFO (primed with one hop) into the interleaved output.

Step 1 runs in two passes. The control pass (:func:`_control_source`, serial, round robin
from the budgets' position) does everything that depends on the other sources: lanes,
budgets, the virtual-voice and tier decisions, motion; each source's decisions go into its
H_SRC_BLOCK row. The per-source pass (:func:`_dsp_source`: bed, warp, spread, reverb send,
corrector target) then runs as chunks of consecutive slots (H_CHUNKS, at most
plan.WORK_CHUNKS), which touch only their own sources, lanes, accumulators (chunk 0: the
shared regions; the others: H_CHUNK_ACC, added in chunk order by :func:`_reduce_chunks`)
and their caller's scratch (H_PART), so the C library's worker threads may run them
(``bindings/shim.c``) and the output is the same whoever does. :func:`render_core` runs all
three phases on one thread; :func:`render_begin_core`, :func:`render_chunk_core` and
:func:`render_end_core` are the phases for the shim.

Staging and gains are lane-major per batch of LANES lanes (lane p is lane p % LANES of
batch p // LANES: :func:`_lane_stage_base`, :func:`_lane_gain_base`), so the transform, the
gain interpolation and the gain multiply are LANES-wide vector operations with no
transposes; the warp pays one strided store per sample instead. A source holds a lane only
while it is rendered (not a silent virtual voice): lanes are handed out lowest first
(:func:`_take_lane`), so the audible sources of a scene with many virtual ones share few
batches, and a batch with no playing lane costs no transform.
"""
import math

import numpy as np
from numba import njit, uint64

from ..geometry import distance_gain, rotate_inverse, tdw_ear_targets
from .fpu import enter_flush_to_zero, leave_flush_to_zero
from .fft import fft_lanes_load, fft_lanes_passes, fft_load_forward
from .corrector import corrector_gains, cut_to_window_support, delay_gains, lf_pins_len
from .ibc import ibc_evaluate
from .ibc_table import lookup_table
from .motion import (MAX_SPEED_FRACTION, clamp_speed, extrapolate, heard_step, propagation_step, rest_track,
                     rest_turn, retarded_delay, start_track, track_pose, track_started)
from .lanes import LANES, lanes_copy, prefetch, prefetch_write, lanes_row_sums, lanes_split_gain_add, lanes_split_ramp_add
from .layout import (
    CNT_GAINS, CNT_SKIPPED, COUNT_STRIDE, GAINS_RAMPING, CTL_DISTANCE_MODEL, CTL_FLAGS, CTL_STATE, CTL_STATUS, CTL_STRIDE,
    C_COS_REEVAL, C_EVALS_PER_512, C_HEAD_RADIUS, C_DISTANCE_RATIO_REEVAL, C_LOOKUPS_PER_512,
    C_SPEED_OF_SOUND, FLAG_BYPASS, FLAG_DOPPLER, FLAG_PAUSED, G_CLOCK, G_FIFO_COUNT,
    G_FIFO_READ, G_IBC_BUDGET, G_IBC_NEXT, G_LOOKUP_BUDGET, G_STAGE_FILL, H_BATCHES, H_BIN_IDX,
    H_BIN_W, H_BITREV, H_CONST, H_DIMS, H_DIMS_LEN, H_FIFO, H_FIFO_LEN, H_GCUR, H_GLOBAL,
    H_GRID_K, H_GTGT, H_HOP, H_IBC_ENABLED, H_IBC_PREP, H_IBC_PREP_LEN, H_IBC_TABLE,
    H_LANE_RAMP, H_LANE_MIX, H_LANE_WORK, H_LISTENER, H_MAX_BLOCK, H_MAX_DELAY, H_SLOTS,
    H_MIX, H_NFFT, H_MIX_DELTA, H_RING, H_RING_LEN, H_SAMPLE_RATE, H_SCRATCH_LEN, H_SINC,
    H_SRC_COUNT, H_SRC_CTL, H_SRC_PARAM, H_SRC_POSE, H_SRC_STATE, H_STAGE, H_STAGE_LEN,
    H_TABLES32, H_TABLE_COUNTS, H_TABLE_NRHO, H_TABLE_RINGS, H_THETA,
    H_THETA_LEN, H_TWID_COS, H_TWID_SIN, H_WORK, PARAM_STRIDE, POSE_STRIDE,
    STATE_INACTIVE, STATE_PLAYING, STATE_RESTART, STATE_STOP, STATE_RECYCLE, STATE_STRIDE, STATUS_NONFINITE, STATUS_PAUSED,
    STATUS_PLAYING, STATUS_UNDERRUN, CNT_PAUSE_OFFSET,
    WRITE_BAD_SLOT, WRITE_FULL, WRITE_NONFINITE, WRITE_OK, H_LF_BLEND, H_EQ,
    H_IR_WINDOW, H_LF_PINS, H_DELAY, H_LISTENER_TRACK, H_LANE_MIX_DELTA, FLAG_VELOCITY, L_VEL, L_VEL_SET,
    LT_AT_END, LT_AT_START, LT_TRACK, LT_TURN, P_GAIN, P_MAX_DISTANCE, P_MIN_DISTANCE,
    P_ROLLOFF, P_TELEPORTS, P_VEL, P_CONE_INNER, P_CONE_OUTER, P_CONE_OUTER_GAIN,
    P_CONE_OUTER_HF, P_TRANSMISSION, P_AIR_ABSORPTION, H_TONE_BANDS, H_AIR_ALPHA, H_TONE, ST_TONE, ST_TURN, ST_SEND, P_REVERB_SEND, H_REVERB,
    H_REVERB_LINES, H_REVERB_PRE, H_REVERB_IN, L_REVERB, H_NEARFIELD, H_SPREAD, H_SPREAD_LEN, P_SPREAD, P_AZIMUTH_OFFSET,
    ST_PAUSED, ST_SPREAD_W, ST_SPREAD_POS, ST_SPREAD_K, ST_SPREAD_TAIL, ST_OFFSET, ST_PROP, ST_TELEPORTS_SEEN, ST_TRACK, ST_DELAY_L, ST_DELAY_R, ST_GAIN_L, ST_GAIN_R, ST_UX,
    ST_UY, ST_UZ, ST_DIST, ST_EVALUATED, ST_UNIT_GAINS, ST_EXACT, ST_T_PREV, ST_T_TGT,
    H_LANE_OF, H_LANE_SLOT, ST_SILENT, ST_VOICE, STATUS_VIRTUAL, VIRTUAL_HYSTERESIS, VIRTUAL_THRESHOLD, VOICE_AUDIBLE,
    VOICE_SILENT, VOICE_TAIL, H_FULL_SOURCES, H_LOD_STAGE, H_LOD_FILTERS, ST_TIER, ST_LEVEL, ST_BED_ON,
    ST_BED_DELAY, ST_BED, STATUS_LOD, C_BED_DELAY, G_BED_QUIET, G_FRAMES, ST_HEARD,
    H_SRC_BLOCK, H_PART, H_CHUNKS, H_N_CHUNKS, PT_STRIDE, PT_TDW_OUT, PT_TDW_IDX, PT_LOD_COEF,
    PT_GAIN_SCRATCH, PT_SCRATCH, PT_IBC_OUT, PT_WORK, CK_STRIDE, CK_FIRST, CK_END, CK_TOUCHED, CK_BED,
    CK_STAGE, CK_REVERB, TOUCH_BED, TOUCH_STAGE, TOUCH_REVERB, BK_STRIDE, H_SRC_KIND, BK_BED, BK_FRESH,
    BK_TELEPORT, BK_REL, BK_DIST, BK_CONE, BK_TONE, BK_D_BED, BK_G_BED, BK_DL, BK_DR, BK_GL, BK_GR,
    BK_TARGET, BK_RETONE, BK_RESTART, BK_SILENCED, BK_U, BK_NONE, BK_BED_ONLY, BK_FULL, TARGET_NONE, TARGET_UNIT,
    TARGET_TABLE, TARGET_EXACT, H_SRC_NAP, G_BLOCKS, NAP_BLOCKS, NAP_BLOCKS_LONGEST, NAP_BLOCKS_QUIET, NAP_MARGIN,
)
from .tdw import SINC_LOOKAHEAD, SINC_PHASES, SINC_TAPS, lagrange_block, tdw_block_stereo_idx
from . import nearfield, reverb, spread
from .lod import CHANNELS, lod_decode, lod_encode, lod_rank, sh_fill
from .tone import TONE_TABLE_ROWS, AIR_REFERENCE_HZ, apply_tone, set_flat_tone, cone_weight, tone_changed, tone_is_flat, tone_response

MIN_DELAY = float(SINC_LOOKAHEAD)
MAX_SAMPLE = 1.0e6
STEREO_SCALE = 0.5   # each channel of a stereo source enters its voice at half amplitude (write_stereo_core)
# what _voice tells the warp to do with this block
RENDER = 0     # audible: warp as usual
FADE_OUT = 1   # just turned inaudible: warp to zero gain across the block, then go virtual
RESUME = 2     # audible again: start like a fresh source, faded in across the block
VIRTUAL = 3    # inaudible: no warp


@njit(cache=True)
def write_core(f64, f32, i64, slot, samples, frames):
    """Append ``frames`` mono samples to a source's delay line (audio thread), with
    flush-to-zero for its duration (:mod:`.fpu`). Returns a WRITE_* code."""
    saved = enter_flush_to_zero()
    rc = _write(f64, f32, i64, slot, samples, frames)
    leave_flush_to_zero(saved)
    return rc


@njit(cache=True)
def write_stereo_core(f64, f32, i64, slot_l, slot_r, samples, frames):
    """Append ``frames`` interleaved (L, R) frames to the two voices of a stereo source
    (audio thread): the left channel to ``slot_l``, the right to ``slot_r``, each at half
    amplitude, so that identical channels at width 0 render exactly as a mono source of
    that signal (the downmix (L + R) / 2). Both or neither: a block that does not fit
    either voice is rejected whole (WRITE_FULL), and a non-finite sample in either channel
    mutes both (WRITE_NONFINITE), so the voices' streams never drift apart. Returns a
    WRITE_* code."""
    saved = enter_flush_to_zero()
    rc = _room(f64, f32, i64, slot_l, frames)
    if rc == WRITE_OK:
        rc = _room(f64, f32, i64, slot_r, frames)
    if rc == WRITE_OK:
        finite = _queue(f64, f32, i64, slot_l, samples, 0, 2, frames, STEREO_SCALE)
        finite &= _queue(f64, f32, i64, slot_r, samples, 1, 2, frames, STEREO_SCALE)
        if not finite:
            _mute(f32, i64, slot_l, frames)
            _mute(f32, i64, slot_r, frames)
            rc = WRITE_NONFINITE
    leave_flush_to_zero(saved)
    return rc


@njit(cache=True, inline="always")
def skip_core(f64, f32, i64, slot_l, slot_r, frames):
    """Advance a source's stream (``slot_r`` >= 0: a stereo source's two voices) by
    ``frames`` of silence without storing anything (audio thread): what a game calls
    instead of a write for a virtual voice whose audio it does not decode
    (:func:`source_is_virtual`). The delay line's skipped part is zeroed only if a block
    reads it (:func:`_settle_skipped`), so a skip costs no memory traffic. Both or
    neither, as a stereo write. Returns WRITE_OK, WRITE_BAD_SLOT or WRITE_FULL."""
    rc = _room(f64, f32, i64, slot_l, frames)
    if rc == WRITE_OK and slot_r >= 0:
        rc = _room(f64, f32, i64, slot_r, frames)
    if rc == WRITE_OK:
        _skip(f64, i64, slot_l, frames)
        if slot_r >= 0:
            _skip(f64, i64, slot_r, frames)
    return rc


@njit(cache=True, inline="always")
def source_is_virtual(f64, i64, slot):
    """1 if slot ``slot``'s last block left it a virtual voice, rendered on no path (its
    next block reads none of its delay line unless its level rises), else 0; the game may
    then skip its audio (:func:`skip_core`) instead of decoding and writing it. A source
    that comes back plays what was written from then on, at its delay."""
    if slot < 0 or slot >= i64[H_SLOTS]:
        return 0
    # A nap is cleared by any change of the source's state or flags (the front ends'
    # setters, _napping, _clear_slot), so a napping source is playing and not paused: its
    # answer comes from the dense nap array alone, not its control line (a game that skips
    # a thousand virtual voices asks about each one every block).
    if i64[i64[H_SRC_NAP] + slot] > 0:
        return 1
    ctl = i64[H_SRC_CTL] + slot * CTL_STRIDE
    if i64[ctl + CTL_STATE] != STATE_PLAYING or i64[ctl + CTL_FLAGS] & FLAG_PAUSED:  # (a paused source's queue waits)
        return 0
    return 1 if _left_virtual(f64, i64[H_SRC_STATE] + slot * STATE_STRIDE) else 0


@njit(cache=True, inline="always")
def _left_virtual(f64, st):
    """Whether the last block left the playing source whose state starts at ``st`` on no
    path (neither audible nor in the bed)."""
    return f64[st + ST_VOICE] != VOICE_AUDIBLE and f64[st + ST_BED_ON] == 0.0


@njit(cache=True)
def _write(f64, f32, i64, slot, samples, frames):
    """:func:`write_core` without the FPU control.

    Non-finite input, or samples beyond +-MAX_SAMPLE (1e6: no real signal, but enough to
    overflow the shared float32 mix and silence every other source), mutes the whole
    block (written as silence) and sets the status bit. Samples queue on the source's
    stream clock, which stands still while it is paused: up to max_block frames can wait
    ahead of it, then WRITE_FULL."""
    rc = _room(f64, f32, i64, slot, frames)
    if rc != WRITE_OK:
        return rc
    if _queue(f64, f32, i64, slot, samples, 0, 1, frames, 1.0):
        return WRITE_OK
    _mute(f32, i64, slot, frames)
    return WRITE_NONFINITE


@njit(cache=True, inline="always")
def _room(f64, f32, i64, slot, frames):
    """WRITE_OK when ``frames`` more fit the slot's queue, else WRITE_BAD_SLOT or
    WRITE_FULL. A recycled slot (STATE_RECYCLE) is started first: the queue is the new
    source's."""
    if slot < 0 or slot >= i64[H_SLOTS]:
        return WRITE_BAD_SLOT
    ctl = i64[H_SRC_CTL] + slot * CTL_STRIDE
    if i64[ctl + CTL_STATE] == STATE_RECYCLE:
        _clear_slot(f64, f32, i64, slot, i64[H_NFFT] // 2 + 1)
        i64[ctl + CTL_STATE] = STATE_RESTART
    clock = _stream_clock(f64, i64, slot)
    written = max(i64[i64[H_SRC_COUNT] + slot * COUNT_STRIDE], clock)
    if frames < 0 or written - clock + frames > i64[H_MAX_BLOCK]:
        return WRITE_FULL
    return WRITE_OK


@njit(cache=True, inline="always")
def _stream_clock(f64, i64, slot):
    """The slot's stream clock: the renderer's, less the frames the source spent paused
    (the clock its queue and delay line run on)."""
    return i64[i64[H_GLOBAL] + G_CLOCK] - i64[i64[H_SRC_COUNT] + slot * COUNT_STRIDE + CNT_PAUSE_OFFSET]


@njit(cache=True, boundscheck=False)
def _zero_ring(f32, i64, slot, t0, t1):
    """Zero stream samples [t0, t1) of the slot's delay line (t1 - t0 <= its length)."""
    ring_len = i64[H_RING_LEN]
    base = i64[H_RING] + slot * ring_len
    start = t0 & (ring_len - 1)
    head_n = min(t1 - t0, ring_len - start)
    f32[base + start: base + start + head_n] = 0.0
    f32[base: base + (t1 - t0) - head_n] = 0.0


@njit(cache=True)
def _mute(f32, i64, slot, frames):
    """The slot's last ``frames`` queued samples made silence, and the status bit set: a
    write that held a non-finite or out-of-range sample."""
    end = i64[i64[H_SRC_COUNT] + slot * COUNT_STRIDE]
    _zero_ring(f32, i64, slot, end - frames, end)
    i64[i64[H_SRC_CTL] + slot * CTL_STRIDE + CTL_STATUS] |= STATUS_NONFINITE


@njit(cache=True, inline="always")
def _skip(f64, i64, slot, frames):
    """Advance the slot's queue by ``frames`` after :func:`_room` said they fit, leaving
    them to :func:`_settle_skipped` (the skipped range always ends at the queue's end: a
    write settles it first)."""
    cnt = i64[H_SRC_COUNT] + slot * COUNT_STRIDE
    written = max(i64[cnt], _stream_clock(f64, i64, slot))
    i64[cnt + CNT_SKIPPED] += written - i64[cnt] + frames
    i64[cnt] = written + frames


@njit(cache=True)
def _settle_skipped(f32, i64, slot):
    """Zero the part of the slot's delay line that skips left stale (what a block or a
    write is about to reach): at most the line's length, once."""
    cnt = i64[H_SRC_COUNT] + slot * COUNT_STRIDE
    pending = i64[cnt + CNT_SKIPPED]
    if pending > 0:
        end = i64[cnt]
        _zero_ring(f32, i64, slot, end - min(pending, i64[H_RING_LEN]), end)
        i64[cnt + CNT_SKIPPED] = 0


@njit(cache=True)
def _queue(f64, f32, i64, slot, samples, first, stride, frames, scale):
    """Append ``scale * samples[first + i * stride]`` (i < frames) to the slot's delay line
    after :func:`_room` said they fit. Returns whether every sample was finite and within
    +-MAX_SAMPLE (checked in the same pass as the copy, whose stores wait on memory
    anyway); the caller mutes the block if not (:func:`_mute`)."""
    _settle_skipped(f32, i64, slot)
    ring_len = i64[H_RING_LEN]
    mask = ring_len - 1
    cnt = i64[H_SRC_COUNT] + slot * COUNT_STRIDE
    written = max(i64[cnt], _stream_clock(f64, i64, slot))
    base = i64[H_RING] + slot * ring_len
    # at most two contiguous runs: up to the ring's end, then from its start
    start = written & mask
    head_n = min(frames, ring_len - start)
    head = f32[base + start:base + start + head_n]
    tail = f32[base:base + frames - head_n]
    for j in range(0, head_n, CACHE_LINE_FLOATS):
        prefetch_write(head, j)
    for j in range(0, frames - head_n, CACHE_LINE_FLOATS):
        prefetch_write(tail, j)
    bad = 0
    for i in range(head_n):
        v = samples[first + i * stride]
        head[i] = scale * v
        bad += 0 if abs(v) <= MAX_SAMPLE else 1  # an integer count, so the loop vectorises (also counts NaN)
    for i in range(frames - head_n):
        v = samples[first + (head_n + i) * stride]
        tail[i] = scale * v
        bad += 0 if abs(v) <= MAX_SAMPLE else 1
    i64[cnt] = written + frames
    # a game writes its sources one after another, most often in slot order and in step:
    # the next slot's next write most likely lands at the same place in its own ring
    if slot + 1 < i64[H_SLOTS]:
        nxt = base + ring_len
        for j in range(0, min(frames, ring_len - start), CACHE_LINE_FLOATS):
            prefetch_write(f32, nxt + start + j)
    return bad == 0


@njit(cache=True, inline="always")
def _lane_stage_base(i64, p):
    """Index of lane ``p``'s left-ear staging sample 0 (corrector on: lane-major, sample j
    at + j LANES, the right ear at + stage_len LANES)."""
    return i64[H_STAGE] + (p // LANES) * 2 * i64[H_STAGE_LEN] * LANES + p % LANES


@njit(cache=True, inline="always")
def _lane_gain_base(i64, region, p, nbins):
    """Index of lane ``p``'s gain for bin 0, left real part, in ``region`` (H_GCUR or
    H_GTGT): bin k, part c (left re, left im, right re, right im) at + (4 k + c) LANES."""
    return i64[region] + (p // LANES) * 4 * nbins * LANES + p % LANES


@njit(cache=True, inline="always")
def _lane(i64, s):
    """Source ``s``'s lane, or -1 while it has none (corrector on)."""
    return i64[i64[H_LANE_OF] + s] - 1


@njit(cache=True, inline="always")
def _part(i64, w, field):
    """Participant ``w``'s scratch offset ``field`` (layout.PT_*; 0 is the audio thread)."""
    return i64[i64[H_PART] + w * PT_STRIDE + field]


@njit(cache=True, inline="always")
def _stage_base(i64, s):
    """:func:`_lane_stage_base` of source ``s``'s lane (it must have one)."""
    return _lane_stage_base(i64, _lane(i64, s))


@njit(cache=True, inline="always")
def _gain_base(i64, region, s, nbins):
    """:func:`_lane_gain_base` of source ``s``'s lane (it must have one)."""
    return _lane_gain_base(i64, region, _lane(i64, s), nbins)


@njit(cache=True, inline="always")
def _lane_column(f32, i64, region, s, nbins):
    """Source ``s``'s 4 nbins gains in ``region`` (H_GCUR or H_GTGT) as a
    strided view indexed from 0 (its lane must exist)."""
    g = _gain_base(i64, region, s, nbins)
    return f32[g:g + (4 * nbins - 1) * LANES + 1:LANES]


@njit(cache=True, fastmath=True, boundscheck=False, inline="always")
def _copy(src, dst):
    """dst[j] = src[j] for every j of ``src`` (explicitly: a slice assignment between views
    of one pool checks for overlap at run time and may copy through a temporary)."""
    for j in range(src.shape[0]):
        dst[j] = src[j]


@njit(cache=True)
def _take_lane(i64, s):
    """Give source ``s`` the lowest free lane (all its staging is zeros; its gains are set
    at once by a restart). There are as many lanes as slots."""
    slots = i64[H_LANE_SLOT]
    for p in range(i64[H_BATCHES] * LANES):
        if i64[slots + p] == 0:
            i64[slots + p] = s + 1
            i64[i64[H_LANE_OF] + s] = p + 1
            return


@njit(cache=True)
def _drop_lane(f32, i64, s):
    """Silence source ``s``'s lane, if it has one, and free it."""
    p = _lane(i64, s)
    if p < 0:
        return
    _silence_lane(f32, i64, s, 0, i64[H_STAGE_LEN])
    i64[i64[H_LANE_SLOT] + p] = 0
    i64[i64[H_LANE_OF] + s] = 0


@njit(cache=True)
def _clear_slot(f64, f32, i64, s, nbins):
    ring_len = i64[H_RING_LEN]
    f32[i64[H_RING] + s * ring_len: i64[H_RING] + (s + 1) * ring_len] = 0.0
    if i64[H_IBC_ENABLED] != 0 and _lane(i64, s) >= 0:  # (corrector off: the shared staging keeps the others' audio)
        for region in (H_GCUR, H_GTGT):
            _lane_column(f32, i64, region, s, nbins)[:] = 0.0
        _drop_lane(f32, i64, s)
    f64[i64[H_SRC_STATE] + s * STATE_STRIDE: i64[H_SRC_STATE] + (s + 1) * STATE_STRIDE] = 0.0
    set_flat_tone(f64, i64[H_SRC_STATE] + s * STATE_STRIDE + ST_TONE)
    cnt = i64[H_SRC_COUNT] + s * COUNT_STRIDE
    i64[cnt] = i64[i64[H_GLOBAL] + G_CLOCK]
    i64[cnt + CNT_GAINS] = 0
    i64[cnt + CNT_SKIPPED] = 0
    i64[cnt + CNT_PAUSE_OFFSET] = 0
    i64[i64[H_SRC_NAP] + s] = 0


@njit(cache=True, boundscheck=False)
def shape_gains(f64, i64, grid_out, gains, w=0):
    """:func:`~spatialmw.kernels.corrector.corrector_gains` with this engine's bins, blend,
    equaliser, modelling delay and window (float64 scratch: participant ``w``'s work buffer;
    the audio thread's is the hop's, free while sources are warped)."""
    work = _part(i64, w, PT_WORK)
    n = i64[H_NFFT]
    nbins = n // 2 + 1
    corrector_gains(grid_out, i64[i64[H_BIN_IDX]: i64[H_BIN_IDX] + nbins],
                    f64[i64[H_BIN_W]: i64[H_BIN_W] + nbins],
                    f64[i64[H_LF_BLEND]: i64[H_LF_BLEND] + nbins],
                    f64[i64[H_EQ]: i64[H_EQ] + 4 * nbins], 2.0 * math.pi * i64[H_DELAY] / n,
                    f64[i64[H_IR_WINDOW]: i64[H_IR_WINDOW] + n],
                    f64[i64[H_LF_PINS]: i64[H_LF_PINS] + lf_pins_len(n)],
                    f64[i64[H_TWID_COS]: i64[H_TWID_COS] + n], f64[i64[H_TWID_SIN]: i64[H_TWID_SIN] + n],
                    i64[i64[H_BITREV]: i64[H_BITREV] + n], f64[work: work + n],
                    f64[work + n: work + 2 * n], gains)


@njit(cache=True, fastmath=True, boundscheck=False)
def _ibc_targets(f64, f32, i64, s, ux, uy, uz, dist, nbins, exact, restart, t_now, w=0):
    """Source ``s``'s new corrector target for one pose: the network's output (``exact``),
    shaped to per-bin gains (participant ``w``'s scratch), or the direction table's,
    interpolated straight into the source's target column (a moving source takes one
    every block or two)."""
    if exact:
        g = f32[_part(i64, w, PT_GAIN_SCRATCH): _part(i64, w, PT_GAIN_SCRATCH) + 4 * nbins]
        k_grid = i64[H_GRID_K]
        theta = f64[i64[H_THETA]: i64[H_THETA] + i64[H_THETA_LEN]]
        dims = i64[i64[H_DIMS]: i64[H_DIMS] + i64[H_DIMS_LEN]]
        prep = f32[i64[H_IBC_PREP]: i64[H_IBC_PREP] + i64[H_IBC_PREP_LEN]]
        scratch = f64[_part(i64, w, PT_SCRATCH): _part(i64, w, PT_SCRATCH) + i64[H_SCRATCH_LEN]]
        out = f64[_part(i64, w, PT_IBC_OUT): _part(i64, w, PT_IBC_OUT) + 4 * k_grid]
        ibc_evaluate(theta, dims, prep, ux, uy, uz, dist, scratch, out)
        shape_gains(f64, i64, out, g, w)
        _set_target(f64, f32, i64, s, nbins, g, restart, t_now, w, True)
        return
    n_rings = i64[H_TABLE_RINGS]
    tc = i64[H_TABLE_COUNTS]
    counts = i64[tc:tc + n_rings]
    offsets = i64[tc + n_rings:tc + 2 * n_rings]
    n_rho = i64[H_TABLE_NRHO]
    nodes = offsets[n_rings - 1] + counts[n_rings - 1]
    table = f32[i64[H_IBC_TABLE]: i64[H_IBC_TABLE] + nodes * n_rho * 4 * nbins]
    theta = f64[i64[H_THETA]: i64[H_THETA] + i64[H_THETA_LEN]]
    lookup_table(table, counts, offsets, n_rho, 4 * nbins, theta, ux, uy, uz, dist, f32,
                 _gain_base(i64, H_GTGT, s, nbins), LANES)
    _apply_source_tone(f64, f32, i64, s, nbins, _lane_column(f32, i64, H_GTGT, s, nbins))
    _commit_target(f64, f32, i64, s, nbins, restart, t_now)


@njit(cache=True, boundscheck=False)
def _apply_source_tone(f64, f32, i64, s, nbins, gains):
    """Multiply ``gains`` (4 nbins, any stride) by source ``s``'s tone (ST_TONE,
    :mod:`.tone`); returns whether it is not flat (flat: nothing done)."""
    st = i64[H_SRC_STATE] + s * STATE_STRIDE
    if tone_is_flat(f64[st + ST_TONE], f64[st + ST_TONE + 1], f64[st + ST_TONE + 2], f64[st + ST_TONE + 3]):
        return False
    apply_tone(gains, f32[i64[H_TONE] + s * 2 * nbins: i64[H_TONE] + (s + 1) * 2 * nbins], nbins)
    return True


@njit(cache=True, boundscheck=False)
def _set_target(f64, f32, i64, s, nbins, g, restart, t_now, w, exact):
    """Make ``g`` (4 nbins) source ``s``'s gain target at sample clock ``t_now``, times the
    source's tone (ST_TONE, :mod:`.tone`). An ``exact`` target (the network's: a source at
    rest, or any source without a direction table) has its toned response cut to the
    window (:func:`_window_target`, participant ``w``'s scratch), so that a static source
    stays time-invariant; a table target (a moving source) is not cut: its filter changes
    every block anyway, and the cut's two transforms would double the cost of its
    lookup."""
    if _apply_source_tone(f64, f32, i64, s, nbins, g) and exact:
        _window_target(f64, i64, g, w)
    _copy(g, _lane_column(f32, i64, H_GTGT, s, nbins))
    _commit_target(f64, f32, i64, s, nbins, restart, t_now)


@njit(cache=True, boundscheck=False)
def _commit_target(f64, f32, i64, s, nbins, restart, t_now):
    """Source ``s``'s target column (H_GTGT), just written, becomes its target at sample
    clock ``t_now``. A (re)started source takes it at once; a playing one ramps to it from
    the gains it played last (H_GCUR), from the time those describe (ST_T_PREV; at most
    one block back, so a source that was at rest does not jump)."""
    st = i64[H_SRC_STATE] + s * STATE_STRIDE
    cnt = i64[H_SRC_COUNT] + s * COUNT_STRIDE
    if restart:
        _copy(_lane_column(f32, i64, H_GTGT, s, nbins), _lane_column(f32, i64, H_GCUR, s, nbins))
        f64[st + ST_T_PREV] = t_now
        f64[st + ST_T_TGT] = t_now
        i64[cnt + CNT_GAINS] = 0
    else:
        f64[st + ST_T_PREV] = max(f64[st + ST_T_PREV], t_now - i64[H_MAX_BLOCK])
        f64[st + ST_T_TGT] = t_now
        i64[cnt + CNT_GAINS] = GAINS_RAMPING


@njit(cache=True)
def _spread(f64, f32, i64, s, st, w, dst_l, dst_r, frames):
    """Source ``s``'s spread (:mod:`.spread`) on the block just warped into its lane: start,
    change, stop or ring out. A point source whose spread has rung out costs nothing."""
    w0 = f64[st + ST_SPREAD_W]
    tail = f64[st + ST_SPREAD_TAIL]
    if w0 == 0.0 and w == 0.0 and tail <= 0.0:
        return
    n = i64[H_SPREAD_LEN]
    ring = f32[i64[H_SPREAD] + s * 2 * spread.N_SECTIONS * n: i64[H_SPREAD] + (s + 1) * 2 * spread.N_SECTIONS * n]
    if w0 == 0.0 and tail <= 0.0:  # starting: an empty history, the input fades in
        ring[:] = 0.0
    k0 = f64[st + ST_SPREAD_K] if f64[st + ST_SPREAD_K] > 0.0 else spread.section_k(w)
    k1 = spread.section_k(w) if w > 0.0 else k0
    g0 = 1.0 if w0 > 0.0 else 0.0
    g1 = 1.0 if w > 0.0 else 0.0
    pos = int(f64[st + ST_SPREAD_POS])
    sr = float(i64[H_SAMPLE_RATE])
    spread.spread_block(f32, dst_l, LANES, frames, ring[:spread.N_SECTIONS * n], n, 0, pos, sr, k0, k1, g0, g1)
    spread.spread_block(f32, dst_r, LANES, frames, ring[spread.N_SECTIONS * n:], n, 1, pos, sr, k0, k1, g0, g1)
    f64[st + ST_SPREAD_W] = w
    f64[st + ST_SPREAD_K] = k1
    f64[st + ST_SPREAD_POS] = float(pos + frames)
    f64[st + ST_SPREAD_TAIL] = float(spread.TAIL_SAMPLES) if w > 0.0 else tail - frames


@njit(cache=True)
def _update_tone(f64, f32, i64, s, nbins, low, mid, high, air):
    """Make (low, mid, high, air) source ``s``'s tone: its values (ST_TONE) and response."""
    st = i64[H_SRC_STATE] + s * STATE_STRIDE
    f64[st + ST_TONE] = low
    f64[st + ST_TONE + 1] = mid
    f64[st + ST_TONE + 2] = high
    f64[st + ST_TONE + 3] = air
    if tone_is_flat(low, mid, high, air):
        return
    tone_response(f64[i64[H_TONE_BANDS]: i64[H_TONE_BANDS] + TONE_TABLE_ROWS * nbins],
                  f64[i64[H_AIR_ALPHA]: i64[H_AIR_ALPHA] + nbins], low, mid, high, air,
                  f32[i64[H_TONE] + s * 2 * nbins: i64[H_TONE] + (s + 1) * 2 * nbins])


@njit(cache=True, boundscheck=False)
def _unit_targets(f64, f32, i64, s, nbins, restart, t_now, w):
    """The bypass target: the modelling delay alone, so bypassed and corrected sources
    keep the same latency."""
    g = f32[_part(i64, w, PT_GAIN_SCRATCH): _part(i64, w, PT_GAIN_SCRATCH) + 4 * nbins]
    delay_gains(2.0 * math.pi * i64[H_DELAY] / i64[H_NFFT], nbins, g)
    _set_target(f64, f32, i64, s, nbins, g, restart, t_now, w, False)  # (the tone alone fits the frame)


@njit(cache=True, boundscheck=False)
def _window_target(f64, i64, g, w):
    """``g`` (4 nbins) cut to the support of the corrector's window
    (:func:`~spatialmw.kernels.corrector.cut_to_window_support`): the tone's response (about
    1 ms long) lengthens the corrector's, and the part beyond the frame would fold back into
    it and make a static source time-varying (participant ``w``'s scratch)."""
    work = _part(i64, w, PT_WORK)
    n = i64[H_NFFT]
    cut_to_window_support(f64[work: work + n], f64[work + n: work + 2 * n],
                          f64[i64[H_IR_WINDOW]: i64[H_IR_WINDOW] + n],
                          f64[i64[H_TWID_COS]: i64[H_TWID_COS] + n], f64[i64[H_TWID_SIN]: i64[H_TWID_SIN] + n],
                          i64[i64[H_BITREV]: i64[H_BITREV] + n], g)


@njit(cache=True, boundscheck=False)
def _silence_lane(f32, i64, s, start, count):
    """Zero staging samples [start, start + count) of source ``s``'s lane, both ears."""
    b = _stage_base(i64, s)
    r = b + i64[H_STAGE_LEN] * LANES
    for j in range(start * LANES, (start + count) * LANES, LANES):
        f32[b + j] = 0.0
        f32[r + j] = 0.0


@njit(cache=True, inline="always")
def _voice(f64, f32, i64, s, level, restart, fill, frames, use_ibc):
    """Source ``s``'s virtual-voice state for this block, from its ``level`` (gain x
    distance gain x cone x loudest transmission band, or its reverb send times the reverb's
    wet gain if that is louder; ``layout.VIRTUAL_THRESHOLD``, with
    VIRTUAL_HYSTERESIS to come back). Returns what the warp does: RENDER, FADE_OUT,
    RESUME or VIRTUAL.

    A virtual source's lane must hold silence wherever a hop can read it. After its
    fade-out block it stages zeros (VOICE_TAIL) until the whole staging has passed,
    then its lane is cleared and freed (VOICE_SILENT: no transform). A source that comes
    back from VOICE_SILENT takes a free lane and restarts (the corrector's gains set at
    once: nothing of it is in the window to crossfade from); from VOICE_TAIL it keeps its
    lane and its gains ramp as a moving source's."""
    st = i64[H_SRC_STATE] + s * STATE_STRIDE
    voice = f64[st + ST_VOICE]
    if voice == VOICE_AUDIBLE:
        if level >= VIRTUAL_THRESHOLD:
            return RENDER
        if not restart:
            f64[st + ST_VOICE] = VOICE_TAIL
            f64[st + ST_SILENT] = 0.0
            return FADE_OUT
        f64[st + ST_VOICE] = VOICE_SILENT  # starts inaudible: nothing to fade
        return VIRTUAL
    elif level >= VIRTUAL_THRESHOLD * VIRTUAL_HYSTERESIS:
        f64[st + ST_VOICE] = VOICE_AUDIBLE
        f64[st + ST_EVALUATED] = 0.0  # a corrector target now, whatever the budgets
        f64[st + ST_UNIT_GAINS] = 0.0
        return RESUME
    if voice == VOICE_TAIL:
        _pass_tail(f64, f32, i64, s, st, fill, frames, use_ibc)
    return VIRTUAL


@njit(cache=True)
def _pass_tail(f64, f32, i64, s, st, fill, frames, use_ibc):
    """A block of source ``s``'s tail (VOICE_TAIL: its fade-out is staged): its lane stages
    zeros until every staged sample of it is zero, then the lane is freed (VOICE_SILENT).
    Returns whether the tail goes on."""
    if use_ibc:
        _silence_lane(f32, i64, s, fill, frames)
        f64[st + ST_SILENT] += frames
        if f64[st + ST_SILENT] < i64[H_STAGE_LEN]:
            return True
        _drop_lane(f32, i64, s)
    # (corrector off: its fade-out is in the shared staging already)
    f64[st + ST_VOICE] = VOICE_SILENT
    return False


@njit(cache=True, inline="always")
def _turn(rel, degrees):
    """A listener-frame position turned by ``degrees`` about the listener's up axis (+z;
    positive towards +y, the listener's left). Distance and elevation are unchanged, so only
    the direction the ears and the corrector see moves; the propagation delay does not."""
    a = math.radians(degrees)
    c, s = math.cos(a), math.sin(a)
    return (c * rel[0] - s * rel[1], s * rel[0] + c * rel[1], rel[2])


@njit(cache=True, fastmath=True, boundscheck=False)
def _reverb_send(f64, f32, rin, st, par, cone, tone_m, tmp_l, tmp_r, frames):
    """What the room hears: the emitted level through the cone and the wall (broadband
    parts, no distance gain) times the mean of the warp's two reads ``tmp_l``/``tmp_r``
    (the bed's one read twice), ramped from the last block's send, added at ``f32[rin:]``.
    Returns TOUCH_REVERB if it added anything, else 0."""
    send = f64[par + P_REVERB_SEND] * f64[par + P_GAIN] * (1.0 + cone * (f64[par + P_CONE_OUTER_GAIN] - 1.0)) * tone_m
    if send != 0.0 or f64[st + ST_SEND] != 0.0:
        s0 = f64[st + ST_SEND]
        ds = (send - s0) / frames
        room = f32[rin:rin + frames]  # (indexed from 0 with a float count: the loop vectorises)
        k = 0.0
        for j in range(frames):
            k += 1.0
            room[j] += np.float32(0.5 * (s0 + ds * k)) * (tmp_l[j] + tmp_r[j])
        f64[st + ST_SEND] = send
        return TOUCH_REVERB
    return 0


@njit(cache=True, fastmath=True, boundscheck=False)
def _bed_coefs(f64, coef, st, g, start, frames):
    """coef (lod_encode's layout) = a ramp from each channel's ``start`` (0: silence,
    1: the source's ST_BED coefficients, 2: the target itself) to ``g`` x the harmonics
    held at coef[4 LANES:] (ACN), which become ST_BED."""
    for ch in range(CHANNELS):
        t = g * coef[4 * LANES + ch]
        p = 0.0 if start == 0 else (f64[st + ST_BED + ch] if start == 1 else t)
        j = (ch % 2) * LANES + ch // 2
        coef[j] = np.float32(p)
        coef[2 * LANES + j] = np.float32((t - p) / frames)
        f64[st + ST_BED + ch] = t


@njit(cache=True, fastmath=True, boundscheck=False)
def _bed_source(f64, f32, i64, s, st, ring, mask, sclock, frames, da, db, w, d_bed, g_bed, rel, dist,
                fresh, teleport):
    """Source ``s`` into the level of detail's bed (:mod:`.lod`) for this block: its line read
    once at ``d_bed`` and its coefficients (``g_bed`` x the harmonics of its direction
    ``rel``), each ramped from the last block's values (a source entering the bed starts at
    its delay, faded in unless it is new; a teleport crossfades the old read into the new),
    added into the bed accumulator at ``da`` (even channels) and ``db`` (odd), with
    participant ``w``'s scratch."""
    coef = f32[_part(i64, w, PT_LOD_COEF): _part(i64, w, PT_LOD_COEF) + 6 * LANES]
    if dist > 1e-6:
        sh_fill(rel[0] / dist, rel[1] / dist, rel[2] / dist, coef, 4 * LANES)
    else:
        sh_fill(1.0, 0.0, 0.0, coef, 4 * LANES)
    bed_on = f64[st + ST_BED_ON] != 0.0
    if not bed_on:
        f64[st + ST_BED_DELAY] = d_bed
    tmp = f32[_part(i64, w, PT_TDW_OUT): _part(i64, w, PT_TDW_OUT) + frames]
    d0 = f64[st + ST_BED_DELAY]
    if teleport and bed_on:  # the old read fades out, held still, while the new one fades in
        _bed_coefs(f64, coef, st, 0.0, 1, frames)
        lagrange_block(ring, mask, sclock, frames, d0, d0, tmp)
        lod_encode(f32, da, db, tmp, frames, coef)
        _bed_coefs(f64, coef, st, g_bed, 0, frames)
        d0 = d_bed
    else:
        _bed_coefs(f64, coef, st, g_bed, 1 if bed_on else (2 if fresh else 0), frames)
    lagrange_block(ring, mask, sclock, frames, d0, d_bed, tmp)
    lod_encode(f32, da, db, tmp, frames, coef)
    f64[st + ST_BED_DELAY] = d_bed
    f64[st + ST_BED_ON] = 1.0 if g_bed != 0.0 else 0.0


@njit(cache=True, inline="always")
def _levels(f64, par, dist_g, cone_g, tone_l, tone_m, tone_h, wet):
    """(level, heard) of the source whose parameters start at ``par``: its gain x the
    distance gain x the cone's gain x its loudest transmission band (``tone_h`` with the
    cone's high-band factor), and the louder of that and its reverb send (gain x cone x mid
    band x the reverb's ``wet`` gain). The room hears the emitted sound, with no distance
    gain: a far source may be inaudible dry yet loud in the reverb, and then it is neither
    virtual nor silent in the bed."""
    gain = f64[par + P_GAIN]
    level = gain * dist_g * cone_g * max(tone_l, tone_m, tone_h)
    return level, max(level, f64[par + P_REVERB_SEND] * gain * cone_g * tone_m * wet)


@njit(cache=True, fastmath=True)
def _control_source(f64, f32, i64, s, clock, frames, fill, nbins):
    """Step 1 for one source, the serial part (audio thread, round-robin order): its state,
    motion, level, voice, lane, tier and corrector-target decision (the block's budgets),
    written into its H_SRC_BLOCK row for :func:`_dsp_source`. Everything here that depends
    on other sources (lanes are handed out lowest first; budgets go round-robin) stays in
    this order, so the per-source work after it may run in any order, on any thread."""
    kind = i64[H_SRC_KIND] + s
    f64[kind] = BK_NONE
    ctl = i64[H_SRC_CTL] + s * CTL_STRIDE
    state = i64[ctl + CTL_STATE]
    if state == STATE_INACTIVE:
        return
    if state == STATE_RECYCLE:  # no write cleared the previous incarnation: do it now
        _clear_slot(f64, f32, i64, s, nbins)
        state = STATE_RESTART
        i64[ctl + CTL_STATE] = STATE_RESTART
    restart = state == STATE_RESTART
    cnt = i64[H_SRC_COUNT] + s * COUNT_STRIDE
    st = i64[H_SRC_STATE] + s * STATE_STRIDE
    # the delay line runs on the source's stream clock (stopped while paused); the motion
    # and the corrector's ramps stay on the renderer's clock
    sclock = clock - i64[cnt + CNT_PAUSE_OFFSET]
    use_ibc = i64[H_IBC_ENABLED] != 0
    if use_ibc and restart and _lane(i64, s) >= 0:
        _silence_lane(f32, i64, s, 0, fill)
    flags = i64[ctl + CTL_FLAGS]
    paused = (flags & FLAG_PAUSED) != 0
    stopping = state == STATE_STOP
    # a destroyed source that was heard last block, or a source paused since its last block,
    # fades out across this one, its stream time still running, as a voice turning virtual
    # does (no hard cut); then its stream time stops (paused) or, once its staged tail has
    # passed, its slot is freed. (Every newly paused source takes this block, heard or not,
    # so a host can tell from its own calls which renders consume its queue.)
    if stopping:
        fading = not restart and track_started(f64, st + ST_TRACK) and not _left_virtual(f64, st)
    else:
        fading = paused and not restart and f64[st + ST_PAUSED] == 0.0
    f64[st + ST_PAUSED] = 1.0 if paused else 0.0
    if stopping and not fading:
        if not (f64[st + ST_VOICE] == VOICE_TAIL and _pass_tail(f64, f32, i64, s, st, fill, frames, use_ibc)):
            _clear_slot(f64, f32, i64, s, nbins)
            i64[ctl + CTL_STATE] = STATE_INACTIVE
        return
    if paused and not fading:  # stream time stops: the queued audio waits, history is kept
        i64[cnt + CNT_PAUSE_OFFSET] += frames
        i64[ctl + CTL_STATUS] |= STATUS_PAUSED
        if f64[st + ST_VOICE] == VOICE_TAIL:
            _pass_tail(f64, f32, i64, s, st, fill, frames, use_ibc)
        elif use_ibc and _lane(i64, s) >= 0:
            _silence_lane(f32, i64, s, fill, frames)
        f64[st + ST_BED_ON] = 0.0  # (its bed part stopped with its fade-out)
        if restart:
            i64[ctl + CTL_STATE] = STATE_PLAYING
        return
    _account_underrun(i64, ctl, cnt, sclock + frames, not fading and (restart or not _left_virtual(f64, st)))

    sr = float(i64[H_SAMPLE_RATE])
    c = f64[i64[H_CONST] + C_SPEED_OF_SOUND]
    a = f64[i64[H_CONST] + C_HEAD_RADIUS]
    lis = i64[H_LISTENER]
    lt = i64[H_LISTENER_TRACK]
    pose = i64[H_SRC_POSE] + s * POSE_STRIDE
    par = i64[H_SRC_PARAM] + s * PARAM_STRIDE
    tr = st + ST_TRACK
    explicit = (flags & FLAG_VELOCITY) != 0
    # the motion starts on the first playing block (a source may start paused)
    fresh = not track_started(f64, tr)
    if fresh:
        start_track(f64, tr, f64[pose], f64[pose + 1], f64[pose + 2], clock, frames)
        f64[st + ST_TELEPORTS_SEEN] = f64[par + P_TELEPORTS]
    was_audible = f64[st + ST_VOICE] == VOICE_AUDIBLE
    bed_on = f64[st + ST_BED_ON] != 0.0
    # the turn rate is estimated only while the source is heard (a virtual voice's check
    # touches two lines of state); a source heard again starts straight (rest_turn below)
    turn = st + ST_TURN if (was_audible or bed_on) and not fresh else -1
    teleport = track_pose(f64, tr, turn, f64[pose], f64[pose + 1], f64[pose + 2], clock, frames, sr,
                          not explicit, c) and not fresh
    if explicit:
        f64[tr], f64[tr + 1], f64[tr + 2] = f64[par + P_VEL], f64[par + P_VEL + 1], f64[par + P_VEL + 2]
    teleport |= f64[par + P_TELEPORTS] != f64[st + ST_TELEPORTS_SEEN]
    f64[st + ST_TELEPORTS_SEEN] = f64[par + P_TELEPORTS]
    # positions relative to the listener at the block's end (and, for Doppler, its start),
    # extrapolated from the newest pose (set, on average, half a block before this block
    # starts: motion.py)
    px1, py1, pz1, vx1, vy1, vz1 = extrapolate(f64, tr, turn, float(clock + frames), sr)
    ax1 = px1 - f64[lt + LT_AT_END]
    ay1 = py1 - f64[lt + LT_AT_END + 1]
    az1 = pz1 - f64[lt + LT_AT_END + 2]
    # the level first, from the distance and the cone: an inaudible source stops here
    dist = math.sqrt(ax1 * ax1 + ay1 * ay1 + az1 * az1)
    model = i64[ctl + CTL_DISTANCE_MODEL]
    dist_g = distance_gain(model, dist, f64[par + P_MIN_DISTANCE], f64[par + P_MAX_DISTANCE], f64[par + P_ROLLOFF])
    # directivity: the angle between the source's forward axis and the way to the listener
    cone = 0.0
    if f64[par + P_CONE_INNER] < 360.0 or f64[par + P_CONE_OUTER] < 360.0:  # (else omnidirectional)
        to_lis = rotate_inverse(f64[pose + 3: pose + 7], (-ax1, -ay1, -az1))
        cone = cone_weight(to_lis[0] / dist if dist > 1e-9 else 1.0, f64[par + P_CONE_INNER],
                           f64[par + P_CONE_OUTER])
    cone_g = 1.0 + cone * (f64[par + P_CONE_OUTER_GAIN] - 1.0)
    g = f64[par + P_GAIN] * dist_g * cone_g
    tone_l = f64[par + P_TRANSMISSION]
    tone_m = f64[par + P_TRANSMISSION + 1]
    tone_h = f64[par + P_TRANSMISSION + 2] * (1.0 + cone * (f64[par + P_CONE_OUTER_HF] - 1.0))
    tone_air = f64[par + P_AIR_ABSORPTION] * dist
    wet = f64[lis + L_REVERB + reverb.R_WET - reverb.R_DECAY]
    level, heard = _levels(f64, par, dist_g, cone_g, tone_l, tone_m, tone_h, wet)
    if fading:
        level = 0.0
        heard = 0.0
    bypass = (flags & FLAG_BYPASS) != 0
    # level of detail (lod.py): the ranking's input for the next block, and this block's tier
    f64[st + ST_LEVEL] = -1.0 if bypass else level
    bed = use_ibc and i64[H_FULL_SOURCES] > 0 and f64[st + ST_TIER] != 0.0 and not bypass
    bed_level = heard >= VIRTUAL_THRESHOLD * (1.0 if bed_on or was_audible else VIRTUAL_HYSTERESIS)
    bed_wanted = bed and bed_level
    need_bed = bed_wanted or bed_on
    if bed:  # the full path fades out (then frees its lane) as a virtual voice does
        voice_level = 0.0
    elif bed_on and heard >= VIRTUAL_THRESHOLD:  # back from the bed: the full path fades in
        voice_level = max(heard, VIRTUAL_THRESHOLD * VIRTUAL_HYSTERESIS)
    else:
        voice_level = heard
    voice = _voice(f64, f32, i64, s, voice_level, restart, fill, frames, use_ibc)
    doppler = (flags & FLAG_DOPPLER) != 0
    if voice == VIRTUAL and not need_bed:  # its delay line and its track are current: nothing else to do
        if doppler and teleport and not explicit:  # (as below)
            rest_track(f64, tr)
        i64[ctl + CTL_STATUS] |= STATUS_PAUSED if paused else STATUS_VIRTUAL
        if f64[st + ST_VOICE] == VOICE_SILENT and not paused:
            travel = 2.0 * MAX_SPEED_FRACTION * c * frames / sr  # per block, it and the listener each at the teleport speed
            period = _nap_period(f64, par, model, dist, tone_l, tone_m, wet, travel)
            if period > 0:  # (staggered: its checks are the blocks b with (b + s) % period == 0)
                i64[i64[H_SRC_NAP] + s] = period - 1 - (i64[i64[H_GLOBAL] + G_BLOCKS] + s) % period
        if restart:
            i64[ctl + CTL_STATE] = STATE_PLAYING
        return
    _settle_skipped(f32, i64, s)  # this block reads the delay line
    bk = i64[H_SRC_BLOCK] + s * BK_STRIDE
    i64[ctl + CTL_STATUS] |= (STATUS_PAUSED if paused else STATUS_PLAYING) | (STATUS_LOD if need_bed else 0)
    f64[bk + BK_SILENCED] = 1.0 if fading else 0.0
    full = voice != VIRTUAL
    g_bed = g * tone_m if bed_wanted else 0.0
    if voice == FADE_OUT:
        g = 0.0
    resume = voice == RESUME
    if full and use_ibc and _lane(i64, s) < 0:  # a free lane is silent: the corrector's gains are set at once
        _take_lane(i64, s)
        restart = True
    px0, py0, pz0, vx0, vy0, vz0 = extrapolate(f64, tr, turn, float(clock), sr)
    ax0 = px0 - f64[lt + LT_AT_START]
    ay0 = py0 - f64[lt + LT_AT_START + 1]
    az0 = pz0 - f64[lt + LT_AT_START + 2]
    renewed = fresh or teleport or not (was_audible or bed_on)  # (a virtual voice's motion was not integrated)
    if renewed:
        hx, hy, hz = ax1, ay1, az1
        rest_turn(f64, st + ST_TURN)
    else:
        hx, hy, hz = heard_step(f64[st + ST_HEARD], f64[st + ST_HEARD + 1], f64[st + ST_HEARD + 2],
                                ax0, ay0, az0, ax1, ay1, az1, frames, sr)
    f64[st + ST_HEARD], f64[st + ST_HEARD + 1], f64[st + ST_HEARD + 2] = hx, hy, hz
    rel = rotate_inverse(f64[lis + 3: lis + 7], (hx, hy, hz))
    if f64[par + P_AZIMUTH_OFFSET] != 0.0:  # one voice of a stereo source: turned about the listener's up axis
        rel = _turn(rel, f64[par + P_AZIMUTH_OFFSET])
    dl, dr, nl, nr, dist = tdw_ear_targets(rel, a, c, doppler)
    if doppler:  # the propagation delay is integrated (motion.py); the ears add their part
        # (each end with its own velocity: a turning body's changes its direction)
        vx0, vy0, vz0 = clamp_speed(vx0, vy0, vz0, c)
        vx1, vy1, vz1 = clamp_speed(vx1, vy1, vz1, c)
        tau0 = retarded_delay(ax0, ay0, az0, vx0, vy0, vz0, c) * sr
        tau1 = retarded_delay(ax1, ay1, az1, vx1, vy1, vz1, c) * sr
        if fresh or not (was_audible or bed_on):  # (a virtual voice starts afresh)
            prop, offset = tau1, 0.0
        else:
            prop, offset = propagation_step(f64[st + ST_PROP], f64[st + ST_OFFSET],
                                            tau0, tau1, frames, sr, teleport)
        f64[st + ST_PROP] = prop
        f64[st + ST_OFFSET] = offset
        if teleport and not explicit:
            rest_track(f64, tr)
        dl += prop / sr - dist / c
        dr += prop / sr - dist / c
    if not use_ibc:  # no per-source spectrum: the tone's broadband part only
        g *= tone_m
    retone = use_ibc and tone_changed(f64[st + ST_TONE: st + ST_TONE + 4], tone_l, tone_m, tone_h, tone_air,
                                      f64[i64[H_AIR_ALPHA] + int(AIR_REFERENCE_HZ * i64[H_NFFT] / sr)])
    if bypass:
        dl = f64[st + ST_PROP] / sr if doppler else a / c
        dr = dl
        nl = 1.0
        nr = 1.0
    elif use_ibc:  # the corrector carries the level differences, at its fitted distance (nearfield.py)
        table = f64[i64[H_NEARFIELD]: i64[H_NEARFIELD] + nearfield.TABLE_LEN]
        if dist < f64[i64[H_THETA]]:
            side = rel[1] / dist if dist > 1e-9 else 0.0
            nl, nr = nearfield.nearfield_gains(table, dist, side, a)
        else:  # at and beyond the fitted distance the corrector's own ILD stands (the ratio is 1)
            nl = 1.0
            nr = 1.0
    f64[bk + BK_FRESH] = 1.0 if fresh else 0.0
    f64[bk + BK_TELEPORT] = 1.0 if teleport else 0.0
    f64[bk + BK_REL], f64[bk + BK_REL + 1], f64[bk + BK_REL + 2] = rel[0], rel[1], rel[2]
    f64[bk + BK_DIST] = dist
    f64[bk + BK_CONE] = cone
    f64[bk + BK_TONE], f64[bk + BK_TONE + 1] = tone_l, tone_m
    f64[bk + BK_TONE + 2], f64[bk + BK_TONE + 3] = tone_h, tone_air
    f64[bk + BK_BED] = 1.0 if need_bed else 0.0
    max_delay = float(i64[H_MAX_DELAY])
    if need_bed:  # the centre delay (no ears), read bed_delay early: lod.py
        centre = f64[st + ST_PROP] if doppler else a / c * sr + MIN_DELAY
        f64[bk + BK_D_BED] = min(max(centre - f64[i64[H_CONST] + C_BED_DELAY], MIN_DELAY), max_delay)
        f64[bk + BK_G_BED] = g_bed
        if not full:  # the bed alone (and what the room hears)
            f64[kind] = BK_BED_ONLY
            if restart:
                i64[ctl + CTL_STATE] = STATE_PLAYING
            return
    dl = min(max(dl * sr + (0.0 if doppler else MIN_DELAY), MIN_DELAY), max_delay)
    dr = min(max(dr * sr + (0.0 if doppler else MIN_DELAY), MIN_DELAY), max_delay)
    gl = g * nl
    gr = g * nr
    if fresh or resume:  # the first playing block starts at its targets: no ramp from silence
        f64[st + ST_DELAY_L] = dl  # (a virtual voice coming back: at its delay, faded in)
        f64[st + ST_DELAY_R] = dr
        f64[st + ST_GAIN_L] = gl if fresh else 0.0
        f64[st + ST_GAIN_R] = gr if fresh else 0.0
    f64[bk + BK_DL], f64[bk + BK_DR], f64[bk + BK_GL], f64[bk + BK_GR] = dl, dr, gl, gr
    f64[kind] = BK_FULL
    target = TARGET_NONE
    if use_ibc and bypass:
        if f64[st + ST_UNIT_GAINS] == 0.0 or retone:
            target = TARGET_UNIT
            f64[st + ST_EVALUATED] = 0.0  # re-evaluate as soon as it is spatialised again
            f64[st + ST_UNIT_GAINS] = 1.0
    elif use_ibc:
        if dist > 1e-6:
            ux, uy, uz = rel[0] / dist, rel[1] / dist, rel[2] / dist
        else:
            ux, uy, uz = 1.0, 0.0, 0.0
        cosang = ux * f64[st + ST_UX] + uy * f64[st + ST_UY] + uz * f64[st + ST_UZ]
        d_now, d_then = max(dist, 1e-3), max(f64[st + ST_DIST], 1e-3)
        k = i64[H_CONST]
        gl_state = i64[H_GLOBAL]
        new = restart or f64[st + ST_EVALUATED] == 0.0
        ratio = f64[k + C_DISTANCE_RATIO_REEVAL]
        moved = cosang < f64[k + C_COS_REEVAL] or d_now > ratio * d_then or d_then > ratio * d_now or retone
        # new or moved: a table lookup (no table: an evaluation); at rest with gains from
        # the table: an exact evaluation. New sources are served at once, the others as
        # the block's budgets allow (round-robin from G_IBC_NEXT).
        table = i64[H_TABLE_RINGS] > 0
        if new or moved:
            exact = not table
            budget = gl_state + (G_IBC_BUDGET if exact else G_LOOKUP_BUDGET)
        else:
            exact = True
            budget = gl_state + G_IBC_BUDGET
        if new or ((moved or f64[st + ST_EXACT] == 0.0) and i64[budget] > 0):
            if not new:
                i64[budget] -= 1
                i64[gl_state + G_IBC_NEXT] = s + 1
            target = TARGET_EXACT if exact else TARGET_TABLE
            f64[bk + BK_U], f64[bk + BK_U + 1], f64[bk + BK_U + 2] = ux, uy, uz
            f64[st + ST_UX] = ux
            f64[st + ST_UY] = uy
            f64[st + ST_UZ] = uz
            f64[st + ST_DIST] = dist
            f64[st + ST_EVALUATED] = 1.0
            f64[st + ST_UNIT_GAINS] = 0.0
            f64[st + ST_EXACT] = 1.0 if exact else 0.0
    f64[bk + BK_TARGET] = target
    f64[bk + BK_RETONE] = 1.0 if retone else 0.0
    f64[bk + BK_RESTART] = 1.0 if restart else 0.0
    if restart:
        i64[ctl + CTL_STATE] = STATE_PLAYING


@njit(cache=True, inline="always")
def _nap_period(f64, par, model, dist, tone_l, tone_m, wet, travel):
    """How many blocks a virtual voice ``dist`` metres away may nap (layout.NAP_BLOCKS):
    NAP_BLOCKS_QUIET if facing the listener at any distance its level would be NAP_MARGIN
    below the level at which it comes back, else the longest of NAP_BLOCKS_LONGEST,
    ... NAP_BLOCKS for which that holds ``travel`` metres closer per block of it, else 0."""
    quiet = VIRTUAL_THRESHOLD * VIRTUAL_HYSTERESIS * NAP_MARGIN
    near, far, rolloff = f64[par + P_MIN_DISTANCE], f64[par + P_MAX_DISTANCE], f64[par + P_ROLLOFF]
    tone_h = f64[par + P_TRANSMISSION + 2]  # (facing: no cone)
    _, anywhere = _levels(f64, par, distance_gain(model, 0.0, near, far, rolloff), 1.0, tone_l, tone_m, tone_h, wet)
    if anywhere < quiet:
        return NAP_BLOCKS_QUIET
    period = NAP_BLOCKS_LONGEST
    while period >= NAP_BLOCKS:
        g = distance_gain(model, max(dist - travel * period, 0.0), near, far, rolloff)
        _, loudest = _levels(f64, par, g, 1.0, tone_l, tone_m, tone_h, wet)
        if loudest < quiet:
            return period
        period //= 2
    return 0


@njit(cache=True, inline="always")
def _account_underrun(i64, ctl, cnt, end, report):
    """The game wrote less than the block that ends at stream sample ``end``: silence, not
    stale audio, skipped (zeroed only if read: :func:`_settle_skipped`), and, if
    ``report``, the status bit. A source the last block left virtual is not reported: a
    virtual voice needs no write (the game need not even skip it), so a game that feeds
    only what :func:`source_is_virtual` calls audible makes no call at all for the rest."""
    if i64[cnt] < end:
        i64[cnt + CNT_SKIPPED] += end - i64[cnt]
        i64[cnt] = end
        if report:
            i64[ctl + CTL_STATUS] |= STATUS_UNDERRUN


@njit(cache=True, inline="always")
def _napping(i64, s, clock, frames):
    """Whether source ``s`` naps this block (layout.NAP_BLOCKS): a virtual voice that could
    not come back before its next check, whose block only accounts for its queue (the
    lines the game's write or skip just touched) and reports it virtual. Anything but a
    playing source is checked at once."""
    nap = i64[H_SRC_NAP] + s
    if i64[nap] <= 0:
        return False
    ctl = i64[H_SRC_CTL] + s * CTL_STRIDE
    if i64[ctl + CTL_STATE] != STATE_PLAYING or i64[ctl + CTL_FLAGS] & FLAG_PAUSED:  # (a paused one's queue waits)
        i64[nap] = 0
        return False
    i64[nap] -= 1
    cnt = i64[H_SRC_COUNT] + s * COUNT_STRIDE
    _account_underrun(i64, ctl, cnt, clock - i64[cnt + CNT_PAUSE_OFFSET] + frames, False)
    i64[ctl + CTL_STATUS] |= STATUS_VIRTUAL
    return True


@njit(cache=True, fastmath=True)
def _dsp_source(f64, f32, i64, s, ck, w, clock, frames, fill, nbins):
    """Step 1 for one source, the per-source part: what :func:`_control_source` decided
    (its H_SRC_BLOCK row), done. The bed, the warp into its lane (corrector off: into the
    shared staging), the spread, the reverb send and the corrector target. It touches only
    the source's own state and lane, chunk ``ck``'s accumulators (H_CHUNKS) and participant
    ``w``'s scratch (H_PART), so chunks may run at once on several threads. Returns the
    TOUCH_* bits of the accumulators it added into. Called only for a source its block
    renders (kind bed or full: :func:`_render_chunk`)."""
    kind = f64[i64[H_SRC_KIND] + s]
    bk = i64[H_SRC_BLOCK] + s * BK_STRIDE
    touched = 0
    ring_len = i64[H_RING_LEN]
    mask = ring_len - 1
    ring = f32[i64[H_RING] + s * ring_len: i64[H_RING] + (s + 1) * ring_len]
    st = i64[H_SRC_STATE] + s * STATE_STRIDE
    par = i64[H_SRC_PARAM] + s * PARAM_STRIDE
    sclock = clock - i64[i64[H_SRC_COUNT] + s * COUNT_STRIDE + CNT_PAUSE_OFFSET]
    use_ibc = i64[H_IBC_ENABLED] != 0
    fresh = f64[bk + BK_FRESH] != 0.0
    teleport = f64[bk + BK_TELEPORT] != 0.0
    rel = (f64[bk + BK_REL], f64[bk + BK_REL + 1], f64[bk + BK_REL + 2])
    dist = f64[bk + BK_DIST]
    cone = f64[bk + BK_CONE]
    tone_m = f64[bk + BK_TONE + 1]
    send_m = 0.0 if f64[bk + BK_SILENCED] != 0.0 else tone_m  # (fading out: what the room hears too)
    row = i64[H_CHUNKS] + ck * CK_STRIDE
    rin = i64[H_REVERB_IN] if ck == 0 else i64[row + CK_REVERB]
    tmp = _part(i64, w, PT_TDW_OUT)
    tmp_l = f32[tmp:tmp + frames]
    tmp_r = f32[tmp + frames:tmp + 2 * frames]
    if f64[bk + BK_BED] != 0.0:
        if ck == 0:
            da = i64[H_LOD_STAGE] + fill * LANES
            db = da + i64[H_STAGE_LEN] * LANES
        else:
            da = i64[row + CK_BED]
            db = da + i64[H_MAX_BLOCK] * LANES
        _bed_source(f64, f32, i64, s, st, ring, mask, sclock, frames, da, db, w, f64[bk + BK_D_BED],
                    f64[bk + BK_G_BED], rel, dist, fresh, teleport)
        touched |= TOUCH_BED
        if kind == BK_BED_ONLY:  # what the room hears (below, for a source on the full path too)
            return touched | _reverb_send(f64, f32, rin, st, par, cone, send_m, tmp_l, tmp_l, frames)
    sl = i64[H_STAGE_LEN]
    if use_ibc:  # the source's own lane of the staging
        stride = LANES
        dst_l = _stage_base(i64, s) + fill * LANES
        dst_r = dst_l + sl * LANES
    else:  # added into the shared staging (this chunk's)
        stride = 1
        if ck == 0:
            dst_l = i64[H_STAGE] + fill
            dst_r = dst_l + sl
        else:
            dst_l = i64[row + CK_STAGE]
            dst_r = dst_l + i64[H_MAX_BLOCK]
        touched |= TOUCH_STAGE
    dl = f64[bk + BK_DL]
    dr = f64[bk + BK_DR]
    gl = f64[bk + BK_GL]
    gr = f64[bk + BK_GR]
    sinc = f32[i64[H_SINC]: i64[H_SINC] + (SINC_PHASES + 1) * SINC_TAPS]
    ti = _part(i64, w, PT_TDW_IDX)
    tdw_idx = i64[ti:ti + 2 * frames]
    if teleport:  # the old ear cues fade out while the new ones fade in, each held still
        tdw_block_stereo_idx(ring, mask, sclock, frames, f64[st + ST_DELAY_L], f64[st + ST_DELAY_L],
                             f64[st + ST_DELAY_R], f64[st + ST_DELAY_R], f64[st + ST_GAIN_L], 0.0,
                             f64[st + ST_GAIN_R], 0.0, sinc, tmp_l, tmp_r, tdw_idx, f32, dst_l, dst_r,
                             stride, not use_ibc)
        tdw_block_stereo_idx(ring, mask, sclock, frames, dl, dl, dr, dr, 0.0, gl, 0.0, gr, sinc,
                             tmp_l, tmp_r, tdw_idx, f32, dst_l, dst_r, stride, True)
    else:
        tdw_block_stereo_idx(ring, mask, sclock, frames, f64[st + ST_DELAY_L], dl, f64[st + ST_DELAY_R],
                             dr, f64[st + ST_GAIN_L], gl, f64[st + ST_GAIN_R], gr, sinc, tmp_l, tmp_r,
                             tdw_idx, f32, dst_l, dst_r, stride, not use_ibc)
    f64[st + ST_DELAY_L] = dl
    f64[st + ST_DELAY_R] = dr
    f64[st + ST_GAIN_L] = gl
    f64[st + ST_GAIN_R] = gr
    if use_ibc:
        _spread(f64, f32, i64, s, st, min(max(f64[par + P_SPREAD], 0.0), 360.0) / 360.0, dst_l, dst_r, frames)
    # what the room hears: the emitted level through the cone and the wall (broadband parts)
    touched |= _reverb_send(f64, f32, rin, st, par, cone, send_m, tmp_l, tmp_r, frames)
    target = f64[bk + BK_TARGET]
    if target != TARGET_NONE:
        t_now = float(clock + frames - 1)  # the warp reaches this block's pose on its last sample
        restart = f64[bk + BK_RESTART] != 0.0
        if f64[bk + BK_RETONE] != 0.0:  # (the tone's response is recomputed only when it changed audibly)
            _update_tone(f64, f32, i64, s, nbins, f64[bk + BK_TONE], tone_m, f64[bk + BK_TONE + 2],
                         f64[bk + BK_TONE + 3])
        if target == TARGET_UNIT:
            _unit_targets(f64, f32, i64, s, nbins, restart, t_now, w)
        else:
            _ibc_targets(f64, f32, i64, s, f64[bk + BK_U], f64[bk + BK_U + 1], f64[bk + BK_U + 2], dist,
                         nbins, target == TARGET_EXACT, restart, t_now, w)
    return touched


@njit(cache=True, fastmath=True, boundscheck=False)
def _split_into(re, im, mix, n, nbins):
    """Split the FFT of (left + j right) into the two half spectra, written into ``mix``
    (left re, left im, right re, right im per bin).

    Indices are uint64 (no negative-index wraparound, so the loop vectorises) and bin 0's
    mirror is taken as n - k (bin 0 pairs with itself: Z[n] does not exist, so k = 0 is
    done first, outside the loop)."""
    _split_bin(re, im, mix, uint64(0), uint64(0))
    un = uint64(n)
    for kk in range(1, nbins):
        k = uint64(kk)
        _split_bin(re, im, mix, k, un - k)


@njit(cache=True, fastmath=True, boundscheck=False, inline="always")
def _split_bin(re, im, mix, k, nk):
    ar = re[k]
    ai = im[k]
    br = re[nk]
    bi = -im[nk]  # conj(Z[N-k])
    m = uint64(4) * k
    mix[m] = 0.5 * (ar + br)
    mix[m + uint64(1)] = 0.5 * (ai + bi)
    mix[m + uint64(2)] = 0.5 * (ai - bi)   # (Z - conj Z[N-k]) / 2j
    mix[m + uint64(3)] = -0.5 * (ar - br)


@njit(cache=True, fastmath=True, boundscheck=False)
def _corrected_hop(f64, f32, i64, nbins, off, mix, mix_delta, t0):
    """Every playing source's frame through its own gains, LANES sources per transform.
    Returns True when some source's gains changed since the previous hop (``mix_delta``
    then holds the mix with the previous gains minus ``mix``).

    Per batch of LANES lanes with a playing source: each changing lane's gains move from
    the previous hop's (at ST_T_PREV) towards its target (at ST_T_TGT) to where the line
    between them is at the hop's last sample (clock ``t0 + off + N - 1``; ``t0`` is the
    clock of staging sample 0), where the output crossfade reaches them, so gains move
    linearly in time as the warp's delay does;
    the LANES frames are transformed at once (lane-major, float32), split into the two
    ears, multiplied by the lane's gains (and, in a batch whose gains move, by their change
    since the previous hop, in the same pass: :func:`lanes_split_ramp_add`) and added into
    the per-lane spectral mixes. Idle lanes hold silence (a lane's staging is cleared when
    it is freed). The lanes are summed into ``mix`` (float64) once at the end."""
    n = i64[H_NFFT]
    sl = i64[H_STAGE_LEN]
    t32 = i64[H_TABLES32]
    cos = f32[t32:t32 + n]
    sin = f32[t32 + n:t32 + 2 * n]
    rev = i64[i64[H_BITREV]: i64[H_BITREV] + n]
    re = f32[i64[H_LANE_WORK]: i64[H_LANE_WORK] + n * LANES]
    im = f32[i64[H_LANE_WORK] + n * LANES: i64[H_LANE_WORK] + 2 * n * LANES]
    rows = 4 * nbins
    mixl = f32[i64[H_LANE_MIX]: i64[H_LANE_MIX] + rows * LANES]
    mixd = f32[i64[H_LANE_MIX_DELTA]: i64[H_LANE_MIX_DELTA] + rows * LANES]
    ramp = f32[i64[H_LANE_RAMP]: i64[H_LANE_RAMP] + LANES]
    mixl[:] = 0.0
    ctl0 = i64[H_SRC_CTL]
    t_end = t0 + off + n - 1.0  # the crossfade reaches this hop's filters on its last sample
    changed = False
    slots = i64[H_LANE_SLOT]
    for b in range(i64[H_BATCHES]):
        playing = False
        ramping = False
        for lane in range(LANES):
            s = i64[slots + b * LANES + lane] - 1
            ramp[lane] = 0.0
            if s < 0:
                continue
            ctl = ctl0 + s * CTL_STRIDE
            if i64[ctl + CTL_STATE] == STATE_INACTIVE:  # (a paused or destroyed source holds a lane only for its fade and tail)
                continue
            playing = True
            cnt = i64[H_SRC_COUNT] + s * COUNT_STRIDE
            if i64[cnt + CNT_GAINS] & GAINS_RAMPING:
                st = i64[H_SRC_STATE] + s * STATE_STRIDE
                tp = f64[st + ST_T_PREV]
                tt = f64[st + ST_T_TGT]
                a = 1.0 if tt <= tp else min(max((t_end - tp) / (tt - tp), 0.0), 1.0)
                if a > 0.0:
                    ramp[lane] = np.float32(a)
                    ramping = True
                    f64[st + ST_T_PREV] = min(t_end, tt)
                if a >= 1.0:
                    i64[cnt + CNT_GAINS] = 0
        if not playing:
            continue
        gc = _lane_gain_base(i64, H_GCUR, b * LANES, nbins)
        sb = _lane_stage_base(i64, b * LANES) + off * LANES
        fft_lanes_load(f32, sb, sb + sl * LANES, rev, re, im, n)
        fft_lanes_passes(re, im, cos, sin, n)
        if ramping:
            if not changed:
                mixd[:] = 0.0
                changed = True
            gt = _lane_gain_base(i64, H_GTGT, b * LANES, nbins)
            lanes_split_ramp_add(re, im, 0, 0, f32, gc, gt, 0, ramp, mixl, mixd, 0)
            for k in range(1, nbins):
                lanes_split_ramp_add(re, im, k * LANES, (n - k) * LANES, f32, gc, gt, 4 * k * LANES,
                                     ramp, mixl, mixd, 4 * k * LANES)
        else:
            lanes_split_gain_add(re, im, 0, 0, f32, gc, mixl, 0)
            for k in range(1, nbins):
                lanes_split_gain_add(re, im, k * LANES, (n - k) * LANES, f32, gc + 4 * k * LANES,
                                     mixl, 4 * k * LANES)
    _sum_lanes(mixl, mix, rows)
    if changed:
        mix_delta[:] = 0.0
        _sum_lanes(mixd, mix_delta, rows)
    return changed


@njit(cache=True, fastmath=True, boundscheck=False)
def _sum_lanes(mixl, mix, rows):
    """mix[r] += the sum over lanes of the lane-major per-lane mix row r."""
    full = rows - rows % LANES
    for r in range(0, full, LANES):
        lanes_row_sums(mixl, r * LANES, mix, r)
    for r in range(full, rows):
        acc = 0.0
        for lane in range(LANES):
            acc += mixl[r * LANES + lane]
        mix[r] += acc


@njit(cache=True, fastmath=True, boundscheck=False)
def _hop(f64, f32, i64, nbins, off, t0):
    """Step 2: one hop (the frame staging[off:off + N]) and the inverse for the mix, whose
    last H samples go to the output FIFO (overlap-save).

    Corrector on: every source through its own gains (:func:`_corrected_hop`); if some
    gains changed since the previous hop, the output crossfades from the previous hop's
    filters to this hop's. Off: the sources were summed into one shared staging by the
    warp, and one FFT serves them all (bit-reversal and the first radix-4 pass fused,
    :func:`fft_load_forward`); with unit gains that is the identity."""
    n = i64[H_NFFT]
    cos = f64[i64[H_TWID_COS]: i64[H_TWID_COS] + n]
    sin = f64[i64[H_TWID_SIN]: i64[H_TWID_SIN] + n]
    rev = i64[i64[H_BITREV]: i64[H_BITREV] + n]
    re = f64[i64[H_WORK]: i64[H_WORK] + n]
    im = f64[i64[H_WORK] + n: i64[H_WORK] + 2 * n]
    mix = f64[i64[H_MIX]: i64[H_MIX] + 4 * nbins]  # Lre Lim Rre Rim interleaved per bin
    mix_delta = f64[i64[H_MIX_DELTA]: i64[H_MIX_DELTA] + 4 * nbins]
    changed = False
    if i64[H_IBC_ENABLED] != 0:
        mix[:] = 0.0
        changed = _corrected_hop(f64, f32, i64, nbins, off, mix, mix_delta, t0)
        if i64[H_FULL_SOURCES] > 0 and i64[i64[H_GLOBAL] + G_BED_QUIET] < i64[H_STAGE_LEN]:
            _bed_hop(f32, i64, off, mix)
    else:
        st = i64[H_STAGE]
        sl = i64[H_STAGE_LEN]
        fft_load_forward(f32[st + off:st + off + n], f32[st + sl + off:st + sl + off + n], rev, re, im,
                         cos, sin, n)
        _split_into(re, im, mix, n, nbins)
    lre, lim = _inverse(f32, i64, mix, mix_delta, changed, n, nbins)
    if changed:  # the change, faded out across the hop: previous filters -> this hop's
        _emit(f32, i64, lre, lim, 1, True, False)
    _emit(f32, i64, lre, lim, 0, False, changed)


@njit(cache=True, fastmath=True, boundscheck=False)
def _bed_hop(f32, i64, off, mix):
    """The level of detail's bed (:mod:`.lod`) for one hop: its 16 channels' frame
    staging[off:off + N] in one 8-lane transform, through the decoding filters, into ``mix``
    (skipped while the bed has held only zeros for the whole staging)."""
    n = i64[H_NFFT]
    sl = i64[H_STAGE_LEN]
    t32 = i64[H_TABLES32]
    re = f32[i64[H_LANE_WORK]: i64[H_LANE_WORK] + n * LANES]
    im = f32[i64[H_LANE_WORK] + n * LANES: i64[H_LANE_WORK] + 2 * n * LANES]
    sb = i64[H_LOD_STAGE] + off * LANES
    fft_lanes_load(f32, sb, sb + sl * LANES, i64[i64[H_BITREV]: i64[H_BITREV] + n],
                   re, im, n)
    fft_lanes_passes(re, im, f32[t32:t32 + n], f32[t32 + n:t32 + 2 * n], n)
    nbins = n // 2 + 1
    lod_decode(re, im, f32[i64[H_LOD_FILTERS]: i64[H_LOD_FILTERS] + nbins * LANES * 8], mix, n)


@njit(cache=True, fastmath=True, boundscheck=False)
def _inverse(f32, i64, mix, mix_delta, changed, n, nbins):
    """The inverse transforms (unscaled) of (mix_left + j mix_right) in lane 0 and, when
    ``changed``, of (mix_delta_left + j mix_delta_right) in lane 1 of one LANES-wide float32
    transform, as conj(DFT(conj Z)): one lane transform costs what one float64 transform
    did, and a crossfading hop needs two. Returns the lane-major (re, im) work arrays:
    left ear = re, right ear = -im. The input is staged in the per-lane mix, free once the
    hop has summed it (lanes 2 and up hold stale finite values nobody reads)."""
    x = f32[i64[H_LANE_MIX]: i64[H_LANE_MIX] + 2 * n * LANES]
    _stage_conj_spectrum(mix, x, 0, n, nbins)
    if changed:
        _stage_conj_spectrum(mix_delta, x, 1, n, nbins)
    t32 = i64[H_TABLES32]
    re = f32[i64[H_LANE_WORK]: i64[H_LANE_WORK] + n * LANES]
    im = f32[i64[H_LANE_WORK] + n * LANES: i64[H_LANE_WORK] + 2 * n * LANES]
    fft_lanes_load(x, 0, n * LANES, i64[i64[H_BITREV]: i64[H_BITREV] + n], re, im, n)
    fft_lanes_passes(re, im, f32[t32:t32 + n], f32[t32 + n:t32 + 2 * n], n)
    return re, im


@njit(cache=True, fastmath=True, boundscheck=False, inline="always")
def _stage_conj_spectrum(mix, x, lane, n, nbins):
    """conj Z, Z the full spectrum of (left + j right) from the two ears' half spectra in
    ``mix``, into ``lane`` of the lane-major frame ``x`` (real parts as its left ear, the
    imaginary parts as its right, n samples each)."""
    for k in range(nbins):
        x[k * LANES + lane] = mix[4 * k] - mix[4 * k + 3]
        x[(n + k) * LANES + lane] = -(mix[4 * k + 1] + mix[4 * k + 2])
    for k in range(nbins, n):
        m = n - k
        x[k * LANES + lane] = mix[4 * m] + mix[4 * m + 3]
        x[(n + k) * LANES + lane] = mix[4 * m + 1] - mix[4 * m + 2]


@njit(cache=True, fastmath=True, boundscheck=False)
def _emit(f32, i64, re, im, lane, fade_out, add):
    """Write (``add``: add) the last H samples of :func:`_inverse`'s ``lane`` into the FIFO's
    next hop; ``fade_out`` weights sample i by 1 - (i + 1) / H. The second call of a
    crossfading hop (``add``) completes the hop and advances the FIFO."""
    n = i64[H_NFFT]
    hop = i64[H_HOP]
    g = i64[H_GLOBAL]
    flen = i64[H_FIFO_LEN]
    fifo = i64[H_FIFO]
    wpos = (i64[g + G_FIFO_READ] + i64[g + G_FIFO_COUNT]) % flen
    scale = 1.0 / n
    inv_hop = 1.0 / hop
    for j in range(hop):
        p = wpos + j
        if p >= flen:
            p -= flen
        w = scale * (1.0 - (j + 1) * inv_hop) if fade_out else scale
        t = (n - hop + j) * LANES + lane
        l = re[t] * w
        r = -im[t] * w
        if add:
            f32[fifo + 2 * p] += l
            f32[fifo + 2 * p + 1] += r
        else:
            f32[fifo + 2 * p] = l
            f32[fifo + 2 * p + 1] = r
    if not fade_out:
        i64[g + G_FIFO_COUNT] += hop


@njit(cache=True, boundscheck=False)
def _slide_stages(f32, i64, consumed, remaining):
    """Drop ``consumed`` samples from the front of the staging (once per render, however
    many hops ran), keeping ``remaining`` samples: each batch of lanes that has a playing
    source, or the shared stereo staging."""
    sl = i64[H_STAGE_LEN]
    stage0 = i64[H_STAGE]
    if i64[H_IBC_ENABLED] == 0:
        for e in range(2):
            b = stage0 + e * sl
            for j in range(remaining):
                f32[b + j] = f32[b + consumed + j]
        return
    ctl0 = i64[H_SRC_CTL]
    slots = i64[H_LANE_SLOT]
    for bt in range(i64[H_BATCHES]):
        playing = False
        for p in range(bt * LANES, (bt + 1) * LANES):
            s = i64[slots + p] - 1
            playing |= s >= 0 and i64[ctl0 + s * CTL_STRIDE + CTL_STATE] != STATE_INACTIVE
        if playing:
            _slide_batch(f32, stage0 + 2 * bt * sl * LANES, sl, consumed, remaining)
    if i64[H_FULL_SOURCES] > 0:  # the level of detail's bed
        _slide_batch(f32, i64[H_LOD_STAGE], sl, consumed, remaining)


@njit(cache=True, boundscheck=False)
def _slide_batch(f32, base, sl, consumed, remaining):
    """Drop ``consumed`` samples from the front of one lane-major batch of staging (both ears)."""
    for e in range(2):
        b = base + e * sl * LANES
        c = b + consumed * LANES
        for j in range(0, remaining * LANES, LANES):  # one sample of all lanes at a time
            lanes_copy(f32, b + j, f32, c + j)


@njit(cache=True)
def _track_listener(f64, i64, clock, frames):
    """The listener's velocity (given, or estimated from its poses) and its extrapolated
    position at this block's start and end (:mod:`.motion`)."""
    lis = i64[H_LISTENER]
    lt = i64[H_LISTENER_TRACK]
    sr = float(i64[H_SAMPLE_RATE])
    c = f64[i64[H_CONST] + C_SPEED_OF_SOUND]
    if not track_started(f64, lt + LT_TRACK):
        start_track(f64, lt + LT_TRACK, f64[lis], f64[lis + 1], f64[lis + 2], clock, frames)
    explicit = f64[lis + L_VEL_SET] != 0.0
    track_pose(f64, lt + LT_TRACK, lt + LT_TURN, f64[lis], f64[lis + 1], f64[lis + 2], clock, frames, sr,
               not explicit, c)
    if explicit:
        for m in range(3):
            f64[lt + LT_TRACK + m] = f64[lis + L_VEL + m]
    vx, vy, vz = clamp_speed(f64[lt + LT_TRACK], f64[lt + LT_TRACK + 1], f64[lt + LT_TRACK + 2], c)
    f64[lt + LT_TRACK], f64[lt + LT_TRACK + 1], f64[lt + LT_TRACK + 2] = vx, vy, vz
    # as for sources (motion.py: a pose's time)
    x, y, z, _, _, _ = extrapolate(f64, lt + LT_TRACK, lt + LT_TURN, float(clock), sr)
    f64[lt + LT_AT_START], f64[lt + LT_AT_START + 1], f64[lt + LT_AT_START + 2] = x, y, z
    x, y, z, _, _, _ = extrapolate(f64, lt + LT_TRACK, lt + LT_TURN, float(clock + frames), sr)
    f64[lt + LT_AT_END], f64[lt + LT_AT_END + 1], f64[lt + LT_AT_END + 2] = x, y, z


CACHE_LINE_FLOATS = 16  # float32 per 64-byte cache line: prefetch strides
CACHE_LINE_DOUBLES = 8
PREFETCH_AHEAD = 2  # sources: the render loop fetches this far ahead (lanes.prefetch)


@njit(cache=True, inline="always")
def _prefetch_source(f64, i64, s):
    """Start loading the pool lines source ``s``'s block reads. Every source's: its control
    word, queue count, pose and the first two lines of its parameters and of its state,
    which hold all a virtual voice reads (layout.py). If the last block rendered it (its
    kind, still last block's: a compact array the caches hold), also the lines only a
    rendered source's control touches: the rest of its state, its last parameter line and
    its H_SRC_BLOCK row, to be written. (Asking the source's voice instead stalled on the
    line being fetched: 4,096 sources' blocks took a quarter longer.)"""
    prefetch(i64, i64[H_SRC_CTL] + s * CTL_STRIDE)
    prefetch(i64, i64[H_SRC_COUNT] + s * COUNT_STRIDE)
    prefetch(f64, i64[H_SRC_POSE] + s * POSE_STRIDE)
    par = i64[H_SRC_PARAM] + s * PARAM_STRIDE
    st = i64[H_SRC_STATE] + s * STATE_STRIDE
    for k in range(0, 2 * CACHE_LINE_DOUBLES, CACHE_LINE_DOUBLES):
        prefetch(f64, par + k)
        prefetch(f64, st + k)
    if f64[i64[H_SRC_KIND] + s] == BK_NONE:
        return
    for k in range(2 * CACHE_LINE_DOUBLES, STATE_STRIDE, CACHE_LINE_DOUBLES):
        prefetch(f64, st + k)
    prefetch(f64, par + 2 * CACHE_LINE_DOUBLES)
    bk = i64[H_SRC_BLOCK] + s * BK_STRIDE
    for k in range(0, BK_STRIDE, CACHE_LINE_DOUBLES):
        prefetch_write(f64, bk + k)


@njit(cache=True, inline="always")
def _prefetch_ring(f64, f32, i64, s, clock, frames):
    """Start loading the part of source ``s``'s delay line its block will read, at the
    delays its last block ended on, if it reads one (playing, and audible or in the bed).
    The game wrote those samples just before, but a thousand sources' writes later they
    are out of the core's caches: the reads stalled on them (three quarters of the bed's
    read time). For a source the block renders (its kind is not BK_NONE): the caller
    checks that, in its loop over a thousand mostly virtual voices, where a call per
    voice cost more than the check."""
    st = i64[H_SRC_STATE] + s * STATE_STRIDE
    if f64[st + ST_BED_ON] != 0.0:
        lo = f64[st + ST_BED_DELAY]
        hi = lo
    elif f64[st + ST_VOICE] == VOICE_AUDIBLE:
        lo = min(f64[st + ST_DELAY_L], f64[st + ST_DELAY_R])
        hi = max(f64[st + ST_DELAY_L], f64[st + ST_DELAY_R])
    else:
        return
    ring_len = i64[H_RING_LEN]
    mask = ring_len - 1
    base = i64[H_RING] + s * ring_len
    sclock = clock - i64[i64[H_SRC_COUNT] + s * COUNT_STRIDE + CNT_PAUSE_OFFSET]
    for t in range(sclock - int(hi) - SINC_TAPS, sclock + frames - int(lo) + SINC_TAPS, CACHE_LINE_FLOATS):
        prefetch(f32, base + (t & mask))


@njit(cache=True)
def _reverb(f64, f32, i64, out, frames):
    """The shared reverb (:mod:`.reverb`) on this block's sends, added into ``out``; its
    settings are the listener region's, as the game last set them."""
    rv = i64[H_REVERB]
    state = f64[rv:rv + reverb.STATE_LEN]
    lis = i64[H_LISTENER]
    for j in range(4):
        state[reverb.R_DECAY + j] = f64[lis + L_REVERB + j]
    lines = f32[i64[H_REVERB_LINES]: i64[H_REVERB_LINES] + reverb.N_LINES * reverb.LINE_LEN]
    pre = f32[i64[H_REVERB_PRE]: i64[H_REVERB_PRE] + reverb.pre_delay_len(i64[H_SAMPLE_RATE], i64[H_HOP] + i64[H_DELAY])]
    reverb.reverb_process(state, lines, pre, f32[i64[H_REVERB_IN]: i64[H_REVERB_IN] + frames], frames,
                          float(i64[H_SAMPLE_RATE]), i64[H_HOP] + i64[H_DELAY], out)


@njit(cache=True)
def render_core(f64, f32, i64, out, frames):
    """Render ``frames`` interleaved stereo frames into ``out``, with flush-to-zero for its
    duration (:mod:`.fpu`). Returns 0, or 1 for a bad frame count (then ``out`` is
    untouched). The three phases of :func:`render_begin_core`, every chunk and
    :func:`render_end_core`, on the caller's thread alone."""
    saved = enter_flush_to_zero()
    rc = _render(f64, f32, i64, out, frames)
    leave_flush_to_zero(saved)
    return rc


@njit(cache=True)
def render_begin_core(f64, f32, i64, frames):
    """A block's first phase (audio thread): :func:`_render_begin` with flush-to-zero.
    Returns the number of chunks to run (:func:`render_chunk_core`), or -1 for a bad frame
    count."""
    saved = enter_flush_to_zero()
    n = _render_begin(f64, f32, i64, frames)
    leave_flush_to_zero(saved)
    return n


@njit(cache=True)
def render_chunk_core(f64, f32, i64, ck, w):
    """Chunk ``ck`` of the block begun (any thread; participant ``w``, 0 = the audio thread,
    uses its own scratch), with flush-to-zero on the calling thread for its duration."""
    saved = enter_flush_to_zero()
    _render_chunk(f64, f32, i64, ck, w)
    leave_flush_to_zero(saved)


@njit(cache=True)
def render_end_core(f64, f32, i64, out):
    """A block's last phase (audio thread, after every chunk): :func:`_render_end` with
    flush-to-zero."""
    saved = enter_flush_to_zero()
    _render_end(f64, f32, i64, out)
    leave_flush_to_zero(saved)


@njit(cache=True)
def _render(f64, f32, i64, out, frames):
    """:func:`render_core` without the FPU control."""
    n = _render_begin(f64, f32, i64, frames)
    if n < 0:
        return 1
    for ck in range(n):
        _render_chunk(f64, f32, i64, ck, 0)
    _render_end(f64, f32, i64, out)
    return 0


@njit(cache=True)
def _render_begin(f64, f32, i64, frames):
    """The serial prologue: the block's budgets, the listener, the level of detail's tiers,
    the new staging cleared, and every source's control (:func:`_control_source`, round
    robin). Returns the number of chunks, or -1 for a bad frame count."""
    if frames < 1 or frames > i64[H_MAX_BLOCK]:
        return -1
    n = i64[H_NFFT]
    nbins = n // 2 + 1
    g = i64[H_GLOBAL]
    clock = i64[g + G_CLOCK]
    fill = i64[g + G_STAGE_FILL]
    nsrc = i64[H_SLOTS]
    i64[g + G_FRAMES] = frames
    evals = f64[i64[H_CONST] + C_EVALS_PER_512]  # <= 0: no budget
    i64[g + G_IBC_BUDGET] = max(1, int(evals * frames / 512.0)) if evals > 0.0 else nsrc
    lookups = f64[i64[H_CONST] + C_LOOKUPS_PER_512]
    i64[g + G_LOOKUP_BUDGET] = max(1, int(lookups * frames / 512.0)) if lookups > 0.0 else nsrc
    first = i64[g + G_IBC_NEXT] % nsrc
    if i64[H_IBC_ENABLED] == 0:  # the warps add into the shared staging
        sl = i64[H_STAGE_LEN]
        f32[i64[H_STAGE] + fill: i64[H_STAGE] + fill + frames] = 0.0
        f32[i64[H_STAGE] + sl + fill: i64[H_STAGE] + sl + fill + frames] = 0.0
    _track_listener(f64, i64, clock, frames)
    f32[i64[H_REVERB_IN]: i64[H_REVERB_IN] + frames] = 0.0
    if i64[H_FULL_SOURCES] > 0:  # level of detail (lod.py): tiers for this block, the bed's new samples
        lod_rank(f64, i64)
        sl = i64[H_STAGE_LEN]
        b = i64[H_LOD_STAGE]
        f32[b + fill * LANES: b + (fill + frames) * LANES] = 0.0
        f32[b + (sl + fill) * LANES: b + (sl + fill + frames) * LANES] = 0.0
        i64[g + G_BED_QUIET] += frames
    s = first
    ahead = (first + PREFETCH_AHEAD) % nsrc
    for _ in range(nsrc):  # round-robin start so every moving source gets its turn
        if i64[i64[H_SRC_NAP] + ahead] <= 0:
            _prefetch_source(f64, i64, ahead)
        if not _napping(i64, s, clock, frames):
            _control_source(f64, f32, i64, s, clock, frames, fill, nbins)
        s = s + 1 if s + 1 < nsrc else 0  # (not a division per source)
        ahead = ahead + 1 if ahead + 1 < nsrc else 0
    return i64[H_N_CHUNKS]


@njit(cache=True)
def _render_chunk(f64, f32, i64, ck, w):
    """The per-source phase for chunk ``ck``'s slots (:func:`_dsp_source`), as participant
    ``w``; records what its sources added into its accumulators (CK_TOUCHED)."""
    g = i64[H_GLOBAL]
    frames = i64[g + G_FRAMES]
    clock = i64[g + G_CLOCK]
    fill = i64[g + G_STAGE_FILL]
    nbins = i64[H_NFFT] // 2 + 1
    row = i64[H_CHUNKS] + ck * CK_STRIDE
    touched = 0
    end = i64[row + CK_END]
    kinds = i64[H_SRC_KIND]
    for s in range(i64[row + CK_FIRST], end):
        if s + 1 < end and f64[kinds + s + 1] != BK_NONE:
            _prefetch_ring(f64, f32, i64, s + 1, clock, frames)
        if f64[kinds + s] != BK_NONE:  # (a thousand virtual voices: not a call each)
            touched |= _dsp_source(f64, f32, i64, s, ck, w, clock, frames, fill, nbins)
    i64[row + CK_TOUCHED] = touched


@njit(cache=True, boundscheck=False)
def _reduce_chunks(f32, i64, fill, frames):
    """Add chunks 1.. accumulators into the shared regions (chunk 0 added into them
    directly), in chunk order, and clear them for the next block: the sums do not depend
    on which thread ran which chunk. Returns the TOUCH_* bits of all chunks."""
    touched_all = 0
    sl = i64[H_STAGE_LEN]
    mb = i64[H_MAX_BLOCK]
    for ck in range(i64[H_N_CHUNKS]):
        row = i64[H_CHUNKS] + ck * CK_STRIDE
        touched = i64[row + CK_TOUCHED]
        touched_all |= touched
        if ck == 0 or touched == 0:
            continue
        if touched & TOUCH_BED:
            for e in range(2):
                dst = i64[H_LOD_STAGE] + (e * sl + fill) * LANES
                src = i64[row + CK_BED] + e * mb * LANES
                for j in range(frames * LANES):
                    f32[dst + j] += f32[src + j]
                    f32[src + j] = 0.0
        if touched & TOUCH_STAGE:
            for e in range(2):
                dst = i64[H_STAGE] + e * sl + fill
                src = i64[row + CK_STAGE] + e * mb
                for j in range(frames):
                    f32[dst + j] += f32[src + j]
                    f32[src + j] = 0.0
        if touched & TOUCH_REVERB:
            dst = i64[H_REVERB_IN]
            src = i64[row + CK_REVERB]
            for j in range(frames):
                f32[dst + j] += f32[src + j]
                f32[src + j] = 0.0
    return touched_all


@njit(cache=True)
def _render_end(f64, f32, i64, out):
    """The serial epilogue: the chunks' accumulators reduced, then the hops, the output
    and the reverb."""
    n = i64[H_NFFT]
    hop = i64[H_HOP]
    nbins = n // 2 + 1
    g = i64[H_GLOBAL]
    clock = i64[g + G_CLOCK]
    fill = i64[g + G_STAGE_FILL]
    frames = i64[g + G_FRAMES]
    if _reduce_chunks(f32, i64, fill, frames) & TOUCH_BED:
        i64[g + G_BED_QUIET] = 0
    fill += frames
    i64[g + G_STAGE_FILL] = fill
    t0 = float(clock - (fill - frames))  # sample clock of staging sample 0
    off = 0
    while fill - off >= n:
        _hop(f64, f32, i64, nbins, off, t0)
        off += hop
    if off > 0:
        _slide_stages(f32, i64, off, fill - off)
        fill -= off
        i64[g + G_STAGE_FILL] = fill
    flen = i64[H_FIFO_LEN]
    fifo = i64[H_FIFO]
    rpos = i64[g + G_FIFO_READ]
    for j in range(frames):
        p = (rpos + j) % flen
        for ch in range(2):
            v = f32[fifo + 2 * p + ch]
            out[2 * j + ch] = v if math.isfinite(v) else 0.0
    i64[g + G_FIFO_READ] = (rpos + frames) % flen
    i64[g + G_FIFO_COUNT] -= frames
    _reverb(f64, f32, i64, out, frames)
    i64[g + G_CLOCK] = clock + frames
    i64[g + G_BLOCKS] += 1
