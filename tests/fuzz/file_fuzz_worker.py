"""Hostile-file fuzzing of one loader, run in its own process (tests/test_file_fuzz.py).

    python tests/fuzz/file_fuzz_worker.py {sofa|model|scene} --examples N --seed S --workdir D
           [--as-headroom-mib 1024] [--example-timeout 10] [--alloc-limit-mib 300]

Hypothesis generates mutations of a small valid file -- byte flips, truncation, splices,
and structure-aware forgeries (h5py for SOFA: forged shapes/dtypes/attributes/links/filters;
hand-built zip + .npy headers for models: huge declared sizes, hostile headers, hostile
metadata JSON; JSON trees for scenes: wrong types, huge numbers, deep nesting) -- and calls
the loader on each. Only the documented exception (SOFAError / ModelError / SceneError)
may escape. Guards:

* address space: ``RLIMIT_AS`` = the worker's size after imports + ``--as-headroom-mib``,
  so a huge allocation fails as ``MemoryError`` (an undocumented exception => failure);
* per-example allocation peak: ``tracemalloc`` (numpy buffers are traced) must stay under
  ``--alloc-limit-mib``;
* per-example time: ``SIGALRM`` after ``--example-timeout`` seconds raises ``Hang``
  (a BaseException, so no loader can swallow it); the parent also has a wall timeout.

Prints "KEY value" lines (EXAMPLES, OK, REJECTED, MAX_PEAK_MIB, MAX_SECONDS, ...) and one
"FAIL ..." line per failing example (file kept under <workdir>/failures). Exit 0 = clean.
"""
from __future__ import annotations

import argparse
import io
import json
import os
import resource
import signal
import struct
import sys
import time
import tracemalloc
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402
from hypothesis import HealthCheck, Phase, given, seed as hyp_seed, settings, strategies as st  # noqa: E402


class Hang(BaseException):
    """An example ran past its time limit."""


def _alarm(signum, frame):
    raise Hang()


# ------------------------------------------------------------------------ generic bytes
def byte_mutations():
    flip = st.tuples(st.just("flip"), st.lists(st.tuples(st.integers(0, 10**9), st.integers(1, 255)),
                                               min_size=1, max_size=24))
    trunc = st.tuples(st.just("truncate"), st.integers(0, 10**9))
    splice = st.tuples(st.just("splice"), st.tuples(st.integers(0, 10**9), st.binary(min_size=1, max_size=64)))
    stamp = st.tuples(st.just("stamp"), st.tuples(st.integers(0, 10**9),
                                                  st.sampled_from([b"\xff" * 8, b"\x00" * 8, b"\x7f\xff\xff\xff",
                                                                   struct.pack("<Q", 2**63 - 1),
                                                                   struct.pack("<Q", 10**12),
                                                                   struct.pack("<I", 0xFFFFFFFF)])))
    return st.lists(st.one_of(flip, trunc, splice, stamp), min_size=1, max_size=3)


def apply_bytes(data: bytes, muts) -> bytes:
    b = bytearray(data)
    for kind, arg in muts:
        if not b:
            break
        if kind == "flip":
            for pos, x in arg:
                b[pos % len(b)] ^= x
        elif kind == "truncate":
            b = b[: arg % (len(b) + 1)]
        elif kind in ("splice", "stamp"):
            pos, blob = arg
            pos %= len(b)
            b[pos:pos + len(blob)] = blob
    return bytes(b)


# ------------------------------------------------------------------------ SOFA
def write_sofa(path, m=6, n=32, fs=48000.0):
    import h5py
    rng = np.random.default_rng(1)
    ir = np.zeros((m, 2, n))
    ir[:, :, 3] = 1.0
    ir[:, :, 4:] += 0.01 * rng.standard_normal((m, 2, n - 4))
    pos = np.stack([np.linspace(0, 300, m), np.zeros(m), np.full(m, 1.2)], axis=1)
    with h5py.File(path, "w") as f:
        f.attrs["Conventions"] = np.bytes_(b"SOFA")
        f.attrs["SOFAConventions"] = np.bytes_(b"SimpleFreeFieldHRIR")
        f.attrs["DataType"] = np.bytes_(b"FIR")
        f.create_dataset("Data.IR", data=ir)
        d = f.create_dataset("Data.SamplingRate", data=np.array([fs]))
        d.attrs["Units"] = np.bytes_(b"hertz")
        d = f.create_dataset("SourcePosition", data=pos)
        d.attrs["Type"] = np.bytes_(b"spherical")
        d.attrs["Units"] = np.bytes_(b"degree, degree, metre")
    return path


