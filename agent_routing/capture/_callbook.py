"""The call book: merges the events of each call into one `CallRecord` and submits it.

Single-threaded by design - only the capture thread (:mod:`agent_routing.capture._recorder`)
calls it, so it takes no lock. For each call it keeps the merged view of everything seen
and submits a full snapshot to the sink whenever it changes; the ledger upserts by id, so
a call is always exactly one row.

Lifecycle of a row:

- **opened** (litellm's pre-call hook or `begin_call`): outcome PENDING, input tokens
  counted from the exact messages sent, cost of that input;
- **reported** (`end_call`): OK or the error's outcome; output counted from the response
  text; usage *estimated*;
- **succeeded / failed** (litellm callbacks, before or after the report): provider usage
  and outcome win over estimates and over the caller's report;
- **abandoned**: a row still PENDING `capture.abandoned_after_s` after it opened (sweep),
  or when capture closes (process exit), or when a retry of the same call starts: outcome
  ABANDONED, input as counted, output estimated from streamed text seen (sync streams) or 0.

A failed call bills nothing (providers do not charge refused requests): its usage is zero
unless the caller reports text that was already streamed. A new litellm attempt under an
injected call id that already has one (Agent Zero retries a failed request with the same
kwargs) becomes its own row, `attempt` n, with `extra["logical_call_id"]`: announced by
litellm's pre-call hook, or, for calls that have none (the Responses API), by a success or
failure callback under a new litellm call id after litellm already ended the row. A routed call's
fallback hops are calls of their own; their hop number comes in the attribution
(`capture_metadata(attempt=n)` / `begin_call(attempt=n)`) and a row keeps the largest
attempt it was given.

Prices are re-selected at every snapshot from the row's current usage: a model with
tiered prices (litellm's `..._above_200k_tokens` keys) is priced at the tier its prompt
size falls in, and provider usage that moves the prompt across a threshold moves the
row's prices with it.
"""

from __future__ import annotations

import dataclasses
import datetime
import logging
import time
from dataclasses import dataclass, field
from typing import Any

from agent_routing import events
from agent_routing.capture._events import Event, Failed, Opened, Reported, StreamDelta, Succeeded
from agent_routing.capture._metadata import Attribution, attribution_from
from agent_routing.capture.usage import (
    error_summary,
    outcome_of,
    response_text,
    usage_from_litellm,
)
from agent_routing.config import CallKind, Settings
from agent_routing.errors import ConfigError
from agent_routing.ids import new_id
from agent_routing.pricing import cost_usd, provider_of, unit_prices
from agent_routing.protocols import CallSink
from agent_routing.records import CallRecord, Outcome, Usage, UsageSource
from agent_routing.tokens import count_message_tokens, count_text_tokens

log = logging.getLogger(__name__)

MAX_STREAMED_CHARS = 1_000_000  # per call; beyond this the estimate stops growing
MAX_TRACKED_CALLS = 50_000


@dataclass(slots=True)
class CaptureStats:
    """Counters for `doctor`, tests and debugging."""

    events: int = 0
    submitted: int = 0
    hook_errors: int = 0
    worker_errors: int = 0
    sink_errors: int = 0
    unmatched_reports: int = 0
    abandoned: int = 0


@dataclass(slots=True)
class _Call:
    record: CallRecord
    logical_id: str
    litellm_ids: set[str] = field(default_factory=set)
    input_estimate: int | None = None
    streamed: list[str] = field(default_factory=list)
    streamed_chars: int = 0
    provider_usage: bool = False
    host_usage: bool = False  # the host handed over the provider's own counts (end_call)
    provider_cost: float | None = None  # the host's price for the call, if it had one
    provider_outcome: bool = False
    terminal_since: float | None = None


def _timestamp(value: Any) -> float | None:
    if isinstance(value, datetime.datetime):
        return value.timestamp()
    if isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    return None


def _qualified(model: str, provider: str | None) -> str:
    """`provider/model` as litellm resolves it (how Agent Zero names models too)."""
    if provider and not model.startswith(provider + "/"):
        return f"{provider}/{model}"
    return model


