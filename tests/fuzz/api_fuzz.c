/* api_fuzz.c -- random sequences of spatialmw C API calls with hostile arguments.
 *
 * Built by tests/test_fuzz_api.py with -fsanitize=address,undefined (the host; optionally
 * against a second, ASan-instrumented build of the shim). Single-threaded and deterministic:
 * a failure is reproduced by its seed.
 *
 *   api_fuzz <calls> <seed> [--renderers N] [--tdw-only] [--model PATH] [--verbose]
 *
 * For every call the host checks
 *   - the result is inside the smw_result enum (0..16) AND in the set the header documents
 *     for that function;
 *   - an oracle: the host keeps its own model of which handles are live / stale and mono /
 *     stereo, how many slots are free (a stereo source takes two), how many frames are
 *     pending per source (a paused source after its fade-out block, or a paused renderer
 *     once faded out, consumes none), and predicts the exact result of every call (e.g. NaN pose on a live handle ->
 *     INVALID_ARGUMENT, stale handle -> INVALID_HANDLE, full renderer -> OUT_OF_SOURCES,
 *     stereo create with one slot free -> OUT_OF_SOURCES, mono write to a stereo source and
 *     stereo write or width to a mono one -> CHANNEL_MISMATCH, NaN or |x| > 1e6 samples ->
 *     NONFINITE_INPUT); a sweep of forged handles over every generation of a slot next to a
 *     stereo source checks that its hidden right voice answers to no handle;
 *   - the level of detail: renderers with few full-path places (full_sources 1..8, up to
 *     128 sources) and edge hysteresis (0, -0, a denormal, 20 dB) so that the ambisonic bed
 *     tier runs (LOD_STATUS_SEEN counts statuses that report it), smw_source_set_priority with
 *     hostile values (NaN, Inf, negative, past 1e6, 0), and creates with full_sources or
 *     lod_hysteresis_db out of range (INVALID_ARGUMENT);
 *   - smw_render output is finite, and nothing is read or written outside the caller's
 *     buffers: every sample/output buffer ends exactly at a PROT_NONE guard page, so an
 *     overrun by the (uninstrumented) numba kernels faults too, not only by ASan-instrumented
 *     code; smw_last_error()/smw_result_string() are never NULL and NUL-terminated.
 * Output: "KEY value" lines; "VIOLATION ..." lines for every mismatch (exit status 1).
 */
#define _GNU_SOURCE
#include "spatialmw.h"

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

/* ----------------------------------------------------------------------------- rng */
static uint64_t g_rng;
static uint64_t rnd(void)
{   /* splitmix64 */
    uint64_t z = (g_rng += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}
static uint32_t rndu(uint32_t n) { return n ? (uint32_t)(rnd() % n) : 0; }
static float frand(float a) { return a * ((float)(rnd() >> 40) / 8388608.0f - 1.0f); }

static float bits_float(uint32_t b) { float f; memcpy(&f, &b, 4); return f; }

/* a hostile float: NaN (quiet/signalling/negative), Inf, huge, denormal, zero, normal */
static float hostile_float(void)
{
    switch (rndu(16)) {
    case 0: return NAN;
    case 1: return bits_float(0x7FA00001u);          /* signalling NaN */
    case 2: return bits_float(0xFFC00000u);          /* negative NaN */
    case 3: return INFINITY;
    case 4: return -INFINITY;
    case 5: return 1e30f;
    case 6: return -3.4e38f;
    case 7: return 1e-40f;                           /* denormal */
    case 8: return -1.4e-45f;                        /* smallest denormal */
    case 9: return 0.0f;
    case 10: return -0.0f;
    case 11: return bits_float((uint32_t)rnd());     /* any bit pattern */
    case 12: return 1e6f;
    case 13: return 1.0000001e6f;
    default: return frand(20.0f);
    }
}

static int finitef_(float x) { return isfinite(x); }

/* --------------------------------------------------------------- guarded buffers */
/* Memory that ends exactly at a PROT_NONE page: any read/write past the end faults. */
static long g_page;
typedef struct { char* base; size_t len; } guard_map;
static float* guard_alloc(size_t n_floats, guard_map* gm)
{
    size_t bytes = n_floats * sizeof(float);
    size_t data_pages = (bytes + (size_t)g_page - 1) / (size_t)g_page;
    if (data_pages == 0) data_pages = 1;
    gm->len = (data_pages + 1) * (size_t)g_page;
    gm->base = mmap(NULL, gm->len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (gm->base == MAP_FAILED) { perror("mmap"); exit(3); }
    mprotect(gm->base + data_pages * (size_t)g_page, (size_t)g_page, PROT_NONE);
    return (float*)(gm->base + data_pages * (size_t)g_page - bytes);
}
static void guard_free(guard_map* gm) { munmap(gm->base, gm->len); }

/* ------------------------------------------------------------------ bookkeeping */
static long g_calls, g_violations, g_nonfinite_out, g_internal;
static long g_stereo_one_free;   /* stereo creates refused (OUT_OF_SOURCES) with exactly one slot free */
static long g_lod_status;        /* statuses that reported SMW_SOURCE_STATUS_LOD: the bed tier ran */
static long g_by_result[SMW_ERROR_CHANNEL_MISMATCH + 1];
static int g_verbose;

#define NFN 41
static const char* FN_NAMES[NFN] = {
    "renderer_create", "get_latency", "last_error", "listener_set_pose", "source_create",
    "source_destroy", "source_set_pose", "source_set_gain", "source_set_distance_model",
    "source_set_doppler", "source_set_spatialize", "source_set_paused", "source_write",
    "render", "result_string", "get_version", "renderer_destroy", "settings_default",
    "null_renderer", "frame", "source_set_velocity", "listener_set_velocity", "source_teleport",
    "source_get_status", "renderer_set_master_gain", "renderer_set_paused", "renderer_get_model_info",
    "steal", "source_set_cone", "source_set_transmission", "source_set_air_absorption",
    "source_set_reverb_send", "renderer_set_reverb", "source_create_stereo",
    "source_set_stereo_width", "source_write_stereo", "fill_slots", "sweep_generations",
    "source_set_priority", "source_skip", "source_is_virtual"};
static long g_fn_calls[NFN];

static void violation(const char* fn, const char* what, long got, long want, const char* err)
{
    ++g_violations;
    if (g_violations <= 50)
        printf("VIOLATION %s: %s (got %ld, expected %ld) last_error=\"%s\"\n", fn, what, got, want,
               err ? err : "");
}

/* Check a result: inside the enum, inside the documented set (bitmask of codes), equal to
 * the oracle's prediction when want >= 0. */
static smw_result check(int fn, smw_result got, uint32_t documented, int want, const smw_renderer* r)
{
    ++g_calls;
    ++g_fn_calls[fn];
    if (got < 0 || got > SMW_ERROR_CHANNEL_MISMATCH) {
        violation(FN_NAMES[fn], "result outside the smw_result enum", got, want, NULL);
        return got;
    }
    ++g_by_result[got];
    if (got == SMW_ERROR_INTERNAL) ++g_internal;
    if (!(documented & (1u << got)))
        violation(FN_NAMES[fn], "result not documented for this function", got, want, smw_last_error(r));
    else if (want >= 0 && got != want)
        violation(FN_NAMES[fn], "result differs from the oracle", got, want, smw_last_error(r));
    if (got != SMW_SUCCESS) {
        const char* e = smw_last_error(r);
        if (!e) violation(FN_NAMES[fn], "smw_last_error returned NULL", 0, 1, NULL);
        else if (strnlen(e, 8192) >= 8192) violation(FN_NAMES[fn], "smw_last_error not terminated", 0, 1, NULL);
    }
    return got;
}

#define B(x) (1u << (x))
#define D_POSE (B(SMW_SUCCESS) | B(SMW_ERROR_NULL_POINTER) | B(SMW_ERROR_INVALID_HANDLE) | B(SMW_ERROR_INVALID_ARGUMENT))
#define D_LISTENER (B(SMW_SUCCESS) | B(SMW_ERROR_NULL_POINTER) | B(SMW_ERROR_INVALID_ARGUMENT))
#define D_SETTER (B(SMW_SUCCESS) | B(SMW_ERROR_NULL_POINTER) | B(SMW_ERROR_INVALID_HANDLE) | B(SMW_ERROR_INVALID_ARGUMENT))
#define D_FLAG (B(SMW_SUCCESS) | B(SMW_ERROR_NULL_POINTER) | B(SMW_ERROR_INVALID_HANDLE) | B(SMW_ERROR_INVALID_ARGUMENT))
#define D_VELOCITY D_SETTER
#define D_LISTENER_VELOCITY D_LISTENER
#define D_TELEPORT (B(SMW_SUCCESS) | B(SMW_ERROR_NULL_POINTER) | B(SMW_ERROR_INVALID_HANDLE))
#define D_STATUS D_TELEPORT
#define D_RENDERER_SET (B(SMW_SUCCESS) | B(SMW_ERROR_NULL_POINTER) | B(SMW_ERROR_INVALID_ARGUMENT))
#define D_MODEL_INFO (B(SMW_SUCCESS) | B(SMW_ERROR_NULL_POINTER) | B(SMW_ERROR_SETTINGS_SIZE))
#define D_CREATE_SRC (B(SMW_SUCCESS) | B(SMW_ERROR_NULL_POINTER) | B(SMW_ERROR_OUT_OF_SOURCES))
#define D_DESTROY_SRC (B(SMW_SUCCESS) | B(SMW_ERROR_NULL_POINTER) | B(SMW_ERROR_INVALID_HANDLE))
#define D_WRITE (B(SMW_SUCCESS) | B(SMW_ERROR_NONFINITE_INPUT) | B(SMW_ERROR_BUFFER_FULL) | \
                 B(SMW_ERROR_FRAME_COUNT) | B(SMW_ERROR_INVALID_HANDLE) | B(SMW_ERROR_NULL_POINTER) | \
                 B(SMW_ERROR_CHANNEL_MISMATCH))
#define D_SKIP (B(SMW_SUCCESS) | B(SMW_ERROR_BUFFER_FULL) | B(SMW_ERROR_FRAME_COUNT) | \
                B(SMW_ERROR_INVALID_HANDLE) | B(SMW_ERROR_NULL_POINTER))
