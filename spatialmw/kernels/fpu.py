"""Flush-to-zero for the audio thread: the x86 MXCSR control word, saved and restored.

A float32 operation on a denormal operand (|x| < 1.2e-38) is microcoded on many x86 cores:
on Intel Xeons a block of denormal input rendered 16x slower than normal input. Decaying
signals (reverb tails, fades, filter states ringing out) pass through that range, so every
audio-thread entry point sets FTZ (results that would be denormal become zero) and DAZ
(denormal operands read as zero) for its own duration and restores the caller's control
word on return, as OpenAL Soft's FPU control does: the host's own floating-point settings
(rounding mode, exception masks, its own FTZ choice) are never changed behind its back.

The control word is read and written with LLVM's ``llvm.x86.sse.stmxcsr`` /
``llvm.x86.sse.ldmxcsr``; these are calls with side effects, so LLVM keeps the kernel's
memory traffic between them.
"""
from llvmlite import ir
from numba import njit, types
from numba.core import cgutils
from numba.extending import intrinsic

MXCSR_DAZ = 0x0040   # denormals are zero (operands)
MXCSR_FTZ = 0x8000   # flush to zero (results)


def _mxcsr_call(builder, name, ptr):
    i8p = ir.IntType(8).as_pointer()
    fnty = ir.FunctionType(ir.VoidType(), [i8p])
    fn = cgutils.get_or_insert_function(builder.module, fnty, name)
    builder.call(fn, [builder.bitcast(ptr, i8p)])


@intrinsic
def get_mxcsr(typingctx):
    """The current MXCSR control word (uint32)."""
    def codegen(context, builder, signature, args):
        slot = cgutils.alloca_once(builder, ir.IntType(32))
        _mxcsr_call(builder, "llvm.x86.sse.stmxcsr", slot)
        return builder.load(slot)

    return types.uint32(), codegen


@intrinsic
def set_mxcsr(typingctx, word):
    """Load ``word`` into MXCSR."""
    if not isinstance(word, types.Integer):
        return None

    def codegen(context, builder, signature, args):
        slot = cgutils.alloca_once(builder, ir.IntType(32))
        builder.store(context.cast(builder, args[0], signature.args[0], types.uint32), slot)
        _mxcsr_call(builder, "llvm.x86.sse.ldmxcsr", slot)
        return context.get_dummy_value()

    return types.void(word), codegen


@njit(cache=True)
def enter_flush_to_zero():
    """Set FTZ and DAZ; returns the caller's control word for :func:`leave_flush_to_zero`."""
    saved = get_mxcsr()
    set_mxcsr(saved | MXCSR_DAZ | MXCSR_FTZ)
    return saved


@njit(cache=True)
def leave_flush_to_zero(saved):
    """Restore the control word :func:`enter_flush_to_zero` returned."""
    set_mxcsr(saved)
