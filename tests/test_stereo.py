"""Stereo (two-channel) sources: two voices placed as two virtual points +-width/2 about the
source's direction, in the listener's frame (docs/FEATURES.md, "Stereo sources").

Checked on the output audio: which ear a channel is heard on (ILD and ITD signs), that a
turned listener takes both points along, that width 0 with identical channels is the mono
source, and that the C API's interleaved write renders what the Python Engine does. The
result codes of the C calls come from one C host (tests/c/stereo.c).
"""
from __future__ import annotations

import json
import math

import numpy as np
import pytest

from spatialmw import defaults as D
from spatialmw import metrics as M
from spatialmw.engine import Engine, EngineError
from spatialmw.kernels import layout as L
from spatialmw.scene import SceneError, scene_from_dict

SR = 48000
BLOCK = 512
FRONT = (2.0, 0.0, 0.0)
N = 24 * BLOCK          # 0.26 s
SKIP = 4 * BLOCK        # the start (delay line filling, latency) is not scored


def _noise(seed):
    return (0.1 * np.random.default_rng(seed).standard_normal(N)).astype(np.float32)


def _yaw(deg):
    a = math.radians(deg) / 2
    return (0.0, 0.0, math.sin(a), math.cos(a))


def _render_stereo(lr, width=D.SOURCE_STEREO_WIDTH_DEG, listener_yaw=0.0, eng=None):
    """(N + one block, 2) output of a stereo source 2 m in front playing ``lr`` (N, 2)."""
    eng = eng or Engine(SR, max_sources=2, max_block=BLOCK)
    src = eng.add_stereo_source(width, distance_model="none")
    eng.set_source_pose(src, FRONT)
    eng.set_listener_pose((0.0, 0.0, 0.0), _yaw(listener_yaw))
    x = np.concatenate([lr, np.zeros((BLOCK, 2), np.float32)])
    out = []
    for at in range(0, len(x), BLOCK):
        eng.write(src, x[at:at + BLOCK])
        out.append(eng.render(BLOCK))
    return np.concatenate(out)


def _cues(y):
    """(ILD dB, ITD us) of a rendering, positive: left louder / leading."""
    y = y[SKIP:].astype(np.float64)
    return M.ild_db(y[:, 0], y[:, 1]), M.itd_us(y[:, 0], y[:, 1], SR)


@pytest.fixture(scope="module")
def channels():
    """The left-only and right-only renderings, listener facing the source and turned 90 degrees left."""
    x = _noise(1)
    z = np.zeros_like(x)
    return {(side, yaw): _cues(_render_stereo(np.stack([x, z] if side == "left" else [z, x], axis=1),
                                              listener_yaw=yaw))
            for side in ("left", "right") for yaw in (0.0, 90.0)}


def test_left_channel_is_heard_on_the_left(channels):
    ild, itd = channels[("left", 0.0)]
    assert ild > 3.0 and itd > 100.0, (ild, itd)      # +30 degrees: left ear louder and earlier


def test_right_channel_mirrors_the_left(channels):
    ild_l, itd_l = channels[("left", 0.0)]
    ild_r, itd_r = channels[("right", 0.0)]
    assert ild_r < -3.0 and itd_r < -100.0, (ild_r, itd_r)
    # KEMAR is nearly symmetric: the two points' cues are mirror images
    assert abs(ild_l + ild_r) < 1.5 and abs(itd_l + itd_r) < 60.0, (ild_l, ild_r, itd_l, itd_r)


def test_turning_the_listener_moves_both_points(channels):
    """Listener turned 90 degrees to the left: the source is now on its right, the left
    channel at -60 degrees and the right one at -120: both heard on the right."""
    for side in ("left", "right"):
        ild, itd = channels[(side, 90.0)]
        assert ild < -6.0 and itd < -300.0, (side, ild, itd)
        assert ild < channels[(side, 0.0)][0] - 3.0


def test_width_zero_with_identical_channels_is_the_mono_source():
    x = _noise(2)
    y = _render_stereo(np.stack([x, x], axis=1), width=0.0)
    eng = Engine(SR, max_sources=2, max_block=BLOCK)
    src = eng.add_source(distance_model="none")
    eng.set_source_pose(src, FRONT)
    xp = np.concatenate([x, np.zeros(BLOCK, np.float32)])
    mono = np.concatenate([(eng.write(src, xp[at:at + BLOCK]), eng.render(BLOCK))[1]
                           for at in range(0, len(xp), BLOCK)])
    assert np.max(np.abs(mono)) > 0.05
    assert np.max(np.abs(y - mono)) < 1e-5


