/*
 * spatialmw.h -- public C API of spatialmw, binaural (headphone) spatial audio for games.
 *
 * Every source is rendered by Lite-INN: a per-ear time-domain warp (ITD, propagation
 * delay, distance gain, exact Doppler) followed by an implicit neural binaural corrector
 * (head shadow, pinna cues): per-bin gains whose impulse response fits the frame, applied
 * by overlap-save convolution, so a static source is a linear time-invariant filter.
 *
 * ---------------------------------------------------------------------------------
 * QUICK START
 *
 *     smw_renderer_settings s = smw_renderer_settings_default();
 *     s.sample_rate = 48000; s.max_block_frames = 512; s.max_sources = 64;
 *     s.coordinate_system = SMW_COORDS_UNITY;
 *     smw_renderer* r = NULL;
 *     if (smw_renderer_create(&s, &r) != SMW_SUCCESS)
 *         fprintf(stderr, "spatialmw: %s\n", smw_last_error(NULL));
 *
 *     smw_source src;  smw_source_create(r, &src);          // game thread
 *     smw_source_set_pose(r, src, pos, quat);               // game thread, every frame
 *     smw_listener_set_pose(r, pos, quat);                  // game thread, every frame
 *
 *     smw_source_write(r, src, mono, 512);                  // audio thread, per block
 *     smw_render(r, stereo_interleaved, 512);               // audio thread, per block
 *
 *     smw_source_destroy(r, src);  smw_renderer_destroy(r);
 *
 * ---------------------------------------------------------------------------------
 * THREADING
 *
 * - "Game thread" calls (smw_source_create[_stereo]/destroy, smw_*_set_*) may be made from any
 *   thread, concurrently with the audio thread. They publish their values lock-free
 *   (a sequence lock per source and one for the listener); the audio thread picks up the
 *   newest consistent values at the start of the next smw_render() and never waits for
 *   a writer (if a writer is mid-update it keeps the previous value for that block).
 * - "Audio thread" calls (smw_source_write, smw_source_write_stereo, smw_source_skip,
 *   smw_source_is_virtual, smw_render) must all be made from ONE
 *   thread at a time (the audio thread). They are real-time safe: no locks, no heap
 *   allocation, no I/O. They run kernels compiled ahead of time from the numba sources
 *   through plain C function pointers.
 * - smw_renderer_create() / smw_renderer_destroy() are control calls: they read the model
 *   asset, build the corrector's tables (create) and allocate memory.
 *   Never call them on the audio thread. smw_renderer_destroy() must not run concurrently
 *   with any other call on the same renderer.
 *
 * ---------------------------------------------------------------------------------
 * ERRORS
 *
 * Every fallible call returns an smw_result. No call aborts the process, and no input
 * (NaN/Inf samples or poses, zero quaternions, stale handles, wrong frame counts...)
 * can put NaN into the output. smw_result_string() names a code; smw_last_error() gives
 * a sentence about the calling thread's most recent failure on a renderer. An optional
 * log callback (smw_renderer_settings.log_callback) also receives creation and the
 * failures of game-thread and control calls, never anything from the audio thread.
 *
 * Safety of calls on invalid objects:
 *   - a NULL renderer pointer returns SMW_ERROR_NULL_POINTER from every call (and
 *     smw_renderer_destroy(NULL) is a no-op);
 *   - a renderer pointer that has already been passed to smw_renderer_destroy() is a
 *     dangling pointer: using it is undefined behaviour, exactly as with free()d memory.
 *     The library cannot detect it. Set your pointer to NULL after destroying.
 *   - source handles ARE validated: a destroyed (stale), never-issued or zero handle
 *     returns SMW_ERROR_INVALID_HANDLE, and smw_last_error() says which of the three it
 *     was; double destroy returns SMW_ERROR_INVALID_HANDLE.
 *
 * ---------------------------------------------------------------------------------
 * LIMITS (a value outside them is rejected with the code the function documents)
 *
 *   max_block_frames 1..16384        max_sources 1..4096          sample rates 44.1/48/96 kHz
 *   |position| <= 1e6 m               |velocity| <= 1e6 m/s        speed of sound 1..10000 m/s
 *   0 < min_distance <= max_distance <= 2e6 m                      0 <= rolloff <= 1000
 *   source and master gains 0..1000   on/off flags exactly 0 or 1  |sample| <= 1e6 (else muted)
 *   (distances in the renderer's units: 2e6 m is 2e8 cm in SMW_COORDS_UNREAL)
 *
 * ---------------------------------------------------------------------------------
 * COORDINATE SYSTEMS
 *
 * Positions are in the caller's coordinate system and units (chosen once at creation);
 * orientations are unit quaternions (x, y, z, w) rotating the body frame into the world
 * frame. A listener with the identity quaternion faces the system's "forward" axis with
 * the system's "up" axis up.
 *
 *   SMW_COORDS_NATIVE  right-handed, +x forward, +y left, +z up, metres (SOFA / AES69)
 *   SMW_COORDS_UNITY   left-handed,  +x right, +y up, +z forward, metres
 *   SMW_COORDS_UNREAL  left-handed,  +x forward, +y right, +z up, CENTIMETRES
 *   SMW_COORDS_OPENAL  right-handed, +x right, +y up, -z forward, metres (also OpenGL)
 *
 * Conversion to native happens inside the call (native = M * v * scale; quaternion
 * axes map as det(M) * M * axis), identical to spatialmw.geometry.COORDINATE_SYSTEMS.
 */
#ifndef SPATIALMW_H
#define SPATIALMW_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(_WIN32)
#  if defined(SMW_BUILDING_LIBRARY)
#    define SMW_API __declspec(dllexport)
#  else
#    define SMW_API __declspec(dllimport)
#  endif
#else
#  define SMW_API __attribute__((visibility("default")))
#endif

/* ================================================================================
 * Version
 * ================================================================================ */

#define SMW_VERSION_MAJOR 0
#define SMW_VERSION_MINOR 4
#define SMW_VERSION_PATCH 0