HOSTILE_FLOATS = st.one_of(st.floats(allow_nan=True, allow_infinity=True, width=64),
                           st.sampled_from([0.0, -0.0, 1e-320, 1e308, -1e308, 44100.0, 48000.0, 8000.0,
                                            384000.0, 7999.0, 1e6, 65536.0, 65537.0, -1.0]))
SOFA_NAMES = ["Data.IR", "Data.SamplingRate", "SourcePosition", "Data.Delay"]
ATTR_VALUES = st.one_of(
    st.sampled_from([np.bytes_(b"SimpleFreeFieldHRIR"), np.bytes_(b"hertz"), np.bytes_(b"spherical"),
                     np.bytes_(b"cartesian"), np.bytes_(b"FIR"), np.bytes_(b"degree, degree, metre"),
                     np.bytes_(b"metre"), np.bytes_(b"\xff\xfe\xfa"), np.bytes_(b"x" * 100000),
                     np.array([1, 2, 3]), np.float64(np.nan), np.int64(-1), "SimpleFreeFieldHRIR",
                     np.array([b"a", b"b"]), np.bytes_(b"")]),
    st.text(max_size=40), st.integers(-2**63, 2**63 - 1))


@st.composite
def sofa_forgery(draw):
    op = draw(st.sampled_from(["shape", "dtype", "value", "attr", "link", "filter", "delete", "rootattr"]))
    name = draw(st.sampled_from(SOFA_NAMES))
    if op == "shape":
        ndim = draw(st.integers(0, 5))
        shape = tuple(draw(st.lists(st.one_of(st.integers(0, 8), st.sampled_from([2, 3, 10**5, 10**6, 2**31, 2**40])),
                                    min_size=ndim, max_size=ndim)))
        return ("shape", name, shape, draw(st.sampled_from(["f8", "f4", "i2"])), draw(HOSTILE_FLOATS))
    if op == "dtype":
        return ("dtype", name, draw(st.sampled_from(["f4", "i1", "u8", "c16", "S8", "?", "f2", "vlen_str",
                                                   "compound", "enum", ">f8", "i8"])))
    if op == "value":
        return ("value", name, draw(HOSTILE_FLOATS), draw(st.integers(0, 10**6)))
    if op == "attr":
        return ("attr", name, draw(st.sampled_from(["Units", "Type", "Other"])), draw(ATTR_VALUES))
    if op == "rootattr":
        return ("rootattr", draw(st.sampled_from(["SOFAConventions", "DataType", "Conventions"])), draw(ATTR_VALUES))
    if op == "link":
        return ("link", name, draw(st.sampled_from(["soft", "soft_dangling", "external", "group", "self"])))
    if op == "filter":
        return ("filter", draw(st.sampled_from([(6, 2, 32), (1000, 2, 160), (100000, 2, 160), (10, 2, 65536),
                                               (4, 2, 1)])), draw(HOSTILE_FLOATS))
    return ("delete", name)


