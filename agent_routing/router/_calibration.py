"""Where the built-in strategies put their thresholds, measured rather than guessed.

Two measurements, both reproduced by `bench/bench_router.py --calibrate`:

1. **The score distribution of real agent calls.** Every assistant step of the recorded
   agent runs in `agent_transcripts/` becomes the request the plugin would route (the last
   user/tool message as the prompt, the earlier messages as history, the tools used so
   far, the iteration number). The quantiles of the shipped analyzer's scores over those
   steps (:func:`agent_routing.analyzer.quantiles.quantile_table`, 4 places) are
   :data:`~agent_routing.router.strategies.SHIPPED_SCORE_QUANTILES`: a strategy
   that wants a share `s` of calls above the cheapest tier puts its threshold at quantile
   `1 - s` (RouteLLM's `calibrate_threshold.py` does the same with `quantile(1 - pct)`).
2. **What a share of strong calls buys.** On prompts with recorded outcomes of a cheap and
   a strong model, the share of strong calls needed to recover a fraction of the quality
   gap (RouteLLM's CPT), from :mod:`agent_routing.evaluation._curve`; docs/router.md lists
   the figures beside the strategies' shares.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from agent_routing.config import CallKind
from agent_routing.protocols import AnalysisRequest

HISTORY_MESSAGES = 20  # recent history messages given to the analyzer per step


def message_text(message: Mapping[str, Any]) -> str:
    """A message's text, tool calls rendered as `name(arguments)` (they are not in content)."""
    content = message.get("content")
    parts = [content] if isinstance(content, str) else []
    for call in message.get("tool_calls") or ():
        function = call.get("function", {}) if isinstance(call, Mapping) else {}
        parts.append(f"{function.get('name', '')}({function.get('arguments', '')})")
    return "\n".join(part for part in parts if part)


def agent_step_requests(messages: Sequence[Mapping[str, Any]]) -> list[AnalysisRequest]:
    """The request routed before each assistant step of one recorded agent run."""
    requests: list[AnalysisRequest] = []
    tools: list[str] = []
    iteration = 0
    for index, message in enumerate(messages):
        if message.get("role") != "assistant":
            continue
        asked = [i for i in range(index) if messages[i].get("role") != "assistant"]
        if not asked:
            continue
        prompt = message_text(messages[asked[-1]])
        earlier = messages[: asked[-1]][-HISTORY_MESSAGES:]
        history = tuple(message_text(m) for m in earlier)
        requests.append(
            AnalysisRequest(
                prompt=prompt,
                history=history,
                call_kind=CallKind.CHAT,
                tools=tuple(dict.fromkeys(tools)),
                iteration=iteration,
            )
        )
        iteration += 1
        for call in message.get("tool_calls") or ():
            if isinstance(call, Mapping):
                tools.append(str(call.get("function", {}).get("name", "")))
    return requests


def strong_share_to_recover(
    scores: Sequence[float], weak: Sequence[float], strong: Sequence[float], target: float
) -> float | None:
    """Share of calls sent strong (highest scores first) to recover `target` of the gap."""
    import numpy as np

    from agent_routing.evaluation import calls_to_recover, sweep

    score_array = np.asarray(scores, dtype=float)
    weak_array = np.asarray(weak, dtype=float)
    strong_array = np.asarray(strong, dtype=float)
    points = sweep(score_array, weak_array, strong_array, steps=100)
    return calls_to_recover(points, float(weak_array.mean()), float(strong_array.mean()), target)
