"""From the preferred tier to the tier a call actually gets: context, availability, budget.

Candidates are walked in fallback order from the preferred tier `p` under the cap `c`:
`p, p+1, ..., c, p-1, ..., 0` (a stronger tier keeps the quality the score asked for; a
cheaper one comes last). For each candidate:

1. **Context window.** A prompt that does not fit the model is never sent to it. When it
   would fit after compression (input x `compressible_ratio` within the window), the
   cheaper model is kept and `compress_to_tokens` is set: compressing is preferred over a
   dearer model. When no tier fits even compressed, the largest window is used with
   compression to that window (best effort, said in the reason).
2. **Availability.** A model cooling down after provider errors, or at a configured quota
   (`BudgetGuard.quota_available`), is skipped. It is checked only when the walk reaches
   the candidate (`available` stays None for tiers never reached). When every tier is
   unavailable the walk is repeated without this check: the provider then answers and
   fallback takes over. Background and rule-bound calls never move *up* for this: they
   walk `p, p-1, ..., 0` and wait for `p` rather than take a stronger tier.
3. **Budget.** `BudgetGuard.check` with the candidate's model: `allow`/`warn` take it (the
   verdict's reservation goes on the decision); `downgrade` moves on to cheaper tiers only
   (when nothing cheaper is left, the downgraded candidate is taken: `downgrade` never
   turns into a refusal); `block` raises BudgetBlockedError (fail closed). Reservations of
   candidates not taken are released.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Literal

from agent_routing.config import CallKind
from agent_routing.errors import BudgetBlockedError
from agent_routing.protocols import BudgetGuard, BudgetVerdict
from agent_routing.router._holds import refusal, release
from agent_routing.router._tiers import Tier, TierTable

logger = logging.getLogger("agent_routing.router")

Fit = Literal["fits", "compress", "too_large"]


@dataclass(slots=True)
class Candidate:
    """One tier considered for a call, with everything the decision record shows about it."""

    tier: Tier
    fit: Fit
    input_tokens: int  # after the compression this candidate would need
    compress_to_tokens: int | None = None
    estimated_cost_usd: float | None = None
    available: bool | None = None  # None: not checked (an earlier tier was taken)
    budget: str | None = None  # the budget verdict's action, when checked
    verdict: BudgetVerdict | None = None
    chosen: bool = False
    note: str = ""

    def as_dict(self) -> dict[str, Any]:
        """The plain-JSON form stored in `DecisionRecord.candidates`."""
        return {
            "tier": self.tier.name,
            "model": self.tier.model,
            "estimated_cost_usd": self.estimated_cost_usd,
            "context_window": self.tier.context_window,
            "fit": self.fit,
            "compress_to_tokens": self.compress_to_tokens,
            "available": self.available,
            "budget": self.budget,
            "chosen": self.chosen,
            "note": self.note,
        }


@dataclass(frozen=True, slots=True)
class CallShape:
    """What every candidate's checks need to know about the call."""

    input_tokens: int
    max_tokens: int | None  # the output cap applied to the call, if any
    output_estimate: int  # output tokens assumed for cost estimates
    call_kind: CallKind
    conversation_id: str | None
    compressible_ratio: float | None  # None: compression is off
    target_fullness: float


def walk_order(preferred: int, cap: int, *, upward: bool = True) -> list[int]:
    """Tier indices in fallback order: preferred, stronger up to the cap, then cheaper.

    `upward=False` (background and rule-bound calls): preferred, then cheaper, then the
    stronger ones last (those are only taken when no cheaper tier fits the prompt).
    """
    if not upward:
        return [preferred, *range(preferred - 1, -1, -1), *range(preferred + 1, cap + 1)]
    return [preferred, *range(preferred + 1, cap + 1), *range(preferred - 1, -1, -1)]


def fit_candidate(tier: Tier, shape: CallShape) -> Candidate:
    """Check the context window (see the module docstring, step 1)."""
    window = tier.context_window
    reserve = shape.max_tokens or 0
    if window is None or shape.input_tokens + reserve <= window:
        return Candidate(tier=tier, fit="fits", input_tokens=shape.input_tokens)
    room = window - reserve
    if shape.compressible_ratio is not None and room > 0:
        achievable = math.ceil(shape.input_tokens * shape.compressible_ratio)
        if achievable <= room:
            target = min(room, max(achievable, int(window * shape.target_fullness)))
            return Candidate(
                tier=tier,
                fit="compress",
                input_tokens=target,
                compress_to_tokens=target,
                note=f"compress {shape.input_tokens} -> {target} tokens to fit {window}",
            )
    return Candidate(
        tier=tier,
        fit="too_large",
        input_tokens=shape.input_tokens,
        note=f"{shape.input_tokens} tokens do not fit {window}",
    )


def best_effort_fit(tiers: TierTable, indices: list[int], shape: CallShape) -> Candidate:
    """When nothing fits: the largest window, compressed to the room it has."""
    largest = max((tiers[i] for i in indices), key=lambda tier: tier.context_window or 0)
    window = largest.context_window or shape.input_tokens
    room = max(1, window - (shape.max_tokens or 0))
    return Candidate(
        tier=largest,
        fit="compress",
        input_tokens=room,
        compress_to_tokens=room,
        note=f"fits no tier even compressed; compress {shape.input_tokens} -> {room} (best effort)",
    )