#define D_IS_VIRTUAL (B(SMW_SUCCESS) | B(SMW_ERROR_INVALID_HANDLE) | B(SMW_ERROR_NULL_POINTER))
#define D_CREATE_STEREO (D_CREATE_SRC | B(SMW_ERROR_INVALID_ARGUMENT))
#define D_WIDTH (D_SETTER | B(SMW_ERROR_CHANNEL_MISMATCH))
/* INTERNAL is documented for render but means "a bug": counted and reported as a failure */
#define D_RENDER (B(SMW_SUCCESS) | B(SMW_ERROR_FRAME_COUNT) | B(SMW_ERROR_NULL_POINTER) | B(SMW_ERROR_INTERNAL))
#define D_LATENCY (B(SMW_SUCCESS) | B(SMW_ERROR_NULL_POINTER))
#define D_CREATE (B(SMW_SUCCESS) | B(SMW_ERROR_NULL_POINTER) | B(SMW_ERROR_SETTINGS_SIZE) | \
                  B(SMW_ERROR_UNSUPPORTED_SAMPLE_RATE) | B(SMW_ERROR_INVALID_ARGUMENT) | \
                  B(SMW_ERROR_MODEL_LOAD) | B(SMW_ERROR_UNSUPPORTED_CPU) | B(SMW_ERROR_OUT_OF_MEMORY))

/* ------------------------------------------------------------------ oracle state */
#define MAXH 8192
typedef struct {
    smw_source h;
    int live;          /* 1 live, 0 stale */
    int paused;        /* smw_source_set_paused(1) was the last accepted value */
    int stereo;        /* smw_source_create_stereo: two voices, two slots */
    long pending;      /* frames queued ahead of the source's stream clock (live only) */
    int rendered;      /* a render has run since its creation */
    int was_paused;    /* `paused` as the last render that ran saw it */
} hrec;

typedef struct {
    smw_renderer* r;
    int max_sources, max_block, coords;
    int live;                      /* slots held by live sources, two per stereo source (a
                                      destroyed one's slots are reusable at once) */
    int paused;                    /* smw_renderer_set_paused(1) was the last accepted value */
    float master, applied;         /* master gain set; gain reached at the last render's end */
    hrec hs[MAXH];
    int nh;
} fz;

static void remember(fz* z, smw_source h, int stereo)
{
    const hrec fresh = {h, 1, 0, stereo, 0, 0, 0};
    if (z->nh < MAXH) { z->hs[z->nh++] = fresh; return; }
    /* table full: overwrite a random stale entry (live ones are kept) */
    for (int tries = 0; tries < 64; ++tries) {
        int k = (int)rndu(MAXH);
        if (!z->hs[k].live) { z->hs[k] = fresh; return; }
    }
}

static hrec* find(fz* z, smw_source h)
{
    for (int k = 0; k < z->nh; ++k)
        if (z->hs[k].h == h && z->hs[k].live) return &z->hs[k];
    return NULL;
}

/* pick a handle: live, stale, zero, forged (out of range / wrong generation / random) */
static smw_source pick_handle(fz* z, int* expect_live)
{
    *expect_live = 0;
    uint32_t c = rndu(100);
    if (c < 60 && z->nh > 0) {
        for (int tries = 0; tries < 8; ++tries) {
            hrec* e = &z->hs[rndu((uint32_t)z->nh)];
            if (e->live || c >= 50) { *expect_live = e->live; return e->h; }
        }
    }
    smw_source h;
    switch (rndu(5)) {
    case 0: h = 0; break;
    case 1: h = (smw_source)rnd(); break;
    case 2: h = (rndu(4) << 16) | (uint32_t)(z->max_sources + 1 + rndu(100)); break;   /* past max_sources: a spare slot, or out of range */
    case 3: h = 0xFFFF0000u | (1u + rndu((uint32_t)z->max_sources)); break;            /* far generation */
    default: h = (1u + rndu(0xFFFEu)) << 16; break;                                      /* slot index 0 */
    }
    /* a forged handle may coincide with a live one: ask the oracle */
    hrec* e = find(z, h);
    *expect_live = e != NULL;
    return h;
}

static int pose_valid(int coords, const float* p, const float* q)
{
    for (int k = 0; k < 3; ++k) if (!finitef_(p[k])) return 0;
    for (int k = 0; k < 4; ++k) if (!finitef_(q[k])) return 0;
    double n = sqrt((double)q[0] * q[0] + (double)q[1] * q[1] + (double)q[2] * q[2] + (double)q[3] * q[3]);
    if (!(n >= 1e-6)) return 0;
    double s = coords == SMW_COORDS_UNREAL ? 0.01 : 1.0;
    double r = sqrt((double)p[0] * p[0] + (double)p[1] * p[1] + (double)p[2] * p[2]) * s;
    if (!(r <= 1e6)) return 0;
    return 1;
}

