"""One place that says what a provider error means: its outcome, and whether to fall back.

:func:`classify_error` turns any exception raised by an LLM call (litellm's own exception
classes, the OpenAI SDK's, plain `TimeoutError` / `ConnectionError`, or an Agent Zero
wrapper around them) into an :class:`ErrorClassification`: the `records.Outcome` to store on
the call's ledger row, the :class:`FailureKind` behind it, whether another model may succeed
where this one failed (`fallback`), and the provider's `Retry-After` in seconds when it sent
one. The fallback runner uses it and the capture callbacks can take its `.outcome`, so
"what failed and why" is decided in one place. It sits below both (it imports only
`errors` and `records`), so capture and the router share it without importing each other.

Classification reads class names along the exception's MRO and its `status_code`, never
`isinstance` against litellm: importing litellm costs over a second, and errors raised by a
host that wraps litellm keep the same class names. Checked against litellm 1.79.3, where
`ContextWindowExceededError` and `ContentPolicyViolationError` subclass `BadRequestError`,
`Timeout` subclasses `APIConnectionError`, and `APIConnectionError` carries status 500.
"""

from __future__ import annotations

import email.utils
import time
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from agent_routing.errors import BudgetBlockedError
from agent_routing.records import Outcome


class FailureKind(StrEnum):
    """Why a call failed, at the granularity fallback and reports need."""

    RATE_LIMIT = "rate_limit"  # 429: too many requests or tokens per minute
    QUOTA_EXHAUSTED = "quota_exhausted"  # out of credit, insufficient quota, 402
    TIMEOUT = "timeout"
    CONNECTION = "connection"  # network error before any response
    SERVER_ERROR = "server_error"  # 5xx, overloaded, service unavailable
    CONTEXT_OVERFLOW = "context_overflow"  # the prompt does not fit this model
    CONTENT_POLICY = "content_policy"  # this provider refused the content
    AUTH = "auth"  # bad or missing key, permission denied
    NOT_FOUND = "not_found"  # unknown model or endpoint
    BAD_REQUEST = "bad_request"  # any other 4xx: the request itself is wrong
    BUDGET_BLOCKED = "budget_blocked"  # refused by our own budget, never sent
    CANCELLED = "cancelled"  # the caller gave up (task cancelled, stream dropped)
    OTHER = "other"


# Kinds where another model (or the same one later) may succeed. Auth, not-found and bad
# requests are configuration mistakes the user must see, so they never fall back.
FALLBACK_KINDS = frozenset(
    {
        FailureKind.RATE_LIMIT,
        FailureKind.QUOTA_EXHAUSTED,
        FailureKind.TIMEOUT,
        FailureKind.CONNECTION,
        FailureKind.SERVER_ERROR,
        FailureKind.CONTEXT_OVERFLOW,
        FailureKind.CONTENT_POLICY,
    }
)

# Kinds that say something about the model, not about this request: the model is put in
# cooldown so that other calls avoid it for a while. Context overflow and content policy
# are about this prompt only.
COOLDOWN_KINDS = frozenset(
    {
        FailureKind.RATE_LIMIT,
        FailureKind.QUOTA_EXHAUSTED,
        FailureKind.TIMEOUT,
        FailureKind.CONNECTION,
        FailureKind.SERVER_ERROR,
    }
)

_OUTCOMES: dict[FailureKind, Outcome] = {
    FailureKind.RATE_LIMIT: Outcome.RATE_LIMITED,
    FailureKind.TIMEOUT: Outcome.TIMEOUT,
    FailureKind.CONTEXT_OVERFLOW: Outcome.CONTEXT_OVERFLOW,
    FailureKind.CONTENT_POLICY: Outcome.CONTENT_POLICY,
    FailureKind.BUDGET_BLOCKED: Outcome.BLOCKED,
    FailureKind.CANCELLED: Outcome.ABANDONED,
}

# Class names (anywhere in the MRO) checked in this order: subclasses before their bases.
_CLASS_KINDS: tuple[tuple[str, FailureKind], ...] = (
    ("CancelledError", FailureKind.CANCELLED),
    ("ContextWindowExceededError", FailureKind.CONTEXT_OVERFLOW),
    ("ContentPolicyViolationError", FailureKind.CONTENT_POLICY),
    ("BudgetExceededError", FailureKind.QUOTA_EXHAUSTED),  # litellm's own max_budget
    ("Timeout", FailureKind.TIMEOUT),
    ("APITimeoutError", FailureKind.TIMEOUT),
    ("TimeoutError", FailureKind.TIMEOUT),
    ("TimeoutException", FailureKind.TIMEOUT),  # httpx
    ("RateLimitError", FailureKind.RATE_LIMIT),
    ("APIConnectionError", FailureKind.CONNECTION),
    ("ConnectionError", FailureKind.CONNECTION),
    ("ConnectError", FailureKind.CONNECTION),  # httpx
    ("ServiceUnavailableError", FailureKind.SERVER_ERROR),
    ("InternalServerError", FailureKind.SERVER_ERROR),
    ("BadGatewayError", FailureKind.SERVER_ERROR),
    ("AuthenticationError", FailureKind.AUTH),
    ("PermissionDeniedError", FailureKind.AUTH),
    ("NotFoundError", FailureKind.NOT_FOUND),
    ("BadRequestError", FailureKind.BAD_REQUEST),
    ("UnprocessableEntityError", FailureKind.BAD_REQUEST),
)

