"""`agent-routing calibrate --strong-share X --data FILE`: the threshold for a share of calls.

As RouteLLM's `calibrate_threshold.py`: the threshold is the (1 - X) quantile of the
analyzer's scores on the prompts in FILE, which only needs a `prompt` column.
"""

from __future__ import annotations

from pathlib import Path

import click

from agent_routing.cli._common import config_option, emit_json, handle_errors, json_option
from agent_routing.cli.evaluate import load_cli_settings, model_option, resolve_analyzer


@click.command(name="calibrate")
@click.option(
    "--strong-share",
    type=float,
    required=True,
    help="Share of calls to send to the strong tier, strictly between 0 and 1.",
)
@click.option(
    "--data",
    "data_path",
    type=click.Path(path_type=Path, dir_okay=False),
    required=True,
    help="CSV or JSONL with a `prompt` column: prompts representative of your traffic.",
)
@model_option
@json_option
@config_option
@handle_errors
def command(
    strong_share: float,
    data_path: Path,
    model_path: Path | None,
    as_json: bool,
    config_path: Path | None,
) -> None:
    """Print the score threshold that sends STRONG-SHARE of the prompts to the strong tier.

    Example: agent-routing calibrate --strong-share 0.3 --data prompts.jsonl
    (use the threshold under router.thresholds in the configuration).
    """
    from agent_routing.analyzer.evaluate import run_calibration
    from agent_routing.evaluation import check_strong_share
    from agent_routing.protocols import AnalysisRequest

    check_strong_share(strong_share)
    analyzer = resolve_analyzer(model_path, load_cli_settings(config_path))
    calibration = run_calibration(data_path, strong_share, analyzer=analyzer)
    version = analyzer.analyze(AnalysisRequest(prompt="")).model_version
    if as_json:
        emit_json(
            {
                "data": str(data_path),
                "rows": calibration.rows,
                "model_version": version,
                "strong_share": calibration.strong_share,
                "threshold": calibration.threshold,
                "achieved_share": calibration.achieved_share,
            }
        )
        return
    click.echo(
        f"threshold {calibration.threshold:.6f} sends {100 * calibration.achieved_share:.1f} % "
        f"of {calibration.rows} prompts to the strong tier "
        f"(asked {100 * calibration.strong_share:.1f} %; model {version})"
    )
