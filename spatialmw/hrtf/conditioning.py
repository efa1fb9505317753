"""Conditioning of a measured HRIR set: the reference the corrector is fitted to and judged by.

Two things in a measured set are not the head's:

* **its absolute level**, set by the measurement chain. The set is scaled so that its mean
  log-magnitude relative to the warp (per direction and ear, 250-500 Hz, where a head
  changes the level by well under a decibel) is 0 dB: a rendered source then plays at the
  game's distance gain, as with spatialisation off.
* **the band below the low-frequency crossover.** The MIT KEMAR loudspeaker rolls off
  below about 200 Hz, and a model fitted to that data reproduces the roll-off as if it
  were the head (a front source was 19.7 dB down at 50 Hz). A head is acoustically
  transparent there: the level tends to the distance gain, the ILD to 0 and the phase to
  the warp's pure delay. Below :data:`~spatialmw.kernels.corrector.LF_TRANSPARENT_HZ` the
  response relative to the warp (the Woodworth ear-path delay of the fitted head radius)
  becomes exactly that, with the same raised-cosine blend up to
  :data:`~spatialmw.kernels.corrector.LF_CORRECTED_HZ` that the engine applies
  (:func:`~spatialmw.kernels.corrector.lf_blend`).

Fitting (:mod:`spatialmw.train.fit_hrtf`) and evaluation use the conditioned set, so what
the model learns and what it is judged against are the same thing.
"""
from __future__ import annotations

from dataclasses import replace

import numpy as np

from ..geometry import SPEED_OF_SOUND
from ..kernels.corrector import lf_blend

LEVEL_BAND_HZ = (250.0, 500.0)


def residual_delay(hset, head_radius: float) -> np.ndarray:
    """(M, 2) seconds: where the warp puts each ear's arrival in the set's IR time frame
    (Woodworth ear path / c, minus the set's time offset)."""
    return hset.ear_path_lengths(head_radius) / SPEED_OF_SOUND - hset.time_offset(head_radius)


def condition_hrirs(hset, head_radius: float, n_fft: int = 1024):
    """(conditioned set, level_db): the set scaled to 0 dB in :data:`LEVEL_BAND_HZ` and made
    head-transparent below the crossover (processed on ``n_fft`` points, returned with the
    measured IRs' length). ``level_db`` is the gain that was removed."""
    if hset.n_taps > n_fft:
        raise ValueError(f"{hset.source}: {hset.n_taps}-tap HRIRs exceed the {n_fft}-point frame")
    fs = hset.sample_rate
    f = np.fft.rfftfreq(n_fft, 1.0 / fs)
    shift = residual_delay(hset, head_radius)
    spin = np.exp(2j * np.pi * f * shift[..., None])
    g = np.fft.rfft(hset.hrirs, n_fft, axis=-1) * spin      # response relative to the warp
    band = (f >= LEVEL_BAND_HZ[0]) & (f <= LEVEL_BAND_HZ[1])
    level = float(np.mean(np.log(np.abs(g[..., band]) + 1e-30)))
    g = g * np.exp(-level)
    b = lf_blend(f)
    low = b < 1.0
    g[..., low] = np.exp(b[low] * (np.log(np.abs(g[..., low]) + 1e-30) + 1j * np.angle(g[..., low])))
    h = np.fft.irfft(g / spin, n_fft, axis=-1)[..., :hset.n_taps]
    return replace(hset, hrirs=np.ascontiguousarray(h)), 20.0 * level / np.log(10.0)
