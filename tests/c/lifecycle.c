/* The source lifecycle and renderer-level behaviour from C, one mode per run; prints
 * "KEY value" lines for tests/test_lifecycle.py.
 *   lifecycle steal     20 s game loop, 200 one-shots, at most 64 alive: voice stealing by
 *                       destroy-then-create in one tick (game and audio work in one loop)
 *   lifecycle threads   two threads fail differently on one renderer: smw_last_error per thread
 *   lifecycle log       the log callback: creation, a game-thread failure, audio-thread failures
 *   lifecycle sizes     settings structs of 0.1, 0.2 and 0.3 sizes accepted, others rejected */
#include "common.h"
#include <stdatomic.h>
#include <stddef.h>

#define RATE 48000
#define BLOCK 512
#define VOICES 64
#define SHOTS 200
#define SECONDS 20

static float rnd(unsigned* s) { *s = *s * 1664525u + 1013904223u; return (float)(*s >> 8) / 16777216.0f; }

static smw_renderer* make(int32_t sources, smw_log_callback log, void* user)
{
    smw_renderer_settings s = smw_renderer_settings_default();
    s.max_sources = sources;
    s.max_block_frames = BLOCK;
    s.log_callback = log;
    s.log_user_data = user;
    smw_renderer* r = NULL;
    if (smw_renderer_create(&s, &r) != SMW_SUCCESS) {
        printf("CREATE_FAILED %s\n", smw_last_error(NULL));
        exit(2);
    }
    return r;
}

static int steal(void)
{
    smw_renderer* r = make(VOICES, NULL, NULL);
    smw_source voice[VOICES];
    long born[VOICES], dies[VOICES];
    int alive = 0, spawned = 0, failures = 0, steals = 0, finite = 1, underruns = 0, silent_new = 0;
    unsigned seed = 7;
    const long blocks = (long)SECONDS * RATE / BLOCK;
    float x[BLOCK], out[2 * BLOCK];
    for (long b = 0; b < blocks; ++b) {
        /* game tick: one-shots that ended go; new ones come, stealing the oldest when full */
        for (int v = 0; v < alive;) {
            if (dies[v] <= b) {
                failures += smw_source_destroy(r, voice[v]) != SMW_SUCCESS;
                voice[v] = voice[alive - 1]; born[v] = born[alive - 1]; dies[v] = dies[alive - 1];
                --alive;
            } else {
                ++v;
            }
        }
        int new_voice = -1;
        if (spawned < SHOTS && b >= (long)spawned * blocks / SHOTS) {
            if (alive == VOICES) {
                int oldest = 0;
                for (int v = 1; v < alive; ++v) if (born[v] < born[oldest]) oldest = v;
                failures += smw_source_destroy(r, voice[oldest]) != SMW_SUCCESS;
                voice[oldest] = voice[alive - 1]; born[oldest] = born[alive - 1]; dies[oldest] = dies[alive - 1];
                --alive;
                ++steals;
            }
            smw_source h;
            if (smw_source_create(r, &h) == SMW_SUCCESS) {
                const float pos[3] = {2.0f * cosf((float)spawned), 2.0f * sinf((float)spawned), 0.0f};
                const float q[4] = {0, 0, 0, 1};
                smw_source_set_pose(r, h, pos, q);
                voice[alive] = h;
                born[alive] = b;
                dies[alive] = b + (long)(RATE / BLOCK) * (8 + (long)(8.0f * rnd(&seed)));
                new_voice = alive++;
            } else {
                ++failures;
                printf("INFO create failed at block %ld: %s\n", b, smw_last_error(r));
            }
            ++spawned;
        }
        /* audio: one block per voice, then the mix */
        for (int v = 0; v < alive; ++v) {
            for (int k = 0; k < BLOCK; ++k) x[k] = 0.1f * (rnd(&seed) - 0.5f);
            failures += smw_source_write(r, voice[v], x, BLOCK) != SMW_SUCCESS;
        }
        failures += smw_render(r, out, BLOCK) != SMW_SUCCESS;
        for (int k = 0; k < 2 * BLOCK; ++k) finite &= isfinite(out[k]);
        for (int v = 0; v < alive; ++v) {
            uint32_t st = 0;
            failures += smw_source_get_status(r, voice[v], &st) != SMW_SUCCESS;
            underruns += (st & SMW_SOURCE_STATUS_UNDERRUN) != 0;
            if (v == new_voice) silent_new += (st & SMW_SOURCE_STATUS_PLAYING) == 0;
        }
    }
    printf("SPAWNED %d\nSTEALS %d\nFAILURES %d\nUNDERRUNS %d\nNEW_NOT_PLAYING %d\nFINITE %d\n", spawned, steals,
           failures, underruns, silent_new, finite);
    smw_renderer_destroy(r);
    return 0;
}

/* ---- smw_last_error per thread ---- */
static smw_renderer* g_r;
static pthread_barrier_t g_barrier;

static void* fail_gain(void* arg)
{
    smw_source h;
    smw_source_create(g_r, &h);
    smw_result rc = smw_source_set_gain(g_r, h, -1.0f);
    pthread_barrier_wait(&g_barrier);   /* both have failed before either reads */
    printf("GAIN_RC %d\nGAIN_ERROR %s\n", (int)rc, smw_last_error(g_r));
    pthread_barrier_wait(&g_barrier);
    return arg;
}

