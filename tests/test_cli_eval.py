"""`agent-routing eval` and `agent-routing calibrate` end to end through the click CLI."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from agent_routing.analyzer import load_default_model, save_model, score_examples
from agent_routing.cli import main
from agent_routing.protocols import AnalysisRequest

EASY = ["hi", "thanks!", "What time is it?", "Say hello in French.", "Rename this file."]
HARD = [
    "Let $f(x)=\\frac{x^3-2x+1}{x-1}$. Find every real $a$ for which f(x) = a has exactly two "
    f"solutions, prove the result, then compute f({k}) modulo 7 and the limit of f(x)/x^2."
    for k in range(5)
]


def write_eval_csv(path: Path, *, costs: bool = False) -> Path:
    """Easy prompts both models solve; hard maths prompts only the strong model solves."""
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(
            ["prompt", "weak_score", "strong_score", "category"]
            + (["weak_cost", "strong_cost"] if costs else [])
        )
        for prompt in EASY:
            writer.writerow([prompt, 1, 1, "chat"] + ([0.001, 0.01] if costs else []))
        for prompt in HARD:
            writer.writerow([prompt, 0, 1, "math"] + ([0.002, 0.02] if costs else []))
    return path


def invoke(*args: str):
    return CliRunner().invoke(main, list(args))


def test_eval_json_has_the_documented_keys_and_beats_random(tmp_path: Path) -> None:
    """--json prints one object: apgr, cpt 20/50/80, weak, strong, points, baselines."""
    result = invoke("eval", "--data", str(write_eval_csv(tmp_path / "e.csv")), "--json")
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    assert set(report["cpt"]) == {"20", "50", "80"}
    assert report["weak"] == pytest.approx(0.5)
    assert report["strong"] == pytest.approx(1.0)
    assert all({"strong_share", "score"} <= set(point) for point in report["points"])
    assert report["points"][0]["strong_share"] == 0.0
    assert report["points"][-1]["strong_share"] == 1.0
    assert set(report["baselines"]) == {"random", "length"}
    assert report["baselines"]["random"]["apgr"] == pytest.approx(0.5)
    # Every maths prompt scores above every greeting: the best APGR possible when half of
    # the prompts need the strong model (PGR reaches 1 at 50 % strong calls).
    assert report["apgr"] == pytest.approx(0.75)
    assert report["model_version"] == load_default_model().model_version
    assert report["by_category"]["math"]["rows"] == 5


def test_eval_text_report_and_costs_from_columns(tmp_path: Path) -> None:
    """The text report lists the analyzer and both baselines, with savings when costs exist."""
    result = invoke("eval", "--data", str(write_eval_csv(tmp_path / "e.csv", costs=True)))
    assert result.exit_code == 0, result.output
    for name in ("analyzer", "length", "random", "APGR", "CPT(50%)", "saved @95%", "oracle"):
        assert name in result.output
    assert "weak_cost / strong_cost columns" in result.output


def test_eval_prices_prompts_from_the_price_table(tmp_path: Path) -> None:
    """--weak-model/--strong-model price each prompt and report dollars saved."""
    result = invoke(
        "eval",
        "--data",
        str(write_eval_csv(tmp_path / "e.csv")),
        "--json",
        "--weak-model",
        "gpt-4o-mini",
        "--strong-model",
        "gpt-4o",
        "--output-tokens",
        "50",
    )
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    assert "gpt-4o-mini (weak) and gpt-4o (strong)" in report["costs"]["basis"]
    assert report["costs"]["always_strong"] > report["costs"]["always_weak"] > 0
    saving = report["savings"]["95"]
    assert saving["saved"] > 0
    assert 0 < saving["strong_share"] <= 1


def test_eval_plot_writes_a_png(tmp_path: Path) -> None:
    """--plot writes a PNG file of the curves."""
    png = tmp_path / "curve.png"
    result = invoke("eval", "--data", str(write_eval_csv(tmp_path / "e.csv")), "--plot", str(png))
    assert result.exit_code == 0, result.output
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert png.stat().st_size > 10_000


def test_eval_uses_the_model_given_with_model_option(tmp_path: Path) -> None:
    """--model loads that file and the report names its version."""
    model_path = tmp_path / "m.json"
    save_model(load_default_model(), model_path)
    result = invoke(
        "eval",
        "--data",
        str(write_eval_csv(tmp_path / "e.csv")),
        "--model",
        str(model_path),
        "--json",
    )
    assert json.loads(result.output)["model_version"] == load_default_model().model_version
    broken = tmp_path / "broken.json"
    broken.write_text("{}")
    result = invoke("eval", "--data", str(tmp_path / "e.csv"), "--model", str(broken))
    assert result.exit_code == 2
    assert "model.format" in result.output


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        (None, "file not found"),
        ("", "has no rows"),
        ("prompt,weak_score\nx,1\n", "strong_score: column missing"),
        ("prompt,weak_score,strong_score\nx,1,1\ny,0,good\n", "strong_score: row 2: not a number"),
    ],
)
def test_eval_bad_input_exits_2_naming_the_field(
    tmp_path: Path, content: str | None, expected: str
) -> None:
    """Missing file, empty file, missing column and non-numeric score are exit 2 with the field."""
    path = tmp_path / "e.csv"
    if content is not None:
        path.write_text(content)
    result = invoke("eval", "--data", str(path))
    assert result.exit_code == 2
    assert expected in result.output


def test_eval_needs_both_price_models(tmp_path: Path) -> None:
    """Giving only --weak-model is bad input naming the missing strong_model."""
    result = invoke(
        "eval", "--data", str(write_eval_csv(tmp_path / "e.csv")), "--weak-model", "gpt-4o-mini"
    )
    assert result.exit_code == 2
    assert "--strong-model" in result.output


def test_calibrate_prints_the_quantile_threshold(tmp_path: Path) -> None:
    """calibrate --json gives the (1 - share) quantile of the analyzer's scores."""
    path = tmp_path / "prompts.csv"
    prompts = [f"Step {i}: " + "compute the integral and prove it " * i for i in range(1, 11)]
    path.write_text("prompt\n" + "\n".join(f'"{p}"' for p in prompts) + "\n")
    result = invoke("calibrate", "--strong-share", "0.3", "--data", str(path), "--json")
    assert result.exit_code == 0, result.output
    payload = json.loads(result.output)
    scores = score_examples(load_default_model(), [AnalysisRequest(prompt=p) for p in prompts])
    assert payload["threshold"] == pytest.approx(float(np.quantile(scores, 0.7)))
    assert payload["achieved_share"] == pytest.approx(0.3)
    assert payload["rows"] == 10
    text = invoke("calibrate", "--strong-share", "0.3", "--data", str(path))
    assert "sends 30.0 %" in text.output


