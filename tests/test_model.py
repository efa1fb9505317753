"""Model files: round trip, shipped default, and hostile / corrupt files -> ModelError."""
import io
import json
import zipfile

import numpy as np
import pytest

from spatialmw.model import LiteINNModel, ModelError, load_model, save_model
from tests.helpers import small_model


def _write(path, **arrays):
    buf = io.BytesIO()
    np.savez(buf, **arrays)
    path.write_bytes(buf.getvalue())
    return path


def _good_arrays(tmp_path):
    p = save_model(small_model(), tmp_path / "good.npz")
    with np.load(p, allow_pickle=False) as z:
        return {k: z[k] for k in z.files}


def test_round_trip(tmp_path):
    m = small_model()
    p = save_model(m, tmp_path / "m.npz")
    m2 = load_model(p)
    np.testing.assert_array_equal(m2.theta, m.theta)
    np.testing.assert_array_equal(m2.dims, m.dims)
    np.testing.assert_array_equal(m2.grid_hz, m.grid_hz)
    assert m2.head_radius == m.head_radius
    assert m2.meta["stft"]["n_fft"] == 512 and m2.meta["stft"]["hop"] == 256
    np.testing.assert_allclose(m2.evaluate([1, 0, 0], 1.4), m.evaluate([1, 0, 0], 1.4))


def test_shipped_default_model(default_model):
    m = load_model()
    assert m.n_params <= 50_000
    # issue budget: TDW + STFT + IBC <= 50 M MAC/s per moving source; TDW (2 ears x 16 taps)
    # and the STFT (one 512-point complex FFT per 256-sample hop + per-bin gains) take ~4 M
    tdw = 2 * 16 * 48000
    stft = 48000 / 256 * (2.5 * 512 * 9 + 4 * 257 * 2)
    assert m.macs_per_evaluation * 48000 / 512 + tdw + stft <= 50e6
    prov = m.meta["provenance"]
    assert prov["held_out_rule"] == "index % 10 == 3"
    assert len(prov["sofa_sha256"]) == 64
    for d in ([1, 0, 0], [0, 1, 0], [0, -1, 0.3], [-1, 0, -0.5]):
        y = m.evaluate(d, 1.4)
        assert y.shape == (m.n_grid, 4) and np.all(np.isfinite(y))
    # left source: left ear louder than right (head shadow) above 2 kHz
    y = m.evaluate([0, 1, 0], 1.4)
    hf = m.grid_hz > 2000
    assert np.mean(y[hf, 0]) > np.mean(y[hf, 2]) + 0.5


def test_missing_file(tmp_path):
    with pytest.raises(ModelError):
        load_model(tmp_path / "nope.npz")


