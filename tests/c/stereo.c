/* Stereo sources from C (tests/test_stereo.py): the result codes of the stereo calls, the
 * slots a stereo source takes, and a rendering to compare with the Python Engine's.
 *
 * usage: stereo IN OUT WIDTH   IN: int32 frames, then 2 x frames interleaved float32 (L, R);
 * one stereo source 2 m in front of the listener (distance model none), 512-frame blocks,
 * the output (interleaved float32, frames + 512 frames of tail) written to OUT.
 * Prints "RESULT name code" lines and "STATUS bits". */
#include "common.h"

enum { BLOCK = 512 };

static void result(const char* name, smw_result rc) { printf("RESULT %s %d\n", name, (int)rc); }

static void check_calls(void)
{
    /* three slots: one stereo source (two) and one mono (one) fill them */
    smw_renderer_settings s = smw_renderer_settings_default();
    s.max_block_frames = BLOCK;
    s.max_sources = 3;
    s.enable_corrector = 0;
    smw_renderer* r = NULL;
    if (smw_renderer_create(&s, &r) != SMW_SUCCESS) { fprintf(stderr, "create: %s\n", smw_last_error(NULL)); exit(4); }
    smw_source st = 0, mono = 0, other = 0;
    result("width_nan", smw_source_create_stereo(r, NAN, &st));
    result("width_negative", smw_source_create_stereo(r, -1.0f, &st));
    result("width_above_180", smw_source_create_stereo(r, 180.5f, &st));
    result("width_null_out", smw_source_create_stereo(r, 60.0f, NULL));
    result("width_180", smw_source_create_stereo(r, 180.0f, &st));
    smw_source_destroy(r, st);
    result("create_stereo", smw_source_create_stereo(r, 60.0f, &st));
    result("create_mono_third_slot", smw_source_create(r, &mono));
    result("create_stereo_full", smw_source_create_stereo(r, 60.0f, &other));
    result("create_mono_full", smw_source_create(r, &other));
    smw_source_destroy(r, mono);
    result("create_stereo_one_slot_free", smw_source_create_stereo(r, 60.0f, &other));
    result("create_mono_after_refused_stereo", smw_source_create(r, &mono));   /* the refused one gave its slot back */
    float block[2 * BLOCK] = {0};
    result("write_mono_to_stereo", smw_source_write(r, st, block, BLOCK));
    result("write_stereo_to_mono", smw_source_write_stereo(r, mono, block, BLOCK));
    result("width_on_mono", smw_source_set_stereo_width(r, mono, 30.0f));
    result("width_nan_set", smw_source_set_stereo_width(r, st, NAN));
    result("width_above_180_set", smw_source_set_stereo_width(r, st, 181.0f));
    result("width_ok_set", smw_source_set_stereo_width(r, st, 90.0f));
    result("write_stereo_null", smw_source_write_stereo(r, st, NULL, BLOCK));
    result("write_stereo_frames_zero", smw_source_write_stereo(r, st, block, 0));
    /* three voices are live (the stereo source's two and the mono one), but only the two
     * handles issued are accepted: the right voice's slot has no usable handle (indices
     * past the 3 + 4 spare slots are refused too) */
    int accepted = 0;
    for (uint32_t gen = 0; gen < 16; ++gen)
        for (uint32_t idx = 1; idx <= 16; ++idx) {
            uint32_t bits;
            accepted += smw_source_get_status(r, (gen << 16) | idx, &bits) == SMW_SUCCESS;
        }
    printf("ACCEPTED_HANDLES %d\n", accepted);
    result("write_stereo_ok", smw_source_write_stereo(r, st, block, BLOCK));
    float out[2 * BLOCK];
    smw_render(r, out, BLOCK);
    /* destroying a stereo source frees both slots */
    result("destroy_stereo", smw_source_destroy(r, st));
    result("destroy_stereo_twice", smw_source_destroy(r, st));
    smw_source a = 0, b = 0;
    result("create_mono_after_destroy_1", smw_source_create(r, &a));
    result("create_mono_after_destroy_2", smw_source_create(r, &b));
    smw_renderer_destroy(r);
}

int main(int argc, char** argv)
{
    if (argc < 4) { fprintf(stderr, "usage: stereo IN OUT WIDTH\n"); return 2; }
    check_calls();
    FILE* f = fopen(argv[1], "rb");
    FILE* o = fopen(argv[2], "wb");
    if (!f || !o) { perror("open"); return 2; }
    int32_t frames;
    if (fread(&frames, 4, 1, f) != 1) return 3;
    float* in = calloc((size_t)frames + BLOCK, 2 * sizeof(float));
    if (fread(in, 2 * sizeof(float), (size_t)frames, f) != (size_t)frames) return 3;
    smw_renderer_settings s = smw_renderer_settings_default();
    s.max_block_frames = BLOCK;
    s.max_sources = 2;
    smw_renderer* r = NULL;
    if (smw_renderer_create(&s, &r) != SMW_SUCCESS) { fprintf(stderr, "create: %s\n", smw_last_error(NULL)); return 4; }
    smw_source src;
    const float pos[3] = {2, 0, 0}, ident[4] = {0, 0, 0, 1};
    if (smw_source_create_stereo(r, (float)atof(argv[3]), &src) ||
        smw_source_set_distance_model(r, src, SMW_DISTANCE_NONE, 1, 1e6f, 1) ||
        smw_source_set_pose(r, src, pos, ident)) {
        fprintf(stderr, "source: %s\n", smw_last_error(r));
        return 5;
    }
    float out[2 * BLOCK];
    for (int32_t at = 0; at < frames + BLOCK; at += BLOCK) {
        if (smw_source_write_stereo(r, src, in + 2 * (size_t)at, BLOCK) || smw_render(r, out, BLOCK)) {
            fprintf(stderr, "block: %s\n", smw_last_error(r));
            return 6;
        }
        fwrite(out, sizeof(float), 2 * BLOCK, o);
    }
    uint32_t bits = 0;
    smw_source_get_status(r, src, &bits);
    printf("STATUS %u\n", bits);
    fclose(o);
    smw_renderer_destroy(r);
    return 0;
}
