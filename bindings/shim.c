/*
 * shim.c -- the C side of libspatialmw.so (compiled by bindings/build_lib.py through cffi's
 * embedding mode; Python.h is already included by cffi before this file).
 *
 * Control path (may use Python): smw_renderer_create asks the embedded Python package
 * (spatialmw.abi, via the cffi extern-"Python" functions smwpy_*) for the engine layout and
 * the numba @cfunc kernel addresses, allocates the three pools here, and lets Python fill
 * them. After that the renderer never touches Python again.
 *
 * Real-time path (pure C): smw_render / smw_source_write copy the newest published poses
 * and parameters into the pools (seqlocks, never waiting) and call the kernels through plain
 * function pointers. No locks, no allocation, no GIL.
 *
 * Build-time constants (defined by build_lib.py): SMW_PYTHON_HOME, SMW_VENV_SITE, SMW_REPO_ROOT.
 */
#define SMW_BUILDING_LIBRARY 1
#include "spatialmw.h"

#include <math.h>
#include <stddef.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---------------------------------------------------------------------------------
 * Interface with the embedded Python side (declared to cffi too, see build_lib.py).
 * --------------------------------------------------------------------------------- */
typedef struct smw_py_args {
    /* in */
    int32_t sample_rate;
    int32_t max_sources;
    int32_t max_block;
    int32_t ibc;
    int32_t equalization;
    double table_step;
    double speed_of_sound;
    const char* model_path;
    /* out (written by Python) */
    int32_t result;
    char message[1024];
    int64_t token;
    int64_t n_f64, n_f32, n_i64;
    int64_t off_listener, off_source_pose, off_source_params, off_source_control;
    int64_t latency_frames;
    uint64_t render_addr, write_addr;
} smw_py_args;

/* implemented in Python (embedding_api in build_lib.py) */
int32_t smwpy_create_layout(smw_py_args* args);
int32_t smwpy_init_pools(smw_py_args* args, double* f64, float* f32, int64_t* i64);
int32_t smwpy_release(smw_py_args* args);

typedef int32_t (*smw_render_fn)(double*, float*, int64_t*, float*, int32_t);
typedef int32_t (*smw_write_fn)(double*, float*, int64_t*, int32_t, const float*, int32_t);

/* ---------------------------------------------------------------------------------
 * Renderer state
 * --------------------------------------------------------------------------------- */
enum { LIFE_FREE = 0, LIFE_CLAIMED = 1, LIFE_LIVE = 2, LIFE_RELEASING = 3 };
enum { CTL_STATE = 0, CTL_MODEL = 1, CTL_FLAGS = 2, CTL_STATUS = 3, CTL_STRIDE = 4 };
enum { POSE_STRIDE = 8, PARAM_STRIDE = 8 };
enum { FLAG_DOPPLER = 1, FLAG_BYPASS = 2, FLAG_PAUSED = 4, FLAG_VELOCITY = 8 };
enum { P_VEL = 4, P_TELEPORTS = 7 };               /* layout.py P_* */
enum { L_VEL = 8, L_VEL_SET = 11, LISTENER_LEN = 16 };  /* layout.py L_* */
/* source_control state values (spatialmw/kernels/layout.py, render.py) */
enum { STATE_INACTIVE = 0, STATE_PLAYING = 1, STATE_RESTART = 2, STATE_STOP = 3 };

/* the settings struct of version 0.1, to recognise its size */
typedef struct {
    uint32_t size;
    int32_t sample_rate, max_block_frames, max_sources;
    const char* model_path;
    int32_t coordinate_system, enable_corrector;
    float corrector_table_step_deg;
} smw_renderer_settings_v0_1;

#define SMW_MAX_SOURCES_LIMIT 4096
#define SMW_MAX_POSITION_M 1.0e6
#define SMW_MAX_GAIN 1000.0

