"""Model configuration and LiteLLM wrappers (§5), calling REAL litellm with scripted mocks.

`PROVIDER` stands in for the network: each call takes its `mock_response=` from there, so
litellm itself streams, raises and fires its callbacks exactly as with a real provider.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import threading
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from enum import Enum
from typing import Any

import yaml
from helpers import host_version
from helpers.extension import extensible
from helpers.files import BASE_DIR
from helpers.llm_result import LLMResult
from langchain_core.messages import BaseMessage, HumanMessage, SystemMessage


class ModelType(Enum):
    CHAT = "Chat"
    EMBEDDING = "Embedding"


@dataclass
class ModelConfig:
    type: ModelType
    provider: str
    name: str
    api_key: str = ""
    api_base: str = ""
    ctx_length: int = 0
    limit_requests: int = 0
    limit_input: int = 0
    limit_output: int = 0
    vision: bool = False
    kwargs: dict[str, Any] = field(default_factory=dict)

    def build_kwargs(self) -> dict[str, Any]:
        kwargs = dict(self.kwargs)
        if self.api_key and "api_key" not in kwargs:
            kwargs["api_key"] = self.api_key
        if self.api_base and "api_base" not in kwargs:
            kwargs["api_base"] = self.api_base
        return kwargs


@dataclass
class ProviderCall:
    model: str
    messages: list[dict[str, Any]]
    kwargs: dict[str, Any]
    stream: bool


MAIN_PROMPT_MARK = "Agent Zero System Manual"  # first line of agent.system.main.md


def utility_reply(model: str, messages: list[dict[str, Any]]) -> str:
    """A plausible answer for the host's own utility calls, chosen by their system prompt."""
    system = str(messages[0]["content"]).lower() if messages else ""
    if "title" in system:
        return "Chat about the task"
    if "memor" in system:
        return "No facts worth remembering."
    if "document" in system:
        return "The document says the answer is 42."
    return "ok"


class ScriptedProvider:
    """Scripted responses: per model first (key: full litellm id or the name after the last
    '/'), then main-loop calls in order (`script_main`, whatever model serves them), then
    `default` (by default: `utility_reply` for every non-main call)."""

    def __init__(self) -> None:
        self.queues: dict[str, deque[Any]] = {}
        self.main: deque[Any] = deque()
        self.default: Callable[[str, list[dict[str, Any]]], Any] | None = None
        self.calls: list[ProviderCall] = []
        self.embeddings: list[str] = []  # every text embedded
        self.embedding_calls: list[list[str]] = []  # one entry per litellm.embedding call
        self.turn_usage: deque[dict[str, Any]] = deque()  # v2: usage a provider reports
        self.stream_usage: deque[dict[str, Any]] = deque()  # a stream's final usage chunk
        self._lock = threading.Lock()

    def script(self, model: str, *responses: Any) -> None:
        self.queues.setdefault(model, deque()).extend(responses)

    def script_main(self, *responses: Any) -> None:
        self.main.extend(responses)

    def script_usage(self, *usages: dict[str, Any]) -> None:
        """v2: the provider's usage (cached tokens, cost) for the next `unified_turn`s."""
        self.turn_usage.extend(usages)

    def script_stream_usage(self, *usages: dict[str, Any]) -> None:
        """The usage the provider puts in the final chunk of the next streamed main-step
        Chat Completions calls; litellm passes it on only when the request asked for it
        (`stream_options.include_usage`), as an OpenAI-compatible provider sends it."""
        self.stream_usage.extend(usages)

    def stream_mock(self, mock: Any, messages: list[dict[str, Any]], stream: bool) -> Any:
        """`mock` as a provider stream chunk carrying the next scripted stream usage."""
        if not (stream and isinstance(mock, str) and is_main_call(messages)):
            return mock
        with self._lock:
            if not self.stream_usage:
                return mock
            usage = self.stream_usage.popleft()
        from litellm.types.utils import ModelResponseStream, Usage

        chunk = ModelResponseStream(
            choices=[{"index": 0, "delta": {"role": "assistant", "content": mock}}]
        )
        chunk.usage = Usage(**usage)
        return chunk

    def take_usage(self) -> dict[str, Any] | None:
        with self._lock:
            return self.turn_usage.popleft() if self.turn_usage else None

    def main_calls(self) -> list[ProviderCall]:
        """The calls that carried the agent's main system prompt, in order."""
        return [c for c in self.calls if is_main_call(c.messages)]

    def next(
        self, model: str, messages: list[dict[str, Any]], kwargs: dict[str, Any], stream: bool
    ) -> Any:
        with self._lock:
            self.calls.append(ProviderCall(model, messages, dict(kwargs), stream))
            for key in (model, model.rsplit("/", 1)[-1]):
                queue = self.queues.get(key)
                if queue:
                    return queue.popleft()
            if is_main_call(messages):
                if self.main:
                    return self.main.popleft()
                raise AssertionError(f"no scripted main-loop response left (model {model!r})")
        if self.default is not None:
            return self.default(model, messages)
        return utility_reply(model, messages)


