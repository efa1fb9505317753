"""Output safety: the output is always finite, denormals do not slow the audio path, one bad
source is muted and reported while the others keep playing.

Measured with the Python :class:`spatialmw.engine.Engine`, which runs the very kernels
(``render_core`` / ``write_core``) the C library calls through its @cfunc entry points, so
timings and behaviour carry over to ``smw_render`` / ``smw_source_write``.
"""
from __future__ import annotations

import time

import numpy as np
import pytest

from spatialmw.engine import Engine
from test_fuzz_api import write_test_model

B = 512
SR = 48000
DEADLINE_MS = B / SR * 1e3


@pytest.fixture(scope="module")
def model(tmp_path_factory):
    return write_test_model(tmp_path_factory.mktemp("model") / "m.npz")


def _engine(model, n, ibc=True):
    eng = Engine(SR, max_sources=n, max_block=B, model=model, ibc=ibc)
    hs = []
    for i in range(n):
        h = eng.add_source(distance_model="none")
        a = 2 * np.pi * i / n
        eng.set_source_pose(h, [2 * np.cos(a), 2 * np.sin(a), 0.3 * np.sin(3 * a)])
        hs.append(h)
    return eng, hs


def _signal(kind, n_blocks, rng):
    x = (rng.standard_normal((n_blocks, B)) * 0.1).astype(np.float32)
    if kind == "denormal":                   # every sample a float32 denormal
        return (np.sign(x) * 1e-40).astype(np.float32)
    if kind == "decay":                      # passes through the denormal range and to zero
        t = np.arange(n_blocks * B).reshape(n_blocks, B)
        return (x * np.exp(-t / 600.0)).astype(np.float32)
    if kind == "silence":
        return np.zeros_like(x)
    return x


