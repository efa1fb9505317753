"""Print the sound issue's two open bounds and the fidelity they must not cost, for the
Lite-INN engine of this checkout on the held-out KEMAR directions, with the evaluation's own
functions (``spatialmw.evaluation``): pre-echo worst / median (game.pre_echo), median-plane
|ITD| median / p95 (game's vertical 1 rev/s circle), held-out LSD, ILD error, ITD error
(protocol.hrtf_scores on protocol.impulse_response). ``--worst N`` lists the N directions
with the most pre-echo; ``--bands`` splits the held-out LSD by octave band (each band's
share of the squared dB error, its rms and mean error, from metrics.lsd_db's difference),
and ``--train-every K`` adds the same for every K-th fitted direction (how much of the LSD
is the fit itself, how much the directions it never saw). ``--floors`` prints the LSD that
the corrector's structure leaves even to a perfect model: the measured responses as a
least-squares fit on the model's frequency grid, and cut to the corrector's impulse-response
window (as measured, and as their minimum-phase versions), then to the windows of hop 128
and of a 1024-point frame for comparison. ``--residual`` (renders every fitted direction,
about 6 minutes) prints what a per-direction residual table would add to the model: the dB
difference between the measured and the rendered response at every fitted direction,
weighted by inverse angle over the 3 nearest fitted directions, added to the model's
held-out response, at full resolution and least-squares fitted on the model's grid (before
the corrector's window, so a lower bound for such a model).

    PYTHONPATH=. .venv/bin/python scripts/sound_bounds.py [--worst 8] [--bands [--train-every 10]] [--floors] [--residual] [--fast]
"""
from __future__ import annotations

import argparse
import time
import warnings

import numpy as np

from spatialmw.evaluation import game as G
from spatialmw.evaluation.protocol import (IR_PRE, N_FFT, SR, hrtf_scores, impulse_response, itd_of_irs,
                                           QUICK_SPEECH_SECONDS)
from spatialmw.evaluation.run import _Setup
from spatialmw.metrics import _db_diff, lsd_db

BANDS_HZ = (100, 250, 500, 1000, 2000, 4000, 8000, 12000, 16000)


class _LiteInnOnly:
    """The game measurements' view of a setup with Lite-INN and the reference only."""

    def __init__(self, setup):
        self.s = setup

    def game_system(self, name):
        return self.s.game_system(name) if name in ("liteinn", "reference") else None


def _impulse(system, setup, idx):
    """(2, N_FFT) response of ``system`` at ``idx`` in protocol.impulse_response's frame, from
    one rendered impulse."""
    x = np.zeros(IR_PRE + setup.d0 + N_FFT + 1)
    x[IR_PRE] = 1.0
    y = system.render(x, idx)
    return y[setup.d0:setup.d0 + N_FFT].T


def band_table(name, irs, hrirs, freqs):
    """Print the LSD of ``irs`` against ``hrirs`` and its split over BANDS_HZ."""
    est = np.abs(np.fft.rfft(irs, N_FFT, axis=-1))
    ref = np.abs(np.fft.rfft(hrirs, N_FFT, axis=-1))
    d = _db_diff(est, ref, freqs, BANDS_HZ[0], BANDS_HZ[-1])
    f = freqs[(freqs >= BANDS_HZ[0]) & (freqs <= BANDS_HZ[-1])]
    sq = (d ** 2).mean(axis=(0, 1))
    print(f"{name}: LSD {lsd_db(est, ref, freqs):.3f} dB ({len(irs)} directions)")
    for lo, hi in zip(BANDS_HZ[:-1], BANDS_HZ[1:]):
        m = (f >= lo) & (f < hi) if hi < BANDS_HZ[-1] else (f >= lo)
        print(f"  {lo:5d}-{hi:5d} Hz: {m.sum():3d} bins, {100 * sq[m].sum() / sq.sum():5.1f} % of the squared "
              f"error, rms {np.sqrt(sq[m].mean()):.2f} dB, mean {d[..., m].mean():+.2f} dB")


