"""Indices of the int64 pool header: where each region of the three engine pools starts.

The C shim allocates three flat pools (float64, float32, int64); the kernels find every
array through these offsets, so the same kernels run over shim-owned or numpy-owned memory.
"""
MAGIC = 0x534D5731  # "SMW1"
HEADER_LEN = 97

# scalars
H_MAGIC = 0
H_N_F64 = 1
H_N_F32 = 2
H_N_I64 = 3
H_SAMPLE_RATE = 4
H_SLOTS = 5  # scalar: voice slots, max_sources plus the spares (plan.slot_count); "max_sources" in the sizes below means this
H_MAX_BLOCK = 6
H_NFFT = 7
H_HOP = 8
H_RING_LEN = 9
H_GRID_K = 10
H_IBC_ENABLED = 11
H_THETA_LEN = 12
H_DIMS_LEN = 13
H_SCRATCH_LEN = 14
H_STAGE_LEN = 15
H_FIFO_LEN = 16
H_MAX_DELAY = 17
H_IBC_PREP_LEN = 18
H_TABLE_RINGS = 19  # rings of the corrector's direction table (0: no table, evaluate only)
H_FULL_SOURCES = 24  # level of detail: sources rendered on the full path (0: no limit, no bed; lod.py)
# float64 offsets
H_LISTENER = 20
H_SRC_POSE = 21
H_SRC_PARAM = 22
H_THETA = 23
H_SCRATCH = 25
H_IBC_OUT = 26
H_BIN_W = 27
H_TWID_COS = 28
H_TWID_SIN = 29
H_SRC_STATE = 31
H_WORK = 32
H_MIX = 33
H_MIX_DELTA = 34  # float64 (4 nbins): the mix with the previous hop's gains minus this hop's
H_CONST = 35
H_LOD_SCORE = 38  # float64 (2 x max_sources): each slot's ranking score, then the candidates' copy (lod.py)
# float32 offsets
H_RING = 40
H_STAGE = 41      # corrector on: lane-major per batch of LANES slots (see render.py); off: one shared stereo stage
H_GCUR = 42       # per-bin complex gains, lane-major per batch (render._gain_base): this hop's
H_GTGT = 43       # float32, as H_GCUR: each lane's newest gain target (the hops ramp H_GCUR to it)
H_FIFO = 44
H_SINC = 45   # float32 (SINC_PHASES + 1) x SINC_TAPS sinc table, row-major
H_LANE_WORK = 46  # 2 x NFFT x LANES: re, im of LANES transforms
H_LANE_MIX = 47   # 4 x nbins x LANES: per-lane spectral mix (left re, im, right re, im)
H_TABLES32 = 48   # float32 FFT cos (NFFT), sin (NFFT)
H_LANE_RAMP = 49  # LANES: the current batch's gain-ramp fractions (of the way from H_GCUR to H_GTGT)
H_LOD_STAGE = 36  # float32 (2 x stage_len x LANES): the ambisonic bed's 16 channels, one lane-major batch (lod.py)
H_LOD_FILTERS = 37  # float32 (nbins x LANES x 8): the bed's binaural decoding filters (lod.py)
H_LOD_COEF = 39   # float32 (4 x LANES): one source's encoding coefficients and their per-sample steps
# int64 offsets
H_SRC_CTL = 50
H_DIMS = 51
H_BIN_IDX = 52
H_BITREV = 53
H_SRC_COUNT = 54
H_GLOBAL = 55
H_TDW_IDX = 56   # int64 scratch, 2 x max_block: TDW read positions of one ear's block
# float32 offsets, continued
H_TDW_OUT = 57   # 2 x max_block: the warp's output before the gain ramp and the strided store
H_BATCHES = 58   # scalar: batches of LANES source slots, ceil(max_sources / LANES)
H_IBC_PREP = 59  # float32: the corrector's prepared frequency part and hidden weights (ibc_prepare)
H_IBC_TABLE = 60  # float32: the corrector's direction table (ibc_table.py)
H_TABLE_COUNTS = 61  # int64: nodes per ring, then each ring's first node (2 x H_TABLE_RINGS)
H_TABLE_NRHO = 62  # scalar: distance rows per node
H_LF_BLEND = 64   # float64 (nbins): the corrector's low-frequency blend (corrector.lf_blend)
H_EQ = 65         # float64 (4 nbins): equaliser added to the corrector's (a, phi) per bin
H_IR_WINDOW = 66  # float64 (NFFT): window of the corrector's impulse response (corrector.ir_window)
H_GAIN_SCRATCH = 67  # float32 (4 nbins): one source's shaped gains before the strided store
H_DELAY = 68      # scalar: the corrector's modelling delay in samples (0 without a corrector)
H_LISTENER_TRACK = 69  # float64 (16): the listener's tracked motion, fields LT_* below
H_LANE_MIX_DELTA = 70  # float32: per-lane H_MIX_DELTA, as H_LANE_MIX
H_EQ_RINGS = 72   # int64: the diffuse-field equaliser's sphere (counts, offsets) during set-up
H_TONE_BANDS = 73  # float64 (tone.TONE_TABLE_ROWS x nbins): band weights and minimum phases (tone.py)
H_AIR_ALPHA = 74   # float64 (nbins): air absorption per bin, dB per metre (tone.py)
H_TONE = 75        # float32 (max_sources x 2 nbins): each source's tone response (tone.py)
H_REVERB = 76      # float64: the reverb's state (reverb.py R_*)
H_REVERB_LINES = 77  # float32: its delay lines
H_REVERB_PRE = 78  # float32: its pre-delay ring
H_REVERB_IN = 79   # float32 (max_block): this block's reverb input (the sources' sends)
H_LANE_OF = 85     # int64 (max_sources): each slot's lane of the staging and gains + 1 (0: none)
H_LANE_SLOT = 86   # int64 (batches x LANES): each lane's slot + 1 (0: free, its staging all zeros)
H_NEARFIELD = 91   # float64: the rigid-sphere near-field gain table (nearfield.py)
H_SPREAD = 92      # float32 (max_sources x 2 ears x spread.N_SECTIONS x H_SPREAD_LEN): all-pass histories
H_SPREAD_LEN = 93  # scalar: each all-pass section's history length (spread.spread_ring_len)
H_LF_PINS = 94     # float64: the corrector's low-frequency pins (corrector.lf_pins_fill)
H_SRC_KIND = 95    # float64 (max_sources): BK_NONE, BK_BED_ONLY or BK_FULL, what the control pass decided
                   # for each source (apart from its H_SRC_BLOCK row: a line holds 8 sources' kinds,
                   # so a block's thousands of virtual voices cost the chunks an eighth of a line each)
