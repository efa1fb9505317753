"""ctypes binding of the OpenAL library (the one pyopenal loads), shared by live playback
(:mod:`spatialmw.playback`) and the OpenAL Soft peer (:mod:`spatialmw.peers.openal`).

pyopenal does not wrap ALC_SOFT_loopback, ALC_SOFT_HRTF or AL_SOFT_direct_channels, so
this module opens the same shared library pyopenal loads (``openal.al_lib.lib``; falls
back to ``ctypes.util.find_library('openal')``) with its own function prototypes
(pyopenal's ``errcheck`` hooks are left alone), and holds the enums both users need.
"""
from __future__ import annotations

import ctypes
import ctypes.util

from .errors import SpatialmwError

__all__ = ["OpenALError", "load_library", "library_path"]

# --- ALC / AL enums (alext.h, OpenAL Soft 1.19) ------------------------------------------
ALC_FALSE, ALC_TRUE = 0, 1
ALC_FREQUENCY = 0x1007
ALC_MONO_SOURCES = 0x1010
ALC_STEREO_SOURCES = 0x1011
ALC_DEVICE_SPECIFIER = 0x1005
ALC_ALL_DEVICES_SPECIFIER = 0x1013  # ALC_ENUMERATE_ALL_EXT
ALC_EXTENSIONS = 0x1006
ALC_FORMAT_CHANNELS_SOFT = 0x1990
ALC_FORMAT_TYPE_SOFT = 0x1991
ALC_STEREO_SOFT = 0x1501
ALC_FLOAT_SOFT = 0x1406
ALC_HRTF_SOFT = 0x1992
ALC_HRTF_STATUS_SOFT = 0x1993
ALC_NUM_HRTF_SPECIFIERS_SOFT = 0x1994
ALC_HRTF_SPECIFIER_SOFT = 0x1995
ALC_HRTF_ID_SOFT = 0x1996
ALC_HRTF_DISABLED_SOFT = 0x0000
ALC_HRTF_ENABLED_SOFT = 0x0001
ALC_OUTPUT_LIMITER_SOFT = 0x199A
HRTF_STATUS_NAMES = {0: "disabled", 1: "enabled", 2: "denied", 3: "required",
                     4: "headphones detected", 5: "unsupported format"}

AL_NONE = 0
AL_FALSE, AL_TRUE = 0, 1
AL_SOURCE_RELATIVE = 0x202
AL_POSITION = 0x1004
AL_BUFFER = 0x1009
AL_VELOCITY = 0x1006
AL_GAIN = 0x100A
AL_ORIENTATION = 0x100F
AL_SOURCE_STATE = 0x1010
AL_PLAYING = 0x1012
AL_STOPPED = 0x1014
AL_BUFFERS_QUEUED = 0x1015
AL_BUFFERS_PROCESSED = 0x1016
AL_DISTANCE_MODEL = 0xD000
AL_FORMAT_MONO16 = 0x1101
AL_FORMAT_STEREO16 = 0x1103
AL_FORMAT_MONO_FLOAT32 = 0x10010
AL_FORMAT_STEREO_FLOAT32 = 0x10011
AL_DIRECT_CHANNELS_SOFT = 0x1033

_c_uint_p = ctypes.POINTER(ctypes.c_uint)
_c_int_p = ctypes.POINTER(ctypes.c_int)
_c_float_p = ctypes.POINTER(ctypes.c_float)

