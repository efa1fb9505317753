import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from spatialmw import metrics
from spatialmw.scene import (Cone, Facing, Keyframes, Linear, Listener, Orbit, Reverb, Scene, SceneError, Source,
                             Static, Transmission, Turn, load_scene, scene_from_dict)
from tests.helpers import lag_samples, rms_db

ROOT = Path(__file__).resolve().parents[1]
SPEECH = "/usr/share/sounds/alsa/Front_Center.wav"


def test_orbit_and_linear_positions():
    t = np.linspace(0, 4, 9)
    p = Orbit(radius=2.0, period=4.0, phase_deg=90).at(t)
    np.testing.assert_allclose(np.linalg.norm(p, axis=1), 2.0)
    np.testing.assert_allclose(p[0], [0, 2, 0], atol=1e-12)   # phase 90: starts on the left
    np.testing.assert_allclose(p[2], [-2, 0, 0], atol=1e-12)  # a quarter later: behind
    q = Linear((0, 0, 0), (10, 0, 0), t1=2.0).at(t)
    np.testing.assert_allclose(q[:, 0], np.clip(t / 2.0, 0, 1) * 10)


def test_keyframes_pass_through_points_and_are_smooth():
    k = Keyframes([0, 1, 2.5, 4], [[0, 0, 0], [1, 2, 0], [3, 0, 1], [0, -1, 0]])
    np.testing.assert_allclose(k.at(np.array([0, 1, 2.5, 4.0])), k.positions, atol=1e-12)
    t = np.linspace(0, 4, 40001)
    v = np.diff(k.at(t), axis=0) / np.diff(t)[:, None]
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
    ({"coordinate_system": "godot", "sources": [{"signal": {"tone": 440}}]}, "expected one of .*native.*unity"),
    ({"sources": [{"signal": {"tone": 440}, "trajectory": {"type": "keyframes", "times": [0, 1], "points": [[0, 0, 0], [1, 0, 0]]}}]},
     "take 'positions'.*not 'points'"),
    ({"sources": [{"signal": {"tone": 440, "loop": True}}]}, "'loop' is a key of the source"),
    ({"sources": [{"signal": {"tone": 440}, "loop": "false"}]}, "loop must be true or false"),
    # the room and tone features: types, shapes, and the Engine's own ranges
    ({"sources": [{"signal": {"tone": 440}, "transmission": [0.5, 1.5, 0.5]}]}, "source 0 transmission: .*mid must be in \\[0, 1\\]"),
    ({"sources": [{"signal": {"tone": 440}, "transmission": [0.5, 0.5]}]}, "transmission must be \\[low, mid, high\\]"),
    ({"sources": [{"signal": {"tone": 440}, "transmission": ["a", 1, 1]}]}, "transmission band must be a number"),
    ({"sources": [{"signal": {"tone": 440}, "transmission": {"times": [0, 1], "values": [[1, 1, 1], [1, 1, -0.1]]}}]},
     "high must be in"),
    ({"sources": [{"signal": {"tone": 440}, "transmission": {"times": [1, 0], "values": [[1, 1, 1], [1, 1, 1]]}}]},
     "source 0: transmission times .* increase"),
    ({"sources": [{"signal": {"tone": 440}, "transmission": {"times": [0, 1]}}]}, "exactly 'times' and 'values'"),
    ({"sources": [{"signal": {"tone": 440}, "cone": {"inner_deg": 200, "outer_deg": 100}}]}, "outer_deg .* < inner_deg"),
    ({"sources": [{"signal": {"tone": 440}, "cone": {"inner_deg": 90, "outer_gain": 2}}]}, "outer_gain must be in \\[0, 1\\]"),
    ({"sources": [{"signal": {"tone": 440}, "cone": {"inner": 90}}]}, "cone: unknown keys \\['inner'\\]"),
    ({"sources": [{"signal": {"tone": 440}, "cone": [90, 180]}]}, "cone must be an object"),
    ({"sources": [{"signal": {"tone": 440}, "air_absorption": 11}]}, "air absorption factor must be in \\[0, 10\\]"),
    ({"sources": [{"signal": {"tone": 440}, "air_absorption": "1"}]}, "air_absorption must be a number"),
    ({"sources": [{"signal": {"tone": 440}, "reverb_send": 1.5}]}, "reverb send must be in \\[0, 1\\]"),
    ({"sources": [{"signal": {"tone": 440}, "reverb_send": True}]}, "reverb_send must be a number"),
    ({"sources": [{"signal": {"tone": 440}, "orientation": {"type": "static", "yaw": 3}}]}, "orientation"),
    ({"reverb": {"decay_time": 0.01}, "sources": [{"signal": {"tone": 440}}]}, "decay_time must be in \\[0.1, 20\\]"),
    ({"reverb": {"pre_delay": 0.6}, "sources": [{"signal": {"tone": 440}}]}, "pre_delay must be in"),
    ({"reverb": {"wet": 1}, "sources": [{"signal": {"tone": 440}}]}, "reverb: unknown keys"),
    ({"reverb": 1.5, "sources": [{"signal": {"tone": 440}}]}, "reverb must be an object"),
    ({"hop": 100, "sources": [{"signal": {"tone": 440}}]}, "hop must be one of \\[256, 128, 64\\]"),
    ({"hop": "64", "sources": [{"signal": {"tone": 440}}]}, "hop must be one of"),
    ({"master_gain": -1, "sources": [{"signal": {"tone": 440}}]}, "master gain must be in"),
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


