"""Paired mono/binaural recordings (Binaural Speech dataset layout, Richard et al. 2021).

Layout: ``DIR/<subject>/{mono.wav, binaural.wav, tx_positions.txt}`` (``DIR`` may itself be
one subject folder). Audio at 48 kHz, mono 1 channel, binaural 2 channels (left, right).
``tx_positions.txt``: one row per 400 samples (120 Hz), ``x y z qx qy qz qw`` = transmitter
position / orientation; receiver at the origin facing +x, dataset axes x forward, y RIGHT,
z up. Conversion to native (y left): position (x, -y, z); orientation quaternion
(-qx, qy, -qz, qw) (a mirror flips the sense of rotation, cf. geometry.to_native_quaternion).
The orientation (the talker's mouth direction) is read, converted and validated, but the
IBC is a function of the source direction from the listener only, so it is not used.

Fit: the mono signal is time-domain warped per ear by the engine's own warp
(:func:`spatialmw.geometry.tdw_ear_targets` for the Woodworth delay and near-field gain of
each sample, positions linearly interpolated between rows, read by
:func:`spatialmw.kernels.tdw.tdw_block` with the engine's 16-tap windowed sinc), both the
warped ears W_e and the recorded binaural Y_e go through a sqrt-Hann STFT
(:func:`spatialmw.metrics.stft`: n_fft 512, hop 256, sqrt-Hann, frames from sample 0),
and the IBC gain G_e(frame direction, bin)
is fitted by robust complex least squares: rho(|G W - Y|^2 / (|W|^2 + d)) with a Cauchy rho,
i.e. G ~= Y / W where W has energy, outliers (noise, reverb, clicks) down-weighted.
Row i of tx_positions is at sample 400 i. Rows: between floor(n/400) and ceil(n/400) + 1.

Known gap: unlike ``spatialmw fit --sofa``, this fit is not trained through the engine's
shaping of the gains (:mod:`spatialmw.kernels.corrector`: impulse response within the frame,
transparent bass), and it warps with the near-field ear gains the engine drops when the
corrector is on; the engine applies the shaping to whatever this fit learns.
"""
from __future__ import annotations

import math
import time
from pathlib import Path

import numpy as np
from numba import njit

from .. import metrics
from ..geometry import SPEED_OF_SOUND, tdw_ear_targets
from ..kernels.plan import HOP, N_FFT   # the paired recordings are framed as the engine's hops
from ..kernels.tdw import SINC_TAPS, sinc_table, tdw_block
from .fit_hrtf import FitError, check_steps, default_grid, interp_matrix

SAMPLE_RATE = 48000
ROW_SAMPLES = 400


# ----------------------------------------------------------------- I/O

def _read_wav(path: Path, channels: int):
    import warnings

    from scipy.io import wavfile

    try:
        # scipy warns (WavFileWarning) about chunks it skips, such as the LIST/metadata
        # chunks recorders and ffmpeg add; they carry no audio, and the checks below
        # report everything that matters as a FitError
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", wavfile.WavFileWarning)
            sr, x = wavfile.read(str(path))
    except FileNotFoundError:
        raise FitError(f"{path}: missing") from None
    except Exception as exc:  # noqa: BLE001 - any parse failure
        raise FitError(f"{path}: cannot read WAV ({exc})") from None
    if sr != SAMPLE_RATE:
        raise FitError(f"{path}: sample rate {sr} Hz, expected {SAMPLE_RATE}")
    if x.dtype.kind == "i":
        x = x.astype(np.float64) / float(np.iinfo(x.dtype).max)
    elif x.dtype.kind == "u":
        x = (x.astype(np.float64) - 128.0) / 128.0
    else:
        x = x.astype(np.float64)
    x = x[:, None] if x.ndim == 1 else x
    if x.shape[1] != channels:
        raise FitError(f"{path}: {x.shape[1]} channel(s), expected {channels}")
    if x.shape[0] < N_FFT:
        raise FitError(f"{path}: only {x.shape[0]} samples")
    if not np.all(np.isfinite(x)):
        raise FitError(f"{path}: contains NaN or Inf samples")
    return x.T.copy()


def dataset_to_native(rows: np.ndarray):
    """(n, 7) dataset rows -> native positions (n, 3) and quaternions (n, 4)."""
    pos = rows[:, 0:3] * np.array([1.0, -1.0, 1.0])
    q = rows[:, 3:7] * np.array([-1.0, 1.0, -1.0, 1.0])
    return pos, q


