"""What games play, measured on the rendered output: a static tone is an LTI system, bass is
the distance gain, Doppler is smooth at game-rate poses, teleports neither chirp nor replay.

Bounds are issue 10's; the figures they were measured at are printed with ``-s``."""
from __future__ import annotations

import numpy as np
import pytest

from spatialmw.engine import Engine
from spatialmw.kernels.corrector import modeling_delay
from spatialmw.metrics import delay_samples, itd_us, thd_n_db

SR = 48000
B = 512
C = 343.0


def _render_static(freq, pos, *, lead=0, blocks=48, ibc=True, spatialize=True, amp=0.5):
    eng = Engine(SR, max_sources=1, max_block=B, ibc=ibc)
    h = eng.add_source(distance_model="none", spatialize=spatialize)
    eng.set_source_pose(h, pos)
    t = np.arange(blocks * B - lead)
    x = np.concatenate([np.zeros(lead), amp * np.sin(2 * np.pi * freq * t / SR)]).astype(np.float32)
    out = []
    for b in range(blocks):
        eng.write(h, x[b * B:(b + 1) * B])
        out.append(eng.render(B))
    return np.concatenate(out)


@pytest.mark.parametrize("freq", [50, 100, 1000, 4000])
def test_static_tone_is_not_distorted_by_the_corrector(freq):
    """The corrector is a time-invariant filter: a static tone comes out as a pure tone
    (issue bound: THD+N <= -60 dB from 50 Hz to 16 kHz; it was -17 dB at 100 Hz)."""
    y = _render_static(freq, [2.0, 0.5, 0.3])
    for ear in range(2):
        d = thd_n_db(y[-16384:, ear].astype(np.float64), SR, freq)
        print(f"{freq} Hz ear {ear}: THD+N {d:.1f} dB")
        assert d <= -60.0


def test_render_does_not_depend_on_the_start_offset():
    """The same input started 97 samples later renders to the same output 97 samples later
    (issue bound: <= -80 dB once aligned; the hop-rate STFT gave -25 to -62 dB)."""
    rng = np.random.default_rng(0)
    eng_sig = rng.standard_normal(40 * B).astype(np.float32) * 0.3

    def render(lead):
        eng = Engine(SR, max_sources=1, max_block=B)
        h = eng.add_source(distance_model="none", doppler=False)
        eng.set_source_pose(h, [1.0, 1.2, -0.4])
        x = np.concatenate([np.zeros(lead, np.float32), eng_sig])[:40 * B]
        out = []
        for b in range(40):
            eng.write(h, x[b * B:(b + 1) * B])
            out.append(eng.render(B))
        return np.concatenate(out)

    a, b = render(0), render(97)
    ref = a[4096:-1024]
    diff = b[4096 + 97:-1024 + 97] - ref
    db = 10 * np.log10(np.sum(diff ** 2) / np.sum(ref ** 2))
    print(f"start-offset difference {db:.1f} dB")
    assert db <= -80.0


def _impulse_response(pos, blocks=8):
    eng = Engine(SR, max_sources=1, max_block=B)
    h = eng.add_source(distance_model="none", doppler=False)
    eng.set_source_pose(h, pos)
    x = np.zeros(blocks * B, np.float32)
    x[B] = 1.0
    out = []
    for b in range(blocks):
        eng.write(h, x[b * B:(b + 1) * B])
        out.append(eng.render(B))
    return np.concatenate(out)[B:], eng.latency_frames


@pytest.mark.parametrize("az", [0, 60, 90, 150, 270])
def test_no_pre_echo_before_the_onset(az):
    """Energy arriving 0.25-1.3 ms before the rendered response's onset (first sample within
    -20 dB of its peak, per ear) relative to the whole response (issue bound: <= -40 dB;
    it was -14 dB)."""
    a = np.radians(az)
    ir, _ = _impulse_response([1.4 * np.cos(a), 1.4 * np.sin(a), 0.0])
    for ear in range(2):
        h = ir[:, ear].astype(np.float64)
        onset = int(np.argmax(np.abs(h) >= 0.1 * np.max(np.abs(h))))
        lo, hi = onset - int(1.3e-3 * SR), onset - int(0.25e-3 * SR)
        pre = np.sum(h[max(lo, 0):hi] ** 2) / np.sum(h ** 2)
        db = 10 * np.log10(pre + 1e-30)
        print(f"az {az} ear {ear}: pre-echo {db:.1f} dB")
        assert db <= -40.0