def test_python_coordinate_system_error_names_the_valid_values():
    with pytest.raises(SceneError, match="unknown coordinate_system 'godot'; expected one of .*native.*openal.*unity.*unreal"):
        Scene(coordinate_system="godot")
    sc = Scene(duration=0.1, sources=[Source({"tone": 440})])
    sc.coordinate_system = "y-up"  # changed after construction: still a SceneError, not a KeyError
    with pytest.raises(SceneError, match="expected one of"):
        sc.render("tdw")


def test_sources_play_once_by_default_in_python_and_json_and_loop_when_asked(tmp_path):
    """The same short WAV (0.1 s in a 0.3 s scene): silence after it by default, repeated
    with loop, identically from a Python Source and a JSON source."""
    import soundfile as sf
    x = (0.5 * np.sin(2 * np.pi * 300 * np.arange(4800) / 48000)).astype(np.float32)
    sf.write(tmp_path / "short.wav", x, 48000, subtype="FLOAT")
    for loop in (False, True):
        py = Scene(duration=0.3, sources=[Source(str(tmp_path / "short.wav"), **({"loop": True} if loop else {}))])
        js = scene_from_dict({"duration": 0.3, "sources": [
            {"signal": {"wav": "short.wav"}, **({"loop": True} if loop else {})}]}, base_dir=tmp_path)
        a, b = py.signals()[0], js.signals()[0]
        np.testing.assert_array_equal(a, b)
        expected = np.tile(x, 3) if loop else np.concatenate([x, np.zeros(9600, np.float32)])
        np.testing.assert_allclose(a, expected, atol=1e-7)
    # an array signal follows the same rule
    arr = Scene(duration=0.3, sources=[Source(x.astype(np.float64))]).signals()[0]
    assert np.all(arr[4800:] == 0)


def test_keyframes_are_positions_in_python_too():
    k = Keyframes(times=[0, 1], positions=[[1, 0, 0], [0, 1, 0]])
    np.testing.assert_allclose(k.at(np.array([0.0, 1.0])), [[1, 0, 0], [0, 1, 0]])
    with pytest.raises(TypeError, match="points"):
        Keyframes(times=[0, 1], points=[[1, 0, 0], [0, 1, 0]])


def test_missing_or_unreadable_wav_is_named_before_the_engine_is_built(tmp_path):
    """A truncated model would fail the engine build: the WAV error comes first."""
    bad_model = tmp_path / "m.npz"
    bad_model.write_bytes(b"PK\x03\x04 truncated")
    sc = Scene(duration=0.2, sources=[Source(str(tmp_path / "gone.wav"))])
    with pytest.raises(SceneError, match=f"cannot read WAV {tmp_path / 'gone.wav'}: no such file"):
        sc.render("liteinn", model=bad_model)


def test_model_is_refused_by_renderers_that_use_none():
    sc = Scene(duration=0.1, sources=[Source({"tone": 440})])
    for renderer in ("tdw", "reference"):
        with pytest.raises(SceneError, match=f"only by the liteinn renderer, not by '{renderer}'"):
            sc.render(renderer, model="whatever.npz")


