"""Worker threads (``smw_renderer_settings.worker_threads``) through the real C library: the
output does not depend on the worker count, bad counts are refused, idle workers do not
keep a renderer from being destroyed, and a 0.4 settings struct (without the field) is
still accepted."""
from __future__ import annotations

import subprocess
from pathlib import Path
import sys
import textwrap

import numpy as np
import pytest

from spatialmw import defaults as D
from spatialmw.native import NativeError, Renderer

pytestmark = pytest.mark.c_api

BLOCK = 512
BLOCKS = 40
N_SOURCES = 64
SMW_ERROR_INVALID_ARGUMENT = 1


def _scene(workers: int, corrector: bool, lib) -> np.ndarray:
    """64 sources circling at 1-30 m (the loudest 16 on the full path, the others in the
    level of detail's bed; corrector off: all on the warp), the reverb on and every source
    sending to it; source 5 is destroyed at block 12 and a new one created at block 20;
    sources 3 and 40 teleport at blocks 15 and 25. Returns the whole output."""
    rng = np.random.default_rng(7)
    r = Renderer(max_sources=N_SOURCES + 1, max_block=BLOCK, corrector=corrector, full_sources=16,
                 worker_threads=workers, lib=lib)
    r.set_reverb(decay_time=1.2, wet_gain=0.5)
    srcs = [r.add_source() for _ in range(N_SOURCES)]
    for s in srcs:
        r.set_source_reverb_send(s, 0.3)
    radius = rng.uniform(1.0, 30.0, N_SOURCES)
    speed = rng.uniform(0.2, 3.0, N_SOURCES)  # rad/s
    phase = rng.uniform(0.0, 2 * np.pi, N_SOURCES)
    height = rng.uniform(-2.0, 2.0, N_SOURCES)
    signal = rng.standard_normal((N_SOURCES + 1, BLOCKS * BLOCK)).astype(np.float32) * 0.1
    out = []
    late = None
    for b in range(BLOCKS):
        t = b * BLOCK / 48000.0
        for i, s in enumerate(srcs):
            if s is None:
                continue
            a = phase[i] + speed[i] * t
            jump = 0.0
            if (i == 3 and b >= 15) or (i == 40 and b >= 25):
                jump = 6.0
                if b in (15, 25):
                    r.teleport_source(s)
            r.set_source_pose(s, (radius[i] * np.cos(a) + jump, radius[i] * np.sin(a), height[i]))
            r.write(s, signal[i, b * BLOCK:(b + 1) * BLOCK])
        if b == 12:
            r.remove_source(srcs[5])
            srcs[5] = None
        if b == 20:
            late = r.add_source()
        if late is not None:
            r.set_source_pose(late, (2.0, -1.0, 0.5))
            r.write(late, signal[N_SOURCES, b * BLOCK:(b + 1) * BLOCK])
        out.append(r.render(BLOCK))
    r.close()
    return np.concatenate(out)


@pytest.mark.parametrize("corrector", [True, False], ids=["corrector", "warp_only"])
def test_output_does_not_depend_on_worker_threads(smw_lib, corrector):
    """Bit-identical output with 0, 1 and 3 workers (chunks add into their own
    accumulators, summed in chunk order), and the scene is not silent."""
    y0 = _scene(0, corrector, smw_lib)
    assert np.sqrt(np.mean(y0[BLOCK * 4:] ** 2)) > 1e-3
    for workers in (1, 3):
        y = _scene(workers, corrector, smw_lib)
        assert np.array_equal(y, y0), (workers, float(np.max(np.abs(y - y0))))


def _lone_source(slots: int, workers: int, corrector: bool, lib) -> np.ndarray:
    """One moving source with a reverb send in the LAST of ``slots`` slots (the others
    created and destroyed at once), rendered for 20 blocks."""
    rng = np.random.default_rng(3)
    x = rng.standard_normal(20 * BLOCK).astype(np.float32) * 0.1
    r = Renderer(max_sources=slots, max_block=BLOCK, corrector=corrector, worker_threads=workers, lib=lib)
    r.set_reverb(decay_time=1.0, wet_gain=0.5)
    srcs = [r.add_source() for _ in range(slots)]
    s = srcs[-1]
    assert (s & 0xFFFF) - 1 == slots - 1   # the handle's slot
    for other in srcs[:-1]:
        r.remove_source(other)
    r.set_source_reverb_send(s, 0.3)
    out = []
    for b in range(20):
        a = 0.3 * b
        r.set_source_pose(s, (3.0 * np.cos(a), 3.0 * np.sin(a), 0.5))
        r.write(s, x[b * BLOCK:(b + 1) * BLOCK])
        out.append(r.render(BLOCK))
    r.close()
    return np.concatenate(out)


