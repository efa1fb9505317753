"""The C <-> Python contract. ``bindings/smw_contract.h`` is generated from the Python
modules (it must be fresh, and the shim must keep no copy of what it holds), and the
limits and defaults of ``spatialmw/defaults.py`` hold alike in both front ends: the
Python ``Engine`` and the shipped C library (driven through ``spatialmw.native``).
"""
from __future__ import annotations

import re
import sys

import numpy as np
import pytest

from spatialmw import defaults as D
from spatialmw.engine import Engine, EngineError
from spatialmw.geometry import GeometryError
from spatialmw.kernels import layout as L
from tests.helpers import LIB, ROOT, ensure_lib

sys.path.insert(0, str(ROOT / "bindings"))
import gen_contract  # noqa: E402

INVALID_ARGUMENT = 1   # smw_result SMW_ERROR_INVALID_ARGUMENT


def _code(text: str) -> str:
    """C source without its comments."""
    return re.sub(r"/\*.*?\*/|//[^\n]*", "", text, flags=re.S)


# ------------------------------------------------------------------ the generated header
def test_generated_contract_header_is_fresh():
    assert gen_contract.OUT.read_text() == gen_contract.render(), \
        "bindings/smw_contract.h is stale: run `python bindings/gen_contract.py` and commit it"


def test_shim_keeps_no_copy_of_the_contract():
    """shim.c includes the generated header and defines none of its names itself, nor
    spells out the limits and defaults it holds as literals."""
    header = gen_contract.render()
    names = (set(re.findall(r"^ {4}([A-Z][A-Z0-9_]*) = -?\d+,$", header, re.M))
             | set(re.findall(r"^#define (\w+)", header, re.M))
             | set(re.findall(r"^static const [\w* ]*?(\w+)\[", header, re.M)))
    assert {"S_LEN", "H_SRC_PARAM", "PARAM_STRIDE", "P_VEL", "coord_m", "SMW_MAX_GAIN",
            "SMW_SOURCE_PARAM_DEFAULTS", "model_check_text", "ASSET_MAGIC"} <= names
    shim = _code((ROOT / "bindings" / "shim.c").read_text())
    assert '#include "smw_contract.h"' in shim
    redefined = sorted(n for n in names
                       if re.search(rf"\b{n}\s*=\s*[-\d({{]|#define\s+{n}\b|\b{n}\s*\[[^\]]*\]\s*=", shim))
    assert not redefined, f"shim.c restates {redefined}"
    from spatialmw.geometry import MIN_QUATERNION_NORM
    numbers = {*D.SAMPLE_RATES, D.MAX_SOURCES_LIMIT, D.MAX_BLOCK_LIMIT, D.SPEED_OF_SOUND, D.SPEED_OF_SOUND_MAX,
               D.MAX_POSITION_M, D.MAX_SPEED_M_S, D.MAX_GAIN, D.MAX_DISTANCE_M, D.MAX_ROLLOFF, MIN_QUATERNION_NORM}
    spelled = sorted({form for v in numbers for form in {f"{float(v):g}", gen_contract._text(v), repr(float(v))}
                      if re.search(rf"(?<![\w.]){re.escape(form)}(?![\w.])", shim)})
    assert not spelled, f"shim.c spells out {spelled} instead of naming them (smw_contract.h)"


def test_every_source_parameter_has_a_default():
    """A P_* added to layout.py needs its default in defaults.SOURCE_PARAMS; from there it
    reaches the Engine and the C initialiser SMW_SOURCE_PARAM_DEFAULTS."""
    fields = {k for k in vars(L) if k.startswith("P_")}
    assert set(D.SOURCE_PARAMS) == fields
    p = D.source_params()
    assert p.shape == (L.PARAM_STRIDE,)
    for name, value in D.SOURCE_PARAMS.items():
        i = getattr(L, name)
        np.testing.assert_array_equal(p[i:i + np.size(value)], value)
    header = gen_contract.render()
    c_init = header[header.index("SMW_SOURCE_PARAM_DEFAULTS[PARAM_STRIDE] = {"):]
    c_values = [float(x) for x in re.findall(r"^ {4}([-\d.e+]+),", c_init[:c_init.index("};")], re.M)]
    assert c_values == p.tolist()


def test_public_header_states_the_limits():
    """The limits as include/spatialmw.h documents them to game programmers."""
    h = " ".join(re.sub(r"\n\s*\*", " ", (ROOT / "include" / "spatialmw.h").read_text()).split())
    rates = ", ".join(map(str, D.SAMPLE_RATES[:-1])) + f" or {D.SAMPLE_RATES[-1]} Hz"
    t = gen_contract._text
    for phrase in (rates, f"(1..{D.MAX_SOURCES_LIMIT})", f"farther than {t(D.MAX_POSITION_M)} m from the origin",
                   f"speed exceeds {t(D.MAX_SPEED_M_S)} m/s", f"finite and in [0, {t(D.MAX_GAIN)}]",
                   f"<= max_distance <= {t(D.MAX_DISTANCE_M)} m", f"0 <= rolloff <= {t(D.MAX_ROLLOFF)}",
                   f"{t(D.TABLE_STEP_MIN_DEG)}..{t(D.TABLE_STEP_MAX_DEG)} degrees",
                   f"{t(D.SPEED_OF_SOUND_MIN)}..{t(D.SPEED_OF_SOUND_MAX)}: propagation delay",
                   f"0..{D.MAX_SOURCES_LIMIT}; 0 = no limit", f"0..{t(D.LOD_HYSTERESIS_MAX_DB)} dB",
                   f"priority, 0..{t(D.MAX_PRIORITY)} (default {t(D.SOURCE_PRIORITY)})",
                   f"0..{D.WORKER_THREADS_MAX}; 0 = none",
                   f"max({D.SPARE_SLOTS_MIN}, max_sources / {D.SPARE_SLOTS_DIVISOR}) slots more"):
        assert phrase in h, phrase


