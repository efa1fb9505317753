/* Drives the C API from a script written by tests/test_parity.py (the same scene the
 * Python Scene renders) and writes the interleaved float32 output.
 * Script (little-endian): int32 sample_rate, max_block, n_sources, n_blocks, corrector;
 * per source: float32 gain, min_distance, max_distance, rolloff; int32 distance_model,
 * doppler, spatialize; per block: int32 frames; float32 listener pos[3] quat[4] vel[3];
 * per source: float32 pos[3] vel[3]; int32 n; float32 samples[n] (Scene.engine_blocks:
 * positions at the block's start, velocities of the block's chord). */
#include "common.h"

static int rd(FILE* f, void* p, size_t n) { return fread(p, 1, n, f) == n; }

int main(int argc, char** argv)
{
    if (argc < 3) { fprintf(stderr, "usage: parity SCRIPT OUT\n"); return 2; }
    FILE* f = fopen(argv[1], "rb");
    FILE* o = fopen(argv[2], "wb");
    if (!f || !o) { perror("open"); return 2; }
    int32_t hdr[5];
    if (!rd(f, hdr, sizeof hdr)) return 3;
    smw_renderer_settings s = smw_renderer_settings_default();
    s.sample_rate = hdr[0];
    s.max_block_frames = hdr[1];
    s.max_sources = hdr[2];
    s.enable_corrector = hdr[4];
    smw_renderer* r = NULL;
    if (smw_renderer_create(&s, &r) != SMW_SUCCESS) {
        fprintf(stderr, "create: %s\n", smw_last_error(NULL));
        return 4;
    }
    int32_t ns = hdr[2];
    smw_source* src = calloc((size_t)ns, sizeof *src);
    float* buf = malloc(sizeof(float) * (size_t)hdr[1]);
    float* out = malloc(sizeof(float) * 2 * (size_t)hdr[1]);
    for (int32_t i = 0; i < ns; ++i) {
        float p[4];
        int32_t q[3];
        if (!rd(f, p, sizeof p) || !rd(f, q, sizeof q)) return 3;
        if (smw_source_create(r, &src[i]) || smw_source_set_gain(r, src[i], p[0]) ||
            smw_source_set_distance_model(r, src[i], q[0], p[1], p[2], p[3]) ||
            smw_source_set_doppler(r, src[i], q[1]) || smw_source_set_spatialize(r, src[i], q[2])) {
            fprintf(stderr, "source setup: %s\n", smw_last_error(r));
            return 5;
        }
    }
    const float ident[4] = {0, 0, 0, 1};
    for (int32_t b = 0; b < hdr[3]; ++b) {
        int32_t frames;
        float lis[10];
        if (!rd(f, &frames, 4) || !rd(f, lis, sizeof lis)) return 3;
        if (smw_listener_set_pose(r, lis, lis + 3) || smw_listener_set_velocity(r, lis + 7)) {
            fprintf(stderr, "listener: %s\n", smw_last_error(r));
            return 6;
        }
        for (int32_t i = 0; i < ns; ++i) {
            float pos[6];
            int32_t n;
            if (!rd(f, pos, sizeof pos) || !rd(f, &n, 4) || n > hdr[1] || !rd(f, buf, sizeof(float) * (size_t)n)) return 3;
            if (smw_source_set_pose(r, src[i], pos, ident) || smw_source_set_velocity(r, src[i], pos + 3)) {
                fprintf(stderr, "pose: %s\n", smw_last_error(r));
                return 6;
            }
            if (n > 0 && smw_source_write(r, src[i], buf, n)) { fprintf(stderr, "write: %s\n", smw_last_error(r)); return 7; }
        }
        if (smw_render(r, out, frames)) { fprintf(stderr, "render: %s\n", smw_last_error(r)); return 8; }
        fwrite(out, sizeof(float), 2 * (size_t)frames, o);
    }
    fclose(o);
    smw_renderer_destroy(r);
    printf("BLOCKS %d\n", hdr[3]);
    return 0;
}
