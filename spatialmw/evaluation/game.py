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

GAME_SYSTEMS = ("liteinn", "lod_bed", "tdw", "openal_soft", "reference")
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
    return _load_signal({"noise": "pink", "seed": seed}, False, SR, n, None).astype(np.float64)


def thdn(setup) -> dict:
    """THD+N per ear (``metrics.thd_n_db``) of a steady tone, source 2 m in front."""
    return {name: thdn_row(s, THD_FREQS) for name, s in _systems(setup).items()}


def thdn_row(system, freqs) -> dict:
    """{"thdn_<f0>hz_db": [left, right]} of ``system`` for each tone frequency in ``freqs``
    (the steady tone of :func:`thdn`)."""
    n = SETTLE + THD_SEGMENT
    row = {}
    for f0 in freqs:
        y = system.render_path(_tone(f0, n + 2048), _still(FRONT_2M, n + 2048))[SETTLE:n]
        row[f"thdn_{f0}hz_db"] = [M.thd_n_db(y[:, e], SR, f0) for e in range(2)]
    return row


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


DOPPLER_SPEED = 20.0      # m/s, the pass of the Doppler row: a 1 kHz tone, closest 3 m
DOPPLER_CLOSEST = 3.0
DOPPLER_TONE = 1000.0
DOPPLER_SECONDS = 3.0
DOPPLER_CASES = (("60hz", 60.0, 0.0, False), ("60hz_jitter_velocity", 60.0, 0.3, True),
                 ("30hz_jitter", 30.0, 0.3, False), ("144hz_jitter", 144.0, 0.3, False))


def path_tone(ibc: bool, position, velocity=None, rate_hz: float = 60.0, jitter: float = 0.0,
              seconds: float = DOPPLER_SECONDS, seed: int = 0):
    """(t, f): the instantaneous frequency (:func:`instantaneous_frequency`) of a
    DOPPLER_TONE moving along ``position(t)`` (metres, native), its poses set at
    ``rate_hz`` (+- ``jitter``, relative) as a game's thread sets them, from t = 0, and its
    velocity ``velocity(t)`` with each pose when given; rendered by the Engine in 512-frame
    blocks; ``t`` is the output time minus the latency (the reception time of an exact
    renderer: :func:`exact_pitch`)."""
    from ..engine import Engine
    rng = np.random.default_rng(seed)
    eng = Engine(SR, max_sources=1, max_block=512, ibc=ibc)
    h = eng.add_source(distance_model="none")
    blocks = int(seconds * SR) // 512
    times = [0.0]
    while times[-1] < seconds:
        times.append(times[-1] + (1.0 + jitter * rng.uniform(-1.0, 1.0)) / rate_hz)
    sig = (0.5 * np.sin(2 * np.pi * DOPPLER_TONE * np.arange(blocks * 512) / SR)).astype(np.float32)
    out, k = [], 0
    for b in range(blocks):
        while k < len(times) and times[k] <= b * 512 / SR:
            eng.set_source_pose(h, [float(v) for v in position(times[k])])
            if velocity is not None:
                eng.set_source_velocity(h, [float(v) for v in velocity(times[k])])
            k += 1
        eng.write(h, sig[b * 512:(b + 1) * 512])
        out.append(eng.render(512))
    f = instantaneous_frequency(np.concatenate(out))
    return (np.arange(f.size) + 0.5 - eng.latency_frames) / SR, f


def _pass_position(t):
    return -DOPPLER_SPEED * DOPPLER_SECONDS / 2 + DOPPLER_SPEED * t, DOPPLER_CLOSEST + 0.0 * t, 0.0 * t


def passing_tone(ibc: bool, rate_hz: float, jitter: float, velocity: bool, seed: int = 0):
    """:func:`path_tone` for a DOPPLER_TONE passing the listener at DOPPLER_SPEED (closest
    DOPPLER_CLOSEST, along +x at y = DOPPLER_CLOSEST), the velocity given when
    ``velocity``."""
    return path_tone(ibc, _pass_position, (lambda t: (DOPPLER_SPEED, 0.0, 0.0)) if velocity else None,
                     rate_hz, jitter, DOPPLER_SECONDS, seed)


def instantaneous_frequency(y):
    """The instantaneous frequency (Hz) of a stereo tone ``y`` (frames, 2): the mean of the
    ears' analytic-signal phase slopes, averaged over 4 ms; one value per sample step."""
    from scipy.signal import hilbert
    y = np.asarray(y, dtype=np.float64)
    phase = [np.unwrap(np.angle(hilbert(y[:, e]))) for e in range(2)]
    f = np.mean([np.diff(p) for p in phase], axis=0) * SR / (2 * np.pi)
    m = int(0.004 * SR)
    return np.convolve(f, np.ones(m) / m, mode="same")


def exact_pitch(position, t):
    """The exact (retarded-time) frequency of a DOPPLER_TONE moving along ``position``
    (:func:`path_tone`) at reception times ``t``: the emission time t_e solves
    t - t_e = |p(t_e)| / c (fixed point)."""
    from ..geometry import SPEED_OF_SOUND
    te = np.array(t, dtype=np.float64)
    for _ in range(40):
        x, y, z = position(te)
        te = t - np.sqrt(x * x + y * y + z * z) / SPEED_OF_SOUND
    return DOPPLER_TONE * np.gradient(te, t)


def doppler_curve(t):
    """:func:`exact_pitch` of :func:`passing_tone`'s pass."""
    return exact_pitch(_pass_position, t)


