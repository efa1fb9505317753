"""Per-source tone: occlusion/transmission, directivity and air absorption as one per-bin gain.

The corrector already multiplies every source's spectrum by per-bin gains, so a source's
frequency-dependent attenuation costs one complex multiply per bin when its corrector
target is set (each block for a moving source), nothing per sample. The tone of a source
has the log-magnitude

    ln|T(f)| = ln(g_low) w_low(f) + ln(g_mid) w_mid(f) + ln(g_high) w_high(f)
               - ln(10) / 20 * alpha(f) m

(the band gains blended in decibels) and its minimum phase, so it adds no pre-echo. Its
impulse response decays within about 1 ms, so multiplied into the corrector's 257-tap
response it stays (almost) inside the overlap-save frame.

* The band weights are second-order Butterworth power responses at :data:`LOW_BAND_HZ`
  and :data:`HIGH_BAND_HZ` (w_low = 1 / (1 + (f/f_low)^4), w_high = (f/f_high)^4 /
  (1 + (f/f_high)^4), w_mid = 1 - w_low - w_high), so equal gains are a plain gain. The
  game sets the three transmission gains (occlusion, walls: as Steam Audio's 3-band
  transmission); a directional source's cone scales ``g_high`` by its outer high-frequency
  gain (as EFX's AL_CONE_OUTER_GAINHF).
* alpha(f) is the ISO 9613-1 pure-tone absorption coefficient of air (dB/m) at
  :data:`AIR_TEMPERATURE_C`, :data:`AIR_HUMIDITY_PERCENT` and one atmosphere; ``m`` is the
  source's distance times its air-absorption factor (0: off).

The log-magnitude is linear in ln(g_low / g_mid), ln(g_high / g_mid) and m, and so is its
minimum phase (a Hilbert transform): the minimum phases of w_low, w_high and alpha are
computed once at creation (:func:`tone_tables_fill`), and a tone costs one exp, cos and sin
per bin (vectorised) when it changes audibly (:func:`tone_changed`). Cones follow OpenAL:
inside half the inner angle full gain, outside half the outer angle the outer gains,
linear in angle between.
"""
import math

from numba import njit

from .corrector import minimum_phase
from .ibc import fast_exp, fast_sin

LOW_BAND_HZ = 500.0     # low / mid crossover
HIGH_BAND_HZ = 5000.0   # mid / high crossover (EFX's high-frequency reference)
AIR_TEMPERATURE_C = 20.0
AIR_HUMIDITY_PERCENT = 50.0
AIR_REFERENCE_HZ = 8000.0   # where a change of air absorption is judged (TONE_AIR_STEP_DB)
MIN_TONE_GAIN = 1.0e-6       # -120 dB: a band set to 0 (its minimum phase needs a finite log)
TONE_STEP_DB = 0.25         # a band gain change (dB) that updates the corrector target
TONE_AIR_STEP_DB = 0.25     # an air-absorption change (dB at AIR_REFERENCE_HZ) that does


@njit(cache=True)
def air_absorption_db_per_m(f, temperature_c, humidity_percent):
    """ISO 9613-1 (1993) pure-tone atmospheric absorption coefficient at ``f`` Hz, dB per
    metre, at one standard atmosphere (101.325 kPa)."""
    t = temperature_c + 273.15
    t0 = 293.15
    t01 = 273.16
    psat = 10.0 ** (-6.8346 * (t01 / t) ** 1.261 + 4.6151)   # saturation pressure / 1 atm
    h = humidity_percent * psat                               # molar concentration of water, %
    fr_o = 24.0 + 4.04e4 * h * (0.02 + h) / (0.391 + h)
    fr_n = (t / t0) ** -0.5 * (9.0 + 280.0 * h * math.exp(-4.170 * ((t / t0) ** (-1.0 / 3.0) - 1.0)))
    f2 = f * f
    return 8.686 * f2 * (1.84e-11 * (t / t0) ** 0.5 + (t / t0) ** -2.5 * (
        0.01275 * math.exp(-2239.1 / t) / (fr_o + f2 / fr_o)
        + 0.1068 * math.exp(-3352.0 / t) / (fr_n + f2 / fr_n)))


# tone table rows (each nbins long): the band weights, their minimum phases, alpha's
T_W_LOW, T_W_HIGH, T_PHI_LOW, T_PHI_HIGH, T_PHI_AIR = 0, 1, 2, 3, 4
TONE_TABLE_ROWS = 5


