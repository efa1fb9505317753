"""Python bindings to the shipped native library (cffi ABI mode: nothing is compiled).

Scripts and tests drive exactly the binary a game links (``build/lib/libspatialmw.so`` from
``make lib``, or any SDK's ``lib/libspatialmw.so.<major>``)::

    >>> from spatialmw.native import Renderer
    >>> with Renderer(max_sources=4, max_block=512) as r:           # doctest: +SKIP
    ...     src = r.add_source()
    ...     r.set_source_pose(src, (0.0, 2.0, 0.0))                   # 2 m to the left
    ...     r.write(src, samples)                                     # float32 mono
    ...     out = r.render(512)                                       # (512, 2) float32

The declarations come from ``include/spatialmw.h`` itself (preprocessor lines dropped), so
they cannot drift from the library. Every failing call raises :class:`NativeError` with the
result code and ``smw_last_error`` text.
"""
from __future__ import annotations

import os
import re
from pathlib import Path

import numpy as np
from cffi import FFI

from . import defaults as D
from .geometry import COORDINATE_SYSTEM_IDS, DISTANCE_MODELS  # DISTANCE_MODELS: smw_distance_model's values
from .kernels.corrector import EQUALIZATIONS

ROOT = Path(__file__).resolve().parents[1]
HEADER = ROOT / "include" / "spatialmw.h"
DEFAULT_LIB = ROOT / "build" / "lib" / "libspatialmw.so"
COORDS = {name: i for i, name in enumerate(COORDINATE_SYSTEM_IDS)}   # smw_coordinate_system

_loaded: dict[str, tuple] = {}


class NativeError(RuntimeError):
    """A call into the native library failed; ``code`` is its smw_result."""

    def __init__(self, code: int, message: str):
        super().__init__(f"{message} (smw_result {code})")
        self.code = code


def header_cdef(text: str) -> str:
    """The header's declarations in the subset of C that cffi's cdef parses."""
    text = re.sub(r"/\*.*?\*/", "", text, flags=re.S).replace("\\\n", " ")
    # preprocessor lines go, and with them the C++ guard's `extern "C" {` ... `}` pair
    lines = [line for line in text.splitlines()
             if not line.lstrip().startswith("#") and line.strip() not in ('extern "C" {', "}")]
    return "\n".join(lines).replace("SMW_API", "")


def load(path=None):
    """(ffi, lib) for the library at ``path`` (default: ``build/lib/libspatialmw.so``)."""
    p = str(Path(os.fspath(path)).resolve()) if path is not None else str(DEFAULT_LIB)
    if p not in _loaded:
        if not os.path.exists(p):
            raise NativeError(-1, f"native library {p} not found (build it with `make lib`)")
        ffi = FFI()
        ffi.cdef(header_cdef(HEADER.read_text()))
        _loaded[p] = (ffi, ffi.dlopen(p))
    return _loaded[p]


