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
 * - "Game thread" calls (smw_source_create/destroy, smw_*_set_*) may be made from any
 *   thread, concurrently with the audio thread. They publish their values lock-free
 *   (a sequence lock per source and one for the listener); the audio thread picks up the
 *   newest consistent values at the start of the next smw_render() and never waits for
 *   a writer (if a writer is mid-update it keeps the previous value for that block).
 * - "Audio thread" calls (smw_source_write, smw_render) must all be made from ONE
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
 * a sentence about the most recent failure.
 *
 * Safety of calls on invalid objects:
 *   - a NULL renderer pointer returns SMW_ERROR_NULL_POINTER from every call (and
 *     smw_renderer_destroy(NULL) is a no-op);
 *   - a renderer pointer that has already been passed to smw_renderer_destroy() is a
 *     dangling pointer: using it is undefined behaviour, exactly as with free()d memory.
 *     The library cannot detect it. Set your pointer to NULL after destroying.
 *   - source handles ARE validated: a destroyed (stale), never-issued or zero handle
 *     returns SMW_ERROR_INVALID_HANDLE; double destroy returns SMW_ERROR_INVALID_HANDLE.
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
#define SMW_VERSION_MINOR 2
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
    SMW_ERROR_OUT_OF_SOURCES = 4,        /**< all max_sources slots are in use (destroyed slots are recycled at the next smw_render) */
    SMW_ERROR_UNSUPPORTED_SAMPLE_RATE = 5, /**< sample rate is not 44100, 48000 or 96000 */
    SMW_ERROR_FRAME_COUNT = 6,           /**< frames < 1 or > max_block_frames */
    SMW_ERROR_MODEL_LOAD = 7,            /**< model file missing, unreadable, corrupt or incompatible */
    SMW_ERROR_BUFFER_FULL = 8,           /**< smw_source_write: more than max_block_frames pending for the source; block rejected */
    SMW_ERROR_NONFINITE_INPUT = 9,       /**< smw_source_write: samples contained NaN/Inf or |x| > 1e6; the block was replaced by silence (other sources unaffected) */
    SMW_ERROR_PYTHON_INIT = 10,          /**< not returned since 0.1 (the library no longer embeds Python); kept for source compatibility */
    SMW_ERROR_OUT_OF_MEMORY = 11,        /**< allocation failed (control calls only) */
    SMW_ERROR_NOT_INITIALIZED = 12,      /**< the renderer is not (or no longer) usable */
    SMW_ERROR_SETTINGS_SIZE = 13,        /**< smw_renderer_settings.size is not a size this library knows */
    SMW_ERROR_INTERNAL = 14,             /**< a bug in spatialmw; smw_last_error() has details; output was silenced */
    SMW_ERROR_UNSUPPORTED_CPU = 15       /**< smw_renderer_create: the CPU lacks a feature of the x86-64-v3 baseline (AVX2, FMA, BMI2); smw_last_error() names it */
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

/** Creation settings. Always start from smw_renderer_settings_default() so that fields
 *  added in later versions get their defaults; `size` lets the library tell which
 *  version of the struct the caller was compiled against. */
typedef struct {
    uint32_t size;               /**< sizeof(smw_renderer_settings); set by the default function */
    int32_t sample_rate;         /**< 44100, 48000 or 96000 Hz. Default 48000 */
    int32_t max_block_frames;    /**< largest frame count per smw_render/smw_source_write call. Default 1024 */
    int32_t max_sources;         /**< capacity of source slots (1..4096). Default 64 */
    const char* model_path;      /**< Lite-INN model asset (.smwm, from `spatialmw export model.npz -o model.smwm`);
                                      NULL = share/spatialmw/default.smwm beside the library's lib/ directory.
                                      Read during create only */
    int32_t coordinate_system;   /**< an smw_coordinate_system. Default SMW_COORDS_NATIVE */
    int32_t enable_corrector;    /**< 1 = full Lite-INN (TDW + IBC), 0 = time-domain warp only (cheaper). Default 1 */
    float corrector_table_step_deg; /**< spacing of the corrector's direction table, 0.5..30 degrees,
                                      or 0 for none. Moving sources read the table every block they
                                      move (about 19 MB and 0.1-0.5 s of creation at 3 degrees);
                                      without it every update evaluates the network (~14 us), under a
                                      budget of 16 per block. Default 3 */
    /* --- added in 0.2 (a 0.1 struct, sizeof without these two fields, is still accepted) --- */
    float speed_of_sound;        /**< metres per second (in every coordinate system), 1..10000:
                                      propagation delay and Doppler. Default 343 */
    int32_t equalization;        /**< an smw_equalization. Default SMW_EQUALIZATION_NONE */
} smw_renderer_settings;

/** Which frequency response the corrector renders. */
typedef enum {
    SMW_EQUALIZATION_NONE = 0,          /**< the measured HRTF as fitted (free-field) */
    SMW_EQUALIZATION_DIFFUSE_FIELD = 1  /**< divided by its power average over all directions
                                             (minimum phase), as OpenAL Soft's and makemhr's data */
} smw_equalization;

