"""Duel mode: collect the label the router needs, without selection bias.

Routing only ever sees what the tier it chose did, so outcomes of calls routed cheap say
nothing about whether the strong tier would have done better (and calls routed strong say
nothing about the cheap one). On a configured share of the calls routed to the cheapest
tier (`router.duel.share`), within a spend limit of its own (`router.duel.budget_usd` per
`period`), duel mode also runs the strongest tier on the same prompt in the background and
records both outcomes and a verdict: which answers were good enough, and from it the
**gain** label the text analyzer trains on (1 = only the strong answer was good enough, 0 =
only the cheap one, 0.5 = both or neither: `(strong - weak + 1) / 2` for 0/1 outcomes, as
in docs/analyzer.md) and the older **benefit** label (1 = only the strong answer was good
enough, else 0). The share is drawn at random per call, independent of the score, so the
labels cover the whole score range.

Who decides "good enough":

1. the agent's own signals, where they decide it (:func:`verdict_by_signals`): a cheap
   answer whose tool call parsed and whose tool succeeded was good enough (benefit 0); a
   cheap tool call that did not parse against a strong one that did is benefit 1; both
   unparseable is 0 (the strong tier did not help);
2. otherwise a judge model (`router.duel.judge_model`), asked which answers are good enough
   (:func:`judge_prompt` / :func:`parse_judge_reply`); with no judge configured the duel is
   recorded unjudged (no label).

The strong tier's tool calls are never executed: a duel must not act twice in the world.

Everything here is host-independent: the adapter (agent_routing/host/_duel.py) supplies the
coroutines that make the second call and ask the judge. Each duel is written to the ledger
as a decision record (`strategy = "duel"`, `applied = False`, `extra.duel_of` = the routed
decision, `extra.features` = that decision's analyzer inputs, `extra.cheap` / `extra.strong`
= both outcomes, `extra.verdict` = who was good enough, `extra.gain` and `extra.benefit` =
the labels) plus the second call's call record (its cost counts like any other call's).
:func:`~agent_routing.analyzer.learning.refit_text_from_ledger` trains on these records
(the gain label by default, `router.duel.label`).
"""

from __future__ import annotations

import json
import logging
import random
import threading
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Literal

from agent_routing.config import DuelConfig, data_home
from agent_routing.ids import new_id
from agent_routing.protocols import CallSink
from agent_routing.records import (
    DUEL_STRATEGY,
    CallRecord,
    DecisionRecord,
    Outcome,
    duel_gain,
)

logger = logging.getLogger("agent_routing.router")

STATE_FILE = "duel-state.json"
JUDGE_CHARS = 4000  # of the prompt and of each answer shown to the judge


@dataclass(frozen=True, slots=True)
class DuelAnswer:
    """One tier's answer to the dueled prompt, as the agent's signals saw it."""

    model: str
    text: str
    tool_call_parsed: bool | None = None  # None: the answer was not a tool call
    tool_succeeded: bool | None = None  # None: not executed (always None for the strong side)
    cost_usd: float | None = None
    error: str | None = None


@dataclass(frozen=True, slots=True)
class Verdict:
    """Which answers were good enough, who decided, and the benefit label (None: undecided)."""

    cheap_ok: bool | None
    strong_ok: bool | None
    judged_by: Literal["signals", "judge", "none"]
    detail: str = ""

    @property
    def benefit(self) -> int | None:
        """1 when only the strong answer was good enough, 0 when not, None when unknown."""
        if self.cheap_ok is None or self.strong_ok is None:
            return None
        return int(self.strong_ok and not self.cheap_ok)

    @property
    def gain(self) -> float | None:
        """The strong answer's gain: 1 when only it was good enough, 0 when only the cheap
        one was, 0.5 when both or neither were; None when unknown."""
        return duel_gain(self.cheap_ok, self.strong_ok)


def verdict_by_signals(cheap: DuelAnswer, strong: DuelAnswer) -> Verdict | None:
    """The verdict where the agent's own signals decide it, else None (ask the judge)."""
    if strong.error is not None:
        return Verdict(None, None, "none", f"strong call failed: {strong.error}")
    if cheap.tool_call_parsed is True and cheap.tool_succeeded is True:
        detail = "cheap tool call parsed and its tool succeeded"
        return Verdict(True, None, "signals", detail)
    if cheap.tool_call_parsed is False and strong.tool_call_parsed is not None:
        strong_ok = bool(strong.tool_call_parsed)
        detail = f"cheap tool call did not parse; strong one {'did' if strong_ok else 'did not'}"
        return Verdict(False, strong_ok, "signals", detail)
    return None


def _cheap_settled(verdict: Verdict) -> Verdict:
    """A cheap answer that was good enough means no benefit, whatever the strong one did."""
    if verdict.cheap_ok is True and verdict.strong_ok is None:
        return Verdict(True, True, verdict.judged_by, verdict.detail)
    return verdict


