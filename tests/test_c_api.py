"""The C API from C: bad input (one case each), the defaults against the Python Engine's,
spatialisation in every coordinate system, the example game loop, renderer creation.

Every host is compiled with gcc against include/spatialmw.h and the native library
(build/lib/libspatialmw.so, exactly what the SDK ships) and run with an EMPTY environment
(``env -i``): the library needs nothing from it.
"""
from __future__ import annotations

import inspect
import os
import re
from pathlib import Path

import numpy as np
import pytest

pytestmark = pytest.mark.c_api

ROOT = Path(__file__).resolve().parents[1]
CDIR = ROOT / "tests" / "c"


@pytest.fixture(scope="module")
def hosts(c_host, default_model, tmp_path_factory):
    return {name: c_host(CDIR / f"{name}.c") for name in ("api_errors", "spatial", "create_time", "defaults")} \
        | {"dir": tmp_path_factory.mktemp("c_api")}


# ---------------------------------------------------------------------------------------
# Bad input, one case each (one host run, one pytest case per line it prints)
# ---------------------------------------------------------------------------------------
CASES = """
version result_strings
create_null_settings create_null_out create_settings_size_zero create_unsupported_rate_22050
create_failure_sets_out_null create_rate_zero create_zero_sources create_negative_block
create_bad_coordinate_system create_table_step_too_fine create_table_step_nan create_without_table
create_full_sources_negative create_full_sources_too_many create_lod_hysteresis_nan create_lod_hysteresis_negative
create_worker_threads_negative create_worker_threads_too_many create_reserved_not_zero
create_enable_corrector_not_a_flag
create_missing_model create_corrupt_model last_error_after_create_failure
null_renderer_get_latency null_renderer_listener null_renderer_source_create null_renderer_source_destroy
null_renderer_set_pose null_renderer_set_gain null_renderer_set_distance null_renderer_set_doppler
null_renderer_set_spatialize null_renderer_set_paused null_renderer_write null_renderer_render
null_renderer_last_error_not_null
get_latency latency_positive
null_out_latency null_out_source source_create null_listener_position null_listener_quat
null_source_position null_samples null_output
handle_zero handle_index_out_of_range handle_never_issued_generation handle_never_issued_slot
never_issued_says_so destroy double_destroy stale_says_stale stale_set_pose stale_write render_after_destroy
create_to_capacity more_sources_than_capacity stale_after_slot_reuse destroy_one
slot_reused_before_render reused_handle_differs stolen_handle_stale slot_full_after_render
pose_nan_position pose_inf_position pose_nan_quaternion pose_zero_quaternion pose_denormal_quaternion
pose_absurd_distance pose_unnormalised_quaternion_ok listener_nan listener_zero_quaternion
source_at_listener_ok
gain_nan gain_negative priority_nan priority_negative priority_too_large priority_null_renderer gain_ok distance_unknown_model distance_min_zero distance_max_below_min
distance_inf distance_ok doppler_ok spatialize_ok paused_ok
doppler_two doppler_minus_one spatialize_two spatialize_minus_one paused_two paused_minus_one
renderer_paused_two master_gain_negative master_gain_nan master_gain_above_max master_gain_ok
status_null_out status_stale status_ok model_info_bad_size model_info_null model_info_ok
write_frames_zero write_frames_negative write_frames_above_max render_frames_zero
render_frames_above_max render_odd_frames_ok write_block_ok write_overflow_buffer_full render_drains
nan_samples_result inf_samples_result nonfinite_output_finite nonfinite_other_source_keeps_playing
nonfinite_left_still_audible_after_block
""".split()


@pytest.fixture(scope="module")
def api_cases(hosts, run_host):
    corrupt = hosts["dir"] / "corrupt_model.npz"
    corrupt.write_bytes(b"PK\x03\x04" + os.urandom(200))
    r = run_host([hosts["api_errors"], corrupt], timeout=120)
    assert r.rc in (0, 1), f"api_errors crashed (rc {r.rc}):\n{r.log}"
    cases = {}
    for line in r.stdout.splitlines():
        parts = line.split(" ", 3)
        if len(parts) >= 3 and parts[0] == "CASE":
            cases[parts[1]] = (parts[2], line)
    return cases, r.log


