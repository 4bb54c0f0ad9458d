"""Configuration: defaults, file loading, environment overrides, errors that name the field."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from agent_routing.config import (
    DEFAULT_TIERS,
    CallKind,
    Settings,
    apply_env_overrides,
    load_settings,
    settings_from_mapping,
)
from agent_routing.errors import ConfigError


def test_defaults_need_no_configuration(isolated_home: Path) -> None:
    """With no file and no environment, settings load and point the ledger into the data home."""
    settings = load_settings(validate_models=False)
    assert settings.tiers == []
    assert [t.model for t in settings.effective_tiers()] == [t.model for t in DEFAULT_TIERS]
    assert settings.router.strategy == "balanced"
    assert settings.ledger.resolved_path() == isolated_home / "ledger.db"
    assert settings.router.rules[0].tier == "cheapest"
    assert CallKind.UTILITY in settings.router.rules[0].kinds


def test_yaml_file_and_env_overrides(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A YAML file is read, then AGENT_ROUTING__* and AGENT_ROUTING_DB override it."""
    path = tmp_path / "config.yaml"
    path.write_text(
        "tiers:\n"
        "  - {name: cheap, model: gpt-4o-mini}\n"
        "  - {name: strong, model: gpt-4o}\n"
        "router: {strategy: cost_optimized}\n"
        "budgets:\n"
        "  - {scope: daily, limit_usd: 5, enforcement: downgrade}\n",
        encoding="utf-8",
    )
    monkeypatch.setenv("AGENT_ROUTING__ROUTER__STRATEGY", "quality_first")
    monkeypatch.setenv("AGENT_ROUTING__ROUTER__THRESHOLDS", "[0.4]")
    monkeypatch.setenv("AGENT_ROUTING_DB", str(tmp_path / "x.db"))
    settings = load_settings(path)
    assert settings.router.strategy == "quality_first"
    assert settings.router.thresholds == [0.4]
    assert settings.ledger.resolved_path() == tmp_path / "x.db"
    assert settings.budgets[0].enforcement == "downgrade"
    assert settings.budgets[0].alert_thresholds == [0.5, 0.8, 1.0]


def test_config_path_from_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """AGENT_ROUTING_CONFIG names the file when no path is passed; JSON works like YAML."""
    path = tmp_path / "c.json"
    path.write_text(json.dumps({"ledger": {"timezone": "Europe/Berlin"}}), encoding="utf-8")
    monkeypatch.setenv("AGENT_ROUTING_CONFIG", str(path))
    assert load_settings().ledger.timezone == "Europe/Berlin"


def test_every_problem_is_reported_with_field_and_value() -> None:
    """One load reports all bad fields at once, each with its dotted path and the bad value."""
    with pytest.raises(ConfigError) as info:
        settings_from_mapping(
            {
                "tiers": [{"name": "a", "model": "gpt-4o", "bogus": 1}],
                "budgets": [{"scope": "daily", "limit_usd": -1}],
                "router": {"thresholds": [0.5, 0.2]},
                "ledger": {"timezone": "Mars/Olympus"},
            }
        )
    fields = [field for field, _ in info.value.problems]
    assert fields == [
        "tiers.0.bogus",
        "router.thresholds",
        "budgets.0.limit_usd",
        "ledger.timezone",
    ]
    text = str(info.value)
    assert "(got -1)" in text
    assert "Mars/Olympus" in text
    assert "strictly ascending" in text


@pytest.mark.parametrize(
    ("data", "field"),
    [
        ({"router": {"strategy": "cheapest_always"}}, "router.strategy"),
        ({"router": {"thresholds": [1.5]}}, "router.thresholds"),
        ({"quotas": [{"unit": "tokens", "period": "day", "limit": 5}]}, "quotas.0"),
        (
            {"quotas": [{"model": "m", "unit": "tokens", "period": "week", "limit": 5}]},
            "quotas.0.period",
        ),
        ({"router": {"rules": [{"kinds": ["utility"]}]}}, "router.rules.0"),
        ({"router": {"output_caps": {"title": 0}}}, "router.output_caps"),
        ({"tiers": [{"name": "a", "model": "m"}, {"name": "a", "model": "n"}]}, "(root)"),
        ({"budgets": [{"scope": "weekly", "limit_usd": 1}]}, "budgets.0.scope"),
    ],
)
def test_bad_values_name_their_field(data: dict[str, object], field: str) -> None:
    """Each kind of invalid value is rejected with an error naming exactly its field."""
    with pytest.raises(ConfigError) as info:
        settings_from_mapping(data)
    assert info.value.problems[0][0] == field


