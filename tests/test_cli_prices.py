"""`agent-routing prices`: per-model prices and limits, overrides, unknown models."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from agent_routing import pricing
from agent_routing.cli import main


def run(*args: str) -> Result:
    return CliRunner().invoke(main, ["prices", *args], catch_exceptions=False)


def test_json_lists_prices_per_million_and_limits() -> None:
    """--json gives each model's per-1M prices, limits, provider and map entry."""
    result = run("openai/gpt-4o", "anthropic/claude-sonnet-4-20250514", "--json")
    assert result.exit_code == 0, result.output
    payload = json.loads(result.output)
    assert payload["unit"] == "USD per 1M tokens"
    gpt, claude = payload["models"]
    prices = pricing.unit_prices("openai/gpt-4o")
    assert prices is not None
    assert gpt["input"] == pytest.approx(prices.input * 1e6)
    assert gpt["output"] == pytest.approx(prices.output * 1e6)
    assert gpt["cache_read"] == pytest.approx(prices.cache_read * 1e6)  # type: ignore[operator]
    assert gpt["cache_creation"] is None
    assert (gpt["context_window"], gpt["max_output_tokens"]) == (128_000, 16_384)
    assert (gpt["source"], gpt["map_key"], gpt["provider"]) == ("litellm", "gpt-4o", "openai")
    assert claude["cache_creation"] == pytest.approx(3.75)


def test_table_shows_one_row_per_model() -> None:
    """The text form is a table naming each model and its source."""
    result = run("gpt-4o-mini", "gemini/gemini-2.5-flash")
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[0].split()[:3] == ["model", "input", "$/1M"]
    assert all(len(line) <= 80 for line in lines)  # a wide table continues below
    rows = [line for line in lines if line.startswith("gpt-4o-mini ")]
    assert len(rows) >= 2  # every part of the table names the model first
    prices = pricing.unit_prices("gpt-4o-mini")
    assert prices is not None
    where = "litellm map" if prices.source == "litellm" else "snapshot"
    assert any(f"{where} {prices.version} 'gpt-4o-mini'" in row for row in rows)
    assert "$0.15" in rows[0]
    assert "$0.60" in rows[0]
    assert lines[3].startswith("gemini/gemini-2.5-flash ")


def test_config_override_is_shown_as_such(tmp_path: Path) -> None:
    """A model priced in the configuration shows the override prices and source."""
    config = tmp_path / "config.yaml"
    config.write_text(
        "prices:\n  openai/lab-model:\n    input_cost_per_token: 0.0000002\n"
        "    output_cost_per_token: 0.0000008\n    max_input_tokens: 32000\n"
    )
    result = run("openai/lab-model", "--config", str(config), "--json")
    assert result.exit_code == 0, result.output
    (model,) = json.loads(result.output)["models"]
    assert model["source"] == "override"
    assert model["input"] == pytest.approx(0.2)
    assert model["output"] == pytest.approx(0.8)
    assert model["context_window"] == 32_000


def test_unknown_model_exits_2_naming_it() -> None:
    """An unknown model is named on stderr with exit code 2; known ones still print."""
    result = CliRunner().invoke(main, ["prices", "gpt-4o", "acme/nope-1"])
    assert result.exit_code == 2
    assert "'acme/nope-1'" in result.stderr
    assert "unknown model" in result.stderr
    assert "gpt-4o" in result.stdout
    assert "acme/nope-1" not in result.stdout


def test_models_are_required() -> None:
    """Without a model the command refuses with click's usage error (exit 2)."""
    assert run().exit_code == 2
