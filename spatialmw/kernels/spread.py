"""Source spread: a wider source, towards diffuse, by decorrelating the ears with all-passes.

A source's spread (0..360 degrees, as FMOD's and Wwise's) sets w = spread / 360. After the
warp, each ear's signal passes through a cascade of four all-pass sections

    H(z) = (k + z^-D) / (1 + k z^-D),   k = K_MAX - (K_MAX - K_MIN) w

with different, mutually prime delays D per ear (:data:`DELAYS_48K`, 0.9..5.5 ms, scaled
with the sample rate). Every section is all-pass at every k, so neither ear's spectrum is
coloured (no comb filtering: no delayed copy is added to the signal). A point source
(w = 0) skips the cascade and costs nothing. A spread that changes ramps k across the
block; one that starts or stops fades the cascade's input in or out over one block (its
echoes then ring out), so nothing switches with a step (:func:`spread_block`). As w grows the ears' echo patterns diverge and the
interaural coherence falls (for noise 2 m ahead, octaves 500 Hz-8 kHz: about 0.98 at 0,
0.6 at 90, 0.4 at 180 and 0.2 at 360 degrees); transients gain a diffuse tail of up to
~20 ms, as a wide source's would.

The corrector's per-bin gains then apply the source's direction to both decorrelated ears.
Spread needs the corrector (per-source staging); without it the setting is ignored.
"""
import math

from numba import njit

DELAYS_48K = ((43, 97, 151, 223), (71, 127, 181, 263))   # left, right
N_SECTIONS = 4
K_MAX = 0.95       # the smallest spread: nearer 1 the sections ring on and their history grows
K_MIN = 0.75
TAIL_SAMPLES = 24576   # a stopped spread rings out this long (0.5 s at 48 kHz: its echoes are > 100 dB down)


@njit(cache=True)
def spread_ring_len(sample_rate):
    """Per-section history: a power of two longer than the longest delay."""
    need = int(round(DELAYS_48K[1][N_SECTIONS - 1] * sample_rate / 48000.0)) + 1
    n = 1
    while n < need:
        n *= 2
    return n


@njit(cache=True, inline="always")
def section_k(w):
    """The sections' coefficient for a spread weight w > 0."""
    return K_MAX - (K_MAX - K_MIN) * w


@njit(cache=True, fastmath=True, boundscheck=False)
def spread_block(buf, base, stride, frames, ring, ring_len, ear, pos, sample_rate, k0, k1, g0, g1):
    """In place: ``buf[base + i * stride]`` (i < frames, one ear) becomes
    (1 - g) x + H_k(g x), with k ramped from ``k0`` to ``k1`` and the cascade's input gain g
    from ``g0`` to ``g1`` across the block: a spread that starts fades its input in from an
    empty history (g 0 -> 1), one that stops fades it out (1 -> 0) and lets the cascade ring
    out (g 0) until :data:`TAIL_SAMPLES` have passed, so nothing starts or stops with a step.
    ``ring``: this ear's N_SECTIONS x ring_len history (float32); ``pos``: samples processed
    before this block."""
    mask = ring_len - 1
    if k0 == k1 and g0 == 1.0 and g1 == 1.0:
        # steady spread (the common case): section by section, nothing ramps
        for s in range(N_SECTIONS):
            d = int(round(DELAYS_48K[ear][s] * sample_rate / 48000.0))
            r0 = s * ring_len
            for i in range(frames):
                t = pos + i
                old = ring[r0 + ((t - d) & mask)]
                v = buf[base + i * stride] - k0 * old
                ring[r0 + (t & mask)] = v
                buf[base + i * stride] = k0 * v + old
        return
    inv = 1.0 / frames   # a starting, stopping or changing spread (rare): ramp per sample
    for i in range(frames):
        t = pos + i
        a = 0.5 - 0.5 * math.cos(math.pi * (i + 1) * inv)   # raised cosine: no corners
        k = k0 + (k1 - k0) * a
        g = g0 + (g1 - g0) * a
        x = buf[base + i * stride]
        y = g * x
        for s in range(N_SECTIONS):
            d = int(round(DELAYS_48K[ear][s] * sample_rate / 48000.0))
            r0 = s * ring_len
            old = ring[r0 + ((t - d) & mask)]
            v = y - k * old
            ring[r0 + (t & mask)] = v
            y = k * v + old
        buf[base + i * stride] = (1.0 - g) * x + y
