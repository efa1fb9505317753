"""Model assets (.smwm): export round trip, every rejection rule in both readers (Python
spatialmw.asset.read and the C loader in the native library), and hostile-file fuzzing of
both: the C loader runs under ASan/UBSan and must agree with the Python reader on every
mutated file.

``SMW_ASSET_FUZZ_FILES`` scales the fuzzing (default 1500 files).
"""
from __future__ import annotations

import os
import struct
import subprocess

import numpy as np
import pytest

from spatialmw import asset
from spatialmw.model import default_model_path, load_model
from tests.helpers import LIB, ROOT, build_sdk, ensure_lib
from tests.helpers import SAN_ENV, SAN_FLAGS, SANITIZER_MARKERS

FUZZ_FILES = int(os.environ.get("SMW_ASSET_FUZZ_FILES", "1500"))


@pytest.fixture(scope="module")
def good(tmp_path_factory) -> bytes:
    return asset.to_bytes(load_model(default_model_path()))


def test_export_round_trip(tmp_path):
    from spatialmw.cli import main
    out = tmp_path / "m.smwm"
    assert main(["export", str(default_model_path()), "-o", str(out)]) == 0
    a, m = asset.read(out), load_model(default_model_path())
    assert np.array_equal(a.theta, m.theta) and np.array_equal(a.dims, m.dims)
    assert np.array_equal(a.grid_hz, m.grid_hz) and a.head_radius == m.head_radius
    assert a.meta == m.meta
    head = out.read_bytes()[:24]
    assert head[:4] == b"SMWM" and struct.unpack("<I", head[4:8])[0] == asset.VERSION


def test_fnv1a64_reference_values():
    # published FNV-1a 64 test vectors
    assert asset.fnv1a64(b"") == 0xCBF29CE484222325
    assert asset.fnv1a64(b"a") == 0xAF63DC4C8601EC8C
    assert asset.fnv1a64(b"foobar") == 0x85944171F73967E8


def _reseal(payload: bytes) -> bytes:
    """Header with a correct length and checksum for ``payload`` (so value rules are reached)."""
    return asset.HEADER.pack(asset.MAGIC, asset.VERSION, len(payload), asset.fnv1a64(payload)) + payload


def _forge(good: bytes, kind: str) -> bytes:
    payload = bytearray(good[24:])
    n_theta = struct.unpack_from("<I", payload)[0]
    if kind == "npz":
        return default_model_path().read_bytes()
    if kind == "empty":
        return b""
    if kind == "version":
        return good[:4] + struct.pack("<I", 2) + good[8:]
    if kind == "truncated":
        return good[:-9]
    if kind == "padded":
        return good + b"\0" * 8
    if kind == "checksum":
        b = bytearray(good)
        b[5000] ^= 1
        return bytes(b)
    if kind == "huge_theta_count":
        struct.pack_into("<I", payload, 0, 0xFFFFFFFF)
    elif kind == "lengths_disagree":
        struct.pack_into("<I", payload, 8, struct.unpack_from("<I", payload, 8)[0] + 1)
    elif kind == "theta_nan":
        struct.pack_into("<d", payload, 32 + 8 * 10, float("nan"))
    elif kind == "dims_huge":
        struct.pack_into("<q", payload, 32 + 8 * n_theta + 16, 1 << 40)
    elif kind == "grid_decreasing":
        struct.pack_into("<d", payload, 32 + 8 * (n_theta + 6) + 8, -1.0)
    elif kind == "head_radius":
        struct.pack_into("<d", payload, 16, 5.0)
    return _reseal(bytes(payload))


CASES = {
    "npz": "bad magic", "empty": "file size", "version": "format version", "truncated": "payload length",
    "padded": "payload length", "checksum": "checksum", "huge_theta_count": "array lengths",
    "lengths_disagree": "array lengths", "theta_nan": "NaN/Inf", "dims_huge": "dims out of range",
    "grid_decreasing": "grid_hz", "head_radius": "head radius",
}