H_SRC_NAP = 96     # int64 (max_sources): blocks a virtual voice skips before its level is checked again
                   # (NAP_BLOCKS below); 0: checked this block. Anything but its motion sets it to 0
# the block's phases (render.py: a serial control pass, chunks of per-source DSP that worker
# threads may share, a serial reduction)
H_SRC_BLOCK = 80   # float64 (max_sources x BK_STRIDE): what the control pass decided for each source, fields BK_*
H_PART = 81        # int64 (participants x PT_STRIDE): each participant's scratch offsets, fields PT_*
H_PART_F64 = 82    # float64: the scratch of participants 1.. (participant 0, the audio thread, uses the regions named in PT_*)
H_PART_F32 = 83    # float32: ditto
H_PART_I64 = 84    # int64: ditto
H_CHUNKS = 87      # int64 (chunks x CK_STRIDE): each chunk's sources and accumulators, fields CK_*
H_CHUNK_ACC = 88   # float32: the accumulators of chunks 1.. (chunk 0 adds into the shared regions themselves)
H_N_CHUNKS = 89    # scalar: chunks of the per-source phase (min(max_sources, plan.WORK_CHUNKS))
H_PARTICIPANTS = 90  # scalar: 1 + the renderer's worker threads

# per-slot strides
LISTENER_LEN = 16  # px py pz qx qy qz qw - vx vy vz velocity_set, reverb settings (4)
POSE_STRIDE = 8    # px py pz qx qy qz qw -
PARAM_STRIDE = 24  # fields P_* below

# listener region fields (float64)
L_VEL = 8          # velocity xyz, native m/s (used when L_VEL_SET is 1)
L_VEL_SET = 11     # 1: the game sets the listener's velocity; 0: estimated from its poses
L_REVERB = 12      # the reverb's settings: decay time (s), pre-delay (s), hf ratio, wet gain

