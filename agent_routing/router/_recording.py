"""The ledger row of a routing decision: why this tier, from which score and features.

`extra` holds what learning and audits need besides the fixed columns: the analyzer's full
feature vector (`features`, the training input of `train --from-ledger`), the model version
that scored it, the thresholds, the tier's rank among the tiers, what the score alone
asked for, the cap and floor that applied, and what was applied to the call.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

from agent_routing.protocols import Analysis
from agent_routing.records import DecisionRecord
from agent_routing.router._candidates import Candidate
from agent_routing.router._decision import RouteRequest, RoutingDecision
from agent_routing.router._policy import Preference
from agent_routing.router._tiers import TierTable


def routed_record(
    *,
    request: RouteRequest,
    decision: RoutingDecision,
    strategy: str,
    analysis: Analysis,
    preference: Preference,
    chosen: Candidate,
    candidates: Sequence[Candidate],
    tiers: TierTable,
    thresholds: Sequence[float],
) -> DecisionRecord:
    """The record of a decision the router made (applied, shadow or blocked)."""
    return DecisionRecord(
        id=decision.id,
        created_at=time.time(),
        conversation_id=request.conversation_id,
        agent_no=request.agent_no,
        call_kind=request.call_kind.value,
        strategy=strategy,
        chosen_tier=chosen.tier.name,
        chosen_model=chosen.tier.model,
        configured_model=request.configured_model,
        score=decision.score,
        top_features=[(name, float(value)) for name, value in analysis.top_features],
        candidates=[candidate.as_dict() for candidate in candidates],
        reason=decision.reason,
        applied=decision.applied,
        extra={
            "features": {name: float(value) for name, value in analysis.features.items()},
            "model_version": analysis.model_version,
            "thresholds": list(thresholds),
            "tier_index": chosen.tier.index,
            "tiers": [tier.name for tier in tiers],
            "score_tier": _name(tiers, preference.score_index),
            "preferred_tier": _name(tiers, preference.index),
            "cap_tier": _name(tiers, preference.cap),
            "forced": request.forced,
            "cascade_floor": request.cascade.floor_tier if request.cascade else None,
            **_applied(decision),
        },
    )


def passthrough_record(
    *, request: RouteRequest, decision: RoutingDecision, strategy: str
) -> DecisionRecord:
    """The record of a call that kept its configured model because routing failed."""
    return DecisionRecord(
        id=decision.id,
        created_at=time.time(),
        conversation_id=request.conversation_id,
        agent_no=request.agent_no,
        call_kind=request.call_kind.value,
        strategy=strategy,
        chosen_tier=decision.tier.name if decision.tier else None,
        chosen_model=decision.model,
        configured_model=request.configured_model,
        score=None,
        reason=decision.reason,
        applied=decision.applied,
        extra=_applied(decision),
    )


def _applied(decision: RoutingDecision) -> dict[str, Any]:
    return {
        "input_tokens": decision.input_tokens,
        "max_tokens": decision.max_tokens,
        "compress_to_tokens": decision.compress_to_tokens,
        "reservation_id": decision.reservation_id,
        "estimated_cost_usd": decision.estimated_cost_usd,
    }


def _name(tiers: TierTable, index: int | None) -> str | None:
    return tiers[index].name if index is not None else None
