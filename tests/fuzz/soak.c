/* soak.c -- concurrency soak of the C API.
 *
 * A game thread keeps `sources` sources alive while churning them (destroy one + create a
 * replacement every `churn_ms`, i.e. hundreds per second), moves every source and the
 * listener each 60 Hz game frame, and now and then sends hostile poses (rejected). The
 * audio thread (SCHED_FIFO if allowed) paces 512-frame blocks at 48 kHz in real time:
 * writes noise for every handle it sees (some already stale: INVALID_HANDLE is expected)
 * and renders. A watchdog thread aborts with DEADLOCK if either thread stops making
 * progress for 5 s.
 *
 *   soak <seconds> [--sources N] [--churn-ms X] [--tdw-only] [--model PATH]
 *
 * Prints "KEY value" lines: blocks, per-block processing time (writes + render; wall clock
 * and the audio thread's CPU time) percentiles and deadline misses, non-finite output
 * samples, creates/destroys, RSS (from /proc/self/statm) after warm-up and at the end.
 */
#define _GNU_SOURCE
#include "spatialmw.h"

#include <math.h>
#include <pthread.h>
#include <sys/mman.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define BLOCK 512
#define RATE 48000
#define MAXS 256

static smw_renderer* g_r;
static _Atomic smw_source g_h[MAXS];
static int g_nsrc = 16;
static double g_churn_ms = 2.0;
static atomic_int g_stop;
static atomic_long g_audio_progress, g_game_progress;
static atomic_long g_creates, g_create_full, g_destroys, g_destroy_err, g_pose_ok, g_pose_rejected,
    g_pose_unexpected, g_other_err;

static double now_mono(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static double now_thread_cpu(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static void sleep_until(double t)
{
    struct timespec ts;
    ts.tv_sec = (time_t)t;
    ts.tv_nsec = (long)((t - (double)ts.tv_sec) * 1e9);
    while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) != 0) {}
}

static long rss_kib(void)
{
    FILE* f = fopen("/proc/self/statm", "r");
    long size = 0, res = 0;
    if (f) {
        if (fscanf(f, "%ld %ld", &size, &res) != 2) res = 0;
        fclose(f);
    }
    return res * (sysconf(_SC_PAGESIZE) / 1024);
}

static unsigned lcg(unsigned* s) { *s = *s * 1664525u + 1013904223u; return *s; }
static float noise(unsigned* s, float a) { return a * ((float)(lcg(s) >> 8) / 8388608.0f - 1.0f); }

static smw_source create_one(void)
{
    smw_source h = 0;
    smw_result rc = smw_source_create(g_r, &h);
    if (rc == SMW_SUCCESS) {
        atomic_fetch_add(&g_creates, 1);
        smw_source_set_distance_model(g_r, h, SMW_DISTANCE_INVERSE_CLAMPED, 1.0f, 100.0f, 1.0f);
        smw_source_set_doppler(g_r, h, (int32_t)(h & 1));
        return h;
    }
    if (rc == SMW_ERROR_OUT_OF_SOURCES) atomic_fetch_add(&g_create_full, 1);
    else atomic_fetch_add(&g_other_err, 1);
    return 0;
}