# per-source parameters (float64, PARAM_STRIDE per source). The first two cache lines hold
# what a virtual voice's block reads (its level and the level of detail's score), so the
# thousands of sources a crowd has cost two lines each there, not three
P_GAIN = 0
P_MIN_DISTANCE = 1
P_MAX_DISTANCE = 2
P_ROLLOFF = 3
P_TELEPORTS = 4    # teleport requests so far: the kernel treats each increment as a jump
P_CONE_INNER = 5   # degrees (full angle); 360 with P_CONE_OUTER 360: omnidirectional
P_CONE_OUTER = 6
P_CONE_OUTER_GAIN = 7      # broadband gain outside the outer cone
P_CONE_OUTER_HF = 8        # extra high-band gain outside the outer cone (tone.py); the cone's four
                           # values stay contiguous: the front ends set them as one
P_TRANSMISSION = 9         # 3 values: low, mid, high band gains (occlusion; tone.py)
P_AIR_ABSORPTION = 12      # factor on ISO 9613-1 air absorption (0: off)
P_REVERB_SEND = 13         # linear send to the renderer's reverb
P_PRIORITY = 14            # >= 0: multiplies the level the level of detail ranks by (lod.py)
P_AZIMUTH_OFFSET = 15      # degrees: the direction turned about the listener's up axis (+: to the
                           # listener's left); one voice of a stereo source sits at +-width/2
P_VEL = 16         # velocity xyz, native m/s (used when FLAG_VELOCITY is set)
P_SPREAD = 19              # degrees, 0 (a point) .. 360 (diffuse): spread.py
CTL_STRIDE = 4     # state distance_model flags status
STATE_STRIDE = 64  # per-source kernel state, fields ST_* below
COUNT_STRIDE = 4   # written gains skipped pause_offset
CNT_GAINS = 1      # the lane's gain ramp: GAINS_RAMPING or 0
GAINS_RAMPING = 1  # the hops have not reached the newest target (H_GTGT) yet
CNT_SKIPPED = 2    # frames at the queue's end left stale (skipped, or an underrun), not yet zeroed (render._settle_skipped)
CNT_PAUSE_OFFSET = 3  # frames the source has spent paused: its stream clock (the delay line's write and
                      # read position) is the renderer's clock minus this (next to its queue, so a write
                      # or a skip reads one line of the source's, and a napping voice's nothing else)

# per-source kernel state (float64, STATE_STRIDE per source). Lines 0 and 1 hold all a
# virtual voice's checked block and smw_source_is_virtual touch (its motion, voice and tier),
# so they cost two lines of state, not five
ST_TRACK = 0        # motion.TRACK_LEN (9) values: velocity xyz, observed position xyz, observation clock
                    # (motion.py), 1 + the clock the motion started at (0: not started; cleared with the
                    # slot), the estimated velocity's speed along its heading
ST_TELEPORTS_SEEN = 9   # P_TELEPORTS as of the last block
ST_VOICE = 10       # VOICE_* below: audible, or virtual (render.py _voice)
ST_SILENT = 11      # frames of silence a virtual source has staged since its fade-out
ST_TIER = 12        # level of detail: 0 on the full path, 1 in the bed (set by lod.lod_rank each block)
ST_LEVEL = 13       # the level the last block had (the ranking's input, times P_PRIORITY; -1: bypassed)
ST_BED_ON = 14      # 1: the source's bed coefficients at the end of the last block are not zero
ST_PAUSED = 15      # 1: the source was paused in its last block (a pause's fade-out block turns it 1;
                    # with the fields above, on the two lines a virtual voice's block touches)
ST_DELAY_L = 16     # the warp's current delay per ear (samples) and gain
ST_DELAY_R = 17
ST_GAIN_L = 18
ST_GAIN_R = 19
ST_PROP = 20        # propagation delay at the end of the last block (samples)
ST_OFFSET = 21      # delay offset left by a teleport, decaying (samples)
ST_BED_DELAY = 22   # its bed read delay at the end of the last block (samples)
ST_UNIT_GAINS = 23  # 1: the target is the bypass (pure delay) response
ST_UX = 24          # direction and distance the current corrector target was computed for
ST_UY = 25
ST_UZ = 26
ST_DIST = 27
ST_EXACT = 28       # 1: the target came from the network, 0: from the direction table
ST_T_PREV = 29      # sample clock the lane's current gains (H_GCUR) describe (the gain ramp's start)
ST_T_TGT = 30       # sample clock of the current target (end of the gain ramp)
ST_SEND = 31        # reverb send gain at the end of the last block
ST_HEARD = 32       # 3 values: the heard position relative to the listener at the end of the last block (motion.heard_step)
ST_SPREAD_K = 35    # the spread's all-pass coefficient at the end of the last block (0: off)
ST_SPREAD_W = 36    # spread weight (0..1) at the end of the last block
ST_SPREAD_POS = 37  # samples the spread's all-passes have processed
ST_SPREAD_TAIL = 38  # samples a stopped spread still rings out
ST_EVALUATED = 39   # 1: the corrector target is valid for this incarnation
ST_TONE = 40        # 4 values: low, mid, high band gains and air path (m) of the current target
ST_TURN = 44        # motion.TURN_LEN (4) values: the turn rate its track estimates (only while it is heard)
ST_BED = 48         # 16 values: its bed encoding coefficients (gain x SH, ACN) at the end of the last block

