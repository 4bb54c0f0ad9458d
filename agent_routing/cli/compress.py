"""`agent-routing compress`: compress recorded transcripts and report what was kept."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from agent_routing.cli._common import (
    config_option,
    emit_json,
    format_table,
    handle_errors,
    json_option,
)
from agent_routing.cli._formatting import percent
from agent_routing.errors import ConfigError

if TYPE_CHECKING:
    from agent_routing.compression.report import Totals


@click.command("compress")
@click.argument("files", nargs=-1, required=True, type=click.Path(path_type=Path, dir_okay=False))
@click.option("--model", required=True, help="litellm id of the model the prompts go to.")
@click.option(
    "--budget",
    type=int,
    default=None,
    help="Target prompt size in tokens (a hard limit). Default: the configured policy "
    "(from compression.trigger_tokens and compression.trigger_usd on, down to "
    "compression.target_ratio of the prompt).",
)
@config_option
@json_option
@handle_errors
def command(
    files: tuple[Path, ...],
    model: str,
    budget: int | None,
    config_path: Path | None,
    as_json: bool,
) -> None:
    """Compress each transcript of JSONL FILES as a prompt for MODEL and print statistics.

    FILES hold one transcript per line ({"id", "messages": [...]}, as in the shared
    agent_transcripts data). Reports tokens before and after, the reduction, and the
    retention of identifiers, numbers, paths and URLs in the last three turns and overall.
    Each transcript is also replayed step by step (the prompt before each assistant reply),
    with the policy and without, billing each step's input at MODEL's input, cache-read and
    cache-write prices: replay_cost_ratio is the policy's cost over the uncompressed cost.
    """
    from agent_routing.compression import model_profile
    from agent_routing.compression.report import Totals, compress_transcripts
    from agent_routing.compression.tokenize import token_counter
    from agent_routing.compression.transcripts import read_transcripts
    from agent_routing.config import load_settings

    if budget is not None and budget <= 0:
        raise ConfigError.single("--budget", f"must be a positive number of tokens (got {budget})")
    settings = load_settings(config_path, validate_models=False)
    profile = model_profile(model, settings.prices)
    count = token_counter(model)
    from tqdm import tqdm

    def compress_file(path: Path) -> Totals:
        # One transcript at a time under a progress bar (stderr, only on a terminal).
        bar = tqdm(
            read_transcripts(path),
            desc=path.name,
            unit="transcript",
            disable=True if as_json else None,
            leave=False,
        )
        return Totals(
            tuple(
                result
                for transcript in bar
                for result in compress_transcripts(
                    [transcript],
                    model=model,
                    settings=settings,
                    target_tokens=budget,
                    profile=profile,
                    count=count,
                ).transcripts
            )
        )

    per_file = [(path, compress_file(path)) for path in files]
    everything = Totals(tuple(t for _, totals in per_file for t in totals.transcripts))
    if as_json:
        payload: dict[str, Any] = {"model": model, "budget": budget, **everything.as_dict()}
        payload["files"] = [{"file": str(path), **totals.as_dict()} for path, totals in per_file]
        payload["per_transcript"] = [t.as_dict() for t in everything.transcripts]
        emit_json(payload)
        return
    _print_text(per_file, everything)


def _print_text(per_file: list[tuple[Path, Totals]], everything: Totals) -> None:
    rows = [
        [
            t.id[:48],
            t.messages,
            t.input_tokens,
            t.output_tokens,
            percent((t.input_tokens - t.output_tokens) / t.input_tokens if t.input_tokens else 0),
            percent(t.recent.ratio),
            percent(t.overall.ratio),
            f"{t.replay.ratio:.3f}",
            t.outcome,
        ]
        for t in everything.transcripts
    ]
    headers = [
        "transcript",
        "msgs",
        "tokens in",
        "tokens out",
        "reduction",
        "kept recent",
        "kept overall",
        "replay cost",
        "outcome",
    ]
    click.echo(format_table(headers, rows))
    click.echo("")
    totals_rows = []
    for name, totals in [*((str(path), t) for path, t in per_file), ("all", everything)]:
        figures = totals.as_dict()
        totals_rows.append(
            [
                name,
                figures["transcripts"],
                figures["input_tokens"],
                figures["output_tokens"],
                percent(figures["reduction"]),
                percent(figures["retention_recent"]),
                percent(figures["retention_overall"]),
                f"{figures['replay_cost_ratio']:.3f}",
                f"{figures['ms_per_10k_tokens']:.1f}",
            ]
        )
    click.echo(
        format_table(
            [
                "file",
                "transcripts",
                "tokens in",
                "tokens out",
                "reduction",
                "kept recent",
                "kept overall",
                "replay cost",
                "ms/10k tok",
            ],
            totals_rows,
        )
    )
