"""The data behind the plugin's web UI: settings screen, chat cost element and dashboard.

Three thin handler files (`api/ui_settings.py`, `api/ui_chat.py`, `api/ui_dashboard.py`)
call :func:`serve`. The UI calls them with the host's `callJsonApi` (POST, JSON body);
GET with a query string works too. Every answer is JSON: 200 with the data, or 400 naming
each bad field (the same `{"error", "problems": [{"field", "message"}]}` shape as the cost
API), never a traceback.

- `ui_settings`: `{"action": "validate", "settings": {...}}` checks a whole plugin
  configuration exactly as the plugin will load it (:class:`~agent_routing.config.Settings`),
  plus what a form should not let through: models litellm cannot price (tiers, budgets,
  quotas) and alert thresholds out of order. `{"action": "models", "query": "..."}` lists
  matching models with prices and context window; `{"action": "describe", "models": [...]}`
  prices the given ones; the host's own chat/utility/embedding models are listed first.
- `ui_chat`: `{"context": "<chat id>"}`: the chat's spend, its tightest budget, the tier in
  use (and whether `switch_model` pinned it) and what routing saved against the strongest
  tier.
- `ui_dashboard`: `{"section": ..., "since", "until", "tz"}`: one dashboard section per
  request, so the page fills in as each arrives. Totals and breakdowns come from the public
  report functions (:func:`agent_routing.reports.build_report`), one per breakdown.
"""

from __future__ import annotations

import itertools
import json
import logging
import math
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from datetime import date, timedelta
from typing import TYPE_CHECKING, Any

from agent_routing.config import Settings, check_models_known, settings_from_mapping
from agent_routing.errors import ConfigError
from agent_routing.host import _api as cost_api
from agent_routing.host._api import ApiResult, bad_request, check_params, int_param, text_param
from agent_routing.records import CallRecord, DecisionRecord, Outcome, Usage

if TYPE_CHECKING:
    from agent_routing.ledger import RoutedUsage

STACKS = ("model", "kind")
BREAKDOWNS = ("model", "kind", "tool", "conversation")
SECTIONS = ("summary", "breakdown", "daily", "budgets", "routing", "calls")
MAX_DAYS = 366
MAX_SERIES = 6  # stacked series shown; the rest is summed as "other"
PAGE_SIZES = (10, 25, 50, 100)
MAX_CALL_ROWS = 5000  # the table pages through the latest calls of the range
MODEL_RESULTS = 30
_BILLED = frozenset({Outcome.OK, Outcome.ABANDONED})

logger = logging.getLogger("agent_routing.host")


# --- settings ------------------------------------------------------------------------------


def validate_settings(data: Any) -> list[dict[str, str]]:
    """Every problem of a plugin configuration as `{"field", "message"}` (empty: valid)."""
    try:
        settings = settings_from_mapping(data, source="settings")
    except ConfigError as error:
        return [{"field": f, "message": m} for f, m in error.problems]
    problems: list[tuple[str, str]] = []
    try:
        check_models_known(settings)
    except ConfigError as error:
        problems.extend(error.problems)
    problems.extend(_thresholds_out_of_order(data))
    return [{"field": f, "message": m} for f, m in problems]


def _thresholds_out_of_order(data: Mapping[str, Any]) -> list[tuple[str, str]]:
    """Alert thresholds typed out of order are a mistake on a form (the file loader sorts)."""
    problems = []
    for index, budget in enumerate(data.get("budgets") or []):
        values = budget.get("alert_thresholds") if isinstance(budget, Mapping) else None
        if not isinstance(values, list) or not all(
            isinstance(v, int | float) and not isinstance(v, bool) for v in values
        ):
            continue
        if any(b <= a for a, b in itertools.pairwise(values)):
            problems.append(
                (
                    f"budgets.{index}.alert_thresholds",
                    f"must be in ascending order without repeats, e.g. [0.5, 0.8, 1.0] "
                    f"(got {values})",
                )
            )
    return problems