def test_normalize_peak_and_loudness_in_the_api(tmp_path):
    import soundfile as sf
    sc = Scene(duration=0.5, sources=[Source({"tone": 440}, gain=8.0, distance_model="none", spatialize=False)])
    raw = sc.render("tdw")
    assert np.max(np.abs(raw)) > 3.9  # 0.5 * 8 to both ears, unprocessed
    peak = sc.render("tdw", normalize="peak")
    assert abs(np.max(np.abs(peak)) - 10 ** (-1 / 20)) < 1e-6
    np.testing.assert_allclose(peak, raw * (10 ** (-1 / 20) / np.max(np.abs(raw))), rtol=1e-6)
    y = sc.write(tmp_path / "l.wav", renderer="tdw", normalize="loudness")
    z, _ = sf.read(tmp_path / "l.wav")
    # ungated, unweighted BS.1770 channel sum, computed here independently
    level = -0.691 + 10 * np.log10(np.mean(z[:, 0] ** 2) + np.mean(z[:, 1] ** 2))
    assert abs(level - (-23.0)) < 0.01
    np.testing.assert_array_equal(z.astype(np.float32), y)
    with pytest.raises(SceneError, match="normalize mode 'rms'"):
        sc.render("tdw", normalize="rms")


def test_progress_is_off_in_the_api_and_waits_for_the_engine(tmp_path, monkeypatch, capfd):
    """progress=False prints nothing; progress=True on a cold cache (an empty
    NUMBA_CACHE_DIR as seen by the check) says it compiles, then shows the bar."""
    import spatialmw
    sc = Scene(duration=0.2, sources=[Source({"tone": 440})])
    monkeypatch.setenv("NUMBA_CACHE_DIR", str(tmp_path))
    assert spatialmw.kernel_cache_is_cold()
    sc.render("tdw")
    assert capfd.readouterr().err == ""
    sc.render("tdw", progress=True)
    err = capfd.readouterr().err
    assert err.startswith("compiling kernels (first run only)...\n") and "render: 100%" in err
    monkeypatch.undo()
    assert not spatialmw.kernel_cache_is_cold()  # the real cache: warm after the renders above


# ---------------------------------------------------------------- room and tone features
def _noise_scene(duration=1.0, **source):
    """White noise 2 m ahead, no distance attenuation, with ``source``'s JSON keys."""
    return {"duration": duration, "sources": [
        {"signal": {"noise": "white", "seed": 4}, "trajectory": {"type": "static", "position": [2, 0, 0]},
         "distance_model": "none", **source}]}


def test_json_transmission_reaches_the_audio_and_matches_python():
    """Transmission 0.1 on every band from a JSON scene: 20 dB less in the mid band (within
    0.5 dB) than the same scene without it; the same scene built in Python renders the same."""
    plain = scene_from_dict(_noise_scene()).render()
    y = scene_from_dict(_noise_scene(transmission=[0.1, 0.1, 0.1])).render()
    skip = 4800  # the first block ramps from the unoccluded gains
    got = metrics.band_level_db(y[skip:], 48000, 1200, 2000) - metrics.band_level_db(plain[skip:], 48000, 1200, 2000)
    assert np.all(np.abs(got + 20.0) < 0.5), got
    py = Scene(duration=1.0, sources=[Source({"noise": "white", "seed": 4}, Static((2, 0, 0)), distance_model="none",
                                             transmission=(0.1, 0.1, 0.1))])
    np.testing.assert_array_equal(py.render(), y)


def test_transmission_keyframes_change_it_over_time():
    """Unoccluded for 0.5 s, then 0.1 on every band: the second half is 20 dB quieter."""
    tr = {"times": [0.0, 0.5, 0.55, 1.0], "values": [[1, 1, 1], [1, 1, 1], [0.1, 0.1, 0.1], [0.1, 0.1, 0.1]]}
    y = scene_from_dict(_noise_scene(transmission=tr)).render()
    before, after = y[4800:23000], y[29000:47000]
    drop = metrics.band_level_db(after, 48000, 1200, 2000) - metrics.band_level_db(before, 48000, 1200, 2000)
    assert np.all(np.abs(drop + 20.0) < 1.0), drop


