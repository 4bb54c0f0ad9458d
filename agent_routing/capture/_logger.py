"""The litellm callback: hooks that only hand raw material to the capture worker.

litellm calls these on the caller's event loop or its own logging threads, and swallows
what they raise (losing the event silently), so each hook copies a few references and a
timestamp into an event, puts it on the worker's queue and returns - no parsing, no token
counting, no I/O - and never raises.

litellm 1.79.3 facts this relies on (tests pin each one):

- hooks are called with keyword arguments, so parameter names must be exactly litellm's;
- `log_pre_api_call` fires for every completion before the request (not for embeddings,
  not for `aresponses`);
- every callback runs in a copy of the caller's `contextvars` context (thread pool and
  logging worker alike), so a call without our metadata is attributed from
  :mod:`agent_routing.capture.scope`;
- the success / failure callbacks carry the same `litellm_call_id` and `metadata`;
- a stream the caller stops reading gets no success or failure callback at all;
- the per-chunk hook fires only for *sync* streams (`log_stream_event`; the async variant
  fires alongside it for the same chunk, so only the sync one is used).

The logger class is built on first use (litellm must not load at import) by combining
:class:`CaptureHooks` with litellm's `CustomLogger`; it is recognised in
`litellm.callbacks` by the :data:`MARKER` attribute, not by class identity, so a reloaded
copy of this module still finds the logger an older copy registered.
"""

from __future__ import annotations

import functools
import importlib
import logging
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from agent_routing.capture._events import Failed, Opened, StreamDelta, Succeeded
from agent_routing.capture._metadata import METADATA_KEY
from agent_routing.capture.scope import scope_fields
from agent_routing.ids import new_id

if TYPE_CHECKING:
    from agent_routing.capture._recorder import CaptureRecorder

log = logging.getLogger(__name__)

MARKER = "_agent_routing_capture"

# litellm's lists a CustomLogger in `litellm.callbacks` is copied into on every call.
CALLBACK_LISTS = (
    "callbacks",
    "input_callback",
    "success_callback",
    "failure_callback",
    "_async_success_callback",
    "_async_failure_callback",
)


def _ids(kwargs: dict[str, Any]) -> tuple[str, str | None, Any]:
    """(row key, litellm_call_id, raw attribution fields) of a callback's kwargs."""
    params = kwargs.get("litellm_params") or {}
    metadata = params.get("metadata")
    fields = metadata.get(METADATA_KEY) if isinstance(metadata, dict) else None
    if not isinstance(fields, dict):
        fields = scope_fields()  # the caller's context: chat, agent, tool (and call id)
    litellm_call_id = kwargs.get("litellm_call_id") or params.get("litellm_call_id")
    call_id = fields.get("call_id") if isinstance(fields, dict) else None
    return call_id or litellm_call_id or new_id(), litellm_call_id, fields