@pytest.mark.parametrize("case", CASES)
def test_bad_input_from_c(api_cases, case):
    cases, log = api_cases
    assert case in cases, f"case {case} did not run:\n{log}"
    status, line = cases[case]
    assert status == "PASS", line


def test_every_case_listed(api_cases):
    cases, _ = api_cases
    assert set(cases) <= set(CASES), f"unlisted cases: {set(cases) - set(CASES)}"


# ---------------------------------------------------------------------------------------
# Defaults: the C API's and the Python Engine's are the same
# ---------------------------------------------------------------------------------------
def test_c_default_settings_are_the_engine_defaults(hosts, run_host):
    """Every field of smw_renderer_settings_default(), printed by a C program, against
    spatialmw.engine.EngineConfig()."""
    from spatialmw import geometry
    from spatialmw.engine import EngineConfig
    r = run_host([hosts["defaults"]])
    assert r.rc == 0, r.log
    k, cfg = r.kv, EngineConfig()
    assert k["SIZE"] == k["SIZEOF"]
    assert k["SAMPLE_RATE"] == cfg.sample_rate
    assert k["MAX_BLOCK_FRAMES"] == cfg.max_block
    assert k["MAX_SOURCES"] == cfg.max_sources
    assert k["MODEL_PATH_NULL"] == 1 and cfg.model_path is None      # both: the shipped model
    # the Python Engine always works in native coordinates
    assert k["COORDINATE_SYSTEM"] == geometry.COORDINATE_SYSTEM_IDS.index("native")
    assert k["ENABLE_CORRECTOR"] == int(cfg.ibc)
    assert k["CORRECTOR_TABLE_STEP_DEG"] == np.float32(cfg.ibc_table_step)
    assert k["HOP_FRAMES"] == cfg.hop
    assert k["FULL_SOURCES"] == cfg.full_sources
    assert k["LOD_HYSTERESIS_DB"] == np.float32(cfg.lod_hysteresis_db)
    assert k["WORKER_THREADS"] == cfg.worker_threads


def _header_source_defaults() -> dict:
    """The new-source defaults documented on smw_source_create in the public header."""
    text = (ROOT / "include" / "spatialmw.h").read_text()
    doc = text[:text.index("SMW_API smw_result smw_source_create(")].rsplit("/**", 1)[1]
    m = re.search(r"gain (\S+), inverse-clamped distance model\s*\(min (\S+) m, max (\S+) m, "
                  r"rolloff (\S+)\), Doppler (on|off), (spatialised|not spatialised)",
                  " ".join(re.sub(r"\n\s*\*", " ", doc).split()))
    assert m, f"smw_source_create's documented defaults changed form:\n{doc}"
    return {"gain": float(m[1]), "distance_model": "inverse_clamped", "min_distance": float(m[2]),
            "max_distance": float(m[3]), "rolloff": float(m[4]), "doppler": m[5] == "on",
            "spatialize": m[6] == "spatialised"}


def test_python_source_defaults_are_the_documented_c_defaults():
    from spatialmw.engine import Engine
    sig = inspect.signature(Engine.add_source).parameters
    python = {name: sig[name].default for name in _header_source_defaults()}
    assert python == _header_source_defaults()