_PROTOS = {
    # ALC
    "alcOpenDevice": (ctypes.c_void_p, [ctypes.c_char_p]),
    "alcCloseDevice": (ctypes.c_char, [ctypes.c_void_p]),
    "alcCreateContext": (ctypes.c_void_p, [ctypes.c_void_p, _c_int_p]),
    "alcDestroyContext": (None, [ctypes.c_void_p]),
    "alcMakeContextCurrent": (ctypes.c_char, [ctypes.c_void_p]),
    "alcGetCurrentContext": (ctypes.c_void_p, []),
    "alcGetError": (ctypes.c_int, [ctypes.c_void_p]),
    "alcGetIntegerv": (None, [ctypes.c_void_p, ctypes.c_int, ctypes.c_int, _c_int_p]),
    "alcGetString": (ctypes.c_char_p, [ctypes.c_void_p, ctypes.c_int]),
    "alcIsExtensionPresent": (ctypes.c_char, [ctypes.c_void_p, ctypes.c_char_p]),
    # ALC_SOFT_loopback / ALC_SOFT_HRTF (exported directly by OpenAL Soft)
    "alcLoopbackOpenDeviceSOFT": (ctypes.c_void_p, [ctypes.c_char_p]),
    "alcIsRenderFormatSupportedSOFT": (ctypes.c_char, [ctypes.c_void_p, ctypes.c_int,
                                                       ctypes.c_int, ctypes.c_int]),
    "alcRenderSamplesSOFT": (None, [ctypes.c_void_p, ctypes.c_void_p, ctypes.c_int]),
    "alcGetStringiSOFT": (ctypes.c_char_p, [ctypes.c_void_p, ctypes.c_int, ctypes.c_int]),
    # AL
    "alGetError": (ctypes.c_int, []),
    "alIsExtensionPresent": (ctypes.c_char, [ctypes.c_char_p]),
    "alDistanceModel": (None, [ctypes.c_int]),
    "alGenSources": (None, [ctypes.c_int, _c_uint_p]),
    "alDeleteSources": (None, [ctypes.c_int, _c_uint_p]),
    "alGenBuffers": (None, [ctypes.c_int, _c_uint_p]),
    "alDeleteBuffers": (None, [ctypes.c_int, _c_uint_p]),
    "alBufferData": (None, [ctypes.c_uint, ctypes.c_int, ctypes.c_void_p, ctypes.c_int,
                            ctypes.c_int]),
    "alSourcei": (None, [ctypes.c_uint, ctypes.c_int, ctypes.c_int]),
    "alSourcef": (None, [ctypes.c_uint, ctypes.c_int, ctypes.c_float]),
    "alSource3f": (None, [ctypes.c_uint, ctypes.c_int, ctypes.c_float, ctypes.c_float,
                          ctypes.c_float]),
    "alGetSourcei": (None, [ctypes.c_uint, ctypes.c_int, _c_int_p]),
    "alSourcePlay": (None, [ctypes.c_uint]),
    "alSourcePlayv": (None, [ctypes.c_int, _c_uint_p]),
    "alSourceStop": (None, [ctypes.c_uint]),
    "alSourceStopv": (None, [ctypes.c_int, _c_uint_p]),
    "alSourceQueueBuffers": (None, [ctypes.c_uint, ctypes.c_int, _c_uint_p]),
    "alSourceUnqueueBuffers": (None, [ctypes.c_uint, ctypes.c_int, _c_uint_p]),
    "alListener3f": (None, [ctypes.c_int, ctypes.c_float, ctypes.c_float, ctypes.c_float]),
    "alListenerfv": (None, [ctypes.c_int, _c_float_p]),
    "alListenerf": (None, [ctypes.c_int, ctypes.c_float]),
    "alDeferUpdatesSOFT": (None, []),
    "alProcessUpdatesSOFT": (None, []),
}


class OpenALError(SpatialmwError, RuntimeError):
    """OpenAL Soft is missing, lacks an extension, or refused a request."""


class _Lib:
    """Our own ctypes view of the OpenAL library pyopenal uses (same loaded object)."""

    def __init__(self, path: str):
        self.path = path
        self.dll = ctypes.CDLL(path)
        for name, (res, args) in _PROTOS.items():
            try:
                fn = getattr(self.dll, name)
            except AttributeError:
                continue
            fn.restype = res
            fn.argtypes = args
            setattr(self, name, fn)


_LIB: _Lib | None = None


def library_path() -> str:
    try:  # reuse exactly what pyopenal loads
        from openal import al_lib  # type: ignore

        name = getattr(al_lib.lib, "_name", None)
        if name:
            return name
    except Exception:
        pass
    name = ctypes.util.find_library("openal")
    if not name:
        raise OpenALError("OpenAL Soft library (libopenal.so.1) not found; install libopenal1")
    return name


def load_library() -> _Lib:
    """Load (once) and return the ctypes view of libopenal."""
    global _LIB
    if _LIB is None:
        try:
            _LIB = _Lib(library_path())
        except OSError as e:
            raise OpenALError(f"cannot load OpenAL: {e}") from e
    return _LIB