def test_a_stereo_source_takes_two_slots():
    eng = Engine(SR, max_sources=3, max_block=BLOCK, ibc=False)
    src = eng.add_stereo_source()
    with pytest.raises(EngineError, match="two free slots"):
        eng.add_stereo_source()
    mono = eng.add_source()
    with pytest.raises(EngineError):
        eng.add_source()
    eng.remove_source(src)            # frees both
    eng.add_stereo_source()
    eng.remove_source(mono)
    eng.add_source()


def test_engine_refuses_bad_widths_and_the_wrong_channel_count():
    eng = Engine(SR, max_sources=4, max_block=BLOCK, ibc=False)
    for bad in (float("nan"), -1.0, 180.5, "wide"):
        with pytest.raises(EngineError, match="stereo width"):
            eng.add_stereo_source(bad)
    st, mono = eng.add_stereo_source(180.0), eng.add_source()   # nothing was claimed by the refused ones
    eng.add_source()
    for bad in (float("nan"), -0.1, 181.0):
        with pytest.raises(EngineError, match="stereo width"):
            eng.set_source_stereo_width(st, bad)
    with pytest.raises(EngineError, match="is mono"):
        eng.set_source_stereo_width(mono, 30.0)
    with pytest.raises(EngineError, match="is stereo"):
        eng.write(st, np.zeros(BLOCK, np.float32))
    with pytest.raises(EngineError, match="is mono"):
        eng.write(mono, np.zeros((BLOCK, 2), np.float32))


def test_status_is_the_or_of_both_voices():
    eng = Engine(SR, max_sources=2, max_block=BLOCK, ibc=False)
    src = eng.add_stereo_source()
    x = np.zeros((BLOCK, 2), np.float32)
    x[7, 1] = np.nan                                      # the right channel only
    assert eng.write(src, x) is False
    eng.render(BLOCK)
    bits = eng.source_status(src)
    assert bits & L.STATUS_NONFINITE and bits & L.STATUS_PLAYING
    eng.set_source_params(src, paused=True)               # a setter reaches both voices
    eng.render(BLOCK)
    assert eng.source_status(src) == L.STATUS_PAUSED


# ------------------------------------------------------------------ the C API
@pytest.fixture(scope="module")
def c_stereo(c_host, run_host, default_model, tmp_path_factory):
    from tests.test_c_api import CDIR
    d = tmp_path_factory.mktemp("stereo")
    rng = np.random.default_rng(3)
    lr = (0.1 * rng.standard_normal((N, 2))).astype(np.float32)
    lr[:, 1] *= np.linspace(0.0, 1.0, N, dtype=np.float32)          # the channels differ
    (d / "in.bin").write_bytes(np.int32(N).tobytes() + lr.tobytes())
    r = run_host([c_host(CDIR / "stereo.c"), d / "in.bin", d / "out.bin", 45.0])
    assert r.rc == 0, r.log
    results = {p[1]: int(p[2]) for p in (line.split() for line in r.stdout.splitlines()) if p[0] == "RESULT"}
    out = np.fromfile(d / "out.bin", dtype=np.float32).reshape(-1, 2)
    return lr, out, results, r


def test_c_interleaved_write_renders_as_the_engine(c_stereo):
    lr, out, _, r = c_stereo
    x = np.concatenate([lr, np.zeros((BLOCK, 2), np.float32)])
    eng = Engine(SR, max_sources=2, max_block=BLOCK)
    src = eng.add_stereo_source(45.0, distance_model="none")
    eng.set_source_pose(src, FRONT)
    ref = []
    for at in range(0, len(x), BLOCK):
        eng.write(src, x[at:at + BLOCK])
        ref.append(eng.render(BLOCK))
    ref = np.concatenate(ref)
    assert out.shape == ref.shape and np.max(np.abs(ref)) > 0.05
    assert np.max(np.abs(out - ref)) < 1e-6
    assert r.kv["STATUS"] == L.STATUS_PLAYING


