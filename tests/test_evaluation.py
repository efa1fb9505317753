"""`spatialmw eval` (spatialmw.evaluation): the docs/EVALUATION.md protocol, quick mode.

One quick run (8 held-out KEMAR directions, no PESQ, the game measurements) is shared by
the tests. Checks are on real behaviour, not only shapes: the DSP baseline gets the ITD
right but not the spectrum, the nearest-HRIR baseline lands near its full-run figure,
OpenAL Soft's error is mostly its diffuse-field EQ, the estimator itself has no floor,
and the reference renderer (linear, time-invariant for a static source) sits at the
floor of the game measurements.
"""
import json
import math
import os

import numpy as np
import pytest

from spatialmw import evaluation as E
from spatialmw import metrics as M
from spatialmw.evaluation import game as G
from spatialmw.evaluation.protocol import WaveScorer, lag_samples
from spatialmw.evaluation.systems import real_sh_basis, sh_interpolate
from spatialmw.hrtf.reference import fractional_delay_fft
from spatialmw.model import default_model_path

# Nearest measured HRIR on all 71 held-out directions (benchmarks/results/eval.json): LSD 2.12 dB raw / 2.11 dB EQ-matched, ITD error 44 us (median). The quick
# run scores 8 of the 71, so allow +-0.4 dB for the LSD (measured: 2.27 / 2.34 dB) and
# 44 +- 15 us for the median ITD error (measured: 42 us).
NEAREST_LSD = 2.12
LSD_TOL = 0.4


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    d = tmp_path_factory.mktemp("eval")
    # SPATIALMW_TEST_MODEL: evaluate another model file than the shipped default
    res = E.run_eval(model_path=os.environ.get("SPATIALMW_TEST_MODEL"), json_path=d / "eval.json", plots_dir=d / "plots",
                     quick=True, progress=False)
    return res, d


def _sys(res, name):
    s = res["systems"][name]
    assert s.get("available"), f"{name} did not run: {s.get('note')}"
    return s


def test_table_has_the_systems_and_baselines(run):
    res, _ = run
    assert tuple(res["systems"]) == E.SYSTEMS + E.BASELINES
    table = E.format_table(res)
    lines = table.splitlines()
    header = lines[0]
    for col in ("LSD dB", "LSD-EQ dB", "ILD err dB", "ITD err", "L2", "amp err", "phase err",
                "MRSTFT", "PESQ"):
        assert col in header
    for name in E.SYSTEMS + ("3 nearest (dB)", "spherical harmonics order 10"):
        assert any(line.startswith(f"| {name} ") for line in lines), name
    assert res["metadata"]["n_directions"] == 8
    assert res["metadata"]["held_out_rule"] == "index % 10 == 3"
    # the 8 are held-out directions, spread over elevation
    idx = np.array(res["per_direction"]["index"])
    assert np.all(idx % 10 == 3)
    assert np.ptp(res["per_direction"]["elevation_deg"]) >= 90


def test_metrics_finite(run):
    res, _ = run
    for name in E.SYSTEMS:
        s = res["systems"][name]
        if not s["available"]:
            assert s["note"]
            continue
        for k in E.METRIC_KEYS:
            if k == "pesq":
                assert s[k] is None  # quick mode skips PESQ (JSON null)
            else:
                assert s[k] is not None and math.isfinite(s[k]) and s[k] >= 0, (name, k, s[k])


def test_estimator_has_no_floor(run):
    """The reference renderer through the same pipeline reproduces the measured HRTF."""
    fl = run[0]["reference_floor"]
    assert fl["lsd_db"] < 0.1
    assert fl["ild_err_db"] < 0.05
    assert fl["itd_err_us"] < 2.0


def test_tdw_gets_itd_but_not_spectrum(run):
    s = _sys(run[0], "tdw")
    assert s["itd_err_us"] < 30.0          # delays alone carry the ITD
    assert s["lsd_db"] > 6.0               # ... but no head shadow / pinna
    assert s["lsd_eq_db"] > 4.0
    assert s["ild_err_db"] > 3.0
    near = run[0]["systems"]["nearest_hrir"]
    assert s["lsd_db"] > 2 * near["lsd_db"]


def test_nearest_hrir_matches_full_run_figure(run):
    s = _sys(run[0], "nearest_hrir")
    assert abs(s["lsd_db"] - NEAREST_LSD) < LSD_TOL, s["lsd_db"]
    assert abs(s["lsd_eq_db"] - 2.11) < LSD_TOL, s["lsd_eq_db"]
    assert 29.0 < s["itd_err_us"] < 59.0, s["itd_err_us"]
    # measured HRIRs: the closest waveforms of all systems
    for other in ("tdw", "openal_soft"):
        o = run[0]["systems"][other]
        if o["available"]:
            assert s["wave_l2_e3"] < o["wave_l2_e3"]


