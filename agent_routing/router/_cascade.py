"""Cascade: start where the score allows, go up one tier when the agent's own signals fail.

The state is per conversation and owned by the caller (the Agent Zero plugin keeps it in
the chat's data and saves it with the chat), so it is a small object that round-trips
through plain JSON with :meth:`CascadeState.to_dict` / :meth:`CascadeState.from_dict`.

How it works:

- :meth:`Router.route` reads `floor_tier`: the decision's tier is at least that one (rules,
  caps and the budget still apply: an escalation never goes past the budget) and records
  the tier it chose as `last_tier`.
- :meth:`Router.record_signal` (or :meth:`CascadeState.escalate` directly) raises the floor
  to one tier above `last_tier` when the signal is in `cascade.escalate_on`, at most
  `cascade.max_escalations` times per task.
- :meth:`CascadeState.reset` starts a new task (a new user message): back to the score.
- :meth:`CascadeState.note_reply` detects two of the signals itself: an empty reply and a
  reply identical to the previous one (a model stuck in a loop).
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, fields
from typing import Any

from agent_routing.config import CascadeConfig, TierConfig
from agent_routing.errors import ConfigError
from agent_routing.records import FailureSignal


@dataclass(slots=True)
class CascadeState:
    """Cascade position of one conversation (plain JSON via `to_dict` / `from_dict`)."""

    floor_tier: str | None = None  # decisions go no lower than this tier
    escalations: int = 0  # escalations in the current task
    last_decision_id: str | None = None
    last_tier: str | None = None  # tier of the last decision routed with this state
    last_reply_digest: str | None = None
    stopped_by_budget: bool = False  # the last escalation was refused by a budget

    def to_dict(self) -> dict[str, Any]:
        """A plain-JSON dict of this state."""
        return asdict(self)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any] | None) -> CascadeState:
        """Rebuild a state saved by :meth:`to_dict`; None or {} is a fresh state.

        Raises ConfigError naming the field when a value has the wrong type; unknown keys
        (from a newer version) are ignored so that an old chat file never breaks loading.
        """
        if data is None:
            return cls()
        if not isinstance(data, Mapping):
            raise ConfigError.single(
                "cascade", f"must be a mapping, got {type(data).__name__} ({data!r})"
            )
        values: dict[str, Any] = {}
        for item in fields(cls):
            if item.name not in data:
                continue
            value = data[item.name]
            _check_type(item.name, value)
            values[item.name] = value
        return cls(**values)

    def reset(self) -> None:
        """Start a new task: forget escalations and the floor (the reply digest stays)."""
        self.floor_tier = None
        self.escalations = 0
        self.stopped_by_budget = False

    def note_reply(self, reply: str) -> list[FailureSignal]:
        """Signals a reply raises by itself: `empty_reply`, `repeated_reply` (or none)."""
        text = reply.strip()
        if not text:
            return ["empty_reply"]
        digest = hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]
        repeated = digest == self.last_reply_digest
        self.last_reply_digest = digest
        return ["repeated_reply"] if repeated else []

    def escalate(self, tiers: Sequence[TierConfig], config: CascadeConfig, signal: str) -> bool:
        """Raise the floor one tier above the last decision's tier; True if it moved."""
        if not config.enabled or signal not in config.escalate_on:
            return False
        if self.escalations >= config.max_escalations or self.last_tier is None:
            return False
        names = [tier.name for tier in tiers]
        if self.last_tier not in names:
            return False
        above = names.index(self.last_tier) + 1
        if above >= len(names):
            return False
        floor_index = names.index(self.floor_tier) if self.floor_tier in names else -1
        if above <= floor_index:
            return False
        self.floor_tier = names[above]
        self.escalations += 1
        return True


def _check_type(name: str, value: Any) -> None:
    if name == "escalations":
        ok = isinstance(value, int) and not isinstance(value, bool) and value >= 0
        expected = "a non-negative integer"
    elif name == "stopped_by_budget":
        ok = isinstance(value, bool)
        expected = "true or false"
    else:
        ok = value is None or isinstance(value, str)
        expected = "a string or null"
    if not ok:
        raise ConfigError.single(f"cascade.{name}", f"must be {expected} (got {value!r})")
