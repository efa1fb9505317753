"""The benchmark entry point runs in a tiny configuration and writes valid results.

Never asserts speed: timings on shared CI machines mean nothing."""
import json
import math
import os

import pytest

from benchmarks.run import main
from spatialmw.defaults import FULL_SOURCES

pytestmark = [pytest.mark.c_api, pytest.mark.needs_openal, pytest.mark.slow]


def test_quick_benchmark_writes_valid_json(smw_lib, tmp_path):
    cores = os.sched_getaffinity(0)
    assert main(["--quick", "--sizes", "1,2", "--blocks", "3", "--out", str(tmp_path)]) == 0
    assert os.sched_getaffinity(0) == cores  # it pins itself to one core while measuring only
    data = json.loads((tmp_path / "bench.json").read_text())
    assert data["machine"]["pinned_cpu"] in cores
    assert 0.0 <= data["machine"]["busy_cores_start"] <= os.cpu_count()
    assert data["sample_rate"] == 48000 and data["block"] == 512
    assert data["sizes"] == [1, 2]
    assert data["systems"]["spatialmw_liteinn"]["via"] == "C API (libspatialmw.so)"  # not the fallback
    for key in ("spatialmw_liteinn", "spatialmw_features", "spatialmw_tdw", "spatialmw_python", "openal_soft"):
        pts = data["systems"][key]["points"]
        assert [p["n_sources"] for p in pts] == [1, 2]
        for p in pts:
            for field in ("median_ms", "p99_ms", "rtf", "per_source_us"):
                assert math.isfinite(p[field]) and p[field] > 0
    vv = data["virtual_voices"]["rows"]  # many sources, few audible: it runs, at any speed
    assert [(r["n_sources"], r["audible"], r["skipped"], r["far"]) for r in vv] == [
        (8, 8, False, False), (64, 8, False, False), (64, 8, True, False), (64, 8, True, True),
        (128, 128, False, False), (128, 128, False, False)]
    assert [r["full_sources"] for r in vv[4:]] == [FULL_SOURCES, 0]  # level of detail, full path only
    for r in vv:
        for part in ("block", "render", "openal_soft"):
            assert 0 < r[part]["mean_pct"] < math.inf and 0 < r[part]["p99_pct"] < math.inf
    assert all(math.isfinite(vv[k]["vs_real"]["block"]) for k in (1, 2, 3))
    sweep = data["block_time_vs_n"]  # block time against N: four curves, every N, finite
    assert set(sweep["curves"]) == {"full_path", "default_lod", "lod_virtual", "openal_soft"}
    assert [sweep["curves"][k]["full_sources"] for k in ("full_path", "default_lod")] == [0, FULL_SOURCES]
    for curve in sweep["curves"].values():
        assert [p["n_sources"] for p in curve["points"]] == sweep["sizes"] == [1, 4]
        for p in curve["points"]:
            assert 0 < p["median_pct"] < math.inf and 0 < p["p99_pct"] < math.inf
    assert [p["audible"] for p in sweep["curves"]["lod_virtual"]["points"]] == [1, 1]  # N = 4: 3 virtual
    cost = data["cost"]["per_source"]
    assert set(cost) == {"tdw", "stft", "ibc"}
    assert cost["ibc"]["params"] > 0 and cost["ibc"]["macs_per_s"] > 0
    md = (tmp_path / "bench.md").read_text()
    assert "| N |" in md and "Cost per source" in md
    assert "Block time against N" in md
    assert (tmp_path / "bench.png").stat().st_size > 0 and (tmp_path / "block_time_vs_n.png").stat().st_size > 0
