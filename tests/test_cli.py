"""The command line as a user meets it: the real ``python -m spatialmw`` in a subprocess,
its exit status, its stderr line by line, and the files it leaves behind."""
import argparse
import json
import os
import re
import resource
import signal
import subprocess
import sys
import warnings
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

import spatialmw
from spatialmw.cli import build_parser

ROOT = Path(__file__).resolve().parents[1]
SPEECH = "/usr/share/sounds/alsa/Front_Center.wav"
ENV = {**os.environ, "PYTHONPATH": str(ROOT)}


def cli(*args, cwd=None, env=None, preexec_fn=None):
    return subprocess.run([sys.executable, "-m", "spatialmw", *map(str, args)], capture_output=True,
                          text=True, cwd=cwd or ROOT, env=env or ENV, preexec_fn=preexec_fn, timeout=600)


def one_error_line(r, *fragments):
    """Exit status 2 and exactly one stderr line, ``spatialmw: error: ...`` holding every fragment."""
    assert r.returncode == 2, (r.returncode, r.stderr)
    lines = r.stderr.splitlines()
    assert len(lines) == 1, r.stderr
    assert lines[0].startswith("spatialmw: error: "), lines[0]
    for f in fragments:
        assert f in lines[0], (f, lines[0])
    return lines[0]


@pytest.fixture
def scene(tmp_path):
    p = tmp_path / "s.json"
    p.write_text(json.dumps({"duration": 0.3, "sources": [
        {"signal": {"wav": SPEECH}, "trajectory": {"type": "orbit", "radius": 2, "period": 1}}]}))
    return p


def test_version_comes_from_the_package_and_matches_the_c_header():
    r = cli("--version")
    assert r.returncode == 0 and r.stdout == f"spatialmw {spatialmw.__version__}\n"
    header = (ROOT / "include" / "spatialmw.h").read_text()
    c = tuple(int(re.search(rf"#define SMW_VERSION_{k} (\d+)", header).group(1)) for k in ("MAJOR", "MINOR", "PATCH"))
    assert c == spatialmw.VERSION_TUPLE


def test_every_option_has_help_and_the_description_is_plain_text():
    p = build_parser()
    assert "``" not in p.description and "::" not in p.description
    sub = next(a for a in p._actions if isinstance(a, argparse._SubParsersAction))
    assert set(sub.choices) == {"render", "play", "fit", "eval", "export", "info"}  # no 'bench': not in the package
    for name, sp in sub.choices.items():
        for a in sp._actions:
            assert a.help, f"{name} {a.option_strings or a.dest} has no help"
    r = cli("render", "--help")
    assert r.returncode == 0
    assert re.search(r"--block BLOCK\s+engine block size in frames \(default: 512\)", r.stdout)
    assert "(default: liteinn)" in r.stdout
    r = cli("fit", "--help")
    assert r.returncode == 0 and "docs/FITTING.md" in r.stdout


def test_bench_is_not_a_subcommand_and_the_runner_takes_its_options(tmp_path):
    one_error_line(cli("bench", "--quick"), "invalid choice: 'bench'", "python -m benchmarks.run --out DIR")
    r = subprocess.run([sys.executable, "-m", "benchmarks.run", "--quick"], capture_output=True, text=True,
                       cwd=ROOT, env=ENV, timeout=60)
    assert r.returncode == 2 and "--out" in r.stderr  # required: never writes into the source tree unasked
    from benchmarks.run import main
    assert main(["--quick", "--sizes", "1,0", "--out", str(tmp_path)]) == 2
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("target,fragment", [
    ("x.mp3", "unsupported output format .mp3"),
    (".", "it is a folder"),
    ("/proc/x.wav", "cannot create a file in /proc"),
])
def test_bad_output_paths_fail_before_rendering(tmp_path, target, fragment):
    """The scene names a missing WAV: the error is about the output, so it was checked first."""
    s = tmp_path / "s.json"
    s.write_text(json.dumps({"duration": 0.3, "sources": [{"signal": {"wav": "missing.wav"}}]}))
    before = sorted(os.listdir(tmp_path))
    one_error_line(cli("render", s, "-o", target, "--renderer", "tdw", cwd=tmp_path), fragment)
    assert sorted(os.listdir(tmp_path)) == before


def test_missing_wav_is_named_before_the_engine_is_built(tmp_path):
    """A truncated model would make the engine build fail: the WAV is reported instead."""
    s = tmp_path / "s.json"
    s.write_text(json.dumps({"duration": 0.3, "sources": [{"signal": {"wav": "voice.wav"}}]}))
    (tmp_path / "bad.npz").write_bytes(b"PK\x03\x04 truncated")
    one_error_line(cli("render", s, "-o", tmp_path / "o.wav", "--model", tmp_path / "bad.npz", "-q"),
                   f"cannot read WAV {tmp_path / 'voice.wav'}: no such file")
    assert not (tmp_path / "o.wav").exists()