/* returns -1 where the oracle cannot decide (rounding right at a limit) */
static int pose_expect(int coords, const float* p, const float* q)
{
    double s = coords == SMW_COORDS_UNREAL ? 0.01 : 1.0;
    int allfinite = 1;
    for (int k = 0; k < 3; ++k) if (!finitef_(p[k])) allfinite = 0;
    for (int k = 0; k < 4; ++k) if (!finitef_(q[k])) allfinite = 0;
    if (allfinite) {
        double r = sqrt((double)p[0] * p[0] + (double)p[1] * p[1] + (double)p[2] * p[2]) * s;
        double n = sqrt((double)q[0] * q[0] + (double)q[1] * q[1] + (double)q[2] * q[2] + (double)q[3] * q[3]);
        if (fabs(r - 1e6) < 1.0 || fabs(n - 1e-6) < 1e-9) return -1;
    }
    return pose_valid(coords, p, q) ? SMW_SUCCESS : SMW_ERROR_INVALID_ARGUMENT;
}

static void hostile_pose(float* p, float* q)
{
    int mode = (int)rndu(10);
    for (int k = 0; k < 3; ++k) p[k] = mode < 5 ? frand(50.0f) : hostile_float();
    q[0] = q[1] = q[2] = 0; q[3] = 1;
    switch (rndu(8)) {
    case 0: q[3] = 0; break;                                          /* zero quaternion */
    case 1: q[0] = 1e-40f; q[3] = 0; break;                           /* denormal quaternion */
    case 2: for (int k = 0; k < 4; ++k) q[k] = hostile_float(); break;
    case 3: for (int k = 0; k < 4; ++k) q[k] = frand(1e3f); break;   /* unnormalised */
    case 4: q[3] = 1e-7f; break;                                      /* below 1e-6 */
    case 5: q[2] = 1e30f; q[3] = 1e30f; break;                        /* huge: norm overflows in float */
    default: for (int k = 0; k < 4; ++k) q[k] = frand(1.0f); break;
    }
    if (mode == 9) { p[0] = 1e6f; p[1] = 1.0f; }                      /* just past the limit */
    if (mode == 8 && rndu(2)) p[0] = p[1] = p[2] = 0.0f;             /* at the listener */
}

/* a stereo width: in range most of the time, else at or just past an end, or hostile */
static float hostile_width(void)
{
    switch (rndu(12)) {
    case 0: return 0.0f;
    case 1: return 180.0f;
    case 2: return -0.0f;                                  /* in range: -0 >= 0 */
    case 3: return nextafterf(180.0f, INFINITY);
    case 4: return -1.4e-45f;                              /* negative denormal: out */
    case 5: return 1e-40f;                                 /* positive denormal: in */
    case 6: return -(float)(1 + rndu(360));
    case 7: return 180.0f + (float)(1 + rndu(1000));
    case 8: return hostile_float();
    default: return frand(90.0f) + 90.0f;
    }
}
static int width_ok(float w) { return w >= 0.0f && w <= 180.0f; }   /* false for NaN */

/* Create a mono or stereo source (NULL out_source now and then) and check the result
 * against the free slots: a stereo source needs two. Returns the result. */
static smw_result create_source(fz* z, int stereo)
{
    int fn = stereo ? 33 : 4;
    uint32_t documented = stereo ? D_CREATE_STEREO : D_CREATE_SRC;
    float w = stereo ? hostile_width() : 0.0f;
    if (rndu(50) == 0)
        return check(fn, stereo ? smw_source_create_stereo(z->r, w, NULL) : smw_source_create(z->r, NULL),
                     documented, SMW_ERROR_NULL_POINTER, z->r);
    smw_source h = 0xDEADBEEFu;
    int want = stereo && !width_ok(w) ? SMW_ERROR_INVALID_ARGUMENT
             : z->live + 1 + stereo > z->max_sources ? SMW_ERROR_OUT_OF_SOURCES : SMW_SUCCESS;
    smw_result rc = check(fn, stereo ? smw_source_create_stereo(z->r, w, &h) : smw_source_create(z->r, &h),
                          documented, want, z->r);
    if (stereo && rc == SMW_ERROR_OUT_OF_SOURCES && z->live == z->max_sources - 1) ++g_stereo_one_free;
    if (rc == SMW_SUCCESS) {
        if (h == SMW_SOURCE_INVALID || find(z, h))
            violation(FN_NAMES[fn], "returned a zero or already-live handle", (long)h, 0, NULL);
        z->live += 1 + stereo;
        remember(z, h, stereo);
    } else if (h != SMW_SOURCE_INVALID) {
        violation(FN_NAMES[fn], "failure did not set *out_source to SMW_SOURCE_INVALID", (long)h, 0, NULL);
    }
    return rc;
}

static void op_source_create(fz* z) { create_source(z, rndu(3) == 0); }

static void forget(fz* z, hrec* e) { e->live = 0; z->live -= 1 + e->stereo; }

static void op_source_destroy(fz* z)
{
    int live;
    smw_source h = pick_handle(z, &live);
    smw_result rc = check(5, smw_source_destroy(z->r, h), D_DESTROY_SRC,
                          live ? SMW_SUCCESS : SMW_ERROR_INVALID_HANDLE, z->r);
    hrec* e = find(z, h);
    if (rc == SMW_SUCCESS && e) forget(z, e);
}

/* voice stealing: destroy a live source and create one (mono or stereo) in the same tick
 * (no render between): a stereo source stolen from a mono one needs another free slot */
static void op_steal(fz* z)
{
    ++g_fn_calls[27];
    for (int k = 0; k < z->nh; ++k)
        if (z->hs[k].live) {
            check(5, smw_source_destroy(z->r, z->hs[k].h), D_DESTROY_SRC, SMW_SUCCESS, z->r);
            forget(z, &z->hs[k]);
            create_source(z, (int)rndu(2));
            return;
        }
}

/* Fill the renderer with mono sources up to one free slot, so that a stereo create is
 * refused (two-slot rule) and a mono one then takes the last slot; then free a random
 * number of sources again (mono and stereo) so that the sequence goes on. */
static void op_fill_slots(fz* z)
{
    ++g_fn_calls[36];
    while (z->live < z->max_sources - 1) {
        smw_result rc = create_source(z, 0);
        if (rc != SMW_SUCCESS && rc != SMW_ERROR_NULL_POINTER) return;   /* the oracle has reported it */
    }
    float w = rndu(2) ? 60.0f : hostile_width();
    smw_source h = 0xDEADBEEFu;
    int want = !width_ok(w) ? SMW_ERROR_INVALID_ARGUMENT
             : z->live + 2 > z->max_sources ? SMW_ERROR_OUT_OF_SOURCES : SMW_SUCCESS;
    smw_result rc = check(33, smw_source_create_stereo(z->r, w, &h), D_CREATE_STEREO, want, z->r);
    if (rc == SMW_ERROR_OUT_OF_SOURCES && z->live == z->max_sources - 1) ++g_stereo_one_free;
    if (rc == SMW_SUCCESS) { z->live += 2; remember(z, h, 1); }
    else if (h != SMW_SOURCE_INVALID)
        violation("source_create_stereo", "failure did not set *out_source to SMW_SOURCE_INVALID", (long)h, 0, NULL);
    /* nothing was claimed by the refusal: the last slot still takes a mono source */
    if (rndu(2)) create_source(z, 0);
    int keep = (int)rndu((uint32_t)z->max_sources + 1);
    for (int k = 0; k < z->nh && z->live > keep; ++k)
        if (z->hs[k].live && rndu(2)) {
            check(5, smw_source_destroy(z->r, z->hs[k].h), D_DESTROY_SRC, SMW_SUCCESS, z->r);
            forget(z, &z->hs[k]);
        }
}