# Providers report an empty account with a 429, 400, 402 or 403 and these words.
_QUOTA_PHRASES = (
    "insufficient_quota",
    "exceeded your current quota",
    "credit balance",
    "insufficient credit",
    "out of credits",
    "payment required",
    "billing",
    "quota exceeded",
)
_CONTEXT_PHRASES = ("context_length_exceeded", "maximum context length", "context window")


@dataclass(frozen=True, slots=True)
class ErrorClassification:
    """What a failed call means. `retry_after_s` is the provider's own wait, if it sent one."""

    kind: FailureKind
    outcome: Outcome
    fallback: bool
    cooldown: bool
    retry_after_s: float | None
    status_code: int | None
    error_class: str


def classify_error(error: BaseException) -> ErrorClassification:
    """Classify an exception raised by an LLM call (see the module docstring)."""
    status = _status_code(error)
    kind = _kind_of(error, status)
    outcome = _OUTCOMES.get(kind, Outcome.ERROR)
    if kind is FailureKind.QUOTA_EXHAUSTED and status == 429:
        outcome = Outcome.RATE_LIMITED  # what the provider said; `kind` says why
    return ErrorClassification(
        kind=kind,
        outcome=outcome,
        fallback=kind in FALLBACK_KINDS,
        cooldown=kind in COOLDOWN_KINDS,
        retry_after_s=retry_after_seconds(error),
        status_code=status,
        error_class=type(error).__name__,
    )


def _kind_of(error: BaseException, status: int | None) -> FailureKind:
    if isinstance(error, BudgetBlockedError):
        return FailureKind.BUDGET_BLOCKED
    names = {cls.__name__ for cls in type(error).__mro__}
    message = str(error).lower()
    by_class = next((kind for name, kind in _CLASS_KINDS if name in names), None)
    if by_class in {None, FailureKind.RATE_LIMIT, FailureKind.BAD_REQUEST, FailureKind.AUTH} and (
        status == 402 or any(phrase in message for phrase in _QUOTA_PHRASES)
    ):
        return FailureKind.QUOTA_EXHAUSTED
    if by_class in {None, FailureKind.BAD_REQUEST} and any(
        phrase in message for phrase in _CONTEXT_PHRASES
    ):
        return FailureKind.CONTEXT_OVERFLOW
    if by_class is not None:
        return by_class
    return _kind_of_status(status)


_STATUS_KINDS: dict[int, FailureKind] = {
    401: FailureKind.AUTH,
    403: FailureKind.AUTH,
    404: FailureKind.NOT_FOUND,
    408: FailureKind.TIMEOUT,
    429: FailureKind.RATE_LIMIT,
}


def _kind_of_status(status: int | None) -> FailureKind:
    if status is None:
        return FailureKind.OTHER
    if status in _STATUS_KINDS:
        return _STATUS_KINDS[status]
    if status >= 500:
        return FailureKind.SERVER_ERROR
    if 400 <= status < 500:
        return FailureKind.BAD_REQUEST
    return FailureKind.OTHER


def _status_code(error: BaseException) -> int | None:
    status = getattr(error, "status_code", None)
    if isinstance(status, int) and not isinstance(status, bool):
        return status
    if isinstance(status, str) and status.isdigit():
        return int(status)
    return None


def retry_after_seconds(error: BaseException, *, now: float | None = None) -> float | None:
    """The wait the provider asked for, in seconds, or None when it did not say.

    Looked up in order: a numeric `retry_after` attribute; then the `retry-after-ms` and
    `retry-after` headers (seconds or an HTTP date) of `error.response.headers`,
    `error.litellm_response_headers` or `error.headers` (litellm's `Timeout` keeps a dict).
    """
    direct = getattr(error, "retry_after", None)
    if isinstance(direct, int | float) and not isinstance(direct, bool) and direct >= 0:
        return float(direct)
    for headers in _header_sources(error):
        seconds = _parse_retry_headers(headers, time.time() if now is None else now)
        if seconds is not None:
            return seconds
    return None


def _header_sources(error: BaseException) -> list[Mapping[str, Any]]:
    sources: list[Any] = []
    try:
        response = getattr(error, "response", None)
        sources.append(getattr(response, "headers", None))
    except Exception:  # some SDK properties raise when no response was received
        sources.append(None)
    sources.append(getattr(error, "litellm_response_headers", None))
    sources.append(getattr(error, "headers", None))
    return [source for source in sources if isinstance(source, Mapping)]


def _parse_retry_headers(headers: Mapping[str, Any], now: float) -> float | None:
    lowered = {str(key).lower(): value for key, value in headers.items()}
    millis = lowered.get("retry-after-ms")
    if millis is not None:
        try:
            return max(0.0, float(millis) / 1000.0)
        except (TypeError, ValueError):
            pass
    value = lowered.get("retry-after")
    if value is None:
        return None
    try:
        return max(0.0, float(value))
    except (TypeError, ValueError):
        pass
    parsed = email.utils.parsedate_tz(str(value))
    if parsed is None:
        return None
    return max(0.0, email.utils.mktime_tz(parsed) - now)