def test_model_with_a_renderer_that_uses_none_is_refused_and_a_truncated_model_is_reported(scene, tmp_path):
    bad = tmp_path / "bad.npz"
    bad.write_bytes((ROOT / "spatialmw/data/default_kemar.npz").read_bytes()[:2000])
    for renderer in ("tdw", "reference"):
        one_error_line(cli("render", scene, "-o", tmp_path / "o.wav", "--renderer", renderer, "--model", bad),
                       f"not by '{renderer}'")
    one_error_line(cli("render", scene, "-o", tmp_path / "o.wav", "--model", bad, "-q"), str(bad))
    assert not (tmp_path / "o.wav").exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([scene.name, bad.name])


@pytest.mark.parametrize("args,fragment", [
    (["--steps", "0"], "argument --steps: expected a whole number >= 1, got 0"),
    (["--steps", "-5"], "argument --steps: expected a whole number >= 1, got -5"),
    (["--binaural-speech", "{tmp}/nowhere"], "nowhere: dataset directory not found"),
    (["--binaural-speech", "{tmp}/empty"], "empty: no subject folders"),
    (["--sofa", "x.sofa", "--init-model", "m.npz"], "--init-model applies to --binaural-speech only"),
])
def test_fit_user_errors(tmp_path, args, fragment):
    (tmp_path / "empty").mkdir()
    if "--sofa" not in args and "--binaural-speech" not in args:
        args = ["--binaural-speech", str(tmp_path / "empty")] + args
    args = [a.format(tmp=tmp_path) for a in args]
    one_error_line(cli("fit", *args, "-o", tmp_path / "m.npz", "-q"), fragment)
    assert not (tmp_path / "m.npz").exists()


def test_fit_api_refuses_non_positive_steps_before_reading_anything(tmp_path):
    from spatialmw.train.binaural_speech import fit_binaural_speech
    from spatialmw.train.fit_hrtf import FitError, fit_sofa
    for steps in (0, -5, 2.5, True):
        with pytest.raises(FitError, match="steps must be a whole number >= 1"):
            fit_sofa(tmp_path / "missing.sofa", tmp_path / "m.npz", steps=steps)
        with pytest.raises(FitError, match="steps must be a whole number >= 1"):
            fit_binaural_speech(tmp_path / "missing", tmp_path / "m.npz", steps=steps)
    assert not (tmp_path / "m.npz").exists()


def _limit_file_size():
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # a failed write() instead of a killed process
    resource.setrlimit(resource.RLIMIT_FSIZE, (50_000, 50_000))


def test_a_failed_write_leaves_no_half_written_wav_and_keeps_the_old_one(scene, tmp_path):
    out = tmp_path / "o.wav"
    old = np.full((1000, 2), 0.25, dtype=np.float32)
    sf.write(out, old, 48000, subtype="FLOAT")
    # a first render fills numba's cache, so the limit below is met by the output file alone
    assert cli("render", scene, "-o", tmp_path / "first.wav", "--renderer", "tdw", "-q").returncode == 0
    r = cli("render", scene, "-o", out, "--renderer", "tdw", "-q", preexec_fn=_limit_file_size)
    one_error_line(r, f"cannot write {out}", "nothing was written")
    np.testing.assert_array_equal(sf.read(out, dtype="float32")[0], old)  # untouched
    assert sorted(p.name for p in tmp_path.iterdir()) == ["first.wav", "o.wav", "s.json"]  # no temporary left
    r = cli("render", scene, "-o", out, "--renderer", "tdw", "-q")  # without the limit: replaced
    assert r.returncode == 0, r.stderr
    y, sr = sf.read(out)
    assert sr == 48000 and y.shape == (14400, 2)
    umask = os.umask(0)
    os.umask(umask)
    assert out.stat().st_mode & 0o777 == 0o666 & ~umask  # as a plain open() would, not mkstemp's 0600


def test_peak_warning_and_normalize(tmp_path):
    s = tmp_path / "loud.json"
    s.write_text(json.dumps({"duration": 0.5, "sources": [
        {"signal": {"tone": 440}, "gain": 8, "distance_model": "none", "spatialize": False}]}))
    r = cli("render", s, "-o", tmp_path / "raw.wav", "--renderer", "tdw", "-q")
    assert r.returncode == 0
    assert r.stderr.splitlines() == ["spatialmw: warning: peak 4.00 (+12.0 dBFS) exceeds full scale and will "
                                     "clip on playback or integer conversion; use --normalize peak"]
    raw, _ = sf.read(tmp_path / "raw.wav")
    assert abs(np.max(np.abs(raw)) - 4.0) < 1e-3
    r = cli("render", s, "-o", tmp_path / "peak.wav", "--renderer", "tdw", "-q", "--normalize", "peak")
    assert r.returncode == 0 and r.stderr == ""
    y, _ = sf.read(tmp_path / "peak.wav")
    assert abs(np.max(np.abs(y)) - 10 ** (-1 / 20)) < 1e-6
    r = cli("render", s, "-o", tmp_path / "loud.wav", "--renderer", "tdw", "-q", "--normalize", "loudness")
    assert r.returncode == 0 and r.stderr == ""
    z, _ = sf.read(tmp_path / "loud.wav")
    assert abs(-0.691 + 10 * np.log10(np.mean(z[:, 0] ** 2) + np.mean(z[:, 1] ** 2)) + 23.0) < 0.01