class Renderer:
    """One ``smw_renderer``. Positions in the chosen coordinate system; not thread-safe
    from Python (the C library's game/audio thread split is for C hosts)."""

    def __init__(self, sample_rate: int = D.SAMPLE_RATE, max_sources: int = D.MAX_SOURCES,
                 max_block: int = D.MAX_BLOCK, model=None, coordinate_system: str = D.COORDINATE_SYSTEM,
                 corrector: bool = D.CORRECTOR, table_step: float = D.TABLE_STEP_DEG,
                 speed_of_sound: float = D.SPEED_OF_SOUND, equalization: str = D.EQUALIZATION,
                 hop: int = D.HOP_FRAMES, full_sources: int = D.FULL_SOURCES,
                 lod_hysteresis_db: float = D.LOD_HYSTERESIS_DB, worker_threads: int = D.WORKER_THREADS,
                 log=None, lib=None):
        """``log(level, message)``, if given, is the settings' log callback (creation and
        failing game-thread calls; never called from ``write``/``render``).
        ``worker_threads`` (0..8): threads started here to share each block's per-source work
        with the thread calling :meth:`render` (the output is the same; the header's
        ``smw_renderer_settings.worker_threads``)."""
        self.ffi, self.lib = load(lib)
        s = self.lib.smw_renderer_settings_default()
        s.sample_rate, s.max_sources, s.max_block_frames = sample_rate, max_sources, max_block
        s.coordinate_system = COORDS[coordinate_system]
        s.enable_corrector = int(bool(corrector))
        s.corrector_table_step_deg = table_step
        s.speed_of_sound = speed_of_sound
        s.hop_frames = hop
        s.full_sources = full_sources
        s.lod_hysteresis_db = lod_hysteresis_db
        s.worker_threads = worker_threads
        s.equalization = EQUALIZATIONS.index(equalization) if equalization in EQUALIZATIONS else -1
        self._path = self.ffi.new("char[]", os.fsencode(model)) if model is not None else self.ffi.NULL
        s.model_path = self._path
        if log is not None:  # kept alive with the renderer: the library holds the pointer
            self._log = self.ffi.callback("smw_log_callback",
                                          lambda user, level, text: log(int(level), self.ffi.string(text).decode()))
            s.log_callback = self._log
        out = self.ffi.new("smw_renderer**")
        rc = self.lib.smw_renderer_create(self.ffi.new("smw_renderer_settings*", s), out)
        if rc != 0:
            raise NativeError(rc, self.ffi.string(self.lib.smw_last_error(self.ffi.NULL)).decode())
        self._r = out[0]
        self.max_block = max_block
        self._out = np.zeros(2 * max_block, dtype=np.float32)

    def _check(self, rc: int) -> None:
        if rc != 0:
            raise NativeError(rc, self.ffi.string(self.lib.smw_last_error(self._r)).decode())

    @property
    def latency_frames(self) -> int:
        n = self.ffi.new("int32_t*")
        self._check(self.lib.smw_renderer_get_latency(self._r, n))
        return int(n[0])

    def add_source(self, gain: float = D.SOURCE_GAIN, distance_model: str = D.SOURCE_DISTANCE_MODEL,
                   min_distance: float = D.SOURCE_MIN_DISTANCE, max_distance: float = D.SOURCE_MAX_DISTANCE,
                   rolloff: float = D.SOURCE_ROLLOFF, doppler: bool = D.SOURCE_DOPPLER,
                   spatialize: bool = D.SOURCE_SPATIALIZE) -> int:
        """smw_source_create, then the setters for the arguments (a refused one destroys the
        source again and raises, as ``Engine.add_source`` does)."""
        h = self.ffi.new("smw_source*")
        self._check(self.lib.smw_source_create(self._r, h))
        return self._configure(int(h[0]), gain, distance_model, min_distance, max_distance, rolloff, doppler,
                               spatialize)

    def add_stereo_source(self, width: float = D.SOURCE_STEREO_WIDTH_DEG, gain: float = D.SOURCE_GAIN,
                          distance_model: str = D.SOURCE_DISTANCE_MODEL, min_distance: float = D.SOURCE_MIN_DISTANCE,
                          max_distance: float = D.SOURCE_MAX_DISTANCE, rolloff: float = D.SOURCE_ROLLOFF,
                          doppler: bool = D.SOURCE_DOPPLER, spatialize: bool = D.SOURCE_SPATIALIZE) -> int:
        """smw_source_create_stereo (two voices, two slots; as ``Engine.add_stereo_source``),
        then the setters for the other arguments. :meth:`write` takes (frames, 2) arrays for it."""
        h = self.ffi.new("smw_source*")
        self._check(self.lib.smw_source_create_stereo(self._r, width, h))
        return self._configure(int(h[0]), gain, distance_model, min_distance, max_distance, rolloff, doppler,
                               spatialize)

    def _configure(self, src, gain, distance_model, min_distance, max_distance, rolloff, doppler, spatialize):
        """The setters of a new source's arguments; a refused one destroys it and raises."""
        try:
            self._check(self.lib.smw_source_set_gain(self._r, src, gain))
            self._check(self.lib.smw_source_set_distance_model(
                self._r, src, DISTANCE_MODELS[distance_model], min_distance, max_distance, rolloff))
            self._check(self.lib.smw_source_set_doppler(self._r, src, int(doppler)))
            self._check(self.lib.smw_source_set_spatialize(self._r, src, int(spatialize)))
        except NativeError:
            self.lib.smw_source_destroy(self._r, src)
            raise
        return src

    def remove_source(self, src: int) -> None:
        self._check(self.lib.smw_source_destroy(self._r, src))

    def set_source_paused(self, src: int, paused: bool) -> None:
        """Pause: the source's stream time stops, its queued audio plays on resume."""
        self._check(self.lib.smw_source_set_paused(self._r, src, int(paused)))

    def source_status(self, src: int) -> int:
        """The SMW_SOURCE_STATUS_* bits (layout.STATUS_*, STATUS_VIRTUAL included: see
        Engine.source_status) since the last query; clears them."""
        flags = self.ffi.new("uint32_t*")
        self._check(self.lib.smw_source_get_status(self._r, src, flags))
        return int(flags[0])

    def set_master_gain(self, gain: float) -> None:
        self._check(self.lib.smw_renderer_set_master_gain(self._r, gain))

    def set_paused(self, paused: bool) -> None:
        """Pause-all (smw_renderer_set_paused)."""
        self._check(self.lib.smw_renderer_set_paused(self._r, int(paused)))

    def model_info(self) -> dict:
        """smw_renderer_get_model_info as a dict of its fields (without ``size``)."""
        info = self.ffi.new("smw_model_info*")
        info.size = self.ffi.sizeof("smw_model_info")
        self._check(self.lib.smw_renderer_get_model_info(self._r, info))
        return {name: getattr(info, name) for name, _ in self.ffi.typeof("smw_model_info").fields
                if name != "size"}

    def set_listener_pose(self, position, quaternion=(0.0, 0.0, 0.0, 1.0)) -> None:
        self._check(self.lib.smw_listener_set_pose(self._r, list(map(float, position)),
                                                   list(map(float, quaternion))))

    def set_source_pose(self, src: int, position, quaternion=(0.0, 0.0, 0.0, 1.0)) -> None:
        self._check(self.lib.smw_source_set_pose(self._r, src, list(map(float, position)),
                                                 list(map(float, quaternion))))

    def set_source_cone(self, src: int, inner_deg: float = 360.0, outer_deg: float = 360.0,
                        outer_gain: float = 0.0, outer_hf_gain: float = 1.0) -> None:
        """As :meth:`spatialmw.engine.Engine.set_source_cone` (smw_source_set_cone)."""
        self._check(self.lib.smw_source_set_cone(self._r, src, inner_deg, outer_deg, outer_gain, outer_hf_gain))

    def set_source_transmission(self, src: int, low: float = 1.0, mid: float = 1.0, high: float = 1.0) -> None:
        """smw_source_set_transmission: occlusion as three band gains."""
        self._check(self.lib.smw_source_set_transmission(self._r, src, low, mid, high))

    def set_source_air_absorption(self, src: int, factor: float) -> None:
        """smw_source_set_air_absorption."""
        self._check(self.lib.smw_source_set_air_absorption(self._r, src, factor))

    def set_source_spread(self, src: int, degrees: float) -> None:
        """smw_source_set_spread."""
        self._check(self.lib.smw_source_set_spread(self._r, src, degrees))

    def set_source_stereo_width(self, src: int, degrees: float) -> None:
        """smw_source_set_stereo_width (a stereo source only)."""
        self._check(self.lib.smw_source_set_stereo_width(self._r, src, degrees))

    def set_source_priority(self, src: int, priority: float) -> None:
        """smw_source_set_priority (level-of-detail ranking weight, 0..1e6, default 1)."""
        self._check(self.lib.smw_source_set_priority(self._r, src, priority))

    def set_source_reverb_send(self, src: int, send: float) -> None:
        """smw_source_set_reverb_send."""
        self._check(self.lib.smw_source_set_reverb_send(self._r, src, send))

    def set_reverb(self, decay_time: float = 1.5, pre_delay: float = 0.02, hf_ratio: float = 0.5,
                   wet_gain: float = 1.0) -> None:
        """smw_renderer_set_reverb."""
        s = self.lib.smw_reverb_settings_default()
        s.decay_time_s, s.pre_delay_s, s.hf_decay_ratio, s.wet_gain = decay_time, pre_delay, hf_ratio, wet_gain
        self._check(self.lib.smw_renderer_set_reverb(self._r, self.ffi.new("smw_reverb_settings*", s)))

    def teleport_source(self, src: int) -> None:
        """smw_source_teleport: the source's next pose is a jump (as ``Engine.teleport_source``)."""
        self._check(self.lib.smw_source_teleport(self._r, src))

    def set_listener_velocity(self, velocity) -> None:
        self._check(self.lib.smw_listener_set_velocity(self._r, list(map(float, velocity))))

    def set_source_velocity(self, src: int, velocity) -> None:
        self._check(self.lib.smw_source_set_velocity(self._r, src, list(map(float, velocity))))

    def write(self, src: int, samples) -> None:
        """Mono samples (1-D) through smw_source_write, (frames, 2) through
        smw_source_write_stereo (interleaved L, R); the library refuses the call that does not
        match the source (SMW_ERROR_CHANNEL_MISMATCH)."""
        x = np.ascontiguousarray(samples, dtype=np.float32)
        write = self.lib.smw_source_write_stereo if x.ndim == 2 else self.lib.smw_source_write
        self._check(write(self._r, src, self.ffi.from_buffer("float[]", x), x.shape[0]))

    def skip(self, src: int, frames: int) -> None:
        """smw_source_skip: ``frames`` of silence queued without samples (Engine.skip)."""
        self._check(self.lib.smw_source_skip(self._r, src, int(frames)))

    def is_virtual(self, src: int) -> bool:
        """smw_source_is_virtual (Engine.is_virtual)."""
        v = self.ffi.new("int32_t*")
        self._check(self.lib.smw_source_is_virtual(self._r, src, v))
        return bool(v[0])

    def render(self, frames: int) -> np.ndarray:
        """``frames`` stereo frames as a new (frames, 2) float32 array."""
        self._check(self.lib.smw_render(self._r, self.ffi.from_buffer("float[]", self._out), int(frames)))
        return self._out[:2 * frames].reshape(frames, 2).copy()

    def close(self) -> None:
        if getattr(self, "_r", None) is not None:
            self.lib.smw_renderer_destroy(self._r)
            self._r = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def __del__(self):
        self.close()
