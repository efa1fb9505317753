"""Fitting: direct HRTF fit (tiny), paired-recording fit on a generated fixture, bad input."""

import h5py
import numpy as np
import pytest


from spatialmw.hrtf.sofa import default_sofa_path, read_sofa  # noqa: E402
from spatialmw.model import load_model  # noqa: E402
from spatialmw.train import binaural_speech as bs  # noqa: E402
from spatialmw.train.fit_hrtf import FitError, fit_sofa, hrtf_metrics  # noqa: E402
from tests.helpers import nearest_measured_bounds


def write_sofa(path, az, el, r=1.4, n=128, fs=48000.0, seed=0):
    """A minimal SimpleFreeFieldHRIR file: a lateralised impulse per direction."""
    az = np.asarray(az, float)
    el = np.asarray(el, float)
    m = az.size
    ir = np.zeros((m, 2, n))
    u = np.stack([np.cos(np.radians(el)) * np.cos(np.radians(az)),
                  np.cos(np.radians(el)) * np.sin(np.radians(az))], 1)
    for i in range(m):
        ir[i, 0, 20 + int(round(-u[i, 1] * 10))] = 1.0 + 0.5 * u[i, 1]
        ir[i, 1, 20 + int(round(u[i, 1] * 10))] = 1.0 - 0.5 * u[i, 1]
    with h5py.File(path, "w") as f:
        f.attrs["Conventions"] = "SOFA"
        f.attrs["SOFAConventions"] = "SimpleFreeFieldHRIR"
        f.attrs["DataType"] = "FIR"
        f.create_dataset("Data.IR", data=ir)
        d = f.create_dataset("Data.SamplingRate", data=np.array([fs]))
        d.attrs["Units"] = "hertz"
        sp = f.create_dataset("SourcePosition", data=np.stack([az, el, np.full(m, r)], 1))
        sp.attrs["Type"] = "spherical"
        sp.attrs["Units"] = "degree, degree, metre"
    return path


def test_fit_sofa_tiny_run(tmp_path):
    out = tmp_path / "m.npz"
    metrics = fit_sofa(default_sofa_path(), out, steps=30, progress=False, grid_points=32,
                       hidden=16, layers=1, n_dir=8, n_freq=8)
    m = load_model(out)
    assert m.meta["provenance"]["held_out_rule"] == "index % 10 == 3"
    assert m.meta["provenance"]["n_heldout_directions"] == 71
    assert m.meta["provenance"]["sofa_sha256"] == read_sofa(default_sofa_path()).sha256
    h = metrics["heldout"]
    assert all(np.isfinite(v) for v in h.values())
    nearest = metrics["baselines"]["nearest_measured"]
    (lsd_lo, lsd_hi), (ild_lo, ild_hi) = nearest_measured_bounds(read_sofa(default_sofa_path()))
    assert lsd_hi - lsd_lo < 0.3 and ild_hi - ild_lo < 0.3   # the bounds are tight
    assert lsd_lo - 1e-9 <= nearest["lsd_db"] <= lsd_hi + 1e-9
    assert ild_lo - 1e-9 <= nearest["ild_err_db"] <= ild_hi + 1e-9


def test_itd_metric_recovers_known_delay():
    fs, n = 48000.0, 1024
    x = np.zeros((1, n))
    x[0, 100] = 1.0
    y = np.zeros((1, n))
    y[0, 110] = 1.0  # right 10 samples later
    h = np.fft.rfft(np.stack([x, y], 1), axis=-1)
    met = hrtf_metrics(h, h, fs)
    assert met["lsd_db"] == 0 and met["ild_err_db"] == 0 and met["itd_err_us_median"] == 0
    # the same pair with the right ear 10 samples earlier instead: 20 samples of ITD error
    h2 = np.fft.rfft(np.stack([x, np.roll(x, -10, axis=-1)], 1), axis=-1)
    assert hrtf_metrics(h2, h, fs)["itd_err_us_median"] == pytest.approx(20 / fs * 1e6, abs=2.0)


@pytest.mark.parametrize("case", ["two", "duplicated", "one_elevation"])
def test_odd_sofa_grids(tmp_path, case):
    out = tmp_path / "m.npz"
    if case == "two":
        p = write_sofa(tmp_path / "two.sofa", [0, 90], [0, 0])
        with pytest.raises(FitError, match="training directions"):
            fit_sofa(p, out, steps=2, progress=False)
    elif case == "duplicated":
        p = write_sofa(tmp_path / "dup.sofa", [30.0] * 20, [0.0] * 20)
        with pytest.raises(FitError, match="distinct"):
            fit_sofa(p, out, steps=2, progress=False)
    else:  # one elevation only: documented to fit (elevation range recorded in the model)
        az = np.arange(0, 360, 15.0)
        p = write_sofa(tmp_path / "ring.sofa", az, np.zeros_like(az))
        metrics = fit_sofa(p, out, steps=3, progress=False, grid_points=16, hidden=8, layers=1,
                           n_dir=4, n_freq=4)
        m = load_model(out)
        assert m.meta["provenance"]["notes"]["elevation_range_deg"] == [0.0, 0.0]
        assert np.isfinite(metrics["heldout"]["lsd_db"])


