"""Lite-INN weights: load / validate / save, metadata.

A model file is an ``.npz`` (uncompressed zip of ``.npy`` members) holding exactly:

``theta``   float64 (n,)  flat IBC parameters, layout in :mod:`spatialmw.kernels.ibc`
``dims``    int64 (6,)    architecture record [n_dir, n_freq, H, L, act, n_out]
``grid_hz`` float64 (K,)  frequency grid the engine samples G on (strictly increasing)
``meta``    unicode ()    JSON object: format, format_version, sample_rate, stft, encoding,
                          layers, head_model, provenance (SOFA sha256, held-out rule,
                          training settings, seed, final metrics, parameter count,
                          distance range seen in training)

Model files are untrusted input. :func:`load_model` checks the zip directory and every
member's ``.npy`` header (names, dtypes, shapes, declared sizes) *before* reading any
data, always loads with ``allow_pickle=False``, then validates shapes against ``dims``,
finiteness, ranges and the format version, and raises :class:`ModelError` with a
one-line reason on anything unexpected.
"""
from __future__ import annotations

import io
import json
import math
import os
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .kernels.ibc import (D_ACT, D_H, D_L, D_NDIR, D_NFREQ, DIMS_LEN, N_OUT,
                          ibc_evaluate, ibc_macs_per_evaluation,
                          ibc_prepare, ibc_prepared_size, ibc_scratch_size, HEADER_LEN)
from .errors import SpatialmwError
from .kernels.plan import (HOP, N_FFT, HEAD_RADIUS_MAX, HEAD_RADIUS_MIN, MAX_PARAMS, MODEL_CHECK_TEXT,
                           MODEL_OK, check_model_arrays)

FORMAT_NAME = "spatialmw-liteinn"
FORMAT_VERSION = 1
MAX_FILE_BYTES = 16 * 2**20
MAX_META_CHARS = 1 * 2**20
ACTIVATIONS = {0: "relu", 1: "tanh", 2: "sin"}
_MEMBERS = {"theta": ("<f8", 1), "dims": ("<i8", 1), "grid_hz": ("<f8", 1), "meta": ("<U", 0)}


class ModelError(SpatialmwError, ValueError):
    """A model file (or model object) that cannot be used: corrupt, hostile, unknown."""


def default_model_path() -> Path:
    """The shipped default: KEMAR fit, ``spatialmw/data/default_kemar.npz``."""
    return Path(__file__).resolve().parent / "data" / "default_kemar.npz"


@dataclass
class LiteINNModel:
    theta: np.ndarray
    dims: np.ndarray
    grid_hz: np.ndarray
    head_radius: float
    meta: dict = field(default_factory=dict)

    def __post_init__(self):
        self.theta = np.ascontiguousarray(self.theta, dtype=np.float64)
        self.dims = np.ascontiguousarray(self.dims, dtype=np.int64)
        self.grid_hz = np.ascontiguousarray(self.grid_hz, dtype=np.float64)
        self.head_radius = float(self.head_radius)
        _validate_arrays(self.theta, self.dims, self.grid_hz, "model")
        if not HEAD_RADIUS_MIN <= self.head_radius <= HEAD_RADIUS_MAX:
            raise ModelError(f"model: head_radius {self.head_radius!r} outside 0.03..0.2 m")
        self._prep = None

    # ------------------------------------------------------------- properties
    @property
    def n_grid(self) -> int:
        return int(self.grid_hz.shape[0])

    @property
    def n_params(self) -> int:
        """Trainable parameters (theta minus the 4 fixed header constants)."""
        return int(self.theta.shape[0] - HEADER_LEN)

    @property
    def macs_per_evaluation(self) -> int:
        return ibc_macs_per_evaluation(self.dims, self.n_grid)

    @property
    def scratch_size(self) -> int:
        return ibc_scratch_size(self.dims)

    def prepared(self) -> np.ndarray:
        """float32 :func:`ibc_prepare` output for ``grid_hz`` (cached)."""
        if self._prep is None:
            prep = np.zeros(ibc_prepared_size(self.dims, self.n_grid), dtype=np.float32)
            ibc_prepare(self.theta, self.dims, self.grid_hz, prep)
            self._prep = prep
        return self._prep

    def evaluate(self, direction, distance: float) -> np.ndarray:
        """(K, 4) = (log-amp L, phase L, log-amp R, phase R) at ``grid_hz`` for a
        head-relative direction (any non-zero native vector) and centre distance (m)."""
        u = np.asarray(direction, dtype=np.float64)
        n = float(np.linalg.norm(u))
        if u.shape != (3,) or not (math.isfinite(n) and n > 1e-12):
            raise ValueError(f"direction must be a finite non-zero 3-vector, got {direction!r}")
        u = u / n
        if not (math.isfinite(distance) and distance > 0):
            raise ValueError(f"distance must be finite and > 0, got {distance!r}")
        out = np.zeros(self.n_grid * N_OUT)
        scratch = np.zeros(self.scratch_size)
        ibc_evaluate(self.theta, self.dims, self.prepared(), u[0], u[1], u[2],
                     float(distance), scratch, out)
        return out.reshape(self.n_grid, N_OUT)

    def gain(self, direction, distance: float, freqs_hz) -> np.ndarray:
        """(2, len(freqs)) complex G, (a, phi) interpolated linearly from the grid like the
        engine does (clamped outside the grid)."""
        y = self.evaluate(direction, distance)
        f = np.asarray(freqs_hz, dtype=np.float64)
        out = np.empty((2, f.shape[0]), dtype=np.complex128)
        for e in range(2):
            a = np.interp(f, self.grid_hz, y[:, 2 * e])
            p = np.interp(f, self.grid_hz, y[:, 2 * e + 1])
            out[e] = np.exp(a + 1j * p)
        return out


