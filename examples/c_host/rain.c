/*
 * rain.c -- a thousand emitters through spatialmw's C API: rain on a roof, most of it far
 * away or too quiet to hear, and the virtual voices that make that cheap.
 *
 *   ./rain out.wav [BLOCKS]          (default 500 blocks of 512 frames, 5.3 s at 48 kHz)
 *
 * Build against the SDK (make build/rain does this against build/):
 *   cc rain.c $(pkg-config --cflags --libs spatialmw) -Wl,-rpath,<sdk>/lib -lm
 *
 * 1,000 drip emitters around the listener, each dripping its own decaying noise bursts:
 * 120 close ones (2..12 m), 60 of which are muffled to -90 dB (behind a wall: transmission
 * 3e-5), and 880 beyond their 30 m max_distance (linear distance model: attenuation 0).
 * Every block the game synthesises and writes each audible emitter's 512 samples and
 * renders once (one thread, the game and the audio thread in one loop: the calls'
 * threading rules hold). The 940 inaudible emitters become virtual voices
 * (SMW_SOURCE_STATUS_VIRTUAL): they are not rendered, and while smw_source_is_virtual says
 * so the game neither synthesises their drips nor calls anything for their audio (a
 * virtual voice needs no write: its stream advances by silence, no underrun). Halfway
 * through, the wall opens: the 60 muffled emitters come back, faded in, at their current
 * delay, and the game synthesises them again from the next block.
 *
 * Prints "KEY value" lines: sources, virtual (emitters virtual in the last block),
 * virtual_first_half, skipped (emitter blocks not synthesised), underruns (emitter blocks
 * reported SMW_SOURCE_STATUS_UNDERRUN: none, every audible one is written), block_ms_mean,
 * block_ms_p99 (synthesis + writes + render per block) and block_period_ms, then writes a
 * float32 stereo WAV.
 */
#define _POSIX_C_SOURCE 199309L
#include "spatialmw.h"

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define SAMPLE_RATE 48000
#define BLOCK 512
#define NSRC 1000
#define NEAR_EVERY 25   /* slots i with i % 25 < 3 are close: 120, spread over the slots */
#define MUFFLED 60
#define PI 3.14159265358979323846

typedef struct {
    uint32_t seed;
    float env;      /* the current drip's decaying envelope */
} drip;

static uint32_t lcg(uint32_t* s) { *s = *s * 1664525u + 1013904223u; return *s; }
static float uniform(uint32_t* s) { return (float)(lcg(s) >> 8) / 16777216.0f; }

/* one block of an emitter's signal: a new drip now and then, each a decaying noise burst */
static void drip_block(drip* d, float* out)
{
    for (int i = 0; i < BLOCK; ++i) {
        if (uniform(&d->seed) < 4.0f / SAMPLE_RATE) d->env = 0.3f + 0.2f * uniform(&d->seed);
        out[i] = d->env * (2.0f * uniform(&d->seed) - 1.0f);
        d->env *= 0.9985f;
    }
}

static void put_u32(FILE* f, uint32_t v) { fwrite(&v, 4, 1, f); }
static void put_u16(FILE* f, uint16_t v) { fwrite(&v, 2, 1, f); }