def read_subject(folder):
    """mono (n,), binaural (2, n), native positions (rows, 3), quaternions (rows, 4)."""
    folder = Path(folder)
    if not folder.is_dir():
        raise FitError(f"{folder}: not a directory")
    for name in ("mono.wav", "binaural.wav", "tx_positions.txt"):
        if not (folder / name).is_file():
            raise FitError(f"{folder}: missing {name}")
    mono = _read_wav(folder / "mono.wav", 1)[0]
    binaural = _read_wav(folder / "binaural.wav", 2)
    if mono.shape[0] != binaural.shape[1]:
        raise FitError(f"{folder}: mono has {mono.shape[0]} samples, binaural {binaural.shape[1]}")
    try:
        rows = np.loadtxt(folder / "tx_positions.txt", dtype=np.float64, ndmin=2)
    except Exception as exc:  # noqa: BLE001
        raise FitError(f"{folder}/tx_positions.txt: cannot parse ({exc})") from None
    if rows.ndim != 2 or rows.shape[1] != 7:
        raise FitError(f"{folder}/tx_positions.txt: rows must have 7 values (x y z qx qy qz qw), got {rows.shape}")
    n = mono.shape[0]
    lo, hi = n // ROW_SAMPLES, -(-n // ROW_SAMPLES) + 1
    if not (lo <= rows.shape[0] <= hi):
        raise FitError(f"{folder}/tx_positions.txt: {rows.shape[0]} rows for {n} samples "
                       f"(one row per {ROW_SAMPLES} samples: expected {lo}..{hi})")
    if not np.all(np.isfinite(rows)):
        raise FitError(f"{folder}/tx_positions.txt: NaN or Inf")
    pos, q = dataset_to_native(rows)
    d = np.linalg.norm(pos, axis=1)
    if np.any(d < 0.05) or np.any(d > 1000.0):
        raise FitError(f"{folder}/tx_positions.txt: source distance outside 0.05..1000 m")
    qn = np.linalg.norm(q, axis=1)
    if np.any(qn < 1e-6):
        raise FitError(f"{folder}/tx_positions.txt: zero-length quaternion")
    return mono, binaural, pos, q / qn[:, None]


def find_subjects(dataset_dir):
    root = Path(dataset_dir)
    if not root.is_dir():
        raise FitError(f"{root}: dataset directory not found")
    if (root / "mono.wav").exists() or (root / "binaural.wav").exists():
        return [root]
    subs = sorted(p for p in root.iterdir() if p.is_dir())
    if not subs:
        raise FitError(f"{root}: no subject folders (expected <subject>/mono.wav, binaural.wav, tx_positions.txt)")
    return subs


# ----------------------------------------------------------------- DSP

def sample_positions(pos_rows: np.ndarray, n: int) -> np.ndarray:
    t = np.arange(n, dtype=np.float64) / ROW_SAMPLES
    r = np.arange(pos_rows.shape[0], dtype=np.float64)
    return np.stack([np.interp(t, r, pos_rows[:, i]) for i in range(3)], axis=1)


@njit(cache=True)
def _warp_ears(ring, mask, pos, head_radius, fs, c, table, out):
    for t in range(pos.shape[0]):
        dl, dr, gl, gr, _ = tdw_ear_targets(pos[t], head_radius, c, True)
        tdw_block(ring, mask, t, 1, dl * fs, dl * fs, gl, gl, table, out[0], t)
        tdw_block(ring, mask, t, 1, dr * fs, dr * fs, gr, gr, table, out[1], t)


def tdw_warp(x: np.ndarray, pos: np.ndarray, head_radius: float, fs: float = SAMPLE_RATE):
    """Per-ear warped signals (2, n): nf_e(t) x(t - path_e(t)/c) as the engine computes
    them (full acoustic path, Doppler on), each sample's own delay and gain, zero before
    the start. ``pos`` per-sample native positions (n, 3)."""
    x = np.asarray(x, dtype=np.float64)
    pos = np.ascontiguousarray(pos, dtype=np.float64)
    n = x.shape[0]
    if pos.shape != (n, 3):
        raise ValueError(f"positions must have shape ({n}, 3), got {pos.shape}")
    # zeros after x cover the reader's look-ahead and, wrapped, every delay before the start
    max_path = float(np.max(np.linalg.norm(pos, axis=1))) + 4.0 * head_radius
    max_delay = max_path / SPEED_OF_SOUND * fs
    ring = np.zeros(1 << int(math.ceil(math.log2(n + max_delay + 4 * SINC_TAPS))))
    ring[:n] = x
    out = np.zeros((2, n))
    _warp_ears(ring, ring.size - 1, pos, float(head_radius), float(fs), SPEED_OF_SOUND, sinc_table(), out)
    return out