# ------------------------------------------------------------ paired recordings fixture

def known_log_gain(u, f):
    """The fixture's spatialiser: a head-shadow shelf, (2, F) natural-log amplitudes."""
    shelf = f / (f + 1500.0)
    return np.stack([-0.6 * (1 - u[1]) * shelf, -0.6 * (1 + u[1]) * shelf])


def known_ild_db(u, f):
    band = (f >= 100) & (f <= 16000)
    a = known_log_gain(u, f)[:, band]
    return 10 * np.log10(np.sum(np.exp(2 * a[0])) / np.sum(np.exp(2 * a[1])))


def make_subject(folder, seconds=1.2, seed=0, radius=1.5):
    """Write a subject in the Binaural Speech layout: TDW + known shelf, dataset frame."""
    from scipy.io import wavfile
    folder.mkdir(parents=True)
    fs = 48000
    n = int(seconds * fs)
    rng = np.random.default_rng(seed)
    mono = rng.normal(size=n) * 0.1
    rows = int(np.ceil(n / 400))
    t = np.arange(rows) / rows
    az = 2 * np.pi * t  # one turn, counter-clockwise in the native frame
    el = 0.3 * np.sin(4 * np.pi * t)
    pos_native = radius * np.stack([np.cos(el) * np.cos(az), np.cos(el) * np.sin(az), np.sin(el)], 1)
    ds = pos_native * np.array([1.0, -1.0, 1.0])  # dataset: y to the RIGHT
    quat = np.tile([0.0, 0.0, 0.0, 1.0], (rows, 1))
    np.savetxt(folder / "tx_positions.txt", np.hstack([ds, quat]))
    pos = bs.sample_positions(pos_native, n)
    w = bs.tdw_warp(mono, pos, 0.0875)
    W = bs.stft(w)
    f = np.fft.rfftfreq(bs.N_FFT, 1 / fs)
    centres = np.minimum(bs.frame_centres(W.shape[1]), n - 1).astype(int)
    for k, c in enumerate(centres):
        u = pos[c] / np.linalg.norm(pos[c])
        W[:, k] *= np.exp(known_log_gain(u, f))
    y = bs.istft(W, n)
    wavfile.write(folder / "mono.wav", fs, mono.astype(np.float32))
    wavfile.write(folder / "binaural.wav", fs, y.T.astype(np.float32))
    return folder


def _model_ild(m, u, f):
    g = m.gain(u, 1.5, f)
    band = (f >= 100) & (f <= 16000)
    p = np.sum(np.abs(g[:, band]) ** 2, axis=1)
    return 10 * np.log10(p[0] / p[1])


def test_paired_fit_recovers_known_spatialisation(tmp_path):
    root = tmp_path / "ds"
    make_subject(root / "subject1")
    out = tmp_path / "paired.npz"
    metrics = bs.fit_binaural_speech(root, out, steps=300, progress=False, seed=0, lr=1e-2,
                                     batch_frames=64, grid_points=32, hidden=16, layers=1,
                                     n_dir=16, n_freq=8, dir_scale=1.0)
    assert metrics["ild_err_db_after"] < metrics["ild_err_db_before"]
    assert metrics["ild_err_db_after"] < 0.5   # untrained start: ~2 dB
    assert metrics["rel_complex_err_after"] < metrics["rel_complex_err_before"]
    m = load_model(out)
    f = np.fft.rfftfreq(512, 1 / 48000)
    # held-out positions: on the last 10 % of the turn (az 324..360 deg), never fitted
    for t in (0.93, 0.97):
        a, e = 2 * np.pi * t, 0.3 * np.sin(4 * np.pi * t)
        u = np.array([np.cos(e) * np.cos(a), np.cos(e) * np.sin(a), np.sin(e)])
        assert abs(_model_ild(m, u, f) - known_ild_db(u, f)) < 1.0
    assert m.meta["provenance"]["paired_fit"]["distance_range_m"][0] == pytest.approx(1.5, abs=0.01)


