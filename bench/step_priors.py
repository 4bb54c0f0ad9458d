"""Step priors measured on Who&When: where in a multi-agent run the decisive mistake happens.

    .venv/bin/python bench/step_priors.py [--data-dir ../shared/data] [--bootstrap 1000]

184 failed runs (`agent_step_failures/who_and_when/`: 126 Algorithm-Generated CaptainAgent
teams, 58 Hand-Crafted Magentic-One runs), each with the decisive mistake's step annotated
by people. Every step an LLM agent wrote is a candidate (the human question and
`Computer_terminal` code-execution output are not LLM steps). Each run has exactly one
decisive step, so for a step attribute the figure is the **rate ratio**: P(the step is the
decisive mistake | attribute) / P(... | not attribute), pooled over runs, with a bootstrap
95 % interval over runs. A ratio above 1 says a stronger model is worth more on such steps.

Attributes (what the router can see before the call):

- `first step of an agent`: the agent's first step in the run; split into the run's very
  first step (the main agent's) and the first step of every agent joining later (a
  sub-agent's first turn);
- `reads web pages or files`: the step of an agent whose job is browsing or reading files
  (name matches surfer / web / browser / file / search / reader);
- `late iteration`: the step is in the second half of the run's LLM steps;
- `after a tool error`: an earlier step in the run shows a failed execution (`exitcode: 1`,
  `Traceback`, `Error:`), i.e. tool errors so far.
"""

from __future__ import annotations

import argparse
import json
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

NON_LLM = {"human", "computer_terminal"}
READER = re.compile(r"surfer|web|browser|file|search|reader", re.IGNORECASE)
TOOL_ERROR = re.compile(r"exitcode: 1|Traceback \(most recent call last\)|\bError:", re.IGNORECASE)


@dataclass(frozen=True)
class Step:
    """One LLM step of a run, its attributes and whether it is the decisive mistake."""

    run: int
    mistake: bool
    first_of_run: bool
    first_of_agent: bool
    reader: bool
    late: bool
    after_tool_error: bool


def agent_of(entry: dict[str, object]) -> str:
    """The agent that wrote a history entry (`name`, else the role without its suffix)."""
    name = entry.get("name")
    if isinstance(name, str) and name:
        return name
    return str(entry.get("role", "")).split(" (")[0]


def load_steps(folder: Path) -> tuple[list[Step], int]:
    """Every LLM step of every run (and the number of runs)."""
    steps: list[Step] = []
    files = sorted(folder.glob("*/*.json"))
    for run, path in enumerate(files):
        data = json.loads(path.read_text(encoding="utf-8"))
        history = data["history"]
        mistake = int(data["mistake_step"])
        llm = [i for i, e in enumerate(history) if agent_of(e).lower() not in NON_LLM]
        seen: set[str] = set()
        error_so_far = False
        for position, index in enumerate(llm):
            entry = history[index]
            agent = agent_of(entry)
            earlier = history[llm[position - 1] + 1 : index] if position else history[:index]
            error_so_far = error_so_far or any(
                TOOL_ERROR.search(str(e.get("content", ""))) for e in earlier
            )
            steps.append(
                Step(
                    run=run,
                    mistake=index == mistake,
                    first_of_run=position == 0,
                    first_of_agent=agent not in seen,
                    reader=bool(READER.search(agent)),
                    late=position >= len(llm) / 2,
                    after_tool_error=error_so_far,
                )
            )
            seen.add(agent)
            error_so_far = error_so_far or bool(TOOL_ERROR.search(str(entry.get("content", ""))))
    return steps, len(files)


def rate_ratio(
    steps: Sequence[Step], attribute: Callable[[Step], bool]
) -> tuple[float, int, int, int, int]:
    """(ratio, mistakes with, steps with, mistakes without, steps without)."""
    with_attr = [s for s in steps if attribute(s)]
    without = [s for s in steps if not attribute(s)]
    hits_with = sum(s.mistake for s in with_attr)
    hits_without = sum(s.mistake for s in without)
    if not with_attr or not without or hits_without == 0:
        return float("nan"), hits_with, len(with_attr), hits_without, len(without)
    ratio = (hits_with / len(with_attr)) / (hits_without / len(without))
    return ratio, hits_with, len(with_attr), hits_without, len(without)


ATTRIBUTES: dict[str, Callable[[Step], bool]] = {
    "first step of an agent": lambda s: s.first_of_agent,
    "first step of a sub-agent (not the run's first step)": lambda s: (
        s.first_of_agent and not s.first_of_run
    ),
    "the run's first step (the main agent's)": lambda s: s.first_of_run,
    "reads web pages or files": lambda s: s.reader,
    "late iteration (second half)": lambda s: s.late,
    "after a tool error": lambda s: s.after_tool_error,
}


def main(argv: Sequence[str] | None = None) -> int:
    """Print the rate ratio of each attribute with its bootstrap interval."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data-dir", type=Path, default=Path("../shared/data"))
    parser.add_argument("--bootstrap", type=int, default=1000)
    args = parser.parse_args(argv)
    steps, runs = load_steps(args.data_dir / "agent_step_failures" / "who_and_when")
    matched = sum(s.mistake for s in steps)
    print(f"{runs} runs, {len(steps)} LLM steps, {matched} decisive steps on an LLM step")
    by_run: dict[int, list[Step]] = {}
    for step in steps:
        by_run.setdefault(step.run, []).append(step)
    rng = np.random.default_rng(0)
    keys = sorted(by_run)
    print("| attribute | mistakes / steps with | mistakes / steps without | rate ratio [95 % CI] |")
    print("|---|---|---|---|")
    for name, attribute in ATTRIBUTES.items():
        ratio, hw, nw, ho, no = rate_ratio(steps, attribute)
        samples = []
        for _ in range(args.bootstrap):
            drawn = [s for k in rng.choice(keys, size=len(keys)) for s in by_run[int(k)]]
            value = rate_ratio(drawn, attribute)[0]
            if value == value:  # not NaN
                samples.append(value)
        low, high = np.percentile(samples, [2.5, 97.5])
        print(f"| {name} | {hw} / {nw} | {ho} / {no} | **{ratio:.2f}** [{low:.2f}, {high:.2f}] |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