def test_openal_error_is_mostly_diffuse_field_eq(run):
    s = _sys(run[0], "openal_soft")
    assert s["lsd_db"] > 4.0
    assert s["lsd_eq_db"] < 0.5 * s["lsd_db"]
    assert s["itd_err_us"] < 40.0
    lag = run[0]["metadata"]["latency_samples"]["openal_soft"]
    # no propagation delay in OpenAL: it leads the reference by about r / c
    assert -230 < lag < -150


def test_liteinn_row(run):
    res, _ = run
    s = _sys(res, "liteinn")
    tdw = res["systems"]["tdw"]
    assert s["lsd_db"] < tdw["lsd_db"]
    assert s["ild_err_db"] < tdw["ild_err_db"]
    assert s["params"] > 0 and s["macs_per_second"] > s["macs_per_second_static"] > 0
    b = s["macs_breakdown_per_second"]
    assert b["tdw"] == 2 * 16 * 48000
    assert math.isclose(s["macs_per_second"], b["tdw"] + b["stft"] + b["ibc_moving_table"])
    assert math.isclose(b["ibc_moving_network"], s["ibc_macs_per_evaluation"] * 48000 / 512)
    # a table update (lookup + expansion) is a small fraction of a network evaluation
    assert b["ibc_moving_table"] < 0.15 * b["ibc_moving_network"]
    assert res["metadata"]["model_sha256"] and len(res["metadata"]["model_sha256"]) == 64


def test_lod_bed_row_sits_between_the_full_path_and_the_warp_alone(run):
    """The level of detail's bed (order 3): spectral cues and ILD far better than the warp
    alone, short of the full path (quick run: LSD 5.9 dB, ILD error 1.9 dB, ITD error 12 us
    against liteinn's 2.3 / 0.15 / 5.6 and tdw's 11.2 / 7.0 / 12.6), and its high band never
    arrives before an ear's onset (pre-echo median -33 dB; the reference renderer's -36)."""
    res, _ = run
    bed, full, tdw = _sys(res, "lod_bed"), _sys(res, "liteinn"), res["systems"]["tdw"]
    assert full["lsd_db"] < bed["lsd_db"] < tdw["lsd_db"]
    assert full["ild_err_db"] < bed["ild_err_db"] < 0.5 * tdw["ild_err_db"]
    assert bed["itd_err_us"] < 30.0
    g = res["game"]["lod_bed"]
    assert g["pre_echo_median_db"] < -25.0
    moving = g["moving_horizontal_1rps_ild_db"]
    assert moving["median"] < 2.0, moving


def test_liteinn_unavailable_is_reported_not_fatal(run):
    res, _ = run
    s = res["systems"]["liteinn"]
    if default_model_path().is_file() or os.environ.get("SPATIALMW_TEST_MODEL"):
        assert s["available"]
    else:
        assert not s["available"] and "not found" in s["note"]
        assert "n/a" in E.format_table(res).splitlines()[2]


def test_json_and_plots(run):
    res, d = run
    data = json.loads((d / "eval.json").read_text())  # strict JSON (NaN -> null)
    assert set(data["systems"]) == set(E.SYSTEMS + E.BASELINES)
    assert set(data["game"]) == set(G.GAME_SYSTEMS)
    md = data["metadata"]
    assert len(md["sofa_sha256"]) == 64 and md["date"] and md["n_directions"] == 8
    for f in ("ild_itd_vs_azimuth.png", "lsd_per_direction.png", "magnitude_responses.png"):
        p = d / "plots" / f
        assert p.is_file() and p.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_low_latency_rows(run):
    """The low-latency hops' fidelity rows (spatialmw.evaluation.low_latency), each with its
    latency, its LSD by the liteinn row's estimator and THD+N, in eval.json and the table."""
    from spatialmw.evaluation import low_latency as LL
    res, d = run
    if not res["systems"]["liteinn"]["available"]:
        assert res["low_latency"] is None
        return
    low = json.loads((d / "eval.json").read_text())["low_latency"]
    assert list(low) == ["hop_256", "hop_128", "hop_64"]
    assert [low[k]["latency_frames"] for k in low] == [268, 140, 76]
    # the default hop's row is the liteinn row itself
    assert low["hop_256"]["lsd_db"] == pytest.approx(res["systems"]["liteinn"]["lsd_db"], abs=1e-12)
    assert low["hop_256"]["thdn_1000hz_db"] == res["game"]["liteinn"]["thdn_1000hz_db"]
    for row in low.values():
        assert abs(row["lsd_vs_default_db"]) <= LL.LSD_GOAL_DB and row["meets_goal"] == (row["latency_frames"] <= 256)
        for f in LL.THD_FREQS:
            assert all(v < -100.0 for v in row[f"thdn_{f}hz_db"]), row
    lines = E.format_table(res).splitlines()
    assert any(line.startswith("| 128 ") and "| 140 " in line for line in lines)