def doppler(setup) -> dict:
    """Pitch error (%, p99 and max over the pass from 0.8 s to 0.3 s before the end) of
    :func:`passing_tone` against :func:`doppler_curve`, per pose rate."""
    out = {}
    for name, ibc in (("liteinn", True), ("tdw", False)):
        row = {}
        for case, rate, jitter, velocity in DOPPLER_CASES:
            t, f = passing_tone(ibc, rate, jitter, velocity)
            sel = (t > 0.8) & (t < DOPPLER_SECONDS - 0.3)
            err = np.abs(f[sel] / doppler_curve(t[sel]) - 1.0) * 100.0
            row[f"doppler_{case}_pct"] = [float(np.percentile(err, 99)), float(err.max())]
        out[name] = row
    return out


ORBIT_RADIUS = 2.0         # m, the orbit row: DOPPLER_TONE circling the listener
ORBIT_REV_S = 1.0
ORBIT_POSE_HZ = 60.0
ORBIT_CASES = (("estimated", False, ORBIT_POSE_HZ), ("given", True, ORBIT_POSE_HZ),
               ("estimated_30hz", False, 30.0))  # (key, velocity given, pose rate Hz)
ORBIT_SECONDS = 3.0


def orbiting_tone(ibc: bool, rev_s: float, velocity: bool, radius: float = ORBIT_RADIUS,
                  rate_hz: float = ORBIT_POSE_HZ, seconds: float = ORBIT_SECONDS):
    """:func:`path_tone` for a DOPPLER_TONE circling the listener at ``radius`` and
    ``rev_s`` revolutions per second from t = 0, the velocity given when ``velocity``. At
    constant distance there is no Doppler: only the ears' own motion about the head moves
    the pitch (a omega / c at most)."""
    w = 2 * np.pi * rev_s
    return path_tone(ibc, lambda t: (radius * np.cos(w * t), radius * np.sin(w * t), 0.0 * t),
                     (lambda t: (-radius * w * np.sin(w * t), radius * w * np.cos(w * t), 0.0)) if velocity else None,
                     rate_hz, 0.0, seconds)


def orbit(setup) -> dict:
    """Pitch error (%, p99 and max from 0.1 s to 0.05 s before the end) of
    :func:`orbiting_tone` at ORBIT_REV_S against the tone itself, for each of ORBIT_CASES."""
    out = {}
    for name, ibc in (("liteinn", True), ("tdw", False)):
        row = {}
        for case, velocity, rate in ORBIT_CASES:
            t, f = orbiting_tone(ibc, ORBIT_REV_S, velocity, rate_hz=rate)
            err = np.abs(f[(t > 0.1) & (t < t[-1] - 0.05)] / DOPPLER_TONE - 1.0) * 100.0
            row[f"orbit_{case}_pct"] = [float(np.percentile(err, 99)), float(err.max())]
        out[name] = row
    return out


def teleport(setup) -> dict:
    """A noise source jumping from 2 m to 60 m in front between two blocks: the largest
    sample step around the jump relative to the largest before it, and how far (ms) the
    read position moved (a replay shows as the path difference, 170 ms)."""
    from ..engine import Engine
    out = {}
    rng = np.random.default_rng(3)
    x = (0.2 * rng.standard_normal(100 * 512)).astype(np.float32)
    for name, ibc in (("liteinn", True), ("tdw", False)):
        eng = Engine(SR, max_sources=1, max_block=512, ibc=ibc)
        h = eng.add_source(distance_model="none")
        eng.set_source_pose(h, [2.0, 0.0, 0.0])
        y = []
        for b in range(100):
            if b == 50:
                eng.set_source_pose(h, [60.0, 0.0, 0.0])
            eng.write(h, x[b * 512:(b + 1) * 512])
            y.append(eng.render(512))
        y = np.concatenate(y).astype(np.float64)
        steps = np.abs(np.diff(y[:, 0]))
        lags = [M.delay_samples(x, y[:, 0], at) for at in (45 * 512, 60 * 512)]
        out[name] = {"teleport_step_ratio": float(steps[48 * 512:56 * 512].max() / steps[:45 * 512].max()),
                     "teleport_read_jump_ms": float(abs(lags[1] - lags[0]) / SR * 1e3)}
    return out


MEASUREMENTS = {
    "thdn": thdn,
    "start_offset": start_offset,
    "low_frequency": low_frequency,
    "moving_horizontal_0p25": moving("horizontal", 0.25, 4.0),
    "moving_horizontal_1": moving("horizontal", 1.0, 2.0),
    "moving_horizontal_4": moving("horizontal", 4.0, 2.0),
    "moving_vertical_1": moving("vertical", 1.0, 2.0),
    "doppler": doppler,
    "orbit": orbit,
    "teleport": teleport,
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
    **{f"doppler_{c[0]}_pct": (f"Doppler pitch error % vs exact, poses {c[0].replace('_', ' ')} (p99 / max)",
                               "{:.2f}") for c in DOPPLER_CASES},
    **{f"orbit_{c}_pct": (f"orbit 2 m, 1 rev/s, {rate:.0f} Hz poses, velocity {'given' if v else 'estimated'}: "
                          "pitch error % (p99 / max)", "{:.2f}") for c, v, rate in ORBIT_CASES},
    "teleport_step_ratio": ("teleport 2 -> 60 m: largest sample step / before", "{:.2f}"),
    "teleport_read_jump_ms": ("teleport 2 -> 60 m: read position jump ms (replay would be 170)", "{:.1f}"),
}