static void* fail_handle(void* arg)
{
    smw_result rc = smw_source_set_gain(g_r, 0, 1.0f);
    pthread_barrier_wait(&g_barrier);
    pthread_barrier_wait(&g_barrier);   /* after the other thread printed */
    printf("HANDLE_RC %d\nHANDLE_ERROR %s\n", (int)rc, smw_last_error(g_r));
    return arg;
}

static int threads(void)
{
    g_r = make(4, NULL, NULL);
    pthread_barrier_init(&g_barrier, NULL, 2);
    pthread_t a, b;
    pthread_create(&a, NULL, fail_gain, NULL);
    pthread_create(&b, NULL, fail_handle, NULL);
    pthread_join(a, NULL);
    pthread_join(b, NULL);
    printf("MAIN_ERROR [%s]\n", smw_last_error(g_r));
    smw_renderer_destroy(g_r);
    return 0;
}

/* ---- the log callback ---- */
static int g_log_info, g_log_error;
static void log_sink(void* user, int32_t level, const char* message)
{
    *(int*)user += 1;
    if (level == SMW_LOG_INFO) ++g_log_info;
    if (level == SMW_LOG_ERROR) ++g_log_error;
    printf("LOG %d %s\n", (int)level, message);
}

static int logging(void)
{
    int calls = 0;
    smw_renderer* r = make(2, log_sink, &calls);
    printf("AFTER_CREATE_INFO %d\nAFTER_CREATE_ERROR %d\n", g_log_info, g_log_error);
    smw_source h;
    smw_source_create(r, &h);
    float x[BLOCK] = {0}, out[2 * BLOCK];
    x[3] = NAN;
    int audio_failures = 0;
    audio_failures += smw_source_write(r, h, x, BLOCK) != SMW_SUCCESS;     /* non-finite */
    audio_failures += smw_source_write(r, h, x, BLOCK + 1) != SMW_SUCCESS; /* frame count */
    audio_failures += smw_render(r, out, 0) != SMW_SUCCESS;
    printf("AUDIO_FAILURES %d\nAFTER_AUDIO_ERROR %d\n", audio_failures, g_log_error);
    smw_source_set_doppler(r, h, 2);
    printf("AFTER_GAME_ERROR %d\nCALLS %d\n", g_log_error, calls);
    smw_renderer_destroy(r);
    /* a failing create logs too, once its settings could be read */
    smw_renderer_settings s = smw_renderer_settings_default();
    s.sample_rate = 22050;
    s.log_callback = log_sink;
    s.log_user_data = &calls;
    smw_renderer_create(&s, &r);
    printf("AFTER_FAILED_CREATE_ERROR %d\n", g_log_error);
    return 0;
}

/* ---- settings struct sizes ---- */
typedef struct {   /* 0.1 */
    uint32_t size;
    int32_t sample_rate, max_block_frames, max_sources;
    const char* model_path;
    int32_t coordinate_system, enable_corrector;
    float corrector_table_step_deg;
} settings_v0_1;
typedef struct {   /* 0.2 */
    uint32_t size;
    int32_t sample_rate, max_block_frames, max_sources;
    const char* model_path;
    int32_t coordinate_system, enable_corrector;
    float corrector_table_step_deg, speed_of_sound;
    int32_t equalization;
} settings_v0_2;

/* the struct of `size` bytes; the fields past it hold a log callback that must be ignored */
static smw_result create_sized(uint32_t size)
{
    static int ignored_calls;
    smw_renderer_settings s = smw_renderer_settings_default();
    s.size = size;
    s.max_sources = 2;
    s.enable_corrector = 0;
    if (size < sizeof s) {
        s.log_callback = log_sink;
        s.log_user_data = &ignored_calls;
    }
    smw_renderer* r = NULL;
    smw_result rc = smw_renderer_create(&s, &r);
    smw_renderer_destroy(r);
    return rc;
}

static int sizes(void)
{
    printf("SIZE_V0_1 %d\nSIZE_V0_2 %d\nSIZE_V0_3 %d\n", (int)create_sized(sizeof(settings_v0_1)),
           (int)create_sized(sizeof(settings_v0_2)), (int)create_sized(sizeof(smw_renderer_settings)));
    printf("SIZE_LARGER %d\nSIZE_ZERO %d\nSIZE_BETWEEN %d\n", (int)create_sized(sizeof(smw_renderer_settings) + 8),
           (int)create_sized(0), (int)create_sized(sizeof(settings_v0_2) + 4));
    printf("SETTINGS_SIZE_CODE %d\n", (int)SMW_ERROR_SETTINGS_SIZE);
    printf("OLD_STRUCT_LOG_CALLS %d\n", g_log_info + g_log_error);   /* fields past `size` unread */
    return 0;
}

int main(int argc, char** argv)
{
    setvbuf(stdout, NULL, _IOLBF, 0);
    const char* mode = argc > 1 ? argv[1] : "";
    if (!strcmp(mode, "steal")) return steal();
    if (!strcmp(mode, "threads")) return threads();
    if (!strcmp(mode, "log")) return logging();
    if (!strcmp(mode, "sizes")) return sizes();
    fprintf(stderr, "usage: lifecycle steal|threads|log|sizes\n");
    return 2;
}
