"""Evaluation harness: how well an analyzer's scores route between a weak and a strong model.

The package knows nothing of analyzers: it measures a vector of scores against an
evaluation file's outcomes. Scoring a file with an analyzer and evaluating it (the `eval`
and `calibrate` commands) is :mod:`agent_routing.analyzer.evaluate`, above both.

Public API (imported lazily, so that importing this package loads no numpy):

- :func:`load_eval_data` reads an evaluation file (prompts with both models' outcomes) into
  :class:`EvalData`; :func:`with_price_table_costs` prices it from the price table;
- :func:`sweep`, :func:`apgr`, :func:`calls_to_recover`, :func:`savings_at_quality`: the
  routing curve and RouteLLM's figures on it (:class:`CurvePoint`, :class:`Savings`);
- :func:`build_report` puts the analyzer beside the random and prompt-length baselines
  (:class:`EvaluationReport`, :func:`report_to_dict`, :func:`length_scores`);
- :func:`calibrate_threshold` picks the threshold for a target share of strong calls;
- :func:`plot_report` draws the curves; :func:`spearman`, :func:`average_ranks`.

The modules are internal: `_data`, `_costs`, `_curve`, `_report`, `_calibration`,
`_plot`, `_ranks`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from agent_routing._lazy import lazy_exports

if TYPE_CHECKING:
    from agent_routing.evaluation._calibration import (
        Calibration,
        calibrate_threshold,
        check_strong_share,
    )
    from agent_routing.evaluation._costs import DEFAULT_OUTPUT_TOKENS, with_price_table_costs
    from agent_routing.evaluation._curve import (
        CPT_TARGETS,
        QUALITY_TARGETS,
        CurvePoint,
        Savings,
        apgr,
        calls_to_recover,
        performance_gap_recovered,
        savings_at_quality,
        sweep,
    )
    from agent_routing.evaluation._data import EvalData, load_eval_data
    from agent_routing.evaluation._plot import plot_report
    from agent_routing.evaluation._ranks import average_ranks, spearman
    from agent_routing.evaluation._report import (
        EvaluationReport,
        RouterResult,
        build_report,
        length_scores,
        report_to_dict,
    )

_EXPORTS = {
    "Calibration": "_calibration",
    "calibrate_threshold": "_calibration",
    "check_strong_share": "_calibration",
    "DEFAULT_OUTPUT_TOKENS": "_costs",
    "with_price_table_costs": "_costs",
    "CPT_TARGETS": "_curve",
    "QUALITY_TARGETS": "_curve",
    "CurvePoint": "_curve",
    "Savings": "_curve",
    "apgr": "_curve",
    "calls_to_recover": "_curve",
    "performance_gap_recovered": "_curve",
    "savings_at_quality": "_curve",
    "sweep": "_curve",
    "EvalData": "_data",
    "load_eval_data": "_data",
    "plot_report": "_plot",
    "average_ranks": "_ranks",
    "spearman": "_ranks",
    "EvaluationReport": "_report",
    "RouterResult": "_report",
    "build_report": "_report",
    "length_scores": "_report",
    "report_to_dict": "_report",
}

__all__ = [
    "CPT_TARGETS",
    "DEFAULT_OUTPUT_TOKENS",
    "QUALITY_TARGETS",
    "Calibration",
    "CurvePoint",
    "EvalData",
    "EvaluationReport",
    "RouterResult",
    "Savings",
    "apgr",
    "average_ranks",
    "build_report",
    "calibrate_threshold",
    "calls_to_recover",
    "check_strong_share",
    "length_scores",
    "load_eval_data",
    "performance_gap_recovered",
    "plot_report",
    "report_to_dict",
    "savings_at_quality",
    "spearman",
    "sweep",
    "with_price_table_costs",
]

__getattr__ = lazy_exports(__name__, _EXPORTS)
