/* Relocation host: built from an unpacked SDK alone (pkg-config, CMake or the static
 * library) and run by tests/test_sdk.py under env -i with hostile Python/numba variables and
 * the checkout out of reach. Renders a noise source 2 m to the listener's left and prints
 * each ear's RMS, whether SIGINT still has its default disposition after create, then
 * "READY" and renders until the test's SIGINT ends the process (or 30 s pass: exit 3).
 * usage: reloc_host [model.smwm] */
#include <spatialmw.h>

#include <signal.h>
#include <stdio.h>
#include <math.h>
#include <time.h>

#define BLOCK 512

int main(int argc, char** argv)
{
    smw_renderer_settings s = smw_renderer_settings_default();
    s.max_block_frames = BLOCK;
    s.max_sources = 4;
    s.model_path = argc > 1 ? argv[1] : NULL;
    smw_renderer* r = NULL;
    if (smw_renderer_create(&s, &r) != SMW_SUCCESS) {
        printf("CREATE_FAILED %s\n", smw_last_error(NULL));
        return 1;
    }
    struct sigaction sa;
    sigaction(SIGINT, NULL, &sa);
    printf("SIGINT_DEFAULT %d\n", sa.sa_handler == SIG_DFL);
    smw_source src;
    const float pos[3] = {0.0f, 2.0f, 0.0f}, ident[4] = {0, 0, 0, 1};
    if (smw_source_create(r, &src) || smw_source_set_pose(r, src, pos, ident)) return 2;
    static float x[BLOCK], out[2 * BLOCK];
    unsigned seed = 1;
    double el = 0.0, er = 0.0;
    for (long n = 0; n < 30 * 48000 / BLOCK; ++n) {
        for (int k = 0; k < BLOCK; ++k) {
            seed = seed * 1664525u + 1013904223u;
            x[k] = 0.2f * ((float)(seed >> 8) / 8388608.0f - 1.0f);
        }
        if (smw_source_write(r, src, x, BLOCK) || smw_render(r, out, BLOCK)) return 2;
        if (n >= 10 && n < 100)
            for (int k = 0; k < BLOCK; ++k) { el += out[2 * k] * out[2 * k]; er += out[2 * k + 1] * out[2 * k + 1]; }
        if (n == 100) {
            printf("RMS_L %.6g\nRMS_R %.6g\nREADY\n", sqrt(el / (90.0 * BLOCK)), sqrt(er / (90.0 * BLOCK)));
            fflush(stdout);
        }
        if (n > 100) {
            struct timespec ts = {0, 10000000};
            nanosleep(&ts, NULL);
        }
    }
    smw_renderer_destroy(r);
    return 3;
}
