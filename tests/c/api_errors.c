/* Bad input from C, one case per line: "CASE <name> PASS|FAIL <detail>".
 * usage: api_errors <corrupt_model_path> [--tdw-only] */
#include "common.h"

static int g_fail;

static void report(const char* name, int ok, const char* fmt, long a, long b, const char* msg)
{
    printf("CASE %s %s ", name, ok ? "PASS" : "FAIL");
    printf(fmt, a, b);
    printf(" | %s\n", msg ? msg : "");
    if (!ok) g_fail = 1;
}

#define EXPECT(name, call, expected, r)                                                      \
    do {                                                                                     \
        smw_result got_ = (call);                                                            \
        report(name, got_ == (expected), "got %ld expected %ld", (long)got_, (long)(expected), \
               got_ == SMW_SUCCESS ? "" : smw_last_error(r));                                \
    } while (0)

static const float ORIGIN[3] = {0, 0, 0};
static const float IDENT[4] = {0, 0, 0, 1};

static smw_renderer* make(int sources, int block, int corrector)
{
    smw_renderer_settings s = smw_renderer_settings_default();
    s.max_sources = sources;
    s.max_block_frames = block;
    s.enable_corrector = corrector;
    smw_renderer* r = NULL;
    smw_result rc = smw_renderer_create(&s, &r);
    if (rc != SMW_SUCCESS) {
        printf("CASE create_valid FAIL %s | %s\n", smw_result_string(rc), smw_last_error(NULL));
        exit(1);
    }
    return r;
}

/* Two sources, A hard left and B hard right (native, 1 m), 8 blocks of noise; A's block 3
 * is `poison` (0 = normal, 1 = NaN, 2 = +Inf, 3 = zeros). Returns R-channel energy over
 * the blocks from 3 on; *finite = all output finite; *rc_poison = A's write result. */
static double two_source_run(int corrector, int poison, int* finite, smw_result* rc_poison, double* left_energy)
{
    smw_renderer* r = make(4, 256, corrector);
    smw_source a, b;
    smw_source_create(r, &a);
    smw_source_create(r, &b);
    const float pa[3] = {0, 1, 0}, pb[3] = {0, -1, 0};
    smw_source_set_pose(r, a, pa, IDENT);
    smw_source_set_pose(r, b, pb, IDENT);
    smw_source_set_distance_model(r, a, SMW_DISTANCE_NONE, 1, 1, 1);
    smw_source_set_distance_model(r, b, SMW_DISTANCE_NONE, 1, 1, 1);
    float xa[256], xb[256], out[512];
    unsigned sa = 1, sb = 2;
    double er = 0.0, el = 0.0;
    *finite = 1;
    for (int blk = 0; blk < 12; ++blk) {
        for (int k = 0; k < 256; ++k) { xa[k] = noise(&sa, 0.3f); xb[k] = noise(&sb, 0.3f); }
        if (blk == 3) {
            if (poison == 1) xa[17] = NAN;
            if (poison == 2) xa[100] = INFINITY;
            if (poison == 3) memset(xa, 0, sizeof xa);
        }
        smw_result ra = smw_source_write(r, a, xa, 256);
        if (blk == 3) *rc_poison = ra;
        smw_source_write(r, b, xb, 256);
        smw_render(r, out, 256);
        for (int k = 0; k < 256; ++k) {
            if (!isfinite(out[2 * k]) || !isfinite(out[2 * k + 1])) *finite = 0;
            if (blk >= 3) { el += (double)out[2 * k] * out[2 * k]; er += (double)out[2 * k + 1] * out[2 * k + 1]; }
        }
    }
    smw_renderer_destroy(r);
    *left_energy = el;
    return er;
}

