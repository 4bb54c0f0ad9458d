"""The router facade: one object that every entry point uses the same way.

`Router(settings, analyzer=..., budgets=..., sink=..., tiers=...)` is what the Agent Zero
plugin, the `route` CLI, the evaluation and the bench all build (RouteLLM's `Controller`).
Everything that can be misconfigured is checked in the constructor and raised as a
ConfigError naming the field; after that, routing never raises into the caller except
`BudgetBlockedError`, the deliberate refusal of a budget with enforcement `block`:

- :meth:`Router.route` decides (analyzer -> strategy -> cascade/override/rules -> context,
  availability and budget walk), records the decision in the ledger and returns what to
  apply. Any analyzer or router error *fails open*: the configured model is kept (the
  strongest tier when the caller has none) and the decision's reason says why.
- In shadow mode (`router.shadow`) the decision is computed and recorded with
  `applied=False`, its reservation is released, and the returned decision keeps the
  configured model: only the ledger changes.
- With the router off, in shadow mode, or failing open, the call's own budget check still
  runs on the model actually used: `block` refuses; `downgrade`, which would need a model
  switch, is noted in the reason and acts like `warn`. A budget check that raises refuses
  the call too (routing fails open, money fails closed).
- :meth:`Router.run_decision` / :meth:`Router.acompletion` make the call through the
  fallback chain, re-checking the budget at every hop (:mod:`~agent_routing.router._execution`).
- :meth:`Router.record_signal` stores an outcome signal and escalates the cascade.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, TypeVar

from agent_routing import events
from agent_routing.config import Settings, TierConfig
from agent_routing.errors import BudgetBlockedError, ConfigError
from agent_routing.ids import new_id
from agent_routing.protocols import Analysis, Analyzer, BudgetGuard, BudgetVerdict, CallSink
from agent_routing.records import SIGNAL_KINDS, DecisionRecord, OutcomeSignal
from agent_routing.router._candidates import CallShape, select_candidate, walk_order
from agent_routing.router._cascade import CascadeState
from agent_routing.router._continuation import hold_for_provider_state
from agent_routing.router._decision import RouteRequest, RoutingDecision
from agent_routing.router._execution import HopCall, run_decision
from agent_routing.router._fallback import CooldownRegistry, OnWait
from agent_routing.router._holds import fire_alerts, refusal, release
from agent_routing.router._policy import preferred_tier
from agent_routing.router._recording import passthrough_record, routed_record
from agent_routing.router._tiers import TierTable
from agent_routing.router.strategies import RoutingStrategy, quantiles_for, strategy_for

T = TypeVar("T")

logger = logging.getLogger("agent_routing.router")

# Share of its tokens a prompt keeps after compression, as the compressor achieves on
# agent histories; the context check assumes no better than this (see docs/router.md).
DEFAULT_COMPRESSIBLE_RATIO = 0.5


class Router:
    """Routes LLM calls to tiers; see the module docstring for the contract."""

    def __init__(
        self,
        settings: Settings,
        *,
        analyzer: Analyzer | None = None,
        budgets: BudgetGuard | None = None,
        sink: CallSink | None = None,
        tiers: Sequence[TierConfig] | None = None,
        cooldowns: CooldownRegistry | None = None,
        compressible_ratio: float | None = None,
    ) -> None:
        if compressible_ratio is None:  # default: router.compressible_ratio
            compressible_ratio = settings.router.compressible_ratio
        if not 0.0 < compressible_ratio <= 1.0:
            raise ConfigError.single(
                "compressible_ratio", f"must be in (0, 1] (got {compressible_ratio!r})"
            )
        self.settings = settings
        self.tiers = TierTable(
            settings.effective_tiers() if tiers is None else list(tiers), settings.prices
        )
        strategy_for(settings.router, len(self.tiers))  # validate now, not on the first call
        if analyzer is None:  # #13: an unknown router.analyzer is a ConfigError now
            from agent_routing.analyzer.registry import check_analyzer_name

            check_analyzer_name(settings.router.analyzer)
        self._strategy: RoutingStrategy | None = None
        self.rules = self.tiers.resolve_rules(settings.router.rules)
        self.budgets = budgets
        self.sink = sink
        self.cooldowns = cooldowns if cooldowns is not None else CooldownRegistry()
        self.compressible_ratio = compressible_ratio
        self._analyzer = analyzer

    @property
    def analyzer(self) -> Analyzer:
        """The analyzer in use; the default one loads on first use (scikit-learn is heavy)."""
        if self._analyzer is None:
            from agent_routing.analyzer.learning import default_analyzer

            self._analyzer = default_analyzer(self.settings)
        return self._analyzer

    @property
    def strategy(self) -> RoutingStrategy:
        """The strategy in use, over the score quantiles of the analyzer's own model."""
        if self._strategy is None:
            quantiles = quantiles_for(self.analyzer)
            self._strategy = strategy_for(self.settings.router, len(self.tiers), quantiles)
        return self._strategy

    def thresholds(self) -> list[float]:
        """The score thresholds in use for the configured tiers."""
        return self.strategy.thresholds(len(self.tiers)) if len(self.tiers) > 1 else []

    # --- routing -------------------------------------------------------------------------

    async def route(self, request: RouteRequest, *, dry_run: bool = False) -> RoutingDecision:
        """Decide the model for one call (see the module docstring).

        With `dry_run` nothing is written and every reservation is released: the `route`
        CLI command shows a decision this way without spending or recording anything.
        """
        decision_id = new_id()
        options = self.settings.router
        if not options.enabled:
            return await self._passthrough(request, decision_id, "router disabled", dry_run)
        try:
            routed, blocked = await self._decide(
                request,
                decision_id,
                hold=not (options.shadow or dry_run),
                applied=not options.shadow,
            )
        except Exception as error:
            logger.warning("routing failed, keeping the configured model: %r", error)
            reason = f"fail open: {type(error).__name__}: {error}"
            kept = await self._passthrough(request, decision_id, reason, dry_run)
            kept.record = passthrough_record(
                request=request, decision=kept, strategy=options.strategy
            )
            kept.recorded = self._submit(kept.record, dry_run)
            return kept
        assert routed.record is not None
        recorded = self._submit(routed.record, dry_run)
        if options.shadow:
            kept = await self._passthrough(
                request, decision_id, f"shadow (not applied): {routed.reason}", dry_run
            )
            kept.record, kept.recorded = routed.record, recorded
            return kept
        routed.recorded = recorded
        if blocked is not None:
            raise blocked
        if request.cascade is not None and routed.tier is not None:
            request.cascade.last_decision_id = routed.id
            request.cascade.last_tier = routed.tier.name
        if not dry_run:
            self._announce(routed)
        return routed

    def _announce(self, decision: RoutingDecision) -> None:
        """Publish a budget downgrade of this decision (a user should hear about it)."""
        record = decision.record
        candidates = record.candidates if record else []
        skipped = [c for c in candidates if c.get("budget") == "downgrade" and not c.get("chosen")]
        if skipped:
            events.publish(
                events.Event(
                    "downgrade",
                    f"a budget asked for a cheaper model: {decision.model} instead of "
                    f"{skipped[0].get('model')}",
                    decision.conversation_id,
                    decision.model,
                )
            )

    async def _decide(
        self, request: RouteRequest, decision_id: str, *, hold: bool, applied: bool
    ) -> tuple[RoutingDecision, BudgetBlockedError | None]:
        analysis = self.analyzer.analyze(request.analysis_request())
        score = _checked_score(analysis)
        cascade = request.cascade
        preference = preferred_tier(
            score=score,
            call_kind=request.call_kind,
            tiers=self.tiers,
            strategy=self.strategy,
            rules=self.rules,
            forced=request.forced,
            floor_tier=cascade.floor_tier if cascade is not None else None,
        )
        input_tokens = self._input_tokens(request)
        kind_cap = self.settings.router.output_caps.get(request.call_kind)
        hold_for_provider_state(
            preference,
            self.tiers,
            state_model=request.provider_state_model,
            forced=bool(request.forced) or preference.pinned,
            input_tokens=input_tokens,
            output_tokens=self.settings.reservation.output_estimate_tokens,
            overrides=self.settings.prices,
        )
        upward = not (request.background or preference.pinned)
        selection = await select_candidate(
            tiers=self.tiers,
            preferred=preference.index,
            cap=preference.cap,
            shape=self._shape(request, input_tokens, kind_cap),
            budgets=self.budgets,
            is_cooling=lambda model: not self.cooldowns.available(model),
            upward=upward,
        )
        chosen = selection.chosen
        verdict = chosen.verdict
        alerts: tuple[str, ...] = ()
        if not hold and selection.blocked is None:
            await release(self.budgets, verdict.reservation_id if verdict else None)
        elif selection.blocked is None and verdict is not None:
            alerts = await fire_alerts(self.budgets, chosen.tier.model, request.conversation_id)
        position = next(i for i, c in enumerate(selection.candidates) if c is chosen)
        passed_over = selection.candidates[:position]
        steps = [*preference.steps, *(f"{c.tier.name}: {c.note}" for c in passed_over if c.note)]
        if chosen.note:
            steps.append(f"{chosen.tier.name}: {chosen.note}")
        if selection.blocked is not None:
            steps.append(f"blocked by budget: {selection.blocked}")
        if cascade is not None and preference.floor_index is not None:
            cascade.stopped_by_budget = chosen.tier.index < preference.floor_index
            if cascade.stopped_by_budget:
                steps.append("cascade: escalation stopped by the budget")
        tier = chosen.tier.config
        decision = RoutingDecision(
            id=decision_id,
            model=tier.model,
            tier=tier,
            applied=applied,
            reason="; ".join(steps),
            call_kind=request.call_kind,
            conversation_id=request.conversation_id,
            agent_no=request.agent_no,
            score=score,
            input_tokens=input_tokens,
            max_tokens=_smallest(
                _smallest(kind_cap, tier.max_output_tokens),
                verdict.max_output_tokens if verdict is not None else None,
            ),
            compress_to_tokens=chosen.compress_to_tokens,
            reservation_id=verdict.reservation_id if verdict is not None and hold else None,
            estimated_cost_usd=chosen.estimated_cost_usd,
            budget_alerts=alerts,
            fallback_chain=tuple(
                self.tiers[i].config
                for i in (
                    walk_order(chosen.tier.index, preference.cap)
                    if upward
                    else range(chosen.tier.index, -1, -1)  # never up for a cooldown
                )
            ),
        )
        decision.record = routed_record(
            request=request,
            decision=decision,
            strategy=self.settings.router.strategy,
            analysis=analysis,
            preference=preference,
            chosen=chosen,
            candidates=selection.candidates,
            tiers=self.tiers,
            thresholds=self.thresholds(),
        )
        return decision, selection.blocked

    def _shape(self, request: RouteRequest, input_tokens: int, kind_cap: int | None) -> CallShape:
        compression = self.settings.compression
        return CallShape(
            input_tokens=input_tokens,
            max_tokens=kind_cap,
            output_estimate=self.settings.reservation.output_estimate_tokens,
            call_kind=request.call_kind,
            conversation_id=request.conversation_id,
            compressible_ratio=self.compressible_ratio if compression.enabled else None,
            target_fullness=compression.target_fullness,
        )

    def _input_tokens(self, request: RouteRequest) -> int:
        if request.input_tokens is not None:
            return request.input_tokens
        from agent_routing.tokens import count_message_tokens, count_text_tokens

        if request.messages:
            return count_message_tokens(list(request.messages))
        return count_text_tokens("\n".join([*request.history, request.prompt]))

    async def _passthrough(
        self, request: RouteRequest, decision_id: str, reason: str, dry_run: bool
    ) -> RoutingDecision:
        """Keep the configured model (strongest tier if none); only the budget check runs."""
        model = request.configured_model or self.tiers[-1].model
        tier = self.tiers[-1].config if request.configured_model is None else None
        try:
            input_tokens = self._input_tokens(request)
        except Exception as error:
            logger.warning("token count failed, budget estimate without input: %r", error)
            input_tokens = 0
        kind_cap = self.settings.router.output_caps.get(request.call_kind)
        verdict = await self._passthrough_verdict(
            model, request, input_tokens, kind_cap, alerts=not dry_run
        )
        if verdict is not None and verdict.action == "downgrade":
            reason += f"; budget asks to downgrade ({verdict.reason}), not applied"
        if dry_run:
            await release(self.budgets, verdict.reservation_id if verdict else None)
        return RoutingDecision(
            id=decision_id,
            model=model,
            tier=tier,
            applied=not self.settings.router.shadow,
            reason=reason,
            call_kind=request.call_kind,
            conversation_id=request.conversation_id,
            agent_no=request.agent_no,
            input_tokens=input_tokens,
            max_tokens=_smallest(kind_cap, verdict.max_output_tokens if verdict else None),
            reservation_id=verdict.reservation_id if verdict and not dry_run else None,
            estimated_cost_usd=verdict.estimated_cost_usd if verdict else None,
            budget_alerts=verdict.alerts if verdict else (),
            fallback_chain=(tier or TierConfig(name="configured", model=model),),
        )

    async def _passthrough_verdict(
        self,
        model: str,
        request: RouteRequest,
        input_tokens: int,
        max_tokens: int | None,
        *,
        alerts: bool,
    ) -> BudgetVerdict | None:
        if self.budgets is None:
            return None
        try:
            verdict = await self.budgets.check(
                model=model,
                conversation_id=request.conversation_id,
                input_tokens=input_tokens,
                max_output_tokens=max_tokens,
                call_kind=request.call_kind.value,
                alerts=alerts,  # a dry run fires none
            )
        except Exception as error:  # a budget that cannot be checked refuses (money)
            logger.exception("budget check for %s failed, the call is refused", model)
            raise BudgetBlockedError(
                f"the budget check for {model} failed ({error}), so the call is refused "
                "(fail closed for money)",
                budget="",
                remaining_usd=0.0,
            ) from error
        if verdict.action == "block":
            raise refusal(verdict, model)
        return verdict

    def _submit(self, record: DecisionRecord, dry_run: bool) -> bool:
        if dry_run or self.sink is None:
            return False
        try:
            self.sink.submit_decision(record)
        except Exception as error:
            logger.warning("recording decision %s failed: %r", record.id, error)
            return False
        return True

    # --- calls and signals ---------------------------------------------------------------

    async def run_decision(
        self,
        decision: RoutingDecision,
        attempt: Callable[[HopCall], Awaitable[T]],
        *,
        on_wait: OnWait | None = None,
    ) -> T:
        """Make the call through the decision's fallback chain (budget re-checked per hop).

        `on_wait(seconds, model)` is awaited before a cooldown wait of more than
        `fallback.NOTICE_AFTER_S` seconds, to tell the user (the Agent Zero plugin logs it
        in the chat)."""
        return await self._run(decision, attempt, on_wait)

    def _run(
        self,
        decision: RoutingDecision,
        attempt: Callable[[HopCall], Awaitable[T]],
        on_wait: OnWait | None = None,
    ) -> Awaitable[T]:
        """:func:`~agent_routing.router._execution.run_decision` with this router's parts."""
        return run_decision(
            decision,
            attempt,
            tiers=self.tiers,
            budgets=self.budgets,
            settings=self.settings.router,
            cooldowns=self.cooldowns,
            on_wait=on_wait,
        )

    async def acompletion(
        self, decision: RoutingDecision, messages: Sequence[dict[str, Any]], **kwargs: Any
    ) -> Any:
        """`litellm.acompletion` with the decision applied, through the fallback chain.

        `kwargs` pass through; the decision's `max_tokens` caps any larger value given, and
        the capture metadata is merged into any `metadata` given.
        """
        from agent_routing._litellm import litellm_module

        litellm = litellm_module()

        async def attempt(call: HopCall) -> Any:
            return await litellm.acompletion(messages=list(messages), **call.merged(kwargs))

        return await self._run(decision, attempt)

    def record_signal(
        self,
        decision_id: str | None,
        kind: str,
        *,
        cascade: CascadeState | None = None,
        detail: str = "",
    ) -> bool:
        """Store an outcome signal; with `cascade`, escalate it. True when it escalated.

        `decision_id` None (a decision that was not recorded: no ledger) stores nothing
        but still moves the cascade.
        """
        if kind not in SIGNAL_KINDS:
            raise ConfigError.single(
                "signal.kind", f"unknown signal {kind!r}: choose one of {sorted(SIGNAL_KINDS)}"
            )
        if self.sink is not None and decision_id is not None:
            signal = OutcomeSignal(decision_id, kind, time.time(), detail)
            try:
                self.sink.submit_signal(signal)
            except Exception as error:
                logger.warning("recording signal %s failed: %r", kind, error)
        if cascade is None:
            return False
        return cascade.escalate(self.tiers.configs, self.settings.router.cascade, kind)


def _checked_score(analysis: Analysis) -> float:
    score = float(analysis.score)
    if not math.isfinite(score) or not 0.0 <= score <= 1.0:
        raise ValueError(f"analyzer returned a score outside [0, 1]: {analysis.score!r}")
    return score


def _smallest(*values: int | None) -> int | None:
    known = [value for value in values if value is not None]
    return min(known) if known else None
