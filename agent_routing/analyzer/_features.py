"""Explainable features of one LLM call: what the prompt asks and the state of the task.

Two families, in a fixed order that the model file records:

- **text features** describe the prompt (size, code, maths, reasoning and multi-step
  markers, constraints, question type). The shared training sets vary in these, so their
  weights are learned.
- **context features** describe the agent's situation (history depth, iteration, tool
  errors, failure signals, call kind). The training sets are single-turn questions where
  these are always zero, so their weights are documented priors in the model file that
  `train --from-ledger` can refit from a user's own outcomes.

Every feature is a plain number that a person can check by reading the prompt. Counts
enter as `log1p(count)` so that one more marker matters less in a long prompt than in a
short one. Content markers are read from a bounded window (head and tail) of the prompt, and
words are matched through one `Counter`, so the cost stays well under a millisecond for a
2,000-token prompt (see `bench/bench_analyzer.py`).
"""

from __future__ import annotations

import math
import string
from collections import Counter

from agent_routing.analyzer._tokens import estimate_tokens
from agent_routing.config import CallKind
from agent_routing.protocols import AnalysisRequest
from agent_routing.records import FAILURE_SIGNALS

TEXT_FEATURES: tuple[str, ...] = (
    "prompt_tokens_log",
    "line_count_log",
    "mean_word_length",
    "long_word_ratio",
    "digit_ratio",
    "number_count_log",
    "numeric_line_ratio",
    "math_symbol_count_log",
    "latex_marker_count_log",
    "math_word_count_log",
    "code_block",
    "code_symbol_count_log",
    "code_word_count_log",
    "calculation_word_count_log",
    "reasoning_word_count_log",
    "multistep_word_count_log",
    "condition_word_count_log",
    "constraint_word_count_log",
    "question_count_log",
    "asks_explanation",
    "asks_creation",
    "asks_transformation",
)

CONTEXT_FEATURES: tuple[str, ...] = (
    "history_messages_log",
    "history_tokens_log",
    "iteration_log",
    "tools_used_log",
    "attachments_log",
    "tool_errors_log",
    "failure_signals_log",
    "kind_background",
    "kind_tool_io",
    "kind_subordinate",
    "kind_scheduled",
    "subordinate_first_step",
)

FEATURE_NAMES: tuple[str, ...] = TEXT_FEATURES + CONTEXT_FEATURES

# Content markers are read from at most this many characters at each end of the prompt.
WINDOW_HEAD_CHARS = 3_000
WINDOW_TAIL_CHARS = 1_000
# History is sized by characters: cl100k_base averages about four characters per token in
# English, and tokenizing a whole history on every call would cost milliseconds.
CHARS_PER_TOKEN = 4.0


def _words(text: str) -> frozenset[str]:
    """A vocabulary written as whitespace-separated words."""
    return frozenset(text.split())


BACKGROUND_KINDS = frozenset(
    {CallKind.UTILITY, CallKind.MEMORY, CallKind.SUMMARIZATION, CallKind.TITLE, CallKind.EMBEDDING}
)
TOOL_IO_KINDS = frozenset({CallKind.BROWSER, CallKind.DOCUMENT_QUERY})

MATH_WORDS = _words(
    """solve equation equations integral integrals derivative derivatives probability
    expected expectation sum product prime primes polynomial polynomials matrix matrices
    remainder divisible digits triangle circle area volume perimeter angle radius sqrt
    log sin cos tan limit series sequence theorem vector vectors eigenvalue eigenvalues
    real integer integers rational irrational modulo factorial permutations combinations
    inequality maximum minimum function functions variance"""
)
CODE_WORDS = _words(
    """def return import class python javascript typescript java rust golang sql regex code
    function bug debug exception compile compiler variable variables array arrays string
    strings algorithm implement api script test tests async await lambda struct dict
    list tuple int bool null none self const var let print stack queue recursion"""
)
CALCULATION_WORDS = _words("calculate compute find determine estimate evaluate solve simplify")
REASONING_WORDS = _words(
    """why explain prove derive justify analyze analyse reason reasoning infer deduce
    implies therefore hence compare contrast assess critique argue tradeoff tradeoffs
    implications hypothesis"""
)
CONDITION_WORDS = _words("if assume assuming suppose given let unless provided")
MULTISTEP_WORDS = _words(
    """then first second third next finally after afterwards before step steps subsequently
    each every both until while followed"""
)
CONSTRAINT_WORDS = _words(
    """must should exactly only without ensure never always least most require required
    requirements format json yaml strictly cannot within"""
)
EXPLANATION_WORDS = _words("why explain describe discuss")
CREATION_WORDS = _words(
    """write implement create design build develop generate draft compose plan refactor"""
)
TRANSFORMATION_WORDS = _words(
    """summarize summarise summary translate rewrite rephrase paraphrase extract convert
    classify shorten title"""
)
MATH_SYMBOLS = "=+*/^<>"
CODE_SYMBOLS = ("{", ";", "==", "->", "=>", "()", "self.")
CODE_FENCES = ("```", "\n    ", "\n\t", ">>> ")

_PUNCTUATION_TO_SPACE = str.maketrans(dict.fromkeys(string.punctuation, " "))
_DIGITS_TO_ZERO = str.maketrans(dict.fromkeys(string.digits, "0"))