static void op_set_stereo_width(fz* z)
{
    int live;
    smw_source h = pick_handle(z, &live);
    float w = hostile_width();
    hrec* e = live ? find(z, h) : NULL;
    int want = !live ? SMW_ERROR_INVALID_HANDLE : !e->stereo ? SMW_ERROR_CHANNEL_MISMATCH
             : width_ok(w) ? SMW_SUCCESS : SMW_ERROR_INVALID_ARGUMENT;
    check(34, smw_source_set_stereo_width(z->r, h, w), D_WIDTH, want, z->r);
}

/* A sweep over every generation of one slot index next to a stereo source's (where its
 * hidden right voice most likely lives; any slot index 1..max_sources): every forged
 * handle but the live ones in the table is refused with INVALID_HANDLE by a game-thread
 * call that must leave no trace (destroy, width, teleport, status). Counted as one call. */
static void op_sweep_generations(fz* z)
{
    hrec* st = NULL;
    for (int tries = 0; tries < 16 && z->nh > 0 && !st; ++tries) {
        hrec* e = &z->hs[rndu((uint32_t)z->nh)];
        if (e->live && e->stereo) st = e;
    }
    uint32_t idx = st ? (st->h & 0xFFFFu) % (uint32_t)z->max_sources + 1u : 1u + rndu((uint32_t)z->max_sources);
    int fn = (int)rndu(4);
    ++g_calls;
    ++g_fn_calls[37];
    for (uint32_t gen = 0; gen <= 0xFFFFu; ++gen) {
        smw_source h = (gen << 16) | idx;
        if (find(z, h)) continue;
        uint32_t flags;
        smw_result rc = fn == 0 ? smw_source_destroy(z->r, h)
                      : fn == 1 ? smw_source_set_stereo_width(z->r, h, 30.0f)
                      : fn == 2 ? smw_source_teleport(z->r, h)
                      : smw_source_get_status(z->r, h, &flags);
        if (rc != SMW_ERROR_INVALID_HANDLE) {
            violation("sweep_generations", "a handle not issued to the caller was accepted (hidden voice?)",
                      rc, SMW_ERROR_INVALID_HANDLE, smw_last_error(z->r));
            return;
        }
    }
}

static void op_set_pose(fz* z, int listener)
{
    float p[3], q[4];
    hostile_pose(p, q);
    int nulls = rndu(40) == 0 ? (int)(1 + rndu(2)) : 0;
    const float* pp = nulls == 1 ? NULL : p;
    const float* qq = nulls == 2 ? NULL : q;
    if (listener) {
        int want = nulls ? SMW_ERROR_NULL_POINTER : pose_expect(z->coords, p, q);
        check(3, smw_listener_set_pose(z->r, pp, qq), D_LISTENER, want, z->r);
        return;
    }
    int live;
    smw_source h = pick_handle(z, &live);
    int want = !live ? SMW_ERROR_INVALID_HANDLE : nulls ? SMW_ERROR_NULL_POINTER : pose_expect(z->coords, p, q);
    check(6, smw_source_set_pose(z->r, h, pp, qq), D_POSE, want, z->r);
}

static void op_set_gain(fz* z)
{
    int live;
    smw_source h = pick_handle(z, &live);
    float g = rndu(3) ? frand(1.0f) + 1.0f : hostile_float();
    if (rndu(10) == 0) g = 1000.0f + (float)rndu(2) * 0.001f * 1000.0f;
    int ok = finitef_(g) && g >= 0.0f && g <= 1000.0f;
    int want = !live ? SMW_ERROR_INVALID_HANDLE : ok ? SMW_SUCCESS : SMW_ERROR_INVALID_ARGUMENT;
    check(7, smw_source_set_gain(z->r, h, g), D_SETTER, want, z->r);
}

/* a level-of-detail priority: in 0..1e6 most of the time, else at or just past an end, or hostile */
static float hostile_priority(void)
{
    switch (rndu(12)) {
    case 0: return 0.0f;
    case 1: return -0.0f;                                  /* in range: -0 >= 0 */
    case 2: return 1e6f;
    case 3: return nextafterf(1e6f, INFINITY);
    case 4: return -1.4e-45f;                              /* negative denormal: out */
    case 5: return 1e30f;
    case 6: return -(float)(1 + rndu(100));
    case 7: case 8: return hostile_float();
    default: return rndu(2) ? frand(1.0f) + 1.0f : (float)rndu(1000001);
    }
}

static void op_set_priority(fz* z)
{
    int live;
    smw_source h = pick_handle(z, &live);
    float p = hostile_priority();
    int want = !live ? SMW_ERROR_INVALID_HANDLE : (p >= 0.0f && p <= 1e6f) ? SMW_SUCCESS : SMW_ERROR_INVALID_ARGUMENT;
    check(38, smw_source_set_priority(z->r, h, p), D_SETTER, want, z->r);
}

static void op_set_distance(fz* z)
{
    int live;
    smw_source h = pick_handle(z, &live);
    int32_t model = rndu(4) ? (int32_t)rndu(3) : (int32_t)rnd();
    float mn = rndu(2) ? 0.5f + frand(0.4f) : hostile_float();
    float mx = rndu(2) ? 10.0f + frand(5.0f) : hostile_float();
    float ro = rndu(2) ? 1.0f + frand(1.0f) : hostile_float();
    int want = -1;
    if (!live) want = SMW_ERROR_INVALID_HANDLE;
    else if (model < 0 || model > 2) want = SMW_ERROR_INVALID_ARGUMENT;
    else if (!finitef_(mn) || !finitef_(mx) || !finitef_(ro)) want = SMW_ERROR_INVALID_ARGUMENT;
    else if (!(mn > 0) || !(mx >= mn) || !(ro >= 0) || ro > 1000.0f) want = SMW_ERROR_INVALID_ARGUMENT;
    /* else: valid unless the max-distance limit (2e6 m, in units) bites: let the oracle pass */
    else if (z->coords != SMW_COORDS_UNREAL && mx <= 1e6f) want = SMW_SUCCESS;
    check(8, smw_source_set_distance_model(z->r, h, model, mn, mx, ro), D_SETTER, want, z->r);
}

static void op_set_flag(fz* z, int which)
{
    int live;
    smw_source h = pick_handle(z, &live);
    int32_t v = rndu(3) ? (int32_t)rndu(2) : rndu(2) ? 2 - 3 * (int32_t)rndu(2) : (int32_t)rnd();
    smw_result rc;
    int want = !live ? SMW_ERROR_INVALID_HANDLE : (v == 0 || v == 1) ? SMW_SUCCESS : SMW_ERROR_INVALID_ARGUMENT;
    if (which == 0) rc = smw_source_set_doppler(z->r, h, v);
    else if (which == 1) rc = smw_source_set_spatialize(z->r, h, v);
    else rc = smw_source_set_paused(z->r, h, v);
    rc = check(9 + which, rc, D_FLAG, want, z->r);
    hrec* e = find(z, h);
    if (which == 2 && rc == SMW_SUCCESS && e) e->paused = v;
}