def test_paired_bad_input(tmp_path):
    from scipy.io import wavfile
    with pytest.raises(FitError, match="not found"):
        bs.fit_binaural_speech(tmp_path / "missing", tmp_path / "o.npz", steps=1, progress=False)
    (tmp_path / "empty").mkdir()
    with pytest.raises(FitError, match="no subject"):
        bs.fit_binaural_speech(tmp_path / "empty", tmp_path / "o.npz", steps=1, progress=False)
    sub = make_subject(tmp_path / "ds" / "s1", seconds=0.3)
    (sub / "tx_positions.txt").rename(sub / "tx.bak")
    with pytest.raises(FitError, match="missing tx_positions"):
        bs.fit_binaural_speech(tmp_path / "ds", tmp_path / "o.npz", steps=1, progress=False)
    rows = np.loadtxt(sub / "tx.bak")
    np.savetxt(sub / "tx_positions.txt", rows[:-10])
    with pytest.raises(FitError, match="rows"):
        bs.fit_binaural_speech(tmp_path / "ds", tmp_path / "o.npz", steps=1, progress=False)
    np.savetxt(sub / "tx_positions.txt", rows[:, :5])
    with pytest.raises(FitError, match="7 values"):
        bs.fit_binaural_speech(tmp_path / "ds", tmp_path / "o.npz", steps=1, progress=False)
    np.savetxt(sub / "tx_positions.txt", rows)
    sr, mono = wavfile.read(sub / "mono.wav")
    wavfile.write(sub / "binaural.wav", sr, mono)  # 1 channel instead of 2
    with pytest.raises(FitError, match="channel"):
        bs.fit_binaural_speech(tmp_path / "ds", tmp_path / "o.npz", steps=1, progress=False)
    wavfile.write(sub / "binaural.wav", sr, np.stack([mono[:-800], mono[:-800]], 1))
    with pytest.raises(FitError, match="samples"):
        bs.fit_binaural_speech(tmp_path / "ds", tmp_path / "o.npz", steps=1, progress=False)
    wavfile.write(sub / "binaural.wav", 44100, np.stack([mono, mono], 1))
    with pytest.raises(FitError, match="sample rate"):
        bs.fit_binaural_speech(tmp_path / "ds", tmp_path / "o.npz", steps=1, progress=False)


def test_dataset_frame_conversion():
    rows = np.array([[1.0, 2.0, 3.0, 0.1, 0.2, 0.3, 0.9]])
    pos, q = bs.dataset_to_native(rows)
    np.testing.assert_allclose(pos[0], [1.0, -2.0, 3.0])
    from spatialmw.geometry import to_native_quaternion
    np.testing.assert_allclose(q[0] / np.linalg.norm(q[0]), to_native_quaternion(rows[0, 3:], "unreal"))


def test_fitter_sees_what_the_engine_renders():
    """The fitter's model of the engine (``rendered_response``: the network through the
    engine's shaping kernel) and its torch mirror (what the loss is computed on) equal the
    engine's measured impulse response for a static source, relative to the warp."""
    import torch

    from spatialmw.engine import Engine
    from spatialmw.geometry import tdw_ear_targets
    from spatialmw.model import load_model
    from spatialmw.train.fit_hrtf import (N_FFT_EVAL, _torch_rendered, engine_shaping,
                                          interp_matrix, rendered_response, torch_pins)
    from spatialmw.train.torch_model import TorchIBC

    sr = 48000
    model = load_model(None)
    pos = np.array([0.8, 1.0, 0.3])
    u = pos / np.linalg.norm(pos)
    resp = rendered_response(model, u, float(np.linalg.norm(pos)), sr)      # (2, 513)
    # the torch mirror
    fb, blend, window, pins, delay = engine_shaping(sr)
    net = TorchIBC.from_theta(model.theta, model.dims, dtype=torch.float64)
    y = net(torch.tensor(u[None]), torch.tensor([np.linalg.norm(pos)]), torch.tensor(model.grid_hz))
    f = np.fft.rfftfreq(N_FFT_EVAL, 1.0 / sr)
    H, _ = _torch_rendered(y, torch.tensor(interp_matrix(model.grid_hz, fb).T), torch.tensor(blend),
                           torch.tensor(2 * np.pi * fb * delay / sr), torch.tensor(window),
                           torch_pins(pins, window.shape[0], dtype=torch.float64),
                           torch.tensor(np.exp(2j * np.pi * f * delay / sr)), N_FFT_EVAL)
    np.testing.assert_allclose(H.detach().numpy()[0], resp, atol=2e-3 * np.abs(resp).max())
    # the engine: an impulse, latency and the warp's delay removed
    eng = Engine(sr, max_sources=1, max_block=512, ibc_table_step=0)
    h = eng.add_source(distance_model="none", doppler=False)
    eng.set_source_pose(h, pos)
    x = np.zeros(8 * 512, np.float32)
    x[512] = 1.0
    out = []
    for b in range(8):
        eng.write(h, x[b * 512:(b + 1) * 512])
        out.append(eng.render(512))
    ir = np.concatenate(out)[512 + eng.latency_frames:].astype(np.float64)[:N_FFT_EVAL]
    dl, dr, _, _, dist = tdw_ear_targets(pos, model.head_radius, 343.0, False)
    warp = (np.array([dl, dr]) * sr + 8.0)[:, None]                            # + MIN_DELAY
    meas = np.fft.rfft(ir.T, N_FFT_EVAL, axis=-1) * np.exp(2j * np.pi * f * warp / sr)
    band = (f > 100) & (f < 16000)
    err_db = 20 * np.log10(np.abs(meas[:, band]) / np.abs(resp[:, band]))
    assert np.median(np.abs(err_db)) < 0.05
    assert np.max(np.abs(err_db)) < 0.5


