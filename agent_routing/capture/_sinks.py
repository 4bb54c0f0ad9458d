"""An in-memory `CallSink`, for tests and for inspecting what capture records.

Not durable and not the default: `enable_capture` writes to the ledger. Capture submits a
complete snapshot of a call every time it changes, so keeping the latest snapshot per id
(last write wins) gives the same rows the ledger's upsert-merge would.
"""

from __future__ import annotations

import threading

from agent_routing.records import CallRecord, DecisionRecord, OutcomeSignal


class MemorySink:
    """Keeps the latest record per call id, plus every submission in order."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._calls: dict[str, CallRecord] = {}
        self.submissions: list[CallRecord] = []
        self.decisions: list[DecisionRecord] = []
        self.signals: list[OutcomeSignal] = []

    def submit(self, record: CallRecord) -> None:
        """Store `record` as the current row of its id."""
        with self._lock:
            self._calls[record.id] = record
            self.submissions.append(record)

    def submit_decision(self, decision: DecisionRecord) -> None:
        """Keep a routing decision."""
        with self._lock:
            self.decisions.append(decision)

    def submit_signal(self, signal: OutcomeSignal) -> None:
        """Keep an outcome signal."""
        with self._lock:
            self.signals.append(signal)

    def flush(self, timeout: float | None = None) -> bool:
        """Nothing is buffered here: always True."""
        return True

    def get(self, call_id: str) -> CallRecord | None:
        """The current row of `call_id`, or None."""
        with self._lock:
            return self._calls.get(call_id)

    def calls(self) -> list[CallRecord]:
        """Every current row, oldest first."""
        with self._lock:
            return sorted(self._calls.values(), key=lambda record: (record.started_at, record.id))
