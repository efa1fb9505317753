/*
 * shim.c -- the C side of libspatialmw: every public smw_* function (include/spatialmw.h).
 * Built by bindings/build_sdk.py together with the ahead-of-time-compiled numba kernels
 * (spatialmw/kernels/cabi.py, C names smwk_*) into a library that needs only libc and libm.
 *
 * Control path: smw_renderer_create checks the CPU baseline, loads and validates the model
 * asset (a flat .smwm file, format in spatialmw/asset.py; found relative to this library
 * when the settings name none), lets smwk_plan lay out the three pools, allocates them and
 * lets smwk_init fill them. Planning and filling are the same compiled code the Python
 * Engine runs (spatialmw/kernels/plan.py): the layout is never restated here.
 *
 * Real-time path (pure C): smw_render / smw_source_write copy the newest published poses
 * and parameters into the pools (seqlocks, never waiting) and call the kernels through plain
 * function pointers. No locks, no allocation.
 */
#define _GNU_SOURCE   /* dladdr */
#define SMW_BUILDING_LIBRARY 1
#include "spatialmw.h"

#include <dlfcn.h>
#include <limits.h>
#include <math.h>
#include <stddef.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

/* ---------------------------------------------------------------------------------
 * The compiled engine (spatialmw/kernels/cabi.py documents each signature)
 * --------------------------------------------------------------------------------- */
int32_t smwk_render(double*, float*, int64_t*, float*, int32_t);
int32_t smwk_write(double*, float*, int64_t*, int32_t, const float*, int32_t);
void smwk_settings_default(double* settings);
int32_t smwk_check_model(const double* theta, int64_t n_theta, const int64_t* dims,
                         const double* grid, int64_t n_grid, double head_radius);
int32_t smwk_plan(const double* settings, const double* theta, int64_t n_theta, const int64_t* dims,
                  const double* grid, int64_t n_grid, int64_t* head);
int32_t smwk_init(const double* settings, const double* theta, int64_t n_theta, const int64_t* dims,
                  const double* grid, int64_t n_grid, double* f64, float* f32, int64_t* i64);
extern _Thread_local int smw__kernel_fault;   /* rt_stubs.c: a compiled function raised */

/* spatialmw/kernels/plan.py and layout.py (checked against them by tests/test_sdk.py) */
enum { S_SAMPLE_RATE = 0, S_MAX_SOURCES = 1, S_MAX_BLOCK = 2, S_IBC = 3, S_TABLE_STEP = 4,
       S_HEAD_RADIUS = 7, S_SPEED_OF_SOUND = 8, S_EQUALIZATION = 9, S_HOP = 10, S_LEN = 16 };
enum { HEADER_LEN = 96, PLAN_LEN = HEADER_LEN + 2 * 361, DIMS_LEN = 6 };
enum { H_N_F64 = 1, H_N_F32 = 2, H_N_I64 = 3, H_NFFT = 7, H_HOP = 8, H_LISTENER = 20, H_SRC_POSE = 21,
       H_SRC_PARAM = 22, H_SRC_CTL = 50, H_DELAY = 68 };

typedef int32_t (*smw_render_fn)(double*, float*, int64_t*, float*, int32_t);
typedef int32_t (*smw_write_fn)(double*, float*, int64_t*, int32_t, const float*, int32_t);

/* ---------------------------------------------------------------------------------
 * Renderer state
 * --------------------------------------------------------------------------------- */
enum { LIFE_FREE = 0, LIFE_CLAIMED = 1, LIFE_LIVE = 2, LIFE_RELEASING = 3 };
enum { CTL_STATE = 0, CTL_MODEL = 1, CTL_FLAGS = 2, CTL_STATUS = 3, CTL_STRIDE = 4 };
enum { POSE_STRIDE = 8, PARAM_STRIDE = 24 };
/* layout.py PARAM_DEFAULTS */
static const double param_defaults[PARAM_STRIDE] = {1.0, 1.0, 1.0e6, 1.0, 0, 0, 0, 0, 360.0, 360.0, 1.0, 1.0,
                                                    1.0, 1.0, 1.0, 0.0, 0.0, 0, 0, 0, 0, 0, 0, 0};
enum { FLAG_DOPPLER = 1, FLAG_BYPASS = 2, FLAG_PAUSED = 4, FLAG_VELOCITY = 8 };
enum { P_VEL = 4, P_TELEPORTS = 7, P_CONE_INNER = 8, P_TRANSMISSION = 12, P_AIR_ABSORPTION = 15,
       P_REVERB_SEND = 16 };                          /* layout.py P_* */
enum { L_VEL = 8, L_VEL_SET = 11, L_REVERB = 12, LISTENER_LEN = 16 };  /* layout.py L_* */
enum { PUB_LISTENER_VEL = 0, PUB_LISTENER_REVERB = 3 };  /* the listener's published params[] */
/* source_control state values (spatialmw/kernels/layout.py, render.py) */
enum { STATE_INACTIVE = 0, STATE_PLAYING = 1, STATE_RESTART = 2, STATE_STOP = 3, STATE_RECYCLE = 4 };

/* the settings struct of version 0.1, to recognise its size */
typedef struct {
    uint32_t size;
    int32_t sample_rate, max_block_frames, max_sources;
    const char* model_path;
    int32_t coordinate_system, enable_corrector;
    float corrector_table_step_deg;
} smw_renderer_settings_v0_1;

/* ... and of version 0.2 */
typedef struct {
    uint32_t size;
    int32_t sample_rate, max_block_frames, max_sources;
    const char* model_path;
    int32_t coordinate_system, enable_corrector;
    float corrector_table_step_deg;
    float speed_of_sound;
    int32_t equalization;
} smw_renderer_settings_v0_2;

#define SMW_MAX_SOURCES_LIMIT 4096
#define SMW_MAX_POSITION_M 1.0e6
#define SMW_MAX_GAIN 1000.0

/* values the game thread publishes for one source or the listener (seqlock-protected) */
typedef struct {
    _Atomic uint32_t seq;           /* odd while a writer is updating */
    _Atomic(double) pose[7];        /* native px py pz qx qy qz qw */
    _Atomic(double) params[PARAM_STRIDE]; /* sources: layout P_*;
                                       the listener: velocity xyz */
    _Atomic int32_t model;
    _Atomic int32_t flags;
} smw_published;

typedef struct {
    _Alignas(64) smw_published pub;
    /* generation in bits 16..31, LIFE_* in bits 0..15: one word, so destroy is one CAS */
    _Atomic uint32_t word;
    /* 1 once the generation counter has wrapped (every generation was issued once) */
    _Atomic uint32_t wrapped;
    /* SMW_SOURCE_STATUS_* bits of the incarnation in bits 16..31: the audio thread ORs
     * the kernel's CTL_STATUS in after each call, smw_source_get_status takes them */
    _Atomic uint32_t status;
    /* audio-thread-only */
    uint32_t seen_gen;
    uint32_t seen_seq;
    int32_t active;
} smw_slot;

struct smw_renderer {
    /* immutable after create */
    uint64_t id;                 /* serial number: tells renderers apart in smw_last_error */
    int32_t sample_rate, max_block, max_sources, coords;
    int32_t latency_frames;
    smw_model_info info;
    void (*log_fn)(void* user, int32_t level, const char* message);
    void* log_user;
    double* f64;
    float* f32;
    int64_t* i64;
    int64_t n_f64, n_f32, n_i64;
    int64_t off_listener, off_pose, off_params, off_control;
    smw_render_fn render_fn;
    smw_write_fn write_fn;
    /* shared */
    smw_slot* slots;
    smw_published listener;
    _Atomic uint32_t alloc_hint;
    _Atomic(float) master_gain;
    _Atomic int32_t paused;
    /* audio-thread-only */
    uint32_t listener_seen_seq;
    float applied_gain;          /* master gain x (not paused) reached at the last block's end */
};

static _Thread_local char tl_create_error[1024] = "";
static _Atomic uint64_t next_renderer_id = 1;

/* smw_last_error: each thread's most recent failure per renderer, for the few renderers it
 * failed on last (most recent first). Renderers are told apart by serial number, not by
 * address, which a new renderer may reuse. Static texts only, so nothing is copied. */
enum { TL_ERRORS = 4 };
static _Thread_local struct { uint64_t renderer; const char* text; } tl_errors[TL_ERRORS];

/* ---------------------------------------------------------------------------------
 * Version, result strings, errors
 * --------------------------------------------------------------------------------- */
uint32_t smw_get_version(void) { return SMW_VERSION; }