def test_reverb_leaves_a_tail_after_the_source_stops():
    """0.3 s of noise in a 1.2 s scene: with the reverb and a send, the last 0.5 s holds a
    decaying tail (within 40 dB of the direct sound); without the reverb it is silent."""
    x = np.zeros(57600, dtype=np.float32)
    x[:14400] = np.random.default_rng(5).standard_normal(14400) * 0.25

    def render(reverb):
        sc = Scene(duration=1.2, reverb=reverb, sources=[Source(x, Static((2, 0, 0)), reverb_send=0.5)])
        return sc.render()
    wet, dry = render(Reverb(decay_time=2.0)), render(None)
    direct = metrics.band_level_db(wet[:14400], 48000, 100, 16000)
    tail = metrics.band_level_db(wet[-24000:], 48000, 100, 16000)
    assert np.all(tail > direct - 40.0), (direct, tail)
    assert np.max(np.abs(dry[-24000:])) < 1e-6
    # the tail decays: its second half is quieter than its first
    assert np.all(metrics.band_level_db(wet[-12000:], 48000, 100, 16000)
                  < metrics.band_level_db(wet[-24000:-12000], 48000, 100, 16000) - 3.0)


def test_cone_points_with_the_source_orientation():
    """A source facing away from the listener (yaw 0 at +x: its forward axis points away)
    with outer_gain 0.25 is 12 dB quieter than facing it (yaw 180)."""
    def level(yaw):
        sc = scene_from_dict(_noise_scene(cone={"inner_deg": 60, "outer_deg": 120, "outer_gain": 0.25},
                                          orientation={"type": "static", "yaw_deg": yaw}))
        return metrics.band_level_db(sc.render("tdw")[4800:], 48000, 300, 1000)
    assert np.all(np.abs(level(0.0) - level(180.0) - 20 * np.log10(0.25)) < 0.5)


def test_hop_and_master_gain_reach_the_engine():
    """hop 64 renders latency-compensated like the default (the impulse lands on the same
    sample); master_gain 0.5 halves the output."""
    x = np.zeros(24000, dtype=np.float32)
    x[1000] = 1.0
    ys = {}
    for hop, gain in ((256, 1.0), (64, 1.0), (256, 0.5)):
        sc = Scene(duration=0.5, hop=hop, master_gain=gain,
                   sources=[Source(x, Static((2, 0, 0)), distance_model="none", spatialize=False)])
        ys[hop, gain] = sc.render("tdw")
    assert np.argmax(np.abs(ys[64, 1.0][:, 0])) == np.argmax(np.abs(ys[256, 1.0][:, 0]))
    np.testing.assert_allclose(ys[256, 0.5][2000:], 0.5 * ys[256, 1.0][2000:], atol=1e-7)


def test_reference_renderer_ignores_the_features_with_a_warning():
    sc = scene_from_dict(_noise_scene(duration=0.2, transmission=[0.1, 0.1, 0.1]))
    with pytest.warns(UserWarning, match="reference renderer ignores source cone/transmission"):
        y = sc.render("reference")
    plain = scene_from_dict(_noise_scene(duration=0.2)).render("reference")
    np.testing.assert_array_equal(y, plain)


def test_steps_signal_is_a_footfall_every_period_and_checks_its_rate():
    x = Scene(duration=1.0, sources=[Source({"steps": 2.0})]).signals()[0]
    env = np.abs(x).reshape(2, 24000).max(axis=1)
    assert np.all(env > 0.3) and np.max(np.abs(x[12000:24000])) < 0.5 * np.exp(-0.25 / 0.03) + 1e-9
    with pytest.raises(SceneError, match="steps per second"):
        scene_from_dict({"sources": [{"signal": {"steps": 0}}]}).render("tdw")


def test_room_example_loads_and_renders():
    sc = load_scene(ROOT / "examples/scenes/room.json")
    assert sc.reverb is not None and isinstance(sc.sources[1].transmission, Transmission)
    assert isinstance(sc.sources[0].cone, Cone) and isinstance(sc.sources[0].orientation, Facing)
    sc.duration = 1.0
    y = sc.render("tdw")
    assert np.all(np.isfinite(y)) and np.std(y) > 0.01


@pytest.mark.parametrize("kw, match", [
    ({"transmission": ("a", 1, 1)}, "source 0: transmission must be \\[low, mid, high\\]"),
    ({"transmission": Transmission([0, "x"], [[1, 1, 1], [1, 1, 1]])}, "transmission times must be numbers"),
    ({"transmission": Transmission([0, 1], [[1, 1, 1], [1, 1, 2]])}, "source 0 transmission: .*high must be in"),
    ({"cone": Cone(inner_deg=400)}, "source 0 cone: inner_deg must be in \\[0, 360\\]"),
    ({"air_absorption": float("nan")}, "air absorption factor must be in"),
    ({"reverb_send": -0.1}, "reverb send must be in"),
])
def test_python_feature_values_are_checked_like_the_engine(kw, match):
    sc = Scene(duration=0.1, sources=[Source({"tone": 440}, **kw)])
    with pytest.raises(SceneError, match=match):
        sc.render("tdw")


