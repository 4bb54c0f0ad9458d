"""Fallback chains: when a model fails for a reason another model may not share, try the next.

:func:`run_with_fallback` knows nothing about the host: it gets a chain of tiers and an
`attempt` coroutine function that makes one call with one tier. The Agent Zero plugin
passes the host model's `unified_call`; :meth:`Router.acompletion` passes
`litellm.acompletion`. Between hops it

- classifies the error once (:func:`~agent_routing.provider_errors.classify_error`) and
  re-raises at once what no other model can fix (bad key, bad request, our own budget);
- puts a model that is rate limited, out of quota, timing out or failing with 5xx in a
  cooldown (:class:`CooldownRegistry`, shared by every call of a process) for the
  provider's `Retry-After` when it sent one, else `fallback.cooldown_s`;
- asks `admit` before every hop after the first, which is where the caller re-checks the
  budget and quotas (it may raise `BudgetBlockedError`, which propagates);
- when every model left is cooling down, waits for the soonest one if that wait is at most
  `fallback.max_retry_after_s` (so a lone rate-limited model is retried after the wait the
  provider asked for), and otherwise gives up with the last error.

`fallback.max_hops` bounds the number of attempts after the first; `fallback.enabled =
False` makes the chain its first element only.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import TypeVar

from agent_routing import events
from agent_routing.config import FallbackConfig, TierConfig
from agent_routing.errors import ConfigError
from agent_routing.provider_errors import ErrorClassification, FailureKind, classify_error

T = TypeVar("T")

logger = logging.getLogger("agent_routing.router")


class CooldownRegistry:
    """Per-model "do not call before" times. Thread-safe; one per process is the intent."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._until: dict[str, float] = {}
        self._lock = threading.Lock()

    def cool(self, model: str, seconds: float) -> None:
        """Keep `model` out of use for `seconds` from now (an existing longer cooldown stays)."""
        if seconds <= 0:
            return
        until = self._clock() + seconds
        with self._lock:
            self._until[model] = max(until, self._until.get(model, 0.0))

    def remaining(self, model: str) -> float:
        """Seconds until `model` may be called again (0.0 when it may be called now)."""
        with self._lock:
            until = self._until.get(model)
        if until is None:
            return 0.0
        left = until - self._clock()
        if left <= 0:
            with self._lock:
                if self._until.get(model) == until:
                    del self._until[model]
            return 0.0
        return left

    def available(self, model: str) -> bool:
        """True when `model` is not cooling down."""
        return self.remaining(model) == 0.0


@dataclass(frozen=True, slots=True)
class Hop:
    """One attempt of a fallback run: which tier, its position, and why the previous failed."""

    tier: TierConfig
    number: int  # 0 = the first attempt
    previous_tier: TierConfig | None = None
    previous_error: ErrorClassification | None = None


Admit = Callable[[Hop], Awaitable[bool]]
OnError = Callable[[Hop, ErrorClassification, Exception], Awaitable[None]]
OnWait = Callable[[float, str], Awaitable[None]]
"""(seconds, model): told before a cooldown wait longer than :data:`NOTICE_AFTER_S`."""

NOTICE_AFTER_S = 3.0
"""A cooldown wait longer than this is announced (`on_wait`), so the user sees why the
agent pauses; shorter waits pass unnoticed."""


