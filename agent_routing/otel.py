"""OpenTelemetry export: every recorded call can also become an OTLP span (optional extra).

`pip install "agent-routing[otel]"` and set `otel.enabled: true` (or
`AGENT_ROUTING__OTEL__ENABLED=true`); the exporter is configured by the standard
`OTEL_EXPORTER_OTLP_*` variables (`OTEL_EXPORTER_OTLP_ENDPOINT`,
`OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`, `OTEL_EXPORTER_OTLP_HEADERS`, ...) and the service
by `OTEL_SERVICE_NAME` (default `agent-routing`). Off by default.

A span follows the GenAI semantic conventions:

* name `"{gen_ai.operation.name} {gen_ai.request.model}"`, kind CLIENT, from the call's
  start to its end;
* `gen_ai.operation.name` (`chat`, or `embeddings` for embedding calls),
  `gen_ai.request.model`, `gen_ai.provider.name`, `gen_ai.usage.input_tokens`,
  `gen_ai.usage.output_tokens`, `gen_ai.usage.cache_read.input_tokens`,
  `gen_ai.conversation.id`, `gen_ai.agent.name` (Agent Zero's `A0`, `A1`, ...);
* the cost: `gen_ai.usage.cost.amount` (USD), `gen_ai.usage.cost.currency` (`USD`) and
  `gen_ai.usage.cost.source` (`provider` when the provider reported the usage, else
  `estimated`); an unpriced call has no amount;
* routing: `agent_routing.tier`, `agent_routing.decision_id`, `agent_routing.tool`,
  `agent_routing.call_kind`, `agent_routing.outcome`, `agent_routing.attempt`; an error
  outcome sets `error.type` and the span status ERROR.

**Never blocking the agent.** :class:`OTelSink` wraps the ledger writer: `submit()` hands
the record to the writer and puts it on a queue (no I/O, no span work); a daemon thread
builds the spans, and the SDK's batch processor exports them from its own thread. One
span per call, at its first event with a final outcome; an exporter that fails or hangs
costs only its own thread (the SDK logs and drops what it cannot send).
"""

from __future__ import annotations

import logging
import os
import queue
import threading
from collections import OrderedDict
from typing import Any

from agent_routing.protocols import CallSink
from agent_routing.records import (
    ERROR_OUTCOMES,
    CallRecord,
    DecisionRecord,
    Outcome,
    OutcomeSignal,
    UsageSource,
)

logger = logging.getLogger("agent_routing.otel")

_SEEN_MAX = 100_000
_STOP = object()


def span_attributes(record: CallRecord) -> dict[str, Any]:
    """The span attributes of one call (GenAI conventions, cost, routing)."""
    operation = "embeddings" if str(record.call_kind) == "embedding" else "chat"
    attributes: dict[str, Any] = {
        "gen_ai.operation.name": operation,
        "gen_ai.request.model": record.model,
        "agent_routing.call_kind": str(record.call_kind),
        "agent_routing.outcome": Outcome(record.outcome).value,
        "agent_routing.attempt": record.attempt,
        "agent_routing.call_id": record.id,
    }
    optional = {
        "gen_ai.provider.name": record.provider,
        "gen_ai.conversation.id": record.conversation_id,
        "gen_ai.agent.name": None if record.agent_no is None else f"A{record.agent_no}",
        "agent_routing.tier": record.tier,
        "agent_routing.decision_id": record.decision_id,
        "agent_routing.tool": record.tool,
    }
    attributes.update({key: value for key, value in optional.items() if value is not None})
    if record.usage is not None:
        attributes["gen_ai.usage.input_tokens"] = record.usage.input_tokens
        attributes["gen_ai.usage.output_tokens"] = record.usage.output_tokens
        attributes["gen_ai.usage.cache_read.input_tokens"] = record.usage.cached_read_tokens
    source = "provider" if record.usage_source == UsageSource.PROVIDER else "estimated"
    if record.cost_usd is not None:
        attributes["gen_ai.usage.cost.amount"] = record.cost_usd
        attributes["gen_ai.usage.cost.currency"] = "USD"
        attributes["gen_ai.usage.cost.source"] = source
    if record.outcome in ERROR_OUTCOMES:
        attributes["error.type"] = record.error_class or Outcome(record.outcome).value
    return attributes


def default_tracer_provider() -> Any:
    """A tracer provider exporting over OTLP/HTTP, configured by `OTEL_EXPORTER_OTLP_*`."""
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

    return tracer_provider(OTLPSpanExporter())