# listener motion (float64, H_LISTENER_TRACK)
LT_TRACK = 0        # motion.TRACK_LEN values as ST_TRACK
LT_AT_START = 9     # extrapolated position xyz at this block's start
LT_AT_END = 12      # ... and end
LT_TURN = 16        # motion.TURN_LEN values as ST_TURN
LT_LEN = 20

# source_control fields
CTL_STATE = 0
CTL_DISTANCE_MODEL = 1
CTL_FLAGS = 2
CTL_STATUS = 3
STATE_INACTIVE = 0
STATE_PLAYING = 1
STATE_RESTART = 2
STATE_STOP = 3       # the shim asks the kernel to clear the slot and go inactive
# a new incarnation of a slot whose previous one was not cleared yet (a voice stolen by
# destroy-then-create in one game tick): the first kernel to see it, a write or a render,
# clears the slot and restarts it, so the new incarnation's own samples are never wiped
STATE_RECYCLE = 4
FLAG_DOPPLER = 1
FLAG_BYPASS = 2
FLAG_PAUSED = 4
FLAG_VELOCITY = 8  # the game sets this source's velocity (otherwise estimated from poses)
# source status bits (CTL_STATUS, set by the kernels; the C API's SMW_SOURCE_STATUS_*)
STATUS_NONFINITE = 1  # a write held NaN/Inf or |x| > 1e6 and was muted
STATUS_UNDERRUN = 2   # a playing block had fewer frames queued than it rendered (silence filled in)
STATUS_PAUSED = 4     # a block was rendered while the source was paused
STATUS_PLAYING = 8    # a block of the source was rendered (not paused)
STATUS_VIRTUAL = 16   # a block of the source was inaudible and not rendered (a virtual voice)
STATUS_LOD = 32       # a block of the source was rendered in the low-cost tier (the bed, lod.py)

# virtual voices: a source whose level (gain x distance gain x cone outer gain x loudest
# transmission band) falls below VIRTUAL_THRESHOLD fades out over one block, then only its
# delay line and motion are kept current; it comes back, faded in over one block, once the
# level is VIRTUAL_HYSTERESIS above the threshold (so a source at the threshold does not flap)
VIRTUAL_THRESHOLD = 3.1622776601683794e-4   # -70 dB re full scale
VIRTUAL_HYSTERESIS = 1.4125375446227544     # +3 dB
# A virtual voice that could not come back before its next check naps: it is checked only
# every P-th block (slot s in the blocks b with (b + s) % P == 0, so the checks spread
# evenly over the blocks), and in between its block costs a compact line, not a control
# pass. P is the longest of NAP_BLOCKS_LONGEST, ..., NAP_BLOCKS (halving) for which, facing
# the listener and P blocks' travel closer at twice the teleport speed
# (motion.MAX_SPEED_FRACTION of the speed of sound, the source and the listener each), its
# level would still be NAP_MARGIN below the level at which it comes back; NAP_BLOCKS_QUIET
# if that holds at any distance (its distance model's gain at 0 m), as for a voice muted by
# its gain: then no motion can bring it back (render._nap_period). A change of its
# parameters (a teleport call included; its pose and velocity are motion, not parameters),
# its state or the reverb's settings checks it in the next block; only a jump faster than a
# teleport, not marked as one, is heard late: at its next check, at most P - 1 blocks after
# (15 at the most: NAP_BLOCKS_QUIET's voices cannot be brought back by any jump).
NAP_BLOCKS = 4
NAP_BLOCKS_LONGEST = 16
NAP_BLOCKS_QUIET = 32
NAP_MARGIN = 0.25                           # -12 dB
VOICE_AUDIBLE = 0
VOICE_TAIL = 1      # virtual, but its staged fade-out is still inside the transforms' window
VOICE_SILENT = 2    # virtual, its lane of the staging all zeros: no warp, no transform

