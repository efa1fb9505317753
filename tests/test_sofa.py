"""SOFA reading: the shipped KEMAR set, resampling, time offset, and hostile files."""
from __future__ import annotations

import hashlib
import tracemalloc

import h5py
import numpy as np
import pytest

from spatialmw.geometry import SPEED_OF_SOUND
from spatialmw.hrtf.sofa import HRIRSet, SOFAError, default_sofa_path, read_sofa


@pytest.fixture(scope="module")
def kemar_native() -> HRIRSet:
    return read_sofa(default_sofa_path(), sample_rate=None)


@pytest.fixture(scope="module")
def kemar48() -> HRIRSet:
    return read_sofa(default_sofa_path())


def test_reads_kemar(kemar_native, kemar48):
    h = kemar_native
    assert h.hrirs.shape == (710, 2, 512) and h.hrirs.dtype == np.float64
    assert h.sample_rate == 44100.0
    assert h.directions_deg.shape == (710, 2)
    assert np.all((h.directions_deg[:, 0] >= 0) & (h.directions_deg[:, 0] < 360))
    assert h.directions_deg[:, 1].min() == -40 and h.directions_deg[:, 1].max() == 90
    np.testing.assert_allclose(h.distance_m, 1.4)
    assert h.sha256 == hashlib.sha256(default_sofa_path().read_bytes()).hexdigest()
    assert kemar48.sample_rate == 48000.0
    assert kemar48.hrirs.shape == (710, 2, int(np.ceil(512 * 160 / 147)))
    np.testing.assert_allclose(np.linalg.norm(h.positions(), axis=1), 1.4)


def test_lateral_left_source_louder_and_earlier_in_left_ear(kemar48):
    i = kemar48.nearest([0.0, 1.0, 0.0])  # +y = left
    np.testing.assert_allclose(kemar48.directions_deg[i], [90.0, 0.0])
    e = np.sum(kemar48.hrirs[i] ** 2, axis=-1)
    assert 10 * np.log10(e[0] / e[1]) > 10.0
    on = kemar48.onsets()[i]
    itd_us = (on[1] - on[0]) * 1e6
    assert 550 < itd_us < 750, itd_us  # KEMAR's lateral ITD is ~650 us


def test_time_offset_lines_up_arrivals(kemar48, kemar_native):
    T = kemar48.time_offset()
    # ~4.08 ms of flight over 1.4 m, of which ~0.9 ms is left in the measured IRs.
    assert 0.0028 < T < 0.0036, T
    assert abs(T - kemar_native.time_offset()) < 10e-6  # rate independent
    arrivals = kemar48.onsets() + T
    paths = kemar48.ear_path_lengths() / SPEED_OF_SOUND
    err = np.abs(arrivals - paths)
    assert np.median(err) < 40e-6 and np.percentile(err, 90) < 150e-6, (np.median(err), np.percentile(err, 90))


def _dtft(h, fs, freqs):
    n = np.arange(h.shape[-1])
    return h @ np.exp(-2j * np.pi * np.outer(n, freqs) / fs)


def test_resample_preserves_magnitude_below_18k(kemar_native, kemar48):
    freqs = np.linspace(100.0, 18000.0, 400)
    for i in (0, 123, 300, 512):
        a = np.abs(_dtft(kemar_native.hrirs[i], 44100.0, freqs))
        b = np.abs(_dtft(kemar48.hrirs[i], 48000.0, freqs))
        peak = a.max()
        assert np.max(np.abs(a - b)) < 0.01 * peak
        loud = a > 0.1 * peak
        assert np.max(np.abs(20 * np.log10(b[loud] / a[loud]))) < 0.1


# ------------------------------------------------------------------ synthetic files

def write_sofa(path, m=4, n=32, conventions="SimpleFreeFieldHRIR", ir=None, fs=48000.0,
               pos=None, pos_type="spherical", pos_units="degree, degree, metre",
               skip=(), delay=None):
    rng = np.random.default_rng(1)
    if ir is None:
        ir = np.zeros((m, 2, n))
        ir[:, :, 3] = 1.0
        ir[:, :, 4:] += 0.01 * rng.standard_normal((m, 2, n - 4))
    if pos is None:
        pos = np.stack([np.linspace(0, 270, m), np.zeros(m), np.full(m, 1.2)], axis=1)
    with h5py.File(path, "w") as f:
        if conventions is not None:
            f.attrs["Conventions"] = np.bytes_(b"SOFA")
            f.attrs["SOFAConventions"] = np.bytes_(conventions.encode())
            f.attrs["DataType"] = np.bytes_(b"FIR")
        if "Data.IR" not in skip:
            f.create_dataset("Data.IR", data=ir)
        if "Data.SamplingRate" not in skip:
            d = f.create_dataset("Data.SamplingRate", data=np.atleast_1d(np.asarray(fs, dtype=np.float64)))
            d.attrs["Units"] = np.bytes_(b"hertz")
        if "SourcePosition" not in skip:
            d = f.create_dataset("SourcePosition", data=pos)
            d.attrs["Type"] = np.bytes_(pos_type.encode())
            d.attrs["Units"] = np.bytes_(pos_units.encode())
        if delay is not None:
            f.create_dataset("Data.Delay", data=np.asarray(delay, dtype=np.float64))
    return path