def stft(x: np.ndarray) -> np.ndarray:
    """(..., n) -> (..., frames, 257): the engine's analysis, sqrt-Hann, hop 256, frames
    starting at sample 0."""
    return np.swapaxes(metrics.stft(x, N_FFT, HOP, N_FFT, window="sqrt-hann", center=False), -1, -2)


def istft(X: np.ndarray, n: int) -> np.ndarray:
    """Inverse of :func:`stft` (sqrt-Hann synthesis, overlap-add)."""
    win = np.sqrt(np.hanning(N_FFT + 1)[:-1])
    frames = np.fft.irfft(X, N_FFT, axis=-1) * win
    out = np.zeros(X.shape[:-2] + (n,))
    for t in range(X.shape[-2]):
        a = t * HOP
        b = min(a + N_FFT, n)
        out[..., a:b] += frames[..., t, :b - a]
    return out


def frame_centres(n_frames: int) -> np.ndarray:
    return np.arange(n_frames) * HOP + N_FFT / 2.0


# ----------------------------------------------------------------- data set

def build_pairs(dataset_dir, head_radius: float):
    """STFTs of warped mono (2, T, 257), of binaural (2, T, 257), frame positions (T, 3)."""
    W_all, Y_all, P_all = [], [], []
    for sub in find_subjects(dataset_dir):
        mono, binaural, pos_rows, _ = read_subject(sub)
        n = mono.shape[0]
        pos = sample_positions(pos_rows, n)
        w = tdw_warp(mono, pos, head_radius)
        W = stft(w)
        Y = stft(binaural)
        fc = np.minimum(frame_centres(W.shape[1]), n - 1).astype(np.int64)
        W_all.append(W)
        Y_all.append(Y)
        P_all.append(pos[fc])
    return (np.concatenate(W_all, axis=1), np.concatenate(Y_all, axis=1), np.concatenate(P_all, axis=0))