def tracer_provider(exporter: Any) -> Any:
    """A tracer provider sending spans to `exporter` from a batch processor's thread."""
    from opentelemetry.sdk.resources import SERVICE_NAME, Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor

    service = os.environ.get("OTEL_SERVICE_NAME") or "agent-routing"
    provider = TracerProvider(resource=Resource.create({SERVICE_NAME: service}))
    provider.add_span_processor(BatchSpanProcessor(exporter))
    return provider


class OTelSink:
    """A :class:`~agent_routing.protocols.CallSink` that passes every record to `inner`
    (the ledger writer) and emits one span per finished call, off the caller's thread."""

    def __init__(self, inner: CallSink, provider: Any | None = None) -> None:
        self.inner = inner
        self.provider = provider if provider is not None else default_tracer_provider()
        self._tracer = self.provider.get_tracer("agent_routing")
        self._queue: queue.SimpleQueue[Any] = queue.SimpleQueue()
        self._seen: OrderedDict[str, None] = OrderedDict()
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._pending = 0
        self._done = threading.Condition()
        self.emitted = 0
        self.failed = 0

    # --- the hot path: as cheap as the writer's own submit ------------------------------

    def submit(self, record: CallRecord) -> None:
        """Record the call (writer), then queue it for a span if it has finished."""
        self.inner.submit(record)
        if record.outcome == Outcome.PENDING:
            return
        with self._lock:
            if record.id in self._seen:
                return
            self._seen[record.id] = None
            if len(self._seen) > _SEEN_MAX:
                self._seen.popitem(last=False)
            self._pending += 1
            self._queue.put(record)
            if self._thread is None:
                self._thread = threading.Thread(
                    target=self._run, name="agent-routing-otel", daemon=True
                )
                self._thread.start()

    def submit_decision(self, decision: DecisionRecord) -> None:
        """Routing decisions go to the ledger only."""
        self.inner.submit_decision(decision)

    def submit_signal(self, signal: OutcomeSignal) -> None:
        """Outcome signals go to the ledger only."""
        self.inner.submit_signal(signal)

    def flush(self, timeout: float | None = None) -> bool:
        """The ledger's flush (the acknowledgement); spans are exported in the background
        (see :meth:`flush_spans`)."""
        return self.inner.flush(timeout)

    # --- background ---------------------------------------------------------------------

    def flush_spans(self, timeout: float = 10.0) -> bool:
        """Wait until every queued call is a span and the exporter was handed the spans."""
        with self._done:
            if not self._done.wait_for(lambda: self._pending == 0, timeout=timeout):
                return False
        return bool(self.provider.force_flush(int(timeout * 1000)))

    def shutdown(self) -> None:
        """Stop the span thread and the provider (exporting what is left)."""
        self._queue.put(_STOP)
        self.provider.shutdown()

    def _run(self) -> None:
        while True:
            record = self._queue.get()
            if record is _STOP:
                return
            try:
                self._emit(record)
                self.emitted += 1
            except Exception:  # a bad record or SDK error must not stop the thread
                self.failed += 1
                logger.exception("otel: cannot emit a span for call %s", record.id)
            with self._done:
                self._pending -= 1
                self._done.notify_all()

    def _emit(self, record: CallRecord) -> None:
        from opentelemetry.trace import SpanKind, Status, StatusCode

        start_ns = int(record.started_at * 1e9)
        end = record.ended_at
        if end is None and record.latency_ms is not None:
            end = record.started_at + record.latency_ms / 1000
        end_ns = max(start_ns, int((end if end is not None else record.started_at) * 1e9))
        attributes = span_attributes(record)
        name = f"{attributes['gen_ai.operation.name']} {record.model}"
        span = self._tracer.start_span(
            name, kind=SpanKind.CLIENT, attributes=attributes, start_time=start_ns
        )
        if record.outcome in ERROR_OUTCOMES:
            span.set_status(Status(StatusCode.ERROR, record.error_message or None))
        span.end(end_time=end_ns)


def wrap_sink(sink: CallSink, enabled: bool) -> CallSink:
    """`sink` wrapped in an :class:`OTelSink` when enabled; the extra missing is logged
    once and the calls are still recorded (export is optional, the ledger is not)."""
    if not enabled:
        return sink
    try:
        return OTelSink(sink)
    except ImportError as error:
        logger.warning(
            "otel.enabled: the OpenTelemetry SDK is not installed (pip install "
            '"agent-routing[otel]"): %s; calls are recorded without export',
            error,
        )
        return sink
