import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from spatialmw.scene import (Keyframes, Linear, Listener, Orbit, Scene, SceneError, Source, Static, Turn,
                             load_scene, scene_from_dict)
from tests.helpers import lag_samples, rms_db

ROOT = Path(__file__).resolve().parents[1]
SPEECH = "/usr/share/sounds/alsa/Front_Center.wav"


def test_orbit_and_linear_positions():
    t = np.linspace(0, 4, 9)
    p = Orbit(radius=2.0, period=4.0, phase_deg=90).positions(t)
    np.testing.assert_allclose(np.linalg.norm(p, axis=1), 2.0)
    np.testing.assert_allclose(p[0], [0, 2, 0], atol=1e-12)   # phase 90: starts on the left
    np.testing.assert_allclose(p[2], [-2, 0, 0], atol=1e-12)  # a quarter later: behind
    q = Linear((0, 0, 0), (10, 0, 0), t1=2.0).positions(t)
    np.testing.assert_allclose(q[:, 0], np.clip(t / 2.0, 0, 1) * 10)


def test_keyframes_pass_through_points_and_are_smooth():
    k = Keyframes([0, 1, 2.5, 4], [[0, 0, 0], [1, 2, 0], [3, 0, 1], [0, -1, 0]])
    np.testing.assert_allclose(k.positions(np.array([0, 1, 2.5, 4.0])), k.points, atol=1e-12)
    t = np.linspace(0, 4, 40001)
    v = np.diff(k.positions(t), axis=0) / np.diff(t)[:, None]
    # C1: velocity has no jumps (the largest step between neighbours is tiny)
    assert np.max(np.abs(np.diff(v, axis=0))) < 0.01


def test_scene_renders_left_source_on_the_left_with_every_renderer():
    # TDW alone has only the near-field level difference (~1 dB at 2 m); head shadow is the
    # corrector's job, and the measured HRIRs have it
    for renderer, min_ild in (("tdw", 0.5), ("reference", 6.0)):
        sc = Scene(duration=1.0)
        sc.add(Source(SPEECH, Static((0.0, 2.0, 0.0)), distance_model="none"))
        y = sc.render(renderer)
        assert y.shape == (48000, 2) and y.dtype == np.float32
        assert rms_db(y[:, 0]) > rms_db(y[:, 1]) + min_ild, renderer
        assert lag_samples(y[:, 1], y[:, 0]) > 10, renderer


def test_turning_listener_moves_frontal_source_to_the_side():
    sc = Scene(duration=2.0, listener=Listener(orientation=Turn(rate_deg_s=90.0)))
    sc.add(Source("noise:white", Static((2.0, 0.0, 0.0)), distance_model="none"))
    y = sc.render("tdw")
    first, last = y[4800:19200], y[-19200:-4800]
    # at t ~ 0.3 s the source is nearly ahead; at ~1.7 s the listener faces ~150 deg left,
    # so the source is on the right
    assert abs(rms_db(first[:, 0]) - rms_db(first[:, 1])) < 2.0
    assert lag_samples(last[:, 0], last[:, 1]) > 5


def test_scene_rendering_is_latency_compensated():
    """Sample 0 is what is heard at time 0: a bypassed source 2 m ahead arrives after its
    propagation delay only (no STFT latency)."""
    x = np.zeros(48000, dtype=np.float32)
    x[1000] = 1.0
    sc = Scene(duration=1.0)
    sc.add(Source(x, Static((2.0, 0.0, 0.0)), distance_model="none", spatialize=False))
    y = sc.render("tdw")
    arrival = np.argmax(np.abs(y[:, 0]))
    assert abs(arrival - (1000 + 2.0 / 343.0 * 48000)) <= 1


def test_demo_scene_loads_and_renders():
    sc = load_scene(ROOT / "examples/scenes/demo.json")
    assert len(sc.sources) >= 4
    sc.duration = 1.0
    y = sc.render("tdw")
    assert np.all(np.isfinite(y)) and np.std(y) > 0.01