/** Pack a version: major in bits 22..31, minor in bits 12..21, patch in bits 0..11. */
#define SMW_MAKE_VERSION(major, minor, patch) \
    ((((uint32_t)(major)) << 22) | (((uint32_t)(minor)) << 12) | ((uint32_t)(patch)))
#define SMW_VERSION_GET_MAJOR(v) ((uint32_t)(v) >> 22)
#define SMW_VERSION_GET_MINOR(v) (((uint32_t)(v) >> 12) & 0x3FFu)
#define SMW_VERSION_GET_PATCH(v) ((uint32_t)(v) & 0xFFFu)
/** The version of this header. Compare with smw_get_version() at run time: the library
 *  is compatible when the major numbers are equal and the library's minor >= header's. */
#define SMW_VERSION SMW_MAKE_VERSION(SMW_VERSION_MAJOR, SMW_VERSION_MINOR, SMW_VERSION_PATCH)

/** The library's version, packed as SMW_MAKE_VERSION(major, minor, patch). Never fails. */
SMW_API uint32_t smw_get_version(void);

/* ================================================================================
 * Results
 * ================================================================================ */

typedef int32_t smw_result;
enum {
    SMW_SUCCESS = 0,
    SMW_ERROR_INVALID_ARGUMENT = 1,      /**< a value out of range or malformed (NaN/Inf pose, zero quaternion, |position| > 1e6 m, bad distance model...) */
    SMW_ERROR_NULL_POINTER = 2,          /**< a required pointer argument was NULL */
    SMW_ERROR_INVALID_HANDLE = 3,        /**< source handle never issued, already destroyed (stale), or zero */
    SMW_ERROR_OUT_OF_SOURCES = 4,        /**< max_sources voices are live (a destroyed source's place is reusable at once) */
    SMW_ERROR_UNSUPPORTED_SAMPLE_RATE = 5, /**< sample rate is not 44100, 48000 or 96000 */
    SMW_ERROR_FRAME_COUNT = 6,           /**< frames < 1 or > max_block_frames */
    SMW_ERROR_MODEL_LOAD = 7,            /**< model file missing, unreadable, corrupt or incompatible */
    SMW_ERROR_BUFFER_FULL = 8,           /**< smw_source_write: more than max_block_frames pending for the source; block rejected */
    SMW_ERROR_NONFINITE_INPUT = 9,       /**< smw_source_write: samples contained NaN/Inf or |x| > 1e6; the block was replaced by silence (other sources unaffected) */
    SMW_ERROR_PYTHON_INIT = 10,          /**< not returned since 0.1 (the library no longer embeds Python); kept for source compatibility */
    SMW_ERROR_OUT_OF_MEMORY = 11,        /**< allocation failed (control calls only) */
    SMW_ERROR_NOT_INITIALIZED = 12,      /**< the renderer is not (or no longer) usable */
    SMW_ERROR_SETTINGS_SIZE = 13,        /**< smw_renderer_settings.size (or smw_model_info.size) is not a size this library knows */
    SMW_ERROR_INTERNAL = 14,             /**< a bug in spatialmw; smw_last_error() has details; output was silenced */
    SMW_ERROR_UNSUPPORTED_CPU = 15,      /**< smw_renderer_create: the CPU lacks a feature of the x86-64-v3 baseline (AVX2, FMA, BMI2); smw_last_error() names it */
    SMW_ERROR_CHANNEL_MISMATCH = 16      /**< a mono call on a stereo source (smw_source_write) or a stereo call on a mono source (smw_source_write_stereo, smw_source_set_stereo_width) */
};

/** Static, never-NULL English name of a result code ("SMW_ERROR_INVALID_HANDLE: ..."). */
SMW_API const char* smw_result_string(smw_result result);

/* ================================================================================
 * Renderer
 * ================================================================================ */

/** Opaque renderer: one listener, up to max_sources sources, one stereo output. */
typedef struct smw_renderer smw_renderer;

typedef enum {
    SMW_COORDS_NATIVE = 0,
    SMW_COORDS_UNITY = 1,
    SMW_COORDS_UNREAL = 2,
    SMW_COORDS_OPENAL = 3
} smw_coordinate_system;

/** Severity of a log message. */
typedef enum {
    SMW_LOG_ERROR = 1,    /**< a call failed (the message is smw_last_error()'s text) */
    SMW_LOG_WARNING = 2,  /**< reserved */
    SMW_LOG_INFO = 3      /**< the renderer was created (version, rate, sizes, model, latency) */
} smw_log_level;

/** A log sink: `level` is an smw_log_level, `message` a NUL-terminated sentence valid only
 *  during the call. Called from smw_renderer_create (on the creating thread) and from
 *  failing game-thread calls (on the thread that made them, possibly several at once: it
 *  must be thread-safe), NEVER from smw_render or smw_source_write, so it may lock, allocate
 *  or print. It must not call back into the renderer. */
typedef void (*smw_log_callback)(void* user_data, int32_t level, const char* message);

/** Creation settings. Always start from smw_renderer_settings_default() so that fields
 *  added in later versions get their defaults; `size` lets the library tell which
 *  version of the struct the caller was compiled against. */