class CaptureHooks:
    """The hook bodies; mixed in front of litellm's `CustomLogger` by :func:`make_logger`."""

    _agent_routing_capture = True  # MARKER

    def __init__(self, recorder: CaptureRecorder, db_path: Path | None = None) -> None:
        super().__init__()
        self.recorder = recorder
        self.db_path = db_path  # the ledger it writes to, reported by a later enable_capture

    def _failed_hook(self) -> None:
        self.recorder.stats.hook_errors += 1
        log.debug("agent-routing capture hook failed", exc_info=True)

    def log_pre_api_call(self, model: Any, messages: Any, kwargs: dict[str, Any]) -> None:
        """A completion is about to be sent: open its row (PENDING, exact messages)."""
        try:
            key, litellm_call_id, fields = _ids(kwargs)
            self.recorder.post(
                Opened(
                    key,
                    litellm_call_id,
                    str(kwargs.get("model") or model),
                    kwargs.get("custom_llm_provider"),
                    list(messages) if isinstance(messages, list) else None,
                    fields,
                    kwargs.get("stream"),
                    time.time(),
                    True,
                )
            )
        except Exception:
            self._failed_hook()

    def log_stream_event(
        self, kwargs: dict[str, Any], response_obj: Any, start_time: Any, end_time: Any
    ) -> None:
        """One chunk of a sync stream: keep its text for an estimate if the stream is dropped."""
        try:
            text = response_obj.choices[0].delta.content
            if text:
                key, litellm_call_id, _ = _ids(kwargs)
                self.recorder.post(StreamDelta(key, litellm_call_id, text))
        except Exception:
            self._failed_hook()

    async def async_log_stream_event(
        self, kwargs: dict[str, Any], response_obj: Any, start_time: Any, end_time: Any
    ) -> None:
        """Ignored: litellm fires it next to `log_stream_event` for the same chunk."""

    def log_success_event(
        self, kwargs: dict[str, Any], response_obj: Any, start_time: Any, end_time: Any
    ) -> None:
        """A call completed (sync path, and every embedding in Agent Zero)."""
        self._succeeded(kwargs, response_obj, start_time, end_time)

    async def async_log_success_event(
        self, kwargs: dict[str, Any], response_obj: Any, start_time: Any, end_time: Any
    ) -> None:
        """A call completed (async path)."""
        self._succeeded(kwargs, response_obj, start_time, end_time)

    def log_failure_event(
        self, kwargs: dict[str, Any], response_obj: Any, start_time: Any, end_time: Any
    ) -> None:
        """A call raised (sync path)."""
        self._failed(kwargs, start_time, end_time)

    async def async_log_failure_event(
        self, kwargs: dict[str, Any], response_obj: Any, start_time: Any, end_time: Any
    ) -> None:
        """A call raised (async path)."""
        self._failed(kwargs, start_time, end_time)

    def _succeeded(self, kwargs: dict[str, Any], response: Any, start: Any, end: Any) -> None:
        try:
            key, litellm_call_id, fields = _ids(kwargs)
            self.recorder.post(
                Succeeded(
                    key,
                    litellm_call_id,
                    str(kwargs.get("model") or ""),
                    kwargs.get("custom_llm_provider"),
                    fields,
                    response,
                    start,
                    end,
                    kwargs.get("call_type"),
                    kwargs.get("stream"),
                    kwargs.get("response_cost"),
                )
            )
        except Exception:
            self._failed_hook()

    def _failed(self, kwargs: dict[str, Any], start: Any, end: Any) -> None:
        try:
            key, litellm_call_id, fields = _ids(kwargs)
            error = kwargs.get("exception")
            self.recorder.post(
                Failed(
                    key,
                    litellm_call_id,
                    str(kwargs.get("model") or ""),
                    kwargs.get("custom_llm_provider"),
                    fields,
                    error if isinstance(error, BaseException) else None,
                    start,
                    end,
                )
            )
        except Exception:
            self._failed_hook()


@functools.cache
def logger_class() -> type:
    """`CaptureHooks` + litellm's `CustomLogger` (litellm dispatches on isinstance)."""
    from agent_routing._litellm import litellm_module

    litellm_module()
    custom_logger = importlib.import_module("litellm.integrations.custom_logger").CustomLogger
    return type("AgentRoutingCaptureLogger", (CaptureHooks, custom_logger), {})


def make_logger(recorder: CaptureRecorder, db_path: Path | None = None) -> CaptureHooks:
    """A new logger instance that feeds `recorder`."""
    logger: CaptureHooks = logger_class()(recorder, db_path)
    return logger


def find_logger(litellm: Any) -> Any | None:
    """The capture logger already registered with `litellm` (any copy of this module)."""
    for name in CALLBACK_LISTS:
        for callback in getattr(litellm, name, None) or ():
            if getattr(callback, MARKER, False) is True:
                return callback
    return None


def unregister(litellm: Any, logger: Any) -> None:
    """Remove `logger` from every litellm callback list it was copied into."""
    for name in CALLBACK_LISTS:
        callbacks = getattr(litellm, name, None)
        if isinstance(callbacks, list):
            callbacks[:] = [callback for callback in callbacks if callback is not logger]
