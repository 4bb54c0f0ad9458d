"""Who is calling, taken from the calling context (`contextvars`), not from model objects.

A host adapter sets the scope where it knows it (the chat, the agent, the tool in progress,
and for a routed call its call id and kind); every litellm call made in that context, in
that task or in anything litellm hands it to (its logging worker and thread pool copy the
context), is attributed from it when its `metadata` carries no attribution of ours. So a
model object shared by every chat (an embedder cached per process) still lands each call
on the chat that made it, and a call whose transport drops `metadata` still merges with the
row its caller opened.
"""

from __future__ import annotations

import contextvars
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict
from typing import Any

from agent_routing.capture._metadata import Attribution, checked_attribution

_SCOPE: contextvars.ContextVar[Attribution | None] = contextvars.ContextVar(
    "agent_routing_call_scope", default=None
)


def current_scope() -> Attribution | None:
    """The attribution in force in this context, if any."""
    return _SCOPE.get()


def scope_fields() -> dict[str, Any] | None:
    """The scope as raw attribution fields (what `metadata` would carry), or None."""
    scope = _SCOPE.get()
    if scope is None:
        return None
    return {name: value for name, value in asdict(scope).items() if value is not None}


def make_scope(
    *,
    conversation_id: str | None = None,
    agent_no: int | None = None,
    kind: str | None = None,
    tool: str | None = None,
    call_id: str | None = None,
    decision_id: str | None = None,
    tier: str | None = None,
    reservation_id: str | None = None,
    attempt: int = 0,
) -> Attribution:
    """A validated scope; `kind` None leaves the kind to the call (embedding, other)."""
    checked = checked_attribution(
        call_id=call_id,
        conversation_id=conversation_id,
        agent_no=agent_no,
        kind=kind or "other",
        tool=tool,
        decision_id=decision_id,
        tier=tier,
        reservation_id=reservation_id,
        attempt=attempt,
    )
    if kind is None:
        return Attribution(**{**asdict(checked), "kind": None})
    return checked


def set_scope(scope: Attribution | None) -> contextvars.Token[Attribution | None]:
    """Put `scope` in force for the rest of this context; reset with the returned token."""
    return _SCOPE.set(scope)


def reset_scope(token: contextvars.Token[Attribution | None]) -> None:
    """Restore the scope in force before the matching :func:`set_scope`."""
    _SCOPE.reset(token)


@contextmanager
def call_scope(scope: Attribution | None) -> Iterator[None]:
    """`scope` in force inside the block only."""
    token = _SCOPE.set(scope)
    try:
        yield
    finally:
        _SCOPE.reset(token)
