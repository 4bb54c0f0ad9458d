"""The size of the next main prompt, from the counts Agent Zero already keeps.

The router needs the main call's input tokens (context-window fit, cost estimates, budget
reservations) at `message_loop_start`, before the prompt is built. Counting the history
again with tiktoken costs about 10 ms per 20k tokens on every step, and the host has
already counted (§5.6):

- `agent.data["ctx_window"]["tokens"]`: the whole previous prompt (system prompt and
  history as sent, after our own compression), written by `prepare_prompt`;
- `Message.tokens` of every message stored since (§8.3): the reply and the tool result of
  the previous step, or a new user message. `History.counter` counts the messages added.

So the next prompt is about the previous prompt plus the messages added since. Both counts
are the host's `approximate_tokens` (tiktoken cl100k_base x 1.1): a slight overestimate,
which errs the safe way for budget reservations and window checks. Extras (memories, date)
are in neither. When the host gives no usable figure (the first step of a chat, a chat
loaded from disk, a history that was replaced, a prompt build that failed), the caller
counts as before (:func:`host_input_tokens` returns None).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

CTX_WINDOW_KEY = "ctx_window"  # Agent.DATA_NAME_CTX_WINDOW, written by prepare_prompt
MARK_KEY = "_agent_routing_ctx_mark"  # "_": never saved with the chat (§8.4)


@dataclass(frozen=True, slots=True)
class ContextMark:
    """What the host had at the previous `message_loop_start` of this agent."""

    window: Any  # the ctx_window object then present (identity tells a new one apart)
    counter: int  # History.counter then: messages stored so far


def _counter(agent: Any) -> int | None:
    value = getattr(getattr(agent, "history", None), "counter", None)
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _window_tokens(window: Any) -> int | None:
    tokens = window.get("tokens") if isinstance(window, dict) else None
    return tokens if isinstance(tokens, int) and not isinstance(tokens, bool) else None


def _last_messages_tokens(history: Any, count: int) -> int | None:
    """Sum of `Message.tokens` of the `count` most recently stored messages, or None."""
    if count == 0:
        return 0
    topics = [*list(getattr(history, "topics", None) or ()), getattr(history, "current", None)]
    total, seen = 0, 0
    for topic in reversed(topics):
        for message in reversed(list(getattr(topic, "messages", None) or ())):
            tokens = getattr(message, "tokens", None)
            if not isinstance(tokens, int) or isinstance(tokens, bool):
                return None
            total += tokens
            seen += 1
            if seen == count:
                return total
    return None  # fewer messages than were added: the history was rewritten


def host_input_tokens(agent: Any) -> int | None:
    """The next main prompt's tokens from the host's own counts, or None (count instead).

    Call once per `message_loop_start`: it also records the mark the next call measures
    from (see the module docstring).
    """
    data = getattr(agent, "data", None)
    if not isinstance(data, dict):
        return None
    window, counter = data.get(CTX_WINDOW_KEY), _counter(agent)
    previous = data.get(MARK_KEY)
    data[MARK_KEY] = ContextMark(window, counter) if counter is not None else None
    if not isinstance(previous, ContextMark) or counter is None or counter < previous.counter:
        return None
    if window is previous.window:  # no prompt was built since the last mark
        return None
    prompt = _window_tokens(window)
    added = _last_messages_tokens(agent.history, counter - previous.counter)
    if prompt is None or added is None:
        return None
    return prompt + added