def _describe_model(model: str, settings: Settings | None = None) -> dict[str, Any]:
    """A model's prices (USD per 1M tokens) and context window from our price data."""
    from agent_routing.pricing import context_window, unit_prices

    overrides = settings.prices if settings is not None else None
    try:
        prices = unit_prices(model, overrides)
        window = context_window(model, overrides)
    except ConfigError:
        prices, window = None, None

    def per_mtok(value: float | None) -> float | None:
        return None if value is None else round(value * 1_000_000, 6)

    return {
        "model": model,
        "known": prices is not None,
        "input_per_mtok": per_mtok(prices.input) if prices else None,
        "output_per_mtok": per_mtok(prices.output) if prices else None,
        "cache_read_per_mtok": per_mtok(prices.cache_read) if prices else None,
        "context_window": window,
    }


def _search_models(query: str, limit: int = MODEL_RESULTS) -> list[str]:
    """Chat models in litellm's price map whose id contains `query` (shortest ids first)."""
    from agent_routing._litellm import litellm_module

    needle = query.strip().lower()
    found = [
        name
        for name, info in litellm_module().model_cost.items()
        if isinstance(info, Mapping)
        and info.get("mode", "chat") == "chat"
        and name != "sample_spec"
        and (not needle or needle in name.lower())
    ]
    found.sort(key=lambda name: (not name.lower().startswith(needle), len(name), name))
    return found[:limit]


def host_models() -> list[dict[str, str]]:
    """The models Agent Zero itself is configured with (its `_model_config` plugin)."""
    from agent_routing.host.layout import host_module

    try:
        plugins = host_module("helpers.plugins")
        config = plugins.get_plugin_config("_model_config") or {}
    except Exception:
        return []
    found = []
    for role in ("chat_model", "utility_model", "embedding_model"):
        entry = config.get(role) if isinstance(config, Mapping) else None
        if isinstance(entry, Mapping) and entry.get("name"):
            provider = str(entry.get("provider") or "").strip()
            name = str(entry["name"]).strip()
            prefixed = not provider or name.startswith(f"{provider}/")
            model = name if prefixed else f"{provider}/{name}"
            found.append({"role": role, "model": model})
    return found


async def _settings(body: Mapping[str, Any]) -> dict[str, Any]:
    action = text_param(body, "action") or "validate"
    if action == "validate":
        check_params(body, {"action", "settings"})
        if "settings" not in body:
            raise ConfigError.single("settings", "required: the whole plugin configuration")
        problems = validate_settings(body["settings"])
        return {"ok": not problems, "problems": problems}
    if action == "models":
        check_params(body, {"action", "query"})
        query = text_param(body, "query") or ""
        listed = [entry["model"] for entry in host_models()]
        names = list(dict.fromkeys([*listed, *_search_models(query)]))
        if query:
            names = [n for n in names if query.lower() in n.lower()] or names[:0]
        return {
            "host_models": host_models(),
            "models": [_describe_model(name) for name in names[:MODEL_RESULTS]],
        }
    if action == "describe":
        check_params(body, {"action", "models"})
        models = body.get("models")
        if not isinstance(models, list) or not all(isinstance(m, str) for m in models):
            raise ConfigError.single("models", "must be a list of model ids")
        return {"models": [_describe_model(m) for m in models[:100] if m.strip()]}
    raise ConfigError.single("action", f"must be validate, models or describe (got {action!r})")


# --- chat element --------------------------------------------------------------------------


def _strong_model(decision: DecisionRecord) -> str | None:
    """The strongest candidate of a decision (tiers are listed cheapest first)."""
    models = [c.get("model") for c in decision.candidates if isinstance(c, Mapping)]
    models = [m for m in models if isinstance(m, str) and m]
    return models[-1] if models else None


def routing_savings(
    calls: Sequence[CallRecord], decisions: Sequence[DecisionRecord]
) -> dict[str, Any]:
    """What the routed calls cost against the same tokens on each decision's strongest tier.

    Each call's usage is priced on the strongest model at the price tier its own prompt
    falls in (long-prompt prices above a threshold, as `pricing.unit_prices` bills actual
    calls). Only billed calls with a known cost, a decision and a priced strongest tier
    count; `calls_compared` says how many. `saved_usd` = `all_strong_usd - actual_usd`.
    """
    from agent_routing.pricing import cost_usd, unit_prices

    strongest = {d.id: _strong_model(d) for d in decisions}
    actual = all_strong = 0.0
    compared = routed_down = 0
    for call in calls:
        strong = strongest.get(call.decision_id or "")
        if strong is None or call.cost_usd is None or call.usage is None:
            continue
        if call.outcome not in _BILLED:
            continue
        try:
            prices = unit_prices(strong, input_tokens=call.usage.input_tokens)
            strong_cost = cost_usd(call.usage, prices) if prices is not None else None
        except ConfigError:
            strong_cost = None
        if strong_cost is None:
            continue
        compared += 1
        routed_down += call.model != strong
        actual += call.cost_usd
        all_strong += strong_cost
    return _savings(compared, routed_down, actual, all_strong)