typedef struct {
    uint32_t size;               /**< sizeof(smw_renderer_settings); set by the default function */
    int32_t sample_rate;         /**< 44100, 48000 or 96000 Hz. Default 48000 */
    int32_t max_block_frames;    /**< largest frame count per smw_render/smw_source_write call. Default 1024 */
    int32_t max_sources;         /**< live voices at most, a stereo source counting two (1..4096). Default 64.
                                      The renderer holds max(4, max_sources / 64) slots more, which
                                      only take a new voice while a destroyed one fades out
                                      (smw_source_destroy) */
    const char* model_path;      /**< Lite-INN model asset (.smwm, from `spatialmw export model.npz -o model.smwm`);
                                      NULL = share/spatialmw/default.smwm beside the library's lib/ directory.
                                      Read during create only */
    int32_t coordinate_system;   /**< an smw_coordinate_system. Default SMW_COORDS_NATIVE */
    int32_t enable_corrector;    /**< 1 = full Lite-INN (TDW + IBC), 0 = time-domain warp only (cheaper); any
                                      other value: SMW_ERROR_INVALID_ARGUMENT. Default 1 */
    float corrector_table_step_deg; /**< spacing of the corrector's direction table, 0.5..30 degrees,
                                      or 0 for none. Moving sources read the table every block they
                                      move (about 19 MB and 0.1-0.5 s of creation at 3 degrees);
                                      without it every update evaluates the network (~14 us), under a
                                      budget of 16 per block. Default 3 */
    /* --- added in 0.2 (a 0.1 struct, sizeof without these two fields, is still accepted) --- */
    float speed_of_sound;        /**< metres per second (in every coordinate system), 1..10000:
                                      propagation delay and Doppler. Default 343 */
    int32_t equalization;        /**< an smw_equalization. Default SMW_EQUALIZATION_NONE */
    /* --- added in 0.3 (0.2 and 0.1 structs, sizeof without these fields, are still accepted) --- */
    smw_log_callback log_callback; /**< NULL = no logging (default). See smw_log_callback */
    void* log_user_data;         /**< passed to log_callback. Default NULL */
    int32_t hop_frames;          /**< low-latency mode: the overlap-save hop, 256, 128 or 64 frames. The
                                      algorithmic latency is hop_frames plus the corrector's modelling
                                      delay (268, 140 or 76 frames at 48 kHz; smw_renderer_get_latency);
                                      the filters are the same, the transform cost per source is 1x, 2x
                                      or 4x. Default 256 */
    /* --- added in 0.4 (0.3, 0.2 and 0.1 structs, sizeof without these fields, are still accepted;
     *     two fields, so that this struct's sizeof differs from 0.3's padded one) --- */
    int32_t full_sources;        /**< level of detail: each block the loudest full_sources audible sources
                                      (level x smw_source_set_priority, lod_hysteresis_db) take the full
                                      Lite-INN path; the others share a 3rd-order ambisonic bed decoded
                                      once per block through the corrector, at a small constant cost per
                                      source (a source changing tier is crossfaded over one block).
                                      0..4096; 0 = no limit (every source on the full path). Needs the
                                      corrector (ignored with enable_corrector = 0). Default 64 */
    float lod_hysteresis_db;     /**< a source on the full path keeps its place against sources up to
                                      this much louder (x priority), so near-equal sources do not swap
                                      tiers back and forth. 0..20 dB. Default 3 */
    /* --- added after 0.4 (a 0.4 struct, sizeof without these two fields, is still accepted;
     *     two, so that this struct's sizeof differs from 0.4's padded one) --- */
    int32_t worker_threads;      /**< threads that smw_renderer_create starts to share each block's
                                      per-source work (warp, bed, spread, reverb send, corrector
                                      target) with the thread calling smw_render, which still runs
                                      the rest (control, transforms, reverb) alone. 0..8; 0 = none,
                                      the audio thread does everything. The output is bit-identical
                                      whatever the count. The threads, named "smw-worker-N", inherit
                                      the scheduling policy and priority of the thread calling
                                      smw_renderer_create (never higher), take work without locks
                                      (atomic counters), spin briefly after a block and then sleep
                                      on a futex; smw_render wakes them with one non-blocking
                                      system call and then works on the block itself. smw_render
                                      can wait only for a chunk (1/16 of the sources) that a worker
                                      has already started: create the renderer from a thread at
                                      the audio thread's priority, or a preempted worker delays
                                      the block by as long as the OS keeps it off a core.
                                      Worth it only with spare cores (docs/PERFORMANCE.md,
                                      "Worker threads"). Default 0 */
    int32_t reserved;            /**< must be 0 (default): room for the next setting */
} smw_renderer_settings;

/** Which frequency response the corrector renders. */
typedef enum {
    SMW_EQUALIZATION_NONE = 0,          /**< the measured HRTF as fitted (free-field) */
    SMW_EQUALIZATION_DIFFUSE_FIELD = 1  /**< divided by its power average over all directions
                                             (minimum phase), as OpenAL Soft's and makemhr's data */
} smw_equalization;

/** Defaults: 48000 Hz, 1024-frame blocks, 64 sources, default model, native coordinates,
 *  corrector on with a 3-degree direction table, 343 m/s, no equalization, no log, 256-frame
 *  hops, 64 full-path sources with 3 dB hysteresis, no worker threads. */
SMW_API smw_renderer_settings smw_renderer_settings_default(void);

/** Create a renderer. Control call: reads the model asset and builds the corrector's
 *  direction table (tens of milliseconds). Allocates all memory the renderer will ever use.
 *  On failure *out_renderer is set to NULL and smw_last_error(NULL) describes why
 *  (on the calling thread).
 *  @return SMW_SUCCESS, SMW_ERROR_NULL_POINTER, SMW_ERROR_SETTINGS_SIZE,
 *          SMW_ERROR_UNSUPPORTED_SAMPLE_RATE, SMW_ERROR_INVALID_ARGUMENT,
 *          SMW_ERROR_MODEL_LOAD, SMW_ERROR_UNSUPPORTED_CPU, SMW_ERROR_OUT_OF_MEMORY. */
SMW_API smw_result smw_renderer_create(const smw_renderer_settings* settings,
                                       smw_renderer** out_renderer);

/** Destroy a renderer and free its memory. NULL is a no-op. Must not run concurrently
 *  with any other call on this renderer; afterwards the pointer is dangling (UB to use). */
SMW_API void smw_renderer_destroy(smw_renderer* renderer);