static void op_set_velocity(fz* z, int listener)
{
    float v[3];
    for (int k = 0; k < 3; ++k) v[k] = rndu(3) ? frand(30.0f) : hostile_float();
    int null_ptr = rndu(40) == 0;
    int want = SMW_SUCCESS;
    double s = z->coords == SMW_COORDS_UNREAL ? 0.01 : 1.0, v2 = 0.0;
    for (int k = 0; k < 3; ++k) {
        if (!finitef_(v[k])) want = SMW_ERROR_INVALID_ARGUMENT;
        v2 += (double)v[k] * v[k] * s * s;
    }
    if (want == SMW_SUCCESS && !(sqrt(v2) <= 1e6)) want = SMW_ERROR_INVALID_ARGUMENT;
    if (want == SMW_SUCCESS && fabs(sqrt(v2) - 1e6) < 1.0) want = -1;   /* rounding at the limit */
    if (null_ptr) want = SMW_ERROR_NULL_POINTER;
    if (listener) {
        check(21, smw_listener_set_velocity(z->r, null_ptr ? NULL : v), D_LISTENER_VELOCITY, want, z->r);
        return;
    }
    int live;
    smw_source h = pick_handle(z, &live);
    check(20, smw_source_set_velocity(z->r, h, null_ptr ? NULL : v), D_VELOCITY,
          live ? want : SMW_ERROR_INVALID_HANDLE, z->r);
}

static void op_teleport_or_status(fz* z)
{
    int live;
    smw_source h = pick_handle(z, &live);
    if (rndu(2)) {
        check(22, smw_source_teleport(z->r, h), D_TELEPORT, live ? SMW_SUCCESS : SMW_ERROR_INVALID_HANDLE, z->r);
        return;
    }
    int null_ptr = rndu(20) == 0;
    uint32_t flags = 0xDEADu;
    smw_result rc = check(23, smw_source_get_status(z->r, h, null_ptr ? NULL : &flags), D_STATUS,
                          !live ? SMW_ERROR_INVALID_HANDLE : null_ptr ? SMW_ERROR_NULL_POINTER : SMW_SUCCESS, z->r);
    if (rc == SMW_SUCCESS && (flags & ~(uint32_t)(SMW_SOURCE_STATUS_NONFINITE_MUTED | SMW_SOURCE_STATUS_UNDERRUN |
                                                  SMW_SOURCE_STATUS_PAUSED | SMW_SOURCE_STATUS_PLAYING |
                                                  SMW_SOURCE_STATUS_VIRTUAL | SMW_SOURCE_STATUS_LOD)))
        violation("source_get_status", "undocumented status bits", (long)flags, 0, NULL);
    if (rc == SMW_SUCCESS && (flags & SMW_SOURCE_STATUS_LOD)) ++g_lod_status;
}

/* a value in range most of the time, else hostile; *ok says whether it lies in [lo, hi] */
static float ranged(float lo, float hi, int* ok)
{
    float v = rndu(3) ? lo + (hi - lo) * (0.5f + 0.5f * frand(1.0f)) : rndu(2) ? hi + 0.25f : hostile_float();
    if (!(v >= lo && v <= hi)) *ok = 0;
    return v;
}

static void op_tone_and_reverb(fz* z)
{
    int live, ok = 1;
    smw_source h = pick_handle(z, &live);
    switch (rndu(5)) {
    case 0: {
        float in = ranged(0.0f, 360.0f, &ok), out = ranged(0.0f, 360.0f, &ok);
        float og = ranged(0.0f, 1.0f, &ok), hf = ranged(0.0f, 1.0f, &ok);
        if (ok && out < in) ok = 0;
        check(28, smw_source_set_cone(z->r, h, in, out, og, hf), D_SETTER,
              !live ? SMW_ERROR_INVALID_HANDLE : ok ? SMW_SUCCESS : SMW_ERROR_INVALID_ARGUMENT, z->r);
        break;
    }
    case 1: {
        float lo = ranged(0.0f, 1.0f, &ok), mid = ranged(0.0f, 1.0f, &ok), hi = ranged(0.0f, 1.0f, &ok);
        check(29, smw_source_set_transmission(z->r, h, lo, mid, hi), D_SETTER,
              !live ? SMW_ERROR_INVALID_HANDLE : ok ? SMW_SUCCESS : SMW_ERROR_INVALID_ARGUMENT, z->r);
        break;
    }
    case 2: {
        float f = ranged(0.0f, 10.0f, &ok);
        check(30, smw_source_set_air_absorption(z->r, h, f), D_SETTER,
              !live ? SMW_ERROR_INVALID_HANDLE : ok ? SMW_SUCCESS : SMW_ERROR_INVALID_ARGUMENT, z->r);
        break;
    }
    case 3: {
        float send = ranged(0.0f, 1.0f, &ok);
        check(31, smw_source_set_reverb_send(z->r, h, send), D_SETTER,
              !live ? SMW_ERROR_INVALID_HANDLE : ok ? SMW_SUCCESS : SMW_ERROR_INVALID_ARGUMENT, z->r);
        break;
    }
    default: {
        smw_reverb_settings rs = smw_reverb_settings_default();
        rs.decay_time_s = ranged(0.1f, 20.0f, &ok);
        rs.pre_delay_s = ranged(0.0f, 0.5f, &ok);
        rs.hf_decay_ratio = ranged(0.1f, 1.0f, &ok);
        rs.wet_gain = ranged(0.0f, 4.0f, &ok);
        int want = ok ? SMW_SUCCESS : SMW_ERROR_INVALID_ARGUMENT;
        if (rndu(20) == 0) { rs.size = (uint32_t)rnd(); if (rs.size != sizeof rs) want = SMW_ERROR_SETTINGS_SIZE; }
        int null_ptr = rndu(40) == 0;
        check(32, smw_renderer_set_reverb(z->r, null_ptr ? NULL : &rs), D_MODEL_INFO | B(SMW_ERROR_INVALID_ARGUMENT),
              null_ptr ? SMW_ERROR_NULL_POINTER : want, z->r);
        break;
    }
    }
}

static void op_renderer_controls(fz* z)
{
    switch (rndu(3)) {
    case 0: {
        float g = rndu(3) ? 1.0f + frand(1.0f) : hostile_float();
        int ok = finitef_(g) && g >= 0.0f && g <= 1000.0f;
        smw_result rc = check(24, smw_renderer_set_master_gain(z->r, g), D_RENDERER_SET,
                              ok ? SMW_SUCCESS : SMW_ERROR_INVALID_ARGUMENT, z->r);
        if (rc == SMW_SUCCESS) z->master = g;
        break;
    }
    case 1: {   /* pauses are short: most blocks should render */
        int32_t v = rndu(8) ? (int32_t)(z->paused ? rndu(4) != 0 ? 0 : 1 : rndu(4) == 0) : (int32_t)rnd();
        smw_result rc = check(25, smw_renderer_set_paused(z->r, v), D_RENDERER_SET,
                              (v == 0 || v == 1) ? SMW_SUCCESS : SMW_ERROR_INVALID_ARGUMENT, z->r);
        if (rc == SMW_SUCCESS) z->paused = v;
        break;
    }
    default: {
        smw_model_info info;
        memset(&info, 0xAB, sizeof info);
        info.size = rndu(4) ? (uint32_t)sizeof info : (uint32_t)rnd();
        int null_ptr = rndu(20) == 0;
        int want = null_ptr ? SMW_ERROR_NULL_POINTER
                 : info.size == sizeof info ? SMW_SUCCESS : SMW_ERROR_SETTINGS_SIZE;
        smw_result rc = check(26, smw_renderer_get_model_info(z->r, null_ptr ? NULL : &info), D_MODEL_INFO, want, z->r);
        int32_t lat = 0;
        smw_renderer_get_latency(z->r, &lat);
        if (rc == SMW_SUCCESS && (info.latency_frames != lat || info.size != sizeof info))
            violation("renderer_get_model_info", "latency differs from smw_renderer_get_latency", info.latency_frames, lat, NULL);
        break;
    }
    }
}

