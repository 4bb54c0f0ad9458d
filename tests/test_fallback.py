"""Error classification and the host-independent fallback runner, with litellm's own exceptions."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import httpx
import pytest
from litellm_support import litellm_error

from agent_routing._litellm import litellm_module
from agent_routing.config import FallbackConfig, TierConfig
from agent_routing.errors import BudgetBlockedError, ConfigError
from agent_routing.provider_errors import FailureKind, classify_error, retry_after_seconds
from agent_routing.records import Outcome
from agent_routing.router import CooldownRegistry, Hop, run_with_fallback

CHEAP = TierConfig(name="cheap", model="gpt-4o-mini")
STRONG = TierConfig(name="strong", model="gpt-4o")
BACKUP = TierConfig(name="backup", model="claude-3-5-haiku-20241022")


def _response(status: int, headers: dict[str, str] | None = None) -> httpx.Response:
    return httpx.Response(
        status, headers=headers or {}, request=httpx.Request("POST", "https://example.invalid")
    )


# (litellm class, message, expected kind, expected outcome, falls back)
CASES: list[tuple[str, str, FailureKind, Outcome, bool]] = [
    ("RateLimitError", "slow down", FailureKind.RATE_LIMIT, Outcome.RATE_LIMITED, True),
    (
        "RateLimitError",
        "You exceeded your current quota (insufficient_quota)",
        FailureKind.QUOTA_EXHAUSTED,
        Outcome.RATE_LIMITED,  # a 429, as the provider sent it; the kind says why
        True,
    ),
    (
        "BadRequestError",
        "Your credit balance is too low to access the API",
        FailureKind.QUOTA_EXHAUSTED,
        Outcome.ERROR,
        True,
    ),
    ("BudgetExceededError", "", FailureKind.QUOTA_EXHAUSTED, Outcome.ERROR, True),
    ("Timeout", "took too long", FailureKind.TIMEOUT, Outcome.TIMEOUT, True),
    ("APIConnectionError", "connection reset", FailureKind.CONNECTION, Outcome.ERROR, True),
    ("ServiceUnavailableError", "overloaded", FailureKind.SERVER_ERROR, Outcome.ERROR, True),
    ("InternalServerError", "boom", FailureKind.SERVER_ERROR, Outcome.ERROR, True),
    ("BadGatewayError", "bad gateway", FailureKind.SERVER_ERROR, Outcome.ERROR, True),
    ("APIError", "upstream 503", FailureKind.SERVER_ERROR, Outcome.ERROR, True),
    (
        "ContextWindowExceededError",
        "too long",
        FailureKind.CONTEXT_OVERFLOW,
        Outcome.CONTEXT_OVERFLOW,
        True,
    ),
    (
        "ContentPolicyViolationError",
        "refused",
        FailureKind.CONTENT_POLICY,
        Outcome.CONTENT_POLICY,
        True,
    ),
    ("AuthenticationError", "bad key", FailureKind.AUTH, Outcome.ERROR, False),
    ("PermissionDeniedError", "forbidden", FailureKind.AUTH, Outcome.ERROR, False),
    ("NotFoundError", "no such model", FailureKind.NOT_FOUND, Outcome.ERROR, False),
    ("BadRequestError", "temperature must be <= 2", FailureKind.BAD_REQUEST, Outcome.ERROR, False),
]


@pytest.mark.parametrize(("name", "message", "kind", "outcome", "falls_back"), CASES)
def test_each_litellm_exception_is_classified(
    name: str, message: str, kind: FailureKind, outcome: Outcome, falls_back: bool
) -> None:
    """Every litellm exception class maps to the failure kind, outcome and fallback rule."""
    classification = classify_error(litellm_error(name, message))
    assert classification.kind is kind
    assert classification.outcome is outcome
    assert classification.fallback is falls_back
    assert classification.error_class == name


def test_plain_python_errors_and_our_budget_block_are_classified() -> None:
    """Built-in timeouts/connection errors fall back; our own budget block never does."""
    assert classify_error(TimeoutError()).kind is FailureKind.TIMEOUT
    assert classify_error(ConnectionResetError()).kind is FailureKind.CONNECTION
    blocked = classify_error(BudgetBlockedError("over"))
    assert (blocked.kind, blocked.outcome, blocked.fallback) == (
        FailureKind.BUDGET_BLOCKED,
        Outcome.BLOCKED,
        False,
    )
    assert classify_error(ValueError("bug")).kind is FailureKind.OTHER
    cancelled = classify_error(asyncio.CancelledError())
    assert (cancelled.outcome, cancelled.fallback) == (Outcome.ABANDONED, False)


def test_retry_after_is_read_from_headers_attribute_or_http_date() -> None:
    """Retry-After comes from response headers (seconds, ms or HTTP date) or an attribute."""
    limited = litellm_error("RateLimitError", status=429, headers={"retry-after": "7"})
    assert classify_error(limited).retry_after_s == 7.0
    millis = litellm_error("RateLimitError", status=429, headers={"retry-after-ms": "1500"})
    assert retry_after_seconds(millis) == 1.5
    dated = litellm_error(
        "ServiceUnavailableError",
        status=503,
        headers={"Retry-After": "Wed, 21 Oct 2015 07:28:30 GMT"},
    )
    assert retry_after_seconds(dated, now=1445412500.0) == pytest.approx(10.0)
    timeout = litellm_error("Timeout", headers={"retry-after": "3"})
    assert retry_after_seconds(timeout) == 3.0
    custom = RuntimeError("host wrapper")
    custom.retry_after = 4  # type: ignore[attr-defined]
    assert retry_after_seconds(custom) == 4.0
    assert retry_after_seconds(litellm_error("RateLimitError", status=429)) is None


class Script:
    """An `attempt` that fails per model as scripted and records what it was asked."""

    def __init__(self, failures: dict[str, list[Exception]]) -> None:
        self.failures = failures
        self.calls: list[str] = []

    async def __call__(self, tier: TierConfig) -> str:
        self.calls.append(tier.model)
        queue = self.failures.get(tier.model, [])
        if queue:
            raise queue.pop(0)
        return f"answer from {tier.model}"


class FakeClock:
    """A monotonic clock the test moves by hand; `sleep` advances it."""

    def __init__(self) -> None:
        self.now = 1000.0
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


# litellm raises BudgetExceededError itself (litellm.max_budget), before any provider call;
# as a mock_response it is not an openai.APIError, so litellm would wrap it as a generic 500.
FALLBACK_CASES = [case for case in CASES if case[4] and case[0] != "BudgetExceededError"]
TERMINAL_CASES = [case for case in CASES if not case[4]]


@pytest.mark.parametrize(("name", "message", "kind", "outcome", "falls_back"), FALLBACK_CASES)
async def test_fallback_through_litellm_mock_response(
    name: str, message: str, kind: FailureKind, outcome: Outcome, falls_back: bool
) -> None:
    """litellm.acompletion raising each fallback-worthy class hands over to the next model."""
    litellm = litellm_module()
    error = litellm_error(name, message)
    kinds: list[FailureKind] = []

    async def on_error(hop: Hop, classification: Any, raised: Exception) -> None:
        kinds.append(classification.kind)

    async def attempt(tier: TierConfig) -> str:
        mock: Any = error if tier is CHEAP else "strong answer"
        response = await litellm.acompletion(
            model=tier.model, messages=[{"role": "user", "content": "hi"}], mock_response=mock
        )
        return str(response.choices[0].message.content)

    assert await run_with_fallback([CHEAP, STRONG], attempt, on_error=on_error) == ("strong answer")
    assert kinds == [kind]


@pytest.mark.parametrize(("name", "message", "kind", "outcome", "falls_back"), TERMINAL_CASES)
async def test_configuration_errors_are_raised_without_fallback(
    name: str, message: str, kind: FailureKind, outcome: Outcome, falls_back: bool
) -> None:
    """Auth, not-found and bad-request errors surface at once: another model would hide them."""
    script = Script({CHEAP.model: [litellm_error(name, message)]})
    with pytest.raises(type(litellm_error(name, message))):
        await run_with_fallback([CHEAP, STRONG], script)
    assert script.calls == [CHEAP.model]


async def test_cooldown_keeps_other_calls_away_from_a_failing_model() -> None:
    """After a 503, the model is skipped by the next call until `cooldown_s` has passed."""
    clock = FakeClock()
    cooldowns = CooldownRegistry(clock=clock)
    config = FallbackConfig(cooldown_s=30.0)
    first = Script({CHEAP.model: [litellm_error("ServiceUnavailableError", status=503)]})
    assert await run_with_fallback([CHEAP, STRONG], first, config=config, cooldowns=cooldowns) == (
        "answer from gpt-4o"
    )
    assert cooldowns.remaining(CHEAP.model) == pytest.approx(30.0)
    second = Script({})
    await run_with_fallback([CHEAP, STRONG], second, config=config, cooldowns=cooldowns)
    assert second.calls == [STRONG.model]
    clock.now += 30.0
    third = Script({})
    await run_with_fallback([CHEAP, STRONG], third, config=config, cooldowns=cooldowns)
    assert third.calls == [CHEAP.model]


async def test_retry_after_sets_the_cooldown_and_is_waited_for_when_alone() -> None:
    """A lone rate-limited model is retried after exactly the Retry-After the provider sent."""
    clock = FakeClock()
    cooldowns = CooldownRegistry(clock=clock)
    limited = litellm_error("RateLimitError", status=429, headers={"retry-after": "12"})
    script = Script({CHEAP.model: [limited]})
    result = await run_with_fallback(
        [CHEAP],
        script,
        config=FallbackConfig(cooldown_s=60.0),
        cooldowns=cooldowns,
        sleep=clock.sleep,
    )
    assert result == "answer from gpt-4o-mini"
    assert clock.sleeps == [pytest.approx(12.0)]
    assert script.calls == [CHEAP.model, CHEAP.model]


async def test_retry_after_longer_than_allowed_gives_up_with_the_provider_error() -> None:
    """A Retry-After above `max_retry_after_s` is not waited for: the rate limit surfaces."""
    clock = FakeClock()
    limited = litellm_error("RateLimitError", status=429, headers={"retry-after": "600"})
    script = Script({CHEAP.model: [limited]})
    with pytest.raises(type(limited)):
        await run_with_fallback(
            [CHEAP],
            script,
            config=FallbackConfig(max_retry_after_s=120.0),
            cooldowns=CooldownRegistry(clock=clock),
            sleep=clock.sleep,
        )
    assert clock.sleeps == []


async def test_max_hops_and_disabled_fallback_bound_the_attempts() -> None:
    """`max_hops` limits attempts after the first; `enabled: false` tries the first model only."""

    def failing() -> Script:
        return Script(
            {
                tier.model: [litellm_error("InternalServerError", status=500)]
                for tier in (CHEAP, STRONG, BACKUP)
            }
        )

    one_hop = failing()
    with pytest.raises(Exception, match="provider said no"):
        await run_with_fallback([CHEAP, STRONG, BACKUP], one_hop, config=FallbackConfig(max_hops=1))
    assert one_hop.calls == [CHEAP.model, STRONG.model]
    off = failing()
    with pytest.raises(Exception, match="provider said no"):
        await run_with_fallback([CHEAP, STRONG, BACKUP], off, config=FallbackConfig(enabled=False))
    assert off.calls == [CHEAP.model]


async def test_admit_is_asked_before_every_later_hop_and_can_skip_or_block() -> None:
    """`admit` sees each hop with the previous error; False skips, a budget block propagates."""
    seen: list[tuple[str, FailureKind | None]] = []

    async def skip_strong(hop: Hop) -> bool:
        seen.append((hop.tier.name, hop.previous_error.kind if hop.previous_error else None))
        return hop.tier is not STRONG

    script = Script({CHEAP.model: [litellm_error("Timeout")]})
    assert await run_with_fallback([CHEAP, STRONG, BACKUP], script, admit=skip_strong) == (
        f"answer from {BACKUP.model}"
    )
    assert seen == [("strong", FailureKind.TIMEOUT), ("backup", FailureKind.TIMEOUT)]
    assert script.calls == [CHEAP.model, BACKUP.model]

    async def block(hop: Hop) -> bool:
        raise BudgetBlockedError("daily budget spent", budget="daily:*")

    with pytest.raises(BudgetBlockedError, match="daily budget spent"):
        await run_with_fallback(
            [CHEAP, STRONG], Script({CHEAP.model: [litellm_error("Timeout")]}), admit=block
        )


async def test_on_error_sees_every_failed_attempt() -> None:
    """`on_error` is called once per failure, with the hop number and classification."""
    failures: list[tuple[int, str, FailureKind]] = []

    async def on_error(hop: Hop, classification: Any, error: Exception) -> None:
        failures.append((hop.number, hop.tier.name, classification.kind))

    script = Script(
        {
            CHEAP.model: [litellm_error("Timeout")],
            STRONG.model: [litellm_error("ContentPolicyViolationError")],
        }
    )
    await run_with_fallback([CHEAP, STRONG, BACKUP], script, on_error=on_error)
    assert failures == [
        (0, "cheap", FailureKind.TIMEOUT),
        (1, "strong", FailureKind.CONTENT_POLICY),
    ]


async def test_empty_chain_is_a_clear_error() -> None:
    """An empty chain is bad input naming the `chain` field."""
    never: Callable[[TierConfig], Any] = Script({})
    with pytest.raises(ConfigError, match="chain"):
        await run_with_fallback([], never)
