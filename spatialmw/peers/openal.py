"""OpenAL Soft's own HRTF renderer as a peer, rendered into memory (ALC_SOFT_loopback).

pyopenal does not wrap ALC_SOFT_loopback / ALC_SOFT_HRTF, so this module drives the
library through :mod:`spatialmw.openal_binding` (the binding live playback uses too).

* A loopback device never touches an audio device: we pull float32 stereo frames out
  of it with ``alcRenderSamplesSOFT``.
* Everything that matters is set through context attributes instead of alsoft.conf:
  sample rate, stereo float output, HRTF on (a specific HRTF picked by name, by default
  ``default-<rate>`` from Debian's libopenal-data, i.e. ``default-48000.mhr`` at 48 kHz),
  output limiter off. Sources use ``AL_SOURCE_RELATIVE`` and the distance model is
  ``AL_NONE`` so level comparisons with other renderers are fair. OpenAL Soft still reads
  alsoft.conf / ``ALSOFT_CONF`` for options without an attribute (e.g. ``hrtf-mode``,
  resampler); the defaults (full per-source HRTF) are what the benchmarks assume.
* Positions are given in spatialmw's native frame (+x forward, +y left, +z up, metres;
  listener at the origin facing +x) and converted to OpenAL's (+x right, +y up, -z
  forward): ``openal = (-y, z, -x)``.

Note OpenAL Soft's HRTF data set is diffuse-field equalised, which is why the evaluation
reports both ``metrics.lsd_db`` and ``metrics.lsd_eq_db`` (docs/EVALUATION.md).
"""
from __future__ import annotations

import ctypes
import math
import time

import numpy as np

from ..openal_binding import (ALC_FALSE, ALC_FLOAT_SOFT, ALC_FORMAT_CHANNELS_SOFT,
                               ALC_FORMAT_TYPE_SOFT, ALC_FREQUENCY,
                               ALC_HRTF_ENABLED_SOFT, ALC_HRTF_ID_SOFT, ALC_HRTF_SOFT,
                               ALC_HRTF_SPECIFIER_SOFT, ALC_HRTF_STATUS_SOFT,
                               ALC_MONO_SOURCES, ALC_NUM_HRTF_SPECIFIERS_SOFT,
                               ALC_OUTPUT_LIMITER_SOFT, ALC_STEREO_SOFT,
                               ALC_STEREO_SOURCES, ALC_TRUE, AL_BUFFER,
                               AL_BUFFERS_PROCESSED, AL_FORMAT_MONO_FLOAT32, AL_GAIN,
                               AL_NONE, AL_ORIENTATION, AL_POSITION, AL_SOURCE_RELATIVE,
                               AL_TRUE, AL_VELOCITY, HRTF_STATUS_NAMES, OpenALError,
                               library_path, load_library)

# the CLI's `info` reports which library file was loaded
_library_path = library_path

__all__ = ["OpenALError", "OpenALLoopback", "load_library", "native_to_openal"]


def native_to_openal(p) -> np.ndarray:
    """spatialmw native (+x fwd, +y left, +z up) -> OpenAL (+x right, +y up, -z fwd)."""
    p = np.asarray(p, dtype=np.float64)
    return np.stack([-p[..., 1], p[..., 2], -p[..., 0]], axis=-1)


