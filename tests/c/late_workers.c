/* Worker threads that first run only after smw_renderer_destroy has told them to stop (on a
 * loaded machine the scheduler may start them that late). This host interposes
 * pthread_create and pthread_join (link with -rdynamic so the library's calls resolve to
 * these): every thread the library starts waits, before its own code runs, until the
 * library calls pthread_join, which destroy does only after its stop signal. Each round
 * creates a renderer with 2 workers and destroys it; a worker that then waits for a block
 * keeps destroy in pthread_join for ever (the caller's timeout catches it).
 * Prints ROUNDS, LATE_STARTS (threads held back until a join) and DESTROYED 1.
 * usage: late_workers <rounds> */
#include "common.h"
#include <dlfcn.h>
#include <stdatomic.h>

typedef int (*create_fn)(pthread_t*, const pthread_attr_t*, void* (*)(void*), void*);
typedef int (*join_fn)(pthread_t, void**);

static atomic_int joining;      /* the library has called pthread_join */
static atomic_int late_starts;  /* threads that began their own code after that */

typedef struct { void* (*fn)(void*); void* arg; } held;
static held trampolines[64];
static atomic_int n_trampolines;

static void* late_start(void* p)
{
    held* h = (held*)p;
    while (!atomic_load(&joining)) sched_yield();
    atomic_fetch_add(&late_starts, 1);
    return h->fn(h->arg);
}

int pthread_create(pthread_t* t, const pthread_attr_t* attr, void* (*fn)(void*), void* arg)
{
    create_fn real = (create_fn)dlsym(RTLD_NEXT, "pthread_create");
    held* h = &trampolines[atomic_fetch_add(&n_trampolines, 1) % 64];
    h->fn = fn;
    h->arg = arg;
    return real(t, attr, late_start, h);
}

int pthread_join(pthread_t t, void** ret)
{
    join_fn real = (join_fn)dlsym(RTLD_NEXT, "pthread_join");
    atomic_store(&joining, 1);
    return real(t, ret);
}

int main(int argc, char** argv)
{
    int rounds = argc > 1 ? atoi(argv[1]) : 3;
    for (int k = 0; k < rounds; ++k) {
        atomic_store(&joining, 0);
        smw_renderer_settings s = smw_renderer_settings_default();
        s.max_sources = 8;
        s.max_block_frames = 256;
        s.worker_threads = 2;
        s.enable_corrector = 0;   /* (creation in milliseconds; the workers are the same) */
        smw_renderer* r = NULL;
        smw_result rc = smw_renderer_create(&s, &r);
        if (rc != SMW_SUCCESS) {
            fprintf(stderr, "create: %s\n", smw_last_error(NULL));
            return 2;
        }
        smw_renderer_destroy(r);
    }
    printf("ROUNDS %d\nLATE_STARTS %d\nDESTROYED 1\n", rounds, atomic_load(&late_starts));
    return 0;
}