def test_synthetic_valid_file_and_cartesian_positions(tmp_path):
    h = read_sofa(write_sofa(tmp_path / "ok.sofa"), sample_rate=None)
    assert h.hrirs.shape == (4, 2, 32) and h.sample_rate == 48000.0
    kem = read_sofa(default_sofa_path(), sample_rate=None)
    cart = write_sofa(tmp_path / "cart.sofa", m=710, n=512, ir=kem.hrirs, fs=44100.0,
                      pos=kem.positions(), pos_type="cartesian", pos_units="metre")
    hc = read_sofa(cart, sample_rate=None)
    d = np.abs(((hc.directions_deg - kem.directions_deg) + 180) % 360 - 180)
    d[np.abs(kem.directions_deg[:, 1]) > 89.999, 0] = 0  # azimuth undefined at the pole
    assert d.max() < 1e-9
    np.testing.assert_allclose(hc.distance_m, kem.distance_m)


def test_data_delay_is_applied(tmp_path):
    t = np.arange(64)
    ir = np.broadcast_to(np.exp(-0.5 * ((t - 10.0) / 2.0) ** 2), (4, 2, 64))  # smooth pulse
    base = read_sofa(write_sofa(tmp_path / "a.sofa", ir=ir), sample_rate=None)
    dl = read_sofa(write_sofa(tmp_path / "b.sofa", ir=ir, delay=[[3.0, 5.5]]), sample_rate=None)
    assert dl.hrirs.shape == (4, 2, 64 + 6)
    shift = (dl.onsets() - base.onsets()) * 48000.0
    np.testing.assert_allclose(shift[:, 0], 3.0, atol=0.05)
    np.testing.assert_allclose(shift[:, 1], 5.5, atol=0.05)


def _forge(tmp_path, name, fn):
    p = tmp_path / name
    write_sofa(p, skip=("Data.IR",))
    with h5py.File(p, "a") as f:
        fn(f)
    return p


HOSTILE = {
    "huge_m": (lambda f: f.create_dataset("Data.IR", shape=(10**9, 2, 512), chunks=(1, 2, 512),
                                          dtype="f8"), "directions"),
    "huge_n": (lambda f: f.create_dataset("Data.IR", shape=(4, 2, 10**8), chunks=(1, 2, 4096),
                                          dtype="f8"), "taps"),
    "huge_total": (lambda f: f.create_dataset("Data.IR", shape=(100000, 2, 4096),
                                              chunks=(1, 2, 4096), dtype="f8"), "limit"),
    "three_receivers": (lambda f: f.create_dataset("Data.IR", data=np.ones((4, 3, 32))), "receivers"),
    "two_dims": (lambda f: f.create_dataset("Data.IR", data=np.ones((4, 64))), "dimensions"),
    "string_ir": (lambda f: f.create_dataset("Data.IR", data=np.array([[[b"ab"] * 4] * 2] * 4)), "dtype"),
    "complex_ir": (lambda f: f.create_dataset("Data.IR", data=np.ones((4, 2, 8), complex)), "dtype"),
    "group_ir": (lambda f: f.create_group("Data.IR"), "not a dataset"),
    "external_link": (lambda f: f.__setitem__("Data.IR", h5py.ExternalLink("/etc/passwd", "/x")),
                      "ExternalLink"),
}


@pytest.mark.parametrize("case", sorted(HOSTILE))
def test_forged_ir_dataset_rejected_before_reading(tmp_path, case):
    """Refused from the declared header alone: reading the declared arrays would allocate
    up to terabytes, the rejection traces under 4 MiB (numpy's buffers are traced)."""
    fn, match = HOSTILE[case]
    p = _forge(tmp_path, f"{case}.sofa", fn)
    tracemalloc.start()
    try:
        with pytest.raises(SOFAError, match=match):
            read_sofa(p)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 4 * 2**20, f"{peak / 2**20:.1f} MiB allocated while rejecting"