def apply_sofa_forgery(path, ops):
    import h5py
    with h5py.File(path, "a") as f:
        for op in ops:
            kind = op[0]
            if kind == "rootattr":
                f.attrs[op[1]] = op[2]
                continue
            if kind == "filter":   # gzip'd sparse IR: tiny file, large declared data
                shape, fill = op[1], op[2]
                del f["Data.IR"]
                f.create_dataset("Data.IR", shape=shape, dtype="f8", chunks=True, compression="gzip",
                                 fillvalue=fill)
                continue
            name = op[1]
            if kind == "delete":
                if name in f:
                    del f[name]
                continue
            if kind == "link":
                if name in f:
                    del f[name]
                how = op[2]
                if how == "soft":
                    f[name] = h5py.SoftLink("/SourcePosition" if name != "SourcePosition" else "/Data.IR")
                elif how == "soft_dangling":
                    f[name] = h5py.SoftLink("/nowhere")
                elif how == "external":
                    f[name] = h5py.ExternalLink("/etc/passwd", "/x")
                elif how == "group":
                    f.create_group(name)
                else:
                    f[name] = h5py.SoftLink("/" + name)   # a link to itself
                continue
            old = f[name] if name in f and isinstance(f.get(name, getlink=True), h5py.HardLink) \
                and isinstance(f[name], h5py.Dataset) else None
            attrs = dict(old.attrs) if old is not None else {}
            if kind == "attr":
                if old is None:
                    continue
                old.attrs[op[2]] = op[3]
                continue
            if kind == "shape":
                shape, dt, fill = op[2], op[3], op[4]
                if name in f:
                    del f[name]
                big = int(np.prod(shape, dtype=object)) > 10**6 if shape else False
                if big:   # declared only: chunked, nothing written, file stays tiny
                    ds = f.create_dataset(name, shape=shape, dtype=dt, chunks=tuple(max(1, min(s, 64)) for s in shape)
                                          if all(s > 0 for s in shape) else None, fillvalue=fill)
                else:
                    ds = f.create_dataset(name, data=np.full(shape, fill, dtype=dt))
            elif kind == "dtype":
                dt = op[2]
                data = old[()] if old is not None else np.ones((6, 2, 32))
                if name in f:
                    del f[name]
                if dt == "vlen_str":
                    ds = f.create_dataset(name, data=np.array(["a"] * int(np.size(data)), dtype=object).reshape(np.shape(data)),
                                          dtype=h5py.string_dtype())
                elif dt == "compound":
                    cd = np.dtype([("a", "f8"), ("b", "i4")])
                    ds = f.create_dataset(name, shape=np.shape(data), dtype=cd)
                elif dt == "enum":
                    ds = f.create_dataset(name, shape=np.shape(data), dtype=h5py.enum_dtype({"A": 0, "B": 1}, basetype="i1"))
                elif dt == "S8":
                    ds = f.create_dataset(name, data=np.full(np.shape(data), b"abc", dtype="S8"))
                else:
                    ds = f.create_dataset(name, data=np.asarray(data).astype(dt))
            elif kind == "value":
                if old is None:
                    continue
                data = np.array(old[()], dtype=np.float64, copy=True)
                if data.size:
                    data.flat[op[3] % data.size] = op[2]
                del f[name]
                ds = f.create_dataset(name, data=data)
            else:
                continue
            for k, v in attrs.items():
                ds.attrs[k] = v


@st.composite
def sofa_case(draw):
    forg = draw(st.lists(sofa_forgery(), min_size=0, max_size=3))
    muts = draw(st.one_of(st.none(), byte_mutations()))
    if not forg and muts is None:
        muts = draw(byte_mutations())
    rate = draw(st.sampled_from([48000.0, None, 44100.0]))
    return forg, muts, rate


# ------------------------------------------------------------------------ model
def _npy_bytes(descr, shape, fortran=False, body=b"", version=(1, 0), raw_header=None):
    if raw_header is not None:
        hdr = raw_header
    else:
        hdr = repr({"descr": descr, "fortran_order": fortran, "shape": shape}).encode("latin1")
    hdr += b" " * ((64 - (10 + len(hdr) + 1) % 64) % 64) + b"\n"
    if version == (1, 0):
        pre = b"\x93NUMPY\x01\x00" + struct.pack("<H", len(hdr) & 0xFFFF)
    else:
        pre = b"\x93NUMPY" + bytes(version) + struct.pack("<I", len(hdr))
    return pre + hdr + body


def _npy_of(arr):
    buf = io.BytesIO()
    np.save(buf, arr, allow_pickle=True)
    return buf.getvalue()