/* values the game thread publishes for one source or the listener (seqlock-protected) */
typedef struct {
    _Atomic uint32_t seq;           /* odd while a writer is updating */
    _Atomic(double) pose[7];        /* native px py pz qx qy qz qw */
    _Atomic(double) params[8];      /* sources: layout P_* (gain, distances, rolloff, velocity, teleports);
                                       the listener: velocity xyz */
    _Atomic int32_t model;
    _Atomic int32_t flags;
} smw_published;

typedef struct {
    _Alignas(64) smw_published pub;
    /* generation in bits 16..31, LIFE_* in bits 0..15: one word, so destroy is one CAS */
    _Atomic uint32_t word;
    /* audio-thread-only */
    uint32_t seen_gen;
    uint32_t seen_seq;
    int32_t active;
} smw_slot;

struct smw_renderer {
    /* immutable after create */
    int32_t sample_rate, max_block, max_sources, coords;
    int32_t latency_frames;
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
    _Atomic(const char*) last_error;
    /* audio-thread-only */
    uint32_t listener_seen_seq;
    char message[1024];   /* text for Python-originated errors (create only) */
};

static _Thread_local char tl_create_error[1024] = "";

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
    case SMW_ERROR_PYTHON_INIT: return "SMW_ERROR_PYTHON_INIT: embedded Python runtime or spatialmw package failed to start";
    case SMW_ERROR_OUT_OF_MEMORY: return "SMW_ERROR_OUT_OF_MEMORY: allocation failed";
    case SMW_ERROR_NOT_INITIALIZED: return "SMW_ERROR_NOT_INITIALIZED: renderer not initialised";
    case SMW_ERROR_SETTINGS_SIZE: return "SMW_ERROR_SETTINGS_SIZE: settings.size unknown; use smw_renderer_settings_default()";
    case SMW_ERROR_INTERNAL: return "SMW_ERROR_INTERNAL: internal error (output silenced)";
    default: return "unknown smw_result";
    }
}

static smw_result fail(smw_renderer* r, smw_result code, const char* text)
{
    if (r) atomic_store_explicit(&r->last_error, text, memory_order_release);
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
    const char* s = atomic_load_explicit(&((smw_renderer*)r)->last_error, memory_order_acquire);
    return s ? s : "";
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
    double params[8];
    int32_t model, flags;
} smw_values;

/* One attempt; returns 1 with a consistent snapshot, 0 if a writer interfered (the
 * snapshot may then be torn, each field individually valid). */
static int pub_read(smw_published* p, smw_values* v, uint32_t* seq_out)
{
    uint32_t s1 = atomic_load_explicit(&p->seq, memory_order_acquire);
    for (int k = 0; k < 7; ++k) v->pose[k] = atomic_load_explicit(&p->pose[k], memory_order_relaxed);
    for (int k = 0; k < 8; ++k) v->params[k] = atomic_load_explicit(&p->params[k], memory_order_relaxed);
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
    atomic_store_explicit(&p->params[0], 1.0, memory_order_relaxed);
    atomic_store_explicit(&p->params[1], 1.0, memory_order_relaxed);
    atomic_store_explicit(&p->params[2], SMW_MAX_POSITION_M, memory_order_relaxed);
    atomic_store_explicit(&p->params[3], 1.0, memory_order_relaxed);
    for (int k = 4; k < 8; ++k) atomic_store_explicit(&p->params[k], 0.0, memory_order_relaxed);
    atomic_store_explicit(&p->model, SMW_DISTANCE_INVERSE_CLAMPED, memory_order_relaxed);
    atomic_store_explicit(&p->flags, FLAG_DOPPLER, memory_order_relaxed);  /* as the Python Engine */
    pub_write_end(p, s);
}

/* ---------------------------------------------------------------------------------
 * Python start-up (control path only)
 * --------------------------------------------------------------------------------- */
static pthread_mutex_t g_py_mutex = PTHREAD_MUTEX_INITIALIZER;