static int write_wav_f32(const char* path, const float* data, long frames)
{
    FILE* f = fopen(path, "wb");
    if (!f) return -1;
    uint32_t data_bytes = (uint32_t)(frames * 2 * 4);
    fwrite("RIFF", 1, 4, f); put_u32(f, 4 + 24 + 8 + data_bytes);
    fwrite("WAVE", 1, 4, f);
    fwrite("fmt ", 1, 4, f); put_u32(f, 16);
    put_u16(f, 3); put_u16(f, 2); put_u32(f, SAMPLE_RATE);
    put_u32(f, SAMPLE_RATE * 2 * 4); put_u16(f, 2 * 4); put_u16(f, 32);
    fwrite("data", 1, 4, f); put_u32(f, data_bytes);
    fwrite(data, 4, (size_t)frames * 2, f);
    return fclose(f) == 0 ? 0 : -1;
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static int cmp_double(const void* a, const void* b)
{
    double x = *(const double*)a, y = *(const double*)b;
    return (x > y) - (x < y);
}

int main(int argc, char** argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: %s out.wav [BLOCKS]\n", argv[0]);
        return 2;
    }
    int blocks = argc > 2 ? atoi(argv[2]) : 500;
    if (blocks < 2) return 2;

    smw_renderer_settings s = smw_renderer_settings_default();
    s.sample_rate = SAMPLE_RATE;
    s.max_block_frames = BLOCK;
    s.max_sources = NSRC;
    s.coordinate_system = SMW_COORDS_NATIVE;
    smw_renderer* r = NULL;
    if (smw_renderer_create(&s, &r) != SMW_SUCCESS) {
        fprintf(stderr, "smw_renderer_create: %s\n", smw_last_error(NULL));
        return 3;
    }
    static smw_source src[NSRC];
    static drip drips[NSRC];
    uint32_t seed = 2024u;
    const float quat[4] = {0.0f, 0.0f, 0.0f, 1.0f};
    for (int i = 0; i < NSRC; ++i) {
        if (smw_source_create(r, &src[i]) != SMW_SUCCESS) {
            fprintf(stderr, "smw_source_create: %s\n", smw_last_error(r));
            return 4;
        }
        int near = i % NEAR_EVERY < 3;
        double az = 2.0 * PI * uniform(&seed), el = 0.5 * uniform(&seed);
        double dist = near ? 2.0 + 10.0 * uniform(&seed) : 40.0 + 160.0 * uniform(&seed);
        float pos[3] = {(float)(dist * cos(az) * cos(el)), (float)(dist * sin(az) * cos(el)),
                        (float)(dist * sin(el))};
        smw_source_set_pose(r, src[i], pos, quat);
        smw_source_set_distance_model(r, src[i], SMW_DISTANCE_LINEAR, 1.0f, 30.0f, 1.0f);
        smw_source_set_gain(r, src[i], 0.15f);
        drips[i].seed = 7919u * (uint32_t)i + 1u;
        drips[i].env = 0.0f;
    }
    int muffled = 0;   /* the first MUFFLED close emitters are behind the wall */
    for (int i = 0; i < NSRC && muffled < MUFFLED; ++i)
        if (i % NEAR_EVERY < 3) {
            smw_source_set_transmission(r, src[i], 3e-5f, 3e-5f, 3e-5f);
            ++muffled;
        }

    float* out = calloc((size_t)blocks * BLOCK * 2, sizeof(float));
    double* times = malloc(sizeof(double) * (size_t)blocks);
    static float mono[BLOCK];
    if (!out || !times) return 5;
    int virtual_now = 0, virtual_first_half = 0;
    long skipped = 0, underruns = 0;
    for (int k = 0; k < blocks; ++k) {
        if (k == blocks / 2)   /* the wall opens */
            for (int i = 0; i < NSRC; ++i) smw_source_set_transmission(r, src[i], 1.0f, 1.0f, 1.0f);
        double t0 = now_s();
        for (int i = 0; i < NSRC; ++i) {
            int32_t is_virtual = 0;
            if (smw_source_is_virtual(r, src[i], &is_virtual) == SMW_SUCCESS && is_virtual) {
                ++skipped;   /* not heard: nothing to synthesise, nothing to call */
                continue;
            }
            drip_block(&drips[i], mono);
            if (smw_source_write(r, src[i], mono, BLOCK) != SMW_SUCCESS) {
                fprintf(stderr, "smw_source_write: %s\n", smw_last_error(r));
                return 6;
            }
        }
        if (smw_render(r, out + (size_t)k * BLOCK * 2, BLOCK) != SMW_SUCCESS) {
            fprintf(stderr, "smw_render: %s\n", smw_last_error(r));
            return 7;
        }
        times[k] = now_s() - t0;
        virtual_now = 0;
        for (int i = 0; i < NSRC; ++i) {
            uint32_t st = 0;
            smw_source_get_status(r, src[i], &st);
            virtual_now += (st & SMW_SOURCE_STATUS_VIRTUAL) != 0;
            underruns += (st & SMW_SOURCE_STATUS_UNDERRUN) != 0;
        }
        if (k == blocks / 2 - 1) virtual_first_half = virtual_now;
    }
    double mean = 0.0;
    for (int k = 0; k < blocks; ++k) mean += times[k] / blocks;
    qsort(times, (size_t)blocks, sizeof(double), cmp_double);
    printf("sources %d\n", NSRC);
    printf("virtual_first_half %d\n", virtual_first_half);
    printf("virtual %d\n", virtual_now);
    printf("skipped %ld\n", skipped);
    printf("underruns %ld\n", underruns);
    printf("block_ms_mean %.4f\n", 1e3 * mean);
    printf("block_ms_p99 %.4f\n", 1e3 * times[(int)(0.99 * (blocks - 1))]);
    printf("block_period_ms %.4f\n", 1e3 * BLOCK / SAMPLE_RATE);
    int rc = write_wav_f32(argv[1], out, (long)blocks * BLOCK);
    smw_renderer_destroy(r);
    free(out);
    free(times);
    return rc == 0 ? 0 : 8;
}
