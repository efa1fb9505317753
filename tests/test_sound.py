"""What games play, measured on the rendered output: a static tone is an LTI system, bass is
the distance gain, Doppler is smooth at game-rate poses, teleports neither chirp nor replay.

Bounds are issue 10's; the figures they were measured at are printed with ``-s``."""
from __future__ import annotations

import numpy as np
import pytest
from scipy.signal import hilbert
from scipy.signal.windows import blackmanharris

from spatialmw.engine import Engine

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


def thd_n_db(y, freq):
    """Energy outside the fundamental's main lobe relative to the fundamental (20 Hz-20 kHz),
    over the last 16384 samples with a 4-term Blackman-Harris window (floor ~ -110 dB)."""
    seg = np.asarray(y[-16384:], dtype=np.float64)
    s = np.abs(np.fft.rfft(seg * blackmanharris(seg.size))) ** 2
    f = np.fft.rfftfreq(seg.size, 1.0 / SR)
    k = int(np.argmin(np.abs(f - freq)))
    fund = s[max(k - 8, 0):k + 9].sum()
    total = s[(f > 20) & (f < 20000)].sum()
    return 10 * np.log10((total - fund) / fund)


@pytest.mark.parametrize("freq", [50, 100, 1000, 4000])
def test_static_tone_is_not_distorted_by_the_corrector(freq):
    """The corrector is a time-invariant filter: a static tone comes out as a pure tone
    (issue bound: THD+N <= -60 dB from 50 Hz to 16 kHz; it was -17 dB at 100 Hz)."""
    y = _render_static(freq, [2.0, 0.5, 0.3])
    for ear in range(2):
        d = thd_n_db(y[:, ear], freq)
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


def test_latency_reported_is_the_measured_one():
    """An impulse through a bypassed source (pure delay) comes out exactly latency frames
    later (plus nothing else: Doppler off)."""
    eng = Engine(SR, max_sources=1, max_block=B)
    h = eng.add_source(distance_model="none", doppler=False, spatialize=False)
    x = np.zeros(4 * B, np.float32)
    x[100] = 1.0
    out = []
    for b in range(4):
        eng.write(h, x[b * B:(b + 1) * B])
        out.append(eng.render(B))
    y = np.concatenate(out)[:, 0]
    assert int(np.argmax(np.abs(y))) - 100 == eng.latency_frames + int(round(0.0875 / C * SR)) + 8


def test_bass_is_the_distance_gain_and_has_no_ild():
    """Below the crossover the head is transparent: a front source at 50 Hz plays within
    +-1 dB of the same source with spatialisation off, and a 90-degree source has an ILD
    within 0.5 dB of 0 (it was -19.7 dB at 50 Hz)."""
    def level(y):
        return 10 * np.log10(np.mean(y[-8192:].astype(np.float64) ** 2, axis=0))

    front = level(_render_static(50, [2.0, 0.0, 0.0])) - level(_render_static(50, [2.0, 0.0, 0.0], spatialize=False))
    side = level(_render_static(50, [0.0, 2.0, 0.0]))
    print(f"50 Hz front re bypass {front} dB, 90 deg ILD {side[0] - side[1]:.2f} dB")
    assert np.all(np.abs(front) <= 1.0)
    assert abs(side[0] - side[1]) <= 0.5


