"""Live playback of already-binaural stereo through a real OpenAL device.

spatialmw renders the binaural signal itself, so OpenAL must only pass it through:

* the data goes into **stereo** buffers (``AL_FORMAT_STEREO_FLOAT32`` from AL_EXT_float32,
  else 16-bit ``AL_FORMAT_STEREO16``). OpenAL never positions multi-channel buffers: source
  position, distance model and Doppler apply to mono buffers only.
* the source is ``AL_SOURCE_RELATIVE`` at the origin, and -- because OpenAL Soft would
  otherwise still *virtualise* a stereo buffer (play it as two virtual speakers at +-30
  degrees, through its HRTF when that is on) -- ``AL_DIRECT_CHANNELS_SOFT`` is set, so left
  goes to the left output channel and right to the right, untouched. The context also asks
  for HRTF off (``ALC_HRTF_SOFT = ALC_FALSE``) where ALC_SOFT_HRTF exists.

Audio is streamed: a few buffers of ``block`` frames are queued, and as the device
processes them they are unqueued, refilled and queued again; :func:`play` returns once
everything has been heard. It uses the library pyopenal loads, through
:mod:`spatialmw.openal_binding`.

OpenAL Soft reads its configuration (``ALSOFT_CONF``, ``ALSOFT_DRIVERS``, alsoft.conf)
when the first device is opened; the tests use its ``wave`` backend to write a WAV file
instead of a sound card.
"""
from __future__ import annotations

import ctypes
import time

import numpy as np

from .openal_binding import (AL_BUFFER, AL_BUFFERS_PROCESSED, AL_BUFFERS_QUEUED,
                             AL_DIRECT_CHANNELS_SOFT, AL_FORMAT_STEREO16,
                             AL_FORMAT_STEREO_FLOAT32, AL_PLAYING, AL_POSITION,
                             AL_SOURCE_RELATIVE, AL_SOURCE_STATE, AL_TRUE, ALC_FALSE,
                             ALC_ALL_DEVICES_SPECIFIER, ALC_DEVICE_SPECIFIER, ALC_FREQUENCY,
                             ALC_HRTF_SOFT, OpenALError, load_library)
from .errors import SpatialmwError

__all__ = ["PlaybackError", "play", "list_devices"]


class PlaybackError(SpatialmwError, RuntimeError):
    """No usable OpenAL output device, or the device failed while playing."""


def list_devices() -> list[str]:
    """Names of the OpenAL output devices (ALC_ENUMERATE_ALL_EXT when available)."""
    lib = _lib()
    get = lib.dll["alcGetString"]  # a fresh function object: raw pointer result
    get.restype = ctypes.c_void_p
    get.argtypes = [ctypes.c_void_p, ctypes.c_int]
    raw = get(None, ALC_ALL_DEVICES_SPECIFIER) or get(None, ALC_DEVICE_SPECIFIER)
    names, p = [], raw
    while p:  # double-NUL-terminated list
        s = ctypes.string_at(p)
        if not s:
            break
        names.append(s.decode("utf-8", "replace"))
        p += len(s) + 1
    return names


def _lib():
    try:
        lib = load_library()
    except OpenALError as e:
        raise PlaybackError(str(e)) from e
    return lib


def _validate(stereo, sample_rate, block):
    a = np.asarray(stereo)
    if a.ndim != 2 or a.shape[1] != 2:
        raise ValueError(f"expected stereo samples shaped (n, 2), got {a.shape}")
    if a.shape[0] == 0:
        raise ValueError("nothing to play (0 frames)")
    if not np.issubdtype(a.dtype, np.number):
        raise ValueError(f"non-numeric samples ({a.dtype})")
    a = np.ascontiguousarray(a, dtype=np.float32)
    if not np.all(np.isfinite(a)):
        raise ValueError("samples contain NaN or Inf")
    if not isinstance(sample_rate, (int, np.integer)) or not 8000 <= sample_rate <= 192000:
        raise ValueError(f"unsupported sample rate {sample_rate!r}")
    if not isinstance(block, (int, np.integer)) or not 64 <= block <= 1 << 18:
        raise ValueError(f"block must be an int in 64..262144, got {block!r}")
    return a


