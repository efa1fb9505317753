/*
 * smw_bench -- times spatialmw's C API hot path the way a game drives it.
 *
 *   smw_bench N BLOCKS BLOCK CORRECTOR MODEL_PATH|- WARMUP [FEATURES [HOP [AUDIBLE [FULL [WORKERS [SKIP [FAR]]]]]]]
 *
 * FEATURES is a bit mask of per-source features set on every source, as a game scene
 * would: 1 a directivity cone, 2 transmission through a wall, 4 air absorption, 8 a reverb
 * send with the reverb bus on; 15 is all of them (default 0: the renderer's defaults).
 * HOP is the renderer's hop_frames (256, 128 or 64; default 256).
 * AUDIBLE (default N): that many of the N sources, spread evenly over the slots, play at
 * gain 1; the others at gain 1e-5 (-100 dB, below SMW_VIRTUAL_THRESHOLD): virtual voices
 * whose poses and writes still arrive every block.
 * FULL: the renderer's full_sources (level of detail: that many sources on the full path,
 * the others in the ambisonic bed; 0 = no limit); default: the library's default; -1: the default.
 * WORKERS: the renderer's worker_threads (default 0).
 * SKIP: 1 = the game does not decode the sources smw_source_is_virtual reports virtual,
 * and makes no call for their audio (a virtual voice needs no write); default 0: every
 * source is written every block.
 * FAR: 1 = the inaudible sources are far instead of quiet: at gain 1, circling at 90 m
 * (283 m/s, below the teleport speed) with a linear distance model that reaches zero at
 * 30 m; default 0: at gain 1e-5 on the 2 m circle.
 *
 * Per block (timed): one smw_source_set_pose per source (every source circles the
 * listener at 2 m, 0.5 rev/s, as OpenAL's benchmark does), one smw_source_write per
 * source, one smw_render. Prints "create_s <seconds from smw_renderer_create to the end
 * of the first rendered block>", then one "block <seconds>" line per timed block and one
 * "render <seconds>" line with its smw_render call alone.
 * The game-thread pose calls are included in the timed region, as they are for OpenAL
 * (alSource3f per source). The positions themselves come from a rotation by the block's
 * angle (cos and sin once per block), not a cos and sin per source: a game's own math is
 * not the library's cost.
 */
#define _POSIX_C_SOURCE 199309L
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "spatialmw.h"

#ifndef M_PI
#define M_PI 3.14159265358979323846
#endif

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

