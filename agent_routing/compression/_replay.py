"""The replay measure: what a whole agent run pays for its input, with and without compression.

A single compressed prompt says little about an agent loop, where every step sends the
history again and the provider bills a prefix it still holds in its cache at the
cache-read price. So a transcript is replayed step by step: the prompt at step k is the
messages before the k-th assistant reply (what the agent sent to get it); a transcript
that does not end with a reply has one more step, the whole transcript. Each step's
prompt is priced as a provider with prompt caching bills it:

- the leading messages byte-identical to the previous step's prompt are a cache read
  (`cache_read_input_token_cost`);
- every message from the first difference on is a cache write
  (`cache_creation_input_token_cost`, Anthropic: 1.25x the input price) or, for a model
  without a write price (OpenAI), the input price;
- a model whose price data has no cache-read price below its input price pays the input
  price for every token.

This is an idealised cache (any unchanged message prefix is a hit; no minimum prefix size,
no breakpoints, every step within the cache lifetime). The same billing is applied to the
uncompressed run and to the run under the policy, which carries its `cache_state` from
step to step as the Agent Zero plugin does; `replay_cost_ratio` is policy cost /
uncompressed cost.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from agent_routing.compression._codecs import ChatCodec
from agent_routing.compression._entries import message_digest
from agent_routing.compression._profile import ModelProfile
from agent_routing.compression._prompt_cache import PromptCacheState
from agent_routing.compression.tokenize import TokenCounter
from agent_routing.config import Settings

Messages = Sequence[Mapping[str, Any]]


def step_ends(messages: Messages) -> list[int]:
    """Where each step's prompt ends: before every assistant reply (what the agent sent to
    get it), and at the end when the transcript does not end with a reply."""
    ends = [
        index
        for index, message in enumerate(messages)
        if index > 0 and message.get("role") == "assistant" and not message.get("is_demo")
    ]
    if messages and messages[-1].get("role") != "assistant":
        ends.append(len(messages))
    return ends


class CacheBiller:
    """Prices prompts sent one after the other as a provider with a prompt cache bills them."""

    def __init__(self, profile: ModelProfile, count: TokenCounter) -> None:
        self._count = count
        self._codec = ChatCodec()
        self._input = profile.input_cost_per_token
        cached = profile.caches_prompts and profile.cache_read_cost_per_token is not None
        self._read = profile.cache_read_cost_per_token if cached else None
        self._write = (profile.cache_write_cost_per_token or self._input) if cached else None
        self._previous: list[str] = []
        self._tokens: dict[str, int] = {}

    def tokens(self, message: Mapping[str, Any], digest: str) -> int:
        """Prompt tokens of one message (as `tokens_saved` counts them), cached by digest."""
        found = self._tokens.get(digest)
        if found is None:
            found = self._tokens[digest] = self._codec.wire_tokens(message, self._count)
        return found

    def bill(self, sent: Messages) -> tuple[float, int]:
        """(USD, tokens) of sending `sent` after the prompts billed before."""
        digests = [message_digest(message) for message in sent]
        common = 0
        for new, old in zip(digests, self._previous, strict=False):
            if new != old:
                break
            common += 1
        self._previous = digests
        usd, total = 0.0, 0
        for index, (message, digest) in enumerate(zip(sent, digests, strict=True)):
            tokens = self.tokens(message, digest)
            total += tokens
            if self._read is None or self._write is None:
                usd += tokens * self._input
            else:
                usd += tokens * (self._read if index < common else self._write)
        return usd, total


@dataclass(frozen=True, slots=True)
class ReplayCost:
    """Input cost of one transcript's steps, under a method and uncompressed."""

    steps: int
    usd: float  # under the method
    plain_usd: float  # uncompressed
    tokens: int  # input tokens over all steps, under the method
    plain_tokens: int
    active_usd: float = 0.0  # under the method, over the steps from `from_tokens` on
    active_plain_usd: float = 0.0  # uncompressed, over the same steps

    @property
    def ratio(self) -> float:
        """Method cost / uncompressed cost (1.0 for a free run)."""
        return self.usd / self.plain_usd if self.plain_usd else 1.0

    @property
    def active_ratio(self) -> float:
        """The same over the steps whose uncompressed prompt reached `from_tokens`."""
        return self.active_usd / self.active_plain_usd if self.active_plain_usd else 1.0


Sender = Callable[[Messages, PromptCacheState | None, float], tuple[Messages, Any]]
"""What a method sends for one step's prompt: (messages sent, state for the next step)."""


def replay(
    messages: Messages,
    send: Sender,
    profile: ModelProfile,
    count: TokenCounter,
    from_tokens: int = 0,
) -> ReplayCost:
    """Replay `messages` step by step with `send` and uncompressed; bill both.

    `from_tokens`: the steps whose uncompressed prompt has at least this many tokens (where
    a policy with that trigger acts) are also added up apart (`active_ratio`).
    """
    method, plain = CacheBiller(profile, count), CacheBiller(profile, count)
    usd = plain_usd = active_usd = active_plain_usd = 0.0
    tokens = plain_tokens = 0
    state: Any = None
    ends = step_ends(messages)
    for step, end in enumerate(ends):
        prompt = messages[:end]
        sent, state = send(prompt, state, float(step))  # one second apart: a warm cache
        step_usd, step_tokens = method.bill(sent)
        plain_step_usd, plain_step_tokens = plain.bill(prompt)
        usd, tokens = usd + step_usd, tokens + step_tokens
        plain_usd, plain_tokens = plain_usd + plain_step_usd, plain_tokens + plain_step_tokens
        if plain_step_tokens >= from_tokens:
            active_usd += step_usd
            active_plain_usd += plain_step_usd
    return ReplayCost(len(ends), usd, plain_usd, tokens, plain_tokens, active_usd, active_plain_usd)


def policy_sender(
    *,
    model: str,
    settings: Settings,
    profile: ModelProfile,
    count: TokenCounter,
    target_tokens: int | None = None,
) -> Sender:
    """The compression policy as a replay method: it carries `cache_state` between steps."""
    from agent_routing.compression._chat import compress_messages

    def send(prompt: Messages, state: Any, now: float) -> tuple[Messages, Any]:
        result = compress_messages(
            prompt,
            model=model,
            settings=settings,
            target_tokens=target_tokens,
            cache_state=state,
            now=now,
            profile=profile,
            count_tokens=count,
        )
        return result.history, result.cache_state

    return send


def add_costs(costs: Iterable[ReplayCost]) -> ReplayCost:
    """The sum of several replays (the ratio of sums, not a mean of ratios)."""
    total = ReplayCost(0, 0.0, 0.0, 0, 0)
    for cost in costs:
        total = ReplayCost(
            total.steps + cost.steps,
            total.usd + cost.usd,
            total.plain_usd + cost.plain_usd,
            total.tokens + cost.tokens,
            total.plain_tokens + cost.plain_tokens,
            total.active_usd + cost.active_usd,
            total.active_plain_usd + cost.active_plain_usd,
        )
    return total