def test_python_scene_settings_are_checked():
    for kw, match in (({"hop": 96}, "hop must be one of"), ({"master_gain": 1e4}, "master gain must be in"),
                      ({"reverb": Reverb(hf_ratio=2.0)}, "reverb hf_ratio must be in")):
        with pytest.raises(SceneError, match=match):
            Scene(duration=0.1, sources=[Source({"tone": 440})], **kw).render("tdw")


def test_cli_says_in_one_line_what_the_reference_renderer_ignores(tmp_path):
    scene = tmp_path / "s.json"
    scene.write_text(json.dumps(_noise_scene(duration=0.2, reverb_send=0.5)))
    r = subprocess.run([sys.executable, "-m", "spatialmw", "render", str(scene), "-o", str(tmp_path / "o.wav"),
                        "--renderer", "reference", "-q"], capture_output=True, text=True, cwd=ROOT)
    assert r.returncode == 0, r.stderr
    assert r.stderr.splitlines() == ["spatialmw: warning: the reference renderer ignores source "
                                     "cone/transmission/air_absorption/reverb_send/spread (only liteinn and tdw render "
                                     "them)"]


def test_json_spread_reaches_the_audio_and_is_checked():
    """A diffuse (360 degree) source's ears are far less coherent than the same point
    source's; a spread outside 0..360 is a SceneError."""
    from spatialmw.scene import scene_from_dict

    def render(extra):
        d = {"duration": 0.6, "sources": [{"signal": {"noise": "white", "seed": 3}, "distance_model": "none",
                                           "trajectory": {"type": "static", "position": [2.0, 0.5, 0.0]},
                                           **extra}]}
        y = scene_from_dict(d).render()
        return metrics.interaural_coherence(y[4800:, 0], y[4800:, 1], 48000, 1000.0, 4000.0)
    assert render({}) > 0.9
    assert render({"spread": 360}) < 0.4
    with pytest.raises(SceneError, match="spread"):
        scene_from_dict({"duration": 0.1, "sources": [{"signal": {"noise": "white"}, "spread": 400}]})


def test_json_lod_hysteresis_reaches_the_renderer_and_is_checked():
    """One full-path place (full_sources 1): A at gain 0.5 holds it, B's transmission rises
    linearly from 0.01 to 1 over the second. B takes A's place once it ranks
    lod_hysteresis_db above A: with 0 dB at t = 0.49 s, with 3 dB at 0.70 s, with 20 dB never.
    So renders with 0 or 3 dB are identical to the 20 dB one up to their swap and differ
    (the two sources change tiers) in every 10 ms after it; a value outside 0..20 dB, or
    not a number, is a SceneError."""
    def render(hysteresis_db):
        return scene_from_dict({"duration": 1.0, "full_sources": 1, "lod_hysteresis_db": hysteresis_db, "sources": [
            {"signal": {"noise": "white", "seed": 1}, "trajectory": {"type": "static", "position": [2, 1, 0]},
             "distance_model": "none", "gain": 0.5},
            {"signal": {"noise": "white", "seed": 2}, "trajectory": {"type": "static", "position": [2, -1, 0]},
             "distance_model": "none", "transmission": {"times": [0, 1], "values": [[0.01] * 3, [1] * 3]}}]}).render()
    never = render(20.0)
    for h in (0.0, 3.0):
        t_swap = (0.5 * 10 ** (h / 20) - 0.01) / 0.99
        diff = np.abs(render(h) - never).max(axis=1).reshape(-1, 480).max(axis=1)   # per 10 ms
        k = int(t_swap * 100)
        assert np.all(diff[:k - 2] == 0.0), h
        assert np.all(diff[k + 2:] > 0.05), h
    for bad in (25, -1, "3", True, float("nan")):
        with pytest.raises(SceneError, match="lod_hysteresis_db"):
            scene_from_dict({"lod_hysteresis_db": bad, "sources": [{"signal": {"tone": 440}}]})
    with pytest.raises(SceneError, match="lod_hysteresis_db must be a number 0..20 dB"):
        Scene(duration=0.1, lod_hysteresis_db=float("inf"), sources=[Source({"tone": 440})]).render()