# float64 constants region
C_SPEED_OF_SOUND = 0
C_HEAD_RADIUS = 1
C_COS_REEVAL = 2   # re-evaluate the IBC when the direction turns more than this
C_DISTANCE_RATIO_REEVAL = 3
C_EVALS_PER_512 = 4  # corrector evaluations allowed per 512 rendered frames (all sources)
C_LOOKUPS_PER_512 = 5  # direction-table lookups allowed per 512 rendered frames (all sources)
C_BED_DELAY = 6    # the bed reads a source this many samples earlier than its centre delay (lod.py)
C_LOD_HYSTERESIS = 7  # the level of detail's hysteresis, linear (setting S_LOD_HYSTERESIS_DB)
C_LEN = 8

# global int64 state
G_CLOCK = 0        # frames rendered so far
G_STAGE_FILL = 1   # valid samples in each staging buffer
G_FIFO_READ = 2
G_FIFO_COUNT = 3
G_IBC_BUDGET = 4    # evaluations left in the current render call
G_IBC_NEXT = 5      # round-robin position: the source served first next time
G_LOOKUP_BUDGET = 6  # direction-table lookups left in the current render call
G_BED_QUIET = 7     # frames since a source last encoded into the bed (>= stage_len: it is all zeros)
G_FRAMES = 8        # frames of the block being rendered (set by the control pass for the chunks)
G_BLOCKS = 9        # blocks rendered so far (staggers the virtual voices' checks: NAP_BLOCKS)
G_LEN = 10

# a participant's scratch offsets (H_PART rows)
PT_TDW_OUT = 0     # float32, 2 x max_block (H_TDW_OUT)
PT_TDW_IDX = 1     # int64, 2 x max_block (H_TDW_IDX)
PT_LOD_COEF = 2    # float32, 6 x LANES (H_LOD_COEF)
PT_GAIN_SCRATCH = 3  # float32, 4 nbins (H_GAIN_SCRATCH)
PT_SCRATCH = 4     # float64, H_SCRATCH_LEN (H_SCRATCH)
PT_IBC_OUT = 5     # float64, 4 x grid points (H_IBC_OUT)
PT_WORK = 6        # float64, 2 x NFFT (H_WORK)
PT_STRIDE = 8

# a chunk (H_CHUNKS rows): its slots and, for chunks 1.., its accumulators (float32 offsets,
# each block's samples from 0: the bed 2 x max_block x LANES, the shared staging 2 x max_block,
# the reverb input max_block)
CK_FIRST = 0
CK_END = 1
CK_TOUCHED = 2     # TOUCH_* bits: what this block's sources added into its accumulators
CK_BED = 3
CK_STAGE = 4
CK_REVERB = 5
CK_STRIDE = 8
TOUCH_BED = 1
TOUCH_STAGE = 2
TOUCH_REVERB = 4

# what the control pass decided for a source this block (H_SRC_BLOCK rows, float64)
BK_BED = 1         # 1: it encodes into the bed this block (as well, for BK_FULL)
BK_FRESH = 2       # 1: its motion started this block
BK_TELEPORT = 3
BK_REL = 4         # 3 values: its position relative to the listener, listener frame, at the block's end
BK_DIST = 7
BK_CONE = 8
BK_TONE = 9        # 4 values: low, mid, high band gains and air path (m)
BK_D_BED = 13      # the bed's read delay at the block's end (samples), and its gain
BK_G_BED = 14
BK_DL = 15         # the warp's targets: delays (samples) and gains per ear
BK_DR = 16
BK_GL = 17
BK_GR = 18
BK_TARGET = 19     # TARGET_* below: the corrector target this block computes
BK_RETONE = 20     # 1: the tone's response is recomputed first
BK_RESTART = 21    # 1: gains are set at once (no ramp)
BK_U = 22          # 3 values: the unit direction the target is computed for
BK_SILENCED = 25   # 1: it fades out this block (paused or destroyed): its reverb send too
BK_STRIDE = 32
BK_NONE = 0.0      # (H_SRC_KIND values)
BK_BED_ONLY = 1.0
BK_FULL = 2.0
TARGET_NONE = 0.0
TARGET_UNIT = 1.0  # the bypass response (the modelling delay alone)
TARGET_TABLE = 2.0
TARGET_EXACT = 3.0

# write() results
WRITE_OK = 0
WRITE_NONFINITE = 1
WRITE_FULL = 2
WRITE_BAD_SLOT = 3