/** Algorithmic latency in frames: with Doppler on (the default), input sample n of a source
 *  at distance d appears at the output at n + latency + d / speed_of_sound (in frames;
 *  d >= 8 frames' travel, about 6 cm, below which the warp's minimum delay of 8 frames
 *  holds, and up to the delay line's reach: L - max_block_frames - 8 frames, L the power of
 *  two >= sample_rate + max_block_frames + 8, at least 1 s (1.35 s at 48 kHz with 512-frame
 *  blocks: 465 m at 343 m/s); a farther source keeps that delay, so its Doppler shift
 *  stops there). 256 frames (one hop of the overlap-save convolution) plus, with the corrector on,
 *  its modelling delay (12 frames at 48 kHz, 11 at 44.1 and 24 at 96 kHz). With Doppler off
 *  the distance adds nothing and a fixed 8 frames plus head radius / speed_of_sound (the
 *  interaural delays' reference; 20 frames at 48 kHz with the shipped model) take its
 *  place. Measured end to end with an impulse in tests/test_lifecycle.py. */
SMW_API smw_result smw_renderer_get_latency(const smw_renderer* renderer, int32_t* out_frames);

/** Text describing the calling thread's most recent failed call on `renderer`, or "" if
 *  this thread has none (each thread has its own: a failure on the audio thread does not
 *  replace the game thread's). A thread remembers its last failure on each of the 4
 *  renderers it failed on most recently. With renderer == NULL: the most recent
 *  smw_renderer_create() failure on the calling thread. The text is static (for NULL: valid
 *  until the next create on this thread). Never returns NULL. */
SMW_API const char* smw_last_error(const smw_renderer* renderer);

/** The renderer's master gain (game thread): linear, finite, 0..1000, default 1. Applied
 *  to the output after everything else, ramped linearly across the next smw_render's
 *  block (no click).
 *  @return SMW_SUCCESS, SMW_ERROR_NULL_POINTER, SMW_ERROR_INVALID_ARGUMENT. */
SMW_API smw_result smw_renderer_set_master_gain(smw_renderer* renderer, float gain);

/** Pause (1) / resume (0) the whole renderer (game thread): the next smw_render fades the
 *  output out across its block (it still renders that block), the blocks after it are
 *  silence and nothing advances: every source's stream time, the motion and the output
 *  stream stand still, as for a paused source (smw_source_set_paused). Writes queue up to
 *  max_block_frames per source, then return SMW_ERROR_BUFFER_FULL; game-thread calls keep
 *  working and take effect on resume. On resume the output continues exactly where it
 *  stopped, faded in across the first block. Sources report SMW_SOURCE_STATUS_PAUSED.
 *  @return SMW_SUCCESS, SMW_ERROR_NULL_POINTER, SMW_ERROR_INVALID_ARGUMENT (not 0 or 1). */
SMW_API smw_result smw_renderer_set_paused(smw_renderer* renderer, int32_t paused);

/** What a renderer runs. Set `size` to sizeof(smw_model_info) before the call. */
typedef struct {
    uint32_t size;               /**< sizeof(smw_model_info), set by the caller */
    int32_t sample_rate;         /**< the renderer's sample rate (Hz) */
    int32_t fitted_sample_rate;  /**< the rate the model was fitted at (Hz), 0 if the asset does not say or the corrector is off */
    int32_t corrector_enabled;   /**< 1: Lite-INN's corrector runs; 0: time-domain warp only */
    int64_t parameter_count;     /**< the corrector network's parameters (0 with the corrector off) */
    int32_t grid_points;         /**< frequency points of the model's grid (0 with the corrector off) */
    float head_radius_m;         /**< the head radius of the interaural delays (metres) */
    float corrector_table_step_deg; /**< spacing of the direction table, 0 = none (or corrector off) */
    int32_t latency_frames;      /**< as smw_renderer_get_latency */
} smw_model_info;

/** Fill *out (game thread).
 *  @return SMW_SUCCESS, SMW_ERROR_NULL_POINTER, SMW_ERROR_SETTINGS_SIZE (out->size is not
 *          sizeof(smw_model_info)). */
SMW_API smw_result smw_renderer_get_model_info(const smw_renderer* renderer, smw_model_info* out);

/* ================================================================================
 * Listener
 * ================================================================================ */

/** Set the listener pose (game thread). position: 3 floats in the renderer's coordinate
 *  system; quat: (x, y, z, w) of any length (the renderer normalises it). Rejected
 *  (previous pose kept) with SMW_ERROR_INVALID_ARGUMENT when any value is NaN/Inf,
 *  |quat| < 1e-6, or the position is farther than 1e6 m from the origin.
 *  Timing (listener and sources): the position is where the body is when you set it (set
 *  the current position, not a predicted one). A game thread sets poses at any time
 *  between two smw_render calls, so the renderer takes the newest pose as the position
 *  half a block before the start of the next block it renders, and moves it on across the
 *  block with the velocity: a given velocity in a straight line, an estimated one along the
 *  arc the poses turn on (smw_listener_set_velocity). An offline host that
 *  knows the path gives, for a block from p0 to p1 lasting T seconds, the velocity
 *  (p1 - p0) / T and the position p0 - (p1 - p0) / 2: the block then starts at p0 and
 *  ends at p1. The orientation is not extrapolated: it is reached at the block's end.
 *  A new pose that lands up to half a block's motion away from where the renderer had
 *  moved the body (its age is unknown) is eased into the ear cues over 0.25 s instead of
 *  stepping them; a larger difference is followed at once. */
SMW_API smw_result smw_listener_set_pose(smw_renderer* renderer, const float position[3],
                                         const float quat[4]);

/** The listener's velocity (game thread): 3 floats in the renderer's coordinate system and
 *  units per second. Doppler and the listener's motion between pose updates follow it
 *  (poses arrive at the game's frame rate, not the audio block rate). Until this is called
 *  the velocity is estimated from the poses as they arrive (the speed averaged over 0.3 s,
 *  the heading the newest move's, turning at the rate the last moves turned (averaged over
 *  0.1 s; between poses the body follows that arc), a move back against it slowing the
 *  estimate through rest: exact on straight paths, close on curves (on a circle the
 *  heading is off by up to about 3 %: a pose's age is known only to half a block), steady
 *  under jitter). A given velocity is followed in a straight line. Rejected with
 *  SMW_ERROR_INVALID_ARGUMENT when a value is NaN/Inf or the speed exceeds 1e6 m/s. */