def _engine_lsd(hop, hset, directions):
    """LSD (metrics.lsd_db, 100 Hz-16 kHz) against the measured HRTFs of Lite-INN's response
    to a unit impulse at each direction, rendered by an Engine with this hop: an estimate
    independent of the evaluation's noise-based one."""
    from spatialmw.engine import Engine
    from spatialmw.evaluation.protocol import N_FFT, SR
    mags = []
    for i in directions:
        eng = Engine(SR, 1, 512, hop=hop)
        src = eng.add_source(distance_model="none")
        eng.set_source_pose(src, hset.positions()[i])
        x = np.zeros(4 * 512, np.float32)
        x[0] = 1.0
        y = np.concatenate([(eng.write(src, x[b:b + 512]), eng.render(512))[1] for b in range(0, x.size, 512)])
        lat = eng.latency_frames
        mags.append(np.abs(np.fft.rfft(y[lat:lat + N_FFT].T, N_FFT, axis=-1)))
    meas = np.abs(np.fft.rfft(hset.hrirs[directions], N_FFT, axis=-1))
    return M.lsd_db(np.array(mags), meas, np.fft.rfftfreq(N_FFT, 1.0 / SR))


def test_low_latency_hop_keeps_the_default_lsd():
    """The issue's goal, measured independently of the evaluation: hop 128 (latency 140
    frames, at most 256) within 0.1 dB of the default hop's LSD on a few held-out directions."""
    from spatialmw.evaluation.protocol import SR, split
    from spatialmw.hrtf.conditioning import condition_hrirs
    from spatialmw.hrtf.sofa import default_sofa_path, read_sofa
    from spatialmw.model import load_model
    hset = condition_hrirs(read_sofa(default_sofa_path(), sample_rate=SR),
                           load_model(default_model_path()).head_radius)[0]
    held = split(hset.n_directions)[1]
    directions = held[np.linspace(0, held.size - 1, 4).round().astype(int)]
    lsd = {hop: _engine_lsd(hop, hset, directions) for hop in (256, 128)}
    assert 1.0 < lsd[256] < 4.0, lsd
    assert abs(lsd[128] - lsd[256]) < 0.1, lsd


def test_wave_scorer_equals_metrics_module():
    rng = np.random.default_rng(1)
    ref = 0.1 * rng.standard_normal((24000, 2))
    est = 0.8 * np.roll(ref, 3, axis=0) + 0.01 * rng.standard_normal((24000, 2))
    got = WaveScorer(ref).score(est)
    assert math.isclose(got["wave_l2_e3"], M.wave_l2(est, ref), rel_tol=1e-12)
    assert math.isclose(got["amp_err"], M.amplitude_error(est, ref), rel_tol=1e-9)
    assert math.isclose(got["phase_err"], M.phase_error(est, ref), rel_tol=1e-9)
    assert math.isclose(got["mrstft"], M.mrstft(est, ref), rel_tol=1e-9)


def test_alignment_helpers():
    from scipy.signal import butter, sosfiltfilt
    rng = np.random.default_rng(2)
    x = sosfiltfilt(butter(8, 0.8, output="sos"), rng.standard_normal((4000, 2)), axis=0)
    y = fractional_delay_fft(x.T, 7.3, 4000).T
    assert abs(lag_samples(y, x) - 7.3) < 0.05
    back = fractional_delay_fft(y.T, -7.3, 4000).T
    assert np.max(np.abs(back[200:-200] - x[200:-200])) < 1e-2
    np.testing.assert_allclose(fractional_delay_fft(x.T, 5, 4000).T[5:], x[:-5], atol=1e-12)
    np.testing.assert_allclose(fractional_delay_fft(x.T, -5, 4000).T[:-5], x[5:], atol=1e-12)


def test_explicit_bad_model_path_is_a_clear_error(tmp_path):
    from spatialmw.model import ModelError
    with pytest.raises(ModelError):
        E.run_eval(model_path=tmp_path / "missing.npz", quick=True, progress=False)


