"""The README cannot drift: its CLI reference is `--help`, its test command is `.ci/run`'s."""

from __future__ import annotations

from pathlib import Path

from agent_routing.cli.reference import main as reference_main

ROOT = Path(__file__).resolve().parent.parent


def test_cli_reference_in_readme_matches_help() -> None:
    """The README's generated CLI block equals what the commands' --help prints now."""
    assert reference_main(["--check", str(ROOT / "README.md")]) == 0, (
        "run: python -m agent_routing.cli.reference --update README.md"
    )


def test_ci_runs_the_readme_test_command() -> None:
    """.ci/run contains, verbatim, the second command block of the README (the test command)."""
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    blocks = [part.split("```", 1)[0].strip() for part in readme.split("```bash\n")[1:]]
    install_and_demo, test_command = blocks[0], blocks[1]
    assert "agent-routing demo" in install_and_demo
    ci_lines = [
        line
        for line in (ROOT / ".ci" / "run").read_text(encoding="utf-8").splitlines()
        if line.strip() and not line.lstrip().startswith("#")
    ]
    assert ci_lines[-1] == test_command, "the README's test command must end .ci/run verbatim"


def test_the_test_command_runs_every_check() -> None:
    """The one test command lints, checks formatting and types, and measures coverage, and
    the README offers an inner loop that skips the slow tests."""
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    test_command = _blocks("bash")[1].strip()
    for check in ("ruff check .", "ruff format --check .", "mypy", "python -m pytest", "--cov"):
        assert check in test_command, check
    assert "python -m pytest -q -m 'not slow'" in readme


def _blocks(language: str) -> list[str]:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    return [part.split("```", 1)[0] for part in readme.split(f"```{language}\n")[1:]]


def test_readme_configuration_examples_are_valid_settings() -> None:
    """Every YAML and JSON configuration example in the README validates as it stands
    (the complete reference file and the Agent Zero config.json), so a user can copy them."""
    import json

    import yaml

    from agent_routing.config import check_models_known, settings_from_mapping

    examples = [yaml.safe_load(block) for block in _blocks("yaml")]
    examples += [json.loads(block) for block in _blocks("json")]
    reference = [e for e in examples if isinstance(e, dict) and "compression" in e]
    assert reference, "the README's complete configuration file was not found"
    for example in examples:
        settings = settings_from_mapping(example)
        check_models_known(settings)