static int32_t hostile_frames(fz* z)
{
    switch (rndu(12)) {
    case 0: return 0;
    case 1: return -1;
    case 2: return INT32_MIN;
    case 3: return INT32_MAX;
    case 4: return z->max_block + 1;
    case 5: return z->max_block + 1 + (int32_t)rndu(1u << 20);
    case 6: return z->max_block;
    case 7: return 1;
    default: return 1 + (int32_t)rndu((uint32_t)z->max_block);
    }
}

static void fill_samples(float* x, int32_t n, int kind)
{
    for (int32_t k = 0; k < n; ++k) {
        switch (kind) {
        case 0: x[k] = frand(0.5f); break;                     /* normal */
        case 1: x[k] = 1e-40f * (k & 1 ? 1.0f : -1.0f); break;  /* denormal */
        case 2: x[k] = frand(1e30f); break;                    /* huge but finite */
        case 3: x[k] = frand(3.4e38f); break;                  /* near FLT_MAX */
        case 4: x[k] = rndu(64) ? frand(0.5f) : hostile_float(); break;  /* sprinkled */
        default: x[k] = 0.0f; break;
        }
    }
}

/* smw_source_write (stereo 0: `frames` mono samples) or smw_source_write_stereo (stereo 1:
 * 2 * `frames` interleaved samples) on a random handle of either kind, or on `forced` (a
 * live source, with the call of its kind) */
static void op_write(fz* z, hrec* forced, int stereo)
{
    int live;
    smw_source h;
    if (forced) { h = forced->h; live = 1; stereo = forced->stereo; }
    else h = pick_handle(z, &live);
    int32_t frames = forced ? z->max_block : hostile_frames(z);
    if (forced && rndu(4) == 0) frames = 1 + (int32_t)rndu((uint32_t)z->max_block);
    int null_ptr = !forced && rndu(40) == 0;
    /* buffer length: exactly `frames` frames (guard page right after), capped for absurd counts */
    size_t n = (size_t)(1 + stereo) * (frames > 0 ? (size_t)(frames <= 2 * z->max_block ? frames : 2 * z->max_block) : 1);
    guard_map gm;
    float* x = guard_alloc(n, &gm);
    int kind = (int)rndu(forced ? 3 : 6);
    if (forced && rndu(8) == 0) kind = 4;
    fill_samples(x, (int32_t)n, kind);
    int has_nonfinite = 0;
    if (frames > 0 && frames <= z->max_block)
        /* the library mutes NaN/Inf and also |x| > 1e6 (it would overflow the shared mix);
         * stereo: one such sample in either channel mutes both */
        for (size_t k = 0; k < n; ++k) if (!finitef_(x[k]) || fabsf(x[k]) > 1.0e6f) has_nonfinite = 1;
    hrec* e = live ? find(z, h) : NULL;
    int want;
    if (!live) want = SMW_ERROR_INVALID_HANDLE;
    else if (e && e->stereo != stereo) want = SMW_ERROR_CHANNEL_MISMATCH;
    else if (null_ptr) want = SMW_ERROR_NULL_POINTER;
    else if (frames < 1 || frames > z->max_block) want = SMW_ERROR_FRAME_COUNT;
    else if (e && e->pending + frames > z->max_block) want = SMW_ERROR_BUFFER_FULL;
    else want = has_nonfinite ? SMW_ERROR_NONFINITE_INPUT : SMW_SUCCESS;
    const float* buf = null_ptr ? NULL : x;
    smw_result rc = check(stereo ? 35 : 12, stereo ? smw_source_write_stereo(z->r, h, buf, frames)
                                                   : smw_source_write(z->r, h, buf, frames), D_WRITE, want, z->r);
    if ((rc == SMW_SUCCESS || rc == SMW_ERROR_NONFINITE_INPUT) && e) e->pending += frames;
    guard_free(&gm);
}

/* smw_source_is_virtual, then smw_source_skip (instead of a write), on a random handle of
 * either kind or on `forced` (a live source): no samples, so no NONFINITE_INPUT and no
 * channel rule; the skipped frames are pending as written ones */
static void op_skip(fz* z, hrec* forced)
{
    int live;
    smw_source h;
    if (forced) { h = forced->h; live = 1; }
    else h = pick_handle(z, &live);
    int null_ptr = !forced && rndu(20) == 0;
    int32_t v = -1;
    smw_result rq = check(40, smw_source_is_virtual(z->r, h, null_ptr ? NULL : &v), D_IS_VIRTUAL,
                          !live ? SMW_ERROR_INVALID_HANDLE : null_ptr ? SMW_ERROR_NULL_POINTER : SMW_SUCCESS, z->r);
    if (rq == SMW_SUCCESS && v != 0 && v != 1) violation("source_is_virtual", "*out_virtual is not 0 or 1", v, 0, NULL);
    int32_t frames = forced ? z->max_block : hostile_frames(z);
    hrec* e = live ? find(z, h) : NULL;
    int want;
    if (!live) want = SMW_ERROR_INVALID_HANDLE;
    else if (frames < 1 || frames > z->max_block) want = SMW_ERROR_FRAME_COUNT;
    else if (e && e->pending + frames > z->max_block) want = SMW_ERROR_BUFFER_FULL;
    else want = SMW_SUCCESS;
    smw_result rc = check(39, smw_source_skip(z->r, h, frames), D_SKIP, want, z->r);
    if (rc == SMW_SUCCESS && e) e->pending += frames;
}

static void op_render(fz* z, int32_t frames_in)
{
    int32_t frames = frames_in > 0 ? frames_in : hostile_frames(z);
    int null_ptr = frames_in <= 0 && rndu(40) == 0;
    size_t n = 2 * (size_t)(frames > 0 ? (frames <= 2 * z->max_block ? frames : 2 * z->max_block) : 1);
    guard_map gm;
    float* out = guard_alloc(n, &gm);
    for (size_t k = 0; k < n; ++k) out[k] = 12345.0f;   /* "not written" marker */
    int want = null_ptr ? SMW_ERROR_NULL_POINTER
             : (frames < 1 || frames > z->max_block) ? SMW_ERROR_FRAME_COUNT : SMW_SUCCESS;
    smw_result rc = check(13, smw_render(z->r, null_ptr ? NULL : out, frames), D_RENDER, want, z->r);
    if (rc == SMW_SUCCESS || rc == SMW_ERROR_INTERNAL) {
        for (int32_t k = 0; k < 2 * frames; ++k)
            if (!finitef_(out[k]) || out[k] == 12345.0f) { ++g_nonfinite_out; break; }
        /* each source not paused consumed `frames`, and so did one paused since the last
         * render that ran (its fade-out block; not on its first render), unless the renderer
         * is paused and was already faded out (then nothing ran) */
        int frozen = z->paused && z->applied == 0.0f;
        if (!frozen) {
            for (int k = 0; k < z->nh; ++k) {
                hrec* e = &z->hs[k];
                if (!e->live) continue;
                if (!e->paused || (e->rendered && !e->was_paused))
                    e->pending = e->pending > frames ? e->pending - frames : 0;
                e->was_paused = e->paused;
                e->rendered = 1;
            }
            z->applied = z->paused ? 0.0f : z->master;
        }
    } else if (rc == SMW_ERROR_FRAME_COUNT && !null_ptr) {
        for (size_t k = 0; k < n; ++k)
            if (out[k] != 12345.0f) { violation("render", "wrote output on FRAME_COUNT", (long)k, -1, NULL); break; }
    }
    guard_free(&gm);
}

