"""C entry points of the real-time kernels: numba @cfunc wrappers over the pools.

The C shim calls these through function pointers from the audio thread; they take no GIL
and allocate nothing (``carray`` only views the shim's memory)::

    int32_t render(double *f64, float *f32, int64_t *i64, float *out_lr, int32_t frames);
    int32_t write(double *f64, float *f32, int64_t *i64, int32_t slot,
                  const float *samples, int32_t frames);
"""
from numba import carray, cfunc, types

from .layout import H_MAX_BLOCK, H_N_F32, H_N_F64, H_N_I64, HEADER_LEN
from .render import render_core, write_core

_f64p = types.CPointer(types.float64)
_f32p = types.CPointer(types.float32)
_i64p = types.CPointer(types.int64)

RENDER_SIG = types.int32(_f64p, _f32p, _i64p, _f32p, types.int32)
WRITE_SIG = types.int32(_f64p, _f32p, _i64p, types.int32, _f32p, types.int32)


@cfunc(RENDER_SIG, cache=True, nopython=True)
def render_cfunc(f64p, f32p, i64p, outp, frames):
    head = carray(i64p, HEADER_LEN)
    if frames < 1 or frames > head[H_MAX_BLOCK]:
        return 1
    f64 = carray(f64p, head[H_N_F64])
    f32 = carray(f32p, head[H_N_F32])
    i64 = carray(i64p, head[H_N_I64])
    out = carray(outp, 2 * frames)
    return render_core(f64, f32, i64, out, frames)


@cfunc(WRITE_SIG, cache=True, nopython=True)
def write_cfunc(f64p, f32p, i64p, slot, samplesp, frames):
    head = carray(i64p, HEADER_LEN)
    if frames < 0 or frames > head[H_MAX_BLOCK]:
        return 2
    f64 = carray(f64p, head[H_N_F64])
    f32 = carray(f32p, head[H_N_F32])
    i64 = carray(i64p, head[H_N_I64])
    samples = carray(samplesp, frames)
    return write_core(f64, f32, i64, slot, samples, frames)


def kernel_addresses():
    """(render, write) function addresses for the C shim."""
    return render_cfunc.address, write_cfunc.address
