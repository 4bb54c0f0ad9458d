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
    assert test_command in (ROOT / ".ci" / "run").read_text(encoding="utf-8")