@dataclass(slots=True)
class Selection:
    """The walk's result: the chosen candidate and all considered, or the budget's refusal.

    When `blocked` is set, `chosen` is the candidate the budget refused (nothing is held).
    """

    chosen: Candidate
    candidates: list[Candidate]
    blocked: BudgetBlockedError | None = None


async def select_candidate(
    *,
    tiers: TierTable,
    preferred: int,
    cap: int,
    shape: CallShape,
    budgets: BudgetGuard | None,
    is_cooling: Callable[[str], bool],
    upward: bool = True,
) -> Selection:
    """Walk the candidates (module docstring); a `block` verdict comes back in `blocked`.

    `upward=False` (background and rule-bound calls): a tier stronger than the preferred
    one is a candidate only when no tier up to the preferred one fits the prompt, so a
    cooldown or quota never moves such a call up: it takes a cheaper tier, or the
    preferred one although unavailable (fallback then waits for its cooldown).
    """
    order = walk_order(preferred, cap, upward=upward)
    candidates = [fit_candidate(tiers[i], shape) for i in order]
    if all(candidate.fit == "too_large" for candidate in candidates):
        best = best_effort_fit(tiers, order, shape)
        candidates = [best if c.tier.index == best.tier.index else c for c in candidates]
    for candidate in candidates:
        output = shape.max_tokens or shape.output_estimate
        candidate.estimated_cost_usd = tiers.estimate_cost(
            candidate.tier, candidate.input_tokens, output
        )
    fitting = [candidate for candidate in candidates if candidate.fit != "too_large"]
    if not upward and any(c.tier.index <= preferred for c in fitting):
        for candidate in fitting:
            if candidate.tier.index > preferred:
                candidate.note = _join(
                    candidate.note, "not moving up: a background or rule-bound call waits"
                )
        fitting = [c for c in fitting if c.tier.index <= preferred]

    async def available(candidate: Candidate) -> bool:
        return await _available(candidate, shape, budgets, is_cooling)

    try:
        chosen = await _walk(fitting, shape, budgets, available)
        if chosen is None:  # every tier that fits is unavailable: let the provider decide
            for candidate in fitting:
                candidate.note = _join(candidate.note, "used although unavailable")
            chosen = await _walk(fitting, shape, budgets, None)
    except _Blocked as refusal:
        return Selection(refusal.candidate, candidates, refusal.error)
    assert chosen is not None, "without the availability check the walk always chooses"
    chosen.chosen = True
    return Selection(chosen, candidates)


async def _available(
    candidate: Candidate,
    shape: CallShape,
    budgets: BudgetGuard | None,
    is_cooling: Callable[[str], bool],
) -> bool:
    model = candidate.tier.model
    candidate.available = False
    if is_cooling(model):
        candidate.note = _join(candidate.note, "cooling down after provider errors")
        return False
    try:
        ok = budgets is None or await budgets.quota_available(
            model, input_tokens=candidate.input_tokens
        )
    except Exception as error:  # a broken quota store must not stop routing
        logger.warning("quota check for %s failed, assuming available: %r", model, error)
        ok = True
    if not ok:
        candidate.note = _join(candidate.note, "at its quota")
    candidate.available = ok
    return ok


async def _walk(
    pool: list[Candidate],
    shape: CallShape,
    budgets: BudgetGuard | None,
    available: Callable[[Candidate], Awaitable[bool]] | None,
) -> Candidate | None:
    """Availability and budget down the pool (module docstring, steps 2 and 3).

    Returns None only when `available` refused every candidate. A downgraded candidate's
    reservation is held only until the next candidate is checked: released before that
    check so that it does not count against the cheaper call's budget. The last downgraded
    candidate, taken when nothing cheaper is left, keeps its own.
    """
    held: Candidate | None = None  # the last downgraded candidate, in case nothing is cheaper
    below: int | None = None  # after a downgrade, only tiers cheaper than this index
    for candidate in pool:
        if below is not None and candidate.tier.index >= below:
            candidate.note = _join(candidate.note, "not cheaper than a tier the budget refused")
            continue
        if available is not None and not await available(candidate):
            continue
        if budgets is None:
            return candidate
        if held is not None:
            await release(budgets, held.verdict.reservation_id if held.verdict else None)
        verdict = await budgets.check(
            model=candidate.tier.model,
            conversation_id=shape.conversation_id,
            input_tokens=candidate.input_tokens,
            max_output_tokens=shape.max_tokens,
            call_kind=shape.call_kind.value,
            alerts=False,  # fired for the candidate taken only (Router._decide)
        )
        candidate.verdict = verdict
        candidate.budget = verdict.action
        if verdict.action == "block":
            await release(budgets, verdict.reservation_id)
            raise _Blocked(candidate, refusal(verdict, candidate.tier.model))
        if verdict.action != "downgrade":
            return candidate
        candidate.note = _join(candidate.note, f"budget: {verdict.reason or 'downgrade'}")
        held, below = candidate, candidate.tier.index
    if held is not None:
        held.note = _join(held.note, "taken: the budget asks to downgrade, nothing cheaper left")
    return held


class _Blocked(Exception):
    """Internal: carries the refused candidate out of the budget walk."""

    def __init__(self, candidate: Candidate, error: BudgetBlockedError) -> None:
        super().__init__(str(error))
        self.candidate = candidate
        self.error = error


def _join(note: str, addition: str) -> str:
    return f"{note}; {addition}" if note else addition