def is_main_call(messages: list[dict[str, Any]]) -> bool:
    return bool(messages) and MAIN_PROMPT_MARK in str(messages[0].get("content", ""))


PROVIDER = ScriptedProvider()


def _providers(kind: str) -> dict[str, Any]:
    data = yaml.safe_load((BASE_DIR / "conf" / "model_providers.yaml").read_text(encoding="utf-8"))
    return data.get(kind, {})


def get_api_key(provider: str) -> str:
    for name in (f"API_KEY_{provider.upper()}", f"{provider.upper()}_API_KEY"):
        if os.environ.get(name):
            return os.environ[name]
    return ""


def _resolve(kind: str, provider: str, kwargs: dict[str, Any]) -> str:
    provider = provider.lower()
    conf = _providers(kind).get(provider, {"litellm_provider": provider})
    for key, value in (conf.get("kwargs") or {}).items():
        kwargs.setdefault(key, value)
    key = get_api_key(provider)
    if key:
        kwargs.setdefault("api_key", key)
    litellm_provider = conf.get("litellm_provider", provider)
    return "openai" if litellm_provider == "other" else litellm_provider


def _mock_error(name: str, model: str) -> Exception:
    """The litellm exception a mock string names (what acompletion's mock raises)."""
    import litellm

    cls = getattr(litellm, name.split(".", 1)[1])
    provider = model.split("/", 1)[0]
    return cls(message=f"mock {name}", llm_provider=provider, model=model)


def _is_transient(error: Exception) -> bool:
    return getattr(error, "status_code", None) in {408, 429, 500, 502, 503, 504}


def _convert(messages: list[BaseMessage], explicit_caching: bool) -> list[dict[str, Any]]:
    roles = {"human": "user", "ai": "assistant", "system": "system"}
    converted = [
        {"role": roles.get(m.type, "user"), "content": m.content or "empty"} for m in messages
    ]
    if explicit_caching and converted:
        converted[0]["cache_control"] = {"type": "ephemeral"}
    return converted