class CallBook:
    """The open and recently finished calls, and the rules that merge their events."""

    def __init__(self, settings: Settings, sink: CallSink, stats: CaptureStats) -> None:
        self.settings = settings
        self.sink = sink
        self.stats = stats
        self.abandoned_after_s = settings.capture.abandoned_after_s
        self._calls: dict[str, _Call] = {}
        self._by_litellm: dict[str, str] = {}
        self._by_logical: dict[str, str] = {}

    def apply(self, event: Event) -> None:
        """Merge one hook event into its call's row."""
        if isinstance(event, Opened):
            self._on_opened(event)
        elif isinstance(event, StreamDelta):
            self._on_stream_delta(event)
        elif isinstance(event, Succeeded):
            self._on_succeeded(event)
        elif isinstance(event, Failed):
            self._on_failed(event)
        elif isinstance(event, Reported):
            self._on_reported(event)

    def abandon_open(self, reason: str, at: float) -> int:
        """Close every PENDING call as ABANDONED (capture is closing); returns how many."""
        closed = 0
        for call in list(self._calls.values()):
            if call.record.outcome is Outcome.PENDING:
                self._abandon(call, reason, at)
                closed += 1
        return closed

    def sweep(self, now: float) -> int:
        """Abandon calls PENDING since `abandoned_after_s` before `now`, forget old ones."""
        closed = 0
        cutoff = now - self.abandoned_after_s
        for call in list(self._calls.values()):
            if call.record.outcome is Outcome.PENDING and call.record.started_at <= cutoff:
                self._abandon(call, "sweep", now)
                closed += 1
        self._evict(now)
        return closed

    # --- call table ---------------------------------------------------------------------

    def _find(self, litellm_call_id: str | None, key: str) -> _Call | None:
        row_id = self._by_litellm.get(litellm_call_id) if litellm_call_id else None
        if row_id is None:
            row_id = self._by_logical.get(key)
        return self._calls.get(row_id) if row_id is not None else None

    def _new_call(
        self, row_id: str, logical_id: str, model: str, provider: str | None, at: float
    ) -> _Call:
        record = CallRecord(id=row_id, started_at=at, model=model, provider=provider)
        call = _Call(record=record, logical_id=logical_id)
        self._calls[row_id] = call
        self._by_logical[logical_id] = row_id
        return call

    def _link(self, call: _Call, litellm_call_id: str | None) -> None:
        if litellm_call_id:
            call.litellm_ids.add(litellm_call_id)
            self._by_litellm[litellm_call_id] = call.record.id

    def _call_for(self, event: Succeeded | Failed) -> _Call:
        call = self._find(event.litellm_call_id, event.key)
        if (
            call is not None
            and event.litellm_call_id
            and call.litellm_ids
            and event.litellm_call_id not in call.litellm_ids
            and call.provider_outcome
        ):  # another attempt of a call litellm already ended, with no pre-call hook of its
            # own (the Responses API): its own row, as a retry announced by a pre-call is
            provider = event.provider or call.record.provider
            model = _qualified(event.model, provider) if event.model else call.record.model
            call = self._next_attempt(call, model, provider, _timestamp(event.start) or time.time())
        if call is None:
            provider = event.provider or None
            model = _qualified(event.model or "unknown", provider)
            start = _timestamp(event.start) or time.time()
            call = self._new_call(event.key, event.key, model, provider, start)
        self._link(call, event.litellm_call_id)
        self._attribute(call, event.fields)
        return call

    def _next_attempt(self, previous: _Call, model: str, provider: str | None, at: float) -> _Call:
        """A new row for the next attempt of `previous`'s logical call (a litellm retry)."""
        if previous.record.outcome is Outcome.PENDING:
            self._abandon(previous, "retry", at)
        call = self._new_call(new_id(), previous.logical_id, model, provider, at)
        call.record.attempt = previous.record.attempt + 1
        call.record.extra["logical_call_id"] = previous.logical_id
        self._attribute(call, self._attribution_of(previous))
        return call

    # --- events ---------------------------------------------------------------------------

    def _on_opened(self, event: Opened) -> None:
        if event.litellm_call_id and event.litellm_call_id in self._by_litellm:
            return  # the same attempt announced twice
        provider = event.provider or provider_of(event.model)
        model = _qualified(event.model, provider)
        call = self._calls.get(self._by_logical.get(event.key, ""))
        if call is None:
            call = self._new_call(event.key, event.key, model, provider, event.at)
        elif event.from_litellm and call.litellm_ids:  # a retry of the same logical call
            call = self._next_attempt(call, model, provider, event.at)
        elif not event.from_litellm:
            self._attribute(call, event.fields)  # begin_call after the pre-call: fill gaps
            self._note_savings(call, event)
            self._submit(call)
            return
        call.record.model, call.record.provider = model, provider
        if event.stream is not None:
            call.record.stream = bool(event.stream)
        self._link(call, event.litellm_call_id)
        self._attribute(call, event.fields)
        self._note_savings(call, event)
        if event.messages is not None:
            call.input_estimate = self._count_messages(event.messages, model)
        if not call.provider_usage:
            self._estimate(call, output_text="")
        self._submit(call)

    def _on_stream_delta(self, event: StreamDelta) -> None:
        call = self._find(event.litellm_call_id, event.key)
        if call is not None and call.streamed_chars < MAX_STREAMED_CHARS:
            call.streamed.append(event.text)
            call.streamed_chars += len(event.text)

    def _on_succeeded(self, event: Succeeded) -> None:
        call = self._call_for(event)
        record = call.record
        if event.call_type in {"embedding", "aembedding"}:  # whatever tool it ran in
            record.extra.setdefault("call_type", "embedding")
            record.call_kind = CallKind.EMBEDDING.value
        usage = usage_from_litellm(getattr(event.response, "usage", None), record.provider)
        if usage is not None and not call.host_usage:  # the host's count of it stays
            record.usage, record.usage_source = usage, UsageSource.PROVIDER
            call.provider_usage = True
        elif not call.provider_usage:
            self._estimate(call, output_text=response_text(event.response))
        record.outcome, record.error_class, record.error_message = Outcome.OK, None, None
        if event.stream is not None:
            record.stream = bool(event.stream)
        if isinstance(event.litellm_cost, int | float) and not isinstance(event.litellm_cost, bool):
            record.extra["litellm_cost_usd"] = float(event.litellm_cost)
        self._finish(call, _timestamp(event.start), _timestamp(event.end), provider=True)

    def _on_failed(self, event: Failed) -> None:
        call = self._call_for(event)
        if call.provider_outcome and call.record.outcome is Outcome.OK:
            return  # a failure reported after litellm already confirmed success
        record = call.record
        if event.error is not None:
            record.outcome = outcome_of(event.error)
            record.error_class, record.error_message = error_summary(event.error)
        else:
            record.outcome, record.error_class = Outcome.ERROR, "UnknownError"
        if not call.provider_usage:
            self._bill_nothing(call)
        self._finish(call, _timestamp(event.start), _timestamp(event.end), provider=True)

    def _on_reported(self, event: Reported) -> None:
        row_id = self._by_logical.get(event.key)
        call = self._calls.get(row_id) if row_id else None
        if call is None:
            self.stats.unmatched_reports += 1
            log.debug("end_call for unknown call %s (no begin_call, no litellm call)", event.key)
            return
        record = call.record
        text, reasoning = event.response_text or "", event.reasoning_text or ""
        if event.usage is not None:
            record.usage, record.usage_source = event.usage, UsageSource.PROVIDER
            call.provider_usage = call.host_usage = True
        if event.cost is not None:
            call.provider_cost = event.cost
            record.extra["provider_cost_usd"] = event.cost
        if not call.provider_outcome:
            if event.error is not None:
                record.outcome = outcome_of(event.error)
                record.error_class, record.error_message = error_summary(event.error)
            else:
                record.outcome, record.error_class, record.error_message = Outcome.OK, None, None
        if not call.provider_usage and not call.provider_outcome:  # litellm's word wins
            if event.error is not None and not (text or reasoning):
                self._bill_nothing(call)
            else:
                self._estimate(call, output_text=text, reasoning_text=reasoning)
        if call.provider_outcome:
            self._submit(call)
        else:
            self._finish(call, None, event.at, provider=False)

    # --- state changes --------------------------------------------------------------------

    def _finish(
        self, call: _Call, start: float | None, end: float | None, *, provider: bool
    ) -> None:
        record = call.record
        record.ended_at = end or time.time()
        began = start if start is not None and provider else record.started_at
        record.latency_ms = max(0.0, (record.ended_at - began) * 1000)
        call.provider_outcome = call.provider_outcome or provider
        call.terminal_since = time.time()
        self._submit(call)

    def _abandon(self, call: _Call, reason: str, at: float) -> None:
        call.record.outcome = Outcome.ABANDONED
        call.record.extra["closed_by"] = reason
        if not call.provider_usage:
            self._estimate(call, output_text="".join(call.streamed))
        call.terminal_since = at
        self.stats.abandoned += 1
        self._submit(call)

    def _evict(self, now: float) -> None:
        """Forget finished calls once a late success callback is no longer expected."""
        keep_after = now - max(self.abandoned_after_s, 60.0)
        finished = [c for c in self._calls.values() if c.terminal_since is not None]
        finished.sort(key=lambda c: c.terminal_since or 0.0)
        excess = len(self._calls) - MAX_TRACKED_CALLS
        for index, call in enumerate(finished):
            if index >= excess and (call.terminal_since or 0.0) > keep_after:
                break
            self._forget(call)

    def _forget(self, call: _Call) -> None:
        self._calls.pop(call.record.id, None)
        for litellm_call_id in call.litellm_ids:
            self._by_litellm.pop(litellm_call_id, None)
        if self._by_logical.get(call.logical_id) == call.record.id:
            del self._by_logical[call.logical_id]

    def _attribute(self, call: _Call, fields: Any) -> None:
        found = fields if isinstance(fields, Attribution) else attribution_from(fields)
        record = call.record
        if found.kind and record.call_kind == "other":
            record.call_kind = found.kind
        for name in (
            "conversation_id",
            "agent_no",
            "tool",
            "decision_id",
            "tier",
            "reservation_id",
        ):
            value = getattr(found, name)
            if value is not None and getattr(record, name) is None:
                setattr(record, name, value)
        if found.attempt is not None and found.attempt > record.attempt:
            record.attempt = found.attempt  # the ledger keeps the largest too

    @staticmethod
    def _note_savings(call: _Call, event: Opened) -> None:
        """Compression savings given to `begin_call` go on the row (never cleared later)."""
        if event.tokens_saved is not None:
            call.record.tokens_saved = event.tokens_saved
        if event.usd_saved is not None:
            call.record.usd_saved = event.usd_saved

    @staticmethod
    def _attribution_of(call: _Call) -> Attribution:
        r = call.record
        return Attribution(
            conversation_id=r.conversation_id,
            agent_no=r.agent_no,
            kind=r.call_kind,
            tool=r.tool,
            decision_id=r.decision_id,
            tier=r.tier,
            reservation_id=r.reservation_id,
        )

    def _estimate(self, call: _Call, *, output_text: str, reasoning_text: str = "") -> None:
        model = call.record.model
        reasoning = self._count_text(reasoning_text, model)
        usage = Usage(
            input_tokens=call.input_estimate or 0,
            output_tokens=self._count_text(output_text, model) + reasoning,
            reasoning_tokens=reasoning,
        )
        call.record.usage, call.record.usage_source = usage, UsageSource.ESTIMATED

    def _bill_nothing(self, call: _Call) -> None:
        if call.input_estimate is not None:
            call.record.extra["input_tokens_estimate"] = call.input_estimate
        call.record.usage, call.record.usage_source = Usage(), UsageSource.ESTIMATED

    def _price(self, call: _Call) -> None:
        """Price the row's current usage at the tier its prompt size falls in (cached
        lookups: this runs at every snapshot, so a provider usage that crosses a tiered
        threshold re-prices the row). A price the host gave for the call wins."""
        record = call.record
        self._price_from_table(record)
        if call.provider_cost is not None:
            record.cost_usd = call.provider_cost

    def _price_from_table(self, record: CallRecord) -> None:
        prompt = record.usage.input_tokens if record.usage is not None else None
        try:
            record.prices = unit_prices(record.model, self.settings.prices, input_tokens=prompt)
        except ConfigError:
            record.prices = None
        if record.prices is None or record.usage is None:
            record.cost_usd = None
            if record.usage is not None:
                what = f"{record.model} has no price: its calls are recorded without a cost"
                events.publish(events.Event("unpriced", what, record.conversation_id, record.model))
            return
        try:
            record.cost_usd = cost_usd(record.usage, record.prices)
        except ConfigError as error:
            record.cost_usd = None
            record.extra["usage_error"] = str(error)

    def _submit(self, call: _Call) -> None:
        self._price(call)
        snapshot = dataclasses.replace(call.record, extra=dict(call.record.extra))
        try:
            self.sink.submit(snapshot)
            self.stats.submitted += 1
        except Exception:
            self.stats.sink_errors += 1
            log.exception("agent-routing capture sink refused call %s", snapshot.id)

    @staticmethod
    def _count_messages(messages: list[Any], model: str) -> int:
        try:
            return count_message_tokens(messages, model)
        except Exception:  # odd message objects: count their text rather than lose the call
            return count_text_tokens(" ".join(str(message) for message in messages), model)

    @staticmethod
    def _count_text(text: str, model: str) -> int:
        return count_text_tokens(text, model) if text else 0
