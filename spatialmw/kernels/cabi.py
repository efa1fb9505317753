"""C entry points of the engine: numba @cfunc wrappers over caller-owned memory.

``bindings/build_sdk.py`` compiles every function in :data:`ENTRY_POINTS` ahead of time
into the native library under the C name given there (declared in ``bindings/shim.c``).
None takes a GIL or allocates (``carray`` only views the caller's memory).

Real-time path (audio thread)::

    int32_t smwk_render(double *f64, float *f32, int64_t *i64, float *out_lr, int32_t frames);

  or, with worker threads (``bindings/shim.c``), the same block in its three phases: ::

    int32_t smwk_render_begin(double *f64, float *f32, int64_t *i64, int32_t frames);
        (the number of chunks, or -1 for a bad frame count)
    void    smwk_render_chunk(double *f64, float *f32, int64_t *i64, int32_t chunk,
                              int32_t participant);   (any thread; each chunk exactly once)
    void    smwk_render_end(double *f64, float *f32, int64_t *i64, float *out_lr);

    int32_t smwk_write(double *f64, float *f32, int64_t *i64, int32_t slot,
                       const float *samples, int32_t frames);
    int32_t smwk_write_stereo(double *f64, float *f32, int64_t *i64, int32_t slot_l,
                              int32_t slot_r, const float *interleaved_lr, int32_t frames);
    int32_t smwk_skip(double *f64, float *f32, int64_t *i64, int32_t slot_l, int32_t slot_r,
                      int32_t frames);   (slot_r -1: a mono source)
    int32_t smwk_is_virtual(double *f64, int64_t *i64, int32_t slot);

Control path (``smw_renderer_create``; :mod:`.plan`)::

    void    smwk_settings_default(double *settings);
    int32_t smwk_check_model(const double *theta, int64_t n_theta, const int64_t *dims,
                             const double *grid, int64_t n_grid, double head_radius);
    int32_t smwk_plan(const double *settings, const double *theta, int64_t n_theta,
                      const int64_t *dims, const double *grid, int64_t n_grid, int64_t *head);
    int32_t smwk_init(const double *settings, const double *theta, int64_t n_theta,
                      const int64_t *dims, const double *grid, int64_t n_grid,
                      double *f64, float *f32, int64_t *i64);

``dims`` always has ``ibc.DIMS_LEN`` elements, ``head`` ``plan.PLAN_LEN``, ``settings``
``plan.S_LEN``; the int64 pool of ``smwk_init`` starts with ``smwk_plan``'s header.
"""
from numba import carray, cfunc, njit, types

from .ibc import DIMS_LEN
from .layout import (G_FRAMES, H_GLOBAL, H_MAX_BLOCK, H_N_CHUNKS, H_N_F32, H_N_F64, H_N_I64, H_PARTICIPANTS,
                     HEADER_LEN)
from .plan import PLAN_LEN, S_LEN, check_model, init_pools_core, plan_layout, settings_default
from .render import (render_begin_core, render_chunk_core, render_core, render_end_core, skip_core,
                     source_is_virtual, write_core, write_stereo_core)

_f64p = types.CPointer(types.float64)
_f32p = types.CPointer(types.float32)
_i64p = types.CPointer(types.int64)

RENDER_SIG = types.int32(_f64p, _f32p, _i64p, _f32p, types.int32)
BEGIN_SIG = types.int32(_f64p, _f32p, _i64p, types.int32)
CHUNK_SIG = types.void(_f64p, _f32p, _i64p, types.int32, types.int32)
END_SIG = types.void(_f64p, _f32p, _i64p, _f32p)
WRITE_SIG = types.int32(_f64p, _f32p, _i64p, types.int32, _f32p, types.int32)
WRITE_STEREO_SIG = types.int32(_f64p, _f32p, _i64p, types.int32, types.int32, _f32p, types.int32)
SKIP_SIG = types.int32(_f64p, _f32p, _i64p, types.int32, types.int32, types.int32)
IS_VIRTUAL_SIG = types.int32(_f64p, _i64p, types.int32)


@njit(cache=True, inline="always")
def _pools(f64p, f32p, i64p, head):
    """The three pools as arrays, their lengths from the int64 pool's ``head``."""
    return carray(f64p, head[H_N_F64]), carray(f32p, head[H_N_F32]), carray(i64p, head[H_N_I64])


@cfunc(RENDER_SIG, cache=True, nopython=True)
def render_cfunc(f64p, f32p, i64p, outp, frames):
    head = carray(i64p, HEADER_LEN)
    if frames < 1 or frames > head[H_MAX_BLOCK]:
        return 1
    f64, f32, i64 = _pools(f64p, f32p, i64p, head)
    out = carray(outp, 2 * frames)
    return render_core(f64, f32, i64, out, frames)


@cfunc(BEGIN_SIG, cache=True, nopython=True)
def render_begin_cfunc(f64p, f32p, i64p, frames):
    head = carray(i64p, HEADER_LEN)
    if frames < 1 or frames > head[H_MAX_BLOCK]:
        return -1
    f64, f32, i64 = _pools(f64p, f32p, i64p, head)
    return render_begin_core(f64, f32, i64, frames)