class LiteLLMChatWrapper:
    def __init__(
        self, model: str, provider: str, model_config: ModelConfig | None, **kwargs: Any
    ) -> None:
        self.model_name = model
        self.provider = provider
        self.kwargs = kwargs
        self.a0_model_conf = model_config

    async def unified_call(
        self,
        system_message: str = "",
        user_message: str = "",
        messages: list[BaseMessage] | None = None,
        response_callback: Callable[[str, str], Awaitable[str | None]] | None = None,
        reasoning_callback: Callable[[str, str], Awaitable[str | None]] | None = None,
        tokens_callback: Callable[[str, int], Awaitable[None]] | None = None,
        rate_limiter_callback: Callable[..., Awaitable[bool]] | None = None,
        explicit_caching: bool = False,
        **kwargs: Any,
    ) -> tuple[str, str]:
        import litellm

        msgs = list(messages or [])
        if system_message:
            msgs.insert(0, SystemMessage(system_message))
        if user_message:
            msgs.append(HumanMessage(user_message))
        if host_version.is_v2():  # v2: the same transports as unified_turn, strings back
            result = await self._turn(
                msgs,
                response_callback,
                reasoning_callback,
                explicit_caching,
                kwargs,
                cut_at_tool=True,
            )
            return result.response, result.reasoning
        converted = _convert(msgs, explicit_caching)
        call_kwargs = {**self.kwargs, **kwargs}
        retries = int(call_kwargs.pop("a0_retry_attempts", 2))
        delay = float(call_kwargs.pop("a0_retry_delay_seconds", 1.5))
        stream = any(
            cb is not None for cb in (response_callback, reasoning_callback, tokens_callback)
        )
        attempt = 0
        while True:
            got_chunk = False
            try:
                if "mock_response" not in call_kwargs:
                    call_kwargs["mock_response"] = PROVIDER.stream_mock(
                        PROVIDER.next(self.model_name, converted, call_kwargs, stream),
                        converted,
                        stream,
                    )
                result = await litellm.acompletion(
                    model=self.model_name, messages=converted, stream=stream, **call_kwargs
                )
                if not stream:
                    return result.choices[0].message.content or "", ""
                response = ""
                async for chunk in result:
                    got_chunk = True
                    delta = chunk.choices[0].delta.content or ""
                    if not delta:
                        continue
                    response += delta
                    if response_callback is not None:
                        replaced = await response_callback(delta, response)
                        if replaced is not None:  # v1.7: stop at the first complete tool JSON
                            response = replaced
                            closer = getattr(result, "aclose", None)  # litellm's stream has none
                            if closer is not None:
                                await closer()
                            break
                return response, ""
            except Exception as error:
                call_kwargs.pop("mock_response", None)
                if got_chunk or attempt >= retries or not _is_transient(error):
                    raise
                attempt += 1
                await asyncio.sleep(delay)

    # --- v2 (helpers.host_version.is_v2()): unified_turn -> LLMResult, two transports ------

    def _api_mode(self) -> str:
        return str(self.kwargs.get("a0_api_mode") or host_version.API_MODE)

    async def _turn(
        self,
        messages: list[BaseMessage],
        response_callback: Callable[[str, str], Awaitable[str | None]] | None,
        reasoning_callback: Callable[[str, str], Awaitable[str | None]] | None,
        explicit_caching: bool,
        kwargs: dict[str, Any],
        *,
        cut_at_tool: bool,
    ) -> LLMResult:
        """One v2 call through the chosen transport, with the host's retry loop."""
        import litellm

        converted = _convert(list(messages), explicit_caching)
        call_kwargs = {**self.kwargs, **kwargs}
        retries = int(call_kwargs.pop("a0_retry_attempts", 2))
        delay = float(call_kwargs.pop("a0_retry_delay_seconds", 1.5))
        mode = str(call_kwargs.pop("a0_api_mode", None) or host_version.API_MODE)
        previous_id = call_kwargs.pop("previous_response_id", None)
        input_items = call_kwargs.pop("responses_input_items", None)
        local_items = call_kwargs.pop("responses_local_input_items", None)
        for name in ("a0_responses_function_tools", "responses_state", "responses_builtin_tools"):
            call_kwargs.pop(name, None)
        stream = response_callback is not None or reasoning_callback is not None
        attempt = 0
        while True:
            got_chunk = False
            try:
                if stream and mode != "responses" and host_version.USAGE_DRAIN:
                    call_kwargs.setdefault("stream_options", {"include_usage": True})
                if "mock_response" not in call_kwargs:
                    noted = dict(call_kwargs, previous_response_id=previous_id, api_mode=mode)
                    call_kwargs["mock_response"] = PROVIDER.next(
                        self.model_name, converted, noted, stream
                    )
                if mode == "responses":
                    return await self._responses(
                        converted,
                        previous_id,
                        input_items,
                        local_items,
                        call_kwargs,
                        response_callback,
                        stream,
                    )
                call_kwargs["mock_response"] = PROVIDER.stream_mock(
                    call_kwargs["mock_response"], converted, stream
                )
                result = await litellm.acompletion(
                    model=self.model_name, messages=converted, stream=stream, **call_kwargs
                )
                if not stream:
                    usage = result.usage.model_dump() if result.usage else {}
                    return LLMResult(
                        response=result.choices[0].message.content or "",
                        provider_model_key=self.model_name,
                        mode="chat_completions",
                        state="local",
                        usage=usage,
                    )
                response, usage = "", {}
                async for chunk in result:
                    got_chunk = True
                    if getattr(chunk, "usage", None):
                        usage = chunk.usage.model_dump()
                    delta = chunk.choices[0].delta.content if chunk.choices else ""
                    if not delta:
                        continue
                    response += delta
                    if response_callback is not None:
                        replaced = await response_callback(delta, response)
                        if replaced is not None and cut_at_tool:
                            response = replaced  # stop at the first complete tool JSON
                            break
                return LLMResult(
                    response=response,
                    input_items=converted,
                    provider_model_key=self.model_name,
                    mode="chat_completions",
                    state="local",
                    usage=usage,
                )
            except Exception as error:
                call_kwargs.pop("mock_response", None)
                if got_chunk or attempt >= retries or not _is_transient(error):
                    raise
                attempt += 1
                await asyncio.sleep(delay)

    async def _responses(
        self,
        converted: list[dict[str, Any]],
        previous_id: str | None,
        input_items: list[dict[str, Any]] | None,
        local_items: list[dict[str, Any]] | None,
        call_kwargs: dict[str, Any],
        response_callback: Callable[[str, str], Awaitable[str | None]] | None,
        stream: bool,
    ) -> LLMResult:
        """Responses API: only new items after `previous_response_id`, stored, read to its end.

        litellm's mock cannot stream a Responses call (asked to, it returns the complete
        response and then fires no callback at all), so the fake asks for the complete
        response: what the host gets from a stream read to its end, with litellm's success
        callbacks as a finished real stream fires them (`stream` is recorded, not sent).
        """
        import litellm

        items = [{"role": m["role"], "content": m["content"]} for m in converted]
        scripted = call_kwargs.get("mock_response")
        error = scripted if isinstance(scripted, Exception) else None
        if isinstance(scripted, str) and scripted.startswith("litellm."):
            error = _mock_error(scripted, self.model_name)
        if error is not None:
            # litellm's Responses mock fails only with an exception object, and reports it to
            # its failure callbacks as an InternalServerError whatever it was; the host then
            # sees the error the provider sent (the scripted one)
            with contextlib.suppress(Exception):
                await litellm.aresponses(
                    model=self.model_name, input=items, **{**call_kwargs, "mock_response": error}
                )
            raise error
        if previous_id and input_items is not None:
            items = list(input_items)
        elif local_items:
            items = list(local_items)
        extra = {"previous_response_id": previous_id} if previous_id else {}
        result = await litellm.aresponses(  # stream=False: see the docstring
            model=self.model_name, input=items, store=True, **extra, **call_kwargs
        )
        text = ""
        for item in result.output or []:
            for part in getattr(item, "content", None) or []:
                text += getattr(part, "text", "") or ""
        accepted = text
        if response_callback is not None and text:
            replaced = await response_callback(text, text)
            if replaced is not None:
                accepted = replaced
        usage = result.usage.model_dump() if getattr(result, "usage", None) else {}
        usage.setdefault("cost", None)  # J: litellm's price reaches only its callback
        return LLMResult(
            response=accepted,
            response_id=str(result.id),
            previous_response_id=previous_id or "",
            input_items=items,
            provider_model_key=self.model_name,
            mode="responses",
            state="provider",
            usage=usage,
        )

    if host_version.is_v2():

        @extensible
        async def unified_turn(
            self,
            system_message: str = "",
            user_message: str = "",
            messages: list[BaseMessage] | None = None,
            response_callback: Callable[[str, str], Awaitable[str | None]] | None = None,
            reasoning_callback: Callable[[str, str], Awaitable[str | None]] | None = None,
            tokens_callback: Callable[[str, int], Awaitable[None]] | None = None,
            rate_limiter_callback: Callable[..., Awaitable[bool]] | None = None,
            explicit_caching: bool = False,
            **kwargs: Any,
        ) -> LLMResult:
            msgs = list(messages or [])
            if system_message:
                msgs.insert(0, SystemMessage(system_message))
            if user_message:
                msgs.append(HumanMessage(user_message))
            result = await self._turn(
                msgs,
                response_callback,
                reasoning_callback,
                explicit_caching,
                kwargs,
                cut_at_tool=True,
            )
            scripted = PROVIDER.take_usage()
            if scripted is not None:
                result.usage = dict(scripted)
            return result