def test_corrector_latency_reported_is_the_measured_one():
    """The corrector's part of the reported latency (its modelling delay) is what an impulse
    measures: a bypassed source comes out exactly that much later in a corrected engine
    than in a warp-only one (every source of a corrected engine keeps the same latency)."""
    def peak(ibc):
        eng = Engine(SR, max_sources=1, max_block=B, ibc=ibc)
        h = eng.add_source(distance_model="none", doppler=False, spatialize=False)
        x = np.zeros(4 * B, np.float32)
        x[100] = 1.0
        out = []
        for b in range(4):
            eng.write(h, x[b * B:(b + 1) * B])
            out.append(eng.render(B))
        return int(np.argmax(np.abs(np.concatenate(out)[:, 0]))), eng.latency_frames

    (p1, lat1), (p0, lat0) = peak(True), peak(False)
    print(f"latency: corrected {lat1}, warp only {lat0}; impulse peaks {p1}, {p0}")
    assert lat1 - lat0 == modeling_delay(SR) > 0
    # the peak sample of the fractionally delayed impulse may round one sample either way
    assert abs((p1 - p0) - (lat1 - lat0)) <= 1


@pytest.mark.parametrize("freq", [50, 100])
def test_bass_is_the_distance_gain_and_has_no_ild(freq):
    """Below the crossover the head is transparent: a source plays at the level of the same
    source with spatialisation off, with no ILD (issue bounds at 50 Hz: +-1 dB and 0.5 dB;
    it was -19.7 dB and 2.4 dB, then +1.9 dB and 2.1 dB before the low-frequency pins)."""
    def level(y):
        return 10 * np.log10(np.mean(y[-8192:].astype(np.float64) ** 2, axis=0))

    bypass = level(_render_static(freq, [2.0, 0.0, 0.0], spatialize=False))
    for pos in ([2.0, 0.0, 0.0], [0.0, 2.0, 0.0], [-1.4, -1.4, 0.0], [0.5, -1.0, 1.6]):
        lv = level(_render_static(freq, pos)) - bypass
        print(f"{freq} Hz at {pos}: level re bypass {lv[0]:+.3f} / {lv[1]:+.3f} dB, ILD {lv[0] - lv[1]:+.3f} dB")
        assert np.all(np.abs(lv) <= 1.0)
        assert abs(lv[0] - lv[1]) <= 0.5


def _exact_doppler(t, v=20.0, y0=3.0, f0=1000.0, duration=3.0):
    """The pass's exact frequency, closed form: for a source on x = x0 + v t_e, y = y0,
    reception time t = t_e + |p(t_e)| / c is a quadratic in t_e; its root gives
    f = f0 dt_e/dt = f0 / (1 + v (x0 + v t_e) / (c |p(t_e)|))."""
    x0 = -v * duration / 2
    # (c^2 - v^2) te^2 - 2 (c^2 t + v x0) te + (c^2 t^2 - x0^2 - y0^2) = 0, earlier root
    a = C * C - v * v
    b = -2.0 * (C * C * t + v * x0)
    cc = C * C * t * t - x0 * x0 - y0 * y0
    te = (-b - np.sqrt(b * b - 4 * a * cc)) / (2 * a)
    x = x0 + v * te
    return f0 / (1.0 + v * x / (C * np.hypot(x, y0)))


@pytest.mark.parametrize("rate_hz,jitter,velocity,ibc,max_pct", [
    (30, 0.3, False, False, 0.5), (30, 0.3, False, True, 0.5), (60, 0.0, False, False, 0.5),
    (60, 0.0, False, True, 0.5), (60, 0.3, True, False, 0.5), (144, 0.3, False, False, 0.5)])
