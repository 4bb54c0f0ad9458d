"""`agent-routing train`: rebuild the analyzer model from the labelled data, or refit it.

Without `--from-ledger`, the model is trained on the three labelled sets under `--data-dir`
(see docs/analyzer.md); the same data and seed give a byte-identical file. With
`--from-ledger`, the analyzer's learning module refits the model from the outcomes recorded in
the ledger (`agent_routing.analyzer.learning.train_from_ledger`).
"""

from __future__ import annotations

import dataclasses
import importlib
import importlib.util
from pathlib import Path
from typing import Any

import click

from agent_routing.cli._common import (
    config_option,
    db_option,
    emit_json,
    format_table,
    handle_errors,
    json_option,
)
from agent_routing.errors import AgentRoutingError, ConfigError

DEFAULT_DATA_DIR = Path("../shared/data")
DEFAULT_MODEL_FILE = "analyzer_model.json"
LEARNING_MODULE = "agent_routing.analyzer.learning"


def _ledger_trainer() -> Any:
    """`train_from_ledger` from the analyzer's learning module, or a clear error if absent."""
    if importlib.util.find_spec(LEARNING_MODULE) is None:
        raise AgentRoutingError(
            f"train --from-ledger is not available: {LEARNING_MODULE} is not installed"
        )
    trainer = getattr(importlib.import_module(LEARNING_MODULE), "train_from_ledger", None)
    if trainer is None:
        raise AgentRoutingError(
            f"train --from-ledger is not available: {LEARNING_MODULE}.train_from_ledger is missing"
        )
    return trainer


def _metrics_table(metrics: dict[str, Any]) -> str:
    rows = []
    for split in ("row_level_5fold", "leave_one_dataset_out", "length_baseline"):
        for dataset, figures in metrics.get(split, {}).items():
            for name, value in figures.items():
                if name != "rows":
                    rows.append([split, dataset, name, "-" if value is None else f"{value:.3f}"])
    return format_table(["hold-out", "dataset", "metric", "value"], rows)


def _reject_dataset_options() -> None:
    """--data-dir and --seed only apply to training on the data sets, not to a ledger refit."""
    context = click.get_current_context()
    for name in ("data_dir", "seed"):
        if context.get_parameter_source(name) is not click.core.ParameterSource.DEFAULT:
            raise ConfigError.single(
                name, "not used with --from-ledger (the refit is fit on outcomes)"
            )


def _reject_data_dir() -> None:
    context = click.get_current_context()
    if context.get_parameter_source("data_dir") is not click.core.ParameterSource.DEFAULT:
        raise ConfigError.single("data_dir", "not used with --data (give one or the other)")


def _train_text(
    data_file: Path, out: Path | None, seed: int, as_json: bool, config_path: Path | None
) -> None:
    """`train --data FILE`: fit the text analyzer, save it, say how the router uses it."""
    from agent_routing.analyzer import save_text_model, train_text_file
    from agent_routing.analyzer.registry import TEXT, text_model_path
    from agent_routing.config import load_settings

    settings = load_settings(config_path, validate_models=False)
    target = out if out is not None else text_model_path()
    model, held_out = train_text_file(data_file, seed=seed)
    save_text_model(model, target)
    if target.resolve() == text_model_path().resolve():
        use = (
            "the router loads it from there"
            if settings.router.analyzer == TEXT and settings.router.model_path is None
            else "set `router.analyzer: text` (and leave router.model_path unset) to route with it"
        )
    else:
        use = f"set `router.analyzer: text` and `router.model_path: {target}` to route with it"
    if as_json:
        emit_json(
            {
                "out": str(target),
                "model_version": model.model_version,
                "rows": model.training.get("rows"),
                "benefit_share": model.training.get("benefit_share"),
                "held_out": held_out,
                "use": use,
            }
        )
        return
    click.echo(
        f"wrote text analyzer {model.model_version} to {target} "
        f"({model.training.get('rows')} rows, benefit share {model.training.get('benefit_share')})"
    )
    if held_out:
        click.echo(
            f"held-out check (25 % of the rows, fit on the rest): APGR text "
            f"{held_out['apgr_text']:.3f}, feature model {held_out['apgr_features']:.3f}, "
            f"length {held_out['apgr_length']:.3f}, random 0.500 ({held_out['rows']} rows)"
        )
        if "text_minus_length_ci" in held_out:  # #13: say when a difference is noise
            click.echo(
                "95 % bootstrap intervals: text {0[0]:.3f} to {0[1]:.3f}; text - feature model "
                "{1[0]:+.3f} to {1[1]:+.3f}; text - length {2[0]:+.3f} to {2[1]:+.3f}".format(
                    held_out["apgr_text_ci"],
                    held_out["text_minus_features_ci"],
                    held_out["text_minus_length_ci"],
                )
            )
    click.echo(use)


