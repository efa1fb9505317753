"""Compiled model assets (``.smwm``): the flat file the native library reads.

``spatialmw export model.npz -o model.smwm`` writes one; ``smw_renderer_create`` reads it
without Python (``bindings/shim.c``, ``load_model``). The format is flat, versioned,
checksummed and little-endian::

    offset  size  field
    0       4     magic b"SMWM"
    4       4     u32 format version (1)
    8       8     u64 payload bytes (= file size - 24)
    16      8     u64 FNV-1a 64 of the payload
    24            payload:
                  u32 n_theta, u32 n_dims (6), u32 n_grid, u32 n_meta
                  f64 head radius (m), 8 reserved bytes (0)
                  f64 theta[n_theta], i64 dims[n_dims], f64 grid_hz[n_grid]
                  n_meta bytes of UTF-8 JSON (the model's metadata: provenance, metrics)

Readers check, in this order and before allocating anything but the payload itself: the
file size (56 bytes..16 MiB), magic, version, payload length = file size - 24, the
checksum, the array lengths (bounded, and summing exactly to the payload), then the
values with :func:`spatialmw.kernels.plan.check_model` (the same compiled check in C and
Python). Any failure is ``SMW_ERROR_MODEL_LOAD`` in C and :class:`AssetError` here.
"""
from __future__ import annotations

import json
import os
import struct
from pathlib import Path

import numpy as np
from numba import njit

from .kernels.ibc import DIMS_LEN
from .kernels.plan import MAX_GRID, MAX_PARAMS, MODEL_CHECK_TEXT, MODEL_OK, check_model
from .model import LiteINNModel, ModelError, load_model

MAGIC = b"SMWM"
VERSION = 1
HEADER = struct.Struct("<4sIQQ")
FIXED = struct.Struct("<4Id8x")
MAX_BYTES = 16 << 20
MAX_META = 1 << 20
SUFFIX = ".smwm"


class AssetError(ModelError):
    """A model asset that cannot be used: corrupt, truncated, hostile or of another version."""


def fnv1a64(data: bytes) -> int:
    """FNV-1a 64-bit hash (the asset checksum, as bindings/shim.c computes it)."""
    return int(_fnv1a64(np.frombuffer(data, dtype=np.uint8)))


@njit(cache=True)
def _fnv1a64(a):
    h = np.uint64(0xCBF29CE484222325)
    for i in range(a.shape[0]):
        h = (h ^ np.uint64(a[i])) * np.uint64(0x100000001B3)
    return h


def to_bytes(model: LiteINNModel) -> bytes:
    """The asset bytes of a (validated) model."""
    meta = json.dumps(model.meta, sort_keys=True, allow_nan=False).encode("utf-8")
    if len(meta) > MAX_META:
        raise AssetError(f"model metadata is {len(meta)} bytes (asset limit {MAX_META})")
    payload = b"".join([
        FIXED.pack(model.theta.shape[0], model.dims.shape[0], model.grid_hz.shape[0], len(meta),
                   float(model.head_radius)),
        model.theta.astype("<f8").tobytes(), model.dims.astype("<i8").tobytes(),
        model.grid_hz.astype("<f8").tobytes(), meta,
    ])
    return HEADER.pack(MAGIC, VERSION, len(payload), fnv1a64(payload)) + payload


def export(model_path, out_path) -> Path:
    """Load and validate an ``.npz`` model (``None``: the shipped default) and write its
    asset to ``out_path``; returns the path."""
    data = to_bytes(load_model(model_path))
    out = Path(os.fspath(out_path))
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(out.name + ".tmp")
    tmp.write_bytes(data)
    os.replace(tmp, out)
    return out


def read(path, metadata: bool = True) -> LiteINNModel:
    """Read and validate an asset: the same checks as the C loader, in the same order, and
    then (``metadata=True``) the metadata JSON, which the C loader does not need or read."""
    p = Path(os.fspath(path))
    try:
        size = p.stat().st_size
        if not p.is_file():
            raise AssetError(f"{p}: not a regular file")
        if not HEADER.size + FIXED.size <= size <= MAX_BYTES:
            raise AssetError(f"{p}: file size {size} outside 56 bytes..16 MiB: not a .smwm model asset")
        data = p.read_bytes()
    except OSError as exc:
        raise AssetError(f"{p}: cannot read model asset ({exc.strerror or exc})") from None
    magic, version, payload_len, checksum = HEADER.unpack_from(data)
    if magic != MAGIC:
        raise AssetError(f"{p}: not a .smwm model asset (bad magic)")
    if version != VERSION:
        raise AssetError(f"{p}: unsupported asset format version {version} (this build reads {VERSION})")
    payload = data[HEADER.size:]
    if payload_len != len(payload):
        raise AssetError(f"{p}: payload length does not match the file size (truncated or padded)")
    if fnv1a64(payload) != checksum:
        raise AssetError(f"{p}: checksum mismatch (corrupt file)")
    n_theta, n_dims, n_grid, n_meta, head_radius = FIXED.unpack_from(payload)
    if not (4 <= n_theta <= MAX_PARAMS and n_dims == DIMS_LEN and 2 <= n_grid <= MAX_GRID
            and n_meta <= MAX_META
            and len(payload) == FIXED.size + 8 * (n_theta + n_dims + n_grid) + n_meta):
        raise AssetError(f"{p}: array lengths out of bounds or inconsistent with the file size")
    o = FIXED.size
    theta = np.frombuffer(payload, "<f8", n_theta, o).astype(np.float64)
    dims = np.frombuffer(payload, "<i8", n_dims, o + 8 * n_theta).astype(np.int64)
    grid = np.frombuffer(payload, "<f8", n_grid, o + 8 * (n_theta + n_dims)).astype(np.float64)
    code = check_model(theta, dims, grid, head_radius)
    if code != MODEL_OK:
        raise AssetError(f"{p}: {MODEL_CHECK_TEXT[code]}")
    try:
        meta = json.loads(payload[len(payload) - n_meta:].decode("utf-8")) if n_meta and metadata else {}
    except (UnicodeDecodeError, ValueError, RecursionError) as exc:
        raise AssetError(f"{p}: metadata is not valid JSON ({exc})") from None
    return LiteINNModel(theta=theta, dims=dims, grid_hz=grid, head_radius=head_radius,
                        meta=meta if isinstance(meta, dict) else {})