const char* smw_result_string(smw_result r)
{
    switch (r) {
    case SMW_SUCCESS: return "SMW_SUCCESS: no error";
    case SMW_ERROR_INVALID_ARGUMENT: return "SMW_ERROR_INVALID_ARGUMENT: an argument is out of range or malformed";
    case SMW_ERROR_NULL_POINTER: return "SMW_ERROR_NULL_POINTER: a required pointer was NULL";
    case SMW_ERROR_INVALID_HANDLE: return "SMW_ERROR_INVALID_HANDLE: source handle never issued or already destroyed";
    case SMW_ERROR_OUT_OF_SOURCES: return "SMW_ERROR_OUT_OF_SOURCES: all source slots are in use";
    case SMW_ERROR_UNSUPPORTED_SAMPLE_RATE: return "SMW_ERROR_UNSUPPORTED_SAMPLE_RATE: sample rate must be 44100, 48000 or 96000";
    case SMW_ERROR_FRAME_COUNT: return "SMW_ERROR_FRAME_COUNT: frame count must be 1..max_block_frames";
    case SMW_ERROR_MODEL_LOAD: return "SMW_ERROR_MODEL_LOAD: model file missing, corrupt or incompatible";
    case SMW_ERROR_BUFFER_FULL: return "SMW_ERROR_BUFFER_FULL: too many frames pending for the source; block rejected";
    case SMW_ERROR_NONFINITE_INPUT: return "SMW_ERROR_NONFINITE_INPUT: samples contained NaN/Inf; block replaced by silence";
    case SMW_ERROR_PYTHON_INIT: return "SMW_ERROR_PYTHON_INIT: embedded Python failed to start (not returned since 0.1)";
    case SMW_ERROR_OUT_OF_MEMORY: return "SMW_ERROR_OUT_OF_MEMORY: allocation failed";
    case SMW_ERROR_NOT_INITIALIZED: return "SMW_ERROR_NOT_INITIALIZED: renderer not initialised";
    case SMW_ERROR_SETTINGS_SIZE: return "SMW_ERROR_SETTINGS_SIZE: settings.size unknown; use smw_renderer_settings_default()";
    case SMW_ERROR_INTERNAL: return "SMW_ERROR_INTERNAL: internal error (output silenced)";
    case SMW_ERROR_UNSUPPORTED_CPU: return "SMW_ERROR_UNSUPPORTED_CPU: the CPU lacks a feature of the x86-64-v3 baseline";
    default: return "unknown smw_result";
    }
}

static void set_error(const smw_renderer* r, const char* text)
{
    int k = 0;
    while (k < TL_ERRORS - 1 && tl_errors[k].renderer != r->id) ++k;
    for (; k > 0; --k) tl_errors[k] = tl_errors[k - 1];
    tl_errors[0].renderer = r->id;
    tl_errors[0].text = text;
}

/* A failed game-thread or control call: recorded for smw_last_error and logged. */
static smw_result fail(smw_renderer* r, smw_result code, const char* text)
{
    set_error(r, text);
    if (r->log_fn) r->log_fn(r->log_user, SMW_LOG_ERROR, text);
    return code;
}

/* A failed audio-thread call: recorded only (the log callback may block). */
static smw_result fail_audio(smw_renderer* r, smw_result code, const char* text)
{
    set_error(r, text);
    return code;
}

static smw_result create_fail(smw_result code, const char* fmt, const char* detail)
{
    snprintf(tl_create_error, sizeof tl_create_error, fmt, detail ? detail : "");
    return code;
}

const char* smw_last_error(const smw_renderer* r)
{
    if (!r) return tl_create_error;
    for (int k = 0; k < TL_ERRORS; ++k)
        if (tl_errors[k].renderer == r->id) return tl_errors[k].text;
    return "";
}

/* ---------------------------------------------------------------------------------
 * Coordinate systems (same as spatialmw/geometry.py COORDINATE_SYSTEMS)
 * native = M * v * scale; quaternion axis -> det(M) * M * axis
 * --------------------------------------------------------------------------------- */
static const double coord_m[4][3][3] = {
    {{1, 0, 0}, {0, 1, 0}, {0, 0, 1}},      /* native */
    {{0, 0, 1}, {-1, 0, 0}, {0, 1, 0}},     /* unity */
    {{1, 0, 0}, {0, -1, 0}, {0, 0, 1}},     /* unreal (cm) */
    {{0, 0, -1}, {-1, 0, 0}, {0, 1, 0}},    /* openal / opengl */
};
static const double coord_scale[4] = {1.0, 1.0, 0.01, 1.0};

static double coord_det(int c)
{
    const double (*m)[3] = coord_m[c];
    return m[0][0] * (m[1][1] * m[2][2] - m[1][2] * m[2][1])
         - m[0][1] * (m[1][0] * m[2][2] - m[1][2] * m[2][0])
         + m[0][2] * (m[1][0] * m[2][1] - m[1][1] * m[2][0]);
}

/* Validate and convert a pose to native. Returns NULL on success or a static message. */
static const char* convert_pose(int coords, const float p_in[3], const float q_in[4], double out[7])
{
    double p[3], q[4];
    for (int k = 0; k < 3; ++k) p[k] = (double)p_in[k];
    for (int k = 0; k < 4; ++k) q[k] = (double)q_in[k];
    for (int k = 0; k < 3; ++k)
        if (!isfinite(p[k])) return "pose rejected: position contains NaN or Inf";
    for (int k = 0; k < 4; ++k)
        if (!isfinite(q[k])) return "pose rejected: quaternion contains NaN or Inf";
    double n = sqrt(q[0] * q[0] + q[1] * q[1] + q[2] * q[2] + q[3] * q[3]);
    if (!(n >= 1e-6)) return "pose rejected: quaternion has (near) zero length (< 1e-6)";
    const double (*m)[3] = coord_m[coords];
    double s = coord_scale[coords], det = coord_det(coords);
    double r2 = 0.0;
    for (int i = 0; i < 3; ++i) {
        out[i] = (m[i][0] * p[0] + m[i][1] * p[1] + m[i][2] * p[2]) * s;
        r2 += out[i] * out[i];
    }
    if (!(sqrt(r2) <= SMW_MAX_POSITION_M)) return "pose rejected: position farther than 1e6 m from the origin";
    for (int i = 0; i < 3; ++i)
        out[3 + i] = det * (m[i][0] * q[0] + m[i][1] * q[1] + m[i][2] * q[2]) / n;
    out[6] = q[3] / n;
    return NULL;
}

/* ---------------------------------------------------------------------------------
 * Seqlock (writers: any game thread, serialised among themselves by the CAS; the single
 * reader is the audio thread, which never waits).
 * --------------------------------------------------------------------------------- */
static uint32_t pub_write_begin(smw_published* p)
{
    for (;;) {
        uint32_t s = atomic_load_explicit(&p->seq, memory_order_relaxed);
        if ((s & 1u) == 0 &&
            atomic_compare_exchange_weak_explicit(&p->seq, &s, s + 1u, memory_order_acquire,
                                                  memory_order_relaxed)) {
            atomic_thread_fence(memory_order_release);
            return s;
        }
    }
}

static void pub_write_end(smw_published* p, uint32_t s)
{
    atomic_store_explicit(&p->seq, s + 2u, memory_order_release);
}

typedef struct {
    double pose[7];
    double params[PARAM_STRIDE];
    int32_t model, flags;
} smw_values;

/* One attempt; returns 1 with a consistent snapshot, 0 if a writer interfered (the
 * snapshot may then be torn, each field individually valid). */
static int pub_read(smw_published* p, smw_values* v, uint32_t* seq_out)
{
    uint32_t s1 = atomic_load_explicit(&p->seq, memory_order_acquire);
    for (int k = 0; k < 7; ++k) v->pose[k] = atomic_load_explicit(&p->pose[k], memory_order_relaxed);
    for (int k = 0; k < PARAM_STRIDE; ++k) v->params[k] = atomic_load_explicit(&p->params[k], memory_order_relaxed);
    v->model = atomic_load_explicit(&p->model, memory_order_relaxed);
    v->flags = atomic_load_explicit(&p->flags, memory_order_relaxed);
    atomic_thread_fence(memory_order_acquire);
    uint32_t s2 = atomic_load_explicit(&p->seq, memory_order_relaxed);
    *seq_out = s1;
    return (s1 == s2) && ((s1 & 1u) == 0);
}

static void pub_set_defaults(smw_published* p)
{
    uint32_t s = pub_write_begin(p);
    const double pose[7] = {0, 0, 0, 0, 0, 0, 1};
    for (int k = 0; k < 7; ++k) atomic_store_explicit(&p->pose[k], pose[k], memory_order_relaxed);
    for (int k = 0; k < PARAM_STRIDE; ++k) atomic_store_explicit(&p->params[k], param_defaults[k], memory_order_relaxed);
    atomic_store_explicit(&p->model, SMW_DISTANCE_INVERSE_CLAMPED, memory_order_relaxed);
    atomic_store_explicit(&p->flags, FLAG_DOPPLER, memory_order_relaxed);  /* as the Python Engine */
    pub_write_end(p, s);
}

/* ---------------------------------------------------------------------------------
 * CPU baseline (control path only). The kernels are compiled for x86-64-v3: on a CPU
 * without these features create fails with a message instead of the audio thread
 * dying of SIGILL.
 * --------------------------------------------------------------------------------- */
static const char* missing_cpu_feature(void)
{
    __builtin_cpu_init();
    if (!__builtin_cpu_supports("avx")) return "AVX";
    if (!__builtin_cpu_supports("avx2")) return "AVX2";
    if (!__builtin_cpu_supports("fma")) return "FMA";
    if (!__builtin_cpu_supports("bmi")) return "BMI1";
    if (!__builtin_cpu_supports("bmi2")) return "BMI2";
    return NULL;
}