static void* game_thread(void* arg)
{
    (void)arg;
    unsigned seed = 4242;
    const double frame = 1.0 / 60.0;
    double t0 = now_mono(), next_frame = t0, next_churn = t0;
    for (int i = 0; i < g_nsrc; ++i) atomic_store(&g_h[i], create_one());
    while (!atomic_load(&g_stop)) {
        double t = now_mono();
        if (t >= next_churn) {          /* replace one source */
            int i = (int)(lcg(&seed) >> 8) % g_nsrc;
            smw_source old = atomic_exchange(&g_h[i], 0);
            if (old) {
                if (smw_source_destroy(g_r, old) == SMW_SUCCESS) atomic_fetch_add(&g_destroys, 1);
                else atomic_fetch_add(&g_destroy_err, 1);
            }
            atomic_store(&g_h[i], create_one());
            next_churn += g_churn_ms * 1e-3;
            if (next_churn < t) next_churn = t;   /* do not burst after a stall */
        }
        if (t >= next_frame) {          /* game frame: move everything */
            double tt = t - t0;
            float lp[3] = {(float)(0.5 * sin(0.3 * tt)), 0.0f, 0.0f};
            float lq[4] = {0.0f, 0.0f, (float)sin(0.25 * tt), (float)cos(0.25 * tt)};
            smw_result rc = smw_listener_set_pose(g_r, lp, lq);
            if (rc == SMW_SUCCESS) atomic_fetch_add(&g_pose_ok, 1); else atomic_fetch_add(&g_pose_unexpected, 1);
            for (int i = 0; i < g_nsrc; ++i) {
                smw_source h = atomic_load(&g_h[i]);
                if (!h) continue;
                double a = 0.7 * tt + i * 0.4;
                float p[3] = {(float)(3.0 * cos(a)), (float)(3.0 * sin(a)), (float)(0.5 * sin(1.3 * a))};
                const float q[4] = {0, 0, 0, 1};
                rc = smw_source_set_pose(g_r, h, p, q);
                if (rc == SMW_SUCCESS) atomic_fetch_add(&g_pose_ok, 1);
                else atomic_fetch_add(&g_pose_unexpected, 1);
                smw_source_set_gain(g_r, h, 0.5f + 0.5f * (float)sin(a));
                if ((lcg(&seed) >> 8) % 16 == 0) {   /* hostile pose: must be rejected */
                    float bad[3] = {NAN, 0, 0};
                    const float zq[4] = {0, 0, 0, 0};
                    if (smw_source_set_pose(g_r, h, bad, q) == SMW_ERROR_INVALID_ARGUMENT &&
                        smw_source_set_pose(g_r, h, p, zq) == SMW_ERROR_INVALID_ARGUMENT)
                        atomic_fetch_add(&g_pose_rejected, 2);
                    else
                        atomic_fetch_add(&g_pose_unexpected, 1);
                }
            }
            next_frame += frame;
            if (next_frame < t) next_frame = t;
        }
        atomic_fetch_add(&g_game_progress, 1);
        double wake = next_churn < next_frame ? next_churn : next_frame;
        sleep_until(wake);
    }
    return NULL;
}

static void* watchdog(void* arg)
{
    (void)arg;
    long a0 = -1, g0 = -1;
    double stuck_since = now_mono();
    while (!atomic_load(&g_stop)) {
        usleep(200000);
        long a = atomic_load(&g_audio_progress), g = atomic_load(&g_game_progress);
        if (a != a0 && g != g0) { a0 = a; g0 = g; stuck_since = now_mono(); continue; }
        if (now_mono() - stuck_since > 5.0) {
            printf("DEADLOCK 1\naudio_progress %ld game_progress %ld\n", a, g);
            fflush(stdout);
            _exit(3);
        }
    }
    return NULL;
}

static int cmp_dbl(const void* a, const void* b)
{
    double x = *(const double*)a, y = *(const double*)b;
    return (x > y) - (x < y);
}

static double pct(double* v, long n, double p)
{
    if (n <= 0) return 0.0;
    long k = (long)(p * (double)(n - 1) + 0.5);
    return v[k];
}

