"""Live playback through OpenAL Soft, captured with its `wave` file-writer backend.

OpenAL Soft reads its configuration when the first device opens, so each playback runs
in a fresh interpreter with ALSOFT_CONF pointing at a config that selects the wave
backend: no sound card is touched.
"""
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

import soundfile as sf

SR = 48000
ROOT = Path(__file__).resolve().parents[1]


def _run(tmp_path, code, stereo=None, sr=SR, general=""):
    wav = tmp_path / "out.wav"
    conf = tmp_path / "alsoft.conf"
    conf.write_text(f"[general]\ndrivers=wave\n{general}[wave]\nfile={wav}\n")
    if stereo is not None:
        np.save(tmp_path / "in.npy", stereo)
    env = dict(os.environ, ALSOFT_CONF=str(conf), ALSOFT_DRIVERS="wave",
               PYTHONPATH=str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    prog = textwrap.dedent(f"""
        import numpy as np
        from spatialmw.playback import play, PlaybackError
        x = np.load({str(tmp_path / 'in.npy')!r}) if {stereo is not None} else None
        sr = {sr}
    """) + textwrap.dedent(code)
    r = subprocess.run([sys.executable, "-c", prog], env=env, capture_output=True,
                       text=True, timeout=60, cwd=str(tmp_path))
    return r, wav


def _tone(n, f, sr=SR):
    return np.sin(2 * np.pi * f * np.arange(n) / sr)


@pytest.mark.parametrize("general", [
    "",                                            # OpenAL Soft defaults (float32 here)
    "sample-type=int16\nfrequency=44100\n",       # 16-bit file at another device rate
])
def test_left_only_tone_lands_in_left_channel(tmp_path, general):
    n = SR // 2
    x = np.zeros((n, 2), np.float32)
    x[:, 0] = 0.5 * _tone(n, 440)
    r, wav = _run(tmp_path, "play(x, sr, block=2048)\nprint('OK')", x, general=general)
    assert r.returncode == 0, r.stderr
    assert "OK" in r.stdout
    y, fs = sf.read(str(wav), dtype="float64", always_2d=True)
    assert y.shape[1] == 2
    if general:
        assert fs == 44100 and sf.info(str(wav)).subtype == "PCM_16"
    # the device may run at another rate / 16 bit: compare on the device's time axis
    dur = y.shape[0] / fs
    assert 0.5 - 0.01 <= dur <= 0.5 + 0.25
    el, er = np.sum(y[:, 0] ** 2), np.sum(y[:, 1] ** 2)
    assert el > 0 and er < 1e-6 * el  # direct channels: nothing leaks to the right
    # played level: 0.5 amplitude sine -> RMS 0.354 over the tone's duration
    assert np.sqrt(el / (0.5 * fs)) == pytest.approx(0.5 / np.sqrt(2), rel=0.05)
    # it is the played signal: correlation against the 440 Hz tone on the device clock
    seg = y[:, 0]
    start = int(np.argmax(np.abs(seg) > 0.05))
    seg = seg[start:start + int(0.4 * fs)]
    t = np.arange(seg.size) / fs
    c = np.abs(np.dot(seg, np.exp(-2j * np.pi * 440 * t))) / np.sqrt(np.dot(seg, seg) * seg.size / 2)
    assert c > 0.99


def test_stereo_channels_stay_separate_and_in_order(tmp_path):
    n = SR // 2
    x = np.stack([0.3 * _tone(n, 500), 0.3 * _tone(n, 1500)], axis=1).astype(np.float32)
    r, wav = _run(tmp_path, "play(x, sr, block=1024)", x)
    assert r.returncode == 0, r.stderr
    y, fs = sf.read(str(wav), dtype="float64", always_2d=True)
    spec = np.abs(np.fft.rfft(y, axis=0))
    f = np.fft.rfftfreq(y.shape[0], 1 / fs)
    for ch, (want, other) in enumerate([(500, 1500), (1500, 500)]):
        pw = spec[np.argmin(np.abs(f - want)), ch]
        po = spec[np.argmin(np.abs(f - other)), ch]
        assert pw > 100 * po


def test_no_device_raises_playback_error(tmp_path):
    x = np.zeros((1000, 2), np.float32)
    code = """
    try:
        play(x, sr, device_name="no such device")
    except PlaybackError as e:
        print("PLAYBACKERROR", e)
    """
    r, _ = _run(tmp_path, code, x)
    assert r.returncode == 0, r.stderr
    assert "PLAYBACKERROR" in r.stdout and "no such device" in r.stdout


def test_bad_input_rejected_before_opening_a_device():
    from spatialmw.playback import play
    with pytest.raises(ValueError):
        play(np.zeros((100, 3), np.float32), SR)
    with pytest.raises(ValueError):
        play(np.full((100, 2), np.nan, np.float32), SR)
    with pytest.raises(ValueError):
        play(np.zeros((100, 2), np.float32), 12)
    with pytest.raises(ValueError):
        play(np.zeros((0, 2), np.float32), SR)


def test_cli_play_streams_the_binaural_scene(tmp_path):
    """`spatialmw play` renders the scene and streams it: a source on the left arrives
    in the captured file louder on the left, as long as the scene."""
    import json
    scene = tmp_path / "s.json"
    scene.write_text(json.dumps({"duration": 1.0, "sources": [
        {"signal": {"noise": "white"}, "trajectory": {"type": "static", "position": [0, 2, 0]},
         "distance_model": "none"}]}))
    wav = tmp_path / "out.wav"
    conf = tmp_path / "alsoft.conf"
    conf.write_text(f"[general]\ndrivers=wave\n[wave]\nfile={wav}\n")
    env = dict(os.environ, ALSOFT_CONF=str(conf), ALSOFT_DRIVERS="wave")
    r = subprocess.run([sys.executable, "-m", "spatialmw", "play", str(scene), "-q"], env=env,
                       capture_output=True, text=True, timeout=120, cwd=str(ROOT))
    assert r.returncode == 0, r.stderr
    y, sr = sf.read(str(wav))
    assert y.shape[1] == 2 and abs(len(y) / sr - 1.0) < 0.3
    left, right = np.std(y[:, 0]), np.std(y[:, 1])
    assert left > 1.5 * right > 0