/* ---------------------------------------------------------------------------------
 * Model assets (.smwm, written by `spatialmw export`; format: spatialmw/asset.py).
 * Untrusted input: every length is checked against the file size before anything is
 * allocated, the payload checksum before any value is used, and the values by the same
 * compiled check the Python loader runs (smwk_check_model).
 * --------------------------------------------------------------------------------- */
#define ASSET_MAGIC "SMWM"
#define ASSET_VERSION 1u
#define ASSET_HEADER_BYTES 24u      /* magic, version, payload bytes (u64), FNV-1a 64 (u64) */
#define ASSET_FIXED_BYTES 32u       /* n_theta, n_dims, n_grid, meta bytes (u32 each), head radius (f64), reserved */
#define ASSET_MAX_BYTES (16u << 20)
#define ASSET_MAX_THETA 1000000u
#define ASSET_MAX_GRID 4096u
#define ASSET_MAX_META (1u << 20)

typedef struct {
    unsigned char* data;     /* the whole payload; theta, dims and grid point into it */
    const double* theta;
    const int64_t* dims;
    const double* grid;
    int64_t n_theta, n_grid;
    double head_radius;
    double fitted_rate;      /* the metadata's top-level "sample_rate", 0 if absent */
} smw_model;

static uint32_t rd_u32(const unsigned char* p) { uint32_t v; memcpy(&v, p, 4); return v; }
static uint64_t rd_u64(const unsigned char* p) { uint64_t v; memcpy(&v, p, 8); return v; }

static uint64_t fnv1a64(const unsigned char* p, size_t n)
{
    uint64_t h = 0xcbf29ce484222325ull;
    for (size_t i = 0; i < n; ++i) { h ^= p[i]; h *= 0x100000001b3ull; }
    return h;
}

static const char* const model_check_text[] = {
    "usable",
    "dims out of range (n_dir, n_freq, H <= 1024, L <= 16, activation 0..2, n_out 4)",
    "dims imply too many parameters",
    "theta length does not match dims",
    "theta contains NaN/Inf or magnitudes > 1e6",
    "bad header constants (r_ref > 0, rho_min <= rho_max, f_scale > 0)",
    "grid_hz must be 2..4096 finite points, >= 0, strictly increasing, <= 1e6 Hz",
    "head radius outside 0.03..0.2 m",
};

/* The number after the top-level key "sample_rate" of the asset's metadata JSON (keys of
 * nested objects, such as provenance's, do not count), or 0. */
static double meta_sample_rate(const unsigned char* p, size_t n)
{
    static const char key[] = "\"sample_rate\"";
    const size_t klen = sizeof key - 1;
    int depth = 0, in_string = 0;
    for (size_t i = 0; i < n; ++i) {
        unsigned char c = p[i];
        if (in_string) {
            if (c == '\\') ++i;
            else if (c == '"') in_string = 0;
            continue;
        }
        if (c == '{' || c == '[') ++depth;
        else if (c == '}' || c == ']') --depth;
        else if (c == '"') {
            if (depth == 1 && n - i > klen && memcmp(p + i, key, klen) == 0) {
                size_t j = i + klen;
                while (j < n && (p[j] == ' ' || p[j] == ':')) ++j;
                char num[32];
                size_t k = 0;
                while (j < n && k < sizeof num - 1 && strchr("0123456789.eE+-", p[j]) && p[j]) num[k++] = (char)p[j++];
                num[k] = 0;
                double v = strtod(num, NULL);
                return isfinite(v) && v > 0.0 && v < 1e7 ? v : 0.0;
            }
            in_string = 1;
        }
    }
    return 0.0;
}

static smw_result model_fail(const char* path, const char* why)
{
    snprintf(tl_create_error, sizeof tl_create_error, "model asset: %s (%.800s)", why, path);
    return SMW_ERROR_MODEL_LOAD;
}

static smw_result load_model(const char* path, smw_model* m)
{
    memset(m, 0, sizeof *m);
    FILE* f = fopen(path, "rb");
    if (!f) return model_fail(path, "cannot open (missing or unreadable)");
    struct stat st;
    unsigned char head[ASSET_HEADER_BYTES];
    if (fstat(fileno(f), &st) != 0 || !S_ISREG(st.st_mode)) { fclose(f); return model_fail(path, "not a regular file"); }
    if (st.st_size < (off_t)(ASSET_HEADER_BYTES + ASSET_FIXED_BYTES) || st.st_size > (off_t)ASSET_MAX_BYTES) {
        fclose(f);
        return model_fail(path, "file size outside 56 bytes..16 MiB: not a .smwm model asset");
    }
    if (fread(head, 1, sizeof head, f) != sizeof head) { fclose(f); return model_fail(path, "cannot read the header"); }
    if (memcmp(head, ASSET_MAGIC, 4) != 0) {
        fclose(f);
        return model_fail(path, "not a .smwm model asset (bad magic); convert a model with `spatialmw export model.npz -o model.smwm`");
    }
    if (rd_u32(head + 4) != ASSET_VERSION) { fclose(f); return model_fail(path, "unsupported asset format version (this library reads 1)"); }
    uint64_t payload = rd_u64(head + 8);
    if (payload != (uint64_t)st.st_size - ASSET_HEADER_BYTES) { fclose(f); return model_fail(path, "payload length does not match the file size (truncated or padded)"); }
    unsigned char* data = (unsigned char*)malloc((size_t)payload);
    if (!data) { fclose(f); return model_fail(path, "out of memory"); }
    size_t got = fread(data, 1, (size_t)payload, f);
    fclose(f);
    if (got != payload) { free(data); return model_fail(path, "file changed while reading"); }
    if (fnv1a64(data, (size_t)payload) != rd_u64(head + 16)) { free(data); return model_fail(path, "checksum mismatch (corrupt file)"); }
    uint32_t n_theta = rd_u32(data), n_dims = rd_u32(data + 4), n_grid = rd_u32(data + 8), n_meta = rd_u32(data + 12);
    if (n_theta < 4 || n_theta > ASSET_MAX_THETA || n_dims != DIMS_LEN || n_grid < 2 || n_grid > ASSET_MAX_GRID ||
        n_meta > ASSET_MAX_META ||
        payload != ASSET_FIXED_BYTES + 8ull * n_theta + 8ull * n_dims + 8ull * n_grid + n_meta) {
        free(data);
        return model_fail(path, "array lengths out of bounds or inconsistent with the file size");
    }
    m->data = data;
    memcpy(&m->head_radius, data + 16, 8);
    m->theta = (const double*)(void*)(data + ASSET_FIXED_BYTES);
    m->dims = (const int64_t*)(void*)(data + ASSET_FIXED_BYTES + 8ull * n_theta);
    m->grid = (const double*)(void*)(data + ASSET_FIXED_BYTES + 8ull * (n_theta + n_dims));
    m->n_theta = n_theta;
    m->n_grid = n_grid;
    m->fitted_rate = meta_sample_rate(data + payload - n_meta, n_meta);
    smw__kernel_fault = 0;
    int32_t code = smwk_check_model(m->theta, m->n_theta, m->dims, m->grid, m->n_grid, m->head_radius);
    if (smw__kernel_fault) code = -1;
    if (code != 0) {
        free(data);
        memset(m, 0, sizeof *m);
        return model_fail(path, code > 0 && code < (int32_t)(sizeof model_check_text / sizeof model_check_text[0])
                                ? model_check_text[code] : "rejected by the model check");
    }
    return SMW_SUCCESS;
}

/* The default model: share/spatialmw/default.smwm next to the directory holding this
 * library (lib/ in the SDK; for a static link, the executable's directory). */
static int default_model_path(char* out, size_t n)
{
    Dl_info info;
    char real[PATH_MAX];
    if (!dladdr((void*)&smw_renderer_create, &info) || !info.dli_fname || !realpath(info.dli_fname, real))
        return 0;
    char* slash = strrchr(real, '/');
    if (!slash) return 0;
    *slash = 0;
    int k = snprintf(out, n, "%s/../share/spatialmw/default.smwm", real);
    return k > 0 && (size_t)k < n;
}

/* ---------------------------------------------------------------------------------
 * Renderer lifetime
 * --------------------------------------------------------------------------------- */
smw_renderer_settings smw_renderer_settings_default(void)
{
    smw_renderer_settings s;
    memset(&s, 0, sizeof s);
    s.size = (uint32_t)sizeof(smw_renderer_settings);
    s.sample_rate = 48000;
    s.max_block_frames = 1024;
    s.max_sources = 64;
    s.model_path = NULL;
    s.coordinate_system = SMW_COORDS_NATIVE;
    s.enable_corrector = 1;
    s.corrector_table_step_deg = 3.0f;  /* = spatialmw.engine.IBC_TABLE_STEP_DEGREES (tested) */
    s.speed_of_sound = 343.0f;
    s.equalization = SMW_EQUALIZATION_NONE;
    s.hop_frames = 256;
    s.log_callback = NULL;
    s.log_user_data = NULL;
    return s;
}

