"""Click-free motion: a source orbiting at 2 rev/s and a listener turning at 360 deg/s.

A 300 Hz tone has no energy above 3 kHz; clicks and zipper noise put it there. The
measure is that out-of-band energy (relative to the total) and the largest
sample-to-sample step, each compared with the same tone rendered static."""
import numpy as np
import pytest

from spatialmw.scene import Listener, Orbit, Scene, Source, Static, Turn

TONE = {"tone": 300.0}
SR = 48000


def hf_energy_db(y, cutoff=3000.0):
    spec = np.abs(np.fft.rfft(y * np.hanning(len(y))[:, None], axis=0)) ** 2
    f = np.fft.rfftfreq(len(y), 1 / SR)
    return 10 * np.log10(spec[f > cutoff].sum() / spec.sum())


def render(scene, renderer):
    return scene.render(renderer)[4800:-4800].astype(np.float64)


@pytest.mark.parametrize("renderer", ["liteinn", "tdw"])
def test_fast_motion_adds_no_clicks(renderer):
    static = Scene(duration=2.0, sources=[Source(TONE, Static((0.0, 2.0, 0.0)), distance_model="none")])
    orbit = Scene(duration=2.0, sources=[Source(TONE, Orbit(radius=2.0, period=0.5), distance_model="none")])
    turn = Scene(duration=2.0, listener=Listener(orientation=Turn(rate_deg_s=360.0)),
                 sources=[Source(TONE, Static((2.0, 0.0, 0.0)), distance_model="none")])
    y0 = render(static, renderer)
    hf0 = hf_energy_db(y0)
    jump0 = np.max(np.abs(np.diff(y0, axis=0)))
    for moving in (orbit, turn):
        y = render(moving, renderer)
        hf = hf_energy_db(y)
        jump = np.max(np.abs(np.diff(y, axis=0)))
        print(f"{renderer}: static HF {hf0:.1f} dB, moving HF {hf:.1f} dB, jump {jump:.4f} vs {jump0:.4f}")
        # measured: liteinn -64.5 dB (static -65.3: the STFT filter's aliasing floor),
        # tdw -99 dB; the reference renderer hard-switching HRIRs measures -56 dB
        # (tests/test_reference.py)
        assert hf < -60.0
        assert hf < max(hf0, -90.0) + 3.0
        assert jump < 1.5 * jump0