def test_external_raw_storage_refused(tmp_path):
    raw = tmp_path / "raw.bin"
    raw.write_bytes(np.ones(4 * 2 * 8).tobytes())
    p = _forge(tmp_path, "ext.sofa", lambda f: f.create_dataset(
        "Data.IR", shape=(4, 2, 8), dtype="f8", external=[(str(raw), 0, h5py.h5f.UNLIMITED)]))
    with pytest.raises(SOFAError, match="external"):
        read_sofa(p)


def _ir_with(value):
    ir = np.zeros((4, 2, 32))
    ir[:, :, 3] = 1.0
    ir[1, 0, 7] = value
    return ir


@pytest.mark.parametrize("kwargs, match", [
    (dict(ir=_ir_with(np.nan)), "NaN"),
    (dict(ir=_ir_with(np.inf)), "NaN or Inf"),
    (dict(ir=np.zeros((4, 2, 32))), "all zeros"),
    (dict(fs=0.0), "sample rate"),
    (dict(fs=np.nan), "NaN"),
    (dict(fs=1e9), "sample rate"),
    (dict(fs=[48000.0, 44100.0, 48000.0, 48000.0]), "varies"),
    (dict(conventions="GeneralTF"), "not supported"),
    (dict(conventions=None), "SOFAConventions"),
    (dict(skip=("Data.IR",)), "missing required dataset 'Data.IR'"),
    (dict(skip=("Data.SamplingRate",)), "Data.SamplingRate"),
    (dict(skip=("SourcePosition",)), "SourcePosition"),
    (dict(pos=np.zeros((3, 3))), "SourcePosition has shape"),
    (dict(pos=np.array([[0, 0, 1.0], [0, 0, np.nan], [0, 0, 1], [0, 0, 1]])), "NaN"),
    (dict(pos=np.array([[0, 0, 1.0], [0, 120, 1], [0, 0, 1], [0, 0, 1]])), "elevation"),
    (dict(pos=np.array([[0, 0, 1.0], [0, 0, 0], [0, 0, 1], [0, 0, 1]])), "distance"),
    (dict(pos_units="radian, radian, metre"), "units"),
    (dict(pos_type="polar"), "Type"),
    (dict(pos=np.zeros((4, 3)), pos_type="cartesian", pos_units="metre"), "at the listener"),
    (dict(delay=[[-1.0, 0.0]]), "Data.Delay"),
])
def test_invalid_contents_rejected(tmp_path, kwargs, match):
    p = write_sofa(tmp_path / "bad.sofa", **kwargs)
    with pytest.raises(SOFAError, match=match):
        read_sofa(p)


def test_non_hdf5_and_damaged_files(tmp_path):
    with pytest.raises(SOFAError, match="cannot open"):
        read_sofa(tmp_path / "missing.sofa")
    with pytest.raises(SOFAError, match="not a regular file"):
        read_sofa(tmp_path)
    (tmp_path / "empty.sofa").write_bytes(b"")
    with pytest.raises(SOFAError, match="too small"):
        read_sofa(tmp_path / "empty.sofa")
    (tmp_path / "random.sofa").write_bytes(np.random.default_rng(0).bytes(4096))
    with pytest.raises(SOFAError, match="not an HDF5"):
        read_sofa(tmp_path / "random.sofa")
    good = default_sofa_path().read_bytes()
    for frac in (0.02, 0.5, 0.99):
        p = tmp_path / f"trunc{frac}.sofa"
        p.write_bytes(good[: int(len(good) * frac)])
        with pytest.raises(SOFAError, match=str(p.name)):
            read_sofa(p)
    # signature intact, superblock and B-trees overwritten with junk
    junk = bytearray(good)
    junk[8:2048] = np.random.default_rng(1).bytes(2040)
    (tmp_path / "junk.sofa").write_bytes(bytes(junk))
    with pytest.raises(SOFAError, match="junk.sofa"):
        read_sofa(tmp_path / "junk.sofa")


def test_size_limit_and_bad_requested_rate(tmp_path):
    with pytest.raises(SOFAError, match="limit"):
        read_sofa(default_sofa_path(), max_bytes=1000)
    for bad in (0, float("nan"), -48000, 10**7, "fast"):
        with pytest.raises(SOFAError, match="sample rate"):
            read_sofa(default_sofa_path(), sample_rate=bad)
    with pytest.raises(SOFAError, match="path"):
        read_sofa(12345)


def test_odd_grid_loads(tmp_path):
    h = read_sofa(write_sofa(tmp_path / "one.sofa", m=1, n=1,
                             ir=np.ones((1, 2, 1)), pos=np.array([[30.0, 10.0, 2.0]])))
    assert h.hrirs.shape[0] == 1 and np.all(np.isfinite(h.hrirs))
