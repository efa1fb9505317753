"""What games play: tones, impulses, start offsets and moving sources, each rendered through
every system's real path (the Engine for Lite-INN and TDW only, OpenAL Soft's mixer, the
reference renderer), 48 kHz, 512-frame blocks, distance model none.

Each measurement is one function ``f(setup) -> {system: {key: value}}`` (``setup`` holds
the systems, see :mod:`.run`) and one entry in :data:`MEASUREMENTS`; :data:`LABELS` names
the table row of each key. Adding a row (e.g. Doppler, teleports): write the function,
register it, label its keys; ``run_eval`` runs it as one task and ``format_table`` prints
it. Definitions: docs/EVALUATION.md.
"""
from __future__ import annotations

import numpy as np

from .. import metrics as M
from .protocol import SR

GAME_SYSTEMS = ("liteinn", "tdw", "openal_soft", "reference")
FRONT_2M = np.array([2.0, 0.0, 0.0])
LEFT_2M = np.array([0.0, 2.0, 0.0])
THD_FREQS = (50, 100, 1000, 4000)
TONE_AMPLITUDE = 0.5
SETTLE = 12000            # samples (0.25 s) before a steady-state segment starts
THD_SEGMENT = 1 << 15     # samples analysed (0.68 s; 1.46 Hz bins)
OFFSET_SAMPLES = 97       # leading silence of the second start-offset rendering
OFFSET_SECONDS = 1.0
PATH_RADIUS = 1.4
FRAME = 960               # 20 ms analysis frames of the moving-source comparison
SKIP_FRAMES = 5           # the first 100 ms (delay lines filling) are not scored
PRE_ECHO_AT = 1000        # input sample of the impulse (not on a block or hop boundary)
PRE_ECHO_SPAN = (128, 1024)  # samples kept before / after HRIR time 0


def _systems(setup):
    return {k: setup.game_system(k) for k in GAME_SYSTEMS if setup.game_system(k) is not None}


def _still(pos, n):
    return np.broadcast_to(np.asarray(pos, dtype=np.float64), (n, 3))


def _tone(f0, n):
    return TONE_AMPLITUDE * np.sin(2 * np.pi * f0 * np.arange(n) / SR)


def pink_noise(seconds: float, seed: int = 7) -> np.ndarray:
    """Pink noise (sigma 0.25) as scenes generate it (``"noise:pink"``)."""
    from ..scene import _load_signal
    n = int(round(seconds * SR))
    return _load_signal({"noise": "pink", "seed": seed}, SR, n, None).astype(np.float64)


def thdn(setup) -> dict:
    """THD+N per ear (``metrics.thd_n_db``) of a steady tone, source 2 m in front."""
    n = SETTLE + THD_SEGMENT
    out = {}
    for name, s in _systems(setup).items():
        row = {}
        for f0 in THD_FREQS:
            y = s.render_path(_tone(f0, n + 2048), _still(FRONT_2M, n + 2048))[SETTLE:n]
            row[f"thdn_{f0}hz_db"] = [M.thd_n_db(y[:, e], SR, f0) for e in range(2)]
        out[name] = row
    return out


def start_offset(setup) -> dict:
    """The same pink noise rendered from sample 0 and after OFFSET_SAMPLES of silence,
    aligned: 10 log10(energy of the difference / energy of the first), both ears, on
    the samples from SETTLE to the end less one block."""
    x = pink_noise(OFFSET_SECONDS)
    n = x.size
    out = {}
    for name, s in _systems(setup).items():
        a = s.render_path(x, _still(FRONT_2M, n))
        b = s.render_path(np.concatenate([np.zeros(OFFSET_SAMPLES), x]),
                          _still(FRONT_2M, n + OFFSET_SAMPLES))[OFFSET_SAMPLES:]
        sl = slice(SETTLE, n - 512)
        err = np.sum((b[sl] - a[sl]) ** 2) / max(np.sum(a[sl] ** 2), 1e-30)
        out[name] = {"start_offset_db": float(10 * np.log10(max(err, 1e-30)))}
    return out


def _levels(s, f0, pos, bypass=False):
    n = SETTLE + THD_SEGMENT
    x, p = _tone(f0, n + 2048), _still(pos, n + 2048)
    y = s.render_path(x, p, spatialize=False) if bypass else s.render_path(x, p)
    return np.array([M.tone_amplitude(y[SETTLE:n, e], SR, f0) for e in range(2)])


def low_frequency(setup) -> dict:
    """Per-ear tone level at 50 and 100 Hz, source 2 m in front, in dB relative to
    spatialisation off (the engine's bypass; for systems without one, the input tone);
    ILD (dB, left over right) at 50 Hz of a source 2 m to the left (90 degrees)."""
    out = {}
    for name, s in _systems(setup).items():
        row = {}
        for f0 in (50, 100):
            ref = _levels(s, f0, FRONT_2M, bypass=True) if s.has_bypass \
                else np.full(2, TONE_AMPLITUDE)
            row[f"lf_level_{f0}hz_db"] = list(20 * np.log10(_levels(s, f0, FRONT_2M) / ref))
        a = _levels(s, 50, LEFT_2M)
        row["ild_50hz_90deg_db"] = float(20 * np.log10(a[0] / a[1]))
        out[name] = row
    return out