def _savings(compared: int, routed_down: int, actual: float, all_strong: float) -> dict[str, Any]:
    return {
        "calls_compared": compared,
        "calls_below_strongest": routed_down,
        "actual_usd": actual,
        "all_strong_usd": all_strong,
        "saved_usd": all_strong - actual,
        "saved_share": (all_strong - actual) / all_strong if all_strong > 0 else None,
    }


def routing_savings_of(groups: Sequence[RoutedUsage]) -> dict[str, Any]:
    """:func:`routing_savings` from the ledger's sums per strongest model and prompt-size
    band (:meth:`~agent_routing.ledger.base.Ledger.routing_summary` with
    `input_thresholds=pricing.price_thresholds()`): the database adds up the calls, Python
    prices one usage per group. Equal to pricing each call: every prompt of a group exceeds
    the same thresholds, so the strongest model bills all of them at one price tier (the
    one a prompt of `input_above + 1` tokens gets), and cost is linear in each token count
    within a tier; only float rounding of the sums differs."""
    from agent_routing.pricing import cost_usd, unit_prices

    actual = all_strong = 0.0
    compared = routed_down = 0
    for group in groups:
        band = group.input_above + 1 if group.input_above else None
        try:
            prices = unit_prices(group.strong_model, input_tokens=band)
        except ConfigError:
            continue
        if prices is None:
            continue
        usage = Usage(
            input_tokens=group.input_tokens,
            output_tokens=group.output_tokens,
            cached_read_tokens=group.cached_read_tokens,
            cache_creation_tokens=group.cache_creation_tokens,
            reasoning_tokens=group.reasoning_tokens,
        )
        compared += group.calls
        routed_down += group.calls_below
        actual += group.cost_usd
        all_strong += cost_usd(usage, prices)
    return _savings(compared, routed_down, actual, all_strong)


def _pinned(context_id: str) -> dict[str, Any] | None:
    """The chat's `switch_model` pin, read from the live host context (None if not pinned)."""
    from agent_routing.host._state import OVERRIDE_KEY
    from agent_routing.host.layout import host_module

    try:
        context = host_module("agent").AgentContext.get(context_id)
        value = context.data.get(OVERRIDE_KEY) if context is not None else None
    except Exception:
        return None
    return dict(value) if isinstance(value, dict) and isinstance(value.get("tier"), str) else None


async def _chat(body: Mapping[str, Any]) -> dict[str, Any]:
    from agent_routing.budgets import Budgets
    from agent_routing.host._runtime import get_runtime

    check_params(body, {"context"})
    context = text_param(body, "context")
    if context is None:
        raise ConfigError.single("context", "required: the chat (context) id")
    runtime = get_runtime(None)
    async with cost_api._ledger(runtime) as ledger:
        calls = await ledger.query_calls(conversation_id=context)
        decisions = await ledger.query_decisions(conversation_id=context)
        statuses = await Budgets(ledger, runtime.settings).status(context)
    priced = [c.cost_usd for c in calls if c.cost_usd is not None]
    unpriced = sum(1 for c in calls if c.cost_usd is None and c.outcome in _BILLED)
    last = decisions[-1] if decisions else None
    tightest = min(
        (s for s in statuses if s.fraction is not None),
        key=lambda s: (-(s.fraction or 0.0), s.key),
        default=None,
    )
    return {
        "context": context,
        "calls": len(calls),
        "spent_usd": math.fsum(priced),
        "unpriced_calls": unpriced,
        "tier": (last.chosen_tier if last else None),
        "model": (last.chosen_model if last else None),
        "applied": (last.applied if last else None),
        "pinned": _pinned(context),
        "budget": None
        if tightest is None
        else {
            "key": tightest.key,
            "scope": tightest.scope,
            "enforcement": tightest.enforcement,
            "limit_usd": tightest.limit_usd,
            "spent_usd": tightest.spent_usd,
            "remaining_usd": tightest.remaining_usd,
            "fraction": tightest.fraction,
        },
        "routing": routing_savings(calls, decisions),
        "updated_at": time.time(),
    }