BAD_SCENES = [
    ({"sources": []}, "non-empty"),
    ({"sources": [{"signal": {"tone": 440}, "trajectory": {"type": "spiral"}}]}, "unknown type"),
    ({"sources": [{"signal": {"tone": 440}, "trajectory": {"type": "static", "position": [float("nan"), 0, 0]}}]}, "NaN"),
    ({"sources": [{"signal": {"tone": 440}, "trajectory": {"type": "static", "position": [1e9, 0, 0]}}]}, "leaves the world"),
    ({"sources": [{"trajectory": {"type": "static", "position": [1, 0, 0]}}]}, "missing 'signal'"),
    ({"sources": [{"signal": {"tone": 440}, "gain": "loud"}]}, "gain"),
    ({"sources": [{"signal": {"tone": 440}, "volume": 3}]}, "unknown keys"),
    ({"sample_rate": 22050, "sources": [{"signal": {"tone": 440}}]}, "sample_rate"),
    ({"duration": 1e9, "sources": [{"signal": {"tone": 440}}]}, "duration"),
    ({"coordinate_system": "godot", "sources": [{"signal": {"tone": 440}}]}, "coordinate_system"),
    ({"sources": [{"signal": {"tone": 440}, "trajectory": {"type": "keyframes", "times": [0, 0], "positions": [[0, 0, 0], [1, 0, 0]]}}]}, "increase"),
    ({"sources": [{"signal": {"tone": 440}}], "listener": {"orientation": {"type": "static", "yaw_deg": "x"}}}, "yaw_deg"),
    ({"sources": [{"signal": {"tone": 440}, "distance_model": "exp"}]}, "distance_model"),
]


@pytest.mark.parametrize("scene,match", BAD_SCENES)
def test_bad_scenes_raise_scene_error(scene, match):
    with pytest.raises(SceneError, match=match):
        scene_from_dict(scene)


def test_bad_scene_files(tmp_path):
    p = tmp_path / "s.json"
    p.write_text("{not json")
    with pytest.raises(SceneError, match="not valid JSON"):
        load_scene(p)
    p.write_text("[" * 100000 + "]" * 100000)
    with pytest.raises(SceneError):
        load_scene(p)
    p.write_bytes(b"\xff\xfe\x00garbage")
    with pytest.raises(SceneError):
        load_scene(p)
    with pytest.raises(SceneError, match="cannot read"):
        load_scene(tmp_path / "missing.json")
    big = tmp_path / "big.json"
    big.write_text(" " * (5 * 2 ** 20) + "{}")
    with pytest.raises(SceneError, match="too large"):
        load_scene(big)
    p.write_text(json.dumps({"sources": [{"signal": {"wav": "nope.wav"}}]}))
    with pytest.raises(SceneError, match="cannot read WAV"):
        load_scene(p).render("tdw")
    wav = tmp_path / "bad.wav"
    wav.write_bytes(b"RIFF\x00\x00\x00\x00WAVEjunk")
    p.write_text(json.dumps({"sources": [{"signal": {"wav": "bad.wav"}}]}))
    with pytest.raises(SceneError, match="cannot read WAV"):
        load_scene(p).render("tdw")


def test_source_at_listener_renders_finite():
    sc = Scene(duration=0.5)
    sc.add(Source("noise:white", Static((0.0, 0.0, 0.0))))
    for renderer in ("tdw", "reference"):
        y = sc.render(renderer)
        assert np.all(np.isfinite(y)) and np.std(y) > 0.01


def test_cli_render_and_errors(tmp_path):
    scene = tmp_path / "s.json"
    scene.write_text(json.dumps({"duration": 0.5, "sources": [
        {"signal": {"wav": SPEECH}, "trajectory": {"type": "orbit", "radius": 2, "period": 1}}]}))
    out = tmp_path / "o.wav"
    r = subprocess.run([sys.executable, "-m", "spatialmw", "render", str(scene), "-o", str(out),
                        "--renderer", "tdw", "-q"], capture_output=True, text=True, cwd=ROOT)
    assert r.returncode == 0, r.stderr
    import soundfile as sf
    y, sr = sf.read(out)
    assert sr == 48000 and y.shape == (24000, 2)
    scene.write_text('{"sources": [{"signal": {"tone": 440}, "trajectory": {"type": "warp"}}]}')
    r = subprocess.run([sys.executable, "-m", "spatialmw", "render", str(scene), "-o", str(out)],
                       capture_output=True, text=True, cwd=ROOT)
    assert r.returncode == 2
    assert r.stderr.strip().count("\n") == 0 and "unknown type" in r.stderr