def test_malformed_file_is_a_clear_error(tmp_path: Path) -> None:
    """Broken YAML, a non-mapping top level and a missing file each raise ConfigError('config')."""
    broken = tmp_path / "broken.yaml"
    broken.write_text("tiers: [unclosed\n", encoding="utf-8")
    listed = tmp_path / "list.yaml"
    listed.write_text("- a\n- b\n", encoding="utf-8")
    for path in (broken, listed, tmp_path / "missing.yaml"):
        with pytest.raises(ConfigError) as info:
            load_settings(path, validate_models=False)
        assert info.value.problems[0][0] == "config"


def test_unknown_tier_model_is_rejected_unless_priced() -> None:
    """A tier model unknown to litellm's price map fails; a price override makes it valid."""
    data: dict[str, object] = {"tiers": [{"name": "local", "model": "ollama/my-own-model"}]}
    with pytest.raises(ConfigError) as info:
        load_settings_from(data)
    assert info.value.problems[0][0] == "tiers.0.model"
    assert "my-own-model" in str(info.value)
    data["prices"] = {
        "ollama/my-own-model": {"input_cost_per_token": 0, "output_cost_per_token": 0}
    }
    assert load_settings_from(data).tiers[0].model == "ollama/my-own-model"


def load_settings_from(data: dict[str, object]) -> Settings:
    """Validate a mapping including the model check, as load_settings does for files."""
    from agent_routing.config import check_models_known

    settings = settings_from_mapping(data)
    check_models_known(settings)
    return settings


def test_env_override_values_parse_as_json_or_string() -> None:
    """Numbers and lists parse as JSON, other text stays a string; the input is not mutated."""
    data: dict[str, object] = {"ledger": {"timezone": "UTC"}}
    merged = apply_env_overrides(
        data,
        {
            "AGENT_ROUTING__LEDGER__BATCH_SIZE": "50",
            "AGENT_ROUTING__LEDGER__TIMEZONE": "Asia/Tokyo",
            "UNRELATED": "x",
        },
    )
    assert merged == {"ledger": {"timezone": "Asia/Tokyo", "batch_size": 50}}
    assert data == {"ledger": {"timezone": "UTC"}}


@pytest.mark.parametrize(
    ("data", "field"),
    [
        ({"budgets": [{"scope": "daily", "limit_usd": 1, "model": ""}]}, "budgets.0.model"),
        (
            {"quotas": [{"model": "", "unit": "tokens", "period": "day", "limit": 5}]},
            "quotas.0.model",
        ),
        (
            {"quotas": [{"provider": "", "unit": "tokens", "period": "day", "limit": 5}]},
            "quotas.0.provider",
        ),
    ],
)
def test_an_empty_limit_target_is_refused(data: dict[str, object], field: str) -> None:
    """An empty name would limit nothing; it is an error naming the field, not a silent no-op."""
    with pytest.raises(ConfigError, match=field):
        settings_from_mapping(data)


def test_data_home_is_the_platform_user_data_folder_unless_told(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """$AGENT_ROUTING_HOME wins; else an existing ~/.agent-routing (earlier versions' ledger
    stays found); else the user data folder platformdirs names (XDG on Linux)."""
    from agent_routing.config import data_home

    monkeypatch.setenv("HOME", str(tmp_path / "me"))
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg"))
    monkeypatch.setenv("AGENT_ROUTING_HOME", str(tmp_path / "chosen"))
    assert data_home() == tmp_path / "chosen"
    monkeypatch.delenv("AGENT_ROUTING_HOME")
    assert data_home() == tmp_path / "xdg" / "agent-routing"
    (tmp_path / "me" / ".agent-routing").mkdir(parents=True)
    assert data_home() == tmp_path / "me" / ".agent-routing"


def test_a_misspelt_environment_override_is_refused_naming_it() -> None:
    """A typo in the section or the key of AGENT_ROUTING__* is an error naming it, never a
    setting silently ignored (pydantic-settings ignores an unknown section: why we keep ours)."""
    from agent_routing.config import load_settings

    for name, field in (
        ("AGENT_ROUTING__ROUTERR__STRATEGY", "routerr"),
        ("AGENT_ROUTING__ROUTER__STRATEGGY", "router.strateggy"),
    ):
        with pytest.raises(ConfigError) as caught:
            load_settings(environ={name: "quality_first"}, validate_models=False)
        assert [problem[0] for problem in caught.value.problems] == [field]