def test_default_renderer_and_source_render_as_the_python_defaults(hosts, run_host):
    """A renderer from the unmodified default settings and a source from smw_source_create
    with no setter called (C) render the same samples as Engine() and add_source() with
    their defaults (Python): the defaults agree in behaviour, not only in value. The
    source is 3 m away, where the default inverse-clamped distance model attenuates."""
    from spatialmw.engine import Engine
    pos = (2.0, 2.0, 1.0)
    x = (np.random.default_rng(2).standard_normal(512 * 12) * 0.2).astype(np.float32)
    x_path, y_path = hosts["dir"] / "defaults_in.f32", hosts["dir"] / "defaults_out.f32"
    x.tofile(x_path)
    r = run_host([hosts["defaults"], x_path, y_path, *pos])
    assert r.rc == 0 and r.kv["BLOCKS"] == 12, r.log
    y_c = np.fromfile(y_path, dtype=np.float32).reshape(-1, 2)
    eng = Engine()
    h = eng.add_source()
    eng.set_source_pose(h, pos)
    y_py = []
    for i in range(0, x.size, 512):
        eng.write(h, x[i:i + 512])
        y_py.append(eng.render(512))
    y_py = np.concatenate(y_py)
    assert np.sqrt(np.mean(y_py[eng.latency_frames:] ** 2)) > 1e-3
    np.testing.assert_allclose(y_c, y_py, atol=1e-5, rtol=0)
    # and the default distance model is really on: 3 m is quieter than 1 m
    near = Engine()
    h = near.add_source()
    near.set_source_pose(h, np.array(pos) / 3.0)
    y_near = []
    for i in range(0, x.size, 512):
        near.write(h, x[i:i + 512])
        y_near.append(near.render(512))
    ratio = np.sqrt(np.mean(np.concatenate(y_near)[2048:] ** 2) / np.mean(y_py[2048:] ** 2))
    assert ratio == pytest.approx(3.0, rel=0.15)


# ---------------------------------------------------------------------------------------
# Spatialisation from C in every coordinate system
# ---------------------------------------------------------------------------------------
SYSTEMS = ["native", "unity", "unreal", "openal"]


def _rotate(q, v):
    x, y, z, w = q
    u = np.array([x, y, z])
    return v + 2.0 * w * np.cross(u, v) + 2.0 * np.cross(u, np.cross(u, v))


def _from_native_quat(q, system):
    from spatialmw.geometry import COORDINATE_SYSTEMS
    m, _ = COORDINATE_SYSTEMS[system]
    axis = np.linalg.det(m) * (m.T @ np.asarray(q[:3]))
    return np.array([axis[0], axis[1], axis[2], q[3]])


YAWS = [0.0, 90.0, -135.0]
UNNORMALISED = 2.5  # spatial_runs also gives each listener quaternion times this


@pytest.fixture(scope="module")
def spatial_runs(hosts, run_host):
    """Run every (system, yaw) scenario in one host process; return the outputs."""
    from spatialmw import geometry
    lines, outs = [], {}
    for system in SYSTEMS:
        for yaw in YAWS:
            lis_pos = np.array([1.0, -3.0, 0.5])
            q_nat = geometry.quaternion_from_yaw(yaw)
            left_dir = _rotate(q_nat, np.array([0.0, 1.0, 0.0]))      # the listener's left, native
            src_pos = lis_pos + 1.0 * left_dir
            # the same scene in the engine's own axes and units
            lp = geometry.from_native_position(lis_pos, system)
            sp = geometry.from_native_position(src_pos, system)
            q = _from_native_quat(q_nat, system)
            np.testing.assert_allclose(geometry.to_native_quaternion(q, system), q_nat, atol=1e-12)
            np.testing.assert_allclose(geometry.to_native_position(sp, system), src_pos, atol=1e-9)
            sid = geometry.COORDINATE_SYSTEM_IDS.index(system)
            # the same orientation as an unnormalised quaternion (the library normalises it)
            for key, scale in (((system, yaw), 1.0), ((system, yaw, "scaled"), UNNORMALISED)):
                out = hosts["dir"] / f"spatial_{'_'.join(str(k) for k in key)}.f32"
                lines.append(" ".join(repr(float(x)) for x in [*lp, *(scale * q), *sp]).join([f"{sid} ", f" {out}"]))
                outs[key] = out
    scen = hosts["dir"] / "scenarios.txt"
    scen.write_text("\n".join(lines) + "\n")
    r = run_host([hosts["spatial"], scen], timeout=120)
    assert r.rc == 0, r.log
    return outs