def valid_model_arrays():
    from spatialmw.kernels.ibc import ibc_param_count
    dims = np.array([4, 4, 8, 1, 2, 4], dtype=np.int64)
    theta = np.random.default_rng(0).normal(size=ibc_param_count(dims)) * 0.1
    theta[:4] = [1.4, 0.0, 0.0, 24000.0]
    meta = {"format": "spatialmw-liteinn", "format_version": 1, "sample_rate": 48000,
            "stft": {"n_fft": 512, "hop": 256}, "head_model": {"radius": 0.09}}
    return {"theta": theta, "dims": dims, "grid_hz": np.linspace(0, 24000, 16), "meta": meta}


JSON_LEAF = st.one_of(st.none(), st.booleans(), st.integers(-2**70, 2**70),
                      st.floats(allow_nan=False, allow_infinity=False), st.text(max_size=12))
JSON_ANY = st.recursive(JSON_LEAF, lambda c: st.one_of(st.lists(c, max_size=4),
                                                       st.dictionaries(st.text(max_size=8), c, max_size=4)),
                        max_leaves=12)
# raw JSON tokens json.dumps cannot produce (hostile numbers, deep nesting)
RAW_JSON = st.sampled_from(["1" * 5000, "1e999", "-1e999", "NaN", "Infinity", "[" * 100000 + "]" * 100000,
                            "{\"a\":" * 50000 + "1" + "}" * 50000, "[" * 100000, "\"\\ud800\"",
                            "0." + "0" * 100000 + "1", "9" * 4300, "1E400000", "-0", "[]", "{}", "\"\"",
                            "\"" + "x" * 500000 + "\""])


@st.composite
def meta_text(draw):
    meta = dict(valid_model_arrays()["meta"])
    kind = draw(st.sampled_from(["field", "raw_field", "raw_whole", "delete", "any"]))
    key = draw(st.sampled_from(["format", "format_version", "sample_rate", "stft", "head_model", "extra"]))
    if kind == "field":
        meta[key] = draw(JSON_ANY)
    elif kind == "delete":
        meta.pop(key, None)
    elif kind == "any":
        return json.dumps(draw(JSON_ANY))
    elif kind == "raw_whole":
        return draw(RAW_JSON)
    text = json.dumps(meta)
    if kind == "raw_field":
        meta[key] = "@@RAW@@"
        text = json.dumps(meta).replace("\"@@RAW@@\"", draw(RAW_JSON))
    return text


@st.composite
def npy_member(draw, name):
    good = valid_model_arrays()
    kind = draw(st.sampled_from(["good", "values", "header", "dtype", "raw_header", "version", "pickle"]))
    if name == "meta":
        if kind in ("good", "values"):
            return _npy_of(np.array(draw(meta_text())))
    arr = good[name] if name != "meta" else np.array(json.dumps(good["meta"]))
    if kind == "good":
        return _npy_of(arr)
    if kind == "values" and name != "meta":
        a = np.array(arr, copy=True)
        vals = draw(st.lists(st.tuples(st.integers(0, 10**6), HOSTILE_FLOATS if a.dtype.kind == "f"
                                       else st.integers(-2**63, 2**63 - 1)), min_size=1, max_size=4))
        for i, v in vals:
            a.flat[i % a.size] = v
        return _npy_of(a)
    if kind == "header":   # forged shape, body possibly short
        shape = tuple(draw(st.lists(st.sampled_from([0, 1, 4, 6, 10**6, 10**7, 2**31, 2**62, -1]), max_size=3)))
        body = draw(st.sampled_from([b"", b"\0" * 64, arr.tobytes()]))
        return _npy_bytes(arr.dtype.str, shape, draw(st.booleans()), body)
    if kind == "dtype":
        descr = draw(st.sampled_from(["|O", ">f8", "<f4", "<i4", "|V8", "<U1000000", "<U2", "|S8", "<c16",
                                      [("a", "<f8")], "<M8[s]", "<f16", "|b1"]))
        return _npy_bytes(descr, arr.shape, False, arr.tobytes())
    if kind == "raw_header":
        raw = draw(st.sampled_from([b"{}", b"{'descr': '<f8'}", b"__import__('os').system('true')",
                                    b"{'descr': '<f8', 'fortran_order': False, 'shape': (" + b"1," * 10000 + b")}",
                                    b"{'descr': '<f8', 'fortran_order': 'yes', 'shape': (3,)}",
                                    b"{'descr': '<f8', 'fortran_order': False, 'shape': 3}",
                                    b"x" * 70000, b"\xff\xfe"]))
        return _npy_bytes(None, None, raw_header=raw)
    if kind == "version":
        return _npy_bytes(arr.dtype.str, arr.shape, False, arr.tobytes(),
                          version=draw(st.sampled_from([(2, 0), (3, 0), (9, 9), (0, 0)])))
    return _npy_of(np.array([{"a": 1}, None], dtype=object))   # pickle payload


