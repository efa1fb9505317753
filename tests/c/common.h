/* Helpers shared by the C test hosts in tests/c, built and run by tests/test_c_api.py
 * and tests/test_realtime.py. Each host prints "KEY value" lines that pytest parses. */
#ifndef SMW_TEST_COMMON_H
#define SMW_TEST_COMMON_H
#define _GNU_SOURCE
#include "spatialmw.h"

#include <math.h>
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static inline double t_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static inline void t_sleep_until(double t)
{
    struct timespec ts;
    ts.tv_sec = (time_t)t;
    ts.tv_nsec = (long)((t - (double)ts.tv_sec) * 1e9);
    clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL);
}

static inline int cmp_dbl(const void* a, const void* b)
{
    double x = *(const double*)a, y = *(const double*)b;
    return (x > y) - (x < y);
}

/* sorts v in place */
static inline double percentile(double* v, long n, double p)
{
    if (n <= 0) return 0.0;
    qsort(v, (size_t)n, sizeof(double), cmp_dbl);
    long k = (long)(p * (double)(n - 1) + 0.5);
    return v[k];
}

/* "--tdw-only" anywhere in argv -> corrector off (used while no default model is shipped) */
static inline int want_corrector(int argc, char** argv)
{
    for (int i = 1; i < argc; ++i)
        if (!strcmp(argv[i], "--tdw-only")) return 0;
    return 1;
}

/* "--full-sources N" in argv -> that level of detail (default: the library's) */
static inline int32_t want_full_sources(int argc, char** argv, int32_t dflt)
{
    for (int i = 1; i + 1 < argc; ++i)
        if (!strcmp(argv[i], "--full-sources")) return (int32_t)atoi(argv[i + 1]);
    return dflt;
}

/* "--workers N" in argv -> that many worker threads (default 0) */
static inline int32_t want_workers(int argc, char** argv)
{
    for (int i = 1; i + 1 < argc; ++i)
        if (!strcmp(argv[i], "--workers")) return (int32_t)atoi(argv[i + 1]);
    return 0;
}

/* A renderer for the real-time hosts (default settings but block size, capacity and the
 * --tdw-only, --full-sources and --workers switches); NULL after printing why creation failed. */
static inline smw_renderer* create_renderer(int32_t block, int32_t max_sources, int argc, char** argv)
{
    smw_renderer_settings s = smw_renderer_settings_default();
    s.max_block_frames = block;
    s.max_sources = max_sources;
    s.enable_corrector = want_corrector(argc, argv);
    s.full_sources = want_full_sources(argc, argv, s.full_sources);
    s.worker_threads = want_workers(argc, argv);
    smw_renderer* r = NULL;
    if (smw_renderer_create(&s, &r) != SMW_SUCCESS) printf("create failed: %s\n", smw_last_error(NULL));
    return r;
}

/* Try to give the calling thread real-time priority; returns 1 on success. */
static inline int try_realtime_priority(void)
{
    struct sched_param sp;
    memset(&sp, 0, sizeof sp);
    sp.sched_priority = 80;
    return pthread_setschedparam(pthread_self(), SCHED_FIFO, &sp) == 0;
}

/* deterministic white noise in [-a, a] */
static inline float noise(unsigned* state, float a)
{
    *state = *state * 1664525u + 1013904223u;
    return a * ((float)(*state >> 8) / 8388608.0f - 1.0f);
}
#endif