def judge_prompt(prompt: str, cheap: DuelAnswer, strong: DuelAnswer) -> list[dict[str, str]]:
    """Messages asking a judge model which of two answers is good enough (order hidden)."""
    return [
        {
            "role": "system",
            "content": "You grade answers. For the task below, say which answers fully and "
            "correctly do what was asked. Reply with exactly one word: A, B, BOTH or NEITHER.",
        },
        {
            "role": "user",
            "content": f"Task:\n{prompt[-JUDGE_CHARS:]}\n\nAnswer A:\n{cheap.text[:JUDGE_CHARS]}"
            f"\n\nAnswer B:\n{strong.text[:JUDGE_CHARS]}\n\nWhich answers are good enough?",
        },
    ]


def parse_judge_reply(reply: str) -> tuple[bool, bool] | None:
    """(A good enough, B good enough) from a judge reply, None when it is not one word."""
    words = reply.strip().upper().replace(".", " ").split()
    if not words:
        return None
    return {
        "A": (True, False),
        "B": (False, True),
        "BOTH": (True, True),
        "NEITHER": (False, False),
    }.get(words[0])


@dataclass(slots=True)
class DuelState:
    """The duel spend in the current period and verdicts since the last refit (JSON file)."""

    period: str = ""
    spent_usd: float = 0.0
    reserved_usd: float = 0.0
    duels: int = 0
    new_labels: int = 0


def period_key(period: str, now: float) -> str:
    """The budget period a time falls in (UTC)."""
    stamp = time.gmtime(now)
    if period == "daily":
        return time.strftime("%Y-%m-%d", stamp)
    if period == "monthly":
        return time.strftime("%Y-%m", stamp)
    return "total"


class DuelBudget:
    """The duel spend limit, kept in a small JSON file; fails closed when it cannot be read."""

    def __init__(self, config: DuelConfig, path: Path | None = None) -> None:
        self.config = config
        self.path = path or data_home() / STATE_FILE
        self._lock = threading.Lock()

    def _read(self, now: float) -> DuelState:
        key = period_key(self.config.period, now)
        if not self.path.exists():
            return DuelState(period=key)
        data = json.loads(self.path.read_text(encoding="utf-8"))
        state = DuelState(**{k: data[k] for k in asdict(DuelState()) if k in data})
        if state.period != key:  # a new period: spend starts again, labels carry over
            return DuelState(period=key, new_labels=state.new_labels)
        return state

    def _write(self, state: DuelState) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        partial = self.path.with_name(self.path.name + ".partial")
        partial.write_text(json.dumps(asdict(state)), encoding="utf-8")
        partial.replace(self.path)

    def state(self, now: float | None = None) -> DuelState:
        """The current state (a fresh one when the file is absent)."""
        with self._lock:
            return self._read(time.time() if now is None else now)

    def reserve(self, estimate_usd: float, now: float | None = None) -> bool:
        """Hold `estimate_usd` of the duel budget; False when it would go over (or on error)."""
        now = time.time() if now is None else now
        with self._lock:
            try:
                state = self._read(now)
                if state.spent_usd + state.reserved_usd + estimate_usd > self.config.budget_usd:
                    return False
                state.reserved_usd += estimate_usd
                state.duels += 1
                self._write(state)
                return True
            except (OSError, ValueError, TypeError) as error:
                logger.warning("duel budget unreadable, no duel (fail closed): %r", error)
                return False

    def settle(
        self, estimate_usd: float, cost_usd: float | None, *, labelled: bool, now: float | None
    ) -> DuelState:
        """Replace the reservation by the actual cost (the estimate when unknown)."""
        now = time.time() if now is None else now
        with self._lock:
            state = self._read(now)
            state.reserved_usd = max(0.0, state.reserved_usd - estimate_usd)
            state.spent_usd += estimate_usd if cost_usd is None else cost_usd
            state.new_labels += int(labelled)
            self._write(state)
            return state

    def labels_used(self) -> None:
        """A refit consumed the new labels."""
        with self._lock:
            state = self._read(time.time())
            state.new_labels = 0
            self._write(state)


OtherCall = Callable[[], Awaitable[DuelAnswer]]
JudgeCall = Callable[[list[dict[str, str]]], Awaitable[str]]
RefitHook = Callable[[], None]


@dataclass(slots=True)
class DuelResult:
    """What one duel did (returned for tests and the adapter's log)."""

    duel_id: str
    verdict: Verdict
    cheap: DuelAnswer
    strong: DuelAnswer
    state: DuelState
    refit_started: bool = False
    record: DecisionRecord | None = field(default=None, repr=False)