def _db(mag):
    return 20 * np.log10(np.maximum(mag, 1e-12))


def _on_grid(values_db, model, freqs):
    """``values_db`` (..., F) as the least-squares fit (100 Hz - 16 kHz) on the model's
    frequency grid, read back at ``freqs``: what the corrector's gains can hold."""
    from spatialmw.train.fit_hrtf import interp_matrix
    a = interp_matrix(np.asarray(model.grid_hz), freqs)
    band = (freqs >= BANDS_HZ[0]) & (freqs <= BANDS_HZ[-1])
    coef = np.linalg.lstsq(a[band], values_db[..., band].reshape(-1, band.sum()).T, rcond=None)[0]
    return (a @ coef).T.reshape(values_db.shape)


def structure_floors(setup, model, idx, freqs):
    """Print the held-out LSD floors of the frequency grid and the corrector's window."""
    from spatialmw.kernels.corrector import ir_window, minimum_phase, modeling_delay
    from spatialmw.kernels.fft import fft_tables
    from spatialmw.kernels.plan import HOP as STFT_HOP, N_FFT as STFT_N
    from spatialmw.train.fit_hrtf import prepare

    ref = np.abs(np.fft.rfft(setup.hset.hrirs[idx], N_FFT, axis=-1))
    on_grid = 10 ** (_on_grid(_db(ref), model, freqs) / 20)
    print(f"floor, {len(model.grid_hz)}-point grid (least squares in dB): LSD {lsd_db(on_grid, ref, freqs):.3f} dB")
    te = prepare(setup.hset, model.head_radius, idx, setup.T)   # relative to the warp
    delay = modeling_delay(float(SR))
    shift = np.exp(-2j * np.pi * freqs * delay / SR)
    warp = ref / np.maximum(np.abs(te["G"]), 1e-12)
    cos, sin, rev = fft_tables(N_FFT)
    re, im = np.zeros(N_FFT), np.zeros(N_FFT)
    minph = np.empty_like(te["G"])
    for d in range(len(idx)):
        for e in range(2):
            re[:N_FFT // 2 + 1] = np.log(np.maximum(np.abs(te["G"][d, e]), 1e-12))
            minimum_phase(re, im, cos, sin, rev)
            minph[d, e] = np.exp(re[:N_FFT // 2 + 1] + 1j * im[:N_FFT // 2 + 1])
    frames = ((STFT_N, STFT_HOP, "the corrector's window"), (STFT_N, STFT_HOP // 2, "hop 128's window"),
              (2 * STFT_N, STFT_N, "a 1024-point frame's window"))
    for n, hop, what in frames:
        w = ir_window(n, hop, delay)
        for name, g in (("as measured", te["G"]), ("minimum phase", minph)):
            h = np.fft.irfft(g * shift, N_FFT, axis=-1)[..., :w.shape[0]] * w
            cut = np.abs(np.fft.rfft(h, N_FFT, axis=-1)) * warp
            print(f"floor, cut to {what} ({int((w > 0).sum())} taps), {name}: "
                  f"LSD {lsd_db(cut, ref, freqs):.3f} dB")


def residual_table(setup, sys_, model, idx, irs, freqs):
    """Print the held-out LSD of the model plus the fitted directions' interpolated residual
    (module docstring)."""
    fitted = np.setdiff1d(np.arange(len(setup.hset.hrirs)), idx)
    rendered = np.abs(np.fft.rfft([_impulse(sys_, setup, i) for i in fitted], N_FFT, axis=-1))
    res = _db(np.abs(np.fft.rfft(setup.hset.hrirs[fitted], N_FFT, axis=-1))) - _db(rendered)
    u = setup.hset.unit_vectors()
    cos = np.clip(u[idx] @ u[fitted].T, -1.0, 1.0)
    near = np.argsort(-cos, axis=1)[:, :3]
    w = 1.0 / (np.arccos(np.take_along_axis(cos, near, axis=1)) + 1e-3)
    w /= w.sum(axis=1, keepdims=True)
    ref = np.abs(np.fft.rfft(setup.hset.hrirs[idx], N_FFT, axis=-1))
    model_db = _db(np.abs(np.fft.rfft(irs, N_FFT, axis=-1)))
    for what, r in (("full resolution", res), (f"on the {len(model.grid_hz)}-point grid",
                                                _on_grid(res, model, freqs))):
        est = 10 ** ((model_db + np.einsum("dk,dkef->def", w, r[near])) / 20)
        print(f"model + residual table ({len(fitted)} fitted directions, 3 nearest, {what}): "
              f"LSD {lsd_db(est, ref, freqs):.3f} dB")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--worst", type=int, default=0)
    ap.add_argument("--fast", action="store_true",
                    help="responses from one rendered impulse (exact for the static, LTI corrector) "
                         "instead of the protocol's 1 s noise estimate")
    ap.add_argument("--bands", action="store_true")
    ap.add_argument("--train-every", type=int, default=0)
    ap.add_argument("--floors", action="store_true")
    ap.add_argument("--residual", action="store_true")
    args = ap.parse_args()
    warnings.simplefilter("ignore", RuntimeWarning)
    from spatialmw.geometry import DEFAULT_HEAD_RADIUS  # noqa: F401  (the model carries its own)
    from spatialmw.hrtf.sofa import default_sofa_path, read_sofa
    from spatialmw.model import default_model_path, load_model
    t0 = time.time()
    mpath = default_model_path()
    model = load_model(mpath)
    sofa = default_sofa_path()
    T = read_sofa(sofa, sample_rate=SR).time_offset(model.head_radius)
    setup = _Setup(str(sofa), str(mpath), False, None, T, model.head_radius, QUICK_SPEECH_SECONDS)
    sys_ = setup.systems["liteinn"]
    idx = setup.test_idx
    irs = np.array([_impulse(sys_, setup, i) if args.fast else impulse_response(sys_, setup.noise, i, setup.d0)
                    for i in idx])
    pre = np.array([G.pre_echo(sys_, setup, i) for i in idx])
    freqs = np.fft.rfftfreq(N_FFT, 1.0 / SR)
    H = np.fft.rfft(setup.hset.hrirs[idx], N_FFT, axis=-1)
    summ, _ = hrtf_scores(np.abs(np.fft.rfft(irs, N_FFT, axis=-1)), itd_of_irs(irs), H,
                          itd_of_irs(setup.hset.hrirs[idx]), freqs)
    mp = G.moving("vertical", 1.0, 2.0)(_LiteInnOnly(setup))["liteinn"]["median_plane_itd_us"]
    print(f"pre-echo worst {pre.max():.1f} dB, median {np.median(pre):.1f} dB | "
          f"median-plane ITD median {mp['median']:.1f} us, p95 {mp['p95']:.1f} us | "
          f"LSD {summ['lsd_db']:.3f} dB, ILD err {summ['ild_err_db']:.3f} dB, "
          f"ITD err {summ['itd_err_us']:.2f} us  ({len(idx)} directions, {time.time() - t0:.0f} s)")
    if args.bands:
        band_table("held-out", irs, setup.hset.hrirs[idx], freqs)
    if args.train_every:
        fitted = np.setdiff1d(np.arange(len(setup.hset.hrirs)), idx)[::args.train_every]
        band_table("fitted", np.array([_impulse(sys_, setup, i) for i in fitted]), setup.hset.hrirs[fitted], freqs)
    if args.floors:
        structure_floors(setup, model, idx, freqs)
    if args.residual:
        residual_table(setup, sys_, model, idx, irs, freqs)
    az, el = setup.hset.directions_deg[idx, 0], setup.hset.directions_deg[idx, 1]
    for j in np.argsort(pre)[::-1][:args.worst]:
        print(f"  index {idx[j]}: az {az[j]:.1f} el {el[j]:.1f}: pre-echo {pre[j]:.1f} dB")


if __name__ == "__main__":
    main()
