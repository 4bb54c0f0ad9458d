"""Call attribution carried in litellm's `metadata` kwarg.

A caller that wants a call attributed (conversation, agent, kind, routing decision, ...)
merges :func:`capture_metadata` into the `metadata` it passes to litellm. litellm hands the
same dict to every callback of that call (`kwargs["litellm_params"]["metadata"]`), so
the pre-call hook, the success or failure callback and the caller's own end report all find
the same `call_id` and land on one ledger row. Everything sits under one key,
:data:`METADATA_KEY`, so it never collides with other loggers' metadata.

`attempt` is the hop number of a routed call (0 = first try, n = the n-th fallback hop):
each hop is a call of its own with its own `call_id`, and the row's `attempt` is what the
reports' retry rate counts.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import Any

from agent_routing.config import CallKind
from agent_routing.errors import ConfigError
from agent_routing.ids import new_id

METADATA_KEY = "agent_routing"

_KINDS = frozenset(kind.value for kind in CallKind)


@dataclass(slots=True, frozen=True)
class Attribution:
    """Who made a call and why; every field but `kind` may be unknown (None)."""

    call_id: str | None = None
    conversation_id: str | None = None
    agent_no: int | None = None
    kind: str | None = None
    tool: str | None = None
    decision_id: str | None = None
    tier: str | None = None
    reservation_id: str | None = None
    attempt: int | None = None


def _valid_count(value: object) -> bool:
    """A non-negative int (bool excluded: True is not a count)."""
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


def checked_attribution(
    *,
    call_id: str | None,
    conversation_id: str | None,
    agent_no: int | None,
    kind: str,
    tool: str | None,
    decision_id: str | None,
    tier: str | None,
    reservation_id: str | None,
    attempt: int = 0,
) -> Attribution:
    """Validate caller-supplied attribution; ConfigError names the first bad field."""
    texts = {
        "call_id": call_id,
        "conversation_id": conversation_id,
        "tool": tool,
        "decision_id": decision_id,
        "tier": tier,
        "reservation_id": reservation_id,
    }
    for name, value in texts.items():
        if value is not None and (not isinstance(value, str) or not value.strip()):
            raise ConfigError.single(name, f"must be a non-empty string or None, not {value!r}")
    if agent_no is not None and not _valid_count(agent_no):
        raise ConfigError.single("agent_no", f"must be a non-negative integer, not {agent_no!r}")
    if not _valid_count(attempt):
        raise ConfigError.single(
            "attempt", f"must be a non-negative integer (0 = first try), not {attempt!r}"
        )
    kind_value = kind.value if isinstance(kind, CallKind) else kind
    if kind_value not in _KINDS:
        raise ConfigError.single("kind", f"unknown call kind {kind!r}; use one of {sorted(_KINDS)}")
    return Attribution(
        call_id=call_id,
        conversation_id=conversation_id,
        agent_no=agent_no,
        kind=kind_value,
        tool=tool,
        decision_id=decision_id,
        tier=tier,
        reservation_id=reservation_id,
        attempt=attempt,
    )


def capture_metadata(
    *,
    call_id: str | None = None,
    conversation_id: str | None = None,
    agent_no: int | None = None,
    kind: str = "chat",
    tool: str | None = None,
    decision_id: str | None = None,
    tier: str | None = None,
    reservation_id: str | None = None,
    attempt: int = 0,
) -> dict[str, Any]:
    """The entries to merge into a litellm call's `metadata` so capture attributes it.

    Includes a fresh time-sortable `call_id` when none is given; read it back with
    :func:`call_id_of` to report the call's end with `end_call`. `attempt` is the hop
    number of a routed call (0 = first try); it is left out of the metadata when 0.
    """
    attribution = checked_attribution(
        call_id=call_id or new_id(),
        conversation_id=conversation_id,
        agent_no=agent_no,
        kind=kind,
        tool=tool,
        decision_id=decision_id,
        tier=tier,
        reservation_id=reservation_id,
        attempt=attempt,
    )
    fields = {name: value for name, value in asdict(attribution).items() if value is not None}
    if not attempt:
        fields.pop("attempt", None)
    return {METADATA_KEY: fields}


def call_id_of(metadata: Mapping[str, Any] | None) -> str | None:
    """The call id inside litellm `metadata` built with :func:`capture_metadata`, or None."""
    fields = metadata.get(METADATA_KEY) if isinstance(metadata, Mapping) else None
    value = fields.get("call_id") if isinstance(fields, Mapping) else None
    return value if isinstance(value, str) and value else None


def attribution_from(fields: Any) -> Attribution:
    """Read attribution found in a callback's metadata, dropping malformed values.

    Lenient on purpose: this runs in the background worker on whatever a caller put in
    `metadata`, and a bad value must cost that field, not the call's record.
    """
    if not isinstance(fields, Mapping):
        return Attribution()

    def text(name: str) -> str | None:
        value = fields.get(name)
        return value if isinstance(value, str) and value else None

    agent_no = fields.get("agent_no")
    attempt = fields.get("attempt")
    kind = text("kind")
    return Attribution(
        call_id=text("call_id"),
        conversation_id=text("conversation_id"),
        agent_no=agent_no if _valid_count(agent_no) else None,
        kind=kind if kind in _KINDS else None,
        tool=text("tool"),
        decision_id=text("decision_id"),
        tier=text("tier"),
        reservation_id=text("reservation_id"),
        attempt=attempt if _valid_count(attempt) else None,
    )