/* a well-formed audio block: write every live source, then render the same frame count */
static void op_frame(fz* z)
{
    ++g_fn_calls[19];
    for (int k = 0; k < z->nh; ++k)
        if (z->hs[k].live && rndu(8)) {
            if (rndu(8) == 0) op_skip(z, &z->hs[k]);
            else op_write(z, &z->hs[k], 0);
        }
    op_render(z, z->max_block);
}

static void op_misc(fz* z)
{
    switch (rndu(6)) {
    case 0: {
        int32_t lat = -1;
        int nul = rndu(4) == 0;
        check(1, smw_renderer_get_latency(z->r, nul ? NULL : &lat), D_LATENCY,
              nul ? SMW_ERROR_NULL_POINTER : SMW_SUCCESS, z->r);
        if (!nul && lat < 0) violation("get_latency", "negative latency", lat, 0, NULL);
        break;
    }
    case 1: {
        ++g_calls; ++g_fn_calls[2];
        const char* e = smw_last_error(rndu(2) ? z->r : NULL);
        if (!e || strnlen(e, 8192) >= 8192) violation("last_error", "NULL or unterminated", 0, 1, NULL);
        break;
    }
    case 2: {
        ++g_calls; ++g_fn_calls[14];
        const char* s = smw_result_string(rndu(2) ? (smw_result)rndu(20) : (smw_result)rnd());
        if (!s || strnlen(s, 8192) >= 8192) violation("result_string", "NULL or unterminated", 0, 1, NULL);
        break;
    }
    case 3: {
        ++g_calls; ++g_fn_calls[15];
        uint32_t v = smw_get_version();
        if (SMW_VERSION_GET_MAJOR(v) != SMW_VERSION_MAJOR) violation("get_version", "major differs", (long)v, SMW_VERSION, NULL);
        break;
    }
    case 4: {   /* every call with a NULL renderer */
        float p[3] = {0, 0, 0}, q[4] = {0, 0, 0, 1}, buf[2] = {0, 0};
        smw_source h = 0;
        int32_t lat;
        const int want = SMW_ERROR_NULL_POINTER;
        const uint32_t all = 0xFFFFFFFFu;
        check(18, smw_renderer_get_latency(NULL, &lat), all, want, NULL);
        check(18, smw_listener_set_pose(NULL, p, q), all, want, NULL);
        check(18, smw_source_create(NULL, &h), all, want, NULL);
        check(18, smw_source_destroy(NULL, 1), all, want, NULL);
        check(18, smw_source_set_pose(NULL, 1, p, q), all, want, NULL);
        check(18, smw_source_set_gain(NULL, 1, 1.0f), all, want, NULL);
        check(18, smw_source_set_distance_model(NULL, 1, 1, 1, 2, 1), all, want, NULL);
        check(18, smw_source_set_doppler(NULL, 1, 1), all, want, NULL);
        check(18, smw_source_set_spatialize(NULL, 1, 1), all, want, NULL);
        check(18, smw_source_set_paused(NULL, 1, 1), all, want, NULL);
        check(18, smw_source_write(NULL, 1, buf, 1), all, want, NULL);
        check(18, smw_source_create_stereo(NULL, 60.0f, &h), all, want, NULL);
        check(18, smw_source_set_stereo_width(NULL, 1, 60.0f), all, want, NULL);
        check(18, smw_source_set_priority(NULL, 1, 1.0f), all, want, NULL);
        check(18, smw_source_write_stereo(NULL, 1, buf, 1), all, want, NULL);
        check(18, smw_source_skip(NULL, 1, 1), all, want, NULL);
        int32_t v;
        check(18, smw_source_is_virtual(NULL, 1, &v), all, want, NULL);
        check(18, smw_render(NULL, buf, 1), all, want, NULL);
        uint32_t flags;
        smw_model_info info = {.size = sizeof info};
        check(18, smw_source_set_velocity(NULL, 1, p), all, want, NULL);
        check(18, smw_listener_set_velocity(NULL, p), all, want, NULL);
        check(18, smw_source_teleport(NULL, 1), all, want, NULL);
        check(18, smw_source_get_status(NULL, 1, &flags), all, want, NULL);
        check(18, smw_renderer_set_master_gain(NULL, 1.0f), all, want, NULL);
        check(18, smw_renderer_set_paused(NULL, 0), all, want, NULL);
        check(18, smw_renderer_get_model_info(NULL, &info), all, want, NULL);
        smw_renderer_destroy(NULL);
        ++g_calls; ++g_fn_calls[16];
        break;
    }
    default: {
        ++g_calls; ++g_fn_calls[17];
        smw_renderer_settings s = smw_renderer_settings_default();
        if (s.size != sizeof s || s.sample_rate != 48000) violation("settings_default", "bad defaults", s.size, sizeof s, NULL);
        break;
    }
    }
}

/* hostile create calls that fail before (or inside) Python; never leave a renderer behind */
static void hostile_creates(int corrector)
{
    for (int k = 0; k < 48; ++k) {
        smw_renderer_settings s = smw_renderer_settings_default();
        s.enable_corrector = corrector;
        int want;
        switch (k % 12) {
        case 0: s.size = 0; want = SMW_ERROR_SETTINGS_SIZE; break;
        case 1: s.size = (uint32_t)sizeof s - 4; want = SMW_ERROR_SETTINGS_SIZE; break;
        case 2: s.sample_rate = (int32_t)rnd(); if (s.sample_rate == 44100 || s.sample_rate == 48000 || s.sample_rate == 96000) s.sample_rate = 1; want = SMW_ERROR_UNSUPPORTED_SAMPLE_RATE; break;
        case 3: s.max_sources = rndu(2) ? 0 : 4097 + (int32_t)rndu(1u << 30); want = SMW_ERROR_INVALID_ARGUMENT; break;
        case 4: s.max_block_frames = rndu(2) ? -(int32_t)rndu(1000) : 16385 + (int32_t)rndu(1u << 30); want = SMW_ERROR_INVALID_ARGUMENT; break;
        case 5: s.coordinate_system = rndu(2) ? -1 : 4 + (int32_t)rndu(1000); want = SMW_ERROR_INVALID_ARGUMENT; break;
        case 6: s.sample_rate = INT32_MIN; want = SMW_ERROR_UNSUPPORTED_SAMPLE_RATE; break;
        case 7: {   /* capacity, or a direction-table spacing outside 0 and 0.5..30 degrees */
            static const float BAD_STEP[5] = {NAN, -1.0f, 0.25f, 30.5f, INFINITY};
            if (rndu(2)) s.max_sources = INT32_MIN;
            else s.corrector_table_step_deg = BAD_STEP[rndu(5)];
            want = SMW_ERROR_INVALID_ARGUMENT;
            break;
        }
        case 8: {   /* NULL arguments */
            smw_renderer* r = (smw_renderer*)&s;
            check(0, smw_renderer_create(NULL, &r), D_CREATE, SMW_ERROR_NULL_POINTER, NULL);
            if (r != NULL) violation("renderer_create", "*out not NULL after failure", 1, 0, NULL);
            check(0, smw_renderer_create(&s, NULL), D_CREATE, SMW_ERROR_NULL_POINTER, NULL);
            continue;
        }
        case 10: {  /* the level of detail's full_sources outside 0..4096 */
            static const int32_t BAD_FULL[4] = {-1, INT32_MIN, 4097, INT32_MAX};
            s.full_sources = rndu(2) ? BAD_FULL[rndu(4)] : 4097 + (int32_t)rndu(1u << 30);
            want = SMW_ERROR_INVALID_ARGUMENT;
            break;
        }
        case 11: {  /* lod_hysteresis_db outside 0..20 dB (NaN too) */
            static const float BAD_HYST[7] = {NAN, -NAN, INFINITY, -INFINITY, -1.4e-45f, 20.000002f, -3.0f};
            s.lod_hysteresis_db = rndu(4) ? BAD_HYST[rndu(7)] : 20.0f + (float)(1 + rndu(1000));
            want = SMW_ERROR_INVALID_ARGUMENT;
            break;
        }
        default: s.model_path = k < 24 ? "/nonexistent/model.npz" : "/dev/null"; s.enable_corrector = 1;
                 want = SMW_ERROR_MODEL_LOAD; break;
        }
        smw_renderer* r = (smw_renderer*)&s;
        smw_result rc = check(0, smw_renderer_create(&s, &r), D_CREATE, want, NULL);
        if (rc == SMW_SUCCESS) smw_renderer_destroy(r);
        else if (r != NULL) violation("renderer_create", "*out not NULL after failure", 1, 0, NULL);
    }
}

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