@cfunc(CHUNK_SIG, cache=True, nopython=True)
def render_chunk_cfunc(f64p, f32p, i64p, chunk, participant):
    head = carray(i64p, HEADER_LEN)
    if chunk < 0 or chunk >= head[H_N_CHUNKS] or participant < 0 or participant >= head[H_PARTICIPANTS]:
        return
    f64, f32, i64 = _pools(f64p, f32p, i64p, head)
    render_chunk_core(f64, f32, i64, chunk, participant)


@cfunc(END_SIG, cache=True, nopython=True)
def render_end_cfunc(f64p, f32p, i64p, outp):
    head = carray(i64p, HEADER_LEN)
    f64, f32, i64 = _pools(f64p, f32p, i64p, head)
    out = carray(outp, 2 * head[head[H_GLOBAL] + G_FRAMES])
    render_end_core(f64, f32, i64, out)


@cfunc(WRITE_SIG, cache=True, nopython=True)
def write_cfunc(f64p, f32p, i64p, slot, samplesp, frames):
    head = carray(i64p, HEADER_LEN)
    if frames < 0 or frames > head[H_MAX_BLOCK]:
        return 2
    f64, f32, i64 = _pools(f64p, f32p, i64p, head)
    samples = carray(samplesp, frames)
    return write_core(f64, f32, i64, slot, samples, frames)


@cfunc(WRITE_STEREO_SIG, cache=True, nopython=True)
def write_stereo_cfunc(f64p, f32p, i64p, slot_l, slot_r, samplesp, frames):
    head = carray(i64p, HEADER_LEN)
    if frames < 0 or frames > head[H_MAX_BLOCK]:
        return 2
    f64, f32, i64 = _pools(f64p, f32p, i64p, head)
    samples = carray(samplesp, 2 * frames)
    return write_stereo_core(f64, f32, i64, slot_l, slot_r, samples, frames)


@cfunc(SKIP_SIG, cache=True, nopython=True)
def skip_cfunc(f64p, f32p, i64p, slot_l, slot_r, frames):
    head = carray(i64p, HEADER_LEN)
    if frames < 0 or frames > head[H_MAX_BLOCK]:
        return 2
    f64, f32, i64 = _pools(f64p, f32p, i64p, head)
    return skip_core(f64, f32, i64, slot_l, slot_r, frames)


@cfunc(IS_VIRTUAL_SIG, cache=True, nopython=True)
def is_virtual_cfunc(f64p, i64p, slot):
    head = carray(i64p, HEADER_LEN)
    return source_is_virtual(carray(f64p, head[H_N_F64]), carray(i64p, head[H_N_I64]), slot)


PLAN_SIG = types.int32(_f64p, _f64p, types.int64, _i64p, _f64p, types.int64, _i64p)
INIT_SIG = types.int32(_f64p, _f64p, types.int64, _i64p, _f64p, types.int64, _f64p, _f32p, _i64p)
CHECK_SIG = types.int32(_f64p, types.int64, _i64p, _f64p, types.int64, types.float64)


@cfunc(types.void(_f64p), cache=True, nopython=True)
def settings_default_cfunc(settingsp):
    settings_default(carray(settingsp, S_LEN))


@cfunc(CHECK_SIG, cache=True, nopython=True, error_model="numpy")
def check_model_cfunc(thetap, n_theta, dimsp, gridp, n_grid, head_radius):
    return check_model(carray(thetap, n_theta), carray(dimsp, DIMS_LEN), carray(gridp, n_grid),
                       head_radius)


@cfunc(PLAN_SIG, cache=True, nopython=True, error_model="numpy")
def plan_cfunc(settingsp, thetap, n_theta, dimsp, gridp, n_grid, headp):
    return plan_layout(carray(settingsp, S_LEN), carray(thetap, n_theta), carray(dimsp, DIMS_LEN),
                       carray(gridp, n_grid), carray(headp, PLAN_LEN))


@cfunc(INIT_SIG, cache=True, nopython=True, error_model="numpy")
def init_cfunc(settingsp, thetap, n_theta, dimsp, gridp, n_grid, f64p, f32p, i64p):
    head = carray(i64p, HEADER_LEN)
    f64, f32, i64 = _pools(f64p, f32p, i64p, head)
    init_pools_core(carray(settingsp, S_LEN), carray(thetap, n_theta), carray(dimsp, DIMS_LEN),
                    carray(gridp, n_grid), f64, f32, i64)
    return 0


# C name -> cfunc, for the ahead-of-time build
ENTRY_POINTS = {
    "smwk_render": render_cfunc,
    "smwk_render_begin": render_begin_cfunc,
    "smwk_render_chunk": render_chunk_cfunc,
    "smwk_render_end": render_end_cfunc,
    "smwk_write": write_cfunc,
    "smwk_write_stereo": write_stereo_cfunc,
    "smwk_skip": skip_cfunc,
    "smwk_is_virtual": is_virtual_cfunc,
    "smwk_settings_default": settings_default_cfunc,
    "smwk_check_model": check_model_cfunc,
    "smwk_plan": plan_cfunc,
    "smwk_init": init_cfunc,
}