# ------------------------------------------------------------- game measurements
def test_game_rows_for_every_system(run):
    game = run[0]["game"]
    for name in ("liteinn", "tdw", "openal_soft"):
        if not run[0]["systems"][name]["available"]:
            continue
        # Doppler and orbits at game-rate poses and teleports drive the Engine's own API: its systems only
        engine_only = ("doppler_", "orbit_", "teleport_") if name == "openal_soft" else ()
        missing = [k for k in G.LABELS if k not in game[name] and not k.startswith(engine_only or ("\0",))]
        assert not missing, (name, missing)
    assert "THD+N 50 Hz dB (L / R)" in E.format_table(run[0])


def test_game_reference_is_linear_and_time_invariant(run):
    """Convolution with the (conditioned) measured HRIRs: no distortion, no dependence on the
    start time. Energy before the onset: the conditioning's zero-phase blend to the
    transparent head below 500 Hz spreads some low-frequency energy before it (median
    -34.6 dB measured), so only the median is bounded."""
    g = run[0]["game"]["reference"]
    for f in G.THD_FREQS:
        assert max(g[f"thdn_{f}hz_db"]) < -120.0, f
    assert g["start_offset_db"] < -120.0
    assert g["pre_echo_median_db"] < -30.0
    # the shipped KEMAR set is left/right symmetric: no ITD in the median plane
    assert g["median_plane_itd_us"]["p95"] < 5.0


def test_game_tdw_is_a_clean_delay(run):
    """The warp alone is a delay and a gain: clean tones, exact under an integer start
    offset, no pre-echo, unity level at low frequencies, a small near-field ILD."""
    g = run[0]["game"]["tdw"]
    for f in G.THD_FREQS:
        assert max(g[f"thdn_{f}hz_db"]) < -120.0, f
    assert g["start_offset_db"] < -120.0
    assert g["pre_echo_worst_db"] < -60.0
    for f in (50, 100):
        assert np.allclose(g[f"lf_level_{f}hz_db"], 0.0, atol=0.1)
    # near-field gain of a rigid sphere at 2 m, left over right: 20 log10(path_r / path_l)
    assert 0.5 < g["ild_50hz_90deg_db"] < 1.5
    # moving: against the HRIR reference the warp has the ITD roughly, not the spectrum
    assert g["moving_horizontal_1rps_third_octave_db"]["median"] > 3.0
    assert g["moving_horizontal_1rps_itd_us"]["median"] < 60.0


def test_baselines_are_scored(run):
    s = run[0]["systems"]
    for name in E.BASELINES:
        assert s[name]["available"]
        assert 1.0 < s[name]["lsd_db"] < 3.5, (name, s[name]["lsd_db"])
        assert s[name]["lsd_db"] < s["tdw"]["lsd_db"]
    # an SH fit of the ITD beats taking the nearest direction's
    assert s["sh10"]["itd_err_us"] < s["three_nearest"]["itd_err_us"]


def _fibonacci(n):
    i = np.arange(n) + 0.5
    z = 1 - 2 * i / n
    phi = np.pi * (1 + 5 ** 0.5) * i
    r = np.sqrt(1 - z ** 2)
    return np.stack([r * np.cos(phi), r * np.sin(phi), z], axis=1)


def test_real_sh_basis_is_orthonormal():
    u = _fibonacci(4000)
    b = real_sh_basis(10, u)
    assert b.shape == (4000, 121)
    gram = b.T @ b * (4 * np.pi / u.shape[0])  # Fibonacci quadrature of the sphere
    np.testing.assert_allclose(gram, np.eye(121), atol=0.02)


def test_sh_order_10_fit_reproduces_a_band_limited_field():
    rng = np.random.default_rng(3)
    coef = rng.standard_normal((121, 2))
    u_fit = _fibonacci(400)
    u_eval = rng.standard_normal((50, 3))
    u_eval /= np.linalg.norm(u_eval, axis=1, keepdims=True)
    field = real_sh_basis(10, u_fit) @ coef
    got = sh_interpolate(field, u_fit, u_eval, 10)
    np.testing.assert_allclose(got, real_sh_basis(10, u_eval) @ coef, atol=1e-8)
    # an order-11 component is not representable: the fit no longer reproduces it
    extra = real_sh_basis(11, u_fit)[:, 121:] @ rng.standard_normal(23)
    assert np.max(np.abs(sh_interpolate(field[:, 0] + extra, u_fit, u_eval, 10)
                         - real_sh_basis(10, u_eval) @ coef[:, 0])) > 0.1