SMW_API smw_result smw_listener_set_velocity(smw_renderer* renderer, const float velocity[3]);

/* ================================================================================
 * Sources
 * ================================================================================ */

/** Source handle: slot index + 1 in bits 0..15, generation in bits 16..31. 0 is never a
 *  valid handle. A handle becomes stale when its source is destroyed; stale handles are
 *  detected until the same slot has been reused 65536 times. */
typedef uint32_t smw_source;
#define SMW_SOURCE_INVALID ((smw_source)0)

typedef enum {
    SMW_DISTANCE_NONE = 0,             /**< no distance attenuation */
    SMW_DISTANCE_INVERSE_CLAMPED = 1,  /**< min / (min + rolloff * (clamp(d) - min)) (OpenAL) */
    SMW_DISTANCE_LINEAR = 2            /**< 1 - rolloff * (clamp(d) - min) / (max - min), >= 0 */
} smw_distance_model;

/** Create a source (game thread). New sources: gain 1, inverse-clamped distance model
 *  (min 1 m, max 1e6 m, rolloff 1), Doppler on, spatialised, playing, at the origin with
 *  identity orientation. The origin is the default listener's own position: a source there
 *  has no direction of its own and is rendered straight ahead at min_distance, so set its
 *  pose before its first block (the Python Engine starts a source at the same place). The
 *  audio thread starts it (clears its history) at its next smw_source_write or smw_render.
 *  A destroyed source's place is reusable at once: destroying the oldest voice and
 *  creating the new one in the same game tick (voice stealing) succeeds, and the old voice
 *  fades out in its own slot (smw_source_destroy), without waiting for either thread.
 *  @return SMW_SUCCESS, SMW_ERROR_NULL_POINTER, SMW_ERROR_OUT_OF_SOURCES (max_sources
 *          sources are alive). */
SMW_API smw_result smw_source_create(smw_renderer* renderer, smw_source* out_source);

/** Create a stereo (two-channel) source (game thread), placed as two virtual points: its
 *  left channel width_deg / 2 degrees to the listener's left of the source's direction, its
 *  right channel as far to the right, turned about the listener's up axis every block (so
 *  the pair keeps its width, left on the left, as the listener turns; distance and
 *  elevation are the source's). width_deg 0..180 (a typical width: 60); 0 puts both
 *  channels at the source (identical channels then render as a mono source would).
 *  A stereo source is two voices: it counts TWICE towards max_sources, and is refused
 *  with SMW_ERROR_OUT_OF_SOURCES when fewer than two are free (nothing is claimed then).
 *  Its one handle takes every smw_source_* call, which acts on both voices (destroy, pose,
 *  velocity, teleport, gain, distance model, Doppler, spatialise, pause, cone, transmission,
 *  air absorption, spread, reverb send); smw_source_get_status returns the OR of the two
 *  voices' bits. Feed it with smw_source_write_stereo (smw_source_write returns
 *  SMW_ERROR_CHANNEL_MISMATCH). Otherwise it starts as smw_source_create's sources do.
 *  @return SMW_SUCCESS, SMW_ERROR_NULL_POINTER, SMW_ERROR_INVALID_ARGUMENT (width NaN or
 *          outside [0, 180]), SMW_ERROR_OUT_OF_SOURCES (fewer than two free slots). */
SMW_API smw_result smw_source_create_stereo(smw_renderer* renderer, float width_deg, smw_source* out_source);

/** A stereo source's width, 0..180 degrees (game thread; the voices move to their new
 *  directions like a moving source's, ramped).
 *  @return SMW_SUCCESS, SMW_ERROR_NULL_POINTER, SMW_ERROR_INVALID_HANDLE,
 *          SMW_ERROR_CHANNEL_MISMATCH (a mono source), SMW_ERROR_INVALID_ARGUMENT (NaN or
 *          outside [0, 180]). */
SMW_API smw_result smw_source_set_stereo_width(smw_renderer* renderer, smw_source source, float width_deg);

/** Destroy a source (game thread). The handle is invalid immediately, and the next
 *  smw_source_create may take its place (destroy-then-create in one tick steals a voice,
 *  also at full capacity). A source heard in the last block fades out across the next
 *  smw_render's block (what its delay line still holds, no click), and its slot is cleared
 *  once that fade has left the corrector's frame (one or two blocks). Meanwhile new voices
 *  take other slots: the renderer holds max(4, max_sources / 64) slots beyond max_sources
 *  for this. Only when more voices are fading than those spares allow does a create take a
 *  fading voice's slot and cut its fade short; to steal more voices than that per tick
 *  without a click, set the victims' gain to 0 (ramped across one block) and destroy them
 *  in the next tick.
 *  @return SMW_SUCCESS, SMW_ERROR_NULL_POINTER, SMW_ERROR_INVALID_HANDLE (incl. double destroy). */
SMW_API smw_result smw_source_destroy(smw_renderer* renderer, smw_source source);

/** Set a source's pose (game thread); same validation and timing as smw_listener_set_pose.
 *  The orientation matters for directional sources (smw_source_set_cone); pass identity
 *  if unsure. */
SMW_API smw_result smw_source_set_pose(smw_renderer* renderer, smw_source source,
                                       const float position[3], const float quat[4]);

/** The source's velocity (game thread), validated as smw_listener_set_velocity: exact (retarded-time)
 *  Doppler and the motion between pose updates follow it. Set it every frame with the pose
 *  (it should be the derivative of the positions you set). Until this is called for a
 *  source, its velocity is estimated from its poses, as the listener's. */
SMW_API smw_result smw_source_set_velocity(smw_renderer* renderer, smw_source source,
                                           const float velocity[3]);

/** Mark the source's next pose as a jump (game thread): instead of sweeping the Doppler
 *  shift across the distance, the delay line keeps playing on (nothing is replayed or
 *  skipped; the remaining delay offset fades at an inaudible 0.2 % rate) and the old and
 *  new positions crossfade over one block. Jumps faster than 0.9 x the speed of sound are
 *  treated this way without the call; slower ones glide like fast motion. */