@st.composite
def model_case(draw):
    kind = draw(st.sampled_from(["members", "members", "members", "bytes", "zip_sizes", "names"]))
    names = ["theta", "dims", "grid_hz", "meta"]
    if kind == "names":
        names = draw(st.lists(st.sampled_from(names + ["extra", "../evil", "theta.npy", ""]), max_size=6))
    # corrupt one or two members, keep the others valid, so validation runs deep
    hostile = set(draw(st.lists(st.sampled_from(["theta", "dims", "grid_hz", "meta"]), min_size=1, max_size=2)))
    good = valid_model_arrays()
    members = {}
    for n in names:
        key = n if n in good else "theta"
        if n in hostile or n not in good:
            members[n] = draw(npy_member(key))
        else:
            members[n] = _npy_of(good[n] if n != "meta" else np.array(json.dumps(good["meta"])))
    compress = draw(st.booleans())
    muts = draw(byte_mutations()) if kind == "bytes" else None
    sizes = draw(st.lists(st.tuples(st.integers(0, 3), st.sampled_from([0, 1, 0xFFFFFFFF, 0x7FFFFFFF, 16 * 2**20 + 1])),
                          min_size=1, max_size=3)) if kind == "zip_sizes" else None
    return members, compress, muts, sizes


def build_model_file(members, compress, muts, sizes) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED if compress else zipfile.ZIP_STORED) as z:
        for n, data in members.items():
            z.writestr(n + ".npy" if not n.endswith(".npy") else n, data)
    data = buf.getvalue()
    if sizes:   # forge the declared (uncompressed) sizes in the central directory
        b = bytearray(data)
        cd = [i for i in range(len(b) - 4) if b[i:i + 4] == b"PK\x01\x02"]
        for which, size in sizes:
            if cd:
                off = cd[which % len(cd)]
                b[off + 24:off + 28] = struct.pack("<I", size)
        data = bytes(b)
    if muts:
        data = apply_bytes(data, muts)
    return data


# ------------------------------------------------------------------------ scene
def valid_scene():
    return {"sample_rate": 48000, "duration": 2.0, "coordinate_system": "native",
            "listener": {"trajectory": {"type": "static", "position": [0, 0, 0]},
                         "orientation": {"type": "turn", "yaw_deg": 0, "rate_deg_s": 20}},
            "sources": [
                {"name": "a", "signal": {"noise": "white", "seed": 1},
                 "trajectory": {"type": "orbit", "center": [0, 0, 0], "radius": 2, "period": 5,
                                "elevation_deg": 0, "phase_deg": 90},
                 "gain": 1.0, "distance_model": "inverse_clamped", "min_distance": 1.0,
                 "max_distance": 100.0, "rolloff": 1.0, "doppler": True, "spatialize": True},
                {"signal": {"tone": 440.0},
                 "trajectory": {"type": "keyframes", "times": [0, 1, 2],
                                "positions": [[1, 0, 0], [0, 1, 0], [-1, 0, 0]]}},
                {"signal": {"noise": "pink"},
                 "trajectory": {"type": "linear", "start": [5, -5, 0], "end": [5, 5, 0]}}]}


def _paths(obj, prefix=()):
    yield prefix
    if isinstance(obj, dict):
        for k, v in obj.items():
            yield from _paths(v, prefix + (k,))
    elif isinstance(obj, list):
        for i, v in enumerate(obj):
            yield from _paths(v, prefix + (i,))


