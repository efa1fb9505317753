/*
 * game_loop.c -- a minimal "game" driving spatialmw from C.
 *
 *   ./c_host out.wav [--fast] [--seconds S] [--tdw-only] [--model PATH.smwm] [--solo voice|footsteps]
 *
 * Build against the SDK (make demo does this against build/, the unpacked SDK's layout):
 *   cc game_loop.c $(pkg-config --cflags --libs spatialmw) -Wl,-rpath,<sdk>/lib -lpthread -lm
 * or with CMake: find_package(spatialmw) + target_link_libraries(c_host spatialmw::spatialmw).
 *
 * - Game thread, 60 Hz: 16 sources orbit the listener (radii 1.5..6 m, different speeds
 *   and heights) and the listener turns slowly; poses go through smw_*_set_pose
 *   (Unity coordinates: +x right, +y up, +z forward, to exercise the conversion).
 *   Every 0.25 s it also fires a one-shot (a 3 s decaying knock) somewhere around the
 *   listener; the renderer has room for 8 of them (max_sources 24), so when all 8 are
 *   playing it steals the oldest voice: smw_source_destroy then smw_source_create in the
 *   same tick (the slot is reusable at once).
 * - A room: the renderer's reverb bus is on (smw_renderer_set_reverb, RT60 1.6 s). A voice
 *   talks from 0.5 s to 7 s, 1.8 m ahead-left, facing the listener with a directivity cone
 *   (smw_source_set_cone) and a strong reverb send (smw_source_set_reverb_send); after it
 *   stops, the room's tail is heard.
 * - Footsteps walk past 5 m ahead, left to right, behind a wall (3 m ahead, 4 m wide): each
 *   tick the game intersects the line of sight with the wall and sets the walker's
 *   transmission (smw_source_set_transmission) from unoccluded to a wall's 0.3 / 0.1 / 0.03
 *   (low / mid / high bands), partially at the wall's edges; air absorption is on.
 * - --solo voice|footsteps writes silence for every other source (everything still runs),
 *   so a test can measure one effect on the WAV.
 * - Audio thread: every 512 frames at 48 kHz it synthesises the 16 orbiting signals, the
 *   voice, the footsteps and the live one-shots, calls smw_source_write for each and
 *   smw_render once, and appends
 *   the stereo block to a buffer written to a float32 WAV file at the end. A write with a
 *   handle the game thread has just stolen fails with SMW_ERROR_INVALID_HANDLE, which is
 *   expected there: the audio thread checks whether the voice changed before counting it.
 *
 * Timing: by default the audio thread is PACED IN REAL TIME like a device callback: block n
 * starts at t0 + n * 10.667 ms (absolute clock_nanosleep); a deadline miss is a block whose
 * work (16 writes + render) finishes after t0 + (n + 1) * period. With --fast it runs as fast
 * as it can (no sleeping) and a miss is a block whose work took longer than one period.
 * Either way it prints the per-block work time p50 / p99 / max and the miss count.
 * The game thread derives motion from the audio clock, so the WAV is the same in both modes.
 */
#define _GNU_SOURCE
#include "spatialmw.h"

#include <math.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define SAMPLE_RATE 48000
#define BLOCK 512
#define NSRC 16
#define SHOTS 8            /* one-shot voices the renderer has room for */
#define SHOT_EVERY_S 0.25
#define SHOT_SECONDS 3.0
#define PI 3.14159265358979323846
/* the room: a voice that stops, footsteps behind a wall (Unity coordinates, metres) */
#define VOICE_START_S 0.5
#define VOICE_END_S 7.0
#define REVERB_DECAY_S 1.6f
#define VOICE_SEND 0.5f
#define WALK_X0 (-6.0)      /* the walker goes from x = -6 to +6 m at z = WALK_Z over WALK_S */
#define WALK_Z 5.0
#define WALK_S 10.0
#define STEP_EVERY_S 0.5
#define WALL_Z 3.0          /* the wall: z = 3 m, x in [-WALL_HALF, WALL_HALF] */
#define WALL_HALF 2.0
#define WALL_EDGE 0.2       /* partial occlusion within this distance of the wall's edge */
static const float k_wall[3] = {0.3f, 0.1f, 0.03f};   /* low / mid / high transmission */