SMW_API smw_result smw_source_teleport(smw_renderer* renderer, smw_source source);

/** Linear gain, finite and in [0, 1000]. */
SMW_API smw_result smw_source_set_gain(smw_renderer* renderer, smw_source source, float gain);

/** Distance attenuation. Requires finite values, 0 < min_distance <= max_distance <= 2e6 m,
 *  0 <= rolloff <= 1000. Distances are in the renderer's units (centimetres for Unreal;
 *  the 2e6 m bound applies after conversion). */
SMW_API smw_result smw_source_set_distance_model(smw_renderer* renderer, smw_source source,
                                                 int32_t model, float min_distance,
                                                 float max_distance, float rolloff);

/** Doppler shift on (1) / off (0); any other value: SMW_ERROR_INVALID_ARGUMENT. Off: only
 *  the interaural part of the delay moves. */
SMW_API smw_result smw_source_set_doppler(smw_renderer* renderer, smw_source source, int32_t enabled);

/** Spatialisation on (1) / off (0 = bypass: the mono signal goes to both ears, gain
 *  applied); any other value: SMW_ERROR_INVALID_ARGUMENT. */
SMW_API smw_result smw_source_set_spatialize(smw_renderer* renderer, smw_source source, int32_t enabled);

/** Pause (1) / resume (0); any other value: SMW_ERROR_INVALID_ARGUMENT. A source heard in
 *  the last block fades out across the next smw_render's block, its stream time still
 *  running (that block plays what was queued for it, fading); then its stream time stops
 *  (a source not heard stops at once). On resume it fades in across the first block and
 *  continues where its stream stopped: what was queued, and its delay line's history, play
 *  as if the pause had not happened, apart from the two fades (no clicks). While paused,
 *  one block of writes queues (it plays first on resume); further writes return
 *  SMW_ERROR_BUFFER_FULL and are not queued, including one made before the first render
 *  after resume. A host whose decoder pauses with the source stops writing and writes
 *  again in the tick it resumes (nothing is lost); a host that keeps writing may ignore
 *  that code (what it wrote while paused, beyond the one block, is dropped). A paused
 *  source is never reported virtual (smw_source_is_virtual). Its position and motion keep
 *  following the renderer's time. */
SMW_API smw_result smw_source_set_paused(smw_renderer* renderer, smw_source source, int32_t paused);

/** Source status bits (smw_source_get_status). Sticky: set by the audio thread, cleared
 *  when read. */
enum {
    SMW_SOURCE_STATUS_NONFINITE_MUTED = 1, /**< a write held NaN/Inf or |x| > 1e6 and was muted */
    SMW_SOURCE_STATUS_UNDERRUN = 2,        /**< a playing block had fewer frames written than it rendered (silence played) */
    SMW_SOURCE_STATUS_PAUSED = 4,          /**< a block was rendered while the source (or the renderer) was paused */
    SMW_SOURCE_STATUS_PLAYING = 8,         /**< a block of the source was rendered, not paused */
    SMW_SOURCE_STATUS_VIRTUAL = 16,        /**< a block of the source was inaudible: a virtual voice (below) */
    SMW_SOURCE_STATUS_LOD = 32             /**< a block of the source was rendered in the level of detail's
                                                bed (smw_renderer_settings.full_sources) */
};

/** Virtual voices. A playing source whose level -- gain x distance attenuation x the
 *  cone's outer gain where the listener is outside the cone x its loudest transmission
 *  band -- is below SMW_VIRTUAL_THRESHOLD (-70 dB re full scale; 0 beyond max_distance
 *  with SMW_DISTANCE_LINEAR), and whose reverb send (x gain x cone x mid band x the
 *  reverb's wet gain; the room hears the emitted sound, with no distance gain) is below it
 *  too, fades out over one block, then costs little: no warp, no
 *  transform (it gives back its lane of the transforms, which are packed 8 to a batch for
 *  the sources being rendered). What it still costs is its pose, and its write if the game
 *  writes it. It needs none: a block of a source the last block left virtual
 *  (smw_source_is_virtual) that the game neither writes nor skips advances its stream by
 *  silence, as smw_source_skip would, without SMW_SOURCE_STATUS_UNDERRUN. Its delay line
 *  keeps what is written and its motion stays tracked,
 *  so when its level rises SMW_VIRTUAL_HYSTERESIS_DB above the threshold it comes back
 *  like a new source at the current pose and delay, faded in over one block (with the
 *  level of detail on, in the tier it last had: it is ranked again from its next block). A
 *  virtual source reports SMW_SOURCE_STATUS_VIRTUAL instead of SMW_SOURCE_STATUS_PLAYING:
 *  from its first block if it starts inaudible, else after its fade-out block (PLAYING),
 *  in every block it is virtual, napping or not. smw_source_is_virtual tells the audio
 *  thread the same at once; smw_source_get_status tells the game thread after the block.
 *  A virtual voice that could not come back within P blocks is checked only every P-th
 *  block (sources staggered over the blocks), so a crowd of them costs next to nothing:
 *  it naps for the longest P of 16, 8 and 4 blocks for which it would still be 12 dB below
 *  the level at which it comes back when facing the listener and P blocks' travel closer
 *  at 0.9 x the speed of sound (the speed above which a move counts as a teleport), it and
 *  the listener each (together 6.6 m per block at 48 kHz and 512 frames); for 32 blocks
 *  if that holds at any distance (a voice muted by its gain or transmission: no motion can
 *  bring it back).
 *  smw_source_set_pose and smw_source_set_velocity do not wake it (the nap allows for
 *  motion, so a game may set both for every emitter every frame); any other setter call on
 *  it (smw_source_teleport included), a new reverb setting, or its destruction checks it
 *  in the next block. Only a jump faster than that, not
 *  marked with smw_source_teleport, is heard late: at the next check, at most 15 blocks
 *  after.
 *  Paused sources cost about as little and report SMW_SOURCE_STATUS_PAUSED. */
