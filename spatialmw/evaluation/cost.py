"""Cost accounting of the Lite-INN renderer: parameters and real multiply-accumulates per
second per source, by the formulas stated in each function (``benchmarks/run.py`` reports
the same figures)."""
from __future__ import annotations

import math

from .protocol import BLOCK, SR


def stft_macs_per_hop(n_fft: int = 512) -> dict:
    """Per-source STFT cost of one engine hop, in real multiply-accumulates (MACs):
    window both ears (2 n_fft), one complex n_fft-point radix-2 FFT of (left + j right)
    counted as 5 N log2 N / 2 (the classic 5 N log2 N real flops, i.e. adds and multiplies,
    halved to MAC pairs), and the per-bin complex gain multiply-accumulate into the mix
    (2 ears x (n_fft/2 + 1) bins x 4 real MACs). The one inverse FFT per hop for the whole
    mix is shared by all sources and not counted per source."""
    nb = n_fft // 2 + 1
    win = 2 * n_fft
    fft = int(round(5 * n_fft * math.log2(n_fft) / 2))
    gain = 2 * nb * 4
    return {"window": win, "fft": fft, "gain": gain, "total": win + fft + gain}


def liteinn_cost(model, sr: int = SR, hop: int = 256, n_fft: int = 512) -> dict:
    from ..kernels.ibc import ibc_macs_per_evaluation
    from ..kernels.tdw import SINC_TAPS

    tdw = 2 * int(SINC_TAPS) * sr
    st = stft_macs_per_hop(n_fft)
    stft = st["total"] * sr / hop
    ibc_eval = int(ibc_macs_per_evaluation(model.dims, model.n_grid))
    ibc_network = ibc_eval * sr / BLOCK
    update = table_update_macs(model.n_grid, n_fft // 2 + 1)
    ibc_table = update * sr / BLOCK
    return {
        "params": int(model.n_params),
        "params_note": "len(theta) minus the 4 fixed header constants (r_ref, rho_min, rho_max, "
                       "f_scale); grid_hz and dims not counted",
        "macs_per_second": float(tdw + stft + ibc_table),
        "macs_per_second_static": float(tdw + stft),
        "macs_breakdown_per_second": {"tdw": float(tdw), "stft": float(stft),
                                      "ibc_moving_table": float(ibc_table),
                                      "ibc_moving_network": float(ibc_network), "ibc_static": 0.0},
        "ibc_macs_per_evaluation": ibc_eval,
        "ibc_macs_per_table_update": update,
        "macs_formula": (f"TDW 2 ears x {SINC_TAPS} taps x sr; STFT per source per hop of {hop}: "
                         f"window 2*{n_fft} + complex {n_fft}-pt FFT 5*N*log2(N)/2 = {st['fft']} "
                         f"+ per-bin gain 2*{n_fft // 2 + 1}*4 = {st['gain']} -> {st['total']} x "
                         f"sr/{hop}; IBC, moving source, worst case one update per {BLOCK}-frame "
                         f"block: a direction-table update (the engine's default) "
                         f"table_update_macs = {update}, or without the table a network "
                         f"evaluation ibc_macs_per_evaluation(dims, K={model.n_grid}) = {ibc_eval}; "
                         f"a static source evaluates the network once; the shared inverse FFT "
                         f"of the mix is excluded"),
    }


def table_update_macs(k_grid: int, nbins: int) -> int:
    """Real multiply-accumulates of one direction-table update: the bilinear lookup (4 rows
    of 4 K values) plus the expansion to per-bin gains, per bin and ear: 2 interpolations
    (4), exp(a) (2-part reduction + degree-7 polynomial = 9), cos and sin of the reduced
    phase (2 + 2 x 5 for the odd degree-9 polynomials) and the 2 products = 27."""
    return 4 * 4 * int(k_grid) + 2 * int(nbins) * 27
