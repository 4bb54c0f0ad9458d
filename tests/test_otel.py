"""OpenTelemetry export: one GenAI span per recorded call, built and exported off the hot path."""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Any

import pytest
from opentelemetry.sdk.trace.export import SpanExporter, SpanExportResult
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind, StatusCode

from agent_routing.config import Settings
from agent_routing.otel import OTelSink, tracer_provider
from agent_routing.records import CallRecord, Outcome, Usage, UsageSource

T0 = 1_780_000_000.0


class ListSink:
    """A CallSink keeping what it was given (stands for the ledger writer)."""

    def __init__(self) -> None:
        self.records: list[CallRecord] = []

    def submit(self, record: CallRecord) -> None:
        self.records.append(record)

    def submit_decision(self, decision: Any) -> None:
        pass

    def submit_signal(self, signal: Any) -> None:
        pass

    def flush(self, timeout: float | None = None) -> bool:
        return True


def finished(call_id: str = "c1", **fields: Any) -> CallRecord:
    values: dict[str, Any] = {
        "model": "gpt-4o-mini",
        "provider": "openai",
        "call_kind": "chat",
        "conversation_id": "ctx-1",
        "agent_no": 1,
        "tool": "code_execution",
        "decision_id": "dec-1",
        "tier": "cheap",
        "outcome": Outcome.OK,
        "ended_at": T0 + 1.5,
        "latency_ms": 1500.0,
        "usage": Usage(1200, 300, cached_read_tokens=200),
        "usage_source": UsageSource.PROVIDER,
        "cost_usd": 0.00042,
    }
    values.update(fields)
    return CallRecord(id=call_id, started_at=T0, **values)


def test_a_finished_call_becomes_one_genai_span() -> None:
    """The span carries the GenAI conventions, the cost with its source and the routing
    attributes; the record still reaches the ledger sink; pending and repeated events of
    the same call add no span."""
    exporter = InMemorySpanExporter()
    inner = ListSink()
    sink = OTelSink(inner, tracer_provider(exporter))
    sink.submit(finished(outcome=Outcome.PENDING, usage=Usage(1200), cost_usd=None))
    sink.submit(finished())
    sink.submit(finished())  # the provider's late callback: same call, no second span
    assert sink.flush_spans(10)
    assert len(inner.records) == 3
    (span,) = exporter.get_finished_spans()
    assert span.name == "chat gpt-4o-mini"
    assert span.kind is SpanKind.CLIENT
    assert (span.start_time, span.end_time) == (int(T0 * 1e9), int((T0 + 1.5) * 1e9))
    attributes = dict(span.attributes or {})
    assert attributes == {
        "gen_ai.operation.name": "chat",
        "gen_ai.request.model": "gpt-4o-mini",
        "gen_ai.provider.name": "openai",
        "gen_ai.usage.input_tokens": 1200,
        "gen_ai.usage.output_tokens": 300,
        "gen_ai.usage.cache_read.input_tokens": 200,
        "gen_ai.conversation.id": "ctx-1",
        "gen_ai.agent.name": "A1",
        "gen_ai.usage.cost.amount": 0.00042,
        "gen_ai.usage.cost.currency": "USD",
        "gen_ai.usage.cost.source": "provider",
        "agent_routing.tier": "cheap",
        "agent_routing.decision_id": "dec-1",
        "agent_routing.tool": "code_execution",
        "agent_routing.call_kind": "chat",
        "agent_routing.outcome": "ok",
        "agent_routing.attempt": 0,
        "agent_routing.call_id": "c1",
    }
    sink.shutdown()


def test_errors_embeddings_and_unpriced_calls() -> None:
    """An error sets error.type and status ERROR; an embedding is `embeddings`; an
    estimated cost says so; an unpriced call has no cost amount."""
    exporter = InMemorySpanExporter()
    sink = OTelSink(ListSink(), tracer_provider(exporter))
    sink.submit(
        finished("e", outcome=Outcome.RATE_LIMITED, error_class="RateLimitError", cost_usd=None)
    )
    sink.submit(finished("m", call_kind="embedding", usage_source=UsageSource.ESTIMATED))
    sink.submit(finished("u", model="my-local", cost_usd=None))
    assert sink.flush_spans(10)
    spans = {
        span.attributes["agent_routing.call_id"]: span for span in exporter.get_finished_spans()
    }
    assert spans["e"].status.status_code is StatusCode.ERROR
    assert spans["e"].attributes["error.type"] == "RateLimitError"
    assert spans["m"].name == "embeddings gpt-4o-mini"
    assert spans["m"].attributes["gen_ai.usage.cost.source"] == "estimated"
    assert "gen_ai.usage.cost.amount" not in spans["u"].attributes
    sink.shutdown()


class BlockedExporter(SpanExporter):
    """An exporter stuck until released (an unreachable collector)."""

    def __init__(self) -> None:
        self.release = threading.Event()
        self.exported = 0

    def export(self, spans: Any) -> SpanExportResult:
        self.release.wait(30)
        self.exported += len(spans)
        return SpanExportResult.SUCCESS

    def shutdown(self) -> None:
        self.release.set()


def test_a_stuck_exporter_never_blocks_submit() -> None:
    """With the exporter hung, 2,000 submits all return and every record reaches the
    ledger sink before a single span is exported; released, every span goes out."""
    exporter = BlockedExporter()
    inner = ListSink()
    sink = OTelSink(inner, tracer_provider(exporter))
    for index in range(2000):
        sink.submit(finished(f"c{index}"))
    assert len(inner.records) == 2000
    assert exporter.exported == 0
    exporter.release.set()
    assert sink.flush_spans(30)
    deadline = time.monotonic() + 30
    while exporter.exported < 2000 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert exporter.exported == 2000
    sink.shutdown()


def test_capture_wraps_the_writer_only_when_enabled(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Off by default; `otel.enabled: true` wraps the ledger writer, exporting to the
    endpoint named by OTEL_EXPORTER_OTLP_TRACES_ENDPOINT."""
    from agent_routing.capture import enable_capture

    monkeypatch.setenv("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "http://127.0.0.1:9/v1/traces")
    assert Settings().otel.enabled is False
    handle = enable_capture(tmp_path / "a.db", settings=Settings())
    try:
        assert not isinstance(handle.sink, OTelSink)
    finally:
        handle.close()
    handle = enable_capture(tmp_path / "b.db", settings=Settings(otel={"enabled": True}))
    try:
        assert isinstance(handle.sink, OTelSink)
        processor = handle.sink.provider._active_span_processor._span_processors[0]
        assert processor._batch_processor._exporter._endpoint == "http://127.0.0.1:9/v1/traces"
    finally:
        sink = handle.sink
        handle.close()
        if isinstance(sink, OTelSink):
            sink.shutdown()
