"""Real-time safety of the C audio path, measured from C hosts run with ``env -i``. Each
check is a property of the code, not of the CPU's speed:

(a) rendering while another thread of the same process (a host embedding Python) runs a
    busy Python loop (holding the GIL): the audio thread never takes the GIL and never waits on a lock (those calls are
    interposed and counted on the audio thread), and every block is rendered, finite;
(b) no heap allocation on the audio thread after warm-up (malloc-family calls interposed
    and counted per thread);
(c) sources created and destroyed from two game threads (a fixed number of operations,
    ~1000 per second each) while the audio thread renders: no crash, finite output, every
    slot recycled.
Per-block times the hosts print are figures; speed is measured by `make bench`.
"""
from __future__ import annotations

import sysconfig
from pathlib import Path

import pytest

pytestmark = [pytest.mark.c_api, pytest.mark.realtime]

CDIR = Path(__file__).resolve().parent / "c"


@pytest.fixture(scope="module")
def rt_hosts(c_host, default_model):
    inc = sysconfig.get_paths()["include"]
    libdir = sysconfig.get_config_var("LIBDIR")
    ver = sysconfig.get_config_var("LDVERSION") or sysconfig.get_python_version()
    return {
        "rt_gil": c_host(CDIR / "rt_gil.c", f"-I{inc}", f"-L{libdir}", f"-lpython{ver}",
                         f"-Wl,-rpath,{libdir}", "-rdynamic", "-ldl"),
        "rt_malloc": c_host(CDIR / "rt_malloc.c", "-rdynamic"),
        "rt_churn": c_host(CDIR / "rt_churn.c"),
    }


@pytest.fixture(scope="module")
def run_rt(run_host):
    def run(exe, *args, timeout=120):
        r = run_host([exe, *args], timeout=timeout)
        print(r.stdout)
        assert r.rc == 0, f"rc {r.rc}\n{r.log}"
        return r.kv
    return run


@pytest.mark.parametrize("workers", [[], ["--workers", "2"]], ids=["alone", "workers"])
def test_audio_thread_never_takes_the_gil_or_a_lock(rt_hosts, run_rt, workers):
    """(workers: two worker threads share the blocks: the hand-off takes no lock either.)"""
    k = run_rt(rt_hosts["rt_gil"], "3", *workers)
    assert k["PY_INITIALIZED"] == 1
    assert k["HOOK_CALLS"] > 0, "the GIL/lock hooks saw no call (not interposed?)"
    assert k["PY_BUSY_ITERS"] > 100, "the Python thread did not actually run"
    print(f"GIL-busy run: {int(k['BLOCKS'])} blocks, misses {int(k['MISSES'])}, "
          f"p50 {k['P50_MS']:.3f} ms, p99 {k['P99_MS']:.3f} ms, max {k['MAX_MS']:.3f} ms, "
          f"SCHED_FIFO {int(k['RT_PRIORITY'])}")
    assert k["AUDIO_GIL_CALLS"] == 0, "the audio thread took the GIL"
    assert k["AUDIO_LOCK_CALLS"] == 0, "the audio thread waited on a lock"
    assert k["RENDERED"] == k["BLOCKS"] and k["ERRORS"] == 0
    assert k["NONFINITE"] == 0 and k["ENERGY"] > 0


@pytest.mark.parametrize("lod", [[], ["--full-sources", "4"], ["--full-sources", "4", "--workers", "2"]],
                         ids=["full", "lod_bed", "lod_bed_workers"])
def test_no_heap_allocation_on_audio_thread(rt_hosts, run_rt, lod):
    """(lod_bed: 4 of the 16 sources on the full path, the others in the level of detail's
    bed, with the game thread's churn moving sources between tiers; lod_bed_workers: the
    same with two worker threads.)"""
    k = run_rt(rt_hosts["rt_malloc"], "400", *lod)
    assert k["PROBE_SEEN"] == 1, "the malloc hooks are not active"
    # create allocates the pools, the model buffer and the renderer (19 calls here)
    assert k["PROCESS_ALLOCS_UNTIL_CREATED"] >= 4, "hooks did not see the library's start-up"
    assert k["WRITE_CALLS"] == 400 * 16 and k["RENDER_CALLS"] == 400
    assert k["GAME_OPS"] > 50
    assert k["NONFINITE"] == 0
    for key in ("AUDIO_MALLOC", "AUDIO_CALLOC", "AUDIO_REALLOC", "AUDIO_FREE", "AUDIO_MEMALIGN"):
        assert k[key] == 0, f"{key} = {k[key]} on the audio thread"


def test_source_churn_from_game_threads(rt_hosts, run_rt):
    k = run_rt(rt_hosts["rt_churn"], "3000")
    print(f"churn: {k['CREATES'] + k['DESTROYS']:.0f} creates+destroys in {k['SECONDS']:.1f} s, "
          f"{k['BLOCKS_BOTH_RACING']:.0f} blocks rendered while both game threads ran")
    # a quarter of the 6000 operations are creates; most find a free slot
    assert k["CREATES"] >= 0.1 * k["OPS"]
    # the churn overlapped rendering (each game thread sleeps >= 1 ms per operation: >= 3 s)
    assert k["BLOCKS_BOTH_RACING"] >= 10
    assert k["NONFINITE"] == 0 and k["PEAK"] > 0
    assert k["OTHER_ERRORS"] == 0
    assert k["CREATES"] == k["DESTROYS"], "every created source must be destroyed exactly once"
    assert k["DESTROY_STALE"] > 0
    assert k["SLOTS_FREE_AFTER"] == 32