static smw_renderer* g_r;
static smw_source g_src[NSRC];
/* one-shot voices: the game thread owns them, the audio thread reads handle and start */
static _Atomic smw_source g_shot[SHOTS];        /* SMW_SOURCE_INVALID: free */
static _Atomic long long g_shot_start[SHOTS];   /* audio frame the voice started at */
static atomic_long g_steals, g_shots;
static atomic_llong g_frames_done;   /* audio clock, read by the game thread */
static atomic_int g_stop;
static int g_fast;
static smw_source g_voice, g_steps;
static int g_solo;            /* 0: everything; 1: only the voice; 2: only the footsteps */

static double walker_x(double t) { return WALK_X0 + 2.0 * -WALK_X0 * fmin(t / WALK_S, 1.0); }

/* 0 (in the open) .. 1 (behind the wall): where the listener-to-walker line crosses the
 * wall's plane, linear across WALL_EDGE at its edges (listener at x = z = 0) */
static double occlusion(double t)
{
    double cross = fabs(walker_x(t)) * WALL_Z / WALK_Z;
    return fmin(1.0, fmax(0.0, (WALL_HALF + WALL_EDGE / 2 - cross) / WALL_EDGE));
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static void yaw_quat_unity(double yaw_rad, float q[4])
{
    /* Unity: rotation about +y (up). Positive yaw in Unity turns right (left-handed). */
    q[0] = 0.0f;
    q[1] = (float)sin(yaw_rad / 2);
    q[2] = 0.0f;
    q[3] = (float)cos(yaw_rad / 2);
}

static void* game_thread(void* arg)
{
    (void)arg;
    long ticks = 0, errors = 0;
    while (!atomic_load(&g_stop)) {
        double t = (double)atomic_load(&g_frames_done) / SAMPLE_RATE;
        float q[4];
        yaw_quat_unity(0.35 * t, q);          /* listener turns ~20 deg/s */
        const float lp[3] = {0.0f, 1.7f, 0.0f};
        if (smw_listener_set_pose(g_r, lp, q) != SMW_SUCCESS) ++errors;
        for (int i = 0; i < NSRC; ++i) {
            double radius = 1.5 + 0.3 * i;
            double w = (i % 2 ? -1.0 : 1.0) * (0.3 + 0.07 * i);
            double a = w * t + 2.0 * PI * i / NSRC;
            float p[3] = {(float)(radius * cos(a)), (float)(1.7 + 0.8 * sin(0.5 * t + i)),
                          (float)(radius * sin(a))};
            const float ident[4] = {0, 0, 0, 1};
            if (smw_source_set_pose(g_r, g_src[i], p, ident) != SMW_SUCCESS) ++errors;
        }
        /* the walker: position, and the wall's transmission from the line of sight */
        {
            const float p[3] = {(float)walker_x(t), 0.1f, (float)WALK_Z};
            const float ident[4] = {0, 0, 0, 1};
            float o = (float)occlusion(t), tr[3];
            for (int b = 0; b < 3; ++b) tr[b] = 1.0f + o * (k_wall[b] - 1.0f);
            if (smw_source_set_pose(g_r, g_steps, p, ident) != SMW_SUCCESS) ++errors;
            if (smw_source_set_transmission(g_r, g_steps, tr[0], tr[1], tr[2]) != SMW_SUCCESS) ++errors;
        }
        /* one-shots: finished ones go; a new one every SHOT_EVERY_S, stealing the oldest */
        long long now_frame = atomic_load(&g_frames_done);
        int free_voice = -1, oldest = 0;
        for (int k = 0; k < SHOTS; ++k) {
            smw_source h = atomic_load(&g_shot[k]);
            long long start = atomic_load(&g_shot_start[k]);
            if (h != SMW_SOURCE_INVALID && now_frame - start > (long long)(SHOT_SECONDS * SAMPLE_RATE)) {
                atomic_store(&g_shot[k], SMW_SOURCE_INVALID);
                if (smw_source_destroy(g_r, h) != SMW_SUCCESS) ++errors;
                h = SMW_SOURCE_INVALID;
            }
            if (h == SMW_SOURCE_INVALID) free_voice = k;
            else if (start < atomic_load(&g_shot_start[oldest]) || atomic_load(&g_shot[oldest]) == SMW_SOURCE_INVALID)
                oldest = k;
        }
        if (t >= SHOT_EVERY_S * (double)atomic_load(&g_shots)) {
            int k = free_voice;
            if (k < 0) {   /* all voices busy: steal the oldest, destroy then create in this tick */
                k = oldest;
                smw_source old = atomic_exchange(&g_shot[k], SMW_SOURCE_INVALID);
                if (smw_source_destroy(g_r, old) != SMW_SUCCESS) ++errors;
                atomic_fetch_add(&g_steals, 1);
            }
            smw_source h;
            if (smw_source_create(g_r, &h) == SMW_SUCCESS) {
                long n = atomic_fetch_add(&g_shots, 1);
                const float p[3] = {(float)(3.0 * cos(2.4 * n)), 1.0f, (float)(3.0 * sin(2.4 * n))};
                const float ident[4] = {0, 0, 0, 1};
                smw_source_set_pose(g_r, h, p, ident);
                atomic_store(&g_shot_start[k], now_frame);
                atomic_store(&g_shot[k], h);
            } else {
                ++errors;
                fprintf(stderr, "one-shot: %s\n", smw_last_error(g_r));
            }
        }
        ++ticks;
        struct timespec ts = {0, g_fast ? 1000000L : 16666667L};
        nanosleep(&ts, NULL);
    }
    if (errors) fprintf(stderr, "game thread: %ld pose updates failed\n", errors);
    return (void*)(intptr_t)ticks;
}

typedef struct {
    long nblocks;
    float* out;        /* nblocks * BLOCK * 2 */
    double* work_ms;   /* per block */
    long misses;
    long errors;
    int realtime;      /* SCHED_FIFO obtained */
} audio_job;

static void* audio_thread(void* arg)
{
    audio_job* job = (audio_job*)arg;
    /* like a device callback thread: ask for SCHED_FIFO (ignored when not permitted) */
    struct sched_param sp;
    memset(&sp, 0, sizeof sp);
    sp.sched_priority = 80;
    job->realtime = pthread_setschedparam(pthread_self(), SCHED_FIFO, &sp) == 0;
    static float mono[NSRC][BLOCK], shot[BLOCK], voice[BLOCK], steps[BLOCK];
    double phase[NSRC] = {0}, vphase = 0.0, vlp = 0.0;
    unsigned noise = 1, step_noise = 7;
    const float others = g_solo ? 0.0f : 1.0f, voice_on = g_solo == 2 ? 0.0f : 1.0f,
                steps_on = g_solo == 1 ? 0.0f : 1.0f;
    const double period = (double)BLOCK / SAMPLE_RATE;
    struct timespec next;
    clock_gettime(CLOCK_MONOTONIC, &next);
    double t0 = now_s();
    for (long n = 0; n < job->nblocks; ++n) {
        if (!g_fast) {
            double target = t0 + n * period;
            time_t sec = (time_t)target;
            next.tv_sec = sec;
            next.tv_nsec = (long)((target - (double)sec) * 1e9);
            clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &next, NULL);
        }
        double start = now_s();
        long long frame0 = (long long)n * BLOCK;
        for (int i = 0; i < NSRC; ++i) {
            double f = 110.0 * pow(2.0, i / 4.0);                 /* 110 Hz .. ~1.6 kHz */
            double rate = 1.5 + 0.25 * i;                          /* pulses per second */
            for (int k = 0; k < BLOCK; ++k) {
                double tt = (double)(frame0 + k) / SAMPLE_RATE;
                double env = 0.5 + 0.5 * sin(2 * PI * rate * tt);
                phase[i] += 2 * PI * f / SAMPLE_RATE;
                if (phase[i] > 2 * PI) phase[i] -= 2 * PI;
                mono[i][k] = others * (float)(0.08 * env * env * (sin(phase[i]) + 0.3 * sin(3 * phase[i])));
            }
            if (smw_source_write(g_r, g_src[i], mono[i], BLOCK) != SMW_SUCCESS) ++job->errors;
        }
        /* the voice: a 24-harmonic buzz (closed-form sum) at ~140 Hz with vibrato, gently
         * low-passed, in syllables of 3.5 per second, between VOICE_START_S and VOICE_END_S */
        for (int k = 0; k < BLOCK; ++k) {
            double tt = (double)(frame0 + k) / SAMPLE_RATE;
            double f0 = 140.0 + 12.0 * sin(2 * PI * 3.0 * tt);
            vphase = fmod(vphase + 2 * PI * f0 / SAMPLE_RATE, 2 * PI);
            double den = sin(vphase / 2);
            double buzz = fabs(den) < 1e-9 ? 0.0 : sin(12.0 * vphase) * sin(12.5 * vphase) / den / 24.0;
            vlp += 0.35 * (buzz - vlp);
            double syl = 0.5 + 0.5 * sin(2 * PI * 3.5 * tt);
            double gate = fmin(1.0, fmax(0.0, fmin(tt - VOICE_START_S, VOICE_END_S - tt) / 0.02));
            voice[k] = voice_on * (float)(0.25 * gate * syl * syl * vlp);
        }
        if (smw_source_write(g_r, g_voice, voice, BLOCK) != SMW_SUCCESS) ++job->errors;
        /* footsteps: a broadband thump (30 ms decay) every STEP_EVERY_S */
        for (int k = 0; k < BLOCK; ++k) {
            long long age = (frame0 + k) % (long long)(STEP_EVERY_S * SAMPLE_RATE);
            step_noise = step_noise * 1664525u + 1013904223u;
            double env = exp(-(double)age / (0.03 * SAMPLE_RATE));
            steps[k] = steps_on * (float)(0.4 * env * ((double)(step_noise >> 8) / 8388608.0 - 1.0));
        }
        if (smw_source_write(g_r, g_steps, steps, BLOCK) != SMW_SUCCESS) ++job->errors;
        for (int k = 0; k < SHOTS; ++k) {
            smw_source h = atomic_load(&g_shot[k]);
            if (h == SMW_SOURCE_INVALID) continue;
            long long age = frame0 - atomic_load(&g_shot_start[k]);
            for (int j = 0; j < BLOCK; ++j) {
                noise = noise * 1664525u + 1013904223u;
                double env = exp(-(double)(age + j) / (0.08 * SAMPLE_RATE));
                shot[j] = others * (float)(0.15 * env * ((double)(noise >> 8) / 8388608.0 - 1.0));
            }
            smw_result wr = smw_source_write(g_r, h, shot, BLOCK);
            /* stolen or finished by the game thread since the load: expected, not an error */
            if (wr != SMW_SUCCESS && !(wr == SMW_ERROR_INVALID_HANDLE && atomic_load(&g_shot[k]) != h)) ++job->errors;
        }
        if (smw_render(g_r, job->out + (size_t)n * BLOCK * 2, BLOCK) != SMW_SUCCESS) ++job->errors;
        double end = now_s();
        job->work_ms[n] = (end - start) * 1e3;
        if (g_fast ? (end - start > period) : (end > t0 + (n + 1) * period)) ++job->misses;
        atomic_store(&g_frames_done, frame0 + BLOCK);
    }
    return NULL;
}

