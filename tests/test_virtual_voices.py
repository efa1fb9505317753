"""Virtual voices: a source whose level falls below layout.VIRTUAL_THRESHOLD (-70 dB) fades
out over one block and stops being rendered; its delay line and motion stay current, so
when it comes back (VIRTUAL_HYSTERESIS, +3 dB, above) it plays what a source audible
throughout plays. Measured on the output audio, through both front ends where they share
the controls (the C API via spatialmw.native, the Python Engine), and a C host with a
thousand emitters (examples/c_host/rain.c)."""
from __future__ import annotations

import numpy as np
import pytest

from spatialmw.kernels import layout as L
from tests.helpers import LIB, ROOT

BLOCK = 512
SR = 48000
TONE_HZ = 200.0
FRONTS = ["native", "engine"]


def _front(kind, corrector=True, max_sources=4):
    if kind == "native":
        from spatialmw.native import Renderer
        return Renderer(max_sources=max_sources, max_block=BLOCK, lib=LIB, corrector=corrector)
    from spatialmw.engine import Engine
    return Engine(SR, max_sources, BLOCK, ibc=corrector)


def _tone(blocks):
    t = np.arange(blocks * BLOCK) / SR
    return (0.5 * np.sin(2 * np.pi * TONE_HZ * t)).astype(np.float32)