def test_truncated_zip(tmp_path):
    p = save_model(small_model(), tmp_path / "m.npz")
    data = p.read_bytes()
    for cut in (10, len(data) // 2, len(data) - 30):
        bad = tmp_path / f"t{cut}.npz"
        bad.write_bytes(data[:cut])
        with pytest.raises(ModelError):
            load_model(bad)


def test_not_a_zip(tmp_path):
    p = tmp_path / "x.npz"
    p.write_bytes(b"hello world" * 10)
    with pytest.raises(ModelError):
        load_model(p)


def test_wrong_and_extra_keys(tmp_path):
    a = _good_arrays(tmp_path)
    b = dict(a)
    del b["grid_hz"]
    with pytest.raises(ModelError, match="members"):
        load_model(_write(tmp_path / "a.npz", **b))
    b = dict(a, extra=np.zeros(3))
    with pytest.raises(ModelError, match="members"):
        load_model(_write(tmp_path / "b.npz", **b))


def test_nan_weights(tmp_path):
    a = _good_arrays(tmp_path)
    a["theta"] = a["theta"].copy()
    a["theta"][10] = np.nan
    with pytest.raises(ModelError, match="NaN"):
        load_model(_write(tmp_path / "n.npz", **a))


def test_dims_inconsistent_with_theta(tmp_path):
    a = _good_arrays(tmp_path)
    a["dims"] = a["dims"].copy()
    a["dims"][2] = 9
    with pytest.raises(ModelError, match="need"):
        load_model(_write(tmp_path / "d.npz", **a))
    a = _good_arrays(tmp_path)
    a["theta"] = a["theta"][:-1]
    with pytest.raises(ModelError):
        load_model(_write(tmp_path / "d2.npz", **a))


def test_wrong_dtypes(tmp_path):
    a = _good_arrays(tmp_path)
    a["theta"] = a["theta"].astype(np.float32)
    with pytest.raises(ModelError):
        load_model(_write(tmp_path / "f.npz", **a))
    a = _good_arrays(tmp_path)
    a["dims"] = a["dims"].astype(np.int32)
    with pytest.raises(ModelError):
        load_model(_write(tmp_path / "i.npz", **a))


def test_huge_declared_shape(tmp_path):
    # a hand-made .npy header declaring 10^12 elements but tiny data: refused before reading
    a = _good_arrays(tmp_path)
    p = _write(tmp_path / "h.npz", **a)
    hdr = io.BytesIO()
    np.lib.format.write_array_header_1_0(hdr, {"descr": "<f8", "fortran_order": False,
                                              "shape": (10**12,)})
    with zipfile.ZipFile(p) as z:
        members = {n: z.read(n) for n in z.namelist()}
    members["theta.npy"] = hdr.getvalue() + b"\x00" * 64
    p2 = tmp_path / "h2.npz"
    with zipfile.ZipFile(p2, "w") as z:
        for n, d in members.items():
            z.writestr(n, d)
    with pytest.raises(ModelError, match="declares|truncated"):
        load_model(p2)
    # dims declaring an absurd architecture
    a["dims"] = np.array([4, 4, 100000, 1, 2, 4], dtype=np.int64)
    with pytest.raises(ModelError):
        load_model(_write(tmp_path / "h3.npz", **a))


def test_unknown_version_and_bad_meta(tmp_path):
    a = _good_arrays(tmp_path)
    meta = json.loads(str(a["meta"]))
    meta["format_version"] = 99
    a["meta"] = np.array(json.dumps(meta))
    with pytest.raises(ModelError, match="format_version"):
        load_model(_write(tmp_path / "v.npz", **a))
    a["meta"] = np.array("{not json")
    with pytest.raises(ModelError, match="JSON"):
        load_model(_write(tmp_path / "j.npz", **a))
    meta["format_version"] = 1
    meta["stft"] = {"n_fft": 1024, "hop": 256}
    a["meta"] = np.array(json.dumps(meta))
    with pytest.raises(ModelError, match="stft"):
        load_model(_write(tmp_path / "s.npz", **a))


def test_pickled_objects_refused(tmp_path):
    a = _good_arrays(tmp_path)
    buf = io.BytesIO()
    np.savez(buf, theta=a["theta"], dims=a["dims"], grid_hz=a["grid_hz"],
             meta=np.array([{"evil": 1}], dtype=object))
    p = tmp_path / "p.npz"
    p.write_bytes(buf.getvalue())
    with pytest.raises(ModelError, match="objects|meta"):
        load_model(p)


def test_bad_grid(tmp_path):
    a = _good_arrays(tmp_path)
    a["grid_hz"] = a["grid_hz"][::-1].copy()
    with pytest.raises(ModelError, match="grid"):
        load_model(_write(tmp_path / "g.npz", **a))


def test_in_memory_model_validation():
    m = small_model()
    with pytest.raises(ModelError):
        LiteINNModel(theta=m.theta[:-2], dims=m.dims, grid_hz=m.grid_hz, head_radius=m.head_radius)
    with pytest.raises(ModelError):
        LiteINNModel(theta=m.theta, dims=m.dims, grid_hz=m.grid_hz, head_radius=5.0)
