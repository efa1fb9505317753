"""The low-latency hops' fidelity (``make eval``'s "low latency" rows).

A renderer created with ``hop_frames`` 128 or 64 (:data:`spatialmw.defaults.HOP_FRAMES_CHOICES`)
runs the same corrector filters in more, shorter overlap-save hops: algorithmic latency
hop + the 12-sample modelling delay (140 and 76 frames at 48 kHz against the default's 268).
These rows check that nothing else changes. Each low-latency hop renders the evaluated
held-out directions through the real :class:`spatialmw.engine.Engine` and is scored with
the protocol's own estimator (:func:`.protocol.impulse_response` then
:func:`.protocol.hrtf_scores`, so LSD is ``metrics.lsd_db`` against the measured HRTF, as
Lite-INN's row), and static tones' THD+N as the game measurement scores the default
(:func:`.game.thdn_row`). The default hop's row is Lite-INN's own results, not rendered again.
The issue's goal: a latency of at most 256 frames with LSD within 0.1 dB of the default.
"""
from __future__ import annotations

import numpy as np

from ..defaults import HOP_FRAMES, HOP_FRAMES_CHOICES
from .game import thdn_row
from .protocol import N_FFT, hrtf_scores, impulse_response, itd_of_irs
from .systems import EngineSystem

LOW_HOPS = tuple(h for h in HOP_FRAMES_CHOICES if h != HOP_FRAMES)   # rendered here (128, 64)
THD_FREQS = (50, 1000, 4000)
LSD_GOAL_DB = 0.1        # within this of the default hop's LSD


def render_hop(setup, hop: int, directions) -> dict:
    """Lite-INN at ``hop``: its latency, the impulse responses at ``directions`` (D, 2,
    N_FFT, as :func:`.protocol.impulse_response`) and its THD+N row."""
    s = EngineSystem(f"liteinn_hop{hop}", setup.hset, setup.model_path, True, hop=hop)
    irs = np.array([impulse_response(s, setup.noise, int(i), setup.d0) for i in directions])
    return {"latency_frames": int(s.latency), "irs": irs, **thdn_row(s, THD_FREQS)}


def hop_row(irs, latency_frames, thdn, H_meas, itd_meas, freqs) -> dict:
    """One hop's scores: LSD, EQ-matched LSD, ILD and ITD errors (:func:`.protocol.hrtf_scores`),
    its latency and its THD+N at :data:`THD_FREQS` (taken from ``thdn``)."""
    summary, _ = hrtf_scores(np.abs(np.fft.rfft(irs, N_FFT, axis=-1)), itd_of_irs(irs), H_meas, itd_meas, freqs)
    return {"hop_frames": None, "latency_frames": int(latency_frames), **summary,
            **{f"thdn_{f}hz_db": thdn.get(f"thdn_{f}hz_db") for f in THD_FREQS}}


def low_latency_rows(default_irs, default_latency, default_thdn, rendered, H_meas, itd_meas, freqs) -> dict:
    """{"hop_<h>": row} for every hop, default first; each row also holds
    ``lsd_vs_default_db`` (its LSD minus the default's) and ``meets_goal`` (within
    :data:`LSD_GOAL_DB` of the default, latency at most 256 frames). ``rendered``: {hop:
    :func:`render_hop` result} of :data:`LOW_HOPS`."""
    rows = {HOP_FRAMES: hop_row(default_irs, default_latency, default_thdn, H_meas, itd_meas, freqs)}
    for hop in LOW_HOPS:
        r = rendered[hop]
        rows[hop] = hop_row(r["irs"], r["latency_frames"], r, H_meas, itd_meas, freqs)
    base = rows[HOP_FRAMES]["lsd_db"]
    out = {}
    for hop, row in rows.items():
        row["hop_frames"] = hop
        row["lsd_vs_default_db"] = row["lsd_db"] - base
        row["meets_goal"] = bool(abs(row["lsd_vs_default_db"]) <= LSD_GOAL_DB and row["latency_frames"] <= 256)
        out[f"hop_{hop}"] = row
    return out


def table_rows(low: dict) -> list[list[str]]:
    """README-ready rows (hop, latency, LSD, LSD vs default, THD+N per tone as L / R)."""
    def f(v, fmt):
        return "n/a" if v is None else fmt.format(v)
    rows = []
    for row in low.values():
        rows.append([str(row["hop_frames"]), str(row["latency_frames"]), f(row["lsd_db"], "{:.3f}"),
                     f(row["lsd_vs_default_db"], "{:+.3f}")]
                    + [" / ".join(f(x, "{:.1f}") for x in (row[f"thdn_{f0}hz_db"] or [None, None]))
                       for f0 in THD_FREQS])
    return rows


TABLE_HEAD = ["Lite-INN hop", "latency frames", "LSD dB", "vs default dB"] + \
             [f"THD+N {f} Hz dB (L / R)" for f in THD_FREQS]