SCENE_PATHS = [p for p in _paths(valid_scene()) if p]
SCENE_LEAF = st.one_of(JSON_LEAF, st.sampled_from([1e308, -1e308, 5e-324, 2**64, -2**63, 10**300, 3600.0001, 0,
                                                   [], {}, [1e308] * 3, [0, 0], [[0, 0, 0]] * 2000,
                                                   "/etc/passwd", "../../x.wav", "noise:pink", {"type": "orbit"},
                                                   {"type": "keyframes", "times": [0, 0, 0], "positions": [[0, 0, 0]] * 3},
                                                   {"type": "keyframes", "times": [], "positions": []},
                                                   {"type": "orbit", "radius": 1e300, "period": 1e-300}]))


@st.composite
def scene_case(draw):
    d = valid_scene()
    kind = draw(st.sampled_from(["replace", "replace", "delete", "add", "raw", "bytes", "any"]))
    if kind == "any":
        return json.dumps(draw(JSON_ANY)).encode()
    if kind == "raw":
        path = draw(st.sampled_from(SCENE_PATHS))
        _set(d, path, "@@RAW@@")
        return json.dumps(d).replace("\"@@RAW@@\"", draw(RAW_JSON)).encode()
    for _ in range(draw(st.integers(1, 3))):
        path = draw(st.sampled_from(SCENE_PATHS))
        try:
            if kind == "replace":
                _set(d, path, draw(SCENE_LEAF))
            elif kind == "delete":
                parent = _get(d, path[:-1])
                if isinstance(parent, dict):
                    parent.pop(path[-1], None)
                elif isinstance(parent, list) and parent:
                    parent.pop(path[-1] % len(parent))
            elif kind == "add":
                parent = _get(d, path[:-1])
                if isinstance(parent, dict):
                    parent[draw(st.text(max_size=6))] = draw(JSON_LEAF)
        except (KeyError, IndexError, TypeError):
            pass
    text = json.dumps(d).encode()
    if kind == "bytes":
        text = apply_bytes(text, draw(byte_mutations()))
    return text


def _get(d, path):
    for k in path:
        d = d[k]
    return d


def _set(d, path, v):
    _get(d, path[:-1])[path[-1]] = v


# ------------------------------------------------------------------------ driver
def _reset_hwm():
    """Reset the peak-RSS counter (VmHWM) so it measures this example only (Linux >= 4.0)."""
    try:
        with open("/proc/self/clear_refs", "w") as fh:
            fh.write("5")
    except OSError:
        pass


def _hwm_mib() -> float:
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return 0.0