def _log_count(count: float) -> float:
    return math.log1p(count)


def _window(text: str) -> str:
    if len(text) <= WINDOW_HEAD_CHARS + WINDOW_TAIL_CHARS:
        return text
    return text[:WINDOW_HEAD_CHARS] + "\n" + text[-WINDOW_TAIL_CHARS:]


# word -> indexes of the vocabularies it belongs to, so one pass over the prompt's distinct
# words counts all of them.
VOCABULARIES: tuple[frozenset[str], ...] = (
    MATH_WORDS,
    CODE_WORDS,
    CALCULATION_WORDS,
    REASONING_WORDS,
    MULTISTEP_WORDS,
    CONDITION_WORDS,
    CONSTRAINT_WORDS,
    EXPLANATION_WORDS,
    CREATION_WORDS,
    TRANSFORMATION_WORDS,
)
_WORD_VOCABULARIES: dict[str, tuple[int, ...]] = {
    word: tuple(i for i, vocabulary in enumerate(VOCABULARIES) if word in vocabulary)
    for word in frozenset().union(*VOCABULARIES)
}
LONG_WORD_CHARS = 10


def text_features(prompt: str) -> dict[str, float]:
    """The prompt's text features (see TEXT_FEATURES), all finite numbers."""
    window = _window(prompt)
    lower = window.lower()
    words = lower.translate(_PUNCTUATION_TO_SPACE).split()
    n_words = len(words)
    n_chars = len(window)
    numbers = long_words = 0
    found = [0] * len(VOCABULARIES)
    for word, count in Counter(words).items():
        if word[0].isdigit():
            numbers += count
        elif len(word) >= LONG_WORD_CHARS:
            long_words += count
        for index in _WORD_VOCABULARIES.get(word, ()):
            found[index] += count
    (
        math_words,
        code_words,
        calculation,
        reasoning,
        multistep,
        conditions,
        constraints,
        explanation,
        creation,
        transformation,
    ) = found  # in VOCABULARIES order
    zeroed = window.translate(_DIGITS_TO_ZERO)  # every digit becomes "0"
    lines = zeroed.split("\n")
    return {
        "prompt_tokens_log": _log_count(estimate_tokens(prompt) if prompt else 0),
        "line_count_log": _log_count(prompt.count("\n")),
        "mean_word_length": len("".join(words)) / n_words if n_words else 0.0,
        "long_word_ratio": long_words / n_words if n_words else 0.0,
        "digit_ratio": zeroed.count("0") / n_chars if n_chars else 0.0,
        "number_count_log": _log_count(numbers),
        "numeric_line_ratio": sum(1 for line in lines if "0" in line) / len(lines),
        "math_symbol_count_log": _log_count(sum(window.count(s) for s in MATH_SYMBOLS)),
        "latex_marker_count_log": _log_count(window.count("\\") + window.count("$")),
        "math_word_count_log": _log_count(math_words),
        "code_block": 1.0 if any(fence in window for fence in CODE_FENCES) else 0.0,
        "code_symbol_count_log": _log_count(sum(window.count(s) for s in CODE_SYMBOLS)),
        "code_word_count_log": _log_count(code_words),
        "calculation_word_count_log": _log_count(calculation),
        "reasoning_word_count_log": _log_count(reasoning),
        "multistep_word_count_log": _log_count(multistep + lower.count("step by step")),
        "condition_word_count_log": _log_count(conditions),
        "constraint_word_count_log": _log_count(constraints),
        "question_count_log": _log_count(window.count("?")),
        "asks_explanation": 1.0 if explanation else 0.0,
        "asks_creation": 1.0 if creation else 0.0,
        "asks_transformation": 1.0 if transformation else 0.0,
    }


def context_features(request: AnalysisRequest) -> dict[str, float]:
    """The call's context features (see CONTEXT_FEATURES); all zero for a lone question."""
    history_chars = sum(len(message) for message in request.history)
    kind = request.call_kind
    return {
        "history_messages_log": _log_count(len(request.history)),
        "history_tokens_log": _log_count(history_chars / CHARS_PER_TOKEN),
        "iteration_log": _log_count(max(request.iteration, 0)),
        "tools_used_log": _log_count(len(set(request.tools))),
        "attachments_log": _log_count(max(request.attachments, 0)),
        "tool_errors_log": _log_count(max(request.tool_errors, 0)),
        "failure_signals_log": _log_count(
            sum(1 for signal in request.signals if signal in FAILURE_SIGNALS)
        ),
        "kind_background": 1.0 if kind in BACKGROUND_KINDS else 0.0,
        "kind_tool_io": 1.0 if kind in TOOL_IO_KINDS else 0.0,
        "kind_subordinate": 1.0 if kind == CallKind.SUBORDINATE else 0.0,
        "kind_scheduled": 1.0 if kind == CallKind.SCHEDULED else 0.0,
        "subordinate_first_step": (
            1.0 if request.iteration == 0 and kind == CallKind.SUBORDINATE else 0.0
        ),
    }


def extract_features(request: AnalysisRequest) -> dict[str, float]:
    """Every model input feature of `request`, keyed by name, in FEATURE_NAMES order."""
    features = text_features(request.prompt)
    features.update(context_features(request))
    return features