@pytest.mark.parametrize("kind", CASES)
def test_every_rule_rejects_in_python_and_in_c(good, tmp_path, kind):
    from spatialmw.native import NativeError, Renderer
    ensure_lib()
    p = tmp_path / f"{kind}.smwm"
    p.write_bytes(_forge(good, kind))
    with pytest.raises(asset.AssetError, match=CASES[kind].replace("/", ".")):
        asset.read(p)
    with pytest.raises(NativeError, match=CASES[kind].replace("/", ".")) as e:
        Renderer(model=p, max_sources=1, max_block=64, table_step=30.0, lib=LIB)
    assert e.value.code == 7   # SMW_ERROR_MODEL_LOAD


def _mutations(good: bytes, n: int, seed: int):
    """Byte flips, truncations, splices and stamped big/zero lengths; half of them resealed
    (correct length and checksum) so the length and value rules behind the checksum run."""
    rng = np.random.default_rng(seed)
    stamps = [b"\xff\xff\xff\xff", b"\0\0\0\0", struct.pack("<Q", 2**63 - 1), struct.pack("<d", np.nan),
              struct.pack("<d", 1e300), struct.pack("<q", -1)]
    hot = [0, 4, 8, 16, 24, 28, 32, 36, 40, 48, 56]   # header and payload length fields
    for i in range(n):
        b = bytearray(good)
        for _ in range(int(rng.integers(1, 4))):
            kind = int(rng.integers(4))
            pos = int(rng.choice(hot)) if rng.random() < 0.5 else int(rng.integers(len(b) or 1))
            if kind == 0 and b:
                b[pos % len(b)] ^= int(rng.integers(1, 256))
            elif kind == 1:
                b = b[:int(rng.integers(len(b) + 1))]
            elif kind == 2:
                b[pos:pos] = rng.bytes(int(rng.integers(1, 64)))
            else:
                s = stamps[int(rng.integers(len(stamps)))]
                b[pos:pos + len(s)] = s
        if i % 2 and len(b) >= 24:
            b = bytearray(_reseal(bytes(b[24:])))
        yield bytes(b)


def test_hostile_assets_c_under_asan_agrees_with_python(good, tmp_path):
    """Every mutated asset: the ASan/UBSan-built C loader returns SMW_SUCCESS or
    SMW_ERROR_MODEL_LOAD with a message (no crash, no sanitizer report), and accepts
    exactly the files the Python reader accepts."""
    ensure_lib()
    san = tmp_path / "asan"
    build_sdk("--prefix", san, "--cflags", " ".join(SAN_FLAGS + ["-g"]))
    exe = tmp_path / "asset_load"
    r = subprocess.run(["gcc", "-O1", "-g", *SAN_FLAGS, f"-I{ROOT / 'include'}", "-o", str(exe),
                        str(ROOT / "tests" / "sdk" / "asset_load.c"), f"-L{san / 'lib'}", "-lspatialmw",
                        f"-Wl,-rpath,{san / 'lib'}", "-lm"], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    files = tmp_path / "files"
    files.mkdir()
    expect = {}
    for i, data in enumerate(_mutations(good, FUZZ_FILES, 20250101)):
        p = files / f"{i:05d}.smwm"
        p.write_bytes(data)
        try:
            asset.read(p, metadata=False)   # the C loader ignores the metadata JSON
            expect[str(p)] = 0
        except asset.AssetError:
            expect[str(p)] = 7
    r = subprocess.run(["env", "-i", *[f"{k}={v}" for k, v in SAN_ENV.items()], str(exe)],
                       input="\n".join(expect) + "\n", capture_output=True, text=True, timeout=900)
    log = r.stdout + r.stderr
    assert not [m for m in SANITIZER_MARKERS if m in log], log[-4000:]
    assert r.returncode == 0, log[-4000:]
    got = {}
    for line in r.stdout.splitlines():
        path, code, msg = (line.split(" ", 2) + [""])[:3]
        got[path] = int(code)
        assert int(code) in (0, 7), line
        assert int(code) == 0 or "model asset" in msg, line
    assert got == expect
    accepted = sum(1 for v in expect.values() if v == 0)
    print(f"{len(expect)} hostile assets: {accepted} accepted by both readers, "
          f"{len(expect) - accepted} rejected by both with SMW_ERROR_MODEL_LOAD; no sanitizer report")
    assert len(expect) - accepted > 0.5 * len(expect)
