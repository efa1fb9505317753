/*
 * rt_stubs.c -- stand-ins for the symbols numba-compiled code references on its exception
 * path (Python error objects, the GIL, numba's runtime allocator). The ahead-of-time
 * kernels (bindings/build_sdk.py) never allocate and never raise on a normal path: every
 * entry point checks its sizes first. Should one raise anyway (a kernel bug), these record
 * it in smw__kernel_fault, which smw_renderer_create checks after the control-plane calls,
 * instead of touching a Python runtime that does not exist.
 *
 * All symbols here are hidden by the library's export list (only smw_* is exported).
 */
#include <stddef.h>
#include <stdint.h>

_Thread_local int smw__kernel_fault;

/* data symbols: numba stores exception classes as pointers to these */
void* PyExc_RuntimeError;
void* PyExc_StopIteration;
void* PyExc_SystemError;

static void fault(void) { smw__kernel_fault = 1; }

int numba_gil_ensure(void) { fault(); return 0; }
void numba_gil_release(void* state) { (void)state; }
void numba_do_raise(void* excinfo) { (void)excinfo; fault(); }
void* numba_unpickle(const char* data, int n, const char* hash) { (void)data; (void)n; (void)hash; fault(); return NULL; }
void* numba_runtime_build_excinfo_struct(void* a, void* b) { (void)a; (void)b; fault(); return NULL; }
void PyErr_Clear(void) {}
void PyErr_SetNone(void* t) { (void)t; fault(); }
void PyErr_SetString(void* t, const char* s) { (void)t; (void)s; fault(); }
void PyErr_WriteUnraisable(void* o) { (void)o; fault(); }
void* PyBytes_FromStringAndSize(const char* s, ptrdiff_t n) { (void)s; (void)n; return NULL; }
void* PyUnicode_FromString(const char* s) { (void)s; return NULL; }
void Py_DecRef(void* o) { (void)o; }
/* numba's reference counting reaches these only for arrays it allocated itself */
void NRT_MemInfo_call_dtor(void* mi) { (void)mi; fault(); }
void NRT_Free(void* p) { (void)p; fault(); }