# --- dashboard -----------------------------------------------------------------------------


def _range(body: Mapping[str, Any], tz: str) -> tuple[str | None, str | None]:
    from agent_routing.reports import prepare_query

    since, until = text_param(body, "since"), text_param(body, "until")
    prepare_query(since=since, until=until, tz=tz)  # validates, names the field
    return since, until


async def _report(runtime: Any, by: str, since: str | None, until: str | None, tz: str) -> Any:
    from agent_routing.reports import build_report, prepare_query, to_jsonable

    query = prepare_query(by=by, since=since, until=until, tz=tz, top=10)
    async with cost_api._ledger(runtime) as ledger:
        return to_jsonable(await build_report(ledger, query))


def _days(since: str | None, until: str | None, tz: str) -> list[date]:
    from agent_routing.ledger.periods import local_date, resolve_timezone

    zone = resolve_timezone(tz, "tz")
    last = date.fromisoformat(until[:10]) if until else local_date(time.time(), zone)
    first = date.fromisoformat(since[:10]) if since else last - timedelta(days=29)
    count = (last - first).days + 1
    if count > MAX_DAYS:
        raise ConfigError.single("since", f"the daily chart covers at most {MAX_DAYS} days")
    return [first + timedelta(days=n) for n in range(max(count, 0))]


async def _daily(runtime: Any, body: Mapping[str, Any], tz: str) -> dict[str, Any]:
    """Spend per local day, stacked by model or call kind: one report per day."""
    stack = text_param(body, "stack") or "model"
    if stack not in STACKS:
        raise ConfigError.single("stack", f"must be one of {', '.join(STACKS)} (got {stack!r})")
    since, until = _range(body, tz)
    days = _days(since, until, tz)
    rows: list[dict[str, Any]] = []
    totals: dict[str, float] = {}
    for day in days:
        report = await _report(runtime, stack, day.isoformat(), day.isoformat(), tz)
        values = {g["key"]: g["cost_usd"] or 0.0 for g in report["groups"]}
        for key, value in values.items():
            totals[key] = totals.get(key, 0.0) + value
        rows.append({"day": day.isoformat(), "values": values, "calls": report["totals"]["calls"]})
    ranked = sorted(totals, key=lambda k: (-totals[k], k))
    shown, rest = ranked[:MAX_SERIES], set(ranked[MAX_SERIES:])
    for row in rows:
        values = row["values"]
        other = math.fsum(v for k, v in values.items() if k in rest)
        row["values"] = {k: values.get(k, 0.0) for k in shown} | ({"other": other} if rest else {})
    series = [*shown, *(["other"] if rest else [])]
    return {"stack": stack, "series": series, "days": rows}


async def _latest_calls(runtime: Any, body: Mapping[str, Any], tz: str) -> dict[str, Any]:
    """One page of the range's latest calls (newest first), reading only what the page needs.

    The ledger lists calls oldest first, so the window before `until` is widened (1 hour,
    then x8) until it holds enough rows for the page; the table pages through at most
    MAX_CALL_ROWS calls.
    """
    from agent_routing.reports import prepare_query, to_jsonable

    page = int_param(body, "page", 0, MAX_CALL_ROWS)
    size = int_param(body, "page_size", 25, 100)
    if size not in PAGE_SIZES:
        raise ConfigError.single("page_size", f"must be one of {list(PAGE_SIZES)} (got {size})")
    since, until = _range(body, tz)
    query = prepare_query(since=since, until=until, tz=tz)
    stop = query.until if query.until is not None else time.time() + 1.0
    start_floor = query.since
    need = min((page + 1) * size, MAX_CALL_ROWS)
    window = 3600.0
    async with cost_api._ledger(runtime) as ledger:
        while True:
            start = stop - window
            reached_floor = start_floor is not None and start <= start_floor
            if reached_floor:
                start = float(start_floor)  # type: ignore[arg-type]
            calls = await ledger.query_calls(since=start, until=stop)
            if len(calls) >= need or reached_floor or window > 3.2e9:
                break
            window *= 8
    newest = calls[::-1]
    rows = newest[page * size : page * size + size]
    return {
        "page": page,
        "page_size": size,
        "has_more": len(newest) > (page + 1) * size and (page + 1) * size < MAX_CALL_ROWS,
        "calls": [
            {
                "id": c.id,
                "started_at": c.started_at,
                "model": c.model,
                "kind": c.call_kind,
                "tool": c.tool,
                "conversation_id": c.conversation_id,
                "tier": c.tier,
                "attempt": c.attempt,
                "outcome": to_jsonable(c.outcome),
                "input_tokens": c.usage.input_tokens if c.usage else None,
                "output_tokens": c.usage.output_tokens if c.usage else None,
                "cost_usd": c.cost_usd,
                "usd_saved": c.usd_saved,
            }
            for c in rows
        ],
    }