# ------------------------------------------------------------------ both front ends
@pytest.fixture(scope="module")
def native():
    from spatialmw.native import Renderer
    ensure_lib()
    with Renderer(max_sources=8, max_block=512, corrector=False, lib=LIB) as r:
        yield r


@pytest.fixture(scope="module")
def engine():
    return Engine(max_sources=8, max_block=512, ibc=False)


def _refused(front, call):
    """True if ``call`` is refused as an invalid argument by this front end."""
    from spatialmw.native import NativeError
    try:
        call()
    except NativeError as e:
        assert front == "native" and e.code == INVALID_ARGUMENT, e
        return True
    except (EngineError, GeometryError):
        assert front == "engine"
        return True
    return False


@pytest.mark.parametrize("corrector", [False, True])
def test_new_source_starts_at_the_origin_in_both_front_ends(corrector):
    """A source whose pose is never set renders the same samples through the Engine and
    the C library: both start it at the origin (the Engine used to start it 1 m ahead).
    There it has no direction and is rendered straight ahead: without the corrector both
    ears get the same signal."""
    from spatialmw.native import Renderer
    ensure_lib()
    block = 512
    x = (np.random.default_rng(5).standard_normal(block * 10) * 0.2).astype(np.float32)
    eng = Engine(max_sources=2, max_block=block, ibc=corrector)
    with Renderer(max_sources=2, max_block=block, corrector=corrector, lib=LIB) as nat:
        se, sn = eng.add_source(), nat.add_source()
        y_e, y_n = [], []
        for i in range(0, x.size, block):
            eng.write(se, x[i:i + block])
            nat.write(sn, x[i:i + block])
            y_e.append(eng.render(block))
            y_n.append(nat.render(block))
    y_e, y_n = np.concatenate(y_e), np.concatenate(y_n)
    err = float(np.max(np.abs(y_e - y_n)))
    print(f"pose-less source, corrector {corrector}: Engine vs C max abs diff {err:.3g}, "
          f"peak {np.max(np.abs(y_e)):.3f}")
    assert np.sqrt(np.mean(y_e ** 2)) > 0.05
    assert err <= 1e-6
    if not corrector:
        np.testing.assert_allclose(y_e[:, 0], y_e[:, 1], rtol=0, atol=1e-6)


@pytest.mark.parametrize("front", ["engine", "native"])
def test_gain_and_distance_limits_are_the_same_in_both_front_ends(front, engine, native):
    r = engine if front == "engine" else native
    for kw in ({"gain": D.MAX_GAIN}, {"max_distance": D.MAX_DISTANCE_M}, {"rolloff": D.MAX_ROLLOFF},
               {"gain": 0.0, "rolloff": 0.0}):
        r.remove_source(r.add_source(**kw))
        r.render(512)   # the C library recycles destroyed slots here
    for kw in ({"gain": D.MAX_GAIN * 1.01}, {"gain": -0.5}, {"max_distance": D.MAX_DISTANCE_M * 1.01},
               {"rolloff": D.MAX_ROLLOFF * 1.01}, {"min_distance": 0.0}, {"min_distance": 2.0, "max_distance": 1.0},
               {"gain": float("nan")}):
        assert _refused(front, lambda: r.add_source(**kw)), f"{front} accepted {kw}"
        r.render(512)   # (add_source destroys a refused source again)


# (7e5, 7e5, 0) is 9.9e5 from the origin; (8e5, 8e5, 0) is 1.13e6, though no component
# reaches 1e6 (the Engine used to check the largest component)
INSIDE, OUTSIDE, ON_AXIS = (7.0e5, 7.0e5, 0.0), (8.0e5, 8.0e5, 0.0), (D.MAX_POSITION_M, 0.0, 0.0)


@pytest.mark.parametrize("front", ["engine", "native"])
def test_positions_and_velocities_are_limited_by_their_norm_in_both_front_ends(front, engine, native):
    r = engine if front == "engine" else native
    src = r.add_source()
    setters = {"listener pose": r.set_listener_pose, "source pose": lambda v: r.set_source_pose(src, v),
               "listener velocity": r.set_listener_velocity,
               "source velocity": lambda v: r.set_source_velocity(src, v)}
    assert D.MAX_SPEED_M_S == D.MAX_POSITION_M   # the same vectors test both
    for what, set_ in setters.items():
        for v in (INSIDE, ON_AXIS, (-7.0e5, 0.0, 7.0e5)):
            set_(v)
        for v in (OUTSIDE, (0.0, -8.0e5, 8.0e5), (6.0e5, 6.0e5, 6.0e5)):
            assert _refused(front, lambda: set_(v)), f"{front} accepted {what} {v}"
    r.remove_source(src)
    r.set_listener_pose((0.0, 0.0, 0.0))
    r.render(512)
