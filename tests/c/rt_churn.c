/* Source churn: two game threads create and destroy sources (hundreds per second, racing
 * each other on the same handles, also destroying stale handles on purpose) while the
 * audio thread writes to whatever handles it sees and renders 512-frame blocks paced in
 * real time until both game threads have done their operations. Expect: no crash, finite
 * output, exactly one successful destroy per create. The workload is a count of operations,
 * not a duration, so what is checked does not depend on the machine's speed.
 * usage: rt_churn <operations per game thread> [--tdw-only] */
#include "common.h"
#include <stdatomic.h>

#define NH 48
#define BLOCK 512
static smw_renderer* g_r;
static _Atomic smw_source g_h[NH];
static long g_ops;
static atomic_int g_running;   /* game threads not finished yet */
static atomic_long g_creates, g_create_full, g_destroys, g_destroy_stale, g_pose_ok, g_pose_bad;

static void* game_thread(void* arg)
{
    unsigned seed = (unsigned)(uintptr_t)arg;
    const float ident[4] = {0, 0, 0, 1};
    for (long n = 0; n < g_ops; ++n) {
        seed = seed * 1664525u + 1013904223u;
        int i = (int)((seed >> 8) % NH);
        int op = (int)((seed >> 20) % 4);
        if (op == 0) {            /* create into an empty entry */
            smw_source h;
            smw_result rc = smw_source_create(g_r, &h);
            if (rc == SMW_SUCCESS) {
                atomic_fetch_add(&g_creates, 1);
                smw_source expected = 0;
                if (!atomic_compare_exchange_strong(&g_h[i], &expected, h)) {
                    if (smw_source_destroy(g_r, h) == SMW_SUCCESS) atomic_fetch_add(&g_destroys, 1);
                }
            } else if (rc == SMW_ERROR_OUT_OF_SOURCES) {
                atomic_fetch_add(&g_create_full, 1);
            }
        } else if (op == 1) {     /* destroy: whoever takes the entry destroys it */
            smw_source h = atomic_exchange(&g_h[i], 0);
            if (h) {
                if (smw_source_destroy(g_r, h) == SMW_SUCCESS) atomic_fetch_add(&g_destroys, 1);
                /* and once more: must be reported stale, never crash */
                if (smw_source_destroy(g_r, h) == SMW_ERROR_INVALID_HANDLE) atomic_fetch_add(&g_destroy_stale, 1);
            }
        } else {                  /* pose updates on possibly-stale handles */
            smw_source h = atomic_load(&g_h[i]);
            float p[3] = {(float)((seed >> 4) % 100) * 0.1f - 5.0f, 2.0f, 0.0f};
            if (h && smw_source_set_pose(g_r, h, p, ident) == SMW_SUCCESS) atomic_fetch_add(&g_pose_ok, 1);
            else atomic_fetch_add(&g_pose_bad, 1);
        }
        struct timespec ts = {0, 1000000};   /* ~1000 ops/s per thread */
        nanosleep(&ts, NULL);
    }
    atomic_fetch_sub(&g_running, 1);
    return NULL;
}

int main(int argc, char** argv)
{
    g_ops = argc > 1 ? atol(argv[1]) : 3000;
    g_r = create_renderer(BLOCK, 32, argc, argv);  /* fewer slots than entries: OUT_OF_SOURCES too */
    if (!g_r) return 1;
    pthread_t g1, g2;
    atomic_store(&g_running, 2);
    pthread_create(&g1, NULL, game_thread, (void*)(uintptr_t)11);
    pthread_create(&g2, NULL, game_thread, (void*)(uintptr_t)12345);
    try_realtime_priority();
    const double period = (double)BLOCK / 48000.0;
    long nb = 0, overlap = 0, nonfinite = 0, wr_ok = 0, wr_invalid = 0, wr_other = 0, misses = 0;
    double peak = 0.0;
    static float x[BLOCK], out[2 * BLOCK];
    unsigned seed = 9;
    double t0 = t_now();
    for (long n = 0; atomic_load(&g_running) > 0; ++n, ++nb) {
        t_sleep_until(t0 + n * period);
        overlap += atomic_load(&g_running) == 2;   /* both game threads racing this block */
        for (int i = 0; i < NH; ++i) {
            smw_source h = atomic_load(&g_h[i]);
            if (!h) continue;
            for (int k = 0; k < BLOCK; ++k) x[k] = noise(&seed, 0.05f);
            smw_result rc = smw_source_write(g_r, h, x, BLOCK);
            if (rc == SMW_SUCCESS) ++wr_ok;
            else if (rc == SMW_ERROR_INVALID_HANDLE) ++wr_invalid;
            else ++wr_other;
        }
        if (smw_render(g_r, out, BLOCK) != SMW_SUCCESS) ++wr_other;
        if (t_now() > t0 + (n + 1) * period) ++misses;
        for (int k = 0; k < 2 * BLOCK; ++k) {
            if (!isfinite(out[k])) ++nonfinite;
            else if (fabs(out[k]) > peak) peak = fabs(out[k]);
        }
    }
    double seconds = t_now() - t0;
    pthread_join(g1, NULL);
    pthread_join(g2, NULL);
    /* drain: destroy what is left; every create must have exactly one successful destroy */
    for (int i = 0; i < NH; ++i) {
        smw_source h = atomic_exchange(&g_h[i], 0);
        if (h && smw_source_destroy(g_r, h) == SMW_SUCCESS) atomic_fetch_add(&g_destroys, 1);
    }
    smw_render(g_r, out, BLOCK);
    smw_source probe;
    long all_free = 0;   /* after one render every slot must be reusable again */
    while (smw_source_create(g_r, &probe) == SMW_SUCCESS) ++all_free;
    printf("OPS %ld\nSECONDS %.2f\nBLOCKS %ld\nBLOCKS_BOTH_RACING %ld\n", 2 * g_ops, seconds, nb, overlap);
    printf("CREATES %ld\nCREATE_FULL %ld\nDESTROYS %ld\nDESTROY_STALE %ld\n", atomic_load(&g_creates),
           atomic_load(&g_create_full), atomic_load(&g_destroys), atomic_load(&g_destroy_stale));
    printf("POSE_OK %ld\nPOSE_REJECTED %ld\n", atomic_load(&g_pose_ok), atomic_load(&g_pose_bad));
    printf("WRITE_OK %ld\nWRITE_INVALID_HANDLE %ld\nOTHER_ERRORS %ld\n", wr_ok, wr_invalid, wr_other);
    printf("NONFINITE %ld\nPEAK %.5f\nMISSES %ld\nSLOTS_FREE_AFTER %ld\n", nonfinite, peak, misses, all_free);
    smw_renderer_destroy(g_r);
    return 0;
}