#define SMW_VIRTUAL_THRESHOLD 3.1622776e-4f   /* linear, -70 dB */
#define SMW_VIRTUAL_HYSTERESIS_DB 3.0f

/** The source's status bits since the previous query (game thread), then cleared; a new
 *  source starts with none. The host writes one block before each smw_render for every
 *  source that is not a virtual voice (smw_source_is_virtual): a missed or short write of
 *  such a source plays silence and sets SMW_SOURCE_STATUS_UNDERRUN. A virtual voice needs
 *  no write (Virtual voices, above); what is written to it is queued and played as to any
 *  source.
 *  @return SMW_SUCCESS, SMW_ERROR_NULL_POINTER, SMW_ERROR_INVALID_HANDLE. */
SMW_API smw_result smw_source_get_status(smw_renderer* renderer, smw_source source, uint32_t* out_flags);

/* ================================================================================
 * Source tone: directivity, occlusion / transmission, air absorption (game thread)
 *
 * These shape a source's spectrum with the corrector's per-bin gains (per-bin work when its
 * corrector target is updated, every block for a moving source; nothing per sample): the three bands are below 500 Hz, 500 Hz..5 kHz and above 5 kHz (second-order
 * crossovers), the response is minimum phase, and a change is ramped like the
 * corrector's direction cues (no clicks). With enable_corrector = 0 only the broadband
 * parts apply: the cone's outer_gain and the transmission's mid gain. A source's reverb send
 * passes through those broadband parts too.
 *
 * Near field (no call: always on with the corrector): a source closer than the distance
 * the model was fitted at (1.4 m for the default model) gets each ear scaled by the
 * rigid-sphere ratio at its distance and angle (Duda & Martens), so the interaural level
 * difference grows as a close source's does: +0.6 dB at 1 m, +2.7 dB at 0.5 m, +7.4 dB at
 * 0.25 m for a source at the side.
 * ================================================================================ */

/** Directivity cone, as OpenAL's and EFX's: the source faces along the forward axis of its
 *  orientation (smw_source_set_pose). Within half of inner_deg of that axis the level is
 *  unchanged; beyond half of outer_deg it is scaled by outer_gain, and above 5 kHz also by
 *  outer_hf_gain; between the two it moves linearly in angle.
 *  Ranges: 0 <= inner_deg <= outer_deg <= 360 (full angles, degrees), gains 0..1.
 *  Default 360, 360, 1, 1: omnidirectional.
 *  @return SMW_SUCCESS, SMW_ERROR_INVALID_ARGUMENT, SMW_ERROR_INVALID_HANDLE, SMW_ERROR_NULL_POINTER. */
SMW_API smw_result smw_source_set_cone(smw_renderer* renderer, smw_source source, float inner_deg,
                                       float outer_deg, float outer_gain, float outer_hf_gain);

/** Occlusion / transmission through geometry, as the game computes it (ray casts,
 *  materials): linear gains of the low (< 500 Hz), mid and high (> 5 kHz) bands, 0..1.
 *  Default 1, 1, 1 (unoccluded). A typical wall: 0.3, 0.1, 0.03. */
SMW_API smw_result smw_source_set_transmission(smw_renderer* renderer, smw_source source,
                                               float low, float mid, float high);

/** Air absorption with distance after ISO 9613-1 at 20 degrees C, 50 % relative humidity
 *  and one atmosphere (at 100 m: 0.5 dB at 1 kHz, 3.0 dB at 4 kHz, 10.5 dB at 8 kHz),
 *  times `factor` (0..10). Default 0 (off); 1 is the standard atmosphere. Distances are
 *  converted to metres first (Unreal's centimetres too). */
SMW_API smw_result smw_source_set_air_absorption(smw_renderer* renderer, smw_source source, float factor);

/** Spread (source size), 0 (a point: default) .. 360 degrees (diffuse, as FMOD's spread).
 *  After the warp each ear passes through its own cascade of all-pass filters, stronger as
 *  the spread grows: neither ear's spectrum is coloured (no comb filtering), and the
 *  interaural coherence falls from the point source's towards 0.2 at 360 degrees; transients
 *  gain a diffuse tail of up to ~20 ms. Changes are ramped across a block; after a spread is
 *  set back to 0 its echoes ring out for 0.5 s. Costs about 8 multiply-adds per ear and
 *  sample while on. Needs the corrector (ignored with enable_corrector = 0). */
SMW_API smw_result smw_source_set_spread(smw_renderer* renderer, smw_source source, float degrees);

/** The source's level-of-detail priority, 0..1e6 (default 1): it multiplies the level
 *  (gain x distance attenuation x cone x loudest transmission band) by which the renderer
 *  ranks its audible sources each block to choose the smw_renderer_settings.full_sources
 *  that take the full path; the others are rendered in the shared ambisonic bed (reporting
 *  SMW_SOURCE_STATUS_LOD). A source on the full path keeps it until another ranks
 *  lod_hysteresis_db (default 3 dB) higher. 0 = the full path only while there is room; a large value keeps the source on
 *  it (dialogue, the player's own sounds). Ignored with full_sources = 0.
 *  @return SMW_SUCCESS, SMW_ERROR_NULL_POINTER, SMW_ERROR_INVALID_HANDLE,
 *  SMW_ERROR_INVALID_ARGUMENT (NaN, negative or above 1e6). */
SMW_API smw_result smw_source_set_priority(smw_renderer* renderer, smw_source source, float priority);

/* ================================================================================
 * Reverb bus (game thread)
 *
 * One shared late reverb per renderer: an 8-line feedback delay network whose cost per
 * block is fixed (it does not grow with the number of sources). Each source feeds it with
 * its send (smw_source_set_reverb_send) times its gain, before distance attenuation; the
 * two ears' outputs are decorrelated, as a diffuse field. A renderer starts with the
 * reverb off (wet gain 0) and every send 0; while it is off it costs nothing.
 * ================================================================================ */

