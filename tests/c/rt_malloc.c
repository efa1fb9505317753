/* No heap allocation on the audio path: this host interposes malloc/calloc/realloc/free/
 * memalign/posix_memalign/aligned_alloc/valloc (forwarding to glibc's __libc_* entry points)
 * and counts calls made on the audio thread while a thread-local flag is set, i.e. inside
 * smw_source_write / smw_source_skip / smw_source_is_virtual / smw_render after warm-up.
 * A game thread keeps publishing poses and parameters and creates/destroys a source now
 * and then, so the audio thread also runs the slot start (RESTART) and release (STOP)
 * paths while counting. One stereo source (two voices)
 * is written with smw_source_write_stereo and moved, its width changed, by the game thread.
 * Link with -rdynamic so the library's calls resolve to these definitions.
 * usage: rt_malloc <blocks> [--tdw-only] [--full-sources N] */
#include "common.h"
#include <stdatomic.h>
#include <stdint.h>

extern void* __libc_malloc(size_t);
extern void* __libc_calloc(size_t, size_t);
extern void* __libc_realloc(void*, size_t);
extern void __libc_free(void*);
extern void* __libc_memalign(size_t, size_t);

static __thread int tl_counting;
static atomic_long n_malloc, n_calloc, n_realloc, n_free, n_memalign;
static atomic_long n_total_process;   /* every call in the process, to prove the hooks are live */

#define HOOK(counter) do { atomic_fetch_add_explicit(&n_total_process, 1, memory_order_relaxed); \
    if (tl_counting) atomic_fetch_add_explicit(&counter, 1, memory_order_relaxed); } while (0)

void* malloc(size_t n) { HOOK(n_malloc); return __libc_malloc(n); }
void* calloc(size_t a, size_t b) { HOOK(n_calloc); return __libc_calloc(a, b); }
void* realloc(void* p, size_t n) { HOOK(n_realloc); return __libc_realloc(p, n); }
void free(void* p) { if (p) HOOK(n_free); __libc_free(p); }
void* memalign(size_t al, size_t n) { HOOK(n_memalign); return __libc_memalign(al, n); }
void* aligned_alloc(size_t al, size_t n) { HOOK(n_memalign); return __libc_memalign(al, n); }
void* valloc(size_t n) { HOOK(n_memalign); return __libc_memalign(4096, n); }
int posix_memalign(void** out, size_t al, size_t n)
{
    HOOK(n_memalign);
    void* p = __libc_memalign(al, n);
    if (!p) return 12;
    *out = p;
    return 0;
}

#define NSRC 16
#define BLOCK 512
static smw_renderer* g_r;
static _Atomic smw_source g_src[NSRC];
static smw_source g_stereo;
static atomic_int g_stop;
static atomic_long g_game_ops;

static void* game_thread(void* arg)
{
    (void)arg;
    const float ident[4] = {0, 0, 0, 1};
    long it = 0;
    while (!atomic_load(&g_stop)) {
        double t = it * 0.002;
        float q[4] = {0, 0, (float)sin(0.2 * t), (float)cos(0.2 * t)};
        const float lp[3] = {0, 0, 0};
        smw_listener_set_pose(g_r, lp, q);
        for (int i = 0; i < NSRC; ++i) {
            smw_source h = atomic_load(&g_src[i]);
            float p[3] = {(float)(3 * cos(t + i)), (float)(3 * sin(t + i)), 0.5f};
            smw_source_set_pose(g_r, h, p, ident);
            smw_source_set_gain(g_r, h, 0.5f + 0.4f * (float)sin(t * 3 + i));
        }
        const float sp[3] = {(float)(2 * cos(0.3 * t)), (float)(2 * sin(0.3 * t)), 0.0f};
        smw_source_set_pose(g_r, g_stereo, sp, ident);
        smw_source_set_stereo_width(g_r, g_stereo, (float)(60 + 30 * sin(t)));
        if (it % 10 == 5) {   /* recycle one source: exercises STOP and RESTART on the audio thread */
            int i = (int)((it / 10) % NSRC);
            smw_source old = atomic_load(&g_src[i]), nu = 0;
            smw_source_destroy(g_r, old);
            if (smw_source_create(g_r, &nu) == SMW_SUCCESS) {
                smw_source_set_doppler(g_r, nu, (int)(it & 1));
                atomic_store(&g_src[i], nu);
            }
        }
        atomic_fetch_add(&g_game_ops, 1);
        ++it;
        struct timespec ts = {0, 2000000};
        nanosleep(&ts, NULL);
    }
    return NULL;
}

