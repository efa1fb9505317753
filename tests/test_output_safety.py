"""Output safety: the output is always finite, denormals are flushed inside the audio path, one bad
source is muted and reported while the others keep playing.

Measured with the Python :class:`spatialmw.engine.Engine`, which runs the very kernels
(``render_core`` / ``write_core``) the C library calls through its @cfunc entry points, so
timings and behaviour carry over to ``smw_render`` / ``smw_source_write``.
"""
from __future__ import annotations

import numpy as np
import pytest
from numba import njit

from spatialmw.engine import Engine
from spatialmw.kernels.fpu import MXCSR_DAZ, MXCSR_FTZ, get_mxcsr, set_mxcsr

B = 512
SR = 48000


@pytest.fixture(scope="module")
def model(small_model_path):
    return small_model_path


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


FLT_MIN = np.finfo(np.float32).tiny  # smallest normal float32


def _is_denormal(y):
    a = np.abs(np.asarray(y, dtype=np.float32))
    return (a > 0) & (a < FLT_MIN)


@njit
def _mxcsr():
    return get_mxcsr()


@njit
def _load_mxcsr(word):
    set_mxcsr(word)


def _render_kind(model, kind, ibc, n_blocks=24, n_src=4):
    eng, hs = _engine(model, n_src, ibc)
    x = _signal(kind, n_blocks, np.random.default_rng(0))
    outs = []
    for b in range(n_blocks):
        for h in hs:
            eng.write(h, x[b])
        outs.append(eng.render(B))
    return np.concatenate(outs)


@pytest.mark.parametrize("ibc", [True, False], ids=["liteinn", "tdw"])
def test_denormals_are_flushed_inside_the_audio_path(model, ibc):
    """Flush-to-zero and denormals-are-zero hold for the whole render (so no CPU, Intel or
    AMD, ever computes on a denormal there): denormal input reads as exact zero, and
    decaying input never produces a denormal output sample. What that saves in time is
    measured by `make bench` (denormal / normal input ratio), not here."""
    den = _render_kind(model, "denormal", ibc)
    assert np.all(den == 0.0)
    decay = _render_kind(model, "decay", ibc)
    assert np.all(np.isfinite(decay))
    assert not np.any(_is_denormal(decay))
    assert np.max(np.abs(decay)) > 1e-3          # the signal itself still plays
    normal = _render_kind(model, "normal", ibc)
    assert np.max(np.abs(normal)) > 1e-3


def test_caller_fpu_control_word_is_restored(model):
    """The caller's MXCSR (here: round-toward-zero, and FTZ/DAZ off) is what it finds after
    every write and render, as OpenAL Soft's FPU control guarantees."""
    eng, hs = _engine(model, 2, True)
    saved = _mxcsr()
    try:
        caller = (saved & ~(MXCSR_FTZ | MXCSR_DAZ)) | 0x6000   # rounding control = toward zero
        _load_mxcsr(caller)
        for _ in range(3):
            for h in hs:
                eng.write(h, np.full(B, 1e-40, np.float32))
                assert _mxcsr() & ~0x3F == caller & ~0x3F       # exception flags (bits 0-5) aside
            eng.render(B)
            assert _mxcsr() & ~0x3F == caller & ~0x3F
    finally:
        _load_mxcsr(saved)


def test_c_api_restores_the_caller_fpu_control_word(tmp_path, c_host, run_host):
    """Through the C library: smw_source_write and smw_render leave the host's MXCSR as it was
    and flush denormal input to exact silence."""
    src = tmp_path / "fpu.c"
    src.write_text(FPU_HOST)
    r = run_host([str(c_host(src))], timeout=300)
    assert r.rc == 0, r.log
    assert "fpu ok" in r.stdout


FPU_HOST = r"""
#include <stdio.h>
#include <xmmintrin.h>
#include "spatialmw.h"
int main(void) {
    smw_renderer_settings s = smw_renderer_settings_default();
    s.max_block_frames = 512;
    smw_renderer* r = NULL;
    if (smw_renderer_create(&s, &r)) { printf("create: %s\n", smw_last_error(NULL)); return 1; }
    smw_source src; smw_source_create(r, &src);
    smw_source_set_pose(r, src, (float[3]){0, 2, 0}, (float[4]){0, 0, 0, 1});
    float in[512], out[1024];
    for (int i = 0; i < 512; ++i) in[i] = (i & 1) ? 1e-40f : -1e-40f;
    unsigned caller = (_mm_getcsr() & ~0x8040u) | 0x6000u;   /* FTZ/DAZ off, round toward zero */
    _mm_setcsr(caller);
    for (int b = 0; b < 8; ++b) {
        if (smw_source_write(r, src, in, 512)) return 2;
        if ((_mm_getcsr() & ~0x3Fu) != (caller & ~0x3Fu)) { printf("write changed MXCSR\n"); return 3; }
        if (smw_render(r, out, 512)) return 4;
        if ((_mm_getcsr() & ~0x3Fu) != (caller & ~0x3Fu)) { printf("render changed MXCSR\n"); return 5; }
        for (int i = 0; i < 1024; ++i) if (out[i] != 0.0f) { printf("denormal input not flushed\n"); return 6; }
    }
    smw_renderer_destroy(r);
    printf("fpu ok\n");
    return 0;
}
"""


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