@pytest.mark.parametrize("workers", [0, 3])
@pytest.mark.parametrize("corrector", [True, False], ids=["corrector", "warp_only"])
def test_the_last_chunk_is_heard_as_a_lone_source(smw_lib, workers, corrector):
    """A source in the last of 64 slots goes through the last chunk's own accumulators
    (bed, shared staging, reverb input) and the reduction: it renders exactly as the only
    slot of a one-slot renderer, which has a single chunk and nothing to reduce."""
    alone = _lone_source(1, 0, corrector, smw_lib)
    assert np.sqrt(np.mean(alone ** 2)) > 1e-3
    assert np.array_equal(_lone_source(64, workers, corrector, smw_lib), alone)


@pytest.mark.parametrize("workers", [-1, D.WORKER_THREADS_MAX + 1])
def test_bad_worker_threads_are_refused(smw_lib, workers):
    with pytest.raises(NativeError) as e:
        Renderer(max_sources=4, worker_threads=workers, lib=smw_lib)
    assert e.value.code == SMW_ERROR_INVALID_ARGUMENT
    assert f"worker_threads must be 0 (none) .. {D.WORKER_THREADS_MAX}" in str(e.value)


def test_engine_refuses_worker_threads():
    """The Python Engine renders on the calling thread: it says so instead of ignoring them."""
    from spatialmw.engine import Engine, EngineConfigError
    with pytest.raises(EngineConfigError, match="native.Renderer"):
        Engine(max_sources=2, ibc=False, worker_threads=2)


def test_settings_struct_of_0_4_is_accepted(smw_lib):
    """A 0.4 struct ends before worker_threads: whatever follows it in memory is not read."""
    r = Renderer(max_sources=2, corrector=False, lib=smw_lib)
    ffi, lib = r.ffi, r.lib
    r.close()
    s = ffi.new("smw_renderer_settings*", lib.smw_renderer_settings_default())
    s.enable_corrector = 0
    s.worker_threads = 99          # beyond the old struct: must be ignored
    s.size = (ffi.offsetof("smw_renderer_settings", "worker_threads") + 7) // 8 * 8  # 0.4's sizeof (it holds pointers)
    assert s.size < ffi.sizeof("smw_renderer_settings")
    out = ffi.new("smw_renderer**")
    assert lib.smw_renderer_create(s, out) == 0, ffi.string(lib.smw_last_error(ffi.NULL)).decode()
    lib.smw_renderer_destroy(out[0])


def test_destroy_with_idle_workers_returns(smw_lib):
    """Workers asleep on their futex (the renderer idle for a while) and workers still
    spinning (destroyed right after a block) are both stopped and joined."""
    code = textwrap.dedent(f"""
        import time
        import numpy as np
        from spatialmw.native import Renderer
        for pause in (0.0, 0.3):
            r = Renderer(max_sources=8, max_block=256, worker_threads=4, lib={str(smw_lib)!r})
            s = r.add_source()
            r.set_source_pose(s, (1.0, 1.0, 0.0))
            for _ in range(5):
                r.write(s, np.ones(256, np.float32))
                r.render(256)
            time.sleep(pause)
            r.close()
        print("closed")
    """)
    p = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert p.returncode == 0, p.stderr
    assert "closed" in p.stdout


def test_destroy_before_the_workers_first_run_returns(c_host, run_host):
    """A worker may first run only after destroy has told it to stop (a loaded machine may
    start it that late). The C host holds every thread the library starts until the
    library calls pthread_join, which destroy does after its stop signal: the workers must
    stop then, not wait for a block that never comes (destroy would never return)."""
    exe = c_host(Path(__file__).resolve().parent / "c" / "late_workers.c", "-rdynamic", "-ldl")
    try:
        r = run_host([exe, "3"], timeout=60)
    except subprocess.TimeoutExpired:
        pytest.fail("smw_renderer_destroy did not return: a late-starting worker kept it in pthread_join")
    assert r.rc == 0, r.log
    assert r.kv["DESTROYED"] == 1
    assert r.kv["LATE_STARTS"] == 2 * r.kv["ROUNDS"], "the workers were not held back until the join"
