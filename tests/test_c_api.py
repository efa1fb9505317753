"""The C API from C: bad input (one case each), spatialisation in every coordinate system,
the example game loop, and renderer creation time.

Every host is compiled with gcc against include/spatialmw.h and the native library
(build/lib/libspatialmw.so, exactly what the SDK ships) and run with an EMPTY environment
(``env -i``): the library needs nothing from it.
"""
from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[1]
LIB = ROOT / "build" / "lib" / "libspatialmw.so"
CDIR = ROOT / "tests" / "c"
# what the native library is built from (as the Makefile's LIB_SOURCES)
LIB_SOURCES = [ROOT / "bindings" / "shim.c", ROOT / "bindings" / "rt_stubs.c",
               ROOT / "bindings" / "build_sdk.py", ROOT / "include" / "spatialmw.h",
               ROOT / "spatialmw" / "geometry.py", ROOT / "spatialmw" / "asset.py",
               *sorted((ROOT / "spatialmw" / "kernels").glob("*.py"))]


def build_sdk(*args) -> subprocess.CompletedProcess:
    """Run bindings/build_sdk.py (the kernels object is reused while its sources are unchanged)."""
    r = subprocess.run([sys.executable, str(ROOT / "bindings" / "build_sdk.py"), *map(str, args)],
                       cwd=ROOT, capture_output=True, text=True, timeout=1200)
    assert r.returncode == 0, r.stdout + r.stderr
    return r


def ensure_lib() -> Path:
    """Build the library if it is missing or older than its sources."""
    if not LIB.exists() or LIB.stat().st_mtime < max(p.stat().st_mtime for p in LIB_SOURCES):
        build_sdk("--prefix", ROOT / "build")
    return LIB