static void* alloc_zeroed(size_t bytes)
{
    size_t n = (bytes + 63u) & ~(size_t)63u;
    if (n == 0) n = 64;
    void* p = aligned_alloc(64, n);
    if (p) memset(p, 0, n);   /* touch every page now, not on the audio thread */
    return p;
}

static void free_renderer(smw_renderer* r)
{
    if (!r) return;
    free(r->f64);
    free(r->f32);
    free(r->i64);
    free(r->slots);
    free(r);
}

/* smw_renderer_create without the log: `used` receives the settings once they are read. */
static smw_result create_renderer(const smw_renderer_settings* settings, smw_renderer** out,
                                  smw_renderer_settings* used)
{
    if (out) *out = NULL;
    if (!settings || !out)
        return create_fail(SMW_ERROR_NULL_POINTER, "smw_renderer_create: %s is NULL",
                           !settings ? "settings" : "out_renderer");
    /* This version's struct, 0.2's (which ended at equalization) or 0.1's (which ended at
     * corrector_table_step_deg): the fields added since take their defaults. Any other
     * size is not a struct this library knows. */
    smw_renderer_settings s = smw_renderer_settings_default();
    if (settings->size == (uint32_t)sizeof(smw_renderer_settings)) {
        s = *settings;
    } else if (settings->size == (uint32_t)sizeof(smw_renderer_settings_v0_2)) {
        memcpy(&s, settings, offsetof(smw_renderer_settings, log_callback));
    } else if (settings->size == (uint32_t)sizeof(smw_renderer_settings_v0_1)) {
        memcpy(&s, settings, offsetof(smw_renderer_settings, speed_of_sound));
    } else {
        char buf[48];
        snprintf(buf, sizeof buf, "%u", (unsigned)settings->size);
        return create_fail(SMW_ERROR_SETTINGS_SIZE,
                           "smw_renderer_create: settings.size %s is not a size this library knows; "
                           "initialise settings with smw_renderer_settings_default()", buf);
    }
    *used = s;
    if (s.sample_rate != 44100 && s.sample_rate != 48000 && s.sample_rate != 96000) {
        char buf[32];
        snprintf(buf, sizeof buf, "%d", (int)s.sample_rate);
        return create_fail(SMW_ERROR_UNSUPPORTED_SAMPLE_RATE,
                           "unsupported sample rate %s Hz; supported: 44100, 48000, 96000", buf);
    }
    if (s.max_sources < 1 || s.max_sources > SMW_MAX_SOURCES_LIMIT)
        return create_fail(SMW_ERROR_INVALID_ARGUMENT, "max_sources must be 1..4096%s", "");
    if (s.max_block_frames < 1 || s.max_block_frames > 16384)
        return create_fail(SMW_ERROR_INVALID_ARGUMENT, "max_block_frames must be 1..16384%s", "");
    if (s.coordinate_system < SMW_COORDS_NATIVE || s.coordinate_system > SMW_COORDS_OPENAL)
        return create_fail(SMW_ERROR_INVALID_ARGUMENT, "unknown coordinate_system%s", "");
    if (!(s.speed_of_sound >= 1.0f && s.speed_of_sound <= 10000.0f))   /* NaN too */
        return create_fail(SMW_ERROR_INVALID_ARGUMENT, "speed_of_sound must be 1..10000 m/s%s", "");
    if (s.equalization != SMW_EQUALIZATION_NONE && s.equalization != SMW_EQUALIZATION_DIFFUSE_FIELD)
        return create_fail(SMW_ERROR_INVALID_ARGUMENT, "unknown equalization (0 none, 1 diffuse field)%s", "");
    if (s.hop_frames != 256 && s.hop_frames != 128 && s.hop_frames != 64)
        return create_fail(SMW_ERROR_INVALID_ARGUMENT, "hop_frames must be 256, 128 or 64%s", "");
    if (!(s.corrector_table_step_deg == 0.0f ||
          (s.corrector_table_step_deg >= 0.5f && s.corrector_table_step_deg <= 30.0f)))  /* NaN too */
        return create_fail(SMW_ERROR_INVALID_ARGUMENT,
                           "corrector_table_step_deg must be 0 (no table) or 0.5..30 degrees%s", "");

    const char* cpu = missing_cpu_feature();
    if (cpu)
        return create_fail(SMW_ERROR_UNSUPPORTED_CPU,
                           "this CPU lacks %s: spatialmw is built for x86-64-v3 (AVX2, FMA, BMI2; Intel Haswell / AMD Excavator or newer)",
                           cpu);

    smw_model model;
    memset(&model, 0, sizeof model);
    if (s.enable_corrector) {
        char def[PATH_MAX + 64];
        const char* path = s.model_path;
        if (!path) {
            if (!default_model_path(def, sizeof def))
                return create_fail(SMW_ERROR_MODEL_LOAD, "cannot locate the default model asset next to the library%s", "");
            path = def;
        }
        smw_result mrc = load_model(path, &model);
        if (mrc != SMW_SUCCESS) return mrc;
    }
    double settings_v[S_LEN];
    smwk_settings_default(settings_v);
    settings_v[S_SAMPLE_RATE] = s.sample_rate;
    settings_v[S_MAX_SOURCES] = s.max_sources;
    settings_v[S_MAX_BLOCK] = s.max_block_frames;
    settings_v[S_IBC] = s.enable_corrector ? 1.0 : 0.0;
    settings_v[S_TABLE_STEP] = (double)s.corrector_table_step_deg;
    settings_v[S_SPEED_OF_SOUND] = (double)s.speed_of_sound;
    settings_v[S_EQUALIZATION] = (double)s.equalization;
    settings_v[S_HOP] = (double)s.hop_frames;
    /* without a model: placeholder arrays and the grid [0, Nyquist] (engine.model_arrays) */
    const double no_theta[1] = {0.0};
    const int64_t no_dims[DIMS_LEN] = {0};
    const double no_grid[2] = {0.0, 0.5 * s.sample_rate};
    const double* theta = s.enable_corrector ? model.theta : no_theta;
    const int64_t* dims = s.enable_corrector ? model.dims : no_dims;
    const double* grid = s.enable_corrector ? model.grid : no_grid;
    int64_t n_theta = s.enable_corrector ? model.n_theta : 1, n_grid = s.enable_corrector ? model.n_grid : 2;
    if (s.enable_corrector) settings_v[S_HEAD_RADIUS] = model.head_radius;

    int64_t* head = (int64_t*)calloc(PLAN_LEN, sizeof(int64_t));
    smw_renderer* r = (smw_renderer*)alloc_zeroed(sizeof *r);
    if (!head || !r) {
        free(head); free(r); free(model.data);
        return create_fail(SMW_ERROR_OUT_OF_MEMORY, "out of memory%s", "");
    }
    smw__kernel_fault = 0;
    int32_t plan = smwk_plan(settings_v, theta, n_theta, dims, grid, n_grid, head);
    r->sample_rate = s.sample_rate;
    r->max_block = s.max_block_frames;
    r->max_sources = s.max_sources;
    r->coords = s.coordinate_system;
    r->latency_frames = (int32_t)(head[H_HOP] + head[H_DELAY]);
    r->n_f64 = head[H_N_F64]; r->n_f32 = head[H_N_F32]; r->n_i64 = head[H_N_I64];
    r->off_listener = head[H_LISTENER];
    r->off_pose = head[H_SRC_POSE];
    r->off_params = head[H_SRC_PARAM];
    r->off_control = head[H_SRC_CTL];
    r->render_fn = smwk_render;
    r->write_fn = smwk_write;
    r->id = atomic_fetch_add_explicit(&next_renderer_id, 1u, memory_order_relaxed);
    r->log_fn = s.log_callback;
    r->log_user = s.log_user_data;
    r->info.size = (uint32_t)sizeof(smw_model_info);
    r->info.sample_rate = s.sample_rate;
    r->info.corrector_enabled = s.enable_corrector ? 1 : 0;
    r->info.fitted_sample_rate = s.enable_corrector ? (int32_t)lround(model.fitted_rate) : 0;
    r->info.parameter_count = s.enable_corrector ? model.n_theta : 0;
    r->info.grid_points = s.enable_corrector ? (int32_t)model.n_grid : 0;
    r->info.head_radius_m = (float)settings_v[S_HEAD_RADIUS];
    r->info.corrector_table_step_deg = s.enable_corrector ? s.corrector_table_step_deg : 0.0f;
    r->info.latency_frames = r->latency_frames;

    int layout_ok = plan == 0 && !smw__kernel_fault && r->n_f64 > 0 && r->n_f32 >= 0 && r->n_i64 >= HEADER_LEN &&
        r->off_listener >= 0 && r->off_listener + LISTENER_LEN <= r->n_f64 &&
        r->off_pose >= 0 && r->off_pose + (int64_t)r->max_sources * POSE_STRIDE <= r->n_f64 &&
        r->off_params >= 0 && r->off_params + (int64_t)r->max_sources * PARAM_STRIDE <= r->n_f64 &&
        r->off_control >= 0 && r->off_control + (int64_t)r->max_sources * CTL_STRIDE <= r->n_i64;
    if (!layout_ok) {
        free(head); free(model.data); free_renderer(r);
        return create_fail(SMW_ERROR_INTERNAL, "the engine layout planner rejected these settings%s", "");
    }

    r->f64 = (double*)alloc_zeroed((size_t)r->n_f64 * sizeof(double));
    r->f32 = (float*)alloc_zeroed((size_t)(r->n_f32 > 0 ? r->n_f32 : 1) * sizeof(float));
    r->i64 = (int64_t*)alloc_zeroed((size_t)r->n_i64 * sizeof(int64_t));
    r->slots = (smw_slot*)alloc_zeroed((size_t)r->max_sources * sizeof(smw_slot));
    if (!r->f64 || !r->f32 || !r->i64 || !r->slots) {
        free(head); free(model.data); free_renderer(r);
        return create_fail(SMW_ERROR_OUT_OF_MEMORY, "cannot allocate the engine pools%s", "");
    }
    memcpy(r->i64, head, HEADER_LEN * sizeof(int64_t));
    free(head);
    smwk_init(settings_v, theta, n_theta, dims, grid, n_grid, r->f64, r->f32, r->i64);
    free(model.data);
    if (smw__kernel_fault) {
        free_renderer(r);
        return create_fail(SMW_ERROR_INTERNAL, "pool initialisation failed%s", "");
    }

    /* listener at the origin facing forward; all slots free and silent */
    {
        uint32_t q = pub_write_begin(&r->listener);
        const double pose[7] = {0, 0, 0, 0, 0, 0, 1};
        for (int k = 0; k < 7; ++k) atomic_store_explicit(&r->listener.pose[k], pose[k], memory_order_relaxed);
        /* the reverb as smwk_init left it (off) */
        for (int k = 0; k < 4; ++k)
            atomic_store_explicit(&r->listener.params[PUB_LISTENER_REVERB + k], r->f64[r->off_listener + L_REVERB + k],
                                  memory_order_relaxed);
        pub_write_end(&r->listener, q);
    }
    r->listener_seen_seq = 0xFFFFFFFFu;
    for (int i = 0; i < r->max_sources; ++i) {
        atomic_init(&r->slots[i].word, (uint32_t)LIFE_FREE);
        r->i64[r->off_control + (int64_t)i * CTL_STRIDE + CTL_STATE] = 0;
    }
    atomic_init(&r->master_gain, 1.0f);
    atomic_init(&r->paused, 0);
    r->applied_gain = 1.0f;

    /* warm-up: one silent block so the first real block pays no first-call costs. The
     * stream must then start from the initial state, or the hop phase would differ
     * from a Python Engine's and the same scene would not render to the same samples: the
     * int64 and float64 pools are restored (the float32 pool only received silence). */
    {
        float* scratch = (float*)alloc_zeroed((size_t)r->max_block * 2 * sizeof(float));
        double* f64_saved = (double*)malloc((size_t)r->n_f64 * sizeof(double));
        int64_t* i64_saved = (int64_t*)malloc((size_t)r->n_i64 * sizeof(int64_t));
        if (scratch && f64_saved && i64_saved) {
            memcpy(f64_saved, r->f64, (size_t)r->n_f64 * sizeof(double));
            memcpy(i64_saved, r->i64, (size_t)r->n_i64 * sizeof(int64_t));
            int32_t wr = r->render_fn(r->f64, r->f32, r->i64, scratch, r->max_block);
            memcpy(r->f64, f64_saved, (size_t)r->n_f64 * sizeof(double));
            memcpy(r->i64, i64_saved, (size_t)r->n_i64 * sizeof(int64_t));
            if (wr != 0) {
                free(scratch);
                free(f64_saved);
                free(i64_saved);
                free_renderer(r);
                return create_fail(SMW_ERROR_INTERNAL, "the render kernel failed its warm-up block%s", "");
            }
        }
        free(scratch);  /* any of them NULL: the warm-up is skipped, the first block pays */
        free(f64_saved);
        free(i64_saved);
    }
    *out = r;
    return SMW_SUCCESS;
}

