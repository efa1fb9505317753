"""One engine core: a Python Scene and the same scene driven through the C API give the
same samples."""
import struct
from pathlib import Path

import numpy as np
import pytest

from spatialmw import geometry
from spatialmw.scene import Listener, Orbit, Keyframes, Linear, Scene, Source, Turn

pytestmark = pytest.mark.c_api


def demo_like_scene(speech):
    sc = Scene(duration=2.0, listener=Listener(orientation=Turn(rate_deg_s=120.0)))
    sc.add(Source(str(speech), Orbit(radius=2.0, period=1.0, phase_deg=30), gain=0.8))
    sc.add(Source("noise:pink", Linear((-10, 3, 1), (10, 3, 1)), distance_model="linear",
                  min_distance=1.0, max_distance=30.0))
    sc.add(Source("noise:white", Keyframes([0, 1, 2], [[1, -1, 0], [-1, -2, 1], [0, 2, -1]]),
                  doppler=False, gain=0.3))
    sc.add(Source(str(speech), Orbit(radius=1.0, period=-3.0), spatialize=False, gain=0.2))
    return sc


def write_script(path, scene, block, latency, corrector):
    with open(path, "wb") as f:
        n_blocks = -(-(int(round(scene.duration * scene.sample_rate)) + latency) // block)
        f.write(struct.pack("<5i", scene.sample_rate, block, len(scene.sources), n_blocks, corrector))
        for s in scene.sources:
            f.write(struct.pack("<4f3i", s.gain, s.min_distance, s.max_distance, s.rolloff,
                                geometry.DISTANCE_MODELS[s.distance_model], int(s.doppler), int(s.spatialize)))
        for frames, lp, lv, lq, sp, sv, chunks in scene.engine_blocks(block, extra=latency):
            f.write(struct.pack("<i10f", frames, *lp, *lq, *lv))
            for p, v, x in zip(sp, sv, chunks):
                f.write(struct.pack("<6fi", *p, *v, len(x)))
                f.write(np.asarray(x, dtype="<f4").tobytes())


def test_scene_through_c_api_matches_python(c_host, run_host, speech_path, tmp_path):
    exe = c_host(Path(__file__).resolve().parent / "c" / "parity.c")
    scene = demo_like_scene(speech_path)
    block = 480
    corrector = 1
    from spatialmw.engine import Engine
    latency = Engine(scene.sample_rate, 1, block).latency_frames   # the C host's is the same
    script, out = tmp_path / "script.bin", tmp_path / "out.f32"
    write_script(script, scene, block, latency, corrector)
    r = run_host([exe, script, out], timeout=300)
    assert r.rc == 0, r.log
    y_c = np.fromfile(out, dtype="<f4").reshape(-1, 2)[latency:]
    y_py = scene.render("liteinn", block=block)
    assert y_c.shape == y_py.shape
    assert np.std(y_py) > 0.01
    err = np.max(np.abs(y_c - y_py))
    print(f"PARITY max abs diff {err:.3g} (peak {np.max(np.abs(y_py)):.3f})")
    assert err < 1e-5