static smw_result ensure_python(void)
{
    smw_result rc = SMW_SUCCESS;
    pthread_mutex_lock(&g_py_mutex);
    if (!Py_IsInitialized()) {
        PyConfig config;
        PyConfig_InitIsolatedConfig(&config);   /* ignore PYTHON* env vars and user site */
        config.install_signal_handlers = 0;      /* the game owns signals */
        config.site_import = 0;                  /* the venv's site dir is added by init code */
        config.parse_argv = 0;
        PyStatus st = PyConfig_SetBytesString(&config, &config.home, SMW_PYTHON_HOME);
        if (!PyStatus_Exception(st))
            st = PyConfig_SetBytesString(&config, &config.program_name, SMW_PYTHON_HOME "/bin/python3");
        /* Exact module search path: the build interpreter's stdlib, the build venv's
         * site-packages (cffi's own start-up imports _cffi_backend from there before any
         * Python code of ours runs) and the source tree. */
        static const char* const paths[] = {SMW_STDLIB_ZIP, SMW_STDLIB, SMW_STDLIB_DYNLOAD,
                                            SMW_VENV_SITE, SMW_REPO_ROOT};
        config.module_search_paths_set = 1;
        for (size_t k = 0; k < sizeof paths / sizeof paths[0] && !PyStatus_Exception(st); ++k) {
            wchar_t* wp = Py_DecodeLocale(paths[k], NULL);
            if (!wp) { st = PyStatus_NoMemory(); break; }
            st = PyWideStringList_Append(&config.module_search_paths, wp);
            PyMem_RawFree(wp);
        }
        if (!PyStatus_Exception(st)) st = Py_InitializeFromConfig(&config);
        PyConfig_Clear(&config);
        if (PyStatus_Exception(st)) {
            rc = create_fail(SMW_ERROR_PYTHON_INIT, "cannot start the embedded Python (home " SMW_PYTHON_HOME "): %s",
                             st.err_msg ? st.err_msg : "unknown error");
        } else {
            PyEval_SaveThread();   /* release the GIL: other threads (and cffi) take it as needed */
        }
    }
    pthread_mutex_unlock(&g_py_mutex);
    return rc;
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

smw_result smw_renderer_create(const smw_renderer_settings* settings, smw_renderer** out)
{
    tl_create_error[0] = 0;
    if (out) *out = NULL;
    if (!settings || !out)
        return create_fail(SMW_ERROR_NULL_POINTER, "smw_renderer_create: %s is NULL",
                           !settings ? "settings" : "out_renderer");
    /* This version's struct, or 0.1's (which ended at corrector_table_step_deg: the fields
     * added since take their defaults). Any other size is not a struct this library knows. */
    smw_renderer_settings s = smw_renderer_settings_default();
    if (settings->size == (uint32_t)sizeof(smw_renderer_settings)) {
        s = *settings;
    } else if (settings->size == (uint32_t)sizeof(smw_renderer_settings_v0_1)) {
        memcpy(&s, settings, offsetof(smw_renderer_settings, speed_of_sound));
    } else {
        char buf[48];
        snprintf(buf, sizeof buf, "%u", (unsigned)settings->size);
        return create_fail(SMW_ERROR_SETTINGS_SIZE,
                           "smw_renderer_create: settings.size %s is not a size this library knows; "
                           "initialise settings with smw_renderer_settings_default()", buf);
    }
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
    if (!(s.corrector_table_step_deg == 0.0f ||
          (s.corrector_table_step_deg >= 0.5f && s.corrector_table_step_deg <= 30.0f)))  /* NaN too */
        return create_fail(SMW_ERROR_INVALID_ARGUMENT,
                           "corrector_table_step_deg must be 0 (no table) or 0.5..30 degrees%s", "");

    smw_result rc = ensure_python();
    if (rc != SMW_SUCCESS) return rc;

    smw_py_args* a = (smw_py_args*)calloc(1, sizeof *a);
    if (!a) return create_fail(SMW_ERROR_OUT_OF_MEMORY, "out of memory%s", "");
    a->sample_rate = s.sample_rate;
    a->max_sources = s.max_sources;
    a->max_block = s.max_block_frames;
    a->ibc = s.enable_corrector ? 1 : 0;
    a->table_step = (double)s.corrector_table_step_deg;
    a->speed_of_sound = (double)s.speed_of_sound;
    a->equalization = s.equalization;
    a->model_path = s.model_path;
    /* If the embedded init code itself failed, cffi cannot reach the Python function and
     * returns without touching `a`: this preset result then reports it. */
    a->result = SMW_ERROR_PYTHON_INIT;
    snprintf(a->message, sizeof a->message,
             "the embedded spatialmw Python init failed (see stderr); python home " SMW_PYTHON_HOME
             ", site-packages " SMW_VENV_SITE);
    smwpy_create_layout(a);
    if (a->result != SMW_SUCCESS) {
        rc = create_fail(a->result, "%s", a->message);
        free(a);
        return rc;
    }

    smw_renderer* r = (smw_renderer*)alloc_zeroed(sizeof *r);
    if (!r) { smwpy_release(a); free(a); return create_fail(SMW_ERROR_OUT_OF_MEMORY, "out of memory%s", ""); }
    r->sample_rate = s.sample_rate;
    r->max_block = s.max_block_frames;
    r->max_sources = s.max_sources;
    r->coords = s.coordinate_system;
    r->latency_frames = (int32_t)a->latency_frames;
    r->n_f64 = a->n_f64; r->n_f32 = a->n_f32; r->n_i64 = a->n_i64;
    r->off_listener = a->off_listener;
    r->off_pose = a->off_source_pose;
    r->off_params = a->off_source_params;
    r->off_control = a->off_source_control;
    r->render_fn = (smw_render_fn)(uintptr_t)a->render_addr;
    r->write_fn = (smw_write_fn)(uintptr_t)a->write_addr;

    int layout_ok = r->render_fn && r->write_fn && r->n_f64 > 0 && r->n_f32 >= 0 && r->n_i64 > 0 &&
        r->off_listener >= 0 && r->off_listener + LISTENER_LEN <= r->n_f64 &&
        r->off_pose >= 0 && r->off_pose + (int64_t)r->max_sources * POSE_STRIDE <= r->n_f64 &&
        r->off_params >= 0 && r->off_params + (int64_t)r->max_sources * PARAM_STRIDE <= r->n_f64 &&
        r->off_control >= 0 && r->off_control + (int64_t)r->max_sources * CTL_STRIDE <= r->n_i64;
    if (!layout_ok) {
        smwpy_release(a); free(a); free_renderer(r);
        return create_fail(SMW_ERROR_INTERNAL, "engine layout from Python is inconsistent%s", "");
    }

    r->f64 = (double*)alloc_zeroed((size_t)r->n_f64 * sizeof(double));
    r->f32 = (float*)alloc_zeroed((size_t)(r->n_f32 > 0 ? r->n_f32 : 1) * sizeof(float));
    r->i64 = (int64_t*)alloc_zeroed((size_t)r->n_i64 * sizeof(int64_t));
    r->slots = (smw_slot*)alloc_zeroed((size_t)r->max_sources * sizeof(smw_slot));
    if (!r->f64 || !r->f32 || !r->i64 || !r->slots) {
        smwpy_release(a); free(a); free_renderer(r);
        return create_fail(SMW_ERROR_OUT_OF_MEMORY, "cannot allocate the engine pools%s", "");
    }

    a->result = SMW_ERROR_PYTHON_INIT;
    snprintf(a->message, sizeof a->message, "pool initialisation did not run");
    smwpy_init_pools(a, r->f64, r->f32, r->i64);
    if (a->result != SMW_SUCCESS) {
        rc = create_fail(a->result, "%s", a->message);
        free(a); free_renderer(r);
        return rc;
    }
    free(a);

    /* listener at the origin facing forward; all slots free and silent */
    {
        uint32_t q = pub_write_begin(&r->listener);
        const double pose[7] = {0, 0, 0, 0, 0, 0, 1};
        for (int k = 0; k < 7; ++k) atomic_store_explicit(&r->listener.pose[k], pose[k], memory_order_relaxed);
        pub_write_end(&r->listener, q);
    }
    r->listener_seen_seq = 0xFFFFFFFFu;
    for (int i = 0; i < r->max_sources; ++i) {
        atomic_init(&r->slots[i].word, (uint32_t)LIFE_FREE);
        r->i64[r->off_control + (int64_t)i * CTL_STRIDE + CTL_STATE] = 0;
    }
    atomic_init(&r->last_error, (const char*)NULL);

    /* warm-up: one silent block so the first real block pays no first-call costs. The
     * stream must then start from the initial state, or the STFT hop phase would differ
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
    for (int k = 0; k < 3; ++k) atomic_store_explicit(&r->listener.params[k], v[k], memory_order_relaxed);
    atomic_store_explicit(&r->listener.flags, 1, memory_order_relaxed);
    pub_write_end(&r->listener, s);
    return SMW_SUCCESS;
}

/* Resolve a handle to its slot if the source is alive. */
static smw_slot* lookup(smw_renderer* r, smw_source h, smw_result* rc)
{
    uint32_t idx1 = h & 0xFFFFu;
    if (h == SMW_SOURCE_INVALID || idx1 == 0 || (int64_t)idx1 > r->max_sources) {
        *rc = fail(r, SMW_ERROR_INVALID_HANDLE, "source handle was never issued by this renderer");
        return NULL;
    }
    smw_slot* sl = &r->slots[idx1 - 1];
    uint32_t w = atomic_load_explicit(&sl->word, memory_order_acquire);
    if ((w & 0xFFFFu) != LIFE_LIVE || (w >> 16) != (h >> 16)) {
        *rc = fail(r, SMW_ERROR_INVALID_HANDLE, "source handle is stale (the source was destroyed)");
        return NULL;
    }
    return sl;
}

smw_result smw_source_create(smw_renderer* r, smw_source* out)
{
    if (!r) return SMW_ERROR_NULL_POINTER;
    if (!out) return fail(r, SMW_ERROR_NULL_POINTER, "smw_source_create: out_source is NULL");
    *out = SMW_SOURCE_INVALID;
    uint32_t n = (uint32_t)r->max_sources;
    uint32_t start = atomic_fetch_add_explicit(&r->alloc_hint, 1u, memory_order_relaxed);
    for (uint32_t k = 0; k < n; ++k) {
        uint32_t i = (start + k) % n;
        smw_slot* sl = &r->slots[i];
        uint32_t w = atomic_load_explicit(&sl->word, memory_order_relaxed);
        if ((w & 0xFFFFu) != LIFE_FREE) continue;
        uint32_t gen = ((w >> 16) + 1u) & 0xFFFFu;
        uint32_t claimed = (gen << 16) | LIFE_CLAIMED;
        if (!atomic_compare_exchange_strong_explicit(&sl->word, &w, claimed, memory_order_acq_rel,
                                                     memory_order_relaxed))
            continue;
        pub_set_defaults(&sl->pub);
        atomic_store_explicit(&sl->word, (gen << 16) | LIFE_LIVE, memory_order_release);
        *out = (gen << 16) | (i + 1u);
        return SMW_SUCCESS;
    }
    return fail(r, SMW_ERROR_OUT_OF_SOURCES,
                "all max_sources source slots are in use (destroyed slots are recycled at the next smw_render)");
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
        return fail(r, SMW_ERROR_INVALID_HANDLE, "source handle is stale (the source was destroyed)");
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

static smw_result set_flag(smw_renderer* r, smw_source h, int32_t bit, int on)
{
    if (!r) return SMW_ERROR_NULL_POINTER;
    smw_result rc = SMW_SUCCESS;
    smw_slot* sl = lookup(r, h, &rc);
    if (!sl) return rc;
    uint32_t s = pub_write_begin(&sl->pub);
    int32_t f = atomic_load_explicit(&sl->pub.flags, memory_order_relaxed);
    f = on ? (f | bit) : (f & ~bit);
    atomic_store_explicit(&sl->pub.flags, f, memory_order_relaxed);
    pub_write_end(&sl->pub, s);
    return SMW_SUCCESS;
}

smw_result smw_source_set_doppler(smw_renderer* r, smw_source h, int32_t enabled)
{
    return set_flag(r, h, FLAG_DOPPLER, enabled != 0);
}

smw_result smw_source_set_spatialize(smw_renderer* r, smw_source h, int32_t enabled)
{
    return set_flag(r, h, FLAG_BYPASS, enabled == 0);
}

smw_result smw_source_set_paused(smw_renderer* r, smw_source h, int32_t paused)
{
    return set_flag(r, h, FLAG_PAUSED, paused != 0);
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
    for (int k = 0; k < 8; ++k) par[k] = v->params[k];
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
        r->i64[r->off_control + (int64_t)i * CTL_STRIDE + CTL_STATE] = STATE_RESTART;
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
            for (int k = 0; k < 3; ++k) lp[L_VEL + k] = v.params[k];
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
        } else if (life == LIFE_RELEASING) {
            /* STOP: the kernel clears the slot's delay line and state in this block, then
             * sets it inactive; only then can a new incarnation write into it */
            r->i64[r->off_control + (int64_t)i * CTL_STRIDE + CTL_STATE] = STATE_STOP;
            sl->active = 0;
            atomic_store_explicit(&sl->word, (w & 0xFFFF0000u) | LIFE_FREE, memory_order_release);
        } else if (sl->active) {
            r->i64[r->off_control + (int64_t)i * CTL_STRIDE + CTL_STATE] = STATE_STOP;
            sl->active = 0;
        }
    }
}

smw_result smw_source_write(smw_renderer* r, smw_source h, const float* mono, int32_t frames)
{
    if (!r) return SMW_ERROR_NULL_POINTER;
    smw_result rc = SMW_SUCCESS;
    smw_slot* sl = lookup(r, h, &rc);
    if (!sl) return rc;
    if (!mono) return fail(r, SMW_ERROR_NULL_POINTER, "smw_source_write: samples pointer is NULL");
    if (frames < 1 || frames > r->max_block)
        return fail(r, SMW_ERROR_FRAME_COUNT, "smw_source_write: frames must be 1..max_block_frames");
    int i = (int)((h & 0xFFFFu) - 1u);
    uint32_t w = atomic_load_explicit(&sl->word, memory_order_acquire);
    if ((w & 0xFFFFu) == LIFE_LIVE && (!sl->active || sl->seen_gen != (w >> 16)))
        sync_live_slot(r, i, w);
    int32_t k = r->write_fn(r->f64, r->f32, r->i64, (int32_t)i, mono, frames);
    switch (k) {
    case 0: return SMW_SUCCESS;
    case 1: return fail(r, SMW_ERROR_NONFINITE_INPUT,
                        "smw_source_write: samples contained NaN/Inf or |x| > 1e6; the block was replaced by silence");
    case 2: return fail(r, SMW_ERROR_BUFFER_FULL,
                        "smw_source_write: more than max_block_frames pending for this source; block rejected");
    default: return fail(r, SMW_ERROR_INTERNAL, "smw_source_write: the write kernel returned an unexpected code");
    }
}

smw_result smw_render(smw_renderer* r, float* out, int32_t frames)
{
    if (!r) return SMW_ERROR_NULL_POINTER;
    if (!out) return fail(r, SMW_ERROR_NULL_POINTER, "smw_render: output pointer is NULL");
    if (frames < 1 || frames > r->max_block)
        return fail(r, SMW_ERROR_FRAME_COUNT, "smw_render: frames must be 1..max_block_frames");
    sync_all(r);
    int32_t k = r->render_fn(r->f64, r->f32, r->i64, out, frames);
    int bad = (k != 0);
    if (!bad) {
        /* safety net: the output must never carry NaN/Inf to the device */
        for (int32_t n = 0; n < 2 * frames; ++n)
            if (!isfinite(out[n])) { bad = 1; break; }
    }
    if (bad) {
        memset(out, 0, (size_t)frames * 2 * sizeof(float));
        return fail(r, SMW_ERROR_INTERNAL, "smw_render: the render kernel failed or produced non-finite output; block silenced");
    }
    return SMW_SUCCESS;
}