int main(int argc, char** argv) {
    if (argc < 7 || argc > 14) {
        fprintf(stderr, "usage: %s N BLOCKS BLOCK CORRECTOR MODEL_PATH|- WARMUP [FEATURES [HOP [AUDIBLE [FULL [WORKERS [SKIP [FAR]]]]]]]\n", argv[0]);
        return 2;
    }
    int features = argc > 7 ? atoi(argv[7]) : 0, hop = argc > 8 ? atoi(argv[8]) : 256;
    int n = atoi(argv[1]), blocks = atoi(argv[2]), block = atoi(argv[3]);
    int corrector = atoi(argv[4]), warmup = atoi(argv[6]);
    const char* model = strcmp(argv[5], "-") == 0 ? NULL : argv[5];
    int audible = argc > 9 ? atoi(argv[9]) : n;
    int skip = argc > 12 ? atoi(argv[12]) : 0;
    int far = argc > 13 ? atoi(argv[13]) : 0;
    if (n < 1 || blocks < 1 || block < 1 || warmup < 0 || audible < 0 || audible > n) return 2;

    float* mono = malloc(sizeof(float) * (size_t)block * 4);
    float* out = malloc(sizeof(float) * 2 * (size_t)block);
    smw_source* src = malloc(sizeof(smw_source) * (size_t)n);
    double* phase_cos = malloc(sizeof(double) * (size_t)n);
    double* phase_sin = malloc(sizeof(double) * (size_t)n);
    if (!mono || !out || !src || !phase_cos || !phase_sin) return 3;
    unsigned int seed = 12345u;
    for (int i = 0; i < 4 * block; i++) {  /* white noise, 0.1 rms-ish */
        seed = seed * 1664525u + 1013904223u;
        mono[i] = 0.1f * ((float)(seed >> 8) / 8388608.0f - 1.0f);
    }
    for (int i = 0; i < n; i++) {   /* the sources start evenly around the listener */
        phase_cos[i] = cos(2.0 * M_PI * (double)i / (double)n);
        phase_sin[i] = sin(2.0 * M_PI * (double)i / (double)n);
    }

    double t_create = now();
    smw_renderer_settings s = smw_renderer_settings_default();
    s.sample_rate = 48000;
    s.max_block_frames = block;
    s.max_sources = n;
    s.model_path = model;
    s.coordinate_system = SMW_COORDS_NATIVE;
    s.enable_corrector = corrector;
    s.hop_frames = hop;
    if (argc > 10 && atoi(argv[10]) >= 0) s.full_sources = atoi(argv[10]);
    if (argc > 11) s.worker_threads = atoi(argv[11]);
    smw_renderer* r = NULL;
    smw_result rc = smw_renderer_create(&s, &r);
    if (rc != SMW_SUCCESS) {
        fprintf(stderr, "smw_renderer_create: %s: %s\n", smw_result_string(rc), smw_last_error(NULL));
        return 4;
    }
    for (int i = 0; i < n; i++) {
        if (smw_source_create(r, &src[i]) != SMW_SUCCESS) {
            fprintf(stderr, "smw_source_create failed: %s\n", smw_last_error(r));
            return 5;
        }
        smw_source_set_distance_model(r, src[i], SMW_DISTANCE_INVERSE_CLAMPED, 1.0f, 1000.0f, 1.0f);
        if (((features & 1) && smw_source_set_cone(r, src[i], 90.0f, 240.0f, 0.3f, 0.5f) != SMW_SUCCESS)
                         || ((features & 2) && smw_source_set_transmission(r, src[i], 0.5f, 0.3f, 0.1f) != SMW_SUCCESS)
                         || ((features & 4) && smw_source_set_air_absorption(r, src[i], 1.0f) != SMW_SUCCESS)
                         || ((features & 8) && smw_source_set_reverb_send(r, src[i], 0.3f) != SMW_SUCCESS)) {
            fprintf(stderr, "feature setter failed: %s\n", smw_last_error(r));
            return 5;
        }
        if ((long)i * audible % n >= audible) {   /* inaudible: quiet, or far */
            if (!far) {
                smw_source_set_gain(r, src[i], 1e-5f);
            } else {
                smw_source_set_distance_model(r, src[i], SMW_DISTANCE_LINEAR, 1.0f, 30.0f, 1.0f);
                phase_cos[i] *= 45.0;
                phase_sin[i] *= 45.0;
            }
        }
    }
    if (features & 8) {
        smw_reverb_settings rv = smw_reverb_settings_default();   /* wet gain 1: the bus is on */
        if (smw_renderer_set_reverb(r, &rv) != SMW_SUCCESS) {
            fprintf(stderr, "smw_renderer_set_reverb: %s\n", smw_last_error(r));
            return 5;
        }
    }
    const float quat[4] = {0.0f, 0.0f, 0.0f, 1.0f};
    const double w = 2.0 * M_PI * 0.5 * (double)block / 48000.0;  /* 0.5 rev/s */
    for (int k = 0; k < warmup + blocks; k++) {
        double t0 = now();
        double ck = 2.0 * cos(w * (double)k), sk = 2.0 * sin(w * (double)k);
        for (int i = 0; i < n; i++) {   /* 2 (cos, sin)(phase + w k) */
            float pos[3] = {(float)(ck * phase_cos[i] - sk * phase_sin[i]),
                            (float)(sk * phase_cos[i] + ck * phase_sin[i]), 0.0f};
            smw_source_set_pose(r, src[i], pos, quat);
        }
        for (int i = 0; i < n; i++) {
            int off = ((k + i) & 3) * block / 4;
            int32_t is_virtual = 0;
            if (skip && smw_source_is_virtual(r, src[i], &is_virtual) == SMW_SUCCESS && is_virtual)
                continue;
            rc = smw_source_write(r, src[i], mono + off, block);
            if (rc != SMW_SUCCESS) { fprintf(stderr, "write: %s\n", smw_result_string(rc)); return 6; }
        }
        double tr = now();
        rc = smw_render(r, out, block);
        if (rc != SMW_SUCCESS) { fprintf(stderr, "render: %s\n", smw_result_string(rc)); return 7; }
        double t1 = now();
        if (k == 0) printf("create_s %.6f\n", t1 - t_create);
        if (k >= warmup) printf("block %.9f\nrender %.9f\n", t1 - t0, t1 - tr);
    }
    double peak = 0.0;
    for (int i = 0; i < 2 * block; i++) peak = fmax(peak, fabs((double)out[i]));
    printf("peak %.6f\n", peak);
    smw_renderer_destroy(r);
    free(mono); free(out); free(src); free(phase_cos); free(phase_sin);
    return 0;
}