def _passing_tone(rate_hz, jitter, velocity, seed=0, v=20.0, y0=3.0, f0=1000.0, duration=3.0):
    """A 1 kHz tone passing the listener at ``v`` m/s (closest 3 m), poses set at
    ``rate_hz`` (+-jitter) as a game thread would, rendered in 512-frame blocks; returns
    (instantaneous frequency, exact retarded-time curve) over the pass, per sample."""
    rng = np.random.default_rng(seed)
    eng = Engine(SR, max_sources=1, max_block=B, ibc=False)
    h = eng.add_source(distance_model="none")
    x0 = -v * duration / 2
    n_blocks = int(duration * SR) // B

    def pos(t):
        return [x0 + v * t, y0, 0.0]

    times = [0.0]
    while times[-1] < duration:
        times.append(times[-1] + (1.0 + jitter * rng.uniform(-1, 1)) / rate_hz)
    eng.set_source_pose(h, pos(0.0))
    if velocity:
        eng.set_source_velocity(h, [v, 0.0, 0.0])
    sig = (0.5 * np.sin(2 * np.pi * f0 * np.arange(n_blocks * B) / SR)).astype(np.float32)
    out, k = [], 1
    for b in range(n_blocks):
        while k < len(times) and times[k] <= b * B / SR:
            eng.set_source_pose(h, pos(times[k]))
            k += 1
        eng.write(h, sig[b * B:(b + 1) * B])
        out.append(eng.render(B))
    y = np.concatenate(out).astype(np.float64)
    fi = np.mean([np.diff(np.unwrap(np.angle(hilbert(y[:, e])))) for e in range(2)], axis=0) * SR / (2 * np.pi)
    m = int(0.004 * SR)
    fi = np.convolve(fi, np.ones(m) / m, mode="same")
    t = (np.arange(fi.size) + 0.5 - eng.latency_frames) / SR
    te = t.copy()
    for _ in range(40):  # emission time: t - te = |p(te)| / c
        te = t - np.hypot(x0 + v * te, y0) / C
    phys = f0 * np.gradient(te, t)
    sel = (t > 0.8) & (t < duration - 0.3)
    return fi[sel], phys[sel]


@pytest.mark.parametrize("rate_hz,jitter,velocity", [(30, 0.3, False), (60, 0.0, False), (60, 0.3, True),
                                                     (144, 0.3, False)])
def test_doppler_is_smooth_with_game_rate_poses(rate_hz, jitter, velocity):
    """With poses at a game's frame rate the pitch follows the exact (retarded-time) Doppler
    curve instead of stepping each pose (it alternated 1000/1091 Hz at 60 Hz poses): 99 % of
    the pass within 0.5 %, all of it within 0.8 % (the largest errors sit at the closest
    approach, where the curve falls fastest: the warp's delay is linear within a block, and
    a pose's age is unknown to the renderer)."""
    fi, phys = _passing_tone(rate_hz, jitter, velocity)
    err = np.abs(fi - phys) / phys * 100
    print(f"{rate_hz} Hz poses, jitter {jitter}, velocity {velocity}: p99 {np.percentile(err, 99):.3f} %, "
          f"max {err.max():.3f} % (curve {phys.min():.0f}..{phys.max():.0f} Hz)")
    assert phys.max() / phys.min() > 1.1          # the pass really sweeps the pitch
    assert np.percentile(err, 99) <= 0.5
    assert err.max() <= 0.8


def _read_lag(y, x, at, length=4096, search=30000):
    """Samples between input ``x`` and output ``y`` around output sample ``at`` (the
    correlation peak of a noise segment)."""
    seg = y[at:at + length]
    lo = max(at - search, 0)
    cc = np.correlate(x[lo:at + length].astype(np.float64), seg.astype(np.float64), mode="valid")
    return at - lo - int(np.argmax(np.abs(cc)))


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
    before = _read_lag(y[:, 0], x, 45 * B)
    after = [_read_lag(y[:, 0], x, b * B) for b in (52, 60, 90)]
    print(f"jump to {jump}: read lag {before} -> {after} samples")
    assert all(abs(a - before) <= 0.002 * SR for a in after)
    own = np.abs(np.diff(y[:45 * B], axis=0)).max()
    assert np.abs(np.diff(y[48 * B:56 * B], axis=0)).max() <= 2.0 * own * max(1.0, np.abs(y[48 * B:56 * B]).max() / np.abs(y[:45 * B]).max())


def test_median_plane_has_no_itd():
    """Sources in the median plane (front, above, behind, below) reach both ears at the same
    time: the interaural cross-correlation below 1.5 kHz peaks within 10 us of zero (the old
    corrector added up to 32 us)."""
    from spatialmw.metrics import itd_us
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
