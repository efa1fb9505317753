/* The C API's defaults, as a game sees them: prints every field of
 * smw_renderer_settings_default(), then renders mono float32 input from a source created
 * with every default (smw_source_create, no setter called) at a given position, with a
 * renderer created from the unmodified default settings. tests/test_c_api.py compares both
 * with the Python Engine's defaults.
 * usage: defaults IN.f32 OUT.f32 x y z   (IN: a multiple of 512 samples; OUT: interleaved stereo) */
#include "common.h"

#define BLOCK 512

int main(int argc, char** argv)
{
    smw_renderer_settings s = smw_renderer_settings_default();
    printf("SIZE %u\nSIZEOF %zu\n", s.size, sizeof s);
    printf("SAMPLE_RATE %d\nMAX_BLOCK_FRAMES %d\nMAX_SOURCES %d\n", s.sample_rate, s.max_block_frames,
           s.max_sources);
    printf("MODEL_PATH_NULL %d\nCOORDINATE_SYSTEM %d\nENABLE_CORRECTOR %d\nCORRECTOR_TABLE_STEP_DEG %.9g\n",
           s.model_path == NULL, s.coordinate_system, s.enable_corrector, (double)s.corrector_table_step_deg);
    printf("HOP_FRAMES %d\nFULL_SOURCES %d\nLOD_HYSTERESIS_DB %.9g\n", s.hop_frames, s.full_sources,
           (double)s.lod_hysteresis_db);
    printf("WORKER_THREADS %d\n", s.worker_threads);
    if (argc < 6) return 0;   /* settings only */

    FILE* in = fopen(argv[1], "rb");
    FILE* out = fopen(argv[2], "wb");
    if (!in || !out) { perror("open"); return 2; }
    const float pos[3] = {(float)atof(argv[3]), (float)atof(argv[4]), (float)atof(argv[5])};
    const float ident[4] = {0, 0, 0, 1};
    smw_renderer* r = NULL;
    smw_source src;
    if (smw_renderer_create(&s, &r) || smw_source_create(r, &src) || smw_source_set_pose(r, src, pos, ident)) {
        printf("setup failed: %s\n", r ? smw_last_error(r) : smw_last_error(NULL));
        return 3;
    }
    static float x[BLOCK], y[2 * BLOCK];
    long blocks = 0;
    while (fread(x, sizeof(float), BLOCK, in) == BLOCK) {
        if (smw_source_write(r, src, x, BLOCK) || smw_render(r, y, BLOCK)) {
            printf("render failed: %s\n", smw_last_error(r));
            return 4;
        }
        fwrite(y, sizeof(float), 2 * BLOCK, out);
        ++blocks;
    }
    fclose(in);
    fclose(out);
    printf("BLOCKS %ld\n", blocks);
    smw_renderer_destroy(r);
    return 0;
}