int main(int argc, char** argv)
{
    long blocks = argc > 1 ? atol(argv[1]) : 300;
    g_r = create_renderer(BLOCK, 64, argc, argv);
    if (!g_r) return 1;
    for (int i = 0; i < NSRC; ++i) {
        smw_source h;
        smw_source_create(g_r, &h);
        atomic_store(&g_src[i], h);
    }
    smw_source_create_stereo(g_r, 60.0f, &g_stereo);
    long before_total = atomic_load(&n_total_process);
    printf("PROCESS_ALLOCS_UNTIL_CREATED %ld\n", before_total);
    pthread_t gt;
    pthread_create(&gt, NULL, game_thread, NULL);

    static float x[BLOCK], xs[2 * BLOCK], out[2 * BLOCK];
    unsigned seed = 5;
    long wr_calls = 0, rd_calls = 0, nonfinite = 0;
    const double period = (double)BLOCK / 48000.0;
    double t0 = t_now();
    for (long n = 0; n < 20 + blocks; ++n) {
        int counting = n >= 20;            /* the first 20 blocks are warm-up */
        for (int k = 0; k < BLOCK; ++k) x[k] = noise(&seed, 0.2f);
        tl_counting = counting;
        for (int i = 0; i < NSRC; ++i) {
            /* a quarter of the sources skip each block (smw_source_skip; what a game does
             * while smw_source_is_virtual says 1), so those calls are counted too */
            int32_t is_virtual = 0;
            smw_source h = atomic_load(&g_src[i]);
            if ((smw_source_is_virtual(g_r, h, &is_virtual) == SMW_SUCCESS && is_virtual) || (i + n) % 4 == 1)
                smw_source_skip(g_r, h, BLOCK);
            else
                smw_source_write(g_r, h, x, BLOCK);
            wr_calls += counting;
        }
        for (int k = 0; k < 2 * BLOCK; ++k) xs[k] = noise(&seed, 0.2f);
        smw_source_write_stereo(g_r, g_stereo, xs, BLOCK);
        smw_render(g_r, out, BLOCK);
        tl_counting = 0;
        rd_calls += counting;
        for (int k = 0; k < 2 * BLOCK; ++k) nonfinite += !isfinite(out[k]);
        t_sleep_until(t0 + (n + 1) * period * 0.25);   /* 4x real time: game ops interleave */
    }
    atomic_store(&g_stop, 1);
    pthread_join(gt, NULL);
    /* a sanity check that the hooks see this thread's own allocations */
    tl_counting = 1;
    void* (*volatile mf)(size_t) = malloc;   /* through a volatile pointer: not elided */
    void (*volatile ff)(void*) = free;
    void* probe = mf(64);
    ff(probe);
    tl_counting = 0;
    printf("WRITE_CALLS %ld\n", wr_calls);
    printf("RENDER_CALLS %ld\n", rd_calls);
    printf("GAME_OPS %ld\n", atomic_load(&g_game_ops));
    printf("NONFINITE %ld\n", nonfinite);
    printf("PROCESS_ALLOCS_DURING_RUN %ld\n", atomic_load(&n_total_process) - before_total);
    /* subtract the probe (1 malloc + 1 free) */
    printf("AUDIO_MALLOC %ld\n", atomic_load(&n_malloc) - 1);
    printf("AUDIO_CALLOC %ld\n", atomic_load(&n_calloc));
    printf("AUDIO_REALLOC %ld\n", atomic_load(&n_realloc));
    printf("AUDIO_FREE %ld\n", atomic_load(&n_free) - 1);
    printf("AUDIO_MEMALIGN %ld\n", atomic_load(&n_memalign));
    printf("PROBE_SEEN %d\n", atomic_load(&n_malloc) >= 1 && atomic_load(&n_free) >= 1);
    smw_renderer_destroy(g_r);
    return 0;
}
