"""PNG plots of an evaluation: ILD/ITD against azimuth, per-direction errors, magnitude
responses at a few held-out directions."""
from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from .. import metrics as M
from .protocol import BAND, SYSTEMS


_STYLE = {"measured": dict(color="k", lw=2.0), "liteinn": dict(color="tab:blue"),
          "lod_bed": dict(color="tab:purple", ls=(0, (5, 1))),
          "tdw": dict(color="tab:orange", ls="--"), "nearest_hrir": dict(color="tab:green", ls=":"),
          "openal_soft": dict(color="tab:red", ls="-.")}


def make_plots(plots_dir, hset, eval_idx, H_meas, mags, itd_meas, per_direction, freqs, horiz=None):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    d = Path(os.fspath(plots_dir))
    d.mkdir(parents=True, exist_ok=True)
    files = []
    names = [k for k in SYSTEMS if k in per_direction]
    az = hset.directions_deg[eval_idx, 0]
    el = hset.directions_deg[eval_idx, 1]
    ild_meas = M.ild_band_db(np.abs(H_meas), freqs, *BAND)

    # 1. ILD / ITD vs azimuth
    fig, axes = plt.subplots(2, 2 if horiz is not None else 1, figsize=(13 if horiz else 7, 8),
                             squeeze=False)
    if horiz is not None:
        a = horiz["azimuth_deg"]
        held = np.isin(horiz["index"], eval_idx)
        for row, (what, unit) in enumerate((("ILD", "dB"), ("ITD", "µs"))):
            ax = axes[row, 0]
            ax.plot(a, horiz["measured"][row], label="measured", **_STYLE["measured"])
            for k in ("liteinn", "tdw", "openal_soft"):
                if k in horiz:
                    ax.plot(a, horiz[k][row], label=k, **_STYLE[k])
            ax.plot(a[held], horiz["measured"][row][held], "ko", ms=5, mfc="none",
                    label="held-out directions")
            ax.set_xlabel("azimuth (deg, + = left)")
            ax.set_ylabel(f"{what} ({unit})")
            ax.set_title(f"{what} on the horizontal plane (all {a.size} measured azimuths)")
            ax.grid(alpha=0.3)
            ax.legend(fontsize=8)
    col = axes.shape[1] - 1
    azs = np.mod(az + 180.0, 360.0) - 180.0
    for row, (what, unit, meas, key) in enumerate((("ILD", "dB", ild_meas, "ild_db"),
                                                    ("ITD", "µs", itd_meas, "itd_us"))):
        ax = axes[row, col]
        ax.plot(azs, meas, "ko", ms=6, mfc="none", label="measured")
        mk = {"liteinn": "x", "lod_bed": "2", "tdw": "+", "nearest_hrir": "1", "openal_soft": "."}
        for k in names:
            ax.plot(azs, per_direction[k][key], mk[k], color=_STYLE[k]["color"], label=k)
        ax.set_xlabel("azimuth (deg, + = left), all elevations")
        ax.set_ylabel(f"{what} ({unit})")
        ax.set_title(f"{what}, held-out directions ({eval_idx.size})")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    fig.tight_layout()
    f = d / "ild_itd_vs_azimuth.png"
    fig.savefig(f, dpi=110)
    plt.close(fig)
    files.append(str(f))

    # 2. LSD per held-out direction
    fig, axes = plt.subplots(2, 1, figsize=(max(8, 0.16 * eval_idx.size + 4), 7))
    x = np.arange(eval_idx.size)
    w = 0.8 / max(1, len(names))
    for i, k in enumerate(names):
        axes[0].bar(x + (i - (len(names) - 1) / 2) * w, per_direction[k]["lsd_db"], w,
                    color=_STYLE[k]["color"], label=k)
        axes[1].plot(x, per_direction[k]["itd_err_us"], "o-", ms=3, color=_STYLE[k]["color"], label=k)
    labels = [f"{a:.0f}/{e:.0f}" for a, e in zip(az, el)]
    for ax, yl in zip(axes, ("LSD (dB, raw, mean of ears)", "|ITD error| (µs)")):
        ax.set_xticks(x)
        ax.set_xticklabels(labels, rotation=90, fontsize=6)
        ax.set_ylabel(yl)
        ax.grid(alpha=0.3, axis="y")
        ax.legend(fontsize=8, ncol=4)
    axes[1].set_xlabel("held-out direction (azimuth/elevation, deg)")
    axes[0].set_title("Per-direction error vs measured KEMAR HRTF")
    fig.tight_layout()
    f = d / "lsd_per_direction.png"
    fig.savefig(f, dpi=110)
    plt.close(fig)
    files.append(str(f))

    # 3. magnitude responses at a few directions
    targets = [(0, 0), (90, 0), (180, 0), (45, 30), (300, -30), (0, 90)]
    u = hset.unit_vectors()[eval_idx]
    from ..geometry import spherical_to_cartesian
    picks = []
    for a_, e_ in targets:
        j = int(np.argmax(u @ spherical_to_cartesian(a_, e_)))
        if j not in picks:
            picks.append(j)
    picks = picks[:4]
    fig, axes = plt.subplots(len(picks), 2, figsize=(12, 2.8 * len(picks)), squeeze=False)
    sel = (freqs >= 50) & (freqs <= 20000)
    for r, j in enumerate(picks):
        for e, ear in enumerate(("left", "right")):
            ax = axes[r, e]
            ax.semilogx(freqs[sel], 20 * np.log10(np.abs(H_meas[j, e, sel]) + 1e-12),
                        label="measured", **_STYLE["measured"])
            for k in ("liteinn", "tdw", "openal_soft"):
                if k in mags:
                    ax.semilogx(freqs[sel], 20 * np.log10(mags[k][j, e, sel] + 1e-12),
                                label=k, **_STYLE[k])
            ax.set_title(f"az {az[j]:.0f}°, el {el[j]:.0f}° (index {eval_idx[j]}), {ear} ear", fontsize=9)
            ax.set_ylabel("dB")
            ax.grid(alpha=0.3, which="both")
            if r == len(picks) - 1:
                ax.set_xlabel("frequency (Hz)")
    axes[0, 0].legend(fontsize=8)
    fig.tight_layout()
    f = d / "magnitude_responses.png"
    fig.savefig(f, dpi=110)
    plt.close(fig)
    files.append(str(f))
    return files