int main(int argc, char** argv)
{
    double seconds = argc > 1 ? atof(argv[1]) : 10.0;
    int corrector = 1;
    const char* model = NULL;
    for (int i = 2; i < argc; ++i) {
        if (!strcmp(argv[i], "--tdw-only")) corrector = 0;
        else if (!strcmp(argv[i], "--sources") && i + 1 < argc) g_nsrc = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--churn-ms") && i + 1 < argc) g_churn_ms = atof(argv[++i]);
        else if (!strcmp(argv[i], "--model") && i + 1 < argc) model = argv[++i];
    }
    if (g_nsrc < 1) g_nsrc = 1;
    if (g_nsrc > MAXS) g_nsrc = MAXS;
    setvbuf(stdout, NULL, _IOLBF, 0);

    smw_renderer_settings s = smw_renderer_settings_default();
    s.sample_rate = RATE;
    s.max_block_frames = BLOCK;
    s.max_sources = 2 * g_nsrc;   /* headroom (a destroyed source's slot is reusable at once) */
    s.enable_corrector = corrector;
    s.model_path = model;
    if (smw_renderer_create(&s, &g_r) != SMW_SUCCESS) {
        printf("CREATE_FAILED 1\n# %s\n", smw_last_error(NULL));
        return 2;
    }
    /* As audio applications do: keep every page resident so the audio thread never takes a
     * page fault (the VM reclaims memory; faults count in the thread's CPU time). */
    int locked = mlockall(MCL_CURRENT | MCL_FUTURE) == 0;
    printf("MEMORY_LOCKED %d\n", locked);
    pthread_t gt, wd;
    pthread_create(&wd, NULL, watchdog, NULL);
    pthread_create(&gt, NULL, game_thread, NULL);

    struct sched_param sp;
    memset(&sp, 0, sizeof sp);
    sp.sched_priority = 80;
    int rt = pthread_setschedparam(pthread_self(), SCHED_FIFO, &sp) == 0;

    const double period = (double)BLOCK / RATE;
    const double warmup = seconds > 20.0 ? 5.0 : seconds * 0.25;
    long nb = (long)(seconds / period);
    double* wall = calloc((size_t)nb + 1, sizeof(double));
    double* cpu = calloc((size_t)nb + 1, sizeof(double));
    /* touch the measurement arrays now: their pages must not count as growth later */
    memset(wall, 0, ((size_t)nb + 1) * sizeof(double));
    memset(cpu, 0, ((size_t)nb + 1) * sizeof(double));
    for (size_t k = 0; k <= (size_t)nb; ++k) { wall[k] = 1.0; cpu[k] = 1.0; }
    static float x[BLOCK], out[2 * BLOCK];
    unsigned seed = 99;
    long nonfinite = 0, misses_wall = 0, misses_cpu = 0, late_wakeups = 0, wr_ok = 0, wr_stale = 0,
         wr_other = 0, render_err = 0, blocks_meas = 0;
    long rss_warm = -1, rss_max = 0;
    double peak = 0.0, energy = 0.0;
    double t0 = now_mono();
    for (long n = 0; n < nb; ++n) {
        double due = t0 + (double)n * period;
        sleep_until(due);
        double w0 = now_mono(), c0 = now_thread_cpu();
        if (w0 - due > period) ++late_wakeups;
        for (int i = 0; i < g_nsrc; ++i) {
            smw_source h = atomic_load(&g_h[i]);
            if (!h) continue;
            for (int k = 0; k < BLOCK; ++k) x[k] = noise(&seed, 0.1f);
            smw_result rc = smw_source_write(g_r, h, x, BLOCK);
            if (rc == SMW_SUCCESS) ++wr_ok;
            else if (rc == SMW_ERROR_INVALID_HANDLE) ++wr_stale;   /* destroyed meanwhile */
            else ++wr_other;
        }
        if (smw_render(g_r, out, BLOCK) != SMW_SUCCESS) ++render_err;
        double w1 = now_mono(), c1 = now_thread_cpu();
        atomic_fetch_add(&g_audio_progress, 1);
        for (int k = 0; k < 2 * BLOCK; ++k) {
            if (!isfinite(out[k])) { ++nonfinite; continue; }
            double v = fabs(out[k]);
            if (v > peak) peak = v;
            energy += v * v;
        }
        double el = (double)n * period;
        if (el >= warmup) {
            wall[blocks_meas] = w1 - w0;
            cpu[blocks_meas] = c1 - c0;
            if (w1 - w0 > period) ++misses_wall;
            if (c1 - c0 > period) ++misses_cpu;
            ++blocks_meas;
            if (rss_warm < 0) rss_warm = rss_kib();
            if ((n & 63) == 0) { long r = rss_kib(); if (r > rss_max) rss_max = r; }
        }
    }
    long rss_end = rss_kib();
    if (rss_end > rss_max) rss_max = rss_end;
    atomic_store(&g_stop, 1);
    pthread_join(gt, NULL);
    pthread_join(wd, NULL);
    for (int i = 0; i < g_nsrc; ++i) {
        smw_source h = atomic_exchange(&g_h[i], 0);
        if (h && smw_source_destroy(g_r, h) == SMW_SUCCESS) atomic_fetch_add(&g_destroys, 1);
    }
    smw_render(g_r, out, BLOCK);
    smw_source probe;
    long free_after = 0;
    while (smw_source_create(g_r, &probe) == SMW_SUCCESS) ++free_after;

    qsort(wall, (size_t)blocks_meas, sizeof(double), cmp_dbl);
    qsort(cpu, (size_t)blocks_meas, sizeof(double), cmp_dbl);
    printf("SECONDS %.1f\nSOURCES %d\nREALTIME_PRIORITY %d\nBLOCKS %ld\nBLOCKS_MEASURED %ld\n",
           seconds, g_nsrc, rt, nb, blocks_meas);
    printf("DEADLINE_MS %.3f\n", period * 1e3);
    printf("WALL_P50_MS %.3f\nWALL_P99_MS %.3f\nWALL_P999_MS %.3f\nWALL_MAX_MS %.3f\n",
           pct(wall, blocks_meas, 0.5) * 1e3, pct(wall, blocks_meas, 0.99) * 1e3,
           pct(wall, blocks_meas, 0.999) * 1e3, blocks_meas ? wall[blocks_meas - 1] * 1e3 : 0.0);
    printf("CPU_P50_MS %.3f\nCPU_P99_MS %.3f\nCPU_MAX_MS %.3f\n", pct(cpu, blocks_meas, 0.5) * 1e3,
           pct(cpu, blocks_meas, 0.99) * 1e3, blocks_meas ? cpu[blocks_meas - 1] * 1e3 : 0.0);
    printf("MISSES_WALL %ld\nMISSES_CPU %ld\nLATE_WAKEUPS %ld\n", misses_wall, misses_cpu, late_wakeups);
    printf("NONFINITE %ld\nPEAK %.5f\nRMS %.6f\n", nonfinite, peak,
           nb ? sqrt(energy / (double)(2 * BLOCK * nb)) : 0.0);
    printf("CREATES %ld\nCREATE_FULL %ld\nDESTROYS %ld\nDESTROY_ERRORS %ld\n", atomic_load(&g_creates),
           atomic_load(&g_create_full), atomic_load(&g_destroys), atomic_load(&g_destroy_err));
    printf("CREATES_PER_S %.1f\n", (double)atomic_load(&g_creates) / seconds);
    printf("POSE_OK %ld\nPOSE_REJECTED %ld\nPOSE_UNEXPECTED %ld\nOTHER_ERRORS %ld\n", atomic_load(&g_pose_ok),
           atomic_load(&g_pose_rejected), atomic_load(&g_pose_unexpected), atomic_load(&g_other_err));
    printf("WRITE_OK %ld\nWRITE_STALE %ld\nWRITE_OTHER %ld\nRENDER_ERRORS %ld\n", wr_ok, wr_stale, wr_other,
           render_err);
    printf("RSS_WARM_KIB %ld\nRSS_END_KIB %ld\nRSS_MAX_KIB %ld\nRSS_GROWTH_KIB %ld\n", rss_warm, rss_end,
           rss_max, rss_end - rss_warm);
    printf("SLOTS_FREE_AFTER %ld\nMAX_SOURCES %d\n", free_after, s.max_sources);
    smw_renderer_destroy(g_r);
    free(wall);
    free(cpu);
    return 0;
}