int main(int argc, char** argv)
{
    const char* corrupt_model = argc > 1 ? argv[1] : "/dev/null";
    int corr = want_corrector(argc, argv);
    smw_renderer_settings s;
    smw_renderer* r = NULL;

    /* ---- version and strings ---- */
    uint32_t v = smw_get_version();
    report("version", SMW_VERSION_GET_MAJOR(v) == SMW_VERSION_MAJOR && SMW_VERSION_GET_MINOR(v) >= SMW_VERSION_MINOR,
           "lib %ld header %ld", (long)v, (long)SMW_VERSION, "");
    int strings_ok = 1;
    for (int c = -5; c < 40; ++c) strings_ok &= smw_result_string(c) != NULL && smw_result_string(c)[0] != 0;
    report("result_strings", strings_ok, "%ld%ld", 0, 0, smw_result_string(SMW_ERROR_INVALID_HANDLE));

    /* ---- creation errors ---- */
    s = smw_renderer_settings_default();
    EXPECT("create_null_settings", smw_renderer_create(NULL, &r), SMW_ERROR_NULL_POINTER, NULL);
    EXPECT("create_null_out", smw_renderer_create(&s, NULL), SMW_ERROR_NULL_POINTER, NULL);
    s.size = 0;
    EXPECT("create_settings_size_zero", smw_renderer_create(&s, &r), SMW_ERROR_SETTINGS_SIZE, NULL);
    s = smw_renderer_settings_default(); s.sample_rate = 22050;
    EXPECT("create_unsupported_rate_22050", smw_renderer_create(&s, &r), SMW_ERROR_UNSUPPORTED_SAMPLE_RATE, NULL);
    report("create_failure_sets_out_null", r == NULL, "%ld%ld", 0, 0, "");
    s = smw_renderer_settings_default(); s.sample_rate = 0;
    EXPECT("create_rate_zero", smw_renderer_create(&s, &r), SMW_ERROR_UNSUPPORTED_SAMPLE_RATE, NULL);
    s = smw_renderer_settings_default(); s.max_sources = 0;
    EXPECT("create_zero_sources", smw_renderer_create(&s, &r), SMW_ERROR_INVALID_ARGUMENT, NULL);
    s = smw_renderer_settings_default(); s.max_block_frames = -4;
    EXPECT("create_negative_block", smw_renderer_create(&s, &r), SMW_ERROR_INVALID_ARGUMENT, NULL);
    s = smw_renderer_settings_default(); s.coordinate_system = 9;
    EXPECT("create_bad_coordinate_system", smw_renderer_create(&s, &r), SMW_ERROR_INVALID_ARGUMENT, NULL);
    s = smw_renderer_settings_default(); s.corrector_table_step_deg = 0.1f;
    EXPECT("create_table_step_too_fine", smw_renderer_create(&s, &r), SMW_ERROR_INVALID_ARGUMENT, NULL);
    s = smw_renderer_settings_default(); s.corrector_table_step_deg = NAN;
    EXPECT("create_table_step_nan", smw_renderer_create(&s, &r), SMW_ERROR_INVALID_ARGUMENT, NULL);
    s = smw_renderer_settings_default(); s.full_sources = -1;
    EXPECT("create_full_sources_negative", smw_renderer_create(&s, &r), SMW_ERROR_INVALID_ARGUMENT, NULL);
    s = smw_renderer_settings_default(); s.full_sources = 4097;
    EXPECT("create_full_sources_too_many", smw_renderer_create(&s, &r), SMW_ERROR_INVALID_ARGUMENT, NULL);
    s = smw_renderer_settings_default(); s.worker_threads = -1;
    EXPECT("create_worker_threads_negative", smw_renderer_create(&s, &r), SMW_ERROR_INVALID_ARGUMENT, NULL);
    s = smw_renderer_settings_default(); s.worker_threads = 9;
    EXPECT("create_worker_threads_too_many", smw_renderer_create(&s, &r), SMW_ERROR_INVALID_ARGUMENT, NULL);
    s = smw_renderer_settings_default(); s.reserved = 1;
    EXPECT("create_reserved_not_zero", smw_renderer_create(&s, &r), SMW_ERROR_INVALID_ARGUMENT, NULL);
    s = smw_renderer_settings_default(); s.enable_corrector = 2;
    EXPECT("create_enable_corrector_not_a_flag", smw_renderer_create(&s, &r), SMW_ERROR_INVALID_ARGUMENT, NULL);
    s = smw_renderer_settings_default(); s.lod_hysteresis_db = NAN;
    EXPECT("create_lod_hysteresis_nan", smw_renderer_create(&s, &r), SMW_ERROR_INVALID_ARGUMENT, NULL);
    s = smw_renderer_settings_default(); s.lod_hysteresis_db = -1.0f;
    EXPECT("create_lod_hysteresis_negative", smw_renderer_create(&s, &r), SMW_ERROR_INVALID_ARGUMENT, NULL);
    s = smw_renderer_settings_default(); s.corrector_table_step_deg = 0.0f; s.max_sources = 2;
    EXPECT("create_without_table", smw_renderer_create(&s, &r), SMW_SUCCESS, NULL);
    smw_renderer_destroy(r);
    r = NULL;
    s = smw_renderer_settings_default(); s.model_path = "/nonexistent/dir/model.npz"; s.enable_corrector = 1;
    EXPECT("create_missing_model", smw_renderer_create(&s, &r), SMW_ERROR_MODEL_LOAD, NULL);
    s = smw_renderer_settings_default(); s.model_path = corrupt_model; s.enable_corrector = 1;
    EXPECT("create_corrupt_model", smw_renderer_create(&s, &r), SMW_ERROR_MODEL_LOAD, NULL);
    report("last_error_after_create_failure", strlen(smw_last_error(NULL)) > 0, "%ld%ld", 0, 0, smw_last_error(NULL));

    /* ---- NULL renderer: every call returns SMW_ERROR_NULL_POINTER ---- */
    smw_source h0 = 0;
    float buf[64] = {0};
    int32_t lat = 0;
    smw_renderer_destroy(NULL);   /* no-op */
    EXPECT("null_renderer_get_latency", smw_renderer_get_latency(NULL, &lat), SMW_ERROR_NULL_POINTER, NULL);
    EXPECT("null_renderer_listener", smw_listener_set_pose(NULL, ORIGIN, IDENT), SMW_ERROR_NULL_POINTER, NULL);
    EXPECT("null_renderer_source_create", smw_source_create(NULL, &h0), SMW_ERROR_NULL_POINTER, NULL);
    EXPECT("null_renderer_source_destroy", smw_source_destroy(NULL, 1), SMW_ERROR_NULL_POINTER, NULL);
    EXPECT("null_renderer_set_pose", smw_source_set_pose(NULL, 1, ORIGIN, IDENT), SMW_ERROR_NULL_POINTER, NULL);
    EXPECT("null_renderer_set_gain", smw_source_set_gain(NULL, 1, 1.0f), SMW_ERROR_NULL_POINTER, NULL);
    EXPECT("null_renderer_set_distance", smw_source_set_distance_model(NULL, 1, 1, 1, 2, 1), SMW_ERROR_NULL_POINTER, NULL);
    EXPECT("null_renderer_set_doppler", smw_source_set_doppler(NULL, 1, 1), SMW_ERROR_NULL_POINTER, NULL);
    EXPECT("null_renderer_set_spatialize", smw_source_set_spatialize(NULL, 1, 1), SMW_ERROR_NULL_POINTER, NULL);
    EXPECT("null_renderer_set_paused", smw_source_set_paused(NULL, 1, 1), SMW_ERROR_NULL_POINTER, NULL);
    EXPECT("null_renderer_write", smw_source_write(NULL, 1, buf, 16), SMW_ERROR_NULL_POINTER, NULL);
    EXPECT("null_renderer_render", smw_render(NULL, buf, 16), SMW_ERROR_NULL_POINTER, NULL);
    report("null_renderer_last_error_not_null", smw_last_error(NULL) != NULL, "%ld%ld", 0, 0, "");

    /* ---- a valid renderer ---- */
    double t0 = t_now();
    r = make(4, 256, corr);
    printf("INFO create_seconds %.3f\n", t_now() - t0);
    EXPECT("get_latency", smw_renderer_get_latency(r, &lat), SMW_SUCCESS, r);
    report("latency_positive", lat > 0, "latency %ld frames%ld", lat, 0, "");

    /* NULL pointer arguments */
    smw_source src = 0;
    EXPECT("null_out_latency", smw_renderer_get_latency(r, NULL), SMW_ERROR_NULL_POINTER, r);
    EXPECT("null_out_source", smw_source_create(r, NULL), SMW_ERROR_NULL_POINTER, r);
    EXPECT("source_create", smw_source_create(r, &src), SMW_SUCCESS, r);
    EXPECT("null_listener_position", smw_listener_set_pose(r, NULL, IDENT), SMW_ERROR_NULL_POINTER, r);
    EXPECT("null_listener_quat", smw_listener_set_pose(r, ORIGIN, NULL), SMW_ERROR_NULL_POINTER, r);
    EXPECT("null_source_position", smw_source_set_pose(r, src, NULL, IDENT), SMW_ERROR_NULL_POINTER, r);
    EXPECT("null_samples", smw_source_write(r, src, NULL, 16), SMW_ERROR_NULL_POINTER, r);
    EXPECT("null_output", smw_render(r, NULL, 16), SMW_ERROR_NULL_POINTER, r);

    /* handles */
    EXPECT("handle_zero", smw_source_set_gain(r, 0, 1.0f), SMW_ERROR_INVALID_HANDLE, r);
    EXPECT("handle_index_out_of_range", smw_source_set_gain(r, 0xFFFFu, 1.0f), SMW_ERROR_INVALID_HANDLE, r);
    EXPECT("handle_never_issued_generation", smw_source_set_gain(r, src ^ 0x00050000u, 1.0f), SMW_ERROR_INVALID_HANDLE, r);
    smw_source other = ((src & 0xFFFFu) % 4u) + 1u;   /* a slot index that was never created */
    EXPECT("handle_never_issued_slot", smw_source_write(r, (src & 0xFFFF0000u) | other, buf, 16), SMW_ERROR_INVALID_HANDLE, r);
    smw_source_set_gain(r, src ^ 0x00050000u, 1.0f);
    report("never_issued_says_so", strstr(smw_last_error(r), "never issued") != NULL, "%ld%ld", 0, 0, smw_last_error(r));
    EXPECT("destroy", smw_source_destroy(r, src), SMW_SUCCESS, r);
    EXPECT("double_destroy", smw_source_destroy(r, src), SMW_ERROR_INVALID_HANDLE, r);
    report("stale_says_stale", strstr(smw_last_error(r), "stale") != NULL, "%ld%ld", 0, 0, smw_last_error(r));
    EXPECT("stale_set_pose", smw_source_set_pose(r, src, ORIGIN, IDENT), SMW_ERROR_INVALID_HANDLE, r);
    EXPECT("stale_write", smw_source_write(r, src, buf, 16), SMW_ERROR_INVALID_HANDLE, r);
    float out[512];
    EXPECT("render_after_destroy", smw_render(r, out, 256), SMW_SUCCESS, r);
    /* fill every slot: the stale handle must stay stale even when its slot is reused */
    smw_source all[4];
    int ok_all = 1;
    for (int i = 0; i < 4; ++i) ok_all &= smw_source_create(r, &all[i]) == SMW_SUCCESS;
    report("create_to_capacity", ok_all, "%ld%ld", 0, 0, smw_last_error(r));
    smw_source extra;
    EXPECT("more_sources_than_capacity", smw_source_create(r, &extra), SMW_ERROR_OUT_OF_SOURCES, r);
    EXPECT("stale_after_slot_reuse", smw_source_set_gain(r, src, 1.0f), SMW_ERROR_INVALID_HANDLE, r);
    EXPECT("destroy_one", smw_source_destroy(r, all[0]), SMW_SUCCESS, r);
    /* voice stealing: the destroyed slot is reusable before the next render */
    EXPECT("slot_reused_before_render", smw_source_create(r, &extra), SMW_SUCCESS, r);
    report("reused_handle_differs", extra != all[0], "new %ld old %ld", (long)extra, (long)all[0], "");
    EXPECT("stolen_handle_stale", smw_source_set_gain(r, all[0], 1.0f), SMW_ERROR_INVALID_HANDLE, r);
    smw_render(r, out, 256);
    EXPECT("slot_full_after_render", smw_source_create(r, &extra), SMW_ERROR_OUT_OF_SOURCES, r);
    src = all[1];

    /* poses */
    const float nanp[3] = {0, NAN, 0}, infp[3] = {INFINITY, 0, 0}, far[3] = {2e6f, 0, 0};
    const float zeroq[4] = {0, 0, 0, 0}, tinyq[4] = {1e-39f, 0, 0, 1e-39f}, nanq[4] = {0, 0, NAN, 1};
    const float unnorm[4] = {0, 0, 0, 5};
    EXPECT("pose_nan_position", smw_source_set_pose(r, src, nanp, IDENT), SMW_ERROR_INVALID_ARGUMENT, r);
    EXPECT("pose_inf_position", smw_source_set_pose(r, src, infp, IDENT), SMW_ERROR_INVALID_ARGUMENT, r);
    EXPECT("pose_nan_quaternion", smw_source_set_pose(r, src, ORIGIN, nanq), SMW_ERROR_INVALID_ARGUMENT, r);
    EXPECT("pose_zero_quaternion", smw_source_set_pose(r, src, ORIGIN, zeroq), SMW_ERROR_INVALID_ARGUMENT, r);
    EXPECT("pose_denormal_quaternion", smw_source_set_pose(r, src, ORIGIN, tinyq), SMW_ERROR_INVALID_ARGUMENT, r);
    EXPECT("pose_absurd_distance", smw_source_set_pose(r, src, far, IDENT), SMW_ERROR_INVALID_ARGUMENT, r);
    EXPECT("pose_unnormalised_quaternion_ok", smw_source_set_pose(r, src, ORIGIN, unnorm), SMW_SUCCESS, r);
    EXPECT("listener_nan", smw_listener_set_pose(r, nanp, IDENT), SMW_ERROR_INVALID_ARGUMENT, r);
    EXPECT("listener_zero_quaternion", smw_listener_set_pose(r, ORIGIN, zeroq), SMW_ERROR_INVALID_ARGUMENT, r);
    EXPECT("source_at_listener_ok", smw_source_set_pose(r, src, ORIGIN, IDENT), SMW_SUCCESS, r);

    /* parameters */
    EXPECT("gain_nan", smw_source_set_gain(r, src, NAN), SMW_ERROR_INVALID_ARGUMENT, r);
    EXPECT("gain_negative", smw_source_set_gain(r, src, -1.0f), SMW_ERROR_INVALID_ARGUMENT, r);
    EXPECT("priority_nan", smw_source_set_priority(r, src, NAN), SMW_ERROR_INVALID_ARGUMENT, r);
    EXPECT("priority_negative", smw_source_set_priority(r, src, -1.0f), SMW_ERROR_INVALID_ARGUMENT, r);
    EXPECT("priority_too_large", smw_source_set_priority(r, src, 2e6f), SMW_ERROR_INVALID_ARGUMENT, r);
    EXPECT("priority_null_renderer", smw_source_set_priority(NULL, src, 1.0f), SMW_ERROR_NULL_POINTER, NULL);
    EXPECT("gain_ok", smw_source_set_gain(r, src, 0.5f), SMW_SUCCESS, r);
    EXPECT("distance_unknown_model", smw_source_set_distance_model(r, src, 7, 1, 10, 1), SMW_ERROR_INVALID_ARGUMENT, r);
    EXPECT("distance_min_zero", smw_source_set_distance_model(r, src, 1, 0, 10, 1), SMW_ERROR_INVALID_ARGUMENT, r);
    EXPECT("distance_max_below_min", smw_source_set_distance_model(r, src, 1, 5, 1, 1), SMW_ERROR_INVALID_ARGUMENT, r);
    EXPECT("distance_inf", smw_source_set_distance_model(r, src, 2, 1, INFINITY, 1), SMW_ERROR_INVALID_ARGUMENT, r);
    EXPECT("distance_ok", smw_source_set_distance_model(r, src, 2, 1, 50, 1), SMW_SUCCESS, r);
    EXPECT("doppler_ok", smw_source_set_doppler(r, src, 1), SMW_SUCCESS, r);
    EXPECT("spatialize_ok", smw_source_set_spatialize(r, src, 0), SMW_SUCCESS, r);
    EXPECT("paused_ok", smw_source_set_paused(r, src, 1), SMW_SUCCESS, r);
    EXPECT("doppler_two", smw_source_set_doppler(r, src, 2), SMW_ERROR_INVALID_ARGUMENT, r);
    EXPECT("doppler_minus_one", smw_source_set_doppler(r, src, -1), SMW_ERROR_INVALID_ARGUMENT, r);
    EXPECT("spatialize_two", smw_source_set_spatialize(r, src, 2), SMW_ERROR_INVALID_ARGUMENT, r);
    EXPECT("spatialize_minus_one", smw_source_set_spatialize(r, src, -1), SMW_ERROR_INVALID_ARGUMENT, r);
    EXPECT("paused_two", smw_source_set_paused(r, src, 2), SMW_ERROR_INVALID_ARGUMENT, r);
    EXPECT("paused_minus_one", smw_source_set_paused(r, src, -1), SMW_ERROR_INVALID_ARGUMENT, r);
    EXPECT("renderer_paused_two", smw_renderer_set_paused(r, 2), SMW_ERROR_INVALID_ARGUMENT, r);
    EXPECT("master_gain_negative", smw_renderer_set_master_gain(r, -0.5f), SMW_ERROR_INVALID_ARGUMENT, r);
    EXPECT("master_gain_nan", smw_renderer_set_master_gain(r, NAN), SMW_ERROR_INVALID_ARGUMENT, r);
    EXPECT("master_gain_above_max", smw_renderer_set_master_gain(r, 1001.0f), SMW_ERROR_INVALID_ARGUMENT, r);
    EXPECT("master_gain_ok", smw_renderer_set_master_gain(r, 1.0f), SMW_SUCCESS, r);
    uint32_t flags = 0;
    EXPECT("status_null_out", smw_source_get_status(r, src, NULL), SMW_ERROR_NULL_POINTER, r);
    EXPECT("status_stale", smw_source_get_status(r, all[0], &flags), SMW_ERROR_INVALID_HANDLE, r);
    EXPECT("status_ok", smw_source_get_status(r, src, &flags), SMW_SUCCESS, r);
    smw_model_info info;
    memset(&info, 0, sizeof info);
    info.size = sizeof info - 4;
    EXPECT("model_info_bad_size", smw_renderer_get_model_info(r, &info), SMW_ERROR_SETTINGS_SIZE, r);
    EXPECT("model_info_null", smw_renderer_get_model_info(r, NULL), SMW_ERROR_NULL_POINTER, r);
    info.size = sizeof info;
    EXPECT("model_info_ok", smw_renderer_get_model_info(r, &info), SMW_SUCCESS, r);

    /* frame counts */
    EXPECT("write_frames_zero", smw_source_write(r, src, buf, 0), SMW_ERROR_FRAME_COUNT, r);
    EXPECT("write_frames_negative", smw_source_write(r, src, buf, -5), SMW_ERROR_FRAME_COUNT, r);
    static float big[2 * 4096];
    EXPECT("write_frames_above_max", smw_source_write(r, src, big, 257), SMW_ERROR_FRAME_COUNT, r);
    EXPECT("render_frames_zero", smw_render(r, out, 0), SMW_ERROR_FRAME_COUNT, r);
    EXPECT("render_frames_above_max", smw_render(r, big, 257), SMW_ERROR_FRAME_COUNT, r);
    EXPECT("render_odd_frames_ok", smw_render(r, out, 37), SMW_SUCCESS, r);
    EXPECT("write_block_ok", smw_source_write(r, src, big, 256), SMW_SUCCESS, r);
    EXPECT("write_overflow_buffer_full", smw_source_write(r, src, big, 256), SMW_ERROR_BUFFER_FULL, r);
    EXPECT("render_drains", smw_render(r, out, 256), SMW_SUCCESS, r);
    smw_renderer_destroy(r);
    r = NULL;

    /* ---- non-finite samples: block muted, the other source keeps playing ---- */
    int fin_ref, fin_nan, fin_inf;
    smw_result rc_ref, rc_nan, rc_inf;
    double el_ref, el_nan, el_inf;
    double er_ref = two_source_run(corr, 3, &fin_ref, &rc_ref, &el_ref);
    double er_nan = two_source_run(corr, 1, &fin_nan, &rc_nan, &el_nan);
    double er_inf = two_source_run(corr, 2, &fin_inf, &rc_inf, &el_inf);
    report("nan_samples_result", rc_nan == SMW_ERROR_NONFINITE_INPUT, "got %ld expected %ld", rc_nan, SMW_ERROR_NONFINITE_INPUT, "");
    report("inf_samples_result", rc_inf == SMW_ERROR_NONFINITE_INPUT, "got %ld expected %ld", rc_inf, SMW_ERROR_NONFINITE_INPUT, "");
    report("nonfinite_output_finite", fin_ref && fin_nan && fin_inf, "%ld%ld", 0, 0, "");
    printf("INFO right_energy ref(A muted block) %.6g nan %.6g inf %.6g; left energy %.6g %.6g %.6g\n",
           er_ref, er_nan, er_inf, el_ref, el_nan, el_inf);
    /* A's NaN block is replaced by silence, i.e. identical to writing zeros for that block */
    int same = er_ref > 1e-3 && fabs(er_nan - er_ref) <= 1e-6 * er_ref && fabs(er_inf - er_ref) <= 1e-6 * er_ref &&
               fabs(el_nan - el_ref) <= 1e-6 * el_ref;
    report("nonfinite_other_source_keeps_playing", same, "right energy x1e6 %ld vs ref %ld", (long)(er_nan * 1e6),
           (long)(er_ref * 1e6), "");
    report("nonfinite_left_still_audible_after_block", el_nan > 0.1 * er_nan, "%ld%ld", 0, 0, "");

    printf("RESULT %s\n", g_fail ? "FAIL" : "PASS");
    return g_fail;
}
