"""Fidelity evaluation (``spatialmw eval``; the protocol in words: docs/EVALUATION.md).

``protocol``  held-out split, ground truth, inputs, how outputs become scores
``systems``   one adapter per evaluated system, and the HRTF-interpolation baselines
``game``      what games play: tones, impulses, start offsets, moving sources
``cost``      parameter and multiply-accumulate accounting (``benchmarks/run.py`` uses it)
``plots``     PNG plots
``run``       :func:`run_eval` (tasks, worker processes, result JSON) and :func:`format_table`
"""
from .cost import liteinn_cost, stft_macs_per_hop, table_update_macs
from .protocol import BASELINES, METRIC_KEYS, SYSTEMS, EvaluationError, load_speech
from .run import format_table, run_eval

__all__ = ["run_eval", "format_table", "load_speech", "liteinn_cost", "stft_macs_per_hop",
           "table_update_macs", "EvaluationError", "SYSTEMS", "BASELINES", "METRIC_KEYS"]
