"""Real-time safety of the C audio path, measured from C hosts run with ``env -i``:

(a) rendering while another thread of the same process (a host embedding Python) runs a
    busy Python loop holding the GIL: zero deadline misses; (b) no heap allocation on the audio thread after warm-up
    (malloc-family calls interposed and counted per thread); (c) sources created and
    destroyed from two game threads hundreds of times per second while the audio thread
    renders: no crash, finite output, every slot recycled.
"""
from __future__ import annotations

import sysconfig

import pytest

from test_c_api import CDIR, build_host, corrector_args, ensure_lib, parse_kv, run_host


@pytest.fixture(scope="module")
def rt_hosts(tmp_path_factory):
    ensure_lib()
    d = tmp_path_factory.mktemp("rt_hosts")
    inc = sysconfig.get_paths()["include"]
    libdir = sysconfig.get_config_var("LIBDIR")
    ver = sysconfig.get_config_var("LDVERSION") or sysconfig.get_python_version()
    return {
        "rt_gil": build_host(CDIR / "rt_gil.c", d / "rt_gil",
                             [f"-I{inc}", f"-L{libdir}", f"-lpython{ver}", f"-Wl,-rpath,{libdir}"]),
        "rt_malloc": build_host(CDIR / "rt_malloc.c", d / "rt_malloc", ["-rdynamic"]),
        "rt_churn": build_host(CDIR / "rt_churn.c", d / "rt_churn"),
    }


def _run(exe, *args, timeout=120):
    r = run_host([exe, *args, *corrector_args()], timeout=timeout)
    print(r.stdout)
    assert r.returncode == 0, f"rc {r.returncode}\n{r.stdout}\n{r.stderr}"
    return parse_kv(r.stdout)


def test_render_unaffected_by_busy_python_thread(rt_hosts):
    k = _run(rt_hosts["rt_gil"], "3")
    assert k["PY_INITIALIZED"] == 1
    assert k["PY_BUSY_ITERS"] > 100, "the Python thread did not actually run"
    assert k["ERRORS"] == 0 and k["NONFINITE"] == 0 and k["ENERGY"] > 0
    print(f"GIL-busy run: {int(k['BLOCKS'])} blocks, misses {int(k['MISSES'])}, "
          f"p50 {k['P50_MS']:.3f} ms, p99 {k['P99_MS']:.3f} ms, max {k['MAX_MS']:.3f} ms, "
          f"SCHED_FIFO {int(k['RT_PRIORITY'])}")
    assert k["MISSES"] == 0


def test_no_heap_allocation_on_audio_thread(rt_hosts):
    k = _run(rt_hosts["rt_malloc"], "400")
    assert k["PROBE_SEEN"] == 1, "the malloc hooks are not active"
    # create allocates the pools, the model buffer and the renderer (19 calls here)
    assert k["PROCESS_ALLOCS_UNTIL_CREATED"] >= 4, "hooks did not see the library's start-up"
    assert k["WRITE_CALLS"] == 400 * 16 and k["RENDER_CALLS"] == 400
    assert k["GAME_OPS"] > 50
    assert k["NONFINITE"] == 0
    for key in ("AUDIO_MALLOC", "AUDIO_CALLOC", "AUDIO_REALLOC", "AUDIO_FREE", "AUDIO_MEMALIGN"):
        assert k[key] == 0, f"{key} = {k[key]} on the audio thread"


def test_source_churn_from_game_threads(rt_hosts):
    k = _run(rt_hosts["rt_churn"], "3")
    rate = (k["CREATES"] + k["DESTROYS"]) / k["SECONDS"]
    print(f"churn: {rate:.0f} creates+destroys per second")
    assert rate > 200
    assert k["NONFINITE"] == 0 and k["PEAK"] > 0
    assert k["OTHER_ERRORS"] == 0
    assert k["CREATES"] == k["DESTROYS"], "every created source must be destroyed exactly once"
    assert k["DESTROY_STALE"] > 0
    assert k["SLOTS_FREE_AFTER"] == 32