@pytest.mark.parametrize("share", ["0", "1", "1.5", "-0.2"])
def test_calibrate_rejects_share_outside_zero_one(tmp_path: Path, share: str) -> None:
    """--strong-share outside (0, 1) is exit 2 naming strong_share (checked before reading)."""
    result = invoke("calibrate", "--strong-share", share, "--data", str(tmp_path / "absent.csv"))
    assert result.exit_code == 2
    assert "--strong-share" in result.output


def test_eval_and_calibrate_use_router_model_path_from_config(tmp_path: Path) -> None:
    """Without --model, router.model_path from --config selects the analyzer model."""
    from agent_routing.analyzer._model import make_model

    shipped = load_default_model()
    custom = make_model(shipped.features, shipped.intercept + 1.0, training={}, metrics={})
    save_model(custom, tmp_path / "custom.json")
    config = tmp_path / "config.yaml"
    config.write_text(f"router:\n  model_path: {tmp_path / 'custom.json'}\n")
    data = write_eval_csv(tmp_path / "e.csv")
    report = json.loads(
        invoke("eval", "--data", str(data), "--config", str(config), "--json").output
    )
    assert report["model_version"] == custom.model_version != shipped.model_version
    calibration = invoke(
        "calibrate", "--strong-share", "0.5", "--data", str(data), "--config", str(config), "--json"
    )
    assert json.loads(calibration.output)["model_version"] == custom.model_version