@pytest.mark.parametrize("yaw_deg", YAWS)
@pytest.mark.parametrize("system", SYSTEMS)
def test_left_source_is_louder_and_earlier_on_the_left(spatial_runs, system, yaw_deg):
    y = np.fromfile(spatial_runs[(system, yaw_deg)], dtype=np.float32).reshape(-1, 2)
    y = y[4800:].astype(np.float64)
    assert np.all(np.isfinite(y))
    rms_l, rms_r = np.sqrt((y ** 2).mean(axis=0))
    assert rms_l > 1e-3
    ild_db = 20 * np.log10(rms_l / rms_r)
    # arrival: lag of R relative to L by cross-correlation over +-2 ms
    n = len(y)
    lags = np.arange(-96, 97)
    xc = [np.dot(y[96:n - 96, 0], y[96 + k:n - 96 + k, 1]) for k in lags]
    lag = int(lags[int(np.argmax(xc))])
    print(f"{system} yaw {yaw_deg}: ILD {ild_db:.2f} dB, right ear lags by {lag} samples")
    assert ild_db > 0.5, f"left ear not louder: ILD {ild_db:.2f} dB"
    assert lag >= 10, f"left ear not earlier: right lags by {lag} samples"


@pytest.mark.parametrize("system", SYSTEMS)
def test_an_unnormalised_listener_quaternion_turns_the_listener_as_its_unit_quaternion(spatial_runs, system):
    """Poses are published as the game gives them and converted on the audio thread
    (normalised, turned into native axes): a quaternion 2.5 times too long must render
    what its unit quaternion renders, to float32 rounding, in every coordinate system."""
    for yaw in YAWS:
        a = np.fromfile(spatial_runs[(system, yaw)], dtype=np.float32)
        b = np.fromfile(spatial_runs[(system, yaw, "scaled")], dtype=np.float32)
        assert a.shape == b.shape and np.abs(a).max() > 1e-3
        assert np.abs(a - b).max() <= 1e-5 * np.abs(a).max(), (system, yaw)


# ---------------------------------------------------------------------------------------
# The example game loop and creation time
# ---------------------------------------------------------------------------------------
def test_c_host_game_loop_writes_10s_stereo_wav(c_host, default_model, run_host, tmp_path):
    """examples/c_host/game_loop.c runs to the end and writes 10 s of finite, audible stereo
    at 48 kHz with its per-block report (its timings are figures, see README "Speed")."""
    exe = c_host(ROOT / "examples" / "c_host" / "game_loop.c")
    wav = tmp_path / "c_host.wav"
    r = run_host([exe, wav, "--fast"], timeout=120)
    print(r.stdout)
    assert r.rc == 0, r.log
    import soundfile as sf
    y, sr = sf.read(str(wav), dtype="float32", always_2d=True)
    assert sr == 48000 and y.shape[1] == 2
    assert y.shape[0] >= 10 * 48000
    assert np.all(np.isfinite(y))
    assert float(np.sqrt((y ** 2).mean())) > 1e-3
    m = re.search(r"p50 ([0-9.]+) ms\s+p99 ([0-9.]+) ms\s+max ([0-9.]+) ms\s+deadline misses (\d+)", r.stdout)
    assert m, r.stdout