def _time_blocks(model, kind, ibc, n_blocks=240, n_src=16, moving=True):
    eng, hs = _engine(model, n_src, ibc)
    x = _signal(kind, n_blocks, np.random.default_rng(0))
    times, outs = [], []
    for b in range(n_blocks):
        if moving and b % 4 == 0:            # 47 Hz pose updates: the IBC re-evaluates
            for i, h in enumerate(hs):
                a = 2 * np.pi * i / n_src + 0.05 * b
                eng.set_source_pose(h, [2 * np.cos(a), 2 * np.sin(a), 0.0])
        t0 = time.perf_counter()
        for h in hs:
            eng.write(h, x[b])
        y = eng.render(B)
        times.append(time.perf_counter() - t0)
        outs.append(y)
    t = np.array(times[min(40, n_blocks // 2):]) * 1e3
    return float(np.median(t)), float(np.percentile(t, 99)), np.concatenate(outs)


@pytest.mark.parametrize("ibc", [True, False], ids=["liteinn", "tdw"])
def test_denormal_and_decaying_input_do_not_slow_rendering(model, ibc):
    _time_blocks(model, "normal", ibc, n_blocks=20)          # warm caches / JIT
    res = {k: _time_blocks(model, k, ibc) for k in ("normal", "denormal", "decay", "silence")}
    for k, (med, p99, y) in res.items():
        print(f"{'liteinn' if ibc else 'tdw'} {k:9s} median {med:.3f} ms  p99 {p99:.3f} ms")
        assert np.all(np.isfinite(y))
        assert p99 < DEADLINE_MS
    base = res["normal"][0]
    for k in ("denormal", "decay"):
        assert res[k][0] < 1.5 * base + 0.1, f"{k}: median {res[k][0]:.3f} ms vs normal {base:.3f} ms"
    # denormal input comes out as (at most) denormal-sized output, not garbage
    assert np.max(np.abs(res["denormal"][2])) < 1e-30


def test_denormal_corrector_gains_do_not_slow_rendering(tmp_path, model):
    """A model whose log-amplitude output is very negative yields float32 denormal per-bin
    gains (exp(-100) = 3.7e-44) that multiply every spectrum bin of the hot loop."""
    from spatialmw.kernels.ibc import ibc_layout
    from spatialmw.model import load_model, save_model
    m = load_model(model)
    o_bo = int(ibc_layout(m.dims)[7])
    m.theta[o_bo:o_bo + 4] = [-100.0, 0.0, -100.0, 0.0]       # a_L, phi_L, a_R, phi_R biases
    quiet = save_model(m, tmp_path / "quiet.npz")
    _time_blocks(model, "normal", True, n_blocks=20)
    base = _time_blocks(model, "normal", True)
    tiny = _time_blocks(quiet, "normal", True)
    print(f"normal gains median {base[0]:.3f} ms; denormal gains median {tiny[0]:.3f} ms")
    assert np.all(np.isfinite(tiny[2]))
    assert tiny[0] < 1.5 * base[0] + 0.1


@pytest.mark.parametrize("poison", ["nan", "inf", "-inf", "one_nan"])
def test_bad_source_is_muted_and_reported_others_keep_playing(model, poison):
    eng, (a, b) = _engine(model, 2)
    rng = np.random.default_rng(3)
    rms_b, finite = [], True
    for blk in range(16):
        xa = (rng.standard_normal(B) * 0.1).astype(np.float32)
        xb = (rng.standard_normal(B) * 0.1).astype(np.float32)
        if 5 <= blk < 9:
            if poison == "one_nan":
                xa[123] = np.nan
            else:
                xa[:] = {"nan": np.nan, "inf": np.inf, "-inf": -np.inf}[poison]
        ok = eng.write(a, xa)
        assert eng.write(b, xb)
        if 5 <= blk < 9:
            assert ok is False
            assert eng.source_status(a) & 1
        else:
            assert ok is True
            assert eng.source_status(a) & 1 == 0
        y = eng.render(B)
        finite &= bool(np.all(np.isfinite(y)))
        rms_b.append(float(np.sqrt(np.mean(y.astype(np.float64) ** 2))))
    assert finite
    # the healthy source stays audible in every block, including the poisoned ones
    assert min(rms_b[2:]) > 0.02, np.round(rms_b, 3)


def test_hostile_parameters_keep_output_finite(model):
    """Extreme-but-accepted parameters: max gain, listener at the source, 1e6 m away,
    min_distance tiny, rolloff max, Doppler with a teleporting source."""
    eng, hs = _engine(model, 6)
    eng.set_source_params(hs[0], gain=1000.0, min_distance=1e-6, rolloff=1000.0,
                          distance_model="inverse_clamped")
    eng.set_source_pose(hs[1], [0.0, 0.0, 0.0])                 # at the listener
    eng.set_source_pose(hs[2], [1e6, 0.0, 0.0])                 # as far as allowed
    eng.set_source_params(hs[3], doppler=True)
    eng.set_source_params(hs[4], spatialize=False, gain=1000.0)
    eng.set_source_params(hs[5], distance_model="linear", min_distance=1.0, max_distance=1.0)
    rng = np.random.default_rng(4)
    for blk in range(40):
        eng.set_source_pose(hs[3], [1e5 * (-1) ** blk, 1.0, 0.0])  # teleports every block
        for h in hs:
            eng.write(h, (rng.standard_normal(B) * 0.5).astype(np.float32))
        y = eng.render(B)
        assert np.all(np.isfinite(y)), blk


def test_absurdly_loud_source_does_not_silence_others(model):
    eng, (a, b) = _engine(model, 2)
    rng = np.random.default_rng(5)
    rms_b = []
    for blk in range(16):
        xa = (np.sign(rng.standard_normal(B)) * (3e38 if 5 <= blk < 8 else 0.1)).astype(np.float32)
        eng.write(a, xa)
        eng.write(b, (rng.standard_normal(B) * 0.1).astype(np.float32))
        y = eng.render(B)
        assert np.all(np.isfinite(y))
        rms_b.append(float(np.sqrt(np.mean(y.astype(np.float64) ** 2))))
    assert min(rms_b[2:]) > 0.02, np.round(rms_b, 3)
