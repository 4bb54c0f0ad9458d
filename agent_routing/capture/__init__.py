"""Capture: record every litellm completion and embedding call of the process.

Agent Zero never sees provider usage, stops reading most streams before their end (so
litellm fires no success callback for them) and makes utility calls in background tasks
whose callbacks may never arrive. So a row is opened at litellm's pre-call hook (exact
input), closed by the caller's end report (estimated output), upgraded by any provider
callback that does arrive, and closed as abandoned if nothing ever completes it.
See :mod:`agent_routing.capture._callbook` for the row lifecycle.

Public API::

    handle = enable_capture()                 # once per process; idempotent
    metadata = capture_metadata(kind="utility", conversation_id=ctx_id)
    await litellm.acompletion(..., metadata={**existing, **metadata})
    end_call(call_id_of(metadata), response_text=text)

Importing this package does not import litellm. Public modules besides this one: `scope`
(the call scope the host puts in force) and `usage` (provider usage and cost of a litellm
response). The `_*` modules are internal: `_api` (enable/begin/end), `_metadata`,
`_logger` (the litellm callback), `_events`, `_recorder` (the capture thread), `_callbook`
(row lifecycle), `_drain` and `_sinks`.
"""

from __future__ import annotations

from agent_routing.capture._api import CaptureHandle, begin_call, enable_capture, end_call
from agent_routing.capture._metadata import METADATA_KEY, call_id_of, capture_metadata
from agent_routing.capture._sinks import MemorySink

__all__ = [
    "METADATA_KEY",
    "CaptureHandle",
    "MemorySink",
    "begin_call",
    "call_id_of",
    "capture_metadata",
    "enable_capture",
    "end_call",
]