class LiteLLMEmbeddingWrapper:
    def __init__(
        self, model: str, provider: str, model_config: ModelConfig | None, **kwargs: Any
    ) -> None:
        self.model_name = model
        self.provider = provider
        self.kwargs = kwargs
        self.a0_model_conf = model_config

    def embed_query(self, text: str) -> list[float]:
        return self.embed_documents([text])[0]

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        import litellm

        PROVIDER.embeddings.extend(texts)
        PROVIDER.embedding_calls.append(list(texts))
        result = litellm.embedding(
            model=self.model_name, input=texts, mock_response=[0.1, 0.2, 0.3], **self.kwargs
        )
        return [item["embedding"] for item in result.data]


def get_chat_model(
    provider: str, name: str, model_config: ModelConfig | None = None, **kwargs: Any
) -> LiteLLMChatWrapper:
    litellm_provider = _resolve("chat", provider, kwargs)
    return LiteLLMChatWrapper(
        f"{litellm_provider}/{name}", provider.lower(), model_config, **kwargs
    )


def get_embedding_model(
    provider: str, name: str, model_config: ModelConfig | None = None, **kwargs: Any
) -> LiteLLMEmbeddingWrapper:
    litellm_provider = _resolve("embedding", provider, kwargs)
    return LiteLLMEmbeddingWrapper(
        f"{litellm_provider}/{name}", provider.lower(), model_config, **kwargs
    )
