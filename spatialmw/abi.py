"""Python side of the C library's control path (called by the embedded init code).

``bindings/build_lib.py`` embeds CPython in ``libspatialmw.so``; ``smw_renderer_create``
calls, through cffi ``def_extern`` functions, :func:`create_layout` (validate the settings,
load the model, plan the pools, compile/load the kernels) and then :func:`init_pools` (fill
the pools the C shim allocated). After that the renderer never enters Python: the C shim
calls the numba ``@cfunc`` kernels directly.

Every function here turns each exception into an ``smw_result`` code plus message written
into the C ``smw_py_args`` struct; none may raise back into cffi (that would print a
traceback and return 0, which the shim would misread).
"""
from __future__ import annotations

import itertools
import threading
import traceback

import numpy as np

# smw_result codes (include/spatialmw.h)
SMW_SUCCESS = 0
SMW_ERROR_INVALID_ARGUMENT = 1
SMW_ERROR_UNSUPPORTED_SAMPLE_RATE = 5
SMW_ERROR_MODEL_LOAD = 7
SMW_ERROR_PYTHON_INIT = 10
SMW_ERROR_OUT_OF_MEMORY = 11
SMW_ERROR_INTERNAL = 14

_lock = threading.Lock()
_pending: dict[int, object] = {}   # token -> EngineLayout between the two create steps
_tokens = itertools.count(1)
_kernels: tuple[int, int] | None = None


def _report(ffi, args, code: int, text: str) -> int:
    data = str(text).encode("utf-8", "replace")[: ffi.sizeof(args.message) - 1] + b"\0"
    ffi.memmove(args.message, data, len(data))
    args.result = code
    return code


def _classify(exc: BaseException) -> int:
    """Map an exception from the engine to an smw_result code."""
    from .engine import EngineConfigError
    try:
        from .model import ModelError
    except Exception:  # noqa: BLE001
        ModelError = ()  # type: ignore[assignment]
    if ModelError and isinstance(exc, ModelError):
        return SMW_ERROR_MODEL_LOAD
    if isinstance(exc, EngineConfigError):
        return SMW_ERROR_UNSUPPORTED_SAMPLE_RATE if "sample rate" in str(exc) else SMW_ERROR_INVALID_ARGUMENT
    if isinstance(exc, (FileNotFoundError, IsADirectoryError, PermissionError)):
        return SMW_ERROR_MODEL_LOAD
    if isinstance(exc, MemoryError):
        return SMW_ERROR_OUT_OF_MEMORY
    if isinstance(exc, ImportError):
        return SMW_ERROR_PYTHON_INIT
    if isinstance(exc, ValueError):
        return SMW_ERROR_INVALID_ARGUMENT
    return SMW_ERROR_INTERNAL


def kernel_addresses() -> tuple[int, int]:
    """(render, write) @cfunc addresses; compiled (or loaded from numba's cache) once."""
    global _kernels
    with _lock:
        if _kernels is None:
            from .kernels.cabi import kernel_addresses as _addrs
            _kernels = tuple(int(a) for a in _addrs())
        return _kernels


def create_layout(ffi, args) -> int:
    """Step 1 of smw_renderer_create: settings -> layout (sizes, offsets, kernels)."""
    try:
        from .engine import EQUALIZATIONS, EngineConfig, build_engine_layout
        model_path = None
        if args.model_path != ffi.NULL:
            model_path = ffi.string(args.model_path).decode("utf-8", "surrogateescape")
        cfg = EngineConfig(sample_rate=int(args.sample_rate), max_sources=int(args.max_sources),
                           max_block=int(args.max_block), model_path=model_path,
                           ibc=bool(args.ibc), ibc_table_step=float(args.table_step),
                           speed_of_sound=float(args.speed_of_sound),
                           equalization=EQUALIZATIONS[int(args.equalization)])
        layout = build_engine_layout(cfg)
        render_addr, write_addr = kernel_addresses()
    except BaseException as exc:  # noqa: BLE001
        try:
            code = _classify(exc)
        except BaseException:  # noqa: BLE001
            code = SMW_ERROR_PYTHON_INIT
        text = f"{type(exc).__name__}: {exc}"
        if code == SMW_ERROR_INTERNAL:
            text += "\n" + traceback.format_exc(limit=6)
        return _report(ffi, args, code, text)
    token = next(_tokens)
    with _lock:
        _pending[token] = layout
    args.token = token
    args.n_f64, args.n_f32, args.n_i64 = int(layout.n_f64), int(layout.n_f32), int(layout.n_i64)
    args.off_listener = int(layout.listener)
    args.off_source_pose = int(layout.source_pose)
    args.off_source_params = int(layout.source_params)
    args.off_source_control = int(layout.source_control)
    args.latency_frames = int(layout.latency_frames)
    args.render_addr, args.write_addr = render_addr, write_addr
    return _report(ffi, args, SMW_SUCCESS, "")


def init_pools(ffi, args, f64p, f32p, i64p) -> int:
    """Step 2: fill the pools the shim allocated (zeroed), then forget the layout."""
    with _lock:
        layout = _pending.pop(int(args.token), None)
    if layout is None:
        return _report(ffi, args, SMW_ERROR_INTERNAL, "init_pools: unknown layout token")
    try:
        from .engine import init_pools as _init
        f64 = np.frombuffer(ffi.buffer(f64p, layout.n_f64 * 8), dtype=np.float64)
        f32 = np.frombuffer(ffi.buffer(f32p, max(layout.n_f32, 1) * 4), dtype=np.float32)[: layout.n_f32]
        i64 = np.frombuffer(ffi.buffer(i64p, layout.n_i64 * 8), dtype=np.int64)
        _init(layout, f64, f32, i64)
    except BaseException as exc:  # noqa: BLE001
        try:
            code = _classify(exc)
        except BaseException:  # noqa: BLE001
            code = SMW_ERROR_INTERNAL
        return _report(ffi, args, code, f"{type(exc).__name__}: {exc}")
    return _report(ffi, args, SMW_SUCCESS, "")


def release(ffi, args) -> None:
    """Forget a layout whose create failed between the two steps."""
    with _lock:
        _pending.pop(int(args.token), None)