def test_c_host_game_loop_room_reverb_tail_and_wall(c_host, default_model, run_host, tmp_path):
    """The game loop's room, measured on its WAV with every other source silent (--solo):
    the voice leaves a decaying reverberant tail after it stops, and the footsteps lose more
    of their high band than of their low band while the walker is behind the wall."""
    import soundfile as sf
    from spatialmw.metrics import band_level_db
    exe = c_host(ROOT / "examples" / "c_host" / "game_loop.c")
    runs = {}
    for solo in ("voice", "footsteps"):
        wav = tmp_path / f"{solo}.wav"
        r = run_host([exe, wav, "--fast", "--solo", solo], timeout=120)
        assert r.rc == 0, r.log
        y, sr = sf.read(str(wav), dtype="float64", always_2d=True)
        runs[solo] = (r.stdout, y)
    out, y = runs["voice"]
    v_end = float(re.search(r"voice from [0-9.]+ s to ([0-9.]+) s", out).group(1))

    def level(y, a, b, lo=100.0, hi=16000.0):  # both ears' energy in [a, b) seconds, dB
        seg = y[int(a * 48000):int(b * 48000)]
        return 10 * np.log10(np.sum(10 ** (band_level_db(seg, 48000, lo, hi) / 10)))
    direct = level(y, v_end - 2.0, v_end) - 10 * np.log10(2.0 / 0.4)   # per 0.4 s
    tail1, tail2 = level(y, v_end + 0.05, v_end + 0.45), level(y, v_end + 0.45, v_end + 0.85)
    print(f"voice: direct {direct:.1f} dB per 0.4 s, tail {tail1:.1f} then {tail2:.1f} dB")
    assert tail1 > direct - 40.0 and tail2 < tail1 - 6.0
    out, y = runs["footsteps"]
    h0, h1 = (float(x) for x in re.search(r"behind the wall from ([0-9.]+) s to ([0-9.]+) s", out).groups())
    drop = {}
    for band, (lo, hi) in (("low", (100.0, 400.0)), ("high", (6000.0, 16000.0))):
        open_ = 10 * np.log10(0.5 * (10 ** (level(y, 0.0, h0 - 0.7, lo, hi) / 10) / (h0 - 0.7)
                                     + 10 ** (level(y, h1 + 0.7, 10.0, lo, hi) / 10) / (10.0 - h1 - 0.7)))
        hidden = level(y, h0 + 0.3, h1 - 0.3, lo, hi) - 10 * np.log10(h1 - h0 - 0.6)
        drop[band] = hidden - open_
    print(f"footsteps behind the wall: low band {drop['low']:+.1f} dB, high band {drop['high']:+.1f} dB")
    assert drop["high"] < -12.0 and drop["high"] < drop["low"] - 8.0


def test_create_time(hosts, run_host):
    """First create in a fresh process (nothing is compiled at run time) and a second one,
    with the resident memory of one default renderer (64 sources, 3-degree table)."""
    r = run_host([hosts["create_time"]], timeout=300)
    assert r.rc == 0, r.log
    k = r.kv
    print(f"first smw_renderer_create {1e3 * k['FIRST_CREATE_S']:.1f} ms, second "
          f"{1e3 * k['SECOND_CREATE_S']:.1f} ms; resident {k['RSS_ONE_RENDERER_KB'] / 1024:.1f} MiB "
          f"with one renderer (process before create {k['RSS_BEFORE_KB'] / 1024:.1f} MiB)")
    assert k["RSS_ONE_RENDERER_KB"] < 64 * 1024


def test_host_environment_does_not_leak_in(hosts, run_host):
    """Python and numba variables in the host's environment change nothing: the library
    reads none (before, NUMBA_DISABLE_JIT=1 made create hang for minutes)."""
    env = {"NUMBA_DISABLE_JIT": "1", "NUMBA_CACHE_DIR": "/nonexistent", "PYTHONHOME": "/nonexistent",
           "PYTHONPATH": "/nonexistent"}
    r = run_host([hosts["create_time"]], timeout=120, env=env)
    assert r.rc == 0, r.log
    assert r.kv["FIRST_CREATE_S"] > 0


def test_motion_settings_and_settings_sizes_through_c(c_host, run_host):
    """Velocity setters, teleports, speed_of_sound, equalization and the settings sizes the
    library accepts, each checked against its documented result (tests/c/motion_api.c)."""
    r = run_host([c_host(CDIR / "motion_api.c")], timeout=300)
    print(r.stdout)
    failed = [line for line in r.stdout.splitlines() if line.startswith("CASE") and line.endswith(" 0")]
    assert r.rc == 0 and not failed, f"{failed}\n{r.log}"
    assert r.stdout.count("CASE") == 21