def test_cold_cache_notice_comes_before_the_engine_and_no_bar_without_an_engine(scene, tmp_path):
    """An empty NUMBA_CACHE_DIR is a cold cache. The truncated model stops the engine build
    before anything compiles: the notice is printed, the progress bar never starts."""
    bad = tmp_path / "bad.npz"
    bad.write_bytes(b"PK\x03\x04 truncated")
    (tmp_path / "cache").mkdir()
    r = cli("render", scene, "-o", tmp_path / "o.wav", "--model", bad,
            env={**ENV, "NUMBA_CACHE_DIR": str(tmp_path / "cache")})
    assert r.returncode == 2
    lines = r.stderr.splitlines()
    assert lines[0] == "compiling kernels (first run only)..."
    assert len(lines) == 2 and lines[1].startswith("spatialmw: error: ") and "render:" not in r.stderr


def test_info_reports_trainable_parameters_as_the_readme_does():
    from spatialmw.model import load_model
    n = load_model(None).n_params
    r = cli("info")
    assert r.returncode == 0
    assert f"({n} trainable parameters," in r.stdout
    readme = (ROOT / "README.md").read_text()
    assert int(re.search(r"Lite-INN: ([\d,]+) parameters", readme).group(1).replace(",", "")) == n


def _wav_with_extra_chunk(path, x, rate=48000):
    """A float WAV with an unknown 'junk' chunk before the data, as some recorders write."""
    from scipy.io import wavfile
    wavfile.write(path, rate, x.astype(np.float32))
    raw = path.read_bytes()
    i = raw.index(b"data")
    raw = raw[:i] + b"junk" + (8).to_bytes(4, "little") + b"\0" * 8 + raw[i:]
    path.write_bytes(raw[:4] + (len(raw) - 8).to_bytes(4, "little") + raw[8:])


def test_reading_recordings_raises_no_wavfile_warning(tmp_path):
    from spatialmw.train.binaural_speech import read_subject
    n = 4800
    x = 0.1 * np.sin(2 * np.pi * 500 * np.arange(n) / 48000)
    _wav_with_extra_chunk(tmp_path / "mono.wav", x)
    _wav_with_extra_chunk(tmp_path / "binaural.wav", np.stack([x, 0.5 * x], 1))
    np.savetxt(tmp_path / "tx_positions.txt", np.tile([1.0, 0, 0, 0, 0, 0, 1], (n // 400, 1)))
    from scipy.io import wavfile
    with pytest.warns(wavfile.WavFileWarning):  # the file does provoke scipy's warning
        wavfile.read(tmp_path / "mono.wav")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        mono, binaural, pos, _ = read_subject(tmp_path)
    np.testing.assert_allclose(mono, x, atol=1e-7)
    np.testing.assert_allclose(binaural[1], 0.5 * x, atol=1e-7)
    np.testing.assert_allclose(pos, np.tile([1.0, 0, 0], (n // 400, 1)))


def test_scenes_doc_example_is_valid_json_that_renders_and_documents_every_key():
    from spatialmw.scene import _SCENE_KEYS, _SOURCE_KEYS, scene_from_dict
    doc = (ROOT / "docs" / "SCENES.md").read_text()
    example = re.search(r"```json\n(.*?)```", doc, re.S).group(1)
    sc = scene_from_dict(json.loads(example))
    assert len(sc.sources) == 3 and sc.sources[0].loop and not sc.sources[1].loop
    sc.duration = 0.2
    assert np.all(np.isfinite(sc.render("tdw")))
    for key in _SCENE_KEYS | _SOURCE_KEYS:
        assert f"| `{key}` |" in doc, key
    assert "DESIGN.md" not in doc


def test_every_public_exception_derives_from_spatialmw_error_and_keeps_its_old_base():
    import importlib
    import inspect
    expected = {"EngineConfigError": ValueError, "EngineError": RuntimeError, "GeometryError": ValueError,
                "SceneError": ValueError, "OutputError": OSError, "ModelError": ValueError,
                "SOFAError": ValueError, "FitError": ValueError, "EvaluationError": RuntimeError,
                "OpenALError": RuntimeError, "SofalizerError": RuntimeError, "PlaybackError": RuntimeError}
    found = {}
    for mod in ("engine", "geometry", "scene", "model", "hrtf.sofa", "train.fit_hrtf", "evaluation.protocol",
                "openal_binding", "peers.sofalizer", "playback"):
        m = importlib.import_module(f"spatialmw.{mod}")
        for name, cls in inspect.getmembers(m, inspect.isclass):
            if issubclass(cls, Exception) and cls.__module__ == m.__name__:
                found[name] = cls
    assert set(found) == set(expected)
    for name, cls in found.items():
        assert issubclass(cls, spatialmw.SpatialmwError) and issubclass(cls, expected[name]), name
    assert "__import__" not in (ROOT / "spatialmw" / "cli.py").read_text()