class Duels:
    """Decides which cheap calls to duel and runs a duel (see the module docstring)."""

    def __init__(
        self,
        config: DuelConfig,
        *,
        sink: CallSink | None = None,
        budget: DuelBudget | None = None,
        rng: random.Random | None = None,
        refit: RefitHook | None = None,
    ) -> None:
        self.config = config
        self.sink = sink
        self.budget = budget or DuelBudget(config)
        self.rng = rng or random.Random(config.seed)  # noqa: S311 (sampling, not secrets)
        self.refit = refit

    def wants(self, *, tier_index: int, tier_count: int, estimate_usd: float) -> bool:
        """Whether to duel a call routed to tier `tier_index`: enabled, cheapest tier, drawn
        within the share (independent of the score) and the estimate fits the duel budget
        (which is then reserved)."""
        if not self.config.enabled or tier_count < 2 or tier_index != 0:
            return False
        if self.rng.random() >= self.config.share:
            return False
        return self.budget.reserve(max(estimate_usd, 0.0))

    async def run(
        self,
        *,
        decision: DecisionRecord,
        prompt: str,
        cheap: DuelAnswer,
        strong_tier: str,
        call_other: OtherCall,
        judge: JudgeCall | None = None,
        estimate_usd: float = 0.0,
        now: float | None = None,
    ) -> DuelResult:
        """Run the other tier, judge, record both outcomes; never raises (errors are recorded)."""
        duel_id = new_id()
        started = time.time()
        try:
            strong = await call_other()
        except Exception as error:  # the duel is best effort: record the failure
            strong = DuelAnswer(model="", text="", error=f"{type(error).__name__}: {error}")
        verdict = await self._verdict(prompt, cheap, strong, judge)
        state = self.budget.settle(
            estimate_usd, strong.cost_usd, labelled=verdict.benefit is not None, now=now
        )
        record = self._record(
            duel_id,
            decision=decision,
            cheap=cheap,
            strong=strong,
            strong_tier=strong_tier,
            verdict=verdict,
            started=started,
        )
        self._submit(record, strong, strong_tier, duel_id, started)
        refit = False
        if self.refit is not None and state.new_labels >= self.config.refit_after:
            self.budget.labels_used()
            refit = True
            threading.Thread(target=self._run_refit, name="duel-refit", daemon=True).start()
        return DuelResult(duel_id, verdict, cheap, strong, state, refit, record)

    def _run_refit(self) -> None:
        assert self.refit is not None
        try:
            self.refit()
        except Exception as error:  # a refit must never disturb routing
            logger.warning("duel refit failed, the current model stays: %r", error)

    async def _verdict(
        self, prompt: str, cheap: DuelAnswer, strong: DuelAnswer, judge: JudgeCall | None
    ) -> Verdict:
        decided = verdict_by_signals(cheap, strong)
        if decided is not None:
            return _cheap_settled(decided)
        if judge is None:
            return Verdict(None, None, "none", "signals undecided and no judge_model configured")
        try:
            reply = await judge(judge_prompt(prompt, cheap, strong))
        except Exception as error:
            return Verdict(None, None, "none", f"judge failed: {type(error).__name__}: {error}")
        parsed = parse_judge_reply(reply)
        if parsed is None:
            return Verdict(None, None, "none", f"judge reply not understood: {reply[:80]!r}")
        return Verdict(parsed[0], parsed[1], "judge", f"judge said {reply.strip()[:20]!r}")

    def _record(
        self,
        duel_id: str,
        *,
        decision: DecisionRecord,
        cheap: DuelAnswer,
        strong: DuelAnswer,
        strong_tier: str,
        verdict: Verdict,
        started: float,
    ) -> DecisionRecord:
        features = decision.extra.get("features")
        return DecisionRecord(
            id=duel_id,
            created_at=started,
            conversation_id=decision.conversation_id,
            agent_no=decision.agent_no,
            call_kind=decision.call_kind,
            strategy=DUEL_STRATEGY,
            chosen_tier=strong_tier,
            chosen_model=strong.model,
            configured_model=decision.configured_model,
            score=decision.score,
            reason=f"duel of {decision.id}: {verdict.judged_by}: {verdict.detail}",
            applied=False,
            extra={
                "duel_of": decision.id,
                "features": dict(features) if isinstance(features, Mapping) else {},
                "model_version": decision.extra.get("model_version"),
                "cheap": _answer_dict(cheap, decision.chosen_tier),
                "strong": _answer_dict(strong, strong_tier),
                "verdict": {
                    "cheap_ok": verdict.cheap_ok,
                    "strong_ok": verdict.strong_ok,
                    "judged_by": verdict.judged_by,
                    "detail": verdict.detail,
                },
                "gain": verdict.gain,
                "benefit": verdict.benefit,
            },
        )

    def _submit(
        self,
        record: DecisionRecord,
        strong: DuelAnswer,
        strong_tier: str,
        duel_id: str,
        started: float,
    ) -> None:
        if self.sink is None:
            return
        self.sink.submit_decision(record)
        if strong.model:
            self.sink.submit(
                CallRecord(
                    id=new_id(),
                    started_at=started,
                    model=strong.model,
                    call_kind="duel",
                    conversation_id=record.conversation_id,
                    agent_no=record.agent_no,
                    decision_id=duel_id,
                    tier=strong_tier,
                    ended_at=time.time(),
                    outcome=Outcome.OK if strong.error is None else Outcome.ERROR,
                    error_message=strong.error,
                    cost_usd=strong.cost_usd,
                )
            )


def _answer_dict(answer: DuelAnswer, tier: str | None) -> dict[str, Any]:
    return {
        "tier": tier,
        "model": answer.model,
        "chars": len(answer.text),
        "tool_call_parsed": answer.tool_call_parsed,
        "tool_succeeded": answer.tool_succeeded,
        "cost_usd": answer.cost_usd,
        "error": answer.error,
    }