def _play(eng, src, x, events):
    """Render ``x`` block by block; ``events[k]()`` runs before block k. Returns the
    (frames, 2) output and each block's status."""
    out, status = [], []
    for k in range(len(x) // BLOCK):
        if k in events:
            events[k]()
        eng.write(src, x[k * BLOCK:(k + 1) * BLOCK])
        out.append(np.asarray(eng.render(BLOCK)).reshape(-1, 2).copy())
        status.append(eng.source_status(src))
    return np.concatenate(out), status


OFF, ON, BLOCKS = 10, 20, 36


@pytest.mark.parametrize("corrector", [True, False])
def test_returning_source_plays_the_samples_of_one_audible_throughout(corrector):
    from spatialmw.engine import Engine
    x = _tone(BLOCKS)
    runs = []
    for toggle in (False, True):
        eng = Engine(SR, 4, BLOCK, ibc=corrector)
        s = eng.add_source()
        eng.set_source_pose(s, (2.0, 1.0, 0.0))
        events = {OFF: lambda: eng.set_source_params(s, gain=1e-5),
                  ON: lambda: eng.set_source_params(s, gain=1.0)} if toggle else {}
        runs.append(_play(eng, s, x, events))
    (ref, _), (out, status) = runs
    assert all(st & L.STATUS_VIRTUAL and not st & L.STATUS_PLAYING for st in status[OFF + 1:ON])
    assert all(st == L.STATUS_PLAYING for st in status[:OFF + 1] + status[ON:])
    # virtual: silent once the fade-out block and the filters' tails have been played
    assert np.abs(out[(OFF + 3) * BLOCK:ON * BLOCK]).max() == 0.0
    # after the fade-in block, the latency (hop + modelling delay + propagation: < 1 block)
    # and the block in which the corrector's first gains, from the direction table, ramp to
    # the network's exact ones (as a new source's do; -67 dB of difference until then)
    after = slice((ON + 3) * BLOCK, None)
    peak = np.abs(ref[after]).max()
    assert peak > 0.05
    assert np.abs(out[after] - ref[after]).max() <= 1e-6 * peak


def test_other_sources_and_a_new_one_are_unaffected_and_the_voice_returns_in_another_lane():
    """Twelve tones, one of which goes virtual; while it is, a new source starts (and takes
    the freed lane of the staging); the returning voice gets another lane. The mix equals
    the same scene with the voice audible throughout, except during its absence."""
    from spatialmw.engine import Engine
    blocks = 30
    t = np.arange(blocks * BLOCK) / SR
    tones = [(0.05 * np.sin(2 * np.pi * (150 + 37 * i) * t)).astype(np.float32) for i in range(13)]
    runs = []
    for toggle in (False, True):
        eng = Engine(SR, 16, BLOCK)
        srcs = []
        for i in range(12):
            srcs.append(eng.add_source(distance_model="none"))
            eng.set_source_pose(srcs[-1], (2.0 * np.cos(i), 2.0 * np.sin(i), 0.0))
        out = []
        for k in range(blocks):
            if k == 12:
                srcs.append(eng.add_source(distance_model="none"))
                eng.set_source_pose(srcs[-1], (0.0, -3.0, 0.5))
            if toggle and k == OFF:
                eng.set_source_params(srcs[3], gain=1e-5)
            if toggle and k == ON:
                eng.set_source_params(srcs[3], gain=1.0)
            for i, h in enumerate(srcs):
                eng.write(h, tones[i][k * BLOCK:(k + 1) * BLOCK])
            out.append(eng.render(BLOCK).reshape(-1, 2).copy())
        runs.append(np.concatenate(out))
    ref, out = runs
    peak = np.abs(ref).max()
    assert np.abs(out[:OFF * BLOCK] - ref[:OFF * BLOCK]).max() <= 1e-6 * peak
    after = slice((ON + 3) * BLOCK, None)
    assert np.abs(out[after] - ref[after]).max() <= 1e-6 * peak
    # while it is away, the difference is that one voice alone: about its level, not more
    away = slice((OFF + 3) * BLOCK, ON * BLOCK)
    assert 0.01 < np.abs(out[away] - ref[away]).max() < 0.2


def _max_step(y):
    return np.abs(np.diff(y, axis=0)).max()


def _high_band_fraction(y, cutoff_hz=3000.0):
    """Energy above ``cutoff_hz`` over the total (Hann window, both ears)."""
    w = np.hanning(len(y))[:, None]
    spec = np.abs(np.fft.rfft(y * w, axis=0)) ** 2
    f = np.fft.rfftfreq(len(y), 1.0 / SR)
    return spec[f > cutoff_hz].sum() / spec.sum()


@pytest.mark.parametrize("kind", FRONTS)
def test_no_click_going_virtual_or_coming_back(kind):
    """A 200 Hz tone made inaudible (all transmission bands at 1e-5) and audible again: the
    largest sample step around each transition stays within 10 % of the steady tone's, and the
    transitions put no more than a trace of energy above 3 kHz."""
    eng = _front(kind)
    s = eng.add_source()
    eng.set_source_pose(s, (2.0, 1.0, 0.0))
    out, status = _play(eng, s, _tone(BLOCKS), {
        OFF: lambda: eng.set_source_transmission(s, 1e-5, 1e-5, 1e-5),
        ON: lambda: eng.set_source_transmission(s, 1.0, 1.0, 1.0)})
    assert status[OFF + 2] & L.STATUS_VIRTUAL and status[ON] & L.STATUS_PLAYING
    steady = out[4 * BLOCK:OFF * BLOCK]
    for k in (OFF, ON):
        around = out[(k - 1) * BLOCK:(k + 3) * BLOCK]
        assert _max_step(around) <= 1.1 * _max_step(steady), k  # a cut would step by ~0.2
        assert _high_band_fraction(around) < 1e-5, k
    assert _high_band_fraction(steady) < 1e-5


@pytest.mark.parametrize("kind", FRONTS)
def test_beyond_max_distance_with_the_linear_model_is_virtual(kind):
    eng = _front(kind)
    s = eng.add_source(distance_model="linear", min_distance=1.0, max_distance=20.0)
    eng.set_source_pose(s, (5.0, 0.0, 0.0))
    out, status = _play(eng, s, _tone(24), {4: lambda: eng.set_source_pose(s, (30.0, 0.0, 0.0)),
                                            14: lambda: eng.set_source_pose(s, (5.0, 0.0, 0.0))})
    assert status[:5] == [L.STATUS_PLAYING] * 5
    assert all(st == L.STATUS_VIRTUAL for st in status[5:14])
    assert np.abs(out[8 * BLOCK:14 * BLOCK]).max() == 0.0
    assert status[14:] == [L.STATUS_PLAYING] * 10
    assert np.abs(out[16 * BLOCK:]).max() > 0.01


@pytest.mark.parametrize("kind", FRONTS)
def test_a_far_source_still_heard_in_the_reverb_is_not_virtual(kind):
    """The room hears the emitted sound (the send has no distance gain): beyond max distance
    a source with a send into a reverb that is on keeps playing, and only the reverb carries
    it; with the send at 0 it is virtual and silent."""
    energy = {}
    for send in (0.0, 0.5):
        eng = _front(kind)
        eng.set_reverb(decay_time=1.0, pre_delay=0.0, hf_ratio=0.5, wet_gain=1.0)
        s = eng.add_source(distance_model="linear", min_distance=1.0, max_distance=20.0)
        eng.set_source_reverb_send(s, send)
        eng.set_source_pose(s, (30.0, 0.0, 0.0))
        out, status = _play(eng, s, _tone(16), {})
        want = L.STATUS_PLAYING if send else L.STATUS_VIRTUAL
        assert status[2:] == [want] * 14, send
        energy[send] = float(np.mean(out[8 * BLOCK:].astype(np.float64) ** 2))
    print(f"{kind}: output power beyond max distance, send 0 / 0.5: {energy[0.0]:.3g} / {energy[0.5]:.3g}")
    assert energy[0.0] == 0.0
    assert energy[0.5] > 1e-5


@pytest.mark.parametrize("kind", FRONTS)
def test_threshold_hysteresis(kind):
    """Between the threshold and 3 dB above it a source keeps its state: an audible source
    stays audible, a virtual one stays virtual."""
    eng = _front(kind)
    s = eng.add_source(distance_model="none")
    eng.set_source_pose(s, (1.0, 1.0, 0.0))
    between = L.VIRTUAL_THRESHOLD * 1.2
    assert between < L.VIRTUAL_THRESHOLD * L.VIRTUAL_HYSTERESIS
    steps = [(between, L.STATUS_PLAYING),                   # audible, 1.6 dB above: stays
             (L.VIRTUAL_THRESHOLD * 0.9, L.STATUS_VIRTUAL),  # below: goes virtual
             (between, L.STATUS_VIRTUAL),                   # back between: stays virtual
             (L.VIRTUAL_THRESHOLD * 1.5, L.STATUS_PLAYING)]  # 3.5 dB above: audible
    x = _tone(1)
    for level, want in steps:
        eng.set_source_transmission(s, level, level, level)
        for _ in range(3):  # (the first block of a change may still fade)
            eng.write(s, x)
            eng.render(BLOCK)
            eng.source_status(s)
        eng.write(s, x)
        eng.render(BLOCK)
        assert eng.source_status(s) == want, level


@pytest.mark.parametrize("kind", FRONTS)
@pytest.mark.parametrize("marked", [True, False])
def test_a_source_created_inaudible_starts_virtual_and_comes_back_faded_in(kind, marked):
    """A jump into range that the game marks (teleport_source) is heard in the block after
    it. An unmarked one is motion alone: a voice this far below the threshold naps
    (layout.NAP_BLOCKS: 4 blocks, since 8 blocks' travel could bring it inside its 10 m),
    so it is heard at its next check, at most NAP_BLOCKS - 1 blocks late. Either way it
    starts faded in."""
    eng = _front(kind)
    s = eng.add_source(distance_model="linear", min_distance=1.0, max_distance=10.0)
    eng.set_source_pose(s, (50.0, 0.0, 0.0))

    def jump():
        eng.set_source_pose(s, (2.0, 0.0, 0.0))
        if marked:
            eng.teleport_source(s)

    out, status = _play(eng, s, _tone(16), {6: jump})
    back = status.index(L.STATUS_PLAYING)
    assert back == 6 if marked else 6 <= back <= 6 + L.NAP_BLOCKS - 1
    assert status[:back] == [L.STATUS_VIRTUAL] * back and np.abs(out[:back * BLOCK]).max() == 0.0
    assert status[back:] == [L.STATUS_PLAYING] * (16 - back)
    assert _max_step(out[(back - 1) * BLOCK:(back + 2) * BLOCK]) <= 1.1 * _max_step(out[(back + 3) * BLOCK:])


@pytest.mark.parametrize("kind", FRONTS)
@pytest.mark.parametrize("with_velocity", [False, True])
def test_a_velocity_set_every_block_does_not_wake_a_napping_voice(kind, with_velocity):
    """A game that sets every emitter's velocity each frame, as it sets its pose, does not
    keep its virtual voices awake: velocity is motion, which the nap allows for
    (layout.NAP_BLOCKS), as a pose is. A voice 40 m beyond its linear model's 10 m naps 4
    blocks (checked in blocks 0, 4, 8, ...: the only slot); an unmarked jump into range
    before block 5 is heard at its next check, block 8, with or without a velocity set
    before every block. (A velocity that woke it would bring it back in block 5, as a
    parameter change does: test_a_napping_voice_comes_back_in_the_block_after_a_parameter_change.)"""
    eng = _front(kind, max_sources=1)
    s = eng.add_source(distance_model="linear", min_distance=1.0, max_distance=10.0)
    eng.set_source_pose(s, (50.0, 0.0, 0.0))
    x = _tone(12)
    status = []
    for k in range(12):
        if with_velocity:
            eng.set_source_velocity(s, (0.0, 1.0 + 0.1 * k, 0.0))
        if k == 5:
            eng.set_source_pose(s, (2.0, 0.0, 0.0))
        eng.write(s, x[k * BLOCK:(k + 1) * BLOCK])
        eng.render(BLOCK)
        status.append(eng.source_status(s))
    assert status == [L.STATUS_VIRTUAL] * 8 + [L.STATUS_PLAYING] * 4


@pytest.mark.parametrize("kind", FRONTS)
def test_a_napping_voice_comes_back_in_the_block_after_a_parameter_change(kind):
    """Whatever block of its nap (layout.NAP_BLOCKS) a change of its parameters falls in,
    a napping voice is checked in the next block: lifting its transmission makes it play in
    that block."""
    x = _tone(1)
    for phase in range(L.NAP_BLOCKS):
        eng = _front(kind)
        s = eng.add_source()
        eng.set_source_pose(s, (2.0, 1.0, 0.0))
        eng.set_source_transmission(s, 1e-5, 1e-5, 1e-5)  # -107 dB at 2.2 m: it naps
        for _ in range(8 + phase):
            eng.write(s, x)
            eng.render(BLOCK)
        assert eng.source_status(s) == L.STATUS_VIRTUAL
        eng.set_source_transmission(s, 1.0, 1.0, 1.0)
        eng.write(s, x)
        eng.render(BLOCK)
        assert eng.source_status(s) == L.STATUS_PLAYING, phase


def test_a_virtual_voice_naps_as_long_as_no_motion_could_bring_it_back():
    """The Engine's pools: a voice 100 m away, 30 dB below the threshold, whose distance
    gain could lift it 40 dB closer in, is checked every 8th block: 8 blocks of travel (it
    and the listener each at the teleport speed) leave it NAP_MARGIN below the level at
    which it comes back, 16 blocks would not (computed here from the distance law). One 30 dB
    below at any distance (no distance model) naps NAP_BLOCKS_QUIET blocks; one 5 dB below,
    within the margin, none. Naps count down between checks, staggered by slot."""
    from spatialmw.defaults import SPEED_OF_SOUND
    from spatialmw.engine import Engine
    from spatialmw.kernels.motion import MAX_SPEED_FRACTION
    eng = Engine(SR, 4, BLOCK)
    far, quiet, near = (eng.add_source(distance_model="inverse_clamped", min_distance=1.0, rolloff=1.0),
                        eng.add_source(distance_model="none"), eng.add_source(distance_model="none"))
    eng.set_source_params(far, gain=1e-3)
    eng.set_source_pose(far, (100.0, 0.0, 0.0))
    eng.set_source_params(quiet, gain=L.VIRTUAL_THRESHOLD * 10 ** (-30 / 20))
    eng.set_source_params(near, gain=L.VIRTUAL_THRESHOLD * 10 ** (-5 / 20))
    comes_back = L.VIRTUAL_THRESHOLD * L.VIRTUAL_HYSTERESIS * L.NAP_MARGIN
    travel = 2 * MAX_SPEED_FRACTION * SPEED_OF_SOUND * BLOCK / SR
    level_at = lambda d: 1e-3 / max(d, 1.0)  # noqa: E731 (inverse clamped, min 1 m, rolloff 1)
    assert level_at(100.0 - 8 * travel) < comes_back <= level_at(100.0 - 16 * travel)
    assert L.VIRTUAL_THRESHOLD * 10 ** (-5 / 20) > comes_back
    naps = int(eng.i64[L.H_SRC_NAP])
    seen = {far: [], quiet: [], near: []}
    blocks = 4 + 2 * L.NAP_BLOCKS_QUIET
    for _ in range(blocks):
        eng.render(BLOCK)
        for s in seen:
            seen[s].append(int(eng.i64[naps + s]))
    assert eng.is_virtual(far) and eng.is_virtual(quiet) and eng.is_virtual(near)
    for s, period in ((far, 8), (quiet, L.NAP_BLOCKS_QUIET)):
        assert seen[s][4:] == [period - 1 - (b + s) % period for b in range(4, blocks)], s
    assert seen[near] == [0] * len(seen[near])


def test_rain_example_renders_a_thousand_emitters(c_host, tmp_path):
    """examples/c_host/rain.c: 1,000 emitters, most far or quiet, through the C API."""
    import subprocess
    import soundfile as sf
    exe = c_host(ROOT / "examples" / "c_host" / "rain.c")
    wav = tmp_path / "rain.wav"
    r = subprocess.run([str(exe), str(wav), "40"], capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    vals = dict(line.split(None, 1) for line in r.stdout.splitlines() if line.strip())
    assert int(vals["sources"]) == 1000
    assert 800 <= int(vals["virtual"]) < 1000
    # the game did not synthesise the virtual ones (880 beyond max_distance throughout, each
    # block after the first two) and made no call for their audio, which is no underrun
    assert 880 * 38 <= int(vals["skipped"]) <= 1000 * 40
    assert int(vals["underruns"]) == 0
    y, sr = sf.read(wav)
    assert sr == SR and y.shape[1] == 2 and np.isfinite(y).all() and 0.0 < np.abs(y).max() <= 1.0
    # the 60 emitters behind the wall come back when it opens, though they were skipped: twice
    # the audible emitters, about 3 dB more (the first and last few blocks left out: onset, fades)
    half = 20 * BLOCK

    def rms(a):
        return np.sqrt(np.mean(a ** 2))
    assert rms(y[half + 3 * BLOCK:]) > 1.2 * rms(y[3 * BLOCK:half])


SKIP, WRITE, NOTHING = "skip", "write", "nothing"


def _feed(eng, src, x, plan, skip_as_zeros):
    """Render ``x`` block by block, feeding block k as ``plan(k, eng)`` says: WRITE its
    samples, SKIP (smw_source_skip; or, with ``skip_as_zeros``, write zeros instead) or
    NOTHING (an underrun)."""
    out, status = [], []
    for k in range(len(x) // BLOCK):
        what = plan(k, eng)
        if what == WRITE or (what == SKIP and skip_as_zeros):
            eng.write(src, x[k * BLOCK:(k + 1) * BLOCK] * (what == WRITE))
        elif what == SKIP:
            eng.skip(src, BLOCK)
        out.append(np.asarray(eng.render(BLOCK)).reshape(-1, 2).copy())
        status.append(eng.source_status(src))
    return np.concatenate(out), status


RING_BLOCKS = 132  # blocks that fill a delay line (2^16 samples at 48 kHz) once over


@pytest.mark.parametrize("kind", FRONTS)
@pytest.mark.parametrize("stereo", [False, True])
def test_skipping_plays_exactly_as_writing_silence_and_a_skipped_voice_comes_back(kind, stereo):
    """smw_source_skip queues silence without samples: the output equals the run that
    writes zeros instead, sample for sample, though the skipped part of the delay line is
    zeroed only when read, and until then holds the tone written one line's length
    earlier (the tone plays for RING_BLOCKS first). The schedule then skips an audible
    block and misses a write (an underrun) right after it; later the source goes virtual,
    the game skips it while is_virtual says so (10 blocks, but one it neither writes nor
    skips, which a virtual voice does not need: no underrun; and one a write), and it
    comes back playing what is written from then on, none of the earlier tone replayed. It
    is 60 m away: for its first 16 blocks back it plays what was written before it went
    virtual, then the skipped blocks' silence, then what is written after."""
    from spatialmw.engine import Engine
    assert Engine(SR, 1, BLOCK).i64[L.H_RING_LEN] <= (RING_BLOCKS - 4) * BLOCK
    first, off, on, blocks = RING_BLOCKS, RING_BLOCKS + OFF, RING_BLOCKS + ON, RING_BLOCKS + 60
    x = _tone(blocks)
    if stereo:
        x = np.stack([x, 0.5 * x], axis=1)
    runs = []
    for as_zeros in (False, True):
        eng = _front(kind)
        s = (eng.add_stereo_source if stereo else eng.add_source)(distance_model="none")
        eng.set_source_pose(s, (60.0, 10.0, 0.0))  # 16 blocks of delay: longer than it is away
        virtual_seen = []

        def plan(k, eng):
            if k in (off, on):
                level = 1e-5 if k == off else 1.0
                eng.set_source_transmission(s, level, level, level)
            virtual_seen.append(eng.is_virtual(s))
            if k == first + 4:
                return SKIP
            if k in (first + 5, off + 5):
                return NOTHING
            if k == off + 7:  # (a game may also write a virtual source)
                return WRITE
            return SKIP if virtual_seen[-1] else WRITE
        runs.append((*_feed(eng, s, x, plan, as_zeros), virtual_seen))
    (out, status, seen), (ref, ref_status, ref_seen) = runs
    # virtual from the block after the fade-out to the block in which it comes back
    assert seen == ref_seen == [False] * (off + 1) + [True] * (on - off) + [False] * (blocks - on - 1)
    assert status == ref_status and status[first + 5] & L.STATUS_UNDERRUN
    assert status[off + 5] == L.STATUS_VIRTUAL
    steady = np.abs(ref[(first - 10) * BLOCK:first * BLOCK]).max()  # the tone before anything happened
    assert steady > 0.05 and np.abs(out[(on + 3) * BLOCK:]).max() > 0.9 * steady  # it is back
    assert np.abs(out - ref).max() <= 1e-7 * steady


@pytest.mark.parametrize("kind", FRONTS)
def test_an_underrun_plays_silence_not_the_line_s_older_audio(kind):
    """Blocks the game does not write play as silence: with the delay line full of a tone
    written one line's length earlier (RING_BLOCKS blocks of it), the output is exactly
    zero once the last written block and the filters' tails have played."""
    eng = _front(kind)
    s = eng.add_source(distance_model="none")
    eng.set_source_pose(s, (3.0, 1.0, 0.0))
    x = _tone(RING_BLOCKS)
    for k in range(RING_BLOCKS):
        eng.write(s, x[k * BLOCK:(k + 1) * BLOCK])
        eng.render(BLOCK)
    assert np.abs(np.asarray(eng.render(BLOCK))).max() > 0.05  # the tail of what was written
    eng.source_status(s)
    quiet = [np.asarray(eng.render(BLOCK)) for _ in range(8)]
    assert eng.source_status(s) & L.STATUS_UNDERRUN
    assert np.abs(np.concatenate(quiet[2:])).max() == 0.0


def test_skip_and_is_virtual_refuse_bad_calls():
    """The C API's result codes for smw_source_skip / smw_source_is_virtual (through the real
    library), and the Engine's errors for the same calls."""
    from spatialmw.engine import Engine, EngineError
    from spatialmw.native import NativeError, Renderer
    r = Renderer(max_sources=2, max_block=BLOCK, lib=LIB)
    s = r.add_source()
    assert r.is_virtual(s) is False  # not started yet
    for frames in (0, BLOCK + 1):
        with pytest.raises(NativeError) as e:
            r.skip(s, frames)
        assert e.value.code == 6  # SMW_ERROR_FRAME_COUNT
    r.skip(s, BLOCK)
    with pytest.raises(NativeError) as e:  # a second block before a render does not fit
        r.skip(s, 1)
    assert e.value.code == 8  # SMW_ERROR_BUFFER_FULL
    assert r.lib.smw_source_is_virtual(r._r, s, r.ffi.NULL) == 2  # SMW_ERROR_NULL_POINTER
    assert r.lib.smw_source_skip(r.ffi.NULL, s, BLOCK) == 2
    r.remove_source(s)
    for call in (lambda: r.skip(s, BLOCK), lambda: r.is_virtual(s)):
        with pytest.raises(NativeError) as e:
            call()
        assert e.value.code == 3  # SMW_ERROR_INVALID_HANDLE
    r.close()
    eng = Engine(SR, 2, BLOCK)
    s = eng.add_source()
    with pytest.raises(EngineError, match="frame count"):
        eng.skip(s, 0)
    eng.skip(s, BLOCK)
    with pytest.raises(EngineError, match="queued"):
        eng.skip(s, 1)
    eng.remove_source(s)
    with pytest.raises(EngineError):
        eng.is_virtual(s)