@njit(cache=True)
def tone_tables_fill(sample_rate, n_fft, table, alpha, cos, sin, rev, re, im):
    """``table`` (TONE_TABLE_ROWS x nbins, rows T_*) and ``alpha`` (nbins): the air's
    absorption in dB per metre per bin. ``cos``/``sin``/``rev``: FFT tables for ``n_fft``;
    ``re``/``im``: scratch of ``n_fft``."""
    nbins = n_fft // 2 + 1
    for k in range(nbins):
        f = k * sample_rate / n_fft
        table[T_W_LOW * nbins + k] = 1.0 / (1.0 + (f / LOW_BAND_HZ) ** 4)
        x = (f / HIGH_BAND_HZ) ** 4
        table[T_W_HIGH * nbins + k] = x / (1.0 + x)
        alpha[k] = air_absorption_db_per_m(f, AIR_TEMPERATURE_C, AIR_HUMIDITY_PERCENT)
    for src, dst in ((T_W_LOW, T_PHI_LOW), (T_W_HIGH, T_PHI_HIGH), (-1, T_PHI_AIR)):
        for k in range(nbins):
            re[k] = alpha[k] if src < 0 else table[src * nbins + k]
        minimum_phase(re, im, cos, sin, rev)
        for k in range(nbins):
            table[dst * nbins + k] = im[k]


@njit(cache=True)
def cone_weight(cos_angle, inner_deg, outer_deg):
    """0 inside half the inner angle, 1 outside half the outer angle, linear in angle
    between (OpenAL). ``cos_angle``: cosine of the angle between the source's forward axis
    and the direction to the listener."""
    if inner_deg >= 360.0 and outer_deg >= 360.0:
        return 0.0
    angle = math.degrees(math.acos(min(1.0, max(-1.0, cos_angle))))
    half_in = 0.5 * inner_deg
    half_out = 0.5 * outer_deg
    if angle <= half_in:
        return 0.0
    if angle >= half_out or half_out <= half_in:
        return 1.0
    return (angle - half_in) / (half_out - half_in)


@njit(cache=True, inline="always")
def set_flat_tone(f64, at):
    """The four tone values (low, mid, high, air) of no tone, at ``f64[at:at + 4]``."""
    f64[at] = 1.0
    f64[at + 1] = 1.0
    f64[at + 2] = 1.0
    f64[at + 3] = 0.0


@njit(cache=True, inline="always")
def tone_is_flat(g_low, g_mid, g_high, air_m):
    return g_low == 1.0 and g_mid == 1.0 and g_high == 1.0 and air_m == 0.0


@njit(cache=True)
def tone_changed(old, g_low, g_mid, g_high, air_m, alpha_ref):
    """Whether a tone (the band gains and the air path ``air_m``) differs audibly from
    ``old`` (the same four values as last applied): a band by more than TONE_STEP_DB, or
    the air by more than TONE_AIR_STEP_DB at AIR_REFERENCE_HZ (``alpha_ref`` dB/m there).
    Between updates the corrector's gains glide from one target to the next."""
    return (_step_db(g_low, old[0]) > TONE_STEP_DB or _step_db(g_mid, old[1]) > TONE_STEP_DB
            or _step_db(g_high, old[2]) > TONE_STEP_DB
            or alpha_ref * abs(air_m - old[3]) > TONE_AIR_STEP_DB)


@njit(cache=True, inline="always")
def _step_db(a, b):
    return 8.685889638 * abs(math.log(max(a, MIN_TONE_GAIN) / max(b, MIN_TONE_GAIN)))


@njit(cache=True, fastmath=True, boundscheck=False)
def tone_response(table, alpha, g_low, g_mid, g_high, air_m, out):
    """``out`` (2 nbins, re and im per bin) = the minimum-phase tone T(f) (module docstring),
    through the corrector's polynomial ``fast_exp`` and ``fast_sin`` (:mod:`.ibc`): libm's
    scalar exp, cos and sin per bin were 9 % of the render of moving sources with every
    feature on, and these vectorise."""
    nbins = alpha.shape[0]
    lm = math.log(max(g_mid, MIN_TONE_GAIN))
    dl = math.log(max(g_low, MIN_TONE_GAIN)) - lm
    dh = math.log(max(g_high, MIN_TONE_GAIN)) - lm
    da = -air_m * math.log(10.0) / 20.0
    for k in range(nbins):
        mag = lm + dl * table[T_W_LOW * nbins + k] + dh * table[T_W_HIGH * nbins + k] + da * alpha[k]
        phase = dl * table[T_PHI_LOW * nbins + k] + dh * table[T_PHI_HIGH * nbins + k] + da * table[T_PHI_AIR * nbins + k]
        m = fast_exp(mag)
        out[2 * k] = m * fast_sin(phase + 0.5 * math.pi)
        out[2 * k + 1] = m * fast_sin(phase)


@njit(cache=True, fastmath=True, boundscheck=False)
def apply_tone(gains, tone, nbins):
    """Multiply ``gains`` (4 nbins: left re, im, right re, im) by ``tone`` (2 nbins, complex
    per bin; float32 or float64); both ears get the same factor."""
    for k in range(nbins):
        tr = tone[2 * k]
        ti = tone[2 * k + 1]
        for e in range(2):
            i = 4 * k + 2 * e
            gr = gains[i]
            gi = gains[i + 1]
            gains[i] = gr * tr - gi * ti
            gains[i + 1] = gr * ti + gi * tr
