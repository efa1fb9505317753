"""The renderer's shared late reverb: an 8-line feedback delay network fed by per-source sends.

One reverb per renderer (its cost does not depend on the number of sources): each source
adds ``send * gain`` times its warped signal (both ears' mean, before distance attenuation:
the room answers a source's emitted level) into one mono input per block; the network's
two outputs are added to the dry mix.

* The input waits in a pre-delay line for the renderer's latency plus the pre-delay minus
  the shortest line, so the first echo comes ``max(pre_delay, shortest line)`` (23 ms)
  after the dry sound it belongs to.
* Eight delay lines of mutually prime lengths (:data:`LINE_LENGTHS_48K`, 23..47 ms,
  scaled with the sample rate) are mixed by an 8 x 8 Hadamard matrix (lossless), each line
  through a one-pole absorption filter whose gains at DC and Nyquist give decay times
  ``decay_time`` and ``decay_time * hf_ratio`` (Jot): 60 dB of decay in ``decay_time``
  at low and mid frequencies, faster at high frequencies.
* Left and right read the lines with orthogonal sign patterns, so the ears are
  decorrelated (interaural coherence near 0 above a few hundred hertz), as a diffuse field.

State (float64, :data:`STATE_LEN`) and buffers are regions of the engine pools; nothing
here allocates.
"""
import math

from numba import njit

N_LINES = 8
LINE_LENGTHS_48K = (1087, 1279, 1433, 1597, 1741, 1913, 2069, 2243)
LINE_LEN = 8192              # per line (power of two >= the longest line at 96 kHz)
MAX_PRE_DELAY_S = 0.5
DEFAULT_DECAY_TIME_S = 1.5
DEFAULT_PRE_DELAY_S = 0.02
DEFAULT_HF_RATIO = 0.5
DEFAULT_WET_GAIN = 1.0       # what a game gets when it sets the default settings (a renderer starts off: 0)
MIN_HF_RATIO = 0.1
MIN_DECAY_TIME_S = 0.1
MAX_DECAY_TIME_S = 20.0
MAX_WET_GAIN = 4.0
_SIGN_IN = (1.0, -1.0, 1.0, 1.0, -1.0, 1.0, -1.0, -1.0)
_SIGN_L = (1.0, -1.0, 1.0, -1.0, 1.0, -1.0, 1.0, -1.0)
_SIGN_R = (1.0, 1.0, -1.0, -1.0, 1.0, 1.0, -1.0, -1.0)

# state fields (float64)
R_DECAY = 0        # the settings as the game set them: decay time, pre-delay, hf ratio, wet gain
R_PRE_DELAY = 1
R_HF_RATIO = 2
R_WET = 3
R_WET_NOW = 4      # wet gain reached at the end of the last block (ramped)
R_POS = 5          # write position (samples processed), shared by the lines and the pre-delay
R_LENGTHS = 8      # 8 line lengths (samples)
R_LP = 16          # 8 absorption filter states
R_GDC = 24         # 8 absorption filters' gains and poles for the current settings (scratch)
R_POLE = 32
R_Y = 40           # 8 line outputs of the current sample (scratch)
STATE_LEN = 48


@njit(cache=True)
def pre_delay_len(sample_rate, latency):
    """Pre-delay ring length: a power of two holding the longest pre-delay plus the latency."""
    need = int(MAX_PRE_DELAY_S * sample_rate) + latency + 1
    n = 1
    while n < need:
        n *= 2
    return n


@njit(cache=True)
def reverb_init(state, sample_rate):
    """Lines scaled to ``sample_rate``, the default settings with the reverb off (wet 0)."""
    state[:] = 0.0
    for i in range(N_LINES):
        state[R_LENGTHS + i] = max(1, int(round(LINE_LENGTHS_48K[i] * sample_rate / 48000.0)))
    state[R_DECAY] = DEFAULT_DECAY_TIME_S
    state[R_PRE_DELAY] = DEFAULT_PRE_DELAY_S
    state[R_HF_RATIO] = DEFAULT_HF_RATIO


@njit(cache=True, fastmath=True, boundscheck=False)
def reverb_process(state, lines, pre, x, frames, sample_rate, latency, out):
    """Run ``frames`` input samples ``x`` through the reverb and add its stereo output into
    ``out`` (interleaved). ``lines``: N_LINES x LINE_LEN float32; ``pre``: the pre-delay
    ring (a power of two). Does nothing while the reverb is off and silent."""
    wet0 = state[R_WET_NOW]
    wet1 = state[R_WET]
    if wet0 == 0.0 and wet1 == 0.0:
        return
    pmask = pre.shape[0] - 1
    # the network's first echo takes its shortest line: the pre-delay line waits the rest
    wait = max(0, int(state[R_PRE_DELAY] * sample_rate) - int(state[R_LENGTHS]))
    delay = min(latency + wait, pmask)
    lmask = LINE_LEN - 1
    t_dc = state[R_DECAY]
    t_ny = t_dc * state[R_HF_RATIO]
    gdc = state[R_GDC:R_GDC + N_LINES]
    pole = state[R_POLE:R_POLE + N_LINES]
    y = state[R_Y:R_Y + N_LINES]
    for i in range(N_LINES):
        m = state[R_LENGTHS + i]
        a = 10.0 ** (-3.0 * m / (t_dc * sample_rate))
        b = 10.0 ** (-3.0 * m / (t_ny * sample_rate))
        pole[i] = (a - b) / (a + b)
        gdc[i] = a * (1.0 - pole[i])
    pos = int(state[R_POS])
    inv = 1.0 / frames
    norm = 1.0 / math.sqrt(N_LINES)
    for n in range(frames):
        pre[(pos + n) & pmask] = x[n]
        xin = pre[(pos + n - delay) & pmask]
        t = pos + n
        for i in range(N_LINES):
            v = lines[i * LINE_LEN + ((t - int(state[R_LENGTHS + i])) & lmask)]
            lp = gdc[i] * v + pole[i] * state[R_LP + i]
            state[R_LP + i] = lp
            y[i] = lp
        left = 0.0
        right = 0.0
        for i in range(N_LINES):
            left += _SIGN_L[i] * y[i]
            right += _SIGN_R[i] * y[i]
        _hadamard8(y)
        for i in range(N_LINES):
            lines[i * LINE_LEN + (t & lmask)] = y[i] * norm + _SIGN_IN[i] * xin
        w = wet0 + (wet1 - wet0) * (n + 1) * inv
        out[2 * n] += w * norm * left
        out[2 * n + 1] += w * norm * right
    state[R_POS] = float(pos + frames)
    state[R_WET_NOW] = wet1


@njit(cache=True, inline="always")
def _hadamard8(y):
    """y = H8 y (unnormalised Sylvester Hadamard: three butterfly stages)."""
    h = 1
    while h < N_LINES:
        for i in range(0, N_LINES, 2 * h):
            for j in range(i, i + h):
                a = y[j]
                b = y[j + h]
                y[j] = a + b
                y[j + h] = a - b
        h *= 2