def _from_ledger(db_path: str | None, config_path: Path | None, out: Path | None) -> Any:
    from agent_routing.config import load_settings

    settings = load_settings(config_path, validate_models=False)
    if settings.router.analyzer == "text":  # #13: the text analyzer learns from duel labels
        from agent_routing.analyzer.learning import refit_text_from_ledger

        return refit_text_from_ledger(_file(db_path), settings, out)
    trainer = _ledger_trainer()
    return trainer(_file(db_path), settings, out)


@click.command(name="train")
@click.option(
    "--out",
    type=click.Path(path_type=Path, dir_okay=False),
    default=None,
    help=f"Model file to write. Default: $AGENT_ROUTING_HOME/{DEFAULT_MODEL_FILE}.",
)
@click.option(
    "--data-dir",
    type=click.Path(path_type=Path, file_okay=False),
    default=DEFAULT_DATA_DIR,
    show_default=True,
    help="Directory holding mmlu_pro_multimodel/, math_competition_levels/, "
    "evalperf_code_multimodel/.",
)
@click.option(
    "--data",
    "data_file",
    type=click.Path(path_type=Path, dir_okay=False),
    default=None,
    help="Your labelled prompts (CSV or JSONL: prompt, weak_score, strong_score [, category]): "
    "fit the learnable text analyzer on the gain of the strong model (strong - weak).",
)
@click.option("--seed", type=int, default=0, show_default=True, help="Seed for pair sampling.")
@click.option(
    "--from-ledger", is_flag=True, help="Refit from outcomes recorded in the ledger instead."
)
@db_option
@json_option
@config_option
@handle_errors
def command(
    *,
    out: Path | None,
    data_dir: Path,
    data_file: Path | None,
    seed: int,
    from_ledger: bool,
    db_path: str | None,
    as_json: bool,
    config_path: Path | None,
) -> None:
    """Train an analyzer and write it as a JSON model file.

    --data FILE fits the learnable text analyzer on your labelled prompts (gain of the
    strong model, strong - weak) and writes it where `router.analyzer: text` loads it.
    --data-dir rebuilds the feature model reproducibly (use it with `router.model_path`).
    --from-ledger refits from the ledger's outcomes (duel labels when router.analyzer is
    text).

    Example: agent-routing train --data my_outcomes.csv
    """
    if data_file is not None:
        if from_ledger:
            raise ConfigError.single("data", "give --data or --from-ledger, not both")
        _reject_data_dir()
        _train_text(data_file, out, seed, as_json, config_path)
        return
    if from_ledger:
        _reject_dataset_options()
        report = _from_ledger(db_path, config_path, out)
        is_record = dataclasses.is_dataclass(report) and not isinstance(report, type)
        payload = dataclasses.asdict(report) if is_record else report
        if as_json:
            emit_json(payload)
        elif isinstance(payload, dict):
            click.echo("\n".join(f"{key}: {value}" for key, value in payload.items()))
        else:
            click.echo(str(payload))
        return
    from agent_routing.analyzer import build_model, save_model
    from agent_routing.config import data_home, load_settings

    settings = load_settings(config_path, validate_models=False)
    target = out if out is not None else data_home() / DEFAULT_MODEL_FILE
    model = build_model(data_dir, seed=seed, progress=not as_json)
    save_model(model, target)
    rows = sum(entry["rows"] for entry in model.training["data"])
    configured = settings.router.model_path
    in_use = configured is not None and configured.expanduser().resolve() == target.resolve()
    if as_json:
        emit_json(
            {
                "out": str(target),
                "model_version": model.model_version,
                "rows": rows,
                "seed": seed,
                "metrics": model.metrics,
                "router_loads_it": in_use,
            }
        )
        return
    click.echo(f"wrote {model.model_version} to {target} ({rows} prompts, seed {seed})")
    click.echo(_metrics_table(dict(model.metrics)))
    click.echo("")
    click.echo(_where_the_router_loads(target, in_use=in_use))


def _where_the_router_loads(target: Path, *, in_use: bool) -> str:
    """Say whether the router will use the file just written, and how to make it."""
    if in_use:
        return f"The router loads this file (router.model_path is {target})."
    return (
        "The router does not load this file yet: it uses router.model_path, else a model "
        "refit from your ledger, else the shipped one. To use it, set in the configuration\n"
        f"  router:\n    model_path: {target}\n"
        f"or export AGENT_ROUTING__ROUTER__MODEL_PATH={target}"
    )


def _file(db_path: str | None) -> Path | None:
    """Training reads a SQLite ledger file; a server URL is refused naming `db`."""
    if db_path is None:
        return None
    from agent_routing.errors import ConfigError
    from agent_routing.ledger.urls import parse_ledger_url

    target = parse_ledger_url(db_path, "db")
    if target.path is None:
        raise ConfigError.single(
            "db", f"--from-ledger reads a SQLite ledger file, not {target.redacted()}"
        )
    return target.path
