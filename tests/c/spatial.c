/* For each scenario line of a file -- "coords lx ly lz qx qy qz qw sx sy sz out.f32", the
 * listener pose and a source position in that coordinate system -- create a renderer, render
 * 0.5 s of noise from the source and write the interleaved float32 stereo output (raw).
 * usage: spatial scenarios.txt [--tdw-only] */
#include "common.h"

static int run_one(int coords, const float* v, const char* path, int corrector)
{
    smw_renderer_settings s = smw_renderer_settings_default();
    s.coordinate_system = coords;
    s.max_block_frames = 480;
    s.max_sources = 2;
    s.enable_corrector = corrector;
    smw_renderer* r = NULL;
    if (smw_renderer_create(&s, &r)) { printf("create failed: %s\n", smw_last_error(NULL)); return 1; }
    smw_source src;
    const float ident[4] = {0, 0, 0, 1};
    int bad = 0;
    if (smw_listener_set_pose(r, &v[0], &v[3])) { printf("listener: %s\n", smw_last_error(r)); bad = 1; }
    if (!bad && smw_source_create(r, &src)) bad = 1;
    if (!bad && smw_source_set_pose(r, src, &v[7], ident)) { printf("source: %s\n", smw_last_error(r)); bad = 1; }
    if (!bad) smw_source_set_distance_model(r, src, SMW_DISTANCE_NONE, 1, 1, 1);
    enum { N = 50 };
    static float out[N * 480 * 2];
    float x[480];
    unsigned st = 7;
    for (int b = 0; b < N && !bad; ++b) {
        for (int k = 0; k < 480; ++k) x[k] = noise(&st, 0.5f);
        if (smw_source_write(r, src, x, 480) || smw_render(r, out + b * 960, 480)) {
            printf("render: %s\n", smw_last_error(r));
            bad = 1;
        }
    }
    smw_renderer_destroy(r);
    if (bad) return 1;
    FILE* f = fopen(path, "wb");
    if (!f) return 1;
    fwrite(out, sizeof(float), N * 960, f);
    fclose(f);
    return 0;
}

int main(int argc, char** argv)
{
    if (argc < 2) { fprintf(stderr, "usage: spatial scenarios.txt [--tdw-only]\n"); return 2; }
    FILE* f = fopen(argv[1], "r");
    if (!f) return 2;
    int corrector = want_corrector(argc, argv), coords, n = 0, failed = 0;
    float v[10];
    char path[4096];
    while (fscanf(f, "%d %f %f %f %f %f %f %f %f %f %f %4095s", &coords, &v[0], &v[1], &v[2], &v[3], &v[4],
                  &v[5], &v[6], &v[7], &v[8], &v[9], path) == 12) {
        int rc = run_one(coords, v, path, corrector);
        printf("SCENARIO %d %s %s\n", n++, rc ? "FAIL" : "OK", path);
        failed |= rc;
    }
    fclose(f);
    return failed;
}