smw_result smw_renderer_create(const smw_renderer_settings* settings, smw_renderer** out)
{
    tl_create_error[0] = 0;
    smw_renderer_settings used;
    memset(&used, 0, sizeof used);
    smw_result rc = create_renderer(settings, out, &used);
    if (used.log_callback) {
        if (rc == SMW_SUCCESS) {
            const smw_model_info* m = &(*out)->info;
            char text[256];
            snprintf(text, sizeof text,
                     "spatialmw %d.%d.%d: renderer created: %d Hz, %d sources, %d-frame blocks, corrector %s "
                     "(%lld parameters), latency %d frames",
                     SMW_VERSION_MAJOR, SMW_VERSION_MINOR, SMW_VERSION_PATCH, (int)used.sample_rate,
                     (int)used.max_sources, (int)used.max_block_frames, m->corrector_enabled ? "on" : "off",
                     (long long)m->parameter_count, (int)m->latency_frames);
            used.log_callback(used.log_user_data, SMW_LOG_INFO, text);
        } else {
            used.log_callback(used.log_user_data, SMW_LOG_ERROR, tl_create_error);
        }
    }
    return rc;
}

void smw_renderer_destroy(smw_renderer* r)
{
    free_renderer(r);
}

smw_result smw_renderer_get_latency(const smw_renderer* r, int32_t* frames)
{
    if (!r) return SMW_ERROR_NULL_POINTER;
    if (!frames) return fail((smw_renderer*)r, SMW_ERROR_NULL_POINTER, "smw_renderer_get_latency: out_frames is NULL");
    *frames = r->latency_frames;
    return SMW_SUCCESS;
}

/* ---------------------------------------------------------------------------------
 * Listener and sources (game thread)
 * --------------------------------------------------------------------------------- */
smw_result smw_listener_set_pose(smw_renderer* r, const float position[3], const float quat[4])
{
    if (!r) return SMW_ERROR_NULL_POINTER;
    if (!position || !quat) return fail(r, SMW_ERROR_NULL_POINTER, "smw_listener_set_pose: position or quat is NULL");
    double v[7];
    const char* err = convert_pose(r->coords, position, quat, v);
    if (err) return fail(r, SMW_ERROR_INVALID_ARGUMENT, err);
    uint32_t s = pub_write_begin(&r->listener);
    for (int k = 0; k < 7; ++k) atomic_store_explicit(&r->listener.pose[k], v[k], memory_order_relaxed);
    pub_write_end(&r->listener, s);
    return SMW_SUCCESS;
}

/* Validate and convert a velocity to native m/s. Returns NULL on success or a static message. */
static const char* convert_velocity(int coords, const float v_in[3], double out[3])
{
    const double (*m)[3] = coord_m[coords];
    double s = coord_scale[coords], v2 = 0.0;
    for (int k = 0; k < 3; ++k)
        if (!isfinite(v_in[k])) return "velocity rejected: NaN or Inf";
    for (int i = 0; i < 3; ++i) {
        out[i] = (m[i][0] * v_in[0] + m[i][1] * v_in[1] + m[i][2] * v_in[2]) * s;
        v2 += out[i] * out[i];
    }
    if (!(sqrt(v2) <= SMW_MAX_POSITION_M)) return "velocity rejected: faster than 1e6 m/s";
    return NULL;
}

smw_result smw_listener_set_velocity(smw_renderer* r, const float velocity[3])
{
    if (!r) return SMW_ERROR_NULL_POINTER;
    if (!velocity) return fail(r, SMW_ERROR_NULL_POINTER, "smw_listener_set_velocity: velocity is NULL");
    double v[3];
    const char* err = convert_velocity(r->coords, velocity, v);
    if (err) return fail(r, SMW_ERROR_INVALID_ARGUMENT, err);
    uint32_t s = pub_write_begin(&r->listener);
    for (int k = 0; k < 3; ++k) atomic_store_explicit(&r->listener.params[PUB_LISTENER_VEL + k], v[k], memory_order_relaxed);
    atomic_store_explicit(&r->listener.flags, 1, memory_order_relaxed);
    pub_write_end(&r->listener, s);
    return SMW_SUCCESS;
}

static const char* const TEXT_STALE = "source handle is stale (the source was destroyed)";

/* Resolve a handle to its slot if the source is alive (`audio`: on the audio thread). A
 * slot's generations are issued in order from 1, so one above the slot's current
 * generation (or 0) was never issued, unless the counter has wrapped. */