# ----------------------------------------------------------------- validation

def _validate_arrays(theta, dims, grid, where):
    """Types and shapes here; the value rules are :func:`spatialmw.kernels.plan.check_model`,
    the same compiled check the native library runs on model assets."""
    if dims.dtype != np.int64 or dims.shape != (DIMS_LEN,):
        raise ModelError(f"{where}: dims must be int64 of shape ({DIMS_LEN},), got {dims.dtype} {dims.shape}")
    if theta.dtype != np.float64 or theta.ndim != 1:
        raise ModelError(f"{where}: theta must be a 1-D float64 array, got {theta.dtype} {theta.shape}")
    if grid.dtype != np.float64 or grid.ndim != 1:
        raise ModelError(f"{where}: grid_hz must be a 1-D float64 array, got {grid.dtype} {grid.shape}")
    code = check_model_arrays(theta, dims, grid)
    if code != MODEL_OK:
        raise ModelError(f"{where}: {MODEL_CHECK_TEXT[code]} (dims {dims.tolist()}, "
                         f"{theta.shape[0]} theta values, {grid.shape[0]} grid points)")


def _check_zip(path: Path):
    """Check the zip directory and .npy headers without reading any array data."""
    try:
        size = path.stat().st_size
    except OSError as exc:
        raise ModelError(f"{path}: cannot read model file ({exc.strerror or exc})") from None
    if size > MAX_FILE_BYTES:
        raise ModelError(f"{path}: {size} bytes is too large for a model file (limit {MAX_FILE_BYTES})")
    try:
        zf = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, OSError, ValueError, NotImplementedError) as exc:
        raise ModelError(f"{path}: not a valid .npz model file ({exc})") from None
    with zf:
        infos = zf.infolist()
        names = {i.filename for i in infos}
        want = {k + ".npy" for k in _MEMBERS}
        if len(infos) != len(names) or names != want:
            raise ModelError(f"{path}: model members must be {sorted(want)}, got {sorted(names)[:10]}")
        for info in infos:
            key = info.filename[:-4]
            if info.file_size > MAX_FILE_BYTES:
                raise ModelError(f"{path}: member {key} declares {info.file_size} bytes (limit {MAX_FILE_BYTES})")
            try:
                with zf.open(info) as fp:
                    version = np.lib.format.read_magic(fp)
                    if version == (1, 0):
                        shape, fortran, dtype = np.lib.format.read_array_header_1_0(fp)
                    elif version == (2, 0):
                        shape, fortran, dtype = np.lib.format.read_array_header_2_0(fp)
                    else:
                        raise ValueError(f"unsupported .npy version {version}")
            except Exception as exc:  # noqa: BLE001 - any parse failure is a corrupt file
                raise ModelError(f"{path}: member {key} is not a valid .npy array ({exc})") from None
            want_dt, want_nd = _MEMBERS[key]
            if dtype.hasobject:
                raise ModelError(f"{path}: member {key} holds Python objects (refused)")
            if key == "meta":
                if dtype.kind != "U" or len(shape) > 1 or int(np.prod(shape)) > 1 \
                        or dtype.itemsize > 4 * MAX_META_CHARS:
                    raise ModelError(f"{path}: meta must be one unicode JSON string, got {dtype} {shape}")
            else:
                if dtype.str != want_dt or len(shape) != want_nd:
                    raise ModelError(f"{path}: member {key} must be {want_nd}-D {want_dt}, got {dtype.str} {shape}")
                n = int(np.prod(shape))
                if n > MAX_PARAMS:
                    raise ModelError(f"{path}: member {key} declares {n} elements (limit {MAX_PARAMS})")
                if n * dtype.itemsize > info.file_size:
                    raise ModelError(f"{path}: member {key} is truncated")


