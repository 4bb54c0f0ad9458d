"""The cost API behind `/api/plugins/agent_routing/<handler>` (the handler files are thin).

- `costs` (GET): totals and a breakdown `by` model | conversation | tool | kind | tier | day,
  for `since` / `until` (ISO dates or datetimes) in `tz` - the same report as
  `agent-routing costs`;
- `chat_costs` (GET): one chat's (`context`) calls summed by model, its routing decisions
  and the calls themselves;
- `budget` (GET): every budget and its spend (`context` adds the chat's conversation
  budgets); (POST): store a budget (`scope`, `limit_usd`, `enforcement`, `model`,
  `alert_thresholds`), or remove one with `{"remove": "<scope>:<model or *>"}`.

Input is validated before anything is read: an unknown parameter or a bad value gives a 400
with the field named. Nothing builds SQL from input (the ledger binds every value). Each
request opens its own ledger connection and closes it: the host may serve requests on
short-lived event loops, and a connection must not outlive its loop.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from agent_routing.errors import AgentRoutingError, ConfigError
from agent_routing.host._runtime import PluginRuntime, get_runtime

if TYPE_CHECKING:
    from agent_routing.ledger import Ledger

logger = logging.getLogger("agent_routing.host")

COSTS_PARAMS = frozenset({"by", "since", "until", "tz", "top"})
CHAT_PARAMS = frozenset({"context", "by", "limit"})
BUDGET_GET_PARAMS = frozenset({"context"})
MAX_CHAT_CALLS = 500


@dataclass(frozen=True, slots=True)
class ApiResult:
    """An HTTP status and a JSON-ready payload."""

    status: int
    payload: dict[str, Any]


def bad_request(error: ConfigError) -> ApiResult:
    """A 400 naming every bad field."""
    problems = [{"field": field, "message": message} for field, message in error.problems]
    return ApiResult(400, {"error": str(error), "problems": problems})


def check_params(params: Mapping[str, Any], allowed: frozenset[str] | set[str]) -> None:
    """Refuse any parameter not in `allowed`, naming each."""
    unknown = sorted(set(params) - allowed)
    if unknown:
        raise ConfigError(
            [(name, f"unknown parameter; allowed: {sorted(allowed)}") for name in unknown]
        )


def text_param(params: Mapping[str, Any], name: str) -> str | None:
    """A string parameter (None when absent or empty)."""
    value = params.get(name)
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        raise ConfigError.single(name, f"must be a string (got {value!r})")
    return value


def int_param(params: Mapping[str, Any], name: str, default: int, maximum: int) -> int:
    """An integer parameter in [0, maximum] (`default` when absent); a boolean is refused."""
    value = params.get(name)
    if value is None or value == "":
        return default
    if isinstance(value, bool):
        raise ConfigError.single(name, f"must be an integer (got {value!r})")
    try:
        number = int(str(value))
    except ValueError:
        raise ConfigError.single(name, f"must be an integer (got {value!r})") from None
    if not 0 <= number <= maximum:
        raise ConfigError.single(name, f"must be between 0 and {maximum} (got {number})")
    return number


@asynccontextmanager
async def _ledger(runtime: PluginRuntime) -> AsyncIterator[Ledger]:
    """A ledger connection for this request, after committing what was just captured."""
    from agent_routing.ledger import ledger_for

    await asyncio.to_thread(runtime.flush, 5.0)
    ledger = ledger_for(runtime.settings.ledger)
    await ledger.open()
    try:
        yield ledger
    finally:
        await ledger.close()


async def _guarded(work: Any) -> ApiResult:
    try:
        return ApiResult(200, await work)
    except ConfigError as error:
        return bad_request(error)
    except AgentRoutingError as error:
        return ApiResult(500, {"error": str(error)})
    except Exception as error:  # a bug: logged here, never a traceback to the client
        logger.exception("agent-routing API: unexpected error")
        return ApiResult(500, {"error": f"internal error ({type(error).__name__}); see the log"})


async def costs(params: Mapping[str, Any]) -> ApiResult:
    """GET costs: the `agent-routing costs` report as JSON."""
    return await _guarded(_costs(params))


async def _costs(params: Mapping[str, Any]) -> dict[str, Any]:
    from agent_routing.reports import build_report, prepare_query, to_jsonable

    check_params(params, COSTS_PARAMS)
    runtime = get_runtime(None)
    query = prepare_query(
        by=text_param(params, "by") or "model",
        since=text_param(params, "since"),
        until=text_param(params, "until"),
        tz=text_param(params, "tz") or runtime.settings.ledger.timezone,
        top=int_param(params, "top", 10, 1000),
    )
    async with _ledger(runtime) as ledger:
        report = await build_report(ledger, query)
    payload: dict[str, Any] = to_jsonable(report)
    return payload


async def chat_costs(params: Mapping[str, Any]) -> ApiResult:
    """GET chat_costs: one chat's totals, breakdown, decisions and calls."""
    return await _guarded(_chat_costs(params))


