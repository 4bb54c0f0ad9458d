"""The quality-versus-strong-share chart of an evaluation (matplotlib, imported lazily)."""

from __future__ import annotations

from pathlib import Path

from agent_routing.errors import ConfigError
from agent_routing.evaluation._report import (
    ANALYZER,
    LENGTH,
    RANDOM,
    EvaluationReport,
    RouterResult,
)

_STYLES = {ANALYZER: "o-", LENGTH: "s--", RANDOM: ":"}


def plot_report(report: EvaluationReport, path: Path) -> None:
    """Write the analyzer's and the baselines' curves, with weak/strong lines, as a PNG."""
    path = Path(path)
    if not path.parent.is_dir():
        raise ConfigError.single("plot", f"directory does not exist: {str(path.parent)!r}")
    from matplotlib.figure import Figure

    figure = Figure(figsize=(7.5, 4.8), layout="constrained")
    axes = figure.add_subplot()
    results: list[RouterResult] = [report.analyzer, *report.baselines]
    for result in results:
        axes.plot(
            [100 * point.strong_share for point in result.points],
            [point.score for point in result.points],
            _STYLES.get(result.name, "-"),
            label=f"{result.name} (APGR {result.apgr:.3f})",
        )
    axes.axhline(report.strong, color="tab:red", linewidth=0.8, label="strong model only")
    axes.axhline(report.weak, color="tab:gray", linewidth=0.8, label="weak model only")
    axes.set_xlabel("calls routed to the strong model (%)")
    axes.set_ylabel("mean quality")
    axes.set_title(f"{Path(report.source).name}: {report.rows} prompts ({report.model_version})")
    axes.grid(alpha=0.3)
    axes.legend(loc="lower right", fontsize="small")
    try:
        figure.savefig(path, dpi=120)
    except OSError as error:
        raise ConfigError.single("plot", f"cannot write {str(path)!r}: {error.strerror}") from None