int main(int argc, char** argv)
{
    long calls = argc > 1 ? atol(argv[1]) : 100000;
    uint64_t seed = argc > 2 ? strtoull(argv[2], NULL, 0) : 1;
    int renderers = 3, corrector = 1;
    const char* model = NULL;
    for (int i = 3; i < argc; ++i) {
        if (!strcmp(argv[i], "--tdw-only")) corrector = 0;
        else if (!strcmp(argv[i], "--verbose")) g_verbose = 1;
        else if (!strcmp(argv[i], "--renderers") && i + 1 < argc) renderers = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--model") && i + 1 < argc) model = argv[++i];
    }
    if (renderers < 1) renderers = 1;
    g_rng = seed;
    g_page = sysconf(_SC_PAGESIZE);
    setvbuf(stdout, NULL, _IOLBF, 0);
    double t0 = now();

    hostile_creates(corrector);
    double t_create = 0.0;
    long per = calls / renderers;
    static fz z;   /* large: keep it off the stack */
    static const int32_t SR[3] = {44100, 48000, 96000};
    static const int32_t BLK[6] = {1, 7, 64, 256, 512, 1024};
    static const int32_t NSRC[6] = {1, 3, 8, 16, 64, 128};
    /* level of detail: few full-path places, so that the bed tier runs (0 = no limit) */
    static const int32_t FULL[7] = {0, 1, 2, 4, 8, 64, 4096};
    static const float HYST[6] = {0.0f, -0.0f, 1e-40f, 3.0f, 20.0f, 0.5f};
    static const float STEP[3] = {0.0f, 3.0f, 15.0f};  /* no table, the default, coarse */
    for (int ri = 0; ri < renderers; ++ri) {
        smw_renderer_settings s = smw_renderer_settings_default();
        s.sample_rate = SR[rndu(3)];
        s.max_block_frames = ri == 0 ? 512 : BLK[rndu(6)];
        s.max_sources = ri == 0 ? 16 : NSRC[rndu(6)];
        s.full_sources = ri == 0 ? 4 : FULL[rndu(7)];
        s.lod_hysteresis_db = ri == 0 ? 3.0f : HYST[rndu(6)];
        s.coordinate_system = (int32_t)rndu(4);
        s.corrector_table_step_deg = ri == 0 ? 3.0f : STEP[rndu(3)];
        s.enable_corrector = corrector;
        s.model_path = model;
        memset(&z, 0, sizeof z);
        z.master = z.applied = 1.0f;
        double tc = now();
        smw_result rc = check(0, smw_renderer_create(&s, &z.r), D_CREATE, SMW_SUCCESS, NULL);
        t_create += now() - tc;
        if (rc != SMW_SUCCESS) {
            printf("CREATE_FAILED %d %s\n", rc, smw_last_error(NULL));
            return 2;
        }
        z.max_sources = s.max_sources;
        z.max_block = s.max_block_frames;
        z.coords = s.coordinate_system;
        if (g_verbose)
            printf("renderer %d: rate %d block %d sources %d coords %d full_sources %d lod_hysteresis_db %g\n",
                   ri, s.sample_rate, s.max_block_frames, s.max_sources, s.coordinate_system, s.full_sources,
                   (double)s.lod_hysteresis_db);
        long end = g_calls + per;
        while (g_calls < end) {
            uint32_t op = rndu(100);
            if (op < 9) op_source_create(&z);
            else if (op < 14) op_source_destroy(&z);
            else if (op < 15) op_steal(&z);
            else if (op < 27) op_set_pose(&z, 0);
            else if (op < 29) op_set_priority(&z);
            else if (op < 33) op_set_pose(&z, 1);
            else if (op < 36) op_set_velocity(&z, (int)rndu(2));
            else if (op < 38) op_teleport_or_status(&z);
            else if (op < 43) op_set_gain(&z);
            else if (op < 48) op_set_distance(&z);
            else if (op < 54) op_set_flag(&z, (int)rndu(3));
            else if (op < 56) op_renderer_controls(&z);
            else if (op < 59) op_tone_and_reverb(&z);
            else if (op < 64) op_write(&z, NULL, 0);
            else if (op < 66) op_skip(&z, NULL);
            else if (op < 70) op_write(&z, NULL, 1);
            else if (op < 79) op_render(&z, 0);
            else if (op < 92) op_frame(&z);
            else if (op < 97) op_misc(&z);
            else if (op < 99) op_set_stereo_width(&z);
            else if (rndu(16)) op_fill_slots(&z);
            else op_sweep_generations(&z);
        }
        /* every live source is still usable; destroy them all, then the renderer */
        for (int k = 0; k < z.nh; ++k)
            if (z.hs[k].live) {
                check(5, smw_source_destroy(z.r, z.hs[k].h), D_DESTROY_SRC, SMW_SUCCESS, z.r);
                z.hs[k].live = 0;
            }
        op_render(&z, z.max_block);
        smw_renderer_destroy(z.r);
        ++g_calls; ++g_fn_calls[16];
    }
    double dt = now() - t0;
    printf("SEED %llu\n", (unsigned long long)seed);
    printf("CALLS %ld\n", g_calls);
    printf("RENDERERS %d\n", renderers);
    printf("SECONDS %.2f\n", dt);
    printf("CREATE_SECONDS %.2f\n", t_create);
    printf("VIOLATIONS %ld\n", g_violations);
    printf("NONFINITE_OUTPUT %ld\n", g_nonfinite_out);
    printf("INTERNAL_ERRORS %ld\n", g_internal);
    printf("STEREO_ONE_FREE_REFUSED %ld\n", g_stereo_one_free);
    printf("STEREO_CALLS %ld\n", g_fn_calls[33] + g_fn_calls[34] + g_fn_calls[35]);
    printf("GENERATION_SWEEPS %ld\n", g_fn_calls[37]);
    printf("PRIORITY_CALLS %ld\n", g_fn_calls[38]);
    printf("SKIP_CALLS %ld\n", g_fn_calls[39]);
    printf("LOD_STATUS_SEEN %ld\n", g_lod_status);
    for (int k = 0; k <= SMW_ERROR_CHANNEL_MISMATCH; ++k) printf("RESULT_%d %ld\n", k, g_by_result[k]);
    for (int k = 0; k < NFN; ++k) printf("# %s %ld\n", FN_NAMES[k], g_fn_calls[k]);
    return (g_violations || g_nonfinite_out || g_internal) ? 1 : 0;
}