SUCCESS, INVALID_ARGUMENT, NULL_POINTER, INVALID_HANDLE, OUT_OF_SOURCES, FRAME_COUNT = 0, 1, 2, 3, 4, 6
CHANNEL_MISMATCH = 16
C_RESULTS = {
    "width_nan": INVALID_ARGUMENT, "width_negative": INVALID_ARGUMENT, "width_above_180": INVALID_ARGUMENT,
    "width_null_out": NULL_POINTER, "width_180": SUCCESS,
    "create_stereo": SUCCESS, "create_mono_third_slot": SUCCESS,
    "create_stereo_full": OUT_OF_SOURCES, "create_mono_full": OUT_OF_SOURCES,
    "create_stereo_one_slot_free": OUT_OF_SOURCES, "create_mono_after_refused_stereo": SUCCESS,
    "write_mono_to_stereo": CHANNEL_MISMATCH, "write_stereo_to_mono": CHANNEL_MISMATCH,
    "width_on_mono": CHANNEL_MISMATCH, "width_nan_set": INVALID_ARGUMENT, "width_above_180_set": INVALID_ARGUMENT,
    "width_ok_set": SUCCESS, "write_stereo_null": NULL_POINTER, "write_stereo_frames_zero": FRAME_COUNT,
    "write_stereo_ok": SUCCESS, "destroy_stereo": SUCCESS, "destroy_stereo_twice": INVALID_HANDLE,
    "create_mono_after_destroy_1": SUCCESS, "create_mono_after_destroy_2": SUCCESS,
}


@pytest.mark.parametrize("case", sorted(C_RESULTS))
def test_c_result_codes(c_stereo, case):
    results = c_stereo[2]
    assert results.get(case) == C_RESULTS[case], (case, results.get(case))


def test_c_hidden_voice_has_no_handle(c_stereo):
    """Three live voices (a stereo source and a mono one), two accepted handles."""
    assert c_stereo[3].kv["ACCEPTED_HANDLES"] == 2


def test_native_renderer_stereo(smw_lib, default_model):
    from spatialmw.native import NativeError, Renderer
    with Renderer(max_sources=2, max_block=BLOCK, corrector=False, lib=smw_lib) as r:
        src = r.add_stereo_source(30.0, distance_model="none")
        r.set_source_pose(src, FRONT)
        x = np.stack([_noise(4)[:2 * BLOCK], np.zeros(2 * BLOCK, np.float32)], axis=1)
        y = []
        for at in (0, BLOCK):      # (the sound arrives after the latency and 2 m: in the second block)
            r.write(src, x[at:at + BLOCK])
            y.append(r.render(BLOCK))
        y = np.concatenate(y)
        assert M.ild_db(y[:, 0], y[:, 1]) > 0.0
        with pytest.raises(NativeError) as e:
            r.write(src, np.zeros(BLOCK, np.float32))
        assert e.value.code == CHANNEL_MISMATCH
        with pytest.raises(NativeError) as e:
            r.add_source()                                   # both slots are the stereo source's
        assert e.value.code == OUT_OF_SOURCES


# ------------------------------------------------------------------ scenes
def _scene(source, duration=0.2):
    return {"duration": duration, "sources": [{"trajectory": {"type": "static", "position": list(FRONT)},
                                                "distance_model": "none", **source}]}


def test_scene_with_a_two_channel_wav(tmp_path):
    import soundfile as sf
    x = _noise(5)[:9600]
    sf.write(tmp_path / "lr.wav", np.stack([x, np.zeros_like(x)], axis=1), SR, subtype="FLOAT")
    scene = scene_from_dict(json.loads(json.dumps(_scene({"signal": "lr.wav", "stereo_width": 60}))), tmp_path)
    assert scene.sources[0].stereo_width == 60.0
    y = scene.render("tdw")
    assert M.ild_db(y[:, 0], y[:, 1]) > 0.5          # the left channel, on the left
    ref = scene.render("reference")
    assert M.ild_db(ref[:, 0], ref[:, 1]) > 3.0


def test_scene_refuses_bad_stereo_sources(tmp_path):
    import soundfile as sf
    sf.write(tmp_path / "mono.wav", _noise(6)[:4800], SR, subtype="FLOAT")
    for source, what in (({"signal": "mono.wav", "stereo_width": 60}, "two-channel"),
                         ({"signal": {"noise": "white"}, "stereo_width": 60}, "two-channel"),
                         ({"signal": "mono.wav", "stereo_width": 200}, "stereo width"),
                         ({"signal": "mono.wav", "stereo_width": "wide"}, "number")):
        with pytest.raises(SceneError, match=what):
            scene_from_dict(_scene(source), tmp_path).render("tdw")
