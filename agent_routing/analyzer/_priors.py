"""Modelling priors: the sign each text feature may take, and the context features' weights.

**Directions.** A text feature's learned weight is constrained to the sign a person would
expect (+1: more of it means a harder prompt; -1: easier; 0: free). The training sets
contain artefacts that would otherwise be learned with the wrong sign and then misroute
other prompts: in MMLU-Pro, questions asking to "explain" are recall questions and easier
than calculations, so an unconstrained model learns a negative weight for reasoning words
and would send "explain why ..." chat requests to the cheap model. A constrained weight
falls to zero instead.

**Context priors.** History depth, iteration, tool errors, failure signals and call kind
never vary in the single-question training sets, so no weight can be learned for them
there. These are the starting weights (log-odds per unit of the feature, whose values are
`log1p(count)` or 0/1) until `train --from-ledger` refits them from recorded outcomes. For
scale: the learned text part of the shipped model spans 1.4 log-odds between the 5th and
95th percentile of the training prompts (docs/analyzer.md), so one tool error (+0.35)
moves a call about a quarter of that range, and a utility call (-1.5) across all of it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

TEXT_DIRECTIONS: Mapping[str, int] = {
    "prompt_tokens_log": 1,
    "line_count_log": 1,
    "mean_word_length": 0,  # technical vocabulary, but also plain long-winded prose
    "long_word_ratio": 0,
    "digit_ratio": 1,
    "number_count_log": 1,
    "numeric_line_ratio": 1,
    "math_symbol_count_log": 1,
    "latex_marker_count_log": 1,
    "math_word_count_log": 1,
    "code_block": 1,
    "code_symbol_count_log": 1,
    "code_word_count_log": 1,
    "calculation_word_count_log": 1,
    "reasoning_word_count_log": 1,
    "multistep_word_count_log": 1,
    "condition_word_count_log": 1,
    "constraint_word_count_log": 1,
    "question_count_log": 1,
    "asks_explanation": 1,
    "asks_creation": 1,
    "asks_transformation": -1,  # summarise / translate / extract: the cheap model's job
}


@dataclass(frozen=True, slots=True)
class ContextPrior:
    """A context feature's prior weight (log-odds per unit), allowed sign and rationale."""

    weight: float
    direction: int
    why: str


CONTEXT_PRIORS: Mapping[str, ContextPrior] = {
    "history_messages_log": ContextPrior(
        0.10, 1, "a long conversation carries more state to keep consistent"
    ),
    "history_tokens_log": ContextPrior(0.05, 1, "more context to read and reconcile"),
    "iteration_log": ContextPrior(
        0.0,
        0,
        "dropped: on Who&When, steps in the second half of a run hold half the decisive "
        "mistakes per step of the first half (rate ratio 0.50 [0.37, 0.69], "
        "bench/step_priors.py): many iterations do not call for a stronger model",
    ),
    "tools_used_log": ContextPrior(0.10, 1, "several different tools: a multi-part task"),
    "attachments_log": ContextPrior(0.20, 1, "attached files or images to interpret"),
    "tool_errors_log": ContextPrior(
        1.0,
        1,
        "after a failed execution earlier in the run, a step is the decisive mistake 1.99x as "
        "often (Who&When, [1.25, 2.97], bench/step_priors.py): +0.69 = ln 1.99 for one error",
    ),
    "failure_signals_log": ContextPrior(
        0.80,
        1,
        "the previous answer was misformatted, empty, repeated or reported failed (+0.55 for one)",
    ),
    "kind_background": ContextPrior(
        -1.50, -1, "utility, memory, summarisation, title and embedding calls are formulaic"
    ),
    "kind_tool_io": ContextPrior(
        0.31,
        1,
        "steps that read web pages or files are the decisive mistake 1.37x as often "
        "(Who&When, [1.01, 1.81], bench/step_priors.py): +0.31 = ln 1.37",
    ),
    "kind_subordinate": ContextPrior(0.0, 0, "delegated subtasks: no evidence either way"),
    "kind_scheduled": ContextPrior(0.0, 0, "scheduled runs: no evidence either way"),
    "subordinate_first_step": ContextPrior(
        1.80,
        1,
        "a sub-agent's first step is the decisive mistake 6.05x as often as other steps "
        "(Who&When, [4.24, 8.44], bench/step_priors.py): ln 6.05. The main agent's first "
        "step (2.51x) gets no prior: it would send nearly every first reply to the strong tier",
    ),
}