def _rss_mib() -> float:
    return int(open("/proc/self/statm").read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("loader", choices=["sofa", "model", "scene"])
    ap.add_argument("--examples", type=int, default=200)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--workdir", default="/tmp/smw_file_fuzz")
    ap.add_argument("--as-headroom-mib", type=int, default=1024)
    ap.add_argument("--example-timeout", type=float, default=10.0)
    ap.add_argument("--alloc-limit-mib", type=float, default=300.0)
    ns = ap.parse_args()
    work = Path(ns.workdir) / ns.loader
    (work / "failures").mkdir(parents=True, exist_ok=True)

    from spatialmw.hrtf.sofa import SOFAError, read_sofa
    from spatialmw.model import ModelError, load_model
    from spatialmw.scene import SceneError, load_scene
    import h5py  # noqa: F401  (import before the address-space limit)

    # warm the loaders once on valid files (imports, numba cache) before limiting memory
    base_sofa = write_sofa(work / "base.sofa")
    read_sofa(base_sofa)
    read_sofa(base_sofa, sample_rate=44100.0)   # imports scipy.signal (resampling) now
    (work / "base.json").write_text(json.dumps(valid_scene()))
    load_scene(work / "base.json")
    good = valid_model_arrays()
    base_model = build_model_file({k: _npy_of(v if k != "meta" else np.array(json.dumps(v)))
                                   for k, v in good.items()}, False, None, None)
    (work / "base.npz").write_bytes(base_model)
    load_model(work / "base.npz")

    vm_pages = int(open("/proc/self/statm").read().split()[0])
    vm = vm_pages * os.sysconf("SC_PAGE_SIZE")
    limit = vm + ns.as_headroom_mib * 2**20
    resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    signal.signal(signal.SIGALRM, _alarm)

    base_sofa_bytes = base_sofa.read_bytes()
    base_rss = _rss_mib()
    stats = {"examples": 0, "ok": 0, "rejected": 0, "fail": 0, "max_peak": 0.0, "max_rss": 0.0, "max_seconds": 0.0}
    failures = []
    target = work / ("case.sofa" if ns.loader == "sofa" else "case.npz" if ns.loader == "model" else "case.json")

    def run_one(describe, call):
        stats["examples"] += 1
        _reset_hwm()
        tracemalloc.start(1)   # only around the loader: tracing hypothesis itself is slow
        t0 = time.perf_counter()
        signal.setitimer(signal.ITIMER_REAL, ns.example_timeout)
        outcome = None
        try:
            call()
            stats["ok"] += 1
        except (SOFAError, ModelError, SceneError):
            stats["rejected"] += 1
        except Hang:
            outcome = f"hang (> {ns.example_timeout} s)"
        except BaseException as exc:  # noqa: BLE001 - anything else is a finding
            outcome = f"{type(exc).__name__}: {str(exc)[:300]}"
        finally:
            signal.setitimer(signal.ITIMER_REAL, 0)
        dt = time.perf_counter() - t0
        peak = tracemalloc.get_traced_memory()[1] / 2**20
        tracemalloc.stop()
        rss = _hwm_mib()
        stats["max_rss"] = max(stats["max_rss"], rss)
        stats["max_peak"] = max(stats["max_peak"], peak)
        stats["max_seconds"] = max(stats["max_seconds"], dt)
        if outcome is None and peak > ns.alloc_limit_mib:
            outcome = f"allocated {peak:.0f} MiB (limit {ns.alloc_limit_mib:g})"
        if outcome is None and rss - base_rss > ns.alloc_limit_mib:
            outcome = f"resident memory grew by {rss - base_rss:.0f} MiB during the call (limit {ns.alloc_limit_mib:g})"
        if outcome is not None:
            stats["fail"] += 1
            keep = work / "failures" / f"{stats['examples']:06d}_{target.name}"
            try:
                keep.write_bytes(target.read_bytes())
            except OSError:
                pass
            failures.append(f"FAIL {ns.loader} #{stats['examples']} {outcome} | case {describe[:400]} | file {keep}")
            print(failures[-1], flush=True)

    cfg = settings(max_examples=ns.examples, deadline=None, database=None, derandomize=False,
                   phases=[Phase.explicit, Phase.generate],
                   suppress_health_check=list(HealthCheck))

    if ns.loader == "sofa":
        @hyp_seed(ns.seed)
        @cfg
        @given(sofa_case())
        def fuzz(case):
            forg, muts, rate = case
            target.write_bytes(base_sofa_bytes)
            if forg:
                try:
                    apply_sofa_forgery(target, forg)
                except Exception:  # noqa: BLE001 - h5py refused to write that forgery; fuzz the rest
                    target.write_bytes(base_sofa_bytes)
            if muts:
                target.write_bytes(apply_bytes(target.read_bytes(), muts))
            run_one(repr(case), lambda: read_sofa(target, sample_rate=rate))
    elif ns.loader == "model":
        @hyp_seed(ns.seed)
        @cfg
        @given(model_case())
        def fuzz(case):
            target.write_bytes(build_model_file(*case))
            run_one(repr(case)[:400], lambda: load_model(target))
    else:
        @hyp_seed(ns.seed)
        @cfg
        @given(scene_case())
        def fuzz(text):
            target.write_bytes(text)
            run_one(repr(text[:300]), lambda: load_scene(target))

    t0 = time.perf_counter()
    fuzz()
    print(f"LOADER {ns.loader}")
    print(f"EXAMPLES {stats['examples']}\nOK {stats['ok']}\nREJECTED {stats['rejected']}\nFAILURES {stats['fail']}")
    print(f"BASE_RSS_MIB {base_rss:.1f}\nMAX_RSS_MIB {stats['max_rss']:.1f}")
    print(f"MAX_PEAK_MIB {stats['max_peak']:.2f}\nMAX_SECONDS {stats['max_seconds']:.3f}")
    print(f"SECONDS {time.perf_counter() - t0:.1f}\nAS_LIMIT_MIB {limit / 2**20:.0f}")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
