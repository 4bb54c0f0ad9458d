"""Ask a streamed Chat Completions call for the provider's usage (`capture.stream_usage`).

Agent Zero streams its chat calls without `stream_options={"include_usage": True}`, so an
OpenAI-compatible provider sends no usage chunk and litellm counts the tokens itself: cached
prompt tokens (automatic prompt caching) are never seen. Before each hop the routed model adds
that option to the hop's call arguments when it is safe: the call streams, it goes through
Chat Completions (v1.7 always; v2 only with `a0_api_mode` set to a Chat Completions alias,
never the Responses API), neither the caller nor the host model's own kwargs set
`stream_options`, and litellm lists `stream_options` among the provider's supported OpenAI
params. Any error while deciding leaves the arguments unchanged. A call that asks is also
read to its end (:class:`StreamDrain`), since the host stops reading a main step at its tool
JSON, before the usage chunk.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any

logger = logging.getLogger("agent_routing.host")

_STREAM_CALLBACKS = ("response_callback", "reasoning_callback", "tokens_callback")
# v2 helpers/litellm_transport.py CHAT_COMPLETIONS_ALIASES (the mode is "responses" otherwise).
_CHAT_MODES = frozenset(
    {"chat", "chat_completion", "chat_completions", "completion", "completions"}
)


def _chat_completions(model: Any, method: str, kwargs: dict[str, Any]) -> bool:
    """True when the host sends this call through Chat Completions."""
    if method != "unified_turn" and not callable(getattr(model, "unified_turn", None)):
        return True  # Agent Zero v1.7: unified_call is always Chat Completions
    own = getattr(model, "kwargs", None)
    mode = kwargs.get("a0_api_mode", (own if isinstance(own, dict) else {}).get("a0_api_mode"))
    return str(mode or "").lower().strip() in _CHAT_MODES


def provider_streams_usage(model_name: str, provider: str | None) -> bool:
    """True when litellm says the provider accepts `stream_options` for this model."""
    from agent_routing._litellm import litellm_module

    litellm = litellm_module()
    try:
        bare, found, _, _ = litellm.get_llm_provider(
            model=model_name, custom_llm_provider=provider or None
        )
    except Exception:  # litellm cannot place the model: ask with what the host says
        bare, found = model_name, provider
    params = litellm.get_supported_openai_params(model=bare, custom_llm_provider=found)
    return isinstance(params, list) and "stream_options" in params


def _wanted(model: Any, method: str, kwargs: dict[str, Any]) -> bool:
    """True when this hop's call may ask for stream usage (may raise: see the caller)."""
    if not any(kwargs.get(name) is not None for name in _STREAM_CALLBACKS):
        return False  # not streamed: the provider's response carries its usage
    own = getattr(model, "kwargs", None)
    if "stream_options" in kwargs or (isinstance(own, dict) and "stream_options" in own):
        return False  # the caller's choice stands
    if not _chat_completions(model, method, kwargs):
        return False
    name = getattr(model, "model_name", None)
    provider = getattr(model, "provider", None)
    return (
        isinstance(name, str)
        and bool(name)
        and provider_streams_usage(name, provider if isinstance(provider, str) else None)
    )


def with_stream_usage(
    model: Any, method: str, kwargs: dict[str, Any], *, enabled: bool = True
) -> dict[str, Any]:
    """`kwargs` plus `stream_options={"include_usage": True}` when `enabled` and safe (see
    the module docstring); otherwise `kwargs` itself, unchanged."""
    if not enabled:
        return kwargs
    try:
        wanted = _wanted(model, method, kwargs)
    except Exception as error:  # never cost the call: send it as the host built it
        logger.info("agent-routing: stream usage not requested: %s", error)
        return kwargs
    return {**kwargs, "stream_options": {"include_usage": True}} if wanted else kwargs


class StreamDrain:
    """Reads a streamed call the host would cut at its first complete tool JSON to its end.

    Agent Zero (v1.7, v2 Chat Completions) stops reading a main step's stream as soon as its
    `response_callback` returns the accepted answer, so the provider's final usage chunk is
    never read. The drain answers the host `None` instead (keep reading), remembers the
    accepted answer, stops forwarding anything after it to the host's callbacks, and puts
    the accepted answer back into the result: what later v2's built-in `_context_window`
    does. Text the model writes after the tool JSON is generated and billed (usually none).
    """

    def __init__(self) -> None:
        self.accepted: str | None = None
        self.reasoning = ""  # the reasoning text the host was last shown (its full text)

    def wrap(self, kwargs: dict[str, Any]) -> dict[str, Any]:
        """`kwargs` with its stream callbacks wrapped (a new dict)."""
        wrapped = dict(kwargs)
        for name in _STREAM_CALLBACKS:
            callback = kwargs.get(name)
            if callback is not None:
                wrapped[name] = self._wrapped(
                    callback,
                    accepts=name == "response_callback",
                    reasoning=name == "reasoning_callback",
                )
        return wrapped

    def _wrapped(
        self, callback: Callable[..., Awaitable[Any]], *, accepts: bool, reasoning: bool
    ) -> Callable[..., Awaitable[Any]]:
        async def drained(*args: Any, **kwargs: Any) -> Any:
            if self.accepted is not None:
                return None  # after the accepted answer: read, never shown
            if reasoning and len(args) > 1 and isinstance(args[1], str):
                self.reasoning = args[1]  # (delta, full text so far)
            answer = await callback(*args, **kwargs)
            if accepts and answer is not None:
                self.accepted = str(answer)
                return None
            return answer

        return drained

    def answer_after_break(self, method: str) -> tuple[str, str] | None:
        """What `method` answers when its stream broke after the host accepted an answer
        (read on only for the usage chunk): that answer, as Agent Zero would have returned
        it had it stopped reading there, or None when nothing was accepted. For v2's
        `unified_turn` (a host result object the plugin cannot build) also None: the break
        is then the step's error, as any mid-stream error is."""
        if self.accepted is None or method == "unified_turn":
            return None
        return self.accepted, self.reasoning

    def restore(self, method: str, result: Any) -> Any:
        """The host's result with the accepted answer as its response text."""
        if self.accepted is None:
            return result
        if method == "unified_turn":
            try:
                result.response = self.accepted
            except Exception as error:  # an unexpected result type: leave it as it is
                logger.info("agent-routing: drained answer not restored: %s", error)
            return result
        if isinstance(result, tuple) and len(result) == 2:
            return self.accepted, result[1]
        return result