static smw_slot* lookup_in(smw_renderer* r, smw_source h, smw_result* rc, int audio)
{
    smw_result (*failed)(smw_renderer*, smw_result, const char*) = audio ? fail_audio : fail;
    uint32_t idx1 = h & 0xFFFFu;
    if (h == SMW_SOURCE_INVALID || idx1 == 0 || (int64_t)idx1 > r->max_sources) {
        *rc = failed(r, SMW_ERROR_INVALID_HANDLE, h == SMW_SOURCE_INVALID
                     ? "source handle is 0 (SMW_SOURCE_INVALID)"
                     : "source handle was never issued by this renderer (slot index out of range)");
        return NULL;
    }
    smw_slot* sl = &r->slots[idx1 - 1];
    uint32_t w = atomic_load_explicit(&sl->word, memory_order_acquire);
    uint32_t gen = h >> 16, cur = w >> 16;
    if ((w & 0xFFFFu) == LIFE_LIVE && cur == gen) return sl;
    int issued = atomic_load_explicit(&sl->wrapped, memory_order_relaxed) || (gen != 0 && gen <= cur);
    *rc = failed(r, SMW_ERROR_INVALID_HANDLE, issued ? TEXT_STALE
                 : "source handle was never issued by this renderer (no source of its slot had that generation)");
    return NULL;
}

static smw_slot* lookup(smw_renderer* r, smw_source h, smw_result* rc) { return lookup_in(r, h, rc, 0); }

smw_result smw_source_create(smw_renderer* r, smw_source* out)
{
    if (!r) return SMW_ERROR_NULL_POINTER;
    if (!out) return fail(r, SMW_ERROR_NULL_POINTER, "smw_source_create: out_source is NULL");
    *out = SMW_SOURCE_INVALID;
    uint32_t n = (uint32_t)r->max_sources;
    uint32_t start = atomic_fetch_add_explicit(&r->alloc_hint, 1u, memory_order_relaxed);
    /* a free slot, or one destroyed since the last smw_render (so destroy-then-create in
     * one game tick steals a voice): the audio thread clears a recycled slot before the new
     * incarnation's first write or block (STATE_RECYCLE), never waiting for this thread */
    for (uint32_t k = 0; k < n; ++k) {
        uint32_t i = (start + k) % n;
        smw_slot* sl = &r->slots[i];
        uint32_t w = atomic_load_explicit(&sl->word, memory_order_relaxed);
        if ((w & 0xFFFFu) != LIFE_FREE && (w & 0xFFFFu) != LIFE_RELEASING) continue;
        uint32_t gen = ((w >> 16) + 1u) & 0xFFFFu;
        uint32_t claimed = (gen << 16) | LIFE_CLAIMED;
        if (!atomic_compare_exchange_strong_explicit(&sl->word, &w, claimed, memory_order_acq_rel,
                                                     memory_order_relaxed))
            continue;
        if (gen == 0) atomic_store_explicit(&sl->wrapped, 1u, memory_order_relaxed);
        atomic_store_explicit(&sl->status, gen << 16, memory_order_relaxed);
        pub_set_defaults(&sl->pub);
        atomic_store_explicit(&sl->word, (gen << 16) | LIFE_LIVE, memory_order_release);
        *out = (gen << 16) | (i + 1u);
        return SMW_SUCCESS;
    }
    return fail(r, SMW_ERROR_OUT_OF_SOURCES, "all max_sources source slots are in use by live sources");
}

smw_result smw_source_destroy(smw_renderer* r, smw_source h)
{
    if (!r) return SMW_ERROR_NULL_POINTER;
    smw_result rc = SMW_SUCCESS;
    smw_slot* sl = lookup(r, h, &rc);
    if (!sl) return rc;
    uint32_t expect = ((h >> 16) << 16) | LIFE_LIVE;
    if (!atomic_compare_exchange_strong_explicit(&sl->word, &expect, ((h >> 16) << 16) | LIFE_RELEASING,
                                                 memory_order_acq_rel, memory_order_relaxed))
        return fail(r, SMW_ERROR_INVALID_HANDLE, TEXT_STALE);
    return SMW_SUCCESS;
}

smw_result smw_source_set_pose(smw_renderer* r, smw_source h, const float position[3], const float quat[4])
{
    if (!r) return SMW_ERROR_NULL_POINTER;
    smw_result rc = SMW_SUCCESS;
    smw_slot* sl = lookup(r, h, &rc);
    if (!sl) return rc;
    if (!position || !quat) return fail(r, SMW_ERROR_NULL_POINTER, "smw_source_set_pose: position or quat is NULL");
    double v[7];
    const char* err = convert_pose(r->coords, position, quat, v);
    if (err) return fail(r, SMW_ERROR_INVALID_ARGUMENT, err);
    uint32_t s = pub_write_begin(&sl->pub);
    for (int k = 0; k < 7; ++k) atomic_store_explicit(&sl->pub.pose[k], v[k], memory_order_relaxed);
    pub_write_end(&sl->pub, s);
    return SMW_SUCCESS;
}

smw_result smw_source_set_velocity(smw_renderer* r, smw_source h, const float velocity[3])
{
    if (!r) return SMW_ERROR_NULL_POINTER;
    smw_result rc = SMW_SUCCESS;
    smw_slot* sl = lookup(r, h, &rc);
    if (!sl) return rc;
    if (!velocity) return fail(r, SMW_ERROR_NULL_POINTER, "smw_source_set_velocity: velocity is NULL");
    double v[3];
    const char* err = convert_velocity(r->coords, velocity, v);
    if (err) return fail(r, SMW_ERROR_INVALID_ARGUMENT, err);
    uint32_t s = pub_write_begin(&sl->pub);
    for (int k = 0; k < 3; ++k) atomic_store_explicit(&sl->pub.params[P_VEL + k], v[k], memory_order_relaxed);
    atomic_store_explicit(&sl->pub.flags, atomic_load_explicit(&sl->pub.flags, memory_order_relaxed) | FLAG_VELOCITY,
                          memory_order_relaxed);
    pub_write_end(&sl->pub, s);
    return SMW_SUCCESS;
}

smw_result smw_source_teleport(smw_renderer* r, smw_source h)
{
    if (!r) return SMW_ERROR_NULL_POINTER;
    smw_result rc = SMW_SUCCESS;
    smw_slot* sl = lookup(r, h, &rc);
    if (!sl) return rc;
    uint32_t s = pub_write_begin(&sl->pub);
    double n = atomic_load_explicit(&sl->pub.params[P_TELEPORTS], memory_order_relaxed);
    atomic_store_explicit(&sl->pub.params[P_TELEPORTS], n + 1.0, memory_order_relaxed);
    pub_write_end(&sl->pub, s);
    return SMW_SUCCESS;
}

smw_result smw_source_set_gain(smw_renderer* r, smw_source h, float gain)
{
    if (!r) return SMW_ERROR_NULL_POINTER;
    smw_result rc = SMW_SUCCESS;
    smw_slot* sl = lookup(r, h, &rc);
    if (!sl) return rc;
    if (!isfinite(gain) || gain < 0.0f || gain > SMW_MAX_GAIN)
        return fail(r, SMW_ERROR_INVALID_ARGUMENT, "gain must be finite and in [0, 1000]");
    uint32_t s = pub_write_begin(&sl->pub);
    atomic_store_explicit(&sl->pub.params[0], (double)gain, memory_order_relaxed);
    pub_write_end(&sl->pub, s);
    return SMW_SUCCESS;
}

smw_result smw_source_set_distance_model(smw_renderer* r, smw_source h, int32_t model, float min_d,
                                         float max_d, float rolloff)
{
    if (!r) return SMW_ERROR_NULL_POINTER;
    smw_result rc = SMW_SUCCESS;
    smw_slot* sl = lookup(r, h, &rc);
    if (!sl) return rc;
    if (model < SMW_DISTANCE_NONE || model > SMW_DISTANCE_LINEAR)
        return fail(r, SMW_ERROR_INVALID_ARGUMENT, "unknown distance model (0 none, 1 inverse clamped, 2 linear)");
    if (!isfinite(min_d) || !isfinite(max_d) || !isfinite(rolloff))
        return fail(r, SMW_ERROR_INVALID_ARGUMENT, "distance model values must be finite");
    double scale = coord_scale[r->coords];
    double mn = (double)min_d * scale, mx = (double)max_d * scale;
    if (!(mn > 0.0) || !(mx >= mn) || mx > 2.0 * SMW_MAX_POSITION_M || !(rolloff >= 0.0f) || rolloff > 1000.0f)
        return fail(r, SMW_ERROR_INVALID_ARGUMENT,
                    "distance model needs 0 < min_distance <= max_distance <= 2e6 m and 0 <= rolloff <= 1000");
    uint32_t s = pub_write_begin(&sl->pub);
    atomic_store_explicit(&sl->pub.params[1], mn, memory_order_relaxed);
    atomic_store_explicit(&sl->pub.params[2], mx, memory_order_relaxed);
    atomic_store_explicit(&sl->pub.params[3], (double)rolloff, memory_order_relaxed);
    atomic_store_explicit(&sl->pub.model, model, memory_order_relaxed);
    pub_write_end(&sl->pub, s);
    return SMW_SUCCESS;
}

