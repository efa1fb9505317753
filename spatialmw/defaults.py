"""The numbers both front ends promise: what a renderer and a new source start with, and
the ranges every setting and setter accepts.

One module because three parties must agree on them: the compiled control plane
(:func:`spatialmw.kernels.plan.settings_default` / ``settings_valid``), the Python front
ends (:mod:`spatialmw.engine`, :mod:`spatialmw.scene`, :mod:`spatialmw.native`) and the C
library, whose ``bindings/smw_contract.h`` is generated from this module by
``bindings/gen_contract.py``. It is not part of ``plan.py`` because most of it (source
defaults, per-call limits) is no business of the kernels, and not part of ``engine.py``
because the planner and the generator must import it without the engine. It imports only
:mod:`spatialmw.geometry` and :mod:`spatialmw.kernels.layout` (no numba compilation),
and it is compiled into the kernels (``plan.py`` reads it), so the SDK build hashes it.

Decisions recorded here (the C header repeats them in words):

* **A new source starts at the origin** with identity orientation, i.e. at the default
  listener's own position. A source there has no direction of its own: the kernels take
  a zero direction as straight ahead (:func:`geometry.direction_angles`), and the
  distance models clamp its distance to ``min_distance``.
  The origin is what the C API has documented since 0.1 and what OpenAL does, and a game
  sets the pose before the source's first block anyway; the Python ``Engine`` used to put
  it 1 m ahead instead, which made the two front ends render a pose-less source
  differently.
* **Positions and velocities are limited by their Euclidean norm** in native metres
  (metres per second), after conversion from the caller's coordinate system, so the
  limit does not depend on the axes: ``|p| <= MAX_POSITION_M``, ``|v| <= MAX_SPEED_M_S``.
* **Gain is capped** at ``MAX_GAIN`` (60 dB) in both front ends.
"""
from __future__ import annotations

import math

import numpy as np

from . import geometry
from .kernels import layout as L

# ------------------------------------------------------------------ creation: limits
SAMPLE_RATES = (44100, 48000, 96000)   # Hz, the only rates the corrector is fitted for
MAX_SOURCES_LIMIT = 4096
# A renderer holds this many voice slots beyond max_sources, max(MIN, max_sources // DIVISOR):
# a new voice takes one of them while a destroyed voice fades out in its own slot, so that
# stealing a voice at full capacity (destroy, then create, in one game tick) cuts nothing.
# Live voices never exceed max_sources.
SPARE_SLOTS_MIN = 4
SPARE_SLOTS_DIVISOR = 64
MAX_BLOCK_LIMIT = 16384                # frames per render / write call
TABLE_STEP_MIN_DEG = 0.5               # direction table spacing; 0 means no table
TABLE_STEP_MAX_DEG = 30.0
SPEED_OF_SOUND_MIN = 1.0               # m/s
SPEED_OF_SOUND_MAX = 1.0e4

# ------------------------------------------------------------------ creation: defaults
SAMPLE_RATE = 48000
MAX_SOURCES = 64
MAX_BLOCK = 1024
CORRECTOR = True
TABLE_STEP_DEG = 3.0                   # ~4,600 directions of shaped per-bin gains (~19 MB)
SPEED_OF_SOUND = geometry.SPEED_OF_SOUND
EQUALIZATION = "none"                  # kernels.corrector.EQUALIZATIONS
COORDINATE_SYSTEM = "native"           # geometry.COORDINATE_SYSTEM_IDS (the Engine is always native)
HOP_FRAMES_CHOICES = (256, 128, 64)    # overlap-save hops: latency = hop + modelling delay, same filters
HOP_FRAMES = HOP_FRAMES_CHOICES[0]
# level of detail (kernels/lod.py): the loudest FULL_SOURCES audible sources (by level x
# priority) take the full path, the others a shared 3rd-order ambisonic bed; 0: no limit,
# every source on the full path. 64 from make bench: 1,024 moving audible sources then take
# well under half a 512-frame block on one core (docs/PERFORMANCE.md, "Level of detail").
FULL_SOURCES = 64
LOD_HYSTERESIS_DB = 3.0                # a full-path source keeps its place against sources up to this much louder
# worker threads the C library's renderer starts at creation to share the per-source work of
# each block with the audio thread (0: the audio thread alone; docs/PERFORMANCE.md, "Worker
# threads"). The output does not depend on it.
WORKER_THREADS = 0
WORKER_THREADS_MAX = 8