async def run_with_fallback(
    chain: Sequence[TierConfig],
    attempt: Callable[[TierConfig], Awaitable[T]],
    *,
    config: FallbackConfig | None = None,
    cooldowns: CooldownRegistry | None = None,
    admit: Admit | None = None,
    on_error: OnError | None = None,
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    on_wait: OnWait | None = None,
) -> T:
    """Call `attempt` with the first usable tier of `chain`, falling back on provider errors.

    `admit(hop)` is awaited before every hop after the first; returning False skips that
    tier (over budget, at quota, too small a context). `on_error(hop, classification,
    error)` is awaited after every failed attempt (to release a reservation, log, record).
    `on_wait(seconds, model)` is awaited before a cooldown wait of more than
    :data:`NOTICE_AFTER_S` (a failure there is logged, never raised).
    Raises the last provider error when the chain is exhausted, and at once for errors no
    fallback can fix.
    """
    if not chain:
        raise ConfigError.single("chain", "a fallback chain needs at least one tier (got [])")
    config = config if config is not None else FallbackConfig()
    cooldowns = cooldowns if cooldowns is not None else CooldownRegistry()
    max_hops = config.max_hops if config.enabled else 0
    pending: list[TierConfig] = list(chain if config.enabled else chain[:1])
    previous: tuple[TierConfig, ErrorClassification, Exception] | None = None
    number = 0
    while pending:
        tier = await _next_ready(
            pending, cooldowns, config, sleep, first=previous is None, on_wait=on_wait
        )
        if tier is None:
            break
        pending.remove(tier)
        hop = Hop(
            tier=tier,
            number=number,
            previous_tier=previous[0] if previous else None,
            previous_error=previous[1] if previous else None,
        )
        if number > 0 and admit is not None and not await admit(hop):
            logger.info("fallback: skipping %s (not admitted)", tier.model)
            continue
        try:
            return await attempt(tier)
        except Exception as error:
            classification = classify_error(error)
            if on_error is not None:
                await on_error(hop, classification, error)
            if not classification.fallback:
                raise
            _cool_down(tier, classification, cooldowns, config)
            if _retry_same_model_later(classification, config):
                pending.append(tier)
            logger.warning(
                "fallback: %s failed (%s%s); %d model(s) left",
                tier.model,
                classification.kind.value,
                f", retry after {classification.retry_after_s:g}s"
                if classification.retry_after_s is not None
                else "",
                len(pending),
            )
            previous = (tier, classification, error)
            number += 1
            if number > max_hops:
                raise
    if previous is not None:
        raise previous[2]
    raise ConfigError.single(
        "chain", f"no tier of the chain was admitted: {[tier.model for tier in chain]}"
    )


def _cool_down(
    tier: TierConfig,
    classification: ErrorClassification,
    cooldowns: CooldownRegistry,
    config: FallbackConfig,
) -> None:
    if not classification.cooldown:
        return
    seconds = classification.retry_after_s
    if seconds is None or classification.kind is FailureKind.QUOTA_EXHAUSTED:
        seconds = max(seconds or 0.0, config.cooldown_s)
    cooldowns.cool(tier.model, seconds)


def _retry_same_model_later(classification: ErrorClassification, config: FallbackConfig) -> bool:
    """A rate limit with an explicit, acceptable Retry-After is worth one more try later."""
    return (
        classification.kind is FailureKind.RATE_LIMIT
        and classification.retry_after_s is not None
        and classification.retry_after_s <= config.max_retry_after_s
    )


async def _next_ready(
    pending: list[TierConfig],
    cooldowns: CooldownRegistry,
    config: FallbackConfig,
    sleep: Callable[[float], Awaitable[None]],
    *,
    first: bool,
    on_wait: OnWait | None = None,
) -> TierConfig | None:
    """The first pending tier not cooling down; else wait for the soonest if allowed.

    On the very first attempt a cooling model is still tried when nothing else is ready and
    the wait is too long: the cooldown is advice from earlier calls, not an error of this one.
    """
    for tier in pending:
        if cooldowns.available(tier.model):
            return tier
    soonest = min(pending, key=lambda tier: cooldowns.remaining(tier.model))
    wait = cooldowns.remaining(soonest.model)
    if wait <= config.max_retry_after_s:
        logger.info(
            "fallback: every model is cooling down; waiting %.1fs for %s", wait, soonest.model
        )
        if on_wait is not None and wait > NOTICE_AFTER_S:
            try:
                await on_wait(wait, soonest.model)
            except Exception as error:
                logger.warning("fallback: the wait notice failed: %r", error)
        message = f"every model is cooling down; waiting {wait:.0f}s for {soonest.model}"
        events.publish(events.Event("cooldown_wait", message, model=soonest.model, seconds=wait))
        await sleep(wait)
        return soonest
    return soonest if first else None