class OpenALLoopback:
    """An OpenAL Soft loopback device + context rendering float32 stereo into memory.

    >>> with OpenALLoopback(48000) as al:                         # doctest: +SKIP
    ...     out = al.render([mono], [np.array([0.0, 2.0, 0.0])])  # source 2 m to the left

    ``hrtf_name`` tells which HRTF OpenAL Soft loaded; ``hrtf_preference`` (default
    ``"default-<sample_rate>"``) picks it by name among ALC_HRTF_SPECIFIER_SOFT entries.
    """

    def __init__(self, sample_rate: int = 48000, hrtf: bool = True, max_sources: int = 256,
                 hrtf_preference: str | None = None, distance_model: int = AL_NONE):
        if not isinstance(sample_rate, (int, np.integer)) or not 8000 <= sample_rate <= 192000:
            raise ValueError(f"unsupported sample rate {sample_rate!r}")
        if not 1 <= int(max_sources) <= 4096:
            raise ValueError(f"max_sources must be in 1..4096, got {max_sources}")
        self.sample_rate = int(sample_rate)
        self.max_sources = int(max_sources)
        self.hrtf_requested = bool(hrtf)
        self.hrtf_name: str | None = None
        self.hrtf_status: int | None = None
        self.available_hrtfs: list[str] = []
        self._lib = lib = load_library()
        self._dev = None
        self._ctx = None
        for fn in ("alcLoopbackOpenDeviceSOFT", "alcRenderSamplesSOFT",
                   "alcIsRenderFormatSupportedSOFT", "alcGetStringiSOFT"):
            if not hasattr(lib, fn):
                raise OpenALError(f"{lib.path} lacks {fn} (ALC_SOFT_loopback / ALC_SOFT_HRTF)")
        self._dev = lib.alcLoopbackOpenDeviceSOFT(None)
        if not self._dev:
            raise OpenALError("alcLoopbackOpenDeviceSOFT failed")
        try:
            self._open_context(hrtf_preference, distance_model)
        except BaseException:
            self.close()
            raise

    # ------------------------------------------------------------------ setup / teardown
    def _get_int(self, param: int) -> int:
        v = ctypes.c_int(0)
        self._lib.alcGetIntegerv(self._dev, param, 1, ctypes.byref(v))
        return int(v.value)

    def _open_context(self, hrtf_preference, distance_model):
        lib, dev = self._lib, self._dev
        if not lib.alcIsExtensionPresent(dev, b"ALC_SOFT_HRTF") and self.hrtf_requested:
            raise OpenALError("OpenAL device lacks ALC_SOFT_HRTF")
        if not lib.alcIsRenderFormatSupportedSOFT(dev, self.sample_rate, ALC_STEREO_SOFT,
                                                  ALC_FLOAT_SOFT):
            raise OpenALError(f"loopback cannot render float32 stereo at {self.sample_rate} Hz")
        n = self._get_int(ALC_NUM_HRTF_SPECIFIERS_SOFT)
        self.available_hrtfs = [
            (lib.alcGetStringiSOFT(dev, ALC_HRTF_SPECIFIER_SOFT, i) or b"").decode("utf-8", "replace")
            for i in range(n)]
        attrs = [ALC_FREQUENCY, self.sample_rate,
                 ALC_FORMAT_CHANNELS_SOFT, ALC_STEREO_SOFT,
                 ALC_FORMAT_TYPE_SOFT, ALC_FLOAT_SOFT,
                 ALC_HRTF_SOFT, ALC_TRUE if self.hrtf_requested else ALC_FALSE,
                 ALC_OUTPUT_LIMITER_SOFT, ALC_FALSE,
                 ALC_MONO_SOURCES, self.max_sources,
                 ALC_STEREO_SOURCES, 1]
        if self.hrtf_requested:
            want = hrtf_preference or f"default-{self.sample_rate}"
            ids = [i for i, s in enumerate(self.available_hrtfs) if want in s]
            if ids:
                attrs += [ALC_HRTF_ID_SOFT, ids[0]]
            elif hrtf_preference is not None:
                raise OpenALError(f"no HRTF named like {want!r}; available: {self.available_hrtfs}")
        attrs.append(0)
        arr = (ctypes.c_int * len(attrs))(*attrs)
        self._ctx = lib.alcCreateContext(dev, arr)
        if not self._ctx:
            raise OpenALError(f"alcCreateContext failed (ALC error 0x{lib.alcGetError(dev):x})")
        if not lib.alcMakeContextCurrent(self._ctx):
            raise OpenALError("alcMakeContextCurrent failed")
        self.hrtf_status = self._get_int(ALC_HRTF_STATUS_SOFT)
        if self.hrtf_requested:
            if self.hrtf_status != ALC_HRTF_ENABLED_SOFT:
                raise OpenALError(
                    "OpenAL Soft could not enable HRTF (status "
                    f"{HRTF_STATUS_NAMES.get(self.hrtf_status, self.hrtf_status)}); available "
                    f"HRTFs at {self.sample_rate} Hz: {self.available_hrtfs or 'none'} "
                    "(install libopenal-data)")
            name = lib.alcGetString(dev, ALC_HRTF_SPECIFIER_SOFT)
            self.hrtf_name = name.decode("utf-8", "replace") if name else None
        lib.alDistanceModel(int(distance_model))
        lib.alListener3f(AL_POSITION, 0.0, 0.0, 0.0)
        lib.alListener3f(AL_VELOCITY, 0.0, 0.0, 0.0)
        ori = (ctypes.c_float * 6)(0.0, 0.0, -1.0, 0.0, 1.0, 0.0)  # at -z, up +y
        lib.alListenerfv(AL_ORIENTATION, ori)
        lib.alListenerf(AL_GAIN, 1.0)
        self._check("context setup")

    def _check(self, what: str):
        err = self._lib.alGetError()
        if err:
            raise OpenALError(f"OpenAL error 0x{err:x} during {what}")

    def close(self):
        lib = self._lib
        if self._ctx:
            if lib.alcGetCurrentContext() == self._ctx:
                lib.alcMakeContextCurrent(None)
            lib.alcDestroyContext(self._ctx)
            self._ctx = None
        if self._dev:
            lib.alcCloseDevice(self._dev)
            self._dev = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def __del__(self):
        try:
            self.close()
        except Exception:
            pass

    # --------------------------------------------------------------------------- render
    def _validate(self, monos, positions, block, tail):
        if not isinstance(block, (int, np.integer)) or not 1 <= block <= 1 << 16:
            raise ValueError(f"block must be an int in 1..65536, got {block!r}")
        if not isinstance(tail, (int, np.integer)) or tail < 0:
            raise ValueError(f"tail must be a non-negative int, got {tail!r}")
        if isinstance(monos, np.ndarray):
            raise ValueError("monos must be a list of 1-D arrays (one per source)")
        monos = list(monos)
        positions = list(positions)
        if len(monos) != len(positions):
            raise ValueError(f"{len(monos)} signals but {len(positions)} positions")
        if not monos:
            raise ValueError("no sources")
        if len(monos) > self.max_sources:
            raise ValueError(f"{len(monos)} sources exceed max_sources={self.max_sources}")
        out_m = []
        for i, m in enumerate(monos):
            a = np.asarray(m)
            if a.ndim != 1:
                raise ValueError(f"source {i}: expected a mono 1-D array, got shape {a.shape}")
            if not np.issubdtype(a.dtype, np.number):
                raise ValueError(f"source {i}: non-numeric samples ({a.dtype})")
            a = a.astype(np.float32)
            if not np.all(np.isfinite(a)):
                raise ValueError(f"source {i}: samples contain NaN or Inf")
            out_m.append(a)
        n = max(a.size for a in out_m)
        if n == 0:
            raise ValueError("all sources are empty")
        n_total = n + int(tail)
        n_blocks = -(-n_total // block)
        out_p = []
        for i, p in enumerate(positions):
            q = np.asarray(p, dtype=np.float64)
            if q.shape == (3,):
                q = np.broadcast_to(q, (n_blocks, 3))
            elif q.ndim != 2 or q.shape[1] != 3 or q.shape[0] < n_blocks:
                raise ValueError(f"source {i}: position must be (3,) or ({n_blocks}, 3) "
                                 f"(one per block of {block}), got {q.shape}")
            if not np.all(np.isfinite(q[:n_blocks])):
                raise ValueError(f"source {i}: position contains NaN or Inf")
            d = np.linalg.norm(q[:n_blocks], axis=1)
            if np.any(d < 1e-3):
                raise ValueError(f"source {i}: source at the listener's position (< 1 mm)")
            if np.any(d > 1e6):
                raise ValueError(f"source {i}: absurd distance {d.max():g} m")
            out_p.append(native_to_openal(q[:n_blocks]).astype(np.float32))
        return out_m, out_p, n_total, n_blocks

    def render(self, monos, positions, block: int = 512, tail: int = 0,
               gains=None) -> np.ndarray:
        """Render mono sources through OpenAL Soft's HRTF mixer.

        ``monos``: list of 1-D float arrays (different lengths are zero-padded).
        ``positions``: per source a native position (3,) in metres, or (n_blocks, 3) with
        one position per block of ``block`` frames (set just before that block renders).
        Returns float32 (n + tail, 2), n the longest input, column 0 = left ear.
        Sources stream via alSourceQueueBuffers, two blocks queued ahead of the mixer.
        """
        if not self._ctx:
            raise OpenALError("device closed")
        monos, pos, n_total, n_blocks = self._validate(monos, positions, block, tail)
        lib = self._lib
        if not lib.alcMakeContextCurrent(self._ctx):
            raise OpenALError("alcMakeContextCurrent failed")
        ns = len(monos)
        gains = np.ones(ns) if gains is None else np.asarray(gains, dtype=np.float64)
        if gains.shape != (ns,) or not np.all(np.isfinite(gains)) or np.any(gains < 0):
            raise ValueError("gains must be finite, non-negative, one per source")
        ahead = 2
        # pad every source to (n_blocks + ahead) blocks
        feeds = []
        for m in monos:
            f = np.zeros((n_blocks + ahead) * block, dtype=np.float32)
            f[:m.size] = m
            feeds.append(f)
        srcs = (ctypes.c_uint * ns)()
        lib.alGenSources(ns, srcs)
        self._check("alGenSources")
        pool: list[list[int]] = [[] for _ in range(ns)]
        allbufs: list[int] = []
        out = np.zeros((n_blocks * block, 2), dtype=np.float32)
        bytes_per_block = block * 4

        def new_buffer():
            b = ctypes.c_uint(0)
            lib.alGenBuffers(1, ctypes.byref(b))
            allbufs.append(b.value)
            return b.value

        def queue(i, k):
            if pool[i]:
                b = pool[i].pop()
            else:
                b = new_buffer()
            chunk = feeds[i][k * block:(k + 1) * block]
            lib.alBufferData(b, AL_FORMAT_MONO_FLOAT32, chunk.ctypes.data, bytes_per_block,
                             self.sample_rate)
            bb = ctypes.c_uint(b)
            lib.alSourceQueueBuffers(srcs[i], 1, ctypes.byref(bb))

        try:
            for i in range(ns):
                s = srcs[i]
                lib.alSourcei(s, AL_SOURCE_RELATIVE, AL_TRUE)
                lib.alSourcef(s, AL_GAIN, float(gains[i]))
                p = pos[i][0]
                lib.alSource3f(s, AL_POSITION, float(p[0]), float(p[1]), float(p[2]))
                for k in range(ahead + 1):
                    queue(i, k)
            self._check("source setup")
            lib.alSourcePlayv(ns, srcs)
            self._check("alSourcePlayv")
            processed = ctypes.c_int(0)
            ub = ctypes.c_uint(0)
            for k in range(n_blocks):
                if k > 0:
                    lib.alDeferUpdatesSOFT()
                    for i in range(ns):
                        p = pos[i][k]
                        lib.alSource3f(srcs[i], AL_POSITION, float(p[0]), float(p[1]), float(p[2]))
                    lib.alProcessUpdatesSOFT()
                view = out[k * block:(k + 1) * block]
                lib.alcRenderSamplesSOFT(self._dev, view.ctypes.data, block)
                # recycle processed buffers, keep `ahead` blocks queued beyond the mixer
                for i in range(ns):
                    lib.alGetSourcei(srcs[i], AL_BUFFERS_PROCESSED, ctypes.byref(processed))
                    for _ in range(processed.value):
                        lib.alSourceUnqueueBuffers(srcs[i], 1, ctypes.byref(ub))
                        pool[i].append(ub.value)
                    if k + ahead + 1 < n_blocks + ahead:
                        queue(i, k + ahead + 1)
            self._check("render loop")
            if not np.all(np.isfinite(out)):
                raise OpenALError("OpenAL produced non-finite output")
            return out[:n_total].copy()
        finally:
            lib.alSourceStopv(ns, srcs)
            for i in range(ns):
                lib.alSourcei(srcs[i], AL_BUFFER, 0)  # detach the queue
            lib.alDeleteSources(ns, srcs)
            if allbufs:
                arr = (ctypes.c_uint * len(allbufs))(*allbufs)
                lib.alDeleteBuffers(len(allbufs), arr)
            lib.alGetError()

    def render_block_timing(self, n_sources: int, n_blocks: int, block: int = 512,
                            moving: bool = True, seed: int = 0, render: bool = True) -> np.ndarray:
        """Benchmark helper: ``n_sources`` white-noise sources for ``n_blocks`` blocks,
        circling the listener at 2 m when ``moving``. Returns the per-block wall time in
        seconds (time.perf_counter around the position updates + alcRenderSamplesSOFT;
        buffer refills excluded, as a game would stream them from elsewhere).

        The position updates are Python calls through ctypes, slower than a game's C calls;
        ``render=False`` times them alone (no alcRenderSamplesSOFT), so a benchmark can
        report how much of the time is that loop (``benchmarks/openal_pose_overhead.py``)."""
        if not 1 <= n_sources <= self.max_sources:
            raise ValueError(f"n_sources must be in 1..{self.max_sources}")
        if n_blocks < 1:
            raise ValueError("n_blocks must be >= 1")
        lib = self._lib
        if not lib.alcMakeContextCurrent(self._ctx):
            raise OpenALError("alcMakeContextCurrent failed")
        rng = np.random.default_rng(seed)
        srcs = (ctypes.c_uint * n_sources)()
        lib.alGenSources(n_sources, srcs)
        self._check("alGenSources")
        nbuf = n_sources * (n_blocks + 3)
        bufs = (ctypes.c_uint * nbuf)()
        lib.alGenBuffers(nbuf, bufs)
        self._check("alGenBuffers")
        noise = (0.1 * rng.standard_normal(block * 4)).astype(np.float32)
        times = np.zeros(n_blocks)
        out = np.zeros((block, 2), dtype=np.float32)
        phase0 = rng.uniform(0, 2 * math.pi, n_sources)
        try:
            j = 0
            for i in range(n_sources):
                lib.alSourcei(srcs[i], AL_SOURCE_RELATIVE, AL_TRUE)
                for _ in range(n_blocks + 3):  # whole stream queued up front
                    off = (j % 4) * block // 4
                    lib.alBufferData(bufs[j], AL_FORMAT_MONO_FLOAT32,
                                     noise[off:off + block].ctypes.data, block * 4,
                                     self.sample_rate)
                    lib.alSourceQueueBuffers(srcs[i], 1, ctypes.byref(ctypes.c_uint(bufs[j])))
                    j += 1
                p = native_to_openal(2.0 * np.array([math.cos(phase0[i]), math.sin(phase0[i]), 0.0]))
                lib.alSource3f(srcs[i], AL_POSITION, *map(float, p))
            lib.alSourcePlayv(n_sources, srcs)
            self._check("benchmark setup")
            w = 2 * math.pi * 0.5 * block / self.sample_rate  # 0.5 rev/s
            for k in range(n_blocks):
                t0 = time.perf_counter()
                if moving:
                    lib.alDeferUpdatesSOFT()
                    for i in range(n_sources):
                        a = phase0[i] + w * k
                        lib.alSource3f(srcs[i], AL_POSITION, float(-2.0 * math.sin(a)), 0.0,
                                       float(-2.0 * math.cos(a)))
                    lib.alProcessUpdatesSOFT()
                if render:
                    lib.alcRenderSamplesSOFT(self._dev, out.ctypes.data, block)
                times[k] = time.perf_counter() - t0
            self._check("benchmark loop")
            return times
        finally:
            lib.alSourceStopv(n_sources, srcs)
            for i in range(n_sources):
                lib.alSourcei(srcs[i], AL_BUFFER, 0)
            lib.alDeleteSources(n_sources, srcs)
            lib.alDeleteBuffers(nbuf, bufs)
            lib.alGetError()