def play(stereo: np.ndarray, sample_rate: int, device_name: str | None = None,
         block: int = 4096, n_buffers: int = 4, timeout_s: float | None = None) -> None:
    """Play interleaved binaural stereo (n, 2) (column 0 = left) on an OpenAL device and
    return when it has been played. ``device_name`` None = the default device (see
    :func:`list_devices`). Raises :class:`PlaybackError` when no device can be opened or
    the device stops responding, ValueError for bad input."""
    data = _validate(stereo, sample_rate, block)
    lib = _lib()
    dev = lib.alcOpenDevice(device_name.encode() if device_name else None)
    if not dev:
        which = repr(device_name) if device_name else "the default OpenAL device"
        avail = ", ".join(list_devices()) or "none"
        raise PlaybackError(f"cannot open {which} (available: {avail}); is a sound card / "
                            "audio server available, or ALSOFT_DRIVERS set correctly?")
    ctx = None
    src = ctypes.c_uint(0)
    bufs = (ctypes.c_uint * n_buffers)()
    have_src = have_bufs = False
    prev_ctx = lib.alcGetCurrentContext()
    try:
        attrs = [ALC_FREQUENCY, int(sample_rate)]
        if lib.alcIsExtensionPresent(dev, b"ALC_SOFT_HRTF"):
            attrs += [ALC_HRTF_SOFT, ALC_FALSE]
        attrs.append(0)
        ctx = lib.alcCreateContext(dev, (ctypes.c_int * len(attrs))(*attrs))
        if not ctx or not lib.alcMakeContextCurrent(ctx):
            raise PlaybackError(f"cannot create an OpenAL context (ALC error 0x{lib.alcGetError(dev):x})")
        lib.alGetError()
        if lib.alIsExtensionPresent(b"AL_EXT_float32"):
            fmt, pcm = AL_FORMAT_STEREO_FLOAT32, data
        else:
            fmt = AL_FORMAT_STEREO16
            pcm = np.round(np.clip(data, -1.0, 1.0) * 32767.0).astype(np.int16)
        frame_bytes = pcm.itemsize * 2
        lib.alGenSources(1, ctypes.byref(src))
        have_src = True
        lib.alGenBuffers(n_buffers, bufs)
        have_bufs = True
        lib.alSourcei(src, AL_SOURCE_RELATIVE, AL_TRUE)
        lib.alSource3f(src, AL_POSITION, 0.0, 0.0, 0.0)
        if lib.alIsExtensionPresent(b"AL_SOFT_direct_channels"):
            lib.alSourcei(src, AL_DIRECT_CHANNELS_SOFT, AL_TRUE)
        err = lib.alGetError()
        if err:
            raise PlaybackError(f"OpenAL error 0x{err:x} setting up the source")

        n = pcm.shape[0]
        pos = 0

        def fill(b) -> bool:
            nonlocal pos
            if pos >= n:
                return False
            chunk = np.ascontiguousarray(pcm[pos:pos + block])
            pos += chunk.shape[0]
            lib.alBufferData(b, fmt, chunk.ctypes.data, chunk.shape[0] * frame_bytes,
                             int(sample_rate))
            lib.alSourceQueueBuffers(src, 1, ctypes.byref(ctypes.c_uint(b)))
            return True

        for i in range(n_buffers):
            if not fill(bufs[i]):
                break
        lib.alSourcePlay(src)
        err = lib.alGetError()
        if err:
            raise PlaybackError(f"OpenAL error 0x{err:x} starting playback")

        duration = n / sample_rate
        deadline = time.monotonic() + (timeout_s if timeout_s is not None else 2.0 * duration + 5.0)
        poll = min(0.05, max(0.002, block / sample_rate / 4))
        val = ctypes.c_int(0)
        ub = ctypes.c_uint(0)
        while True:
            lib.alGetSourcei(src, AL_BUFFERS_PROCESSED, ctypes.byref(val))
            for _ in range(val.value):
                lib.alSourceUnqueueBuffers(src, 1, ctypes.byref(ub))
                fill(ub.value)
            lib.alGetSourcei(src, AL_SOURCE_STATE, ctypes.byref(val))
            state = val.value
            lib.alGetSourcei(src, AL_BUFFERS_QUEUED, ctypes.byref(val))
            queued = val.value
            if state != AL_PLAYING:
                if queued == 0 and pos >= n:
                    break  # everything played
                lib.alGetSourcei(src, AL_BUFFERS_PROCESSED, ctypes.byref(val))
                if val.value == 0:  # underrun with data still queued: restart
                    lib.alSourcePlay(src)
            err = lib.alGetError()
            if err:
                raise PlaybackError(f"OpenAL error 0x{err:x} while streaming")
            if time.monotonic() > deadline:
                raise PlaybackError(f"playback of {duration:.2f} s did not finish in time; "
                                    "the device stopped consuming audio")
            time.sleep(poll)
    finally:
        if have_src:
            lib.alSourceStop(src)
            lib.alSourcei(src, AL_BUFFER, 0)
            lib.alDeleteSources(1, ctypes.byref(src))
        if have_bufs:
            lib.alDeleteBuffers(n_buffers, bufs)
        if ctx:
            lib.alcMakeContextCurrent(prev_ctx if prev_ctx != ctx else None)
            lib.alcDestroyContext(ctx)
        lib.alcCloseDevice(dev)
