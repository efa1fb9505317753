"""Level of detail (spatialmw/kernels/lod.py): the ``full_sources`` loudest audible sources
(level x priority) take the full path, the others a 3rd-order ambisonic bed. Measured on
output audio through both front ends (the C API via spatialmw.native, the Python Engine):
a source in the bed is still spatialised, close to the full path; moving between tiers
does not click; the setting and the priorities pick the sources they should; bad values
are refused."""
from __future__ import annotations

import math

import numpy as np
import pytest

from spatialmw import metrics as M
from spatialmw.kernels import layout as L, lod
from tests.helpers import LIB

BLOCK = 512
SR = 48000
FRONTS = ["native", "engine"]
# a source in the bed against the same source on the full path, per ear, broadband (dB):
# the bed is order 3 (smoothed high-frequency detail) at the fitted distance's response
LEVEL_TOLERANCE_DB = 3.0


def _front(kind, max_sources=4, full_sources=1):
    if kind == "native":
        from spatialmw.native import Renderer
        return Renderer(max_sources=max_sources, max_block=BLOCK, lib=LIB, full_sources=full_sources)
    from spatialmw.engine import Engine
    return Engine(SR, max_sources, BLOCK, full_sources=full_sources)


def _noise(blocks, seed=1):
    return (0.1 * np.random.default_rng(seed).standard_normal(blocks * BLOCK)).astype(np.float32)