typedef struct {
    uint32_t size;          /**< sizeof(smw_reverb_settings); set by smw_reverb_settings_default */
    float decay_time_s;     /**< RT60 at low and mid frequencies, 0.1..20 s. Default 1.5 */
    float pre_delay_s;      /**< the first echo comes max(pre_delay_s, 23 ms) after the dry sound, 0..0.5 s. Default 0.02 */
    float hf_decay_ratio;   /**< decay time at high frequencies (towards Nyquist) over decay_time_s, 0.1..1. Default 0.5 */
    float wet_gain;         /**< output gain, 0..4 (0 = off). Default 1 */
} smw_reverb_settings;

/** Defaults as documented in the struct (wet_gain 1: passing them turns the reverb on). */
SMW_API smw_reverb_settings smw_reverb_settings_default(void);

/** Set the renderer's reverb (game thread; picked up at the next smw_render, the wet gain
 *  ramped across that block).
 *  @return SMW_SUCCESS, SMW_ERROR_NULL_POINTER, SMW_ERROR_SETTINGS_SIZE, SMW_ERROR_INVALID_ARGUMENT. */
SMW_API smw_result smw_renderer_set_reverb(smw_renderer* renderer, const smw_reverb_settings* settings);

/** A source's linear send into the reverb, 0..1. Default 0. Ramped across the next block. */
SMW_API smw_result smw_source_set_reverb_send(smw_renderer* renderer, smw_source source, float send);

/* ================================================================================
 * Audio thread
 * ================================================================================ */

/** Queue `frames` mono float samples for a mono `source` (audio thread; a stereo source:
 *  SMW_ERROR_CHANNEL_MISMATCH). Normally called once
 *  per source per block with the same frame count as the following smw_render(); frames
 *  missing at a render are played as silence (SMW_SOURCE_STATUS_UNDERRUN). A paused
 *  source (or renderer) does not consume: see smw_source_set_paused. Real-time safe.
 *  @return SMW_SUCCESS; SMW_ERROR_NONFINITE_INPUT (block contained NaN/Inf or |x| > 1e6: it is
 *          replaced by silence, other sources unaffected); SMW_ERROR_BUFFER_FULL (more
 *          than max_block_frames would be pending: block rejected); SMW_ERROR_FRAME_COUNT;
 *          SMW_ERROR_INVALID_HANDLE; SMW_ERROR_NULL_POINTER; SMW_ERROR_CHANNEL_MISMATCH
 *          (a stereo source). Where several apply, the first of INVALID_HANDLE,
 *          CHANNEL_MISMATCH, NULL_POINTER, FRAME_COUNT, BUFFER_FULL, NONFINITE_INPUT. */
SMW_API smw_result smw_source_write(smw_renderer* renderer, smw_source source,
                                    const float* mono, int32_t frames);

/** Queue `frames` interleaved two-channel frames (L, R, L, R...: 2 * frames floats) for a
 *  stereo source (smw_source_create_stereo; audio thread), as smw_source_write does for a
 *  mono one: the left channel to its left voice, the right to its right voice, each at half
 *  amplitude (identical channels at width 0 then render exactly as a mono source of that
 *  signal: the downmix (L + R) / 2). Both or neither: a block that does not fit is refused
 *  whole, and a non-finite sample in either channel mutes both for the block. Real-time safe.
 *  @return as smw_source_write, and SMW_ERROR_CHANNEL_MISMATCH for a mono source. */
SMW_API smw_result smw_source_write_stereo(smw_renderer* renderer, smw_source source,
                                           const float* interleaved_lr, int32_t frames);

/** Advance a source's stream by `frames` of silence without passing any samples (audio
 *  thread; mono or stereo), as a missed write does but without SMW_SOURCE_STATUS_UNDERRUN:
 *  for a source whose audio the game has not decoded. (A virtual voice does not even need
 *  this: its unwritten blocks are skipped; see smw_source_is_virtual.) Nothing is copied:
 *  the skipped part of the delay line is zeroed only if a later block reads it (once, at
 *  most the line's length). A skipped block of
 *  an audible source plays as silence. When the source comes back, what the game writes
 *  from then on plays at the source's delay; the skipped audio is silence (so, with the
 *  one block it takes the game to see the change, a voice coming back starts about one
 *  block plus its propagation delay late, faded in). Real-time safe.
 *  @return SMW_SUCCESS; SMW_ERROR_BUFFER_FULL (more than max_block_frames would be pending:
 *          skip rejected); SMW_ERROR_FRAME_COUNT; SMW_ERROR_INVALID_HANDLE; SMW_ERROR_NULL_POINTER. */
SMW_API smw_result smw_source_skip(smw_renderer* renderer, smw_source source, int32_t frames);

/** `*out_virtual` = 1 if the source's last rendered block left it a virtual voice (see
 *  Virtual voices: rendered on no path, so the next block reads none of its samples unless
 *  its level rises), else 0 (also before its first block). Audio thread, real-time safe, and
 *  unlike smw_source_get_status it clears nothing. Typical use, per source per block:
 *
 *      int32_t v;
 *      if (smw_source_is_virtual(r, src, &v) != SMW_SUCCESS || !v)
 *          smw_source_write(r, src, decode(src, frames), frames);
 *      // else no decoding and no call: the virtual voice's block is skipped (silence)
 *
 *  @return SMW_SUCCESS, SMW_ERROR_NULL_POINTER, SMW_ERROR_INVALID_HANDLE. */
SMW_API smw_result smw_source_is_virtual(smw_renderer* renderer, smw_source source, int32_t* out_virtual);

/** Render `frames` of interleaved stereo (L, R, L, R...) float output into
 *  out_interleaved[0 .. 2*frames) (audio thread). Picks up the newest poses and
 *  parameters, starts newly created sources and releases destroyed ones.
 *  Real-time safe. On SMW_ERROR_FRAME_COUNT / SMW_ERROR_NULL_POINTER nothing is
 *  written; on SMW_ERROR_INTERNAL the block is silence.
 *  @param frames 1 .. max_block_frames. */
SMW_API smw_result smw_render(smw_renderer* renderer, float* out_interleaved, int32_t frames);

#ifdef __cplusplus
}
#endif

#endif /* SPATIALMW_H */
