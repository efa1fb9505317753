/* The 0.2 additions through C: velocity setters, teleports, speed of sound, equalization,
 * and the settings sizes the library accepts. One "CASE name result" line per check
 * (result 1 = as documented), then a rendered teleport. */
#include <math.h>
#include <stdio.h>
#include <stddef.h>
#include <string.h>
#include "spatialmw.h"

static int ok_all = 1;
static void check(const char* name, int ok) { printf("CASE %s %d\n", name, ok); ok_all &= ok; }

/* the 0.1 struct, as a game compiled against the 0.1 header passes it */
typedef struct {
    uint32_t size; int32_t sample_rate, max_block_frames, max_sources; const char* model_path;
    int32_t coordinate_system, enable_corrector; float corrector_table_step_deg;
} settings_v0_1;

int main(void)
{
    smw_renderer* r = NULL;
    smw_renderer_settings s = smw_renderer_settings_default();
    check("default_speed_of_sound", s.speed_of_sound == 343.0f);
    check("default_equalization", s.equalization == SMW_EQUALIZATION_NONE);
    s.speed_of_sound = 0.0f;
    check("speed_of_sound_zero", smw_renderer_create(&s, &r) == SMW_ERROR_INVALID_ARGUMENT && !r);
    s.speed_of_sound = NAN;
    check("speed_of_sound_nan", smw_renderer_create(&s, &r) == SMW_ERROR_INVALID_ARGUMENT);
    s = smw_renderer_settings_default();
    s.equalization = 2;
    check("equalization_unknown", smw_renderer_create(&s, &r) == SMW_ERROR_INVALID_ARGUMENT);
    s = smw_renderer_settings_default();
    s.size += 8;
    check("settings_size_larger", smw_renderer_create(&s, &r) == SMW_ERROR_SETTINGS_SIZE);

    {   /* a 0.3 struct (ending at hop_frames): full_sources takes its default */
        smw_renderer_settings v03 = smw_renderer_settings_default();
        v03.size = (uint32_t)offsetof(smw_renderer_settings, full_sources);
        v03.size = (v03.size + 7u) & ~7u;   /* its sizeof: padded to the pointers' alignment */
        v03.max_block_frames = 512;
        v03.max_sources = 4;
        check("settings_v0_3_accepted", smw_renderer_create(&v03, &r) == SMW_SUCCESS);
        smw_renderer_destroy(r);
        r = NULL;
    }

    settings_v0_1 old;
    memset(&old, 0, sizeof old);
    old.size = sizeof old; old.sample_rate = 48000; old.max_block_frames = 512; old.max_sources = 4;
    old.enable_corrector = 1; old.corrector_table_step_deg = 3.0f;
    check("settings_v0_1_accepted", smw_renderer_create((const smw_renderer_settings*)&old, &r) == SMW_SUCCESS);
    smw_renderer_destroy(r);
    r = NULL;

    s = smw_renderer_settings_default();
    s.max_block_frames = 512;
    s.equalization = SMW_EQUALIZATION_DIFFUSE_FIELD;
    check("create_diffuse_field", smw_renderer_create(&s, &r) == SMW_SUCCESS);
    smw_source src;
    smw_source_create(r, &src);
    const float q[4] = {0, 0, 0, 1};
    smw_source_set_pose(r, src, (float[3]){2, 0, 0}, q);
    check("velocity_ok", smw_source_set_velocity(r, src, (float[3]){1, 0, 0}) == SMW_SUCCESS);
    check("velocity_nan", smw_source_set_velocity(r, src, (float[3]){NAN, 0, 0}) == SMW_ERROR_INVALID_ARGUMENT);
    check("velocity_absurd", smw_source_set_velocity(r, src, (float[3]){3e6f, 0, 0}) == SMW_ERROR_INVALID_ARGUMENT);
    check("velocity_null", smw_source_set_velocity(r, src, NULL) == SMW_ERROR_NULL_POINTER);
    check("velocity_bad_handle", smw_source_set_velocity(r, 0, (float[3]){0, 0, 0}) == SMW_ERROR_INVALID_HANDLE);
    check("listener_velocity_ok", smw_listener_set_velocity(r, (float[3]){0, 0, 0}) == SMW_SUCCESS);
    check("listener_velocity_inf", smw_listener_set_velocity(r, (float[3]){0, INFINITY, 0}) == SMW_ERROR_INVALID_ARGUMENT);
    check("teleport_bad_handle", smw_source_teleport(r, 12345) == SMW_ERROR_INVALID_HANDLE);
    check("null_renderer", smw_source_teleport(NULL, src) == SMW_ERROR_NULL_POINTER
                           && smw_listener_set_velocity(NULL, (float[3]){0, 0, 0}) == SMW_ERROR_NULL_POINTER);

    /* a source jumping 2 m -> 60 m with the teleport call: the output stays finite and the
     * sound keeps playing through the jump */
    float in[512], out[1024];
    unsigned seed = 1;
    double before = 0.0, after = 0.0;
    int finite = 1;
    for (int b = 0; b < 60; ++b) {
        for (int i = 0; i < 512; ++i) { seed = seed * 1103515245u + 12345u; in[i] = ((seed >> 9) & 0xFFFF) / 65536.0f - 0.5f; }
        if (b == 30) {
            check("teleport_ok", smw_source_teleport(r, src) == SMW_SUCCESS);
            smw_source_set_pose(r, src, (float[3]){60, 0, 0}, q);
        }
        smw_source_write(r, src, in, 512);
        smw_render(r, out, 512);
        for (int i = 0; i < 1024; ++i) {
            finite &= isfinite(out[i]) != 0;
            if (b >= 20 && b < 30) before += out[i] * out[i];
            if (b >= 31 && b < 41) after += out[i] * out[i];
        }
    }
    check("teleport_finite", finite);
    check("teleport_keeps_playing", after > 1e-3 * before && before > 0.0);
    smw_renderer_destroy(r);
    printf("ALL_OK %d\n", ok_all);
    return ok_all ? 0 : 1;
}