async def _budgets(runtime: Any) -> dict[str, Any]:
    from agent_routing.budgets import Budgets
    from agent_routing.reports import to_jsonable

    async with cost_api._ledger(runtime) as ledger:
        statuses = await Budgets(ledger, runtime.settings).status(None)
        alerts = await ledger.query_alerts(since=time.time() - 31 * 86_400)
    return {
        "budgets": [to_jsonable(s) for s in statuses],
        "alerts": [to_jsonable(a) for a in alerts[-50:]][::-1],
    }


async def _routing(runtime: Any, body: Mapping[str, Any], tz: str) -> dict[str, Any]:
    from agent_routing.pricing import price_thresholds
    from agent_routing.reports import prepare_query

    since, until = _range(body, tz)
    query = prepare_query(since=since, until=until, tz=tz)
    async with cost_api._ledger(runtime) as ledger:
        summary = await ledger.routing_summary(
            since=query.since, until=query.until, input_thresholds=price_thresholds()
        )
    savings = routing_savings_of(summary.by_strong_model)
    savings["decisions"] = summary.decisions
    savings["applied"] = summary.applied
    return savings


async def _dashboard(body: Mapping[str, Any]) -> dict[str, Any]:
    from agent_routing.host._runtime import get_runtime

    check_params(body, {"section", "since", "until", "tz", "by", "stack", "page", "page_size"})
    section = text_param(body, "section") or "summary"
    if section not in SECTIONS:
        raise ConfigError.single("section", f"must be one of {', '.join(SECTIONS)}")
    runtime = get_runtime(None)
    tz = text_param(body, "tz") or runtime.settings.ledger.timezone
    if section == "budgets":
        return await _budgets(runtime)
    if section == "daily":
        return await _daily(runtime, body, tz)
    if section == "calls":
        return await _latest_calls(runtime, body, tz)
    if section == "routing":
        return await _routing(runtime, body, tz)
    since, until = _range(body, tz)
    by = text_param(body, "by") or "model"
    if section == "breakdown" and by not in BREAKDOWNS:
        raise ConfigError.single("by", f"must be one of {', '.join(BREAKDOWNS)} (got {by!r})")
    report: dict[str, Any] = await _report(runtime, by, since, until, tz)
    if section == "summary":
        report["prices_help"] = (
            "Price a model litellm does not know under 'prices' in the plugin settings "
            "(input_cost_per_token, output_cost_per_token) or with `agent-routing prices`; "
            "calls already recorded stay unpriced, later ones are priced."
        )
    return report


# --- plumbing ------------------------------------------------------------------------------


_HANDLERS: dict[str, Callable[[Mapping[str, Any]], Awaitable[dict[str, Any]]]] = {
    "ui_settings": _settings,
    "ui_chat": _chat,
    "ui_dashboard": _dashboard,
}


async def handle(endpoint: str, body: Mapping[str, Any]) -> ApiResult:
    """Run one UI endpoint; a bad field gives a 400 naming it, anything else a JSON 500."""
    try:
        return await cost_api._guarded(_HANDLERS[endpoint](body))
    except Exception as error:
        logger.exception("agent-routing: %s failed", endpoint)
        return ApiResult(500, {"error": f"{endpoint} failed: {type(error).__name__}: {error}"})


async def serve(endpoint: str, body: Mapping[str, Any], request: Any, response: Any) -> Any:
    """Answer `/api/plugins/agent_routing/<endpoint>` (POST JSON body, or GET query)."""
    args = getattr(request, "args", None) or {}
    params = {**{key: args.get(key) for key in args}, **dict(body or {})}
    result = await handle(endpoint, params)
    if result.status == 200:
        return result.payload
    return response(json.dumps(result.payload), status=result.status, mimetype="application/json")


__all__ = ["bad_request", "handle", "routing_savings", "serve", "validate_settings"]