def build_host(src: Path, exe: Path, extra=()) -> Path:
    cmd = ["gcc", "-O2", "-Wall", "-std=gnu11", f"-I{ROOT / 'include'}", f"-I{CDIR}", "-o", str(exe),
           str(src), f"-L{LIB.parent}", "-lspatialmw", f"-Wl,-rpath,{LIB.parent}", *extra,
           "-lpthread", "-lm"]
    r = subprocess.run(cmd, capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    return exe


def run_host(args, timeout=120, env_extra=None) -> subprocess.CompletedProcess:
    env = ["env", "-i"] + [f"{k}={v}" for k, v in (env_extra or {}).items()]
    return subprocess.run(env + [str(a) for a in args], capture_output=True, text=True, timeout=timeout)


def corrector_args() -> list[str]:
    """Extra host arguments: none, the hosts run the full Lite-INN path with the shipped model."""
    from spatialmw.model import default_model_path
    assert default_model_path().exists(), "the default model must be shipped"
    return []


def parse_kv(text: str) -> dict[str, float]:
    out = {}
    for line in text.splitlines():
        m = re.match(r"^([A-Z][A-Z0-9_]+) (-?[0-9.eE+-]+)$", line.strip())
        if m:
            out[m.group(1)] = float(m.group(2))
    return out


@pytest.fixture(scope="module")
def hosts(tmp_path_factory):
    ensure_lib()
    d = tmp_path_factory.mktemp("c_hosts")
    return {name: build_host(CDIR / f"{name}.c", d / name)
            for name in ("api_errors", "spatial", "create_time")} | {"dir": d}


# ---------------------------------------------------------------------------------------
# Bad input, one case each (one host run, one pytest case per line it prints)
# ---------------------------------------------------------------------------------------
CASES = """
version result_strings
create_null_settings create_null_out create_settings_size_zero create_unsupported_rate_22050
create_failure_sets_out_null create_rate_zero create_zero_sources create_negative_block
create_bad_coordinate_system create_table_step_too_fine create_table_step_nan create_without_table
create_missing_model create_corrupt_model last_error_after_create_failure
null_renderer_get_latency null_renderer_listener null_renderer_source_create null_renderer_source_destroy
null_renderer_set_pose null_renderer_set_gain null_renderer_set_distance null_renderer_set_doppler
null_renderer_set_spatialize null_renderer_set_paused null_renderer_write null_renderer_render
null_renderer_last_error_not_null
get_latency latency_positive
null_out_latency null_out_source source_create null_listener_position null_listener_quat
null_source_position null_samples null_output
handle_zero handle_index_out_of_range handle_never_issued_generation handle_never_issued_slot
destroy double_destroy stale_set_pose stale_write render_after_destroy
create_to_capacity more_sources_than_capacity stale_after_slot_reuse destroy_one
slot_not_reused_before_render slot_reused_after_render reused_handle_differs
pose_nan_position pose_inf_position pose_nan_quaternion pose_zero_quaternion pose_denormal_quaternion
pose_absurd_distance pose_unnormalised_quaternion_ok listener_nan listener_zero_quaternion
source_at_listener_ok
gain_nan gain_negative gain_ok distance_unknown_model distance_min_zero distance_max_below_min
distance_inf distance_ok doppler_ok spatialize_ok paused_ok
write_frames_zero write_frames_negative write_frames_above_max render_frames_zero
render_frames_above_max render_odd_frames_ok write_block_ok write_overflow_buffer_full render_drains
nan_samples_result inf_samples_result nonfinite_output_finite nonfinite_other_source_keeps_playing
nonfinite_left_still_audible_after_block
""".split()


@pytest.fixture(scope="module")
def api_cases(hosts):
    corrupt = hosts["dir"] / "corrupt_model.npz"
    corrupt.write_bytes(b"PK\x03\x04" + os.urandom(200))
    r = run_host([hosts["api_errors"], corrupt, *corrector_args()], timeout=120)
    assert r.returncode in (0, 1), f"api_errors crashed (rc {r.returncode}):\n{r.stdout}\n{r.stderr}"
    cases = {}
    for line in r.stdout.splitlines():
        parts = line.split(" ", 3)
        if len(parts) >= 3 and parts[0] == "CASE":
            cases[parts[1]] = (parts[2], line)
    return cases, r.stdout + r.stderr


@pytest.mark.parametrize("case", CASES)
def test_bad_input_from_c(api_cases, case):
    cases, log = api_cases
    assert case in cases, f"case {case} did not run:\n{log}"
    status, line = cases[case]
    assert status == "PASS", line


def test_every_case_listed(api_cases):
    cases, _ = api_cases
    assert set(cases) <= set(CASES), f"unlisted cases: {set(cases) - set(CASES)}"


def test_c_default_table_step_is_the_engine_default():
    from spatialmw.engine import IBC_TABLE_STEP_DEGREES
    m = re.search(r"s\.corrector_table_step_deg = ([0-9.]+)f;", (ROOT / "bindings" / "shim.c").read_text())
    assert m and float(m.group(1)) == IBC_TABLE_STEP_DEGREES


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


@pytest.fixture(scope="module")
def spatial_runs(hosts):
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
            out = hosts["dir"] / f"spatial_{system}_{yaw:+.0f}.f32"
            sid = geometry.COORDINATE_SYSTEM_IDS.index(system)
            lines.append(" ".join(repr(float(x)) for x in [*lp, *q, *sp]).join([f"{sid} ", f" {out}"]))
            outs[(system, yaw)] = out
    scen = hosts["dir"] / "scenarios.txt"
    scen.write_text("\n".join(lines) + "\n")
    r = run_host([hosts["spatial"], scen, *corrector_args()], timeout=120)
    assert r.returncode == 0, r.stdout + r.stderr
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


# ---------------------------------------------------------------------------------------
# The example game loop and creation time
# ---------------------------------------------------------------------------------------
def test_c_host_game_loop_writes_10s_stereo_wav(tmp_path):
    ensure_lib()
    exe = build_host(ROOT / "examples" / "c_host" / "game_loop.c", tmp_path / "c_host")
    wav = tmp_path / "c_host.wav"
    r = run_host([exe, wav, "--fast", *corrector_args()], timeout=120)
    print(r.stdout)
    assert r.returncode == 0, r.stdout + r.stderr
    import soundfile as sf
    y, sr = sf.read(str(wav), dtype="float32", always_2d=True)
    assert sr == 48000 and y.shape[1] == 2
    assert y.shape[0] >= 10 * 48000
    assert np.all(np.isfinite(y))
    assert float(np.sqrt((y ** 2).mean())) > 1e-3
    m = re.search(r"p50 ([0-9.]+) ms\s+p99 ([0-9.]+) ms\s+max ([0-9.]+) ms\s+deadline misses (\d+)", r.stdout)
    assert m, r.stdout


def test_create_time(hosts):
    """First create in a fresh process (nothing is compiled at run time) and a second one,
    with the resident memory of one default renderer (64 sources, 3-degree table)."""
    r = run_host([hosts["create_time"], *corrector_args()], timeout=300)
    assert r.returncode == 0, r.stdout + r.stderr
    k = parse_kv(r.stdout)
    print(f"first smw_renderer_create {1e3 * k['FIRST_CREATE_S']:.1f} ms, second "
          f"{1e3 * k['SECOND_CREATE_S']:.1f} ms; resident {k['RSS_ONE_RENDERER_KB'] / 1024:.1f} MiB "
          f"with one renderer (process before create {k['RSS_BEFORE_KB'] / 1024:.1f} MiB)")
    assert k["RSS_ONE_RENDERER_KB"] < 64 * 1024


def test_host_environment_does_not_leak_in(hosts):
    """Python and numba variables in the host's environment change nothing: the library
    reads none (before, NUMBA_DISABLE_JIT=1 made create hang for minutes)."""
    env = {"NUMBA_DISABLE_JIT": "1", "NUMBA_CACHE_DIR": "/nonexistent", "PYTHONHOME": "/nonexistent",
           "PYTHONPATH": "/nonexistent"}
    r = run_host([hosts["create_time"], *corrector_args()], timeout=120, env_extra=env)
    assert r.returncode == 0, r.stdout + r.stderr
    assert parse_kv(r.stdout)["FIRST_CREATE_S"] > 0