def test_doppler_is_smooth_with_game_rate_poses(rate_hz, jitter, velocity, ibc, max_pct):
    """With poses at a game's frame rate the pitch follows the exact (retarded-time) Doppler
    curve instead of stepping each pose (it alternated 1000/1091 Hz at 60 Hz poses): issue
    10's bound, the pass within 0.5 % (p99 and max). The largest errors sit at the closest
    approach, where the curve falls fastest: there each ms a pose's position is taken late
    costs 0.04 %, which is why a pose is taken as the position half a block before the
    block it arrives before (kernels/motion.py; taken as the block's end it was 0.6-0.85 %
    p99, 0.8-1.1 % max). The ear cues follow motion.heard_step's smoothed position: a
    pose's age is only known to +-half a block, and the corrector's phase stepped with each
    pose's 0.1 m of uncertainty (Lite-INN's max at 60 Hz was 0.53 %). Measured p99 / max:
    TDW 0.19-0.27 / 0.31-0.33 %, Lite-INN 0.22-0.31 / 0.39-0.46 %."""
    from spatialmw.evaluation.game import passing_tone
    t, fi = passing_tone(ibc, rate_hz, jitter, velocity)
    sel = (t > 0.8) & (t < 3.0 - 0.3)
    fi, phys = fi[sel], _exact_doppler(t[sel])
    err = np.abs(fi - phys) / phys * 100
    print(f"{'liteinn' if ibc else 'tdw'}, {rate_hz} Hz poses, jitter {jitter}, velocity {velocity}: "
          f"p99 {np.percentile(err, 99):.3f} %, max {err.max():.3f} % (curve {phys.min():.0f}..{phys.max():.0f} Hz)")
    assert phys.max() / phys.min() > 1.1          # the pass really sweeps the pitch
    assert np.percentile(err, 99) <= 0.5
    assert err.max() <= max_pct


@pytest.mark.parametrize("rev_s,velocity,rate_hz", [(1.0, True, 60.0), (1.0, False, 60.0), (0.5, False, 60.0),
                                                    (1.0, False, 30.0)])
def test_an_orbit_keeps_its_pitch(rev_s, velocity, rate_hz):
    """A source circling at constant distance has no Doppler: only the ears' own motion
    about the head (their delays change by up to a omega / c, 0.17 % at 1 rev/s) moves the
    pitch, within 0.8 % as the orbit starts and 0.4 % after, whether the velocity is given
    or estimated from the poses, at 60 Hz poses and (estimated) at 30 Hz. The estimate
    takes its heading from the newest move (motion.track_pose): an averaged velocity vector
    lagged the orbit by 62 degrees at 1 rev/s, and its radial part swept the delay as if the
    body were receding, a pitch dip of 1.6 % as the orbit started (0.56 % at 0.5 rev/s).
    Between poses an estimated track turns at the rate its headings turn: extrapolated in a
    straight line, a 30 Hz pose's position left the circle by up to 4.5 cm, 0.72 % p99 and
    0.78 % max of pitch error (0.43 / 0.51 % at 60 Hz). Measured now, onset max, then max:
    60 Hz given 0.38 / 0.30 %, estimated 0.30 / 0.27 %, 0.5 rev/s 0.12 / 0.11 %, 30 Hz
    estimated 0.55 / 0.21 %."""
    from spatialmw.evaluation.game import orbiting_tone
    t, f = orbiting_tone(True, rev_s, velocity, rate_hz=rate_hz)
    err = np.abs(f / 1000.0 - 1.0) * 100.0
    onset, steady = err[(t > 0.1) & (t < 1.0)], err[(t > 1.2) & (t < t[-1] - 0.05)]
    print(f"{rev_s} rev/s, velocity {velocity}, {rate_hz} Hz poses: onset max {onset.max():.2f} %, then p99 "
          f"{np.percentile(steady, 99):.3f} %, max {steady.max():.3f} %")
    assert onset.max() <= 0.8
    assert steady.max() <= 0.4