def _parse_meta(raw, path):
    try:
        meta = json.loads(str(raw))
    except (ValueError, TypeError, RecursionError) as exc:
        raise ModelError(f"{path}: metadata is not valid JSON ({exc})") from None
    if not isinstance(meta, dict):
        raise ModelError(f"{path}: metadata must be a JSON object")
    if meta.get("format") != FORMAT_NAME:
        raise ModelError(f"{path}: not a {FORMAT_NAME} model (format={meta.get('format')!r})")
    ver = meta.get("format_version")
    if ver != FORMAT_VERSION:
        raise ModelError(f"{path}: unsupported model format_version {ver!r} (this build reads {FORMAT_VERSION})")
    for k in ("sample_rate", "stft", "head_model"):
        if k not in meta:
            raise ModelError(f"{path}: metadata lacks {k!r}")
    sr = meta["sample_rate"]
    if not isinstance(sr, (int, float)) or not (8000 <= sr <= 384000):
        raise ModelError(f"{path}: metadata sample_rate {sr!r} unsupported")
    stft = meta["stft"]
    if not isinstance(stft, dict) or stft.get("n_fft") != N_FFT or stft.get("hop") != HOP:
        raise ModelError(f"{path}: metadata stft must be n_fft {N_FFT} hop {HOP}, got {stft!r}")
    hm = meta["head_model"]
    r = hm.get("radius") if isinstance(hm, dict) else None
    if not isinstance(r, (int, float)) or not (math.isfinite(r) and HEAD_RADIUS_MIN <= r <= HEAD_RADIUS_MAX):
        raise ModelError(f"{path}: head_model.radius {r!r} outside 0.03..0.2 m")
    return meta


def load_model(path=None) -> LiteINNModel:
    """Load and fully validate a model file (``None``: the shipped default)."""
    p = Path(default_model_path() if path is None else os.fspath(path))
    _check_zip(p)
    try:
        with np.load(p, allow_pickle=False) as z:
            arrays = {k: z[k] for k in _MEMBERS}
    except ModelError:
        raise
    except Exception as exc:  # noqa: BLE001 - corrupt data after a valid header
        raise ModelError(f"{p}: cannot read model arrays ({type(exc).__name__}: {exc})") from None
    meta = _parse_meta(arrays["meta"].reshape(()).item() if arrays["meta"].size else "", p)
    theta, dims, grid = arrays["theta"], arrays["dims"], arrays["grid_hz"]
    _validate_arrays(theta, dims, grid, str(p))
    return LiteINNModel(theta=theta, dims=dims, grid_hz=grid,
                        head_radius=float(meta["head_model"]["radius"]), meta=meta)


def save_model(model: LiteINNModel, path) -> Path:
    """Write ``model`` (validated first) as an .npz; returns the path."""
    _validate_arrays(model.theta, model.dims, model.grid_hz, "model")
    meta = dict(model.meta)
    meta["format"] = FORMAT_NAME
    meta["format_version"] = FORMAT_VERSION
    meta.setdefault("sample_rate", 48000)
    meta.setdefault("stft", {"n_fft": N_FFT, "hop": HOP, "method": "overlap-save convolution"})
    meta["head_model"] = dict(meta.get("head_model", {}), radius=float(model.head_radius), kind="sphere-woodworth")
    meta["layers"] = {"n_dir": int(model.dims[D_NDIR]), "n_freq": int(model.dims[D_NFREQ]),
                      "hidden": int(model.dims[D_H]), "hidden_layers": int(model.dims[D_L]),
                      "activation": ACTIVATIONS[int(model.dims[D_ACT])], "n_out": N_OUT,
                      "grid_points": model.n_grid, "parameters": model.n_params,
                      "macs_per_evaluation": model.macs_per_evaluation}
    text = json.dumps(meta, sort_keys=True, allow_nan=False)
    _parse_meta(text, "model")
    p = Path(os.fspath(path))
    p.parent.mkdir(parents=True, exist_ok=True)
    buf = io.BytesIO()
    np.savez(buf, theta=model.theta, dims=model.dims, grid_hz=model.grid_hz, meta=np.array(text))
    tmp = p.with_name(p.name + ".tmp")
    tmp.write_bytes(buf.getvalue())
    os.replace(tmp, p)
    return p
