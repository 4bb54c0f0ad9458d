"""CLI edges a new user meets: missing ledgers, the demo's ledger, optional extras, labels."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner
from train_support import write_data_dir

from agent_routing.cli import main


@pytest.mark.parametrize("command", [["costs"], ["costs", "--json"], ["budget", "show"]])
def test_read_commands_never_create_a_ledger(command: list[str], isolated_home: Path) -> None:
    """costs and budget show on a fresh machine say which ledger they read and that it does
    not exist (exit 1), and leave no file behind."""
    result = CliRunner().invoke(main, command)
    assert result.exit_code == 1, result.output
    ledger = isolated_home / "ledger.db"
    assert f"no ledger at {ledger}" in result.stderr
    assert "nothing was created" in result.stderr
    assert list(isolated_home.iterdir()) == []


def test_doctor_checks_a_missing_ledger_without_creating_it(isolated_home: Path) -> None:
    """doctor reports the ledger as not created yet (its folder is writable) and creates
    nothing."""
    result = CliRunner().invoke(main, ["doctor", "--json"])
    checks = {check["name"]: check for check in json.loads(result.stdout)["checks"]}
    assert checks["ledger"]["ok"] is True
    assert f"no ledger at {isolated_home / 'ledger.db'} yet" in checks["ledger"]["detail"]
    assert list(isolated_home.iterdir()) == []


@pytest.mark.slow
def test_costs_after_the_demo_points_to_the_demos_ledger(isolated_home: Path) -> None:
    """After `demo`, plain `costs` names the demo's ledger and the --db that reads it; that
    command then prints the demo's costs and says which ledger it read."""
    # The demo runs in its own process, as a user runs it: it enables capture process-wide.
    done = subprocess.run(
        [sys.executable, "-m", "agent_routing", "demo", "--json"],
        capture_output=True,
        text=True,
        timeout=240,
        env={**os.environ, "AGENT_ROUTING_HOME": str(isolated_home)},
        check=False,
    )
    assert done.returncode == 0, done.stderr
    runner = CliRunner()
    demo = isolated_home / "demo.db"
    pointed = runner.invoke(main, ["costs"])
    assert pointed.exit_code == 1
    assert f"The demo's ledger is {demo}: add --db {demo}" in pointed.stderr
    read = runner.invoke(main, ["costs", "--db", str(demo)])
    assert read.exit_code == 0, read.output
    assert "openai/gpt-4o-mini" in read.stdout
    assert read.stdout.rstrip().endswith(f"Ledger: {demo}")


def test_eval_plot_without_matplotlib_names_the_extra(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`eval --plot` with matplotlib missing says which extra to install (exit 1, no
    traceback) before doing any work."""
    monkeypatch.setitem(sys.modules, "matplotlib", None)  # import and find_spec: missing
    data = tmp_path / "rows.csv"
    data.write_text("prompt,weak_score,strong_score\nhi,1,1\n")
    result = CliRunner().invoke(
        main, ["eval", "--data", str(data), "--plot", str(tmp_path / "curve.png")]
    )
    assert result.exit_code == 1
    assert "pip install 'agent-routing[plot]'" in result.stderr
    assert "Traceback" not in result.output
    assert not (tmp_path / "curve.png").exists()


def test_bad_options_are_bad_input_and_a_bad_file_is_bad_configuration(tmp_path: Path) -> None:
    """An option's bad value is 'invalid input' naming the option as typed; a bad
    configuration file is still 'invalid configuration' naming the field."""
    bad_date = CliRunner().invoke(main, ["costs", "--since", "2026-13-01"])
    assert bad_date.exit_code == 2
    assert bad_date.stderr.startswith("Error: invalid input:\n  --since: not a date")
    config = tmp_path / "config.yaml"
    config.write_text("router:\n  strategy: cheapest\n")
    bad_file = CliRunner().invoke(main, ["costs", "--config", str(config)])
    assert bad_file.exit_code == 2
    assert bad_file.stderr.startswith("Error: invalid configuration:\n  router.strategy:")


@pytest.mark.slow
def test_python_dash_m_agent_routing_runs_the_cli() -> None:
    """`python -m agent_routing` is the same command line, under the same name."""
    done = subprocess.run(
        [sys.executable, "-m", "agent_routing", "--help"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("Usage: agent-routing [OPTIONS] COMMAND")


def test_train_says_how_the_router_will_load_its_model(tmp_path: Path) -> None:
    """train tells whether the router loads the file it wrote, and how to point it there;
    with router.model_path naming that file it says the router loads it."""
    data = write_data_dir(tmp_path / "data")
    out = tmp_path / "model.json"
    runner = CliRunner()
    result = runner.invoke(main, ["train", "--data-dir", str(data), "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert "The router does not load this file yet" in result.stdout
    assert f"AGENT_ROUTING__ROUTER__MODEL_PATH={out}" in result.stdout
    config = tmp_path / "config.yaml"
    config.write_text(f"router:\n  model_path: {out}\n")
    again = runner.invoke(
        main, ["train", "--data-dir", str(data), "--out", str(out), "--config", str(config)]
    )
    assert again.exit_code == 0, again.output
    assert f"The router loads this file (router.model_path is {out})" in again.stdout


class _BarSpy:
    """Stands in for tqdm.tqdm: records each bar's options and how many items went through."""

    def __init__(self) -> None:
        self.bars: list[dict[str, object]] = []

    def __call__(self, iterable: list[object], **options: object) -> object:
        bar = {**options, "items": 0}
        self.bars.append(bar)

        def counted() -> object:
            for item in iterable:
                bar["items"] = int(str(bar["items"])) + 1
                yield item

        return counted()


def test_eval_and_compress_show_progress_over_their_rows(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """eval scores its prompts under a progress bar and compress its transcripts, one bar per
    file; both show only on a terminal (tqdm's disable=None), and never with --json."""
    import tqdm
    from compress_support import chat_conversation

    spy = _BarSpy()
    monkeypatch.setattr(tqdm, "tqdm", spy)
    rows = tmp_path / "rows.csv"
    rows.write_text(
        "prompt,weak_score,strong_score\n"
        + "".join(f"question {i} {'why ' * i},{i % 2},1\n" for i in range(40))
    )
    assert CliRunner().invoke(main, ["eval", "--data", str(rows)]).exit_code == 0
    assert spy.bars == [
        {"desc": "scoring prompts", "unit": "prompt", "disable": None, "leave": False, "items": 40}
    ]

    spy.bars.clear()
    transcripts = tmp_path / "runs.jsonl"
    transcripts.write_text(
        "".join(
            json.dumps({"id": f"run-{n}", "messages": chat_conversation(3)}) + "\n"
            for n in range(5)
        )
    )
    for extra, disable in (([], None), (["--json"], True)):
        command = ["compress", str(transcripts), "--model", "gpt-4o", *extra]
        assert CliRunner().invoke(main, command).exit_code == 0
        assert spy.bars[-1] == {
            "desc": "runs.jsonl",
            "unit": "transcript",
            "disable": disable,
            "leave": False,
            "items": 5,
        }