/* Publish n consecutive source parameters from `first` (layout P_*), already validated. */
static smw_result set_params(smw_renderer* r, smw_source h, int first, int n, const double* values)
{
    if (!r) return SMW_ERROR_NULL_POINTER;
    smw_result rc = SMW_SUCCESS;
    smw_slot* sl = lookup(r, h, &rc);
    if (!sl) return rc;
    uint32_t s = pub_write_begin(&sl->pub);
    for (int k = 0; k < n; ++k) atomic_store_explicit(&sl->pub.params[first + k], values[k], memory_order_relaxed);
    pub_write_end(&sl->pub, s);
    return SMW_SUCCESS;
}

static int in_range(float v, float lo, float hi) { return v >= lo && v <= hi; }  /* false for NaN */

smw_result smw_source_set_cone(smw_renderer* r, smw_source h, float inner_deg, float outer_deg,
                               float outer_gain, float outer_hf_gain)
{
    if (!r) return SMW_ERROR_NULL_POINTER;
    if (!in_range(inner_deg, 0.0f, 360.0f) || !in_range(outer_deg, inner_deg, 360.0f) ||
        !in_range(outer_gain, 0.0f, 1.0f) || !in_range(outer_hf_gain, 0.0f, 1.0f))
        return fail(r, SMW_ERROR_INVALID_ARGUMENT,
                    "cone needs 0 <= inner_deg <= outer_deg <= 360 and gains in [0, 1]");
    const double v[4] = {inner_deg, outer_deg, outer_gain, outer_hf_gain};
    return set_params(r, h, P_CONE_INNER, 4, v);
}

smw_result smw_source_set_transmission(smw_renderer* r, smw_source h, float low, float mid, float high)
{
    if (!r) return SMW_ERROR_NULL_POINTER;
    if (!in_range(low, 0.0f, 1.0f) || !in_range(mid, 0.0f, 1.0f) || !in_range(high, 0.0f, 1.0f))
        return fail(r, SMW_ERROR_INVALID_ARGUMENT, "transmission gains must be in [0, 1]");
    const double v[3] = {low, mid, high};
    return set_params(r, h, P_TRANSMISSION, 3, v);
}

smw_result smw_source_set_air_absorption(smw_renderer* r, smw_source h, float factor)
{
    if (!r) return SMW_ERROR_NULL_POINTER;
    if (!in_range(factor, 0.0f, 10.0f))
        return fail(r, SMW_ERROR_INVALID_ARGUMENT, "air absorption factor must be in [0, 10]");
    const double v[1] = {factor};
    return set_params(r, h, P_AIR_ABSORPTION, 1, v);
}

smw_result smw_source_set_reverb_send(smw_renderer* r, smw_source h, float send)
{
    if (!r) return SMW_ERROR_NULL_POINTER;
    if (!in_range(send, 0.0f, 1.0f)) return fail(r, SMW_ERROR_INVALID_ARGUMENT, "reverb send must be in [0, 1]");
    const double v[1] = {send};
    return set_params(r, h, P_REVERB_SEND, 1, v);
}

smw_reverb_settings smw_reverb_settings_default(void)
{
    smw_reverb_settings s;
    memset(&s, 0, sizeof s);
    s.size = (uint32_t)sizeof s;
    s.decay_time_s = 1.5f;      /* spatialmw/kernels/reverb.py DEFAULT_* */
    s.pre_delay_s = 0.02f;
    s.hf_decay_ratio = 0.5f;
    s.wet_gain = 1.0f;
    return s;
}

smw_result smw_renderer_set_reverb(smw_renderer* r, const smw_reverb_settings* rs)
{
    if (!r) return SMW_ERROR_NULL_POINTER;
    if (!rs) return fail(r, SMW_ERROR_NULL_POINTER, "smw_renderer_set_reverb: settings is NULL");
    if (rs->size != (uint32_t)sizeof(smw_reverb_settings))
        return fail(r, SMW_ERROR_SETTINGS_SIZE, "smw_renderer_set_reverb: settings.size unknown; use smw_reverb_settings_default()");
    if (!in_range(rs->decay_time_s, 0.1f, 20.0f) || !in_range(rs->pre_delay_s, 0.0f, 0.5f) ||
        !in_range(rs->hf_decay_ratio, 0.1f, 1.0f) || !in_range(rs->wet_gain, 0.0f, 4.0f))
        return fail(r, SMW_ERROR_INVALID_ARGUMENT,
                    "reverb needs decay_time_s 0.1..20, pre_delay_s 0..0.5, hf_decay_ratio 0.1..1, wet_gain 0..4");
    const double v[4] = {rs->decay_time_s, rs->pre_delay_s, rs->hf_decay_ratio, rs->wet_gain};
    uint32_t s = pub_write_begin(&r->listener);
    for (int k = 0; k < 4; ++k)
        atomic_store_explicit(&r->listener.params[PUB_LISTENER_REVERB + k], v[k], memory_order_relaxed);
    pub_write_end(&r->listener, s);
    return SMW_SUCCESS;
}

static smw_result set_flag(smw_renderer* r, smw_source h, int32_t bit, int32_t value, int32_t on_value)
{
    if (!r) return SMW_ERROR_NULL_POINTER;
    smw_result rc = SMW_SUCCESS;
    smw_slot* sl = lookup(r, h, &rc);
    if (!sl) return rc;
    if (value != 0 && value != 1) return fail(r, SMW_ERROR_INVALID_ARGUMENT, "on/off flags must be 0 or 1");
    int on = value == on_value;
    uint32_t s = pub_write_begin(&sl->pub);
    int32_t f = atomic_load_explicit(&sl->pub.flags, memory_order_relaxed);
    f = on ? (f | bit) : (f & ~bit);
    atomic_store_explicit(&sl->pub.flags, f, memory_order_relaxed);
    pub_write_end(&sl->pub, s);
    return SMW_SUCCESS;
}

smw_result smw_source_set_doppler(smw_renderer* r, smw_source h, int32_t enabled)
{
    return set_flag(r, h, FLAG_DOPPLER, enabled, 1);
}

smw_result smw_source_set_spatialize(smw_renderer* r, smw_source h, int32_t enabled)
{
    return set_flag(r, h, FLAG_BYPASS, enabled, 0);
}

smw_result smw_source_set_paused(smw_renderer* r, smw_source h, int32_t paused)
{
    return set_flag(r, h, FLAG_PAUSED, paused, 1);
}

smw_result smw_source_get_status(smw_renderer* r, smw_source h, uint32_t* out_flags)
{
    if (!r) return SMW_ERROR_NULL_POINTER;
    smw_result rc = SMW_SUCCESS;
    smw_slot* sl = lookup(r, h, &rc);
    if (!sl) return rc;
    if (!out_flags) return fail(r, SMW_ERROR_NULL_POINTER, "smw_source_get_status: out_flags is NULL");
    uint32_t gen = h >> 16;
    uint32_t old = atomic_load_explicit(&sl->status, memory_order_acquire);
    do {
        if ((old >> 16) != gen) { *out_flags = 0; return SMW_SUCCESS; }  /* destroyed meanwhile */
    } while (!atomic_compare_exchange_weak_explicit(&sl->status, &old, gen << 16, memory_order_acq_rel,
                                                    memory_order_acquire));
    *out_flags = old & 0xFFFFu;
    return SMW_SUCCESS;
}

smw_result smw_renderer_set_master_gain(smw_renderer* r, float gain)
{
    if (!r) return SMW_ERROR_NULL_POINTER;
    if (!isfinite(gain) || gain < 0.0f || gain > SMW_MAX_GAIN)
        return fail(r, SMW_ERROR_INVALID_ARGUMENT, "master gain must be finite and in [0, 1000]");
    atomic_store_explicit(&r->master_gain, gain, memory_order_relaxed);
    return SMW_SUCCESS;
}

smw_result smw_renderer_set_paused(smw_renderer* r, int32_t paused)
{
    if (!r) return SMW_ERROR_NULL_POINTER;
    if (paused != 0 && paused != 1) return fail(r, SMW_ERROR_INVALID_ARGUMENT, "paused must be 0 or 1");
    atomic_store_explicit(&r->paused, paused, memory_order_relaxed);
    return SMW_SUCCESS;
}

smw_result smw_renderer_get_model_info(const smw_renderer* r, smw_model_info* out)
{
    if (!r) return SMW_ERROR_NULL_POINTER;
    if (!out) return fail((smw_renderer*)r, SMW_ERROR_NULL_POINTER, "smw_renderer_get_model_info: out is NULL");
    if (out->size != (uint32_t)sizeof(smw_model_info))
        return fail((smw_renderer*)r, SMW_ERROR_SETTINGS_SIZE,
                    "smw_renderer_get_model_info: out->size must be sizeof(smw_model_info)");
    *out = r->info;
    return SMW_SUCCESS;
}

/* ---------------------------------------------------------------------------------
 * Audio thread
 * --------------------------------------------------------------------------------- */
static void normalise_quat(double* q)
{
    double n = sqrt(q[0] * q[0] + q[1] * q[1] + q[2] * q[2] + q[3] * q[3]);
    if (n < 1e-6 || !isfinite(n)) { q[0] = q[1] = q[2] = 0.0; q[3] = 1.0; return; }
    for (int k = 0; k < 4; ++k) q[k] /= n;
}

