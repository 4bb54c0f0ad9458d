"""`agent-routing eval --data FILE`: how well the analyzer routes a labelled prompt set.

Prints APGR, CPT(20/50/80 %) and (with costs) dollars saved at 90/95/99 % of the strong
model's quality for the analyzer, beside the random and prompt-length baselines, computed
in the same run (library: :mod:`agent_routing.evaluation`).
"""

from __future__ import annotations

import importlib.util
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from agent_routing.cli._common import (
    EXIT_FAILURE,
    config_option,
    emit_json,
    fail,
    format_table,
    handle_errors,
    json_option,
)
from agent_routing.cli._formatting import money

if TYPE_CHECKING:
    from agent_routing.config import Settings
    from agent_routing.evaluation import EvaluationReport, RouterResult
    from agent_routing.protocols import CalibratedAnalyzer

model_option = click.option(
    "--model",
    "model_path",
    type=click.Path(path_type=Path, dir_okay=False),
    default=None,
    help="Analyzer model file (a feature model or a text model from `train --data`). Default: "
    "router.analyzer over router.model_path from config, else the shipped feature model.",
)


def load_cli_settings(config_path: Path | None) -> Settings:
    """Settings from --config (or the environment), without checking tier models' prices."""
    from agent_routing.config import load_settings

    return load_settings(config_path, validate_models=False)


def resolve_analyzer(model_path: Path | None, settings: Settings) -> CalibratedAnalyzer:
    """The analyzer a --model file belongs to (feature or text model), else the configured
    one (`router.analyzer` over `router.model_path` or its default model)."""
    from agent_routing.analyzer.registry import build_analyzer, load_analyzer_file

    if model_path is not None:
        return load_analyzer_file(model_path)
    return build_analyzer(settings)


def _percent(value: float | None) -> str:
    return "-" if value is None else f"{100 * value:.1f} %"


def _saving(result: RouterResult, key: str) -> str:
    saving = result.savings.get(key)
    if saving is None:
        return "-"
    return f"{money(saving.saved)} ({100 * saving.saved_fraction:.0f} %)"


def render(report: EvaluationReport) -> str:
    """The human-readable report: references, the comparison table, the analyzer's curve."""
    lines = [
        f"{report.rows} prompts from {report.source}, analyzer model {report.model_version}",
        f"weak model {report.weak:.4f}   strong model {report.strong:.4f}   "
        f"oracle {report.oracle.score:.4f} with {_percent(report.oracle.strong_share)} strong",
    ]
    if report.cost_basis:
        lines.append(
            f"costs from {report.cost_basis}: always weak {money(report.weak_cost)}, "
            f"always strong {money(report.strong_cost)}"
        )
    headers = ["router", "APGR", "CPT(20%)", "CPT(50%)", "CPT(80%)"]
    with_costs = bool(report.analyzer.savings)
    if with_costs:
        headers += ["saved @90%", "saved @95%", "saved @99%"]
    rows = []
    for result in (report.analyzer, *report.baselines):
        row: list[Any] = [result.name, f"{result.apgr:.3f}"]
        row += [_percent(result.cpt[key]) for key in ("20", "50", "80")]
        if with_costs:
            row += [_saving(result, key) for key in ("90", "95", "99")]
        rows.append(row)
    lines += ["", format_table(headers, rows), "", "analyzer curve (RouteLLM quantile sweep):"]
    curve_headers = ["threshold", "strong share", "quality"] + (["cost"] if with_costs else [])
    curve_rows = [
        [f"{p.threshold:.4f}", _percent(p.strong_share), f"{p.score:.4f}"]
        + ([f"${p.cost or 0.0:,.4f}"] if with_costs else [])
        for p in report.analyzer.points
    ]
    lines.append(format_table(curve_headers, curve_rows))
    if report.by_category:
        category_rows = [
            [
                name,
                int(entry["rows"]),
                f"{entry['weak']:.4f}",
                f"{entry['strong']:.4f}",
                f"{entry['apgr']:.3f}" if "apgr" in entry else "-",
            ]
            for name, entry in report.by_category.items()
        ]
        lines += ["", "by category:"]
        lines.append(format_table(["category", "rows", "weak", "strong", "APGR"], category_rows))
    return "\n".join(lines)


def _require_matplotlib() -> None:
    """Exit 1 naming the extra to install when matplotlib is missing (it is optional)."""
    if importlib.util.find_spec("matplotlib") is None:
        fail(
            "--plot needs matplotlib, which is not installed: "
            "pip install 'agent-routing[plot]' (or pip install matplotlib)",
            EXIT_FAILURE,
        )


@click.command(name="eval")
@click.option(
    "--data",
    "data_path",
    type=click.Path(path_type=Path, dir_okay=False),
    required=True,
    help="CSV or JSONL with prompt, weak_score, strong_score [, category, weak_cost, strong_cost].",
)
@model_option
@click.option(
    "--plot",
    "plot_path",
    type=click.Path(path_type=Path, dir_okay=False),
    default=None,
    help="Write the quality/strong-share curves to this PNG.",
)
@click.option("--weak-model", default=None, help="Price prompts for this weak model (litellm id).")
@click.option("--strong-model", default=None, help="Price prompts for this strong model.")
@click.option(
    "--output-tokens",
    type=int,
    default=256,
    show_default=True,
    help="Output tokens assumed per prompt when pricing with --weak-model/--strong-model.",
)
@json_option
@config_option
@handle_errors
def command(
    *,
    data_path: Path,
    model_path: Path | None,
    plot_path: Path | None,
    weak_model: str | None,
    strong_model: str | None,
    output_tokens: int,
    as_json: bool,
    config_path: Path | None,
) -> None:
    """Evaluate the analyzer as a router between a weak and a strong model on a prompt set.

    Thresholds sit at RouteLLM's ten quantiles of the scores; reports APGR, CPT(20/50/80%)
    and, when costs are known, dollars saved at 90/95/99% of the strong model's quality,
    beside the random and prompt-length baselines.

    Example: agent-routing eval --data heldout.csv --plot curve.png
    """
    from agent_routing.analyzer.evaluate import run_evaluation
    from agent_routing.evaluation import report_to_dict

    if plot_path is not None:
        _require_matplotlib()  # before any work: say which extra to install
    settings = load_cli_settings(config_path)
    report = run_evaluation(
        data_path,
        analyzer=resolve_analyzer(model_path, settings),
        weak_model=weak_model,
        strong_model=strong_model,
        output_tokens=output_tokens,
        overrides=settings.prices,
        progress=not as_json,
    )
    if plot_path is not None:
        from agent_routing.evaluation import plot_report

        plot_report(report, plot_path)
    if as_json:
        emit_json(report_to_dict(report))
    else:
        click.echo(render(report))
        if plot_path is not None:
            click.echo(f"\nplot written to {plot_path}")