static int cmp_double(const void* a, const void* b)
{
    double x = *(const double*)a, y = *(const double*)b;
    return (x > y) - (x < y);
}

static void put_u32(FILE* f, uint32_t v) { fwrite(&v, 4, 1, f); }
static void put_u16(FILE* f, uint16_t v) { fwrite(&v, 2, 1, f); }

static int write_wav_f32(const char* path, const float* data, long frames, int channels, int rate)
{
    FILE* f = fopen(path, "wb");
    if (!f) return -1;
    uint32_t data_bytes = (uint32_t)(frames * channels * 4);
    fwrite("RIFF", 1, 4, f); put_u32(f, 4 + 26 + 12 + 8 + data_bytes);
    fwrite("WAVE", 1, 4, f);
    fwrite("fmt ", 1, 4, f); put_u32(f, 18);
    put_u16(f, 3); put_u16(f, (uint16_t)channels); put_u32(f, (uint32_t)rate);
    put_u32(f, (uint32_t)(rate * channels * 4)); put_u16(f, (uint16_t)(channels * 4)); put_u16(f, 32);
    put_u16(f, 0);
    fwrite("fact", 1, 4, f); put_u32(f, 4); put_u32(f, (uint32_t)frames);
    fwrite("data", 1, 4, f); put_u32(f, data_bytes);
    fwrite(data, 4, (size_t)frames * channels, f);
    return fclose(f) == 0 ? 0 : -1;
}