# ------------------------------------------------------------------ per-call limits
MAX_POSITION_M = 1.0e6                 # |position| in native metres, listener and sources
MAX_SPEED_M_S = 1.0e6                  # |velocity| in native metres per second
MAX_GAIN = 1000.0                      # linear source gain, 0..MAX_GAIN
MAX_DISTANCE_M = 2.0e6                 # a distance model's max_distance (native metres)
MAX_ROLLOFF = 1000.0
MAX_CONE_DEG = 360.0                   # cone angles 0..360 (full angles)
MAX_AIR_ABSORPTION = 10.0              # factor on ISO 9613-1
MAX_STEREO_WIDTH_DEG = 180.0           # a stereo source's width, 0..180 degrees
MAX_PRIORITY = 1.0e6                   # a source's level-of-detail priority, 0..MAX_PRIORITY
LOD_HYSTERESIS_MAX_DB = 20.0           # the level of detail's hysteresis, 0..this (creation setting)

# ------------------------------------------------------------------ a new source
SOURCE_POSITION = (0.0, 0.0, 0.0)      # see the module docstring
SOURCE_ORIENTATION = (0.0, 0.0, 0.0, 1.0)
SOURCE_GAIN = 1.0
SOURCE_DISTANCE_MODEL = "inverse_clamped"   # geometry.DISTANCE_MODELS
SOURCE_MIN_DISTANCE = 1.0
SOURCE_MAX_DISTANCE = 1.0e6
SOURCE_ROLLOFF = 1.0
SOURCE_DOPPLER = True
SOURCE_SPATIALIZE = True
SOURCE_PAUSED = False
# A stereo source is two voices (two slots): its left channel at +width/2 (towards the
# listener's left), its right channel at -width/2 about the source's direction, turned about
# the listener's up axis, so the pair keeps its width as the listener turns.
SOURCE_STEREO_WIDTH_DEG = 60.0
SOURCE_PRIORITY = 1.0                  # multiplies the level the level of detail ranks by
# Every per-source parameter of kernels/layout.py (P_* -> value; a vector field takes a
# tuple). A P_* added to layout.py must get its default here (tests/test_contract.py);
# both the Engine and the generated C initialiser SMW_SOURCE_PARAM_DEFAULTS read this.
SOURCE_PARAMS = {
    "P_GAIN": SOURCE_GAIN,
    "P_MIN_DISTANCE": SOURCE_MIN_DISTANCE,
    "P_MAX_DISTANCE": SOURCE_MAX_DISTANCE,
    "P_ROLLOFF": SOURCE_ROLLOFF,
    "P_VEL": (0.0, 0.0, 0.0),          # used only once the game sets a velocity
    "P_TELEPORTS": 0.0,
    "P_CONE_INNER": 360.0,             # omnidirectional
    "P_CONE_OUTER": 360.0,
    "P_CONE_OUTER_GAIN": 1.0,
    "P_CONE_OUTER_HF": 1.0,
    "P_TRANSMISSION": (1.0, 1.0, 1.0),  # unoccluded
    "P_AIR_ABSORPTION": 0.0,           # off
    "P_REVERB_SEND": 0.0,
    "P_SPREAD": 0.0,                   # a point source
    "P_AZIMUTH_OFFSET": 0.0,           # a mono source; a stereo source's voices: +-width/2
    "P_PRIORITY": SOURCE_PRIORITY,
}


def source_flags() -> int:
    """The control flags (layout ``FLAG_*``) of a new source."""
    return ((L.FLAG_DOPPLER if SOURCE_DOPPLER else 0) | (0 if SOURCE_SPATIALIZE else L.FLAG_BYPASS)
            | (L.FLAG_PAUSED if SOURCE_PAUSED else 0))


def source_params() -> np.ndarray:
    """A new source's ``PARAM_STRIDE`` float64 parameters, indexed by layout ``P_*``
    (entries no field names stay 0)."""
    out = np.zeros(L.PARAM_STRIDE)
    for name, value in SOURCE_PARAMS.items():
        v = np.atleast_1d(np.asarray(value, dtype=np.float64))
        i = getattr(L, name)
        out[i:i + v.size] = v
    return out


def norm3(v) -> float:
    """Euclidean norm of a 3-vector summed in the C shim's order (so a value on the limit
    is accepted or refused identically by both front ends)."""
    x, y, z = (float(c) for c in v)
    return math.sqrt(x * x + y * y + z * z)