@pytest.mark.parametrize("path,bound_pct", [("pendulum", 0.5), ("jitter", 0.1)])
def test_reversals_and_position_jitter_keep_the_exact_pitch(path, bound_pct):
    """The velocity estimated from 60 Hz poses (+-30 % jitter), against the exact
    (retarded-time) pitch from 0.8 s: a source swinging 2 m either way at 0.5 Hz, 3 m in
    front (its estimate slows through rest on its old heading when it turns, as an averaged
    vector did: 0.39 % max, 0.38 % before), and a static source whose positions jitter
    +-1 cm each pose, which should not wobble at all (0.033 %; 0.026 % with the averaged
    vector; taking every move's heading at full speed wobbled it by 0.29 %)."""
    from spatialmw.evaluation.game import exact_pitch, path_tone
    rng = np.random.default_rng(4)
    if path == "pendulum":
        def position(t):
            return 2.0 * np.sin(np.pi * t), 3.0 + 0.0 * t, 0.0 * t
    else:
        def position(t):
            return 2.0 + rng.uniform(-0.01, 0.01), rng.uniform(-0.01, 0.01), rng.uniform(-0.01, 0.01)
    t, f = path_tone(True, position, rate_hz=60.0, jitter=0.3, seconds=4.0)
    sel = (t > 0.8) & (t < t[-1] - 0.3)
    exact = exact_pitch(position, t[sel]) if path == "pendulum" else 1000.0
    err = np.abs(f[sel] / exact - 1.0) * 100.0
    print(f"{path}: p99 {np.percentile(err, 99):.3f} %, max {err.max():.3f} %")
    assert err.max() <= bound_pct


@pytest.mark.parametrize("jump,explicit", [([60.0, 0.0, 0.0], False), ([1e5, 0.0, 0.0], False),
                                           ([2.0, -3.0, 0.0], True)])
@pytest.mark.parametrize("ibc", [True, False], ids=["liteinn", "tdw"])
def test_teleport_neither_chirps_nor_replays(jump, explicit, ibc):
    """A source jumping between two blocks keeps playing from where it was: the read lag
    stays within 2 ms of its value before the jump (nothing replayed: it was 170 ms back;
    nothing skipped), and no sample step exceeds twice the signal's own largest step."""
    rng = np.random.default_rng(3)
    eng = Engine(SR, max_sources=1, max_block=B, ibc=ibc)
    h = eng.add_source(distance_model="none")
    eng.set_source_pose(h, [2.0, 0.0, 0.0])
    n = 100
    x = (0.2 * rng.standard_normal(n * B)).astype(np.float32)
    out = []
    for b in range(n):
        if b == 50:
            if explicit:
                eng.teleport_source(h)
            eng.set_source_pose(h, jump)
        eng.write(h, x[b * B:(b + 1) * B])
        out.append(eng.render(B))
    y = np.concatenate(out)
    before = delay_samples(x, y[:, 0], 45 * B)
    after = [delay_samples(x, y[:, 0], b * B) for b in (52, 60, 90)]
    print(f"jump to {jump}: read lag {before} -> {after} samples")
    assert all(abs(a - before) <= 0.002 * SR for a in after)
    own = np.abs(np.diff(y[:45 * B], axis=0)).max()
    assert np.abs(np.diff(y[48 * B:56 * B], axis=0)).max() <= 2.0 * own * max(1.0, np.abs(y[48 * B:56 * B]).max() / np.abs(y[:45 * B]).max())


def test_median_plane_has_no_itd():
    """Sources at rest in the median plane (front, above, behind, below) reach both ears at
    the same time (the measured KEMAR set: 0 us; issue bound 10 us). The corrector's
    output is blended with its mirror image near the median plane (kernels/ibc.py), so the
    ears are exactly alike there: measured 0.0 us (without the blend: 1 us in front, up to
    19 us above)."""
    rng = np.random.default_rng(5)
    for el in (0, 45, 90, 135, 180, 225):
        e = np.radians(el)
        eng = Engine(SR, max_sources=1, max_block=B)
        h = eng.add_source(distance_model="none")
        eng.set_source_pose(h, [1.4 * np.cos(e), 0.0, 1.4 * np.sin(e)])
        x = (0.3 * rng.standard_normal(24 * B)).astype(np.float32)
        out = []
        for b in range(24):
            eng.write(h, x[b * B:(b + 1) * B])
            out.append(eng.render(B))
        y = np.concatenate(out)[4 * B:]
        itd = itd_us(y[:, 0], y[:, 1], SR)
        print(f"median plane elevation {el}: ITD {itd:.1f} us")
        assert abs(itd) <= 10.0


