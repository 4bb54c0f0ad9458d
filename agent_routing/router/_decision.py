"""What the router is asked (:class:`RouteRequest`) and what it answers (:class:`RoutingDecision`).

A decision is what the caller applies to one LLM call: which model (and api_base/provider),
`max_tokens`, `compress_to_tokens` for the compression hook, the budget reservation the
call's record settles, and the fallback chain. Its `record` is the ledger row
(`records.DecisionRecord`) that explains it; the call's usage row refers to it through
`decision_id` in the capture metadata.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from agent_routing.config import CallKind, TierConfig
from agent_routing.protocols import AnalysisRequest
from agent_routing.records import DecisionRecord
from agent_routing.router._cascade import CascadeState


@dataclass(slots=True, frozen=True)
class RouteRequest:
    """One LLM call to route: the prompt, its context, and who is asking.

    `messages` (litellm-style dicts) are counted for the context-window and budget checks
    when given; otherwise `prompt` and `history` are. `input_tokens` skips counting when
    the caller already knows it. `forced` is a sticky override (tier name or model id, from
    the `switch_model` tool). `configured_model` is what the host would use unrouted: fail
    open and shadow mode keep it. `cascade` is the conversation's cascade state, read and
    updated in place.
    """

    prompt: str
    call_kind: CallKind = CallKind.CHAT
    history: tuple[str, ...] = ()
    messages: tuple[Mapping[str, Any], ...] = ()
    tools: tuple[str, ...] = ()
    attachments: int = 0
    iteration: int = 0
    tool_errors: int = 0
    signals: tuple[str, ...] = ()
    input_tokens: int | None = None
    conversation_id: str | None = None
    agent_no: int | None = None
    configured_model: str | None = None
    forced: str | None = None
    cascade: CascadeState | None = None
    background: bool = False  # a background call: never moved up a tier for a cooldown
    # The model holding this chat's conversation at the provider (Responses API), whose
    # next step would continue it: leaving it resends the whole prompt (router._continuation).
    provider_state_model: str | None = None
    profile: str = ""  # the agent's profile (its per-profile benefit rate is learnable, #13)

    def analysis_request(self) -> AnalysisRequest:
        """What the analyzer sees of this request."""
        return AnalysisRequest(
            prompt=self.prompt,
            history=self.history,
            call_kind=self.call_kind,
            tools=self.tools,
            attachments=self.attachments,
            iteration=self.iteration,
            tool_errors=self.tool_errors,
            signals=self.signals,
            profile=self.profile,
        )


@dataclass(slots=True)
class RoutingDecision:
    """The router's answer for one call, and the ledger record that explains it.

    `tier` is None when the call keeps a configured model that is not one of the tiers
    (fail open, shadow mode, router disabled). `record` is None when nothing was written
    to the ledger (router disabled, or a dry run); then `decision_id` is None too.
    """

    id: str
    model: str
    tier: TierConfig | None
    applied: bool
    reason: str
    call_kind: CallKind
    conversation_id: str | None = None
    agent_no: int | None = None
    score: float | None = None
    input_tokens: int = 0
    max_tokens: int | None = None
    compress_to_tokens: int | None = None
    reservation_id: str | None = None
    estimated_cost_usd: float | None = None
    budget_alerts: tuple[str, ...] = ()
    fallback_chain: tuple[TierConfig, ...] = ()
    record: DecisionRecord | None = None
    recorded: bool = False
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def decision_id(self) -> str | None:
        """The id the call's ledger row refers to, or None when no decision was recorded."""
        return self.id if self.recorded else None

    def call_kwargs(self) -> dict[str, Any]:
        """The litellm keyword arguments that apply this decision's first hop to a call."""
        tier = self.tier or TierConfig(name="configured", model=self.model)
        return tier_call_kwargs(tier, self.max_tokens)

    def summary(self) -> dict[str, Any]:
        """A plain-JSON view for the CLI, API and logs."""
        record = self.record
        return {
            "decision_id": self.decision_id,
            "tier": self.tier.name if self.tier else None,
            "model": self.model,
            "applied": self.applied,
            "call_kind": self.call_kind.value,
            "score": self.score,
            "reason": self.reason,
            "input_tokens": self.input_tokens,
            "max_tokens": self.max_tokens,
            "compress_to_tokens": self.compress_to_tokens,
            "estimated_cost_usd": self.estimated_cost_usd,
            "strategy": record.strategy if record else None,
            "routed_model": record.chosen_model if record else self.model,
            "top_features": [list(pair) for pair in record.top_features] if record else [],
            "candidates": list(record.candidates) if record else [],
            "fallback_chain": [tier.model for tier in self.fallback_chain],
        }


def tier_call_kwargs(tier: TierConfig, max_tokens: int | None) -> dict[str, Any]:
    """litellm keyword arguments that send a call to `tier` with an output cap."""
    kwargs: dict[str, Any] = {"model": tier.model}
    if tier.api_base:
        kwargs["api_base"] = tier.api_base
    if tier.provider:
        kwargs["custom_llm_provider"] = tier.provider
    if max_tokens is not None:
        kwargs["max_tokens"] = max_tokens
    return kwargs