static void store_slot_values(smw_renderer* r, int i, smw_values* v)
{
    normalise_quat(&v->pose[3]);
    double* pose = r->f64 + r->off_pose + (int64_t)i * POSE_STRIDE;
    double* par = r->f64 + r->off_params + (int64_t)i * PARAM_STRIDE;
    int64_t* ctl = r->i64 + r->off_control + (int64_t)i * CTL_STRIDE;
    for (int k = 0; k < 7; ++k) pose[k] = v->pose[k];
    for (int k = 0; k < PARAM_STRIDE; ++k) par[k] = v->params[k];
    ctl[CTL_MODEL] = v->model;
    ctl[CTL_FLAGS] = v->flags;
}

/* Audio thread: make slot i's pool entries reflect the newest published values; start it
 * (state 2) if it is a new incarnation. `w` is the slot word just loaded. */
static void sync_live_slot(smw_renderer* r, int i, uint32_t w)
{
    smw_slot* sl = &r->slots[i];
    uint32_t gen = w >> 16;
    smw_values v;
    uint32_t seq;
    if (!sl->active || sl->seen_gen != gen) {
        /* new source: take its values even if a writer interferes (fields are each valid) */
        int ok = pub_read(&sl->pub, &v, &seq);
        store_slot_values(r, i, &v);
        /* a stolen voice's slot still holds the previous incarnation: the kernel clears it */
        r->i64[r->off_control + (int64_t)i * CTL_STRIDE + CTL_STATE] = sl->active ? STATE_RECYCLE : STATE_RESTART;
        r->i64[r->off_control + (int64_t)i * CTL_STRIDE + CTL_STATUS] = 0;
        sl->active = 1;
        sl->seen_gen = gen;
        sl->seen_seq = ok ? seq : 0xFFFFFFFFu;
        return;
    }
    uint32_t cur = atomic_load_explicit(&sl->pub.seq, memory_order_acquire);
    if (cur == sl->seen_seq) return;
    if (pub_read(&sl->pub, &v, &seq)) {
        store_slot_values(r, i, &v);
        sl->seen_seq = seq;
    } /* else: writer mid-update; keep the previous values this block */
}

static void sync_all(smw_renderer* r)
{
    /* listener */
    uint32_t cur = atomic_load_explicit(&r->listener.seq, memory_order_acquire);
    if (cur != r->listener_seen_seq) {
        smw_values v;
        uint32_t seq;
        if (pub_read(&r->listener, &v, &seq)) {
            normalise_quat(&v.pose[3]);
            double* lp = r->f64 + r->off_listener;
            for (int k = 0; k < 7; ++k) lp[k] = v.pose[k];
            for (int k = 0; k < 3; ++k) lp[L_VEL + k] = v.params[PUB_LISTENER_VEL + k];
            for (int k = 0; k < 4; ++k) lp[L_REVERB + k] = v.params[PUB_LISTENER_REVERB + k];
            lp[L_VEL_SET] = v.flags ? 1.0 : 0.0;
            r->listener_seen_seq = seq;
        }
    }
    for (int i = 0; i < r->max_sources; ++i) {
        smw_slot* sl = &r->slots[i];
        uint32_t w = atomic_load_explicit(&sl->word, memory_order_acquire);
        uint32_t life = w & 0xFFFFu;
        if (life == LIFE_LIVE) {
            sync_live_slot(r, i, w);
        } else if (life == LIFE_RELEASING &&
                   atomic_compare_exchange_strong_explicit(&sl->word, &w, (w & 0xFFFF0000u) | LIFE_FREE,
                                                           memory_order_acq_rel, memory_order_acquire)) {
            /* STOP: the kernel clears the slot's delay line and state in this block, then
             * sets it inactive (a create may also claim the slot before that: STATE_RECYCLE) */
            r->i64[r->off_control + (int64_t)i * CTL_STRIDE + CTL_STATE] = STATE_STOP;
            sl->active = 0;
        } else if ((w & 0xFFFFu) == LIFE_LIVE) {
            sync_live_slot(r, i, w);   /* the CAS lost to a create that has finished */
        } else if (sl->active) {
            r->i64[r->off_control + (int64_t)i * CTL_STRIDE + CTL_STATE] = STATE_STOP;
            sl->active = 0;
        }
    }
}

/* Audio thread: hand slot i's kernel status bits to the game thread (smw_source_get_status),
 * tagged with the incarnation the kernel ran; a newer incarnation's word starts afresh. */
static void publish_status(smw_renderer* r, int i, uint32_t bits)
{
    smw_slot* sl = &r->slots[i];
    uint32_t gen = sl->seen_gen;
    uint32_t old = atomic_load_explicit(&sl->status, memory_order_relaxed);
    uint32_t want;
    do {
        if ((old >> 16) != gen) return;   /* the slot was claimed by a newer source */
        want = old | bits;
    } while (old != want && !atomic_compare_exchange_weak_explicit(&sl->status, &old, want, memory_order_release,
                                                                   memory_order_relaxed));
}

static void take_kernel_status(smw_renderer* r, int i)
{
    int64_t* st = &r->i64[r->off_control + (int64_t)i * CTL_STRIDE + CTL_STATUS];
    if (*st) {
        publish_status(r, i, (uint32_t)*st);
        *st = 0;
    }
}

smw_result smw_source_write(smw_renderer* r, smw_source h, const float* mono, int32_t frames)
{
    if (!r) return SMW_ERROR_NULL_POINTER;
    smw_result rc = SMW_SUCCESS;
    smw_slot* sl = lookup_in(r, h, &rc, 1);
    if (!sl) return rc;
    if (!mono) return fail_audio(r, SMW_ERROR_NULL_POINTER, "smw_source_write: samples pointer is NULL");
    if (frames < 1 || frames > r->max_block)
        return fail_audio(r, SMW_ERROR_FRAME_COUNT, "smw_source_write: frames must be 1..max_block_frames");
    int i = (int)((h & 0xFFFFu) - 1u);
    uint32_t w = atomic_load_explicit(&sl->word, memory_order_acquire);
    if ((w & 0xFFFFu) == LIFE_LIVE && (!sl->active || sl->seen_gen != (w >> 16)))
        sync_live_slot(r, i, w);
    int32_t k = r->write_fn(r->f64, r->f32, r->i64, (int32_t)i, mono, frames);
    if (sl->active) take_kernel_status(r, i);
    switch (k) {
    case 0: return SMW_SUCCESS;
    case 1: return fail_audio(r, SMW_ERROR_NONFINITE_INPUT,
                              "smw_source_write: samples contained NaN/Inf or |x| > 1e6; the block was replaced by silence");
    case 2: return fail_audio(r, SMW_ERROR_BUFFER_FULL,
                              "smw_source_write: more than max_block_frames pending for this source; block rejected");
    default: return fail_audio(r, SMW_ERROR_INTERNAL, "smw_source_write: the write kernel returned an unexpected code");
    }
}

smw_result smw_render(smw_renderer* r, float* out, int32_t frames)
{
    if (!r) return SMW_ERROR_NULL_POINTER;
    if (!out) return fail_audio(r, SMW_ERROR_NULL_POINTER, "smw_render: output pointer is NULL");
    if (frames < 1 || frames > r->max_block)
        return fail_audio(r, SMW_ERROR_FRAME_COUNT, "smw_render: frames must be 1..max_block_frames");
    int paused = atomic_load_explicit(&r->paused, memory_order_relaxed);
    float g0 = r->applied_gain;
    float g1 = paused ? 0.0f : atomic_load_explicit(&r->master_gain, memory_order_relaxed);
    if (paused && g0 == 0.0f) {
        /* paused and faded out: nothing runs, so every stream (and the clock) stands still */
        memset(out, 0, (size_t)frames * 2 * sizeof(float));
        for (int i = 0; i < r->max_sources; ++i)
            if (r->slots[i].active) publish_status(r, i, SMW_SOURCE_STATUS_PAUSED);
        return SMW_SUCCESS;
    }
    sync_all(r);
    int32_t k = r->render_fn(r->f64, r->f32, r->i64, out, frames);
    for (int i = 0; i < r->max_sources; ++i)
        if (r->slots[i].active) take_kernel_status(r, i);
    r->applied_gain = g1;
    if (g0 != 1.0f || g1 != 1.0f) {
        /* the master gain (x 0 while pausing, from 0 when resuming) ramps across the block */
        float d = g1 - g0;
        for (int32_t n = 0; n < frames; ++n) {
            float g = g0 + d * (float)(n + 1) / (float)frames;
            out[2 * n] *= g;
            out[2 * n + 1] *= g;
        }
    }
    int bad = (k != 0);
    if (!bad) {
        /* safety net: the output must never carry NaN/Inf to the device */
        for (int32_t n = 0; n < 2 * frames; ++n)
            if (!isfinite(out[n])) { bad = 1; break; }
    }
    if (bad) {
        memset(out, 0, (size_t)frames * 2 * sizeof(float));
        return fail_audio(r, SMW_ERROR_INTERNAL, "smw_render: the render kernel failed or produced non-finite output; block silenced");
    }
    return SMW_SUCCESS;
}