async def _chat_costs(params: Mapping[str, Any]) -> dict[str, Any]:
    from agent_routing.reports import prepare_query, summarize, to_jsonable

    check_params(params, CHAT_PARAMS)
    context = text_param(params, "context")
    if context is None:
        raise ConfigError.single("context", "required: the chat (context) id")
    limit = int_param(params, "limit", 100, MAX_CHAT_CALLS)
    runtime = get_runtime(None)
    query = prepare_query(
        by=text_param(params, "by") or "model", tz=runtime.settings.ledger.timezone
    )
    async with _ledger(runtime) as ledger:
        calls = await ledger.query_calls(conversation_id=context)
        decisions = await ledger.query_decisions(conversation_id=context)
    report = summarize(calls, query, decisions=decisions)
    return {
        "context": context,
        "totals": to_jsonable(report.totals),
        "groups": to_jsonable(list(report.groups)),
        "decisions": [to_jsonable(d) for d in decisions[-limit:]] if limit else [],
        "calls": [to_jsonable(c) for c in calls[-limit:]] if limit else [],
    }


async def budget_status(params: Mapping[str, Any]) -> ApiResult:
    """GET budget: every effective budget and its spend now."""
    return await _guarded(_budget_status(params))


async def _budget_status(params: Mapping[str, Any]) -> dict[str, Any]:
    from agent_routing.reports import to_jsonable

    check_params(params, BUDGET_GET_PARAMS)
    from agent_routing.budgets import Budgets

    runtime = get_runtime(None)
    async with _ledger(runtime) as ledger:
        statuses = await Budgets(ledger, runtime.settings).status(text_param(params, "context"))
    return {"budgets": [to_jsonable(status) for status in statuses]}


async def set_budget(body: Mapping[str, Any]) -> ApiResult:
    """POST budget: store (or remove) a budget; the answer is the new status."""
    return await _guarded(_set_budget(body))


async def _set_budget(body: Mapping[str, Any]) -> dict[str, Any]:
    from agent_routing.budgets import Budgets, budget_from_mapping
    from agent_routing.reports import to_jsonable

    if not body:
        raise ConfigError.single("body", "send a JSON object: a budget, or {'remove': key}")
    remove: str | None = None
    if "remove" in body:
        check_params(body, frozenset({"remove"}))
        remove = text_param(body, "remove")
        if remove is None:
            raise ConfigError.single("remove", "give the budget key, e.g. 'daily:*'")
    budget = None if remove is not None else budget_from_mapping(body)  # before any write
    runtime = get_runtime(None)
    if budget is not None:
        from agent_routing.config import unknown_budget_models

        problems = unknown_budget_models(runtime.settings, [budget])
        if problems:
            raise ConfigError(problems)
    async with _ledger(runtime) as ledger:
        budgets = Budgets(ledger, runtime.settings)
        if budget is None:
            return {"removed": await budgets.remove_budget(str(remove)), "key": remove}
        await budgets.set_budget(budget)
        statuses = await budgets.status()
    return {
        "saved": to_jsonable(budget.model_dump()),
        "budgets": [to_jsonable(s) for s in statuses],
    }
