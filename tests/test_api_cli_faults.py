"""Bad input gets an answer naming the field, never a traceback: API 400 JSON, CLI exit 2;
limits that cannot be meant (inf, 1e309, true) are refused before anything is stored."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from fakehost import FakeHost, fake_host

from agent_routing.ledger import SQLiteLedger, run_sync

__all__ = ["fake_host"]


@pytest.mark.parametrize(
    ("args", "field"),
    [
        ({"until": "9999-12-31"}, "until"),
        ({"since": "2026-01-01", "until": "9999-12-31"}, "until"),
        ({"tz": "A" * 5000}, "tz"),
        ({"tz": "Europe/" + "x/" * 200}, "tz"),
    ],
)
async def test_costs_bad_dates_and_zones_are_400_naming_the_field(
    fake_host: FakeHost, args: dict[str, str], field: str
) -> None:
    """Dates past 9999-12-30 and absurd zones: 400 with the field, no traceback (was 500)."""
    status, body = await fake_host.api_call("costs", args=args)
    assert status == 400
    assert [problem["field"] for problem in body["problems"]] == [field]
    assert "Traceback" not in str(body)
    assert len(str(body)) < 1000


@pytest.mark.parametrize("body", [[1, 2], ["scope", "daily"], "daily", 5])
async def test_a_budget_post_that_is_not_an_object_is_400(
    fake_host: FakeHost, body: object
) -> None:
    """A JSON list (or string, number) as the POST body names `body` (was a 500)."""
    status, answer = await fake_host.api_call("budget", "POST", json_body=body)
    assert status == 400
    assert [problem["field"] for problem in answer["problems"]] == ["body"]


@pytest.mark.parametrize(
    ("budget", "field"),
    [
        ({"scope": "daily", "limit_usd": float("inf")}, "limit_usd"),  # JSON 1e309
        ({"scope": "daily", "limit_usd": float("nan")}, "limit_usd"),
        ({"scope": "daily", "limit_usd": True}, "limit_usd"),
        ({"scope": "daily", "limit_usd": 1e12}, "limit_usd"),
        ({"scope": "daily", "limit_usd": 5, "alert_thresholds": [True]}, "alert_thresholds"),
        ({"scope": "daily", "limit_usd": 5, "model": "gpt4o-typo"}, "model"),
    ],
)
async def test_limits_that_cannot_be_meant_are_refused_and_nothing_stored(
    fake_host: FakeHost, budget: dict[str, object], field: str
) -> None:
    """inf, NaN, true, a billion-dollar typo, or a model nothing knows: 400 naming the
    field; afterwards GET budget still answers and no budget was stored (before: inf was
    stored as null and refused every call)."""
    status, answer = await fake_host.api_call("budget", "POST", json_body=budget)
    assert status == 400, answer
    assert [problem["field"] for problem in answer["problems"]] == [field]
    status, listing = await fake_host.api_call("budget")
    assert status == 200
    assert listing["budgets"] == []


def _cli(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "agent_routing.cli", *args],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        cwd=cwd,
    )


@pytest.mark.parametrize(
    ("args", "field"),
    [
        (["costs", "--until", "9999-12-31"], "until"),
        (["costs", "--tz", "A" * 5000], "tz"),
        (["budget", "set", "--scope", "daily", "--limit-usd", "inf"], "--limit-usd"),
        (["budget", "set", "--scope", "daily", "--limit-usd", "nan"], "--limit-usd"),
        (["budget", "set", "--scope", "daily", "--limit-usd", "5", "--model", "gpt4o"], "model"),
    ],
)
@pytest.mark.slow
def test_cli_bad_values_exit_2_naming_the_field(
    tmp_path: Path, args: list[str], field: str
) -> None:
    """Real processes: exit 2, `field:` in the message, no traceback, nothing stored."""
    db = tmp_path / "ledger.db"
    done = _cli(*args, "--db", str(db), cwd=tmp_path)
    assert done.returncode == 2, done.stderr
    assert f"{field}:" in done.stderr
    assert "Traceback" not in done.stderr
    if db.exists():

        async def stored() -> int:
            async with SQLiteLedger(db) as ledger:
                return len(await ledger.stored_budgets())

        assert run_sync(stored()) == 0


@pytest.mark.slow
def test_cli_non_utf8_config_exits_2(tmp_path: Path) -> None:
    """A config saved in Latin-1 is refused naming the file, not a UnicodeDecodeError."""
    config = tmp_path / "config.yaml"
    config.write_bytes(
        'budgets:\n  - {scope: daily, limit_usd: 5, model: "café"}\n'.encode("latin-1")
    )
    done = _cli("costs", "--config", str(config), "--db", str(tmp_path / "l.db"), cwd=tmp_path)
    assert done.returncode == 2
    assert "config: " in done.stderr
    assert "not UTF-8" in done.stderr
    assert "Traceback" not in done.stderr