int main(int argc, char** argv)
{
    const char* path = NULL;
    double seconds = 10.0;
    int tdw_only = 0;
    const char* model = NULL;   /* NULL: the shipped default model */
    for (int i = 1; i < argc; ++i) {
        if (!strcmp(argv[i], "--fast")) g_fast = 1;
        else if (!strcmp(argv[i], "--tdw-only")) tdw_only = 1;
        else if (!strcmp(argv[i], "--model") && i + 1 < argc) model = argv[++i];
        else if (!strcmp(argv[i], "--seconds") && i + 1 < argc) seconds = atof(argv[++i]);
        else if (!strcmp(argv[i], "--solo") && i + 1 < argc) {
            ++i;
            g_solo = !strcmp(argv[i], "voice") ? 1 : !strcmp(argv[i], "footsteps") ? 2 : -1;
            if (g_solo < 0) { fprintf(stderr, "--solo takes voice or footsteps\n"); return 2; }
        }
        else path = argv[i];
    }
    if (!path) {
        fprintf(stderr, "usage: %s out.wav [--fast] [--seconds S] [--tdw-only] [--model PATH] "
                "[--solo voice|footsteps]\n", argv[0]);
        return 2;
    }
    uint32_t v = smw_get_version();
    printf("spatialmw %u.%u.%u (header %u.%u.%u)\n", SMW_VERSION_GET_MAJOR(v), SMW_VERSION_GET_MINOR(v),
           SMW_VERSION_GET_PATCH(v), SMW_VERSION_MAJOR, SMW_VERSION_MINOR, SMW_VERSION_PATCH);

    smw_renderer_settings s = smw_renderer_settings_default();
    s.sample_rate = SAMPLE_RATE;
    s.max_block_frames = BLOCK;
    s.max_sources = NSRC + SHOTS + 2;   /* + the voice and the footsteps */
    s.coordinate_system = SMW_COORDS_UNITY;
    s.enable_corrector = !tdw_only;
    s.model_path = model;
    double c0 = now_s();
    smw_result rc = smw_renderer_create(&s, &g_r);
    double create_s = now_s() - c0;
    if (rc != SMW_SUCCESS) {
        fprintf(stderr, "smw_renderer_create failed: %s\n  %s\n", smw_result_string(rc), smw_last_error(NULL));
        return 1;
    }
    int32_t latency = 0;
    smw_renderer_get_latency(g_r, &latency);
    printf("renderer created in %.3f s; latency %d frames (%.2f ms)\n", create_s, latency,
           1e3 * latency / SAMPLE_RATE);

    for (int i = 0; i < NSRC; ++i) {
        if ((rc = smw_source_create(g_r, &g_src[i])) != SMW_SUCCESS) {
            fprintf(stderr, "smw_source_create: %s\n", smw_last_error(g_r));
            return 1;
        }
        smw_source_set_distance_model(g_r, g_src[i], SMW_DISTANCE_INVERSE_CLAMPED, 1.0f, 100.0f, 1.0f);
        smw_source_set_doppler(g_r, g_src[i], 1);
        smw_source_set_reverb_send(g_r, g_src[i], 0.1f);   /* the orbiters are in the room too */
    }
    /* the room: the reverb bus, a voice facing the listener, footsteps behind a wall. The
     * walker is outside the room, so it has no reverb send (a send is taken before the
     * transmission: an occluded source with a send would still excite the room fully). */
    smw_reverb_settings room = smw_reverb_settings_default();
    room.decay_time_s = REVERB_DECAY_S;
    room.hf_decay_ratio = 0.6f;
    room.wet_gain = 0.8f;
    const float voice_pos[3] = {-1.0f, 1.7f, 1.5f};
    /* Unity yaw about +y turns the forward axis (+z) towards +x: face the listener at the origin */
    float voice_q[4];
    yaw_quat_unity(atan2(-voice_pos[0], -voice_pos[2]), voice_q);
    if (smw_renderer_set_reverb(g_r, &room) != SMW_SUCCESS || smw_source_create(g_r, &g_voice) != SMW_SUCCESS
        || smw_source_set_pose(g_r, g_voice, voice_pos, voice_q) != SMW_SUCCESS
        || smw_source_set_cone(g_r, g_voice, 90.0f, 240.0f, 0.4f, 0.3f) != SMW_SUCCESS
        || smw_source_set_reverb_send(g_r, g_voice, VOICE_SEND) != SMW_SUCCESS
        || smw_source_create(g_r, &g_steps) != SMW_SUCCESS
        || smw_source_set_air_absorption(g_r, g_steps, 1.0f) != SMW_SUCCESS) {
        fprintf(stderr, "room setup: %s\n", smw_last_error(g_r));
        return 1;
    }
    /* when the walker is fully behind the wall (the game thread's occlusion() == 1) */
    double hidden_from = -1.0, hidden_to = -1.0;
    for (int k = 0; k <= 1000; ++k) {
        double t = WALK_S * k / 1000.0;
        if (occlusion(t) >= 1.0) { if (hidden_from < 0) hidden_from = t; hidden_to = t; }
    }
    printf("room: reverb RT60 %.2f s; voice from %.2f s to %.2f s, reverb send %.2f\n", REVERB_DECAY_S,
           VOICE_START_S, VOICE_END_S, VOICE_SEND);
    printf("footsteps behind the wall from %.2f s to %.2f s (transmission %.2f / %.2f / %.2f)\n",
           hidden_from, hidden_to, k_wall[0], k_wall[1], k_wall[2]);

    audio_job job;
    memset(&job, 0, sizeof job);
    job.nblocks = (long)ceil(seconds * SAMPLE_RATE / BLOCK);
    job.out = (float*)calloc((size_t)job.nblocks * BLOCK * 2, sizeof(float));
    job.work_ms = (double*)calloc((size_t)job.nblocks, sizeof(double));
    if (!job.out || !job.work_ms) return 1;

    pthread_t gt, at;
    pthread_create(&gt, NULL, game_thread, NULL);
    { struct timespec ts = {0, 20000000L}; nanosleep(&ts, NULL); }   /* first poses published */
    double w0 = now_s();
    pthread_create(&at, NULL, audio_thread, &job);
    pthread_join(at, NULL);
    double wall = now_s() - w0;
    atomic_store(&g_stop, 1);
    void* ticks;
    pthread_join(gt, &ticks);

    for (int i = 0; i < NSRC; ++i) smw_source_destroy(g_r, g_src[i]);
    smw_source_destroy(g_r, g_voice);
    smw_source_destroy(g_r, g_steps);
    for (int k = 0; k < SHOTS; ++k)
        if (g_shot[k] != SMW_SOURCE_INVALID) smw_source_destroy(g_r, g_shot[k]);
    smw_renderer_destroy(g_r);
    g_r = NULL;

    qsort(job.work_ms, (size_t)job.nblocks, sizeof(double), cmp_double);
    double p50 = job.work_ms[job.nblocks / 2];
    double p99 = job.work_ms[(long)(job.nblocks * 0.99)];
    double mx = job.work_ms[job.nblocks - 1];
    double peak = 0.0;
    long nonfinite = 0;
    for (long k = 0; k < job.nblocks * BLOCK * 2; ++k) {
        if (!isfinite(job.out[k])) ++nonfinite;
        else if (fabs(job.out[k]) > peak) peak = fabs(job.out[k]);
    }
    printf("mode: %s; %ld blocks of %d frames @ %d Hz (period %.2f ms), %d sources + voice + footsteps, "
           "wall %.2f s, %ld game ticks\n", g_fast ? "fast (unpaced)" : "paced in real time", job.nblocks, BLOCK,
           SAMPLE_RATE, 1e3 * BLOCK / SAMPLE_RATE, NSRC, wall, (long)(intptr_t)ticks);
    printf("audio thread SCHED_FIFO: %s\n", job.realtime ? "yes" : "no (normal priority)");
    printf("block work (18-26 writes + render): p50 %.3f ms  p99 %.3f ms  max %.3f ms  deadline misses %ld\n",
           p50, p99, mx, job.misses);
    printf("one-shots %ld, of which %ld stole the oldest voice\n", (long)atomic_load(&g_shots),
           (long)atomic_load(&g_steals));
    printf("api errors %ld; output peak %.4f; non-finite samples %ld\n", job.errors, peak, nonfinite);
    if (write_wav_f32(path, job.out, job.nblocks * BLOCK, 2, SAMPLE_RATE) != 0) {
        fprintf(stderr, "cannot write %s\n", path);
        return 1;
    }
    printf("wrote %s\n", path);
    free(job.out);
    free(job.work_ms);
    return (job.errors == 0 && nonfinite == 0) ? 0 : 1;
}