def _render_one(kind, pos, x, bed, events=None):
    """One source at ``pos`` playing ``x``; ``bed``: a silent second source of priority 1
    holds the one full-path place and this one (priority 0) plays in the bed (else the
    priorities are the other way round); ``events[k](eng, source, holder)`` runs before
    block k. Returns the output (frames, 2) and the source's status per block."""
    eng = _front(kind, full_sources=1)
    s = eng.add_source(distance_model="none")
    eng.set_source_pose(s, pos)
    holder = eng.add_source(distance_model="none")
    eng.set_source_pose(holder, (1.0, 0.0, 0.0))
    eng.set_source_priority(s, 0.0 if bed else 1.0)
    eng.set_source_priority(holder, 1.0 if bed else 0.0)
    out, status = [], []
    silence = np.zeros(BLOCK, np.float32)
    for k in range(len(x) // BLOCK):
        if events and k in events:
            events[k](eng, s, holder)
        eng.write(s, x[k * BLOCK:(k + 1) * BLOCK])
        eng.write(holder, silence)
        out.append(np.asarray(eng.render(BLOCK), dtype=np.float64).reshape(-1, 2).copy())
        status.append(eng.source_status(s))
    return np.concatenate(out), status


def test_harmonics_are_orthonormal_on_the_design_grid():
    """The quadrature the decoding filters are fitted with (equal weights on the Fibonacci
    grid) integrates the products of the 16 harmonics to the identity."""
    y = np.zeros((lod.DESIGN_POINTS, lod.CHANNELS))
    for i in range(lod.DESIGN_POINTS):
        lod.sh_fill(*lod.fibonacci_point(i, lod.DESIGN_POINTS), y[i], 0)
    gram = y.T @ y * (4 * math.pi / lod.DESIGN_POINTS)
    assert np.abs(gram - np.eye(lod.CHANNELS)).max() < 0.01


@pytest.mark.parametrize("kind", FRONTS)
@pytest.mark.parametrize("az", [90.0, -90.0])
def test_a_source_in_the_bed_is_spatialised_like_the_full_path(kind, az):
    """Noise 2 m away at +-90 degrees: in the bed, the near ear is louder and leads (ILD and
    ITD of the full path's sign), and each ear's level is within LEVEL_TOLERANCE_DB of the
    full path's."""
    pos = (2.0 * math.cos(math.radians(az)), 2.0 * math.sin(math.radians(az)), 0.0)
    x = _noise(40)
    full, st_full = _render_one(kind, pos, x, bed=False)
    bed, st_bed = _render_one(kind, pos, x, bed=True)
    assert all(st & L.STATUS_LOD for st in st_bed) and not any(st & L.STATUS_LOD for st in st_full)
    seg = slice(4 * BLOCK, None)
    side = 1.0 if az > 0 else -1.0
    for y in (full, bed):
        assert side * M.ild_db(y[seg, 0], y[seg, 1]) > 6.0
        assert side * M.itd_us(y[seg, 0], y[seg, 1], SR) > 400.0
    level = lambda y: 10 * np.log10(np.mean(y[seg] ** 2, axis=0))
    assert np.abs(level(bed) - level(full)).max() < LEVEL_TOLERANCE_DB


@pytest.mark.parametrize("kind", FRONTS)
def test_moving_between_tiers_does_not_click(kind):
    """A 300 Hz tone at 60 degrees moved to the bed (the holder's priority rises above its
    own) and back (its own rises above the holder's): the largest sample step around each change stays within 2x the tone's own."""
    t = np.arange(30 * BLOCK) / SR
    x = (0.5 * np.sin(2 * np.pi * 300.0 * t)).astype(np.float32)
    pos = (2.0 * math.cos(math.pi / 3), 2.0 * math.sin(math.pi / 3), 0.0)
    events = {10: lambda eng, s, holder: eng.set_source_priority(holder, 10.0),
              20: lambda eng, s, holder: eng.set_source_priority(s, 1e3)}
    out, status = _render_one(kind, pos, x, bed=False, events=events)
    assert not status[9] & L.STATUS_LOD and status[12] & L.STATUS_LOD and not status[23] & L.STATUS_LOD
    steady = np.abs(np.diff(out[4 * BLOCK:10 * BLOCK], axis=0)).max()
    for k in (10, 20):
        around = out[(k - 1) * BLOCK:(k + 3) * BLOCK]
        assert np.abs(np.diff(around, axis=0)).max() <= 2.0 * steady, k


@pytest.mark.parametrize("kind", FRONTS)
def test_full_sources_and_priority_pick_the_sources(kind):
    """Six sources at gains 1, 0.5, 0.25 ...: with full_sources 2 the two loudest take the
    full path; a priority of 100 on the quietest puts it there in place of the second; and
    a source 2 dB louder than one on the full path does not take its place (hysteresis)."""
    eng = _front(kind, max_sources=8, full_sources=2)
    gains = [0.5 ** i for i in range(6)]
    srcs = []
    for i, g in enumerate(gains):
        srcs.append(eng.add_source(gain=g, distance_model="none"))
        eng.set_source_pose(srcs[-1], (2.0 * math.cos(i), 2.0 * math.sin(i), 0.0))
    x = _noise(1)

    def run(blocks=4):
        for _ in range(blocks):
            for s in srcs:
                eng.write(s, x)
            eng.render(BLOCK)
            status = [eng.source_status(s) for s in srcs]
        return [not st & L.STATUS_LOD for st in status]  # on the full path in the last block

    assert run() == [True, True, False, False, False, False]
    eng.set_source_priority(srcs[5], 100.0)
    assert run() == [True, False, False, False, False, True]
    eng.set_source_priority(srcs[0], 0.5 * 10 ** (-2.0 / 20))  # srcs[1] now 2 dB above it
    assert run() == [True, False, False, False, False, True]
    eng.set_source_priority(srcs[5], 0.0)
    assert run() == [True, True, False, False, False, False]


@pytest.mark.parametrize("kind", FRONTS)
def test_no_limit_and_room_for_all_render_the_full_path(kind):
    """full_sources 0 (no limit) and full_sources above the number of sources render the
    same samples: the bed then stays silent and costs its decode nothing."""
    x = _noise(12)
    outs = []
    for k in (0, 64):
        eng = _front(kind, max_sources=4, full_sources=k)
        srcs = [eng.add_source() for _ in range(3)]
        for i, s in enumerate(srcs):
            eng.set_source_pose(s, (2.0 * math.cos(2 * i), 2.0 * math.sin(2 * i), 0.3))
        out = []
        for b in range(12):
            for s in srcs:
                eng.write(s, x[b * BLOCK:(b + 1) * BLOCK])
            out.append(np.asarray(eng.render(BLOCK)).copy())
            assert not any(eng.source_status(s) & L.STATUS_LOD for s in srcs)
        outs.append(np.concatenate(out))
    assert np.abs(outs[0] - outs[1]).max() <= 1e-7 * np.abs(outs[0]).max()


def test_bad_settings_and_priorities_are_refused():
    from spatialmw.engine import Engine, EngineConfigError, EngineError
    from spatialmw.native import NativeError, Renderer
    for k in (-1, 4097, 1.5, True):
        with pytest.raises(EngineConfigError):
            Engine(SR, 4, BLOCK, full_sources=k)
    for h in (-1.0, 21.0, float("nan")):
        with pytest.raises(EngineConfigError):
            Engine(SR, 4, BLOCK, lod_hysteresis_db=h)
        with pytest.raises(NativeError) as e:
            Renderer(max_sources=4, max_block=BLOCK, lib=LIB, lod_hysteresis_db=h)
        assert "lod_hysteresis_db" in str(e.value)
    for k in (-1, 4097):
        with pytest.raises(NativeError) as e:
            Renderer(max_sources=4, max_block=BLOCK, lib=LIB, full_sources=k)
        assert "full_sources" in str(e.value)
    eng = Engine(SR, 4, BLOCK)
    ren = Renderer(max_sources=4, max_block=BLOCK, lib=LIB)
    a, b = eng.add_source(), ren.add_source()
    for bad in (-0.5, float("nan"), float("inf"), 2e6):
        with pytest.raises(EngineError):
            eng.set_source_priority(a, bad)
        with pytest.raises(NativeError) as e:
            ren.set_source_priority(b, bad)
        assert "priority" in str(e.value)
    eng.set_source_priority(a, 0.0)
    ren.set_source_priority(b, 1e6)


def test_scenes_carry_full_sources_and_priority():
    """A scene's ``full_sources`` and each source's ``priority`` load from JSON and render
    (two sources, one full-path place: one of them in the bed); bad values fail at load."""
    from spatialmw.scene import SceneError, scene_from_dict
    tone = {"tone": 440}
    d = {"duration": 0.2, "full_sources": 1,
         "sources": [{"signal": tone, "trajectory": {"type": "static", "position": [2, 1, 0]}},
                     {"signal": tone, "gain": 0.5, "priority": 100,
                      "trajectory": {"type": "static", "position": [2, -1, 0]}}]}
    scene = scene_from_dict(d)
    assert scene.full_sources == 1 and [s.priority for s in scene.sources] == [1.0, 100.0]
    y = scene.render("liteinn")
    assert np.all(np.isfinite(y)) and np.abs(y).max() > 0.01
    for key, bad in (("full_sources", -1), ("full_sources", 1.5), ("full_sources", True)):
        with pytest.raises(SceneError, match="full_sources"):
            scene_from_dict({**d, key: bad})
    with pytest.raises(SceneError, match="priority"):
        scene_from_dict({**d, "sources": [{**d["sources"][0], "priority": -1}]})