def fit_binaural_speech(dataset_dir, out_path, *, init_model=None, steps=1500, seed=0, progress=True,
                        batch_frames=256, lr=2e-3, holdout_fraction=0.1, head_radius=None,
                        grid_points=96, hidden=32, layers=2, n_dir=128, n_freq=32, threads=1, dir_scale=2.0) -> dict:
    """Fit (or fine-tune ``init_model``: a path or LiteINNModel) the IBC to paired
    recordings; saves the model and returns metrics on held-out frames (the last
    ``holdout_fraction`` of frames, never used for fitting): robust loss and complex
    relative error before/after, plus frame-ILD error (dB)."""
    import torch

    from ..kernels.ibc import ACT_SIN, HEADER_LEN
    from ..model import LiteINNModel, load_model, save_model
    from .torch_model import TorchIBC, make_dims, training_step

    check_steps(steps)
    t0 = time.time()
    torch.set_num_threads(int(threads))
    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    base = None
    if init_model is not None:
        base = init_model if isinstance(init_model, LiteINNModel) else load_model(init_model)
    a = float(head_radius if head_radius is not None else (base.head_radius if base else 0.0875))
    W, Y, P = build_pairs(dataset_dir, a)
    n_frames = W.shape[1]
    if n_frames < 8:
        raise FitError(f"{dataset_dir}: only {n_frames} STFT frames; need at least 8")
    dist = np.linalg.norm(P, axis=1)
    u = P / dist[:, None]
    n_test = max(1, int(round(n_frames * holdout_fraction)))
    tr = np.arange(n_frames - n_test)
    te = np.arange(n_frames - n_test, n_frames)
    grid = base.grid_hz.copy() if base else default_grid(grid_points)
    f_bins = np.fft.rfftfreq(N_FFT, 1.0 / SAMPLE_RATE)
    A = torch.tensor(interp_matrix(grid, f_bins).T, dtype=torch.float32)
    r_lo, r_hi = float(dist[tr].min()), float(dist[tr].max())
    if base is not None:
        dims = base.dims.copy()
        theta0 = base.theta.copy()
        r_ref = theta0[0]
        theta0[1] = min(theta0[1], math.log(r_lo / r_ref))
        theta0[2] = max(theta0[2], math.log(r_hi / r_ref))
        net = TorchIBC.from_theta(theta0, dims, dtype=torch.float32)
    else:
        dims = make_dims(n_dir=n_dir, n_freq=n_freq, hidden=hidden, layers=layers, act=ACT_SIN)
        r_ref = float(np.median(dist[tr]))
        net = TorchIBC(dims, r_ref=r_ref, rho_min=math.log(r_lo / r_ref), rho_max=math.log(r_hi / r_ref), seed=seed,
                        dir_scale=dir_scale)
    Wt = torch.tensor(np.stack([W.real, W.imag]), dtype=torch.float32)   # (2, ear, T, F)
    Yt = torch.tensor(np.stack([Y.real, Y.imag]), dtype=torch.float32)
    wpow = (W.real ** 2 + W.imag ** 2)
    delta = torch.tensor(1e-3 * wpow.mean(axis=1, keepdims=True) + 1e-12, dtype=torch.float32)  # (ear,1,F)
    ut = torch.tensor(u, dtype=torch.float32)
    dt = torch.tensor(dist, dtype=torch.float64)
    gt = torch.tensor(grid, dtype=torch.float64)

    def losses(sel, with_grad=True):
        y = net.network(ut[sel], dt[sel], gt)               # (B, K, 4); the mirror blend is applied at inference, as in fit_hrtf
        yf = torch.einsum("bko,kf->bof", y, A)              # (B, 4, F)
        amp = torch.exp(torch.clamp(yf[:, 0::2], max=6.0)).transpose(0, 1)   # (ear, B, F)
        ph = yf[:, 1::2].transpose(0, 1)
        gr, gi = amp * torch.cos(ph), amp * torch.sin(ph)
        wr, wi = Wt[0][:, sel], Wt[1][:, sel]
        rr = gr * wr - gi * wi - Yt[0][:, sel]
        ri = gr * wi + gi * wr - Yt[1][:, sel]
        wp = wr * wr + wi * wi
        e = (rr * rr + ri * ri) / (wp + delta)
        return torch.log1p(e / 0.25).mean(), (e * wp).sum() / ((Yt[0][:, sel] ** 2 + Yt[1][:, sel] ** 2).sum() + 1e-12), amp

    def ild_err(sel):
        with torch.no_grad():
            _, _, amp = losses(sel)
            yp = (amp.numpy() ** 2) * wpow[:, sel]
            ypt = np.abs(Y[:, sel]) ** 2
            ok = (f_bins >= 100) & (f_bins <= 16000)
            ip = 10 * np.log10(yp[..., ok].sum(-1)[0] + 1e-20) - 10 * np.log10(yp[..., ok].sum(-1)[1] + 1e-20)
            it = 10 * np.log10(ypt[..., ok].sum(-1)[0] + 1e-20) - 10 * np.log10(ypt[..., ok].sum(-1)[1] + 1e-20)
            return float(np.mean(np.abs(ip - it)))

    tet = torch.from_numpy(te)
    with torch.no_grad():
        before = [float(x) for x in losses(tet)[:2]]
    ild_before = ild_err(tet)
    opt = torch.optim.Adam(net.parameters(), lr=lr)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, max(steps, 1), eta_min=lr * 0.05)
    bar = None
    if progress:
        from tqdm import tqdm
        bar = tqdm(total=steps, desc="fit IBC (paired)", unit="step")
    bsz = min(batch_frames, tr.size)
    for step in range(steps):
        sel = torch.from_numpy(rng.choice(tr, bsz, replace=False))
        loss, _, _ = losses(sel)
        training_step(loss, opt, sched, bar)
        if bar is not None and step % 25 == 0:
            bar.set_postfix(loss=f"{loss.item():.4f}")
    if bar is not None:
        bar.close()
    with torch.no_grad():
        after = [float(x) for x in losses(tet)[:2]]
    ild_after = ild_err(tet)
    theta = net.to_theta()
    metrics = {"heldout_frames": int(te.size), "train_frames": int(tr.size),
               "robust_loss_before": before[0], "robust_loss_after": after[0],
               "rel_complex_err_before": before[1], "rel_complex_err_after": after[1],
               "ild_err_db_before": ild_before, "ild_err_db_after": ild_after,
               "seconds": round(time.time() - t0, 1)}
    meta = dict(base.meta) if base else {}
    meta.update({"sample_rate": float(SAMPLE_RATE), "stft": {"n_fft": N_FFT, "hop": HOP, "window": "sqrt-hann"}})
    prov = dict(meta.get("provenance", {}))
    prov["paired_fit"] = {"dataset": str(dataset_dir), "steps": int(steps), "seed": int(seed), "lr": lr,
                          "init_model": None if base is None else str(prov.get("source", "model")),
                          "distance_range_m": [r_lo, r_hi], "metrics": metrics,
                          "loss": "Cauchy-robust complex LS |G W - Y|^2 / (|W|^2 + d)"}
    prov["parameter_count"] = int(theta.shape[0] - HEADER_LEN)
    meta["provenance"] = prov
    meta.setdefault("head_model", {})["radius"] = a
    model = LiteINNModel(theta=theta, dims=dims, grid_hz=grid, head_radius=a, meta=meta)
    save_model(model, out_path)
    return metrics