/** Defaults: 48000 Hz, 1024-frame blocks, 64 sources, default model, native coordinates,
 *  corrector on with a 3-degree direction table, 343 m/s, no equalization. */
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

/** Algorithmic latency in frames: input sample n appears at the output at n + latency, plus
 *  the acoustic propagation delay of the source's distance when Doppler is on. 256 frames
 *  (one hop of the overlap-save convolution) plus, with the corrector on, its modelling
 *  delay (12 frames at 48 kHz, 11 at 44.1 and 24 at 96 kHz). */
SMW_API smw_result smw_renderer_get_latency(const smw_renderer* renderer, int32_t* out_frames);

/** Text describing the most recent failed call on `renderer` (any thread), or "" if none.
 *  With renderer == NULL: the most recent smw_renderer_create() failure on the calling
 *  thread. The pointer stays valid until the next failing call on the same renderer
 *  (or, for NULL, the next create on this thread). Never returns NULL. */
SMW_API const char* smw_last_error(const smw_renderer* renderer);

/* ================================================================================
 * Listener
 * ================================================================================ */

/** Set the listener pose (game thread). position: 3 floats in the renderer's coordinate
 *  system; quat: (x, y, z, w), normalised here. Rejected (previous pose kept) with
 *  SMW_ERROR_INVALID_ARGUMENT when any value is NaN/Inf, |quat| < 1e-6, or the position
 *  is farther than 1e6 m from the origin. */
SMW_API smw_result smw_listener_set_pose(smw_renderer* renderer, const float position[3],
                                         const float quat[4]);

/** The listener's velocity (game thread): 3 floats in the renderer's coordinate system and
 *  units per second. Doppler and the listener's motion between pose updates follow it
 *  (poses arrive at the game's frame rate, not the audio block rate). Until this is called
 *  the velocity is estimated from the poses as they arrive. Rejected with
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
 *  pose before its first block (the Python Engine starts a source at the same place; the
 *  defaults live in spatialmw/defaults.py). The audio thread starts it (clears its
 *  history) at its next smw_source_write or smw_render.
 *  @return SMW_SUCCESS, SMW_ERROR_NULL_POINTER, SMW_ERROR_OUT_OF_SOURCES. */
SMW_API smw_result smw_source_create(smw_renderer* renderer, smw_source* out_source);

/** Destroy a source (game thread). Deferred: the handle is invalid immediately, the audio
 *  thread silences the slot at its next smw_render and only then makes the slot reusable.
 *  @return SMW_SUCCESS, SMW_ERROR_NULL_POINTER, SMW_ERROR_INVALID_HANDLE (incl. double destroy). */
SMW_API smw_result smw_source_destroy(smw_renderer* renderer, smw_source source);

/** Set a source's pose (game thread); same validation as smw_listener_set_pose. The
 *  orientation matters only for future directional sources; pass identity if unsure. */
SMW_API smw_result smw_source_set_pose(smw_renderer* renderer, smw_source source,
                                       const float position[3], const float quat[4]);

/** The source's velocity (game thread), validated as smw_listener_set_velocity: exact (retarded-time)
 *  Doppler and the motion between pose updates follow it. Set it every frame with the pose
 *  (it should be the derivative of the positions you set). Until this is called for a
 *  source, its velocity is estimated from its poses. */
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

/** Doppler shift on (1) / off (0). Off: only the interaural part of the delay moves. */
SMW_API smw_result smw_source_set_doppler(smw_renderer* renderer, smw_source source, int32_t enabled);

/** Spatialisation on (1) / off (0 = bypass: the mono signal goes to both ears, gain applied). */
SMW_API smw_result smw_source_set_spatialize(smw_renderer* renderer, smw_source source, int32_t enabled);

/** Pause (1) / resume (0). A paused source outputs nothing and keeps its queued audio. */
SMW_API smw_result smw_source_set_paused(smw_renderer* renderer, smw_source source, int32_t paused);

/* ================================================================================
 * Audio thread
 * ================================================================================ */

/** Queue `frames` mono float samples for `source` (audio thread). Normally called once
 *  per source per block with the same frame count as the following smw_render().
 *  Real-time safe.
 *  @return SMW_SUCCESS; SMW_ERROR_NONFINITE_INPUT (block contained NaN/Inf or |x| > 1e6: it is
 *          replaced by silence, other sources unaffected); SMW_ERROR_BUFFER_FULL (more
 *          than max_block_frames would be pending: block rejected); SMW_ERROR_FRAME_COUNT;
 *          SMW_ERROR_INVALID_HANDLE; SMW_ERROR_NULL_POINTER. */
SMW_API smw_result smw_source_write(smw_renderer* renderer, smw_source source,
                                    const float* mono, int32_t frames);

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