def circle(plane: str, rev_s: float, seconds: float) -> np.ndarray:
    """(n, 3) per-sample positions on a PATH_RADIUS circle: horizontal (counter-clockwise
    seen from above, starting in front) or vertical (the median plane: front, up, back,
    down)."""
    ph = 2 * np.pi * rev_s * np.arange(int(round(seconds * SR))) / SR
    c, s = PATH_RADIUS * np.cos(ph), PATH_RADIUS * np.sin(ph)
    z = np.zeros_like(ph)
    return np.stack([c, s, z] if plane == "horizontal" else [c, z, s], axis=1)


def _summary(v):
    v = np.asarray(v, dtype=np.float64)[SKIP_FRAMES:]
    v = v[np.isfinite(v)]
    if v.size == 0:
        return {"median": float("nan"), "p95": float("nan")}
    return {"median": float(np.median(v)), "p95": float(np.percentile(v, 95))}


def moving(plane: str, rev_s: float, seconds: float):
    """A measurement: pink noise on :func:`circle`, every system against the reference
    renderer, per 20 ms frame (:func:`metrics.frame_differences`): median and p95 of the
    ILD, ITD and third-octave differences; on the vertical circle also each system's own
    |ITD| (median plane: 0 expected)."""
    tag = f"{plane}_{rev_s:g}rps".replace(".", "p")

    def measure(setup) -> dict:
        pos = circle(plane, rev_s, seconds)
        x = pink_noise(seconds, seed=11)
        systems = _systems(setup)
        ref = systems["reference"].render_path(x, pos)
        out = {}
        for name, s in systems.items():
            y = ref if name == "reference" else s.render_path(x, pos)
            row = {}
            if name != "reference":
                d = M.frame_differences(y, ref, SR, FRAME)
                for k, v in d.items():
                    row[f"moving_{tag}_{k}"] = _summary(v)
            if plane == "vertical":
                frames = y[:(len(y) // FRAME) * FRAME].reshape(-1, FRAME, 2)
                row["median_plane_itd_us"] = _summary([abs(M.itd_us(f[:, 0], f[:, 1], SR)) for f in frames])
            out[name] = row
        return out

    measure.__name__ = f"moving_{tag}"
    return measure


def pre_echo(system, setup, idx: int) -> float:
    """Pre-echo (dB) at held-out direction ``idx``: an impulse rendered by ``system``,
    in the measured HRIR's time frame; per ear :func:`metrics.pre_echo_db` in 0.25-1.3 ms
    before that ear's measured onset (:func:`metrics.onset_index`, -20 dB); the worse ear."""
    pre, post = PRE_ECHO_SPAN
    x = np.zeros(PRE_ECHO_AT + setup.d0 + post + 1)
    x[PRE_ECHO_AT] = 1.0
    y = system.render(x, idx)
    t0 = PRE_ECHO_AT + setup.d0
    ir = y[t0 - pre:t0 + post].T
    h = setup.hset.hrirs[int(idx)]
    return max(M.pre_echo_db(ir[e], M.onset_index(h[e]) + pre, SR) for e in range(2))


MEASUREMENTS = {
    "thdn": thdn,
    "start_offset": start_offset,
    "low_frequency": low_frequency,
    "moving_horizontal_0p25": moving("horizontal", 0.25, 4.0),
    "moving_horizontal_1": moving("horizontal", 1.0, 2.0),
    "moving_horizontal_4": moving("horizontal", 4.0, 2.0),
    "moving_vertical_1": moving("vertical", 1.0, 2.0),
}


def _moving_labels():
    out = {}
    for tag, what in (("horizontal_0p25rps", "horizontal 0.25 rev/s"), ("horizontal_1rps", "horizontal 1 rev/s"),
                      ("horizontal_4rps", "horizontal 4 rev/s"), ("vertical_1rps", "vertical 1 rev/s")):
        for k, unit in (("ild_db", "ILD diff dB"), ("itd_us", "ITD diff µs"), ("third_octave_db", "1/3-oct diff dB")):
            out[f"moving_{tag}_{k}"] = (f"moving {what}: {unit} (median / p95)", "{:.2f}")
    return out


# key -> (table label, format); lists print as "left / right", {median, p95} as "median / p95"
LABELS = {
    **{f"thdn_{f}hz_db": (f"THD+N {f} Hz dB (L / R)", "{:.1f}") for f in THD_FREQS},
    "start_offset_db": ("start-offset difference dB (0 vs 97 samples)", "{:.1f}"),
    "pre_echo_median_db": ("pre-echo dB, median of held-out directions", "{:.1f}"),
    "pre_echo_worst_db": ("pre-echo dB, worst held-out direction", "{:.1f}"),
    "lf_level_50hz_db": ("level at 50 Hz vs bypass dB (L / R)", "{:.2f}"),
    "lf_level_100hz_db": ("level at 100 Hz vs bypass dB (L / R)", "{:.2f}"),
    "ild_50hz_90deg_db": ("ILD at 50 Hz, source at 90° dB", "{:.2f}"),
    **_moving_labels(),
    "median_plane_itd_us": ("median-plane |ITD| µs (vertical circle, median / p95)", "{:.1f}"),
}
