/* Real-time path vs the GIL, in a host that embeds Python itself (an editor with Python
 * scripting): a second thread runs a busy pure-Python loop (holding the GIL, released only
 * at the interpreter's switch interval) while the audio thread renders 16
 * sources in 512-frame blocks at 48 kHz, paced in real time. The host interposes the
 * CPython calls that take the GIL and the pthread calls that wait on a lock, and counts
 * those made on the audio thread inside smw_source_write / smw_render: any such call means
 * the audio thread can wait on another thread, whatever the CPU's speed. Link with
 * -rdynamic so the library's calls resolve to these definitions. Prints KEY value lines.
 * usage: rt_gil <seconds> [--tdw-only] */
#include "common.h"
#include <Python.h>
#include <dlfcn.h>
#include <semaphore.h>
#include <stdatomic.h>

static __thread int tl_counting;
static atomic_long n_gil, n_lock, n_hook_calls;

/* Forward to the next definition (CPython's, glibc's), counting calls on the audio thread. */
#define INTERPOSE(ret, name, counter, params, args)                       \
    ret name params                                                      \
    {                                                                    \
        static ret(*real) params;                                        \
        if (!real) real = (ret(*) params)dlsym(RTLD_NEXT, #name);        \
        atomic_fetch_add_explicit(&n_hook_calls, 1, memory_order_relaxed); \
        if (tl_counting) atomic_fetch_add_explicit(&counter, 1, memory_order_relaxed); \
        return real args;                                                \
    }

INTERPOSE(PyGILState_STATE, PyGILState_Ensure, n_gil, (void), ())
INTERPOSE(void, PyEval_RestoreThread, n_gil, (PyThreadState* t), (t))
INTERPOSE(void, PyEval_AcquireThread, n_gil, (PyThreadState* t), (t))
INTERPOSE(int, pthread_mutex_lock, n_lock, (pthread_mutex_t* m), (m))
INTERPOSE(int, pthread_mutex_timedlock, n_lock, (pthread_mutex_t* m, const struct timespec* t), (m, t))
INTERPOSE(int, pthread_rwlock_rdlock, n_lock, (pthread_rwlock_t* l), (l))
INTERPOSE(int, pthread_rwlock_wrlock, n_lock, (pthread_rwlock_t* l), (l))
INTERPOSE(int, pthread_cond_wait, n_lock, (pthread_cond_t* c, pthread_mutex_t* m), (c, m))
INTERPOSE(int, pthread_cond_timedwait, n_lock, (pthread_cond_t* c, pthread_mutex_t* m, const struct timespec* t),
          (c, m, t))
INTERPOSE(int, sem_wait, n_lock, (sem_t* s), (s))

#define NSRC 16
#define BLOCK 512
static smw_renderer* g_r;
static smw_source g_src[NSRC];
static double g_seconds;
static atomic_int g_py_started;
static long g_py_iters;

static void* python_thread(void* arg)
{
    (void)arg;
    PyGILState_STATE st = PyGILState_Ensure();
    char code[512];
    snprintf(code, sizeof code,
             "import time\n"
             "_t = time.perf_counter(); _n = 0; _acc = 0\n"
             "while time.perf_counter() - _t < %f:\n"
             "    for _i in range(1000): _acc += _i * _i\n"
             "    _n += 1\n"
             "import builtins; builtins._smw_busy_iters = _n\n", g_seconds + 0.5);
    atomic_store(&g_py_started, 1);
    PyRun_SimpleString(code);
    PyObject* b = PyImport_ImportModule("builtins");
    PyObject* n = b ? PyObject_GetAttrString(b, "_smw_busy_iters") : NULL;
    g_py_iters = n ? PyLong_AsLong(n) : -1;
    Py_XDECREF(n);
    Py_XDECREF(b);
    PyGILState_Release(st);
    return NULL;
}

int main(int argc, char** argv)
{
    g_seconds = argc > 1 ? atof(argv[1]) : 3.0;
    Py_InitializeEx(0);    /* the host's own interpreter, without Python's signal handlers */
    PyEval_SaveThread();
    g_r = create_renderer(BLOCK, 64, argc, argv);
    if (!g_r) return 1;
    const float ident[4] = {0, 0, 0, 1};
    for (int i = 0; i < NSRC; ++i) {
        smw_source_create(g_r, &g_src[i]);
        float p[3] = {(float)(2 * cos(i * 0.4)), (float)(2 * sin(i * 0.4)), 0.3f};
        smw_source_set_pose(g_r, g_src[i], p, ident);
    }
    printf("PY_INITIALIZED %d\n", Py_IsInitialized());

    pthread_t pt;
    pthread_create(&pt, NULL, python_thread, NULL);
    while (!atomic_load(&g_py_started)) { struct timespec ts = {0, 1000000}; nanosleep(&ts, NULL); }
    { struct timespec ts = {0, 50000000}; nanosleep(&ts, NULL); }   /* the loop is running */

    int rt = try_realtime_priority();
    const double period = (double)BLOCK / 48000.0;
    long nb = (long)(g_seconds / period);
    double* work = calloc((size_t)nb, sizeof(double));
    float* out = calloc(BLOCK * 2, sizeof(float));
    static float x[NSRC][BLOCK];
    unsigned seed = 3;
    long misses = 0, errors = 0, nonfinite = 0, rendered = 0;

    double energy = 0.0;
    double t0 = t_now();
    for (long n = 0; n < nb; ++n) {
        t_sleep_until(t0 + n * period);
        for (int i = 0; i < NSRC; ++i)
            for (int k = 0; k < BLOCK; ++k) x[i][k] = noise(&seed, 0.1f);
        double a = t_now();
        tl_counting = 1;
        for (int i = 0; i < NSRC; ++i) errors += smw_source_write(g_r, g_src[i], x[i], BLOCK) != SMW_SUCCESS;
        smw_result rc = smw_render(g_r, out, BLOCK);
        tl_counting = 0;
        double b = t_now();
        errors += rc != SMW_SUCCESS;
        rendered += rc == SMW_SUCCESS;
        work[n] = (b - a) * 1e3;
        if (b > t0 + (n + 1) * period) ++misses;
        for (int k = 0; k < 2 * BLOCK; ++k) {
            if (!isfinite(out[k])) ++nonfinite;
            else energy += (double)out[k] * out[k];
        }
    }
    pthread_join(pt, NULL);
    printf("RT_PRIORITY %d\n", rt);
    printf("BLOCKS %ld\nRENDERED %ld\n", nb, rendered);
    printf("AUDIO_GIL_CALLS %ld\nAUDIO_LOCK_CALLS %ld\n", atomic_load(&n_gil), atomic_load(&n_lock));
    printf("HOOK_CALLS %ld\n", atomic_load(&n_hook_calls));   /* > 0: the hooks are live */
    printf("PY_BUSY_ITERS %ld\n", g_py_iters);
    printf("ERRORS %ld\n", errors);
    printf("NONFINITE %ld\n", nonfinite);
    printf("ENERGY %.6g\n", energy);
    printf("MISSES %ld\n", misses);
    printf("P50_MS %.4f\n", percentile(work, nb, 0.50));
    printf("P99_MS %.4f\n", percentile(work, nb, 0.99));
    printf("MAX_MS %.4f\n", work[nb - 1]);
    smw_renderer_destroy(g_r);
    return 0;
}