def test_moving_median_plane_source_has_no_itd():
    """A source circling the median plane at 1 rev/s (the evaluation's vertical circle, so
    the corrector reads the direction table): per-20-ms |ITD| p95 <= 10 us (issue bound;
    measured 0.0 us; 26 us before the mirror blend)."""
    from spatialmw.evaluation import game as G
    from spatialmw.evaluation.systems import EngineSystem
    from spatialmw.hrtf.sofa import default_sofa_path, read_sofa
    from spatialmw.model import default_model_path
    hset = read_sofa(default_sofa_path(), sample_rate=SR)
    y = EngineSystem("liteinn", hset, str(default_model_path()), True).render_path(
        G.pink_noise(2.0, seed=11), G.circle("vertical", 1.0, 2.0))
    frames = y[:(len(y) // G.FRAME) * G.FRAME].reshape(-1, G.FRAME, 2)[G.SKIP_FRAMES:]
    itd = np.abs([itd_us(f[:, 0], f[:, 1], SR) for f in frames])
    print(f"vertical circle: |ITD| median {np.median(itd):.1f} us, p95 {np.percentile(itd, 95):.1f} us")
    assert np.percentile(itd, 95) <= 10.0


def test_no_pre_echo_at_any_held_out_direction():
    """An impulse at every held-out KEMAR direction (the evaluation's pre-echo: energy
    0.25-1.3 ms before the measured HRIR's onset, worse ear): <= -40 dB everywhere (issue
    bound). Measured worst -66 dB, median -90; -32 / -64 before the window's first taps
    were held at zero (kernels/corrector.py)."""
    from types import SimpleNamespace

    from spatialmw.evaluation import game as G
    from spatialmw.evaluation.protocol import split
    from spatialmw.evaluation.systems import EngineSystem
    from spatialmw.hrtf.conditioning import condition_hrirs
    from spatialmw.hrtf.sofa import default_sofa_path, read_sofa
    from spatialmw.model import default_model_path, load_model
    model = load_model(default_model_path())
    raw = read_sofa(default_sofa_path(), sample_rate=SR)
    setup = SimpleNamespace(hset=condition_hrirs(raw, model.head_radius)[0],
                            d0=int(round(raw.time_offset(model.head_radius) * SR)))
    system = EngineSystem("liteinn", setup.hset, str(default_model_path()), True)
    pre = np.array([G.pre_echo(system, setup, i) for i in split(setup.hset.n_directions)[1]])
    print(f"pre-echo over {pre.size} held-out directions: worst {pre.max():.1f} dB, median {np.median(pre):.1f} dB")
    assert pre.max() <= -40.0


def _sphere_average_third_octaves(equalization):
    """Third-octave levels (dB, 200 Hz-16 kHz) of white noise rendered from 24 directions
    spread over the sphere, power-averaged over directions and ears."""
    from spatialmw.metrics import third_octave_levels
    rng = np.random.default_rng(11)
    n_dir = 24
    golden = np.pi * (3.0 - np.sqrt(5.0))
    power = 0.0
    for i in range(n_dir):
        z = 1.0 - 2.0 * (i + 0.5) / n_dir
        r = np.sqrt(1.0 - z * z)
        u = np.array([r * np.cos(golden * i), r * np.sin(golden * i), z])
        eng = Engine(SR, max_sources=1, max_block=B, equalization=equalization, ibc_table_step=0)
        h = eng.add_source(distance_model="none", doppler=False)
        eng.set_source_pose(h, 1.4 * u)
        x = (0.3 * rng.standard_normal(16 * B)).astype(np.float32)
        out = []
        for b in range(16):
            eng.write(h, x[b * B:(b + 1) * B])
            out.append(eng.render(B))
        y = np.concatenate(out)[2 * B:].astype(np.float64)
        for e in range(2):
            power = power + 10 ** (third_octave_levels(y[:, e], SR, 200.0, 16000.0) / 10)
    return 10 * np.log10(power / (2 * n_dir))


def test_diffuse_field_equalization_flattens_the_average_response():
    """With equalization "diffuse_field" the response averaged over all directions is
    flatter (as OpenAL Soft's diffuse-field equalised data is); "none" keeps the measured
    set's average coloration. Measured third-octave spread 200 Hz-16 kHz: 19 dB against 32:
    the equaliser narrows it by 13 dB but is far from flat (the window limits how much of
    the inverse filter the corrector can apply); bounds here: at least 8 dB narrower."""
    flat = _sphere_average_third_octaves("diffuse_field")
    raw = _sphere_average_third_octaves("none")
    print(f"third-octave spread of the sphere average: diffuse_field {np.ptp(flat):.1f} dB, "
          f"none {np.ptp(raw):.1f} dB")
    assert np.ptp(raw) - np.ptp(flat) >= 8.0
