"""Configuration: pydantic models, one file, environment overrides, embedded defaults.

The same settings an Agent Zero plugin keeps in `default_config.yaml` / `config.json`.
Nothing needs configuring to start: every field has a default. Load with
:func:`load_settings`; every validation problem is reported as `field.path: message (got
value)`, all at once, and nothing is changed when loading fails.

Environment overrides (applied on top of the file):

- `AGENT_ROUTING_CONFIG`: path of the configuration file (YAML or JSON);
- `AGENT_ROUTING_DB`: the ledger location, a path or URL (`ledger.url`);
- `AGENT_ROUTING_HOME`: the data directory used when no ledger path is set;
- `AGENT_ROUTING__<SECTION>__<KEY>=value`: any nested field, e.g.
  `AGENT_ROUTING__ROUTER__STRATEGY=quality_first`; the value is parsed as JSON when it is
  valid JSON (numbers, lists, booleans), otherwise taken as a string.
"""

from __future__ import annotations

import itertools
import json
import logging
import os
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, get_args
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)

from agent_routing.errors import ConfigError
from agent_routing.records import FailureSignal

if TYPE_CHECKING:
    from agent_routing.ledger.urls import LedgerURL

ENV_PREFIX = "AGENT_ROUTING__"

DEFAULT_COMPRESSIBLE_RATIO = 0.5
"""Share of its tokens a prompt keeps after compression, as the compressor achieves on agent
histories (46 % removed at half-size budgets, docs/compression.md): the router's context
check assumes no better (`router.compressible_ratio`)."""


class CallKind(StrEnum):
    """What an LLM call is for. Routing rules, caps and reports key on it."""

    CHAT = "chat"  # a main agent step (Agent Zero's main loop call)
    SUBORDINATE = "subordinate"  # a main step of a subordinate agent (A1, A2, ...)
    SCHEDULED = "scheduled"  # a main step of a scheduled task context
    UTILITY = "utility"  # a utility-model call whose purpose is unknown
    MEMORY = "memory"  # memory recall / memorisation
    SUMMARIZATION = "summarization"  # history compression, topic summaries
    TITLE = "title"  # chat renaming
    DOCUMENT_QUERY = "document_query"
    BROWSER = "browser"
    EMBEDDING = "embedding"
    OTHER = "other"


Strategy = Literal["cost_optimized", "balanced", "quality_first"]
Enforcement = Literal["warn", "downgrade", "block"]


class _Strict(BaseModel):
    """Base: unknown keys are errors (a typo must not be silently ignored)."""

    model_config = ConfigDict(extra="forbid", validate_assignment=True)


class TierConfig(_Strict):
    """One model tier. Tiers are listed cheapest first."""

    name: str = Field(min_length=1, pattern=r"^[A-Za-z0-9_.-]+$")
    model: str = Field(min_length=1, description="litellm model id, e.g. 'gpt-4o-mini'")
    api_base: str | None = None
    provider: str | None = None
    max_output_tokens: int | None = Field(default=None, gt=0)
    use_for: str = Field(default="", description="when to use this tier (shown to the agent)")


class RuleConfig(_Strict):
    """An explicit routing rule: calls of these kinds go to a fixed tier or stay below one.

    `tier` and `max_tier` take a tier name or the words `cheapest` / `strongest`.
    """

    kinds: list[CallKind] = Field(min_length=1)
    tier: str | None = None
    max_tier: str | None = None

    @model_validator(mode="after")
    def _one_action(self) -> RuleConfig:
        if self.tier is None and self.max_tier is None:
            raise ValueError("a rule needs 'tier' or 'max_tier'")
        return self


class FallbackConfig(_Strict):
    """Fallback chains on provider errors."""

    enabled: bool = True
    max_hops: int = Field(default=3, ge=0, le=20)
    cooldown_s: float = Field(default=60.0, ge=0)
    max_retry_after_s: float = Field(default=120.0, ge=0)


EscalationSignal = FailureSignal  # the signal kinds are defined once, in records.py


def _all_escalation_signals() -> list[EscalationSignal]:
    return list(get_args(FailureSignal))


class CascadeConfig(_Strict):
    """Cheap first, escalate one tier when the agent's own signals say the answer failed."""

    enabled: bool = True
    escalate_on: list[EscalationSignal] = Field(default_factory=_all_escalation_signals)
    max_escalations: int = Field(
        default=1,
        ge=0,
        description="escalations per task: one retry one tier up (#13; more retries up the "
        "tiers had no measured benefit)",
    )


# --- #13 duel mode ---------------------------------------------------------------------------
class DuelConfig(_Strict):
    """Opt-in duel mode: also run the other tier on a share of cheap calls to learn benefit.

    On `share` of the calls routed to the cheapest tier (within `budget_usd` per `period`),
    the strongest tier answers the same prompt in the background; both outcomes and a verdict
    on which was good enough go to the ledger. With `refit_after` new verdicts the text
    analyzer is refit and replaces the model in use only if it ranks a held-out split better.
    """

    enabled: bool = False
    share: float = Field(default=0.05, ge=0, le=1, description="share of cheap calls dueled")
    budget_usd: float = Field(default=1.0, ge=0, description="spend limit of the duel calls")
    period: Literal["daily", "monthly", "total"] = "daily"
    judge_model: str | None = Field(
        default=None,
        min_length=1,
        description="model that judges two answers when the agent's own signals cannot "
        "(tool call parses, tool succeeds); unset: such duels stay unjudged",
    )
    refit_after: int = Field(default=200, ge=10, description="new verdicts that start a refit")
    label: Literal["gain", "benefit"] = Field(
        default="gain",
        description="label a refit fits: gain (1 only strong good, 0 only cheap good, 0.5 "
        "both or neither) or benefit (1 only strong good, else 0)",
    )
    shadow: bool = Field(
        default=False,
        description="refit and record what the new model would have decided, never switch",
    )
    seed: int = 0


# --- end #13 duel mode -----------------------------------------------------------------------


def _default_rules() -> list[RuleConfig]:
    return [
        RuleConfig(
            kinds=[CallKind.UTILITY, CallKind.MEMORY, CallKind.SUMMARIZATION, CallKind.TITLE],
            tier="cheapest",
        )
    ]


class RouterSettings(_Strict):
    """How the router picks a tier."""

    enabled: bool = True
    strategy: Strategy = "balanced"
    thresholds: list[float] | None = Field(
        default=None,
        description="explicit score thresholds, ascending, one fewer than tiers; "
        "overrides the strategy's calibrated thresholds",
    )
    shadow: bool = Field(default=False, description="decide and record, but do not apply")
    rules: list[RuleConfig] = Field(default_factory=_default_rules)
    output_caps: dict[CallKind, int] = Field(
        default_factory=lambda: {CallKind.TITLE: 64},
        description="maximum output tokens per call kind (applied as max_tokens)",
    )
    fallback: FallbackConfig = Field(default_factory=FallbackConfig)
    cascade: CascadeConfig = Field(default_factory=CascadeConfig)
    model_path: Path | None = Field(
        default=None, description="analyzer model file; default: the one shipped in the package"
    )
    compressible_ratio: float = Field(
        default=DEFAULT_COMPRESSIBLE_RATIO,
        gt=0,
        le=1,
        description="share of its tokens a prompt is assumed to keep after compression when the "
        "router checks whether it fits a tier's context window (1 = assume no compression)",
    )

    # --- #13 routing that learns: analyzer choice and duel mode -------------------------
    analyzer: str = Field(
        default="features",
        min_length=1,
        description="analyzer by registry name: 'features' (the explainable feature model) or "
        "'text' (the learnable text analyzer; trained by `agent-routing train --data`)",
    )
    duel: DuelConfig = Field(default_factory=DuelConfig)
    # --- end #13 --------------------------------------------------------------------------

    @model_validator(mode="after")
    def _duel_needs_text(self) -> RouterSettings:  # #13
        if self.duel.enabled and self.analyzer != "text":
            raise ValueError(
                "router.duel.enabled needs router.analyzer: text (duel labels train the text "
                "analyzer, which starts out scoring exactly like the feature model)"
            )
        return self

    @field_validator("thresholds")
    @classmethod
    def _ascending(cls, value: list[float] | None) -> list[float] | None:
        if value is None:
            return value
        for number in value:
            if not 0.0 <= number <= 1.0:
                raise ValueError(f"each threshold must be in [0, 1], not {number}")
        if any(b <= a for a, b in itertools.pairwise(value)):
            raise ValueError("thresholds must be strictly ascending")
        return value

    @field_validator("output_caps")
    @classmethod
    def _positive_caps(cls, value: dict[CallKind, int]) -> dict[CallKind, int]:
        for kind, cap in value.items():
            if cap <= 0:
                raise ValueError(f"cap for {kind.value!r} must be positive, not {cap}")
        return value


# --- limits a person could mean (issue #10: money under bad input) ---------------------
MAX_LIMIT_USD = 1_000_000_000.0
"""The largest budget limit accepted: beyond it a limit is a typo (or `inf`), not a plan."""
MAX_QUOTA_LIMIT = 10**12
"""The largest quota limit (requests or tokens) accepted."""


def _no_bool(value: Any, info: ValidationInfo) -> Any:
    """`true` is not a number: refuse booleans where a number is expected (pydantic's lax
    mode would read `true` as 1)."""
    items = value if isinstance(value, list) else [value]
    if any(isinstance(item, bool) for item in items):
        raise ValueError(f"{info.field_name} must be a number, not a boolean")
    return value


# --------------------------------------------------------------------------------------


class BudgetConfig(_Strict):
    """A spending limit in US dollars."""

    scope: Literal["call", "conversation", "daily", "monthly"]
    limit_usd: float = Field(ge=0, le=MAX_LIMIT_USD, allow_inf_nan=False)
    model: str | None = Field(
        default=None, min_length=1, description="limit only this model's spend"
    )
    enforcement: Enforcement = "block"
    alert_thresholds: list[float] = Field(default_factory=lambda: [0.5, 0.8, 1.0])

    _numbers_not_booleans = field_validator("limit_usd", "alert_thresholds", mode="before")(
        _no_bool
    )

    @field_validator("alert_thresholds")
    @classmethod
    def _thresholds(cls, value: list[float]) -> list[float]:
        for number in value:
            if not 0.0 < number <= 10.0:
                raise ValueError(f"each alert threshold must be in (0, 10], not {number}")
        return sorted(set(value))

    @property
    def key(self) -> str:
        """Stable identity of this budget: scope plus optional model."""
        return f"{self.scope}:{self.model or '*'}"


class QuotaConfig(_Strict):
    """A usage quota (free tiers, rate limits) for one model or one provider."""

    model: str | None = Field(default=None, min_length=1)
    provider: str | None = Field(default=None, min_length=1)
    unit: Literal["tokens", "requests"]
    period: Literal["minute", "day"]
    limit: int = Field(gt=0, le=MAX_QUOTA_LIMIT)

    _limit_not_boolean = field_validator("limit", mode="before")(_no_bool)

    @model_validator(mode="after")
    def _one_target(self) -> QuotaConfig:
        if (self.model is None) == (self.provider is None):
            raise ValueError("a quota needs exactly one of 'model' or 'provider'")
        return self

    @property
    def key(self) -> str:
        """Stable identity of this quota."""
        target = f"model={self.model}" if self.model else f"provider={self.provider}"
        return f"{target}:{self.unit}/{self.period}"


class PriceOverride(_Strict):
    """Prices per token for a model litellm does not know (local/custom) or prices differently."""

    input_cost_per_token: float = Field(ge=0)
    output_cost_per_token: float = Field(ge=0)
    cache_read_input_token_cost: float | None = Field(default=None, ge=0)
    cache_creation_input_token_cost: float | None = Field(default=None, ge=0)
    output_cost_per_reasoning_token: float | None = Field(default=None, ge=0)
    max_input_tokens: int | None = Field(default=None, gt=0)
    max_output_tokens: int | None = Field(default=None, gt=0)


class LedgerSettings(_Strict):
    """Where and how calls are stored."""

    path: Path | None = Field(
        default=None,
        description="SQLite file; default $AGENT_ROUTING_DB, else $AGENT_ROUTING_HOME/ledger.db, "
        "else ledger.db in the user data folder",
    )
    timezone: str = Field(default="UTC", description="time zone for daily/monthly periods")
    busy_timeout_ms: int = Field(default=5000, ge=0)
    flush_interval_ms: int = Field(default=200, ge=1)
    batch_size: int = Field(default=500, ge=1)
    # --- ledger backends by URL (#14) ---
    url: str | None = Field(
        default=None,
        description="where the ledger lives: a file path or sqlite:///PATH (SQLite), or "
        "postgresql://USER:PASSWORD@HOST:PORT/DBNAME (one ledger for a fleet); wins over "
        "`path`; $AGENT_ROUTING_DB sets it",
    )
    pool_size: int = Field(
        default=4, ge=1, le=64, description="PostgreSQL: most connections per ledger object"
    )
    connect_timeout_s: float = Field(
        default=5.0, gt=0, le=300, description="PostgreSQL: how long to wait for a connection"
    )

    @field_validator("url")
    @classmethod
    def _known_url(cls, value: str | None) -> str | None:
        if value is not None:
            from agent_routing.ledger.urls import parse_ledger_url

            try:
                parse_ledger_url(value, "ledger.url")
            except ConfigError as error:
                raise ValueError(error.problems[0][1]) from None
        return value

    @field_validator("path", mode="before")
    @classmethod
    def _path_not_url(cls, value: Any) -> Any:
        from agent_routing.ledger.urls import is_url

        if isinstance(value, str) and is_url(value):
            raise ValueError("a URL goes in ledger.url; ledger.path is a SQLite file path")
        return value

    def resolved_url(self) -> LedgerURL:
        """The ledger location to use: `url`, else `path`, else $AGENT_ROUTING_DB, else
        the default file (ConfigError naming the field when it cannot be opened)."""
        from agent_routing.ledger.urls import parse_ledger_url, sqlite_url

        if self.url is not None:
            return parse_ledger_url(self.url, "ledger.url")
        if self.path is not None:
            return sqlite_url(self.path)
        env_db = os.environ.get("AGENT_ROUTING_DB")
        if env_db:
            return parse_ledger_url(env_db, "AGENT_ROUTING_DB")
        return sqlite_url(data_home() / "ledger.db")

    # --- end ledger backends by URL ---

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(
                f"unknown time zone {value!r} (use an IANA name such as 'UTC')"
            ) from None
        return value

    def resolved_path(self) -> Path:
        """The ledger file to use, after environment defaults; ConfigError naming
        `ledger.url` when the ledger is not a SQLite file (use :meth:`resolved_url`)."""
        target = self.resolved_url()
        if target.path is None:
            raise ConfigError.single(
                "ledger.url", f"{target.redacted()} is not a SQLite file (a file is needed here)"
            )
        return target.path


class ReservationSettings(_Strict):
    """How a budget check estimates and holds the cost of a call before it runs."""

    output_estimate_tokens: int = Field(
        default=1024, gt=0, description="bounded output estimate used when reserving"
    )
    ttl_s: float = Field(
        default=900.0, gt=0, description="a reservation never settled stops counting after this"
    )


class CaptureSettings(_Strict):
    """Recording of every litellm call in the process."""

    enabled: bool = True
    abandoned_after_s: float = Field(
        default=600.0,
        gt=0,
        description="an opened call never completed is closed as 'abandoned' after this",
    )
    stream_usage: bool = Field(
        default=True,
        description="ask streamed Chat Completions calls for the provider's usage "
        "(stream_options.include_usage) where litellm says the provider supports it",
    )


class OTelSettings(_Strict):
    """OpenTelemetry export of every recorded call (#14; extra `otel`; docs/ledger.md)."""

    enabled: bool = Field(
        default=False,
        description="emit each call as an OTLP span (OTEL_EXPORTER_OTLP_* configure the exporter)",
    )


# --- compression settings (issue #11: cost-aware trigger; docs/compression.md) ---
_COMPRESSION_LOG = logging.getLogger("agent_routing.config")


class CompressionSettings(_Strict):
    """Cost-aware compression of prompt and history (docs/compression.md, "Configuration").

    Without an explicit target, a prompt is compressed once it is large both in tokens
    (`trigger_tokens`) and in dollars at the chosen model's input price (`trigger_usd`):
    with the defaults, from 8,000 tokens for a $2/M-input model, 5,334 for $3/M. Old tool
    outputs beyond the last `keep_recent_turns` turns are cleared first, then the other
    steps run down to `target_ratio` of the prompt. While the provider's prompt cache is
    warm, messages compressed and sent are resent byte for byte, and the prompt is
    compressed again only once it has grown by `recompress_growth` over its size after the
    last compression (so a cache break removes a large chunk).
    """

    enabled: bool = True
    trigger_tokens: int = Field(
        default=4000, ge=1, description="compress only prompts of at least this many tokens"
    )
    trigger_usd: float = Field(
        default=0.016,
        ge=0,
        description="... whose input costs at least this (USD) at the model's input price",
    )
    target_ratio: float = Field(
        default=0.5,
        gt=0,
        le=1,
        description="when compression fires, compress down to this share of the prompt",
    )
    recompress_growth: float = Field(
        default=0.5,
        gt=0,
        description="while the prompt cache is warm, compress again once the prompt has "
        "grown by this share over its size after the last compression",
    )
    payback_steps: int = Field(
        default=5,
        ge=0,
        description="a cache break (compressing a prefix the provider holds) must pay for "
        "itself within this many later calls",
    )
    min_input_cost_per_mtok: float = Field(
        default=0.0,
        ge=0,
        description="compress (soft policy) only for models at least this dear (USD per 1M)",
    )
    min_context_fullness: float | None = Field(
        default=None,
        ge=0,
        le=1,
        description="DEPRECATED: also require the prompt to fill this share of the window",
    )
    target_fullness: float = Field(
        default=0.5,
        gt=0,
        le=1,
        description="budget of a prompt larger than the context window, as a share of it "
        "(also the router's compress_to_tokens floor)",
    )
    keep_recent_turns: int = Field(default=3, ge=1)
    tool_output_max_tokens: int = Field(default=800, gt=0)
    summarizer: Literal["extractive", "utility"] = "extractive"
    prompt_cache_ttl_s: float = Field(
        default=300.0,
        gt=0,
        description="seconds a sent prompt prefix stays in the provider's cache (kept "
        "byte-identical meanwhile); 300 = Anthropic's ephemeral cache, OpenAI's shortest",
    )

    @field_validator("min_context_fullness")
    @classmethod
    def _deprecated_fullness(cls, value: float | None) -> float | None:
        if value is not None:
            _COMPRESSION_LOG.warning(
                "compression.min_context_fullness is deprecated: compression now fires on "
                "the prompt's size in tokens and dollars (compression.trigger_tokens, "
                "compression.trigger_usd); the %g share of the context window is still "
                "required as an extra condition. Remove the key to use the new trigger alone.",
                value,
            )
        return value


# --- end of compression settings ---


# --- pricing settings (issue #11: unpriced calls) -----------------------------------------

UnpricedPolicy = Literal["budget", "block", "warn", "allow"]


class PricingSettings(_Strict):
    """What a budget does with a call whose model has no known price.

    `budget` (default): the most severe applicable budget's own enforcement (a block budget
    refuses: it cannot bound a cost it cannot price); `block`: refuse whenever a budget
    applies; `warn`: allow with a warning; `allow`: allow, logged. Spend of an unpriced call
    is never counted. Calls no budget applies to always go through.
    """

    unpriced: UnpricedPolicy = "budget"


# --- end pricing settings -------------------------------------------------------------------


class Settings(_Strict):
    """All agent-routing settings. Every field has a default."""

    tiers: list[TierConfig] = Field(
        default_factory=list,
        description="cheapest first; empty = host's utility model (cheap) and chat model (strong)"
        " inside Agent Zero, or DEFAULT_TIERS from the CLI",
    )
    router: RouterSettings = Field(default_factory=RouterSettings)
    budgets: list[BudgetConfig] = Field(default_factory=list)
    quotas: list[QuotaConfig] = Field(default_factory=list)
    prices: dict[str, PriceOverride] = Field(default_factory=dict)
    pricing: PricingSettings = Field(default_factory=PricingSettings)
    ledger: LedgerSettings = Field(default_factory=LedgerSettings)
    reservation: ReservationSettings = Field(default_factory=ReservationSettings)
    capture: CaptureSettings = Field(default_factory=CaptureSettings)
    compression: CompressionSettings = Field(default_factory=CompressionSettings)
    otel: OTelSettings = Field(default_factory=OTelSettings)  # fleets (#14)
    budget_in_system_prompt: bool = Field(
        default=False, description="tell the agent its remaining budget (one line)"
    )

    @model_validator(mode="after")
    def _tier_names_unique(self) -> Settings:
        names = [tier.name for tier in self.tiers]
        duplicated = sorted({name for name in names if names.count(name) > 1})
        if duplicated:
            raise ValueError(f"tier names must be unique, repeated: {duplicated}")
        return self

    def effective_tiers(self) -> list[TierConfig]:
        """Configured tiers, or the embedded defaults when none are configured."""
        return list(self.tiers) if self.tiers else [t.model_copy() for t in DEFAULT_TIERS]


DEFAULT_TIERS: tuple[TierConfig, ...] = (
    TierConfig(name="cheap", model="gpt-4o-mini", use_for="simple steps, lookups, formatting"),
    TierConfig(name="strong", model="gpt-4o", use_for="hard reasoning, code, long plans"),
)


LEGACY_DATA_DIR = ".agent-routing"  # under the home directory: kept when it exists


def data_home() -> Path:
    """The directory for the ledger and learned models: $AGENT_ROUTING_HOME, else
    ~/.agent-routing if it exists (where earlier versions kept the ledger), else the
    platform's user data folder (platformdirs: ~/.local/share/agent-routing on Linux,
    ~/Library/Application Support/agent-routing on macOS, %LOCALAPPDATA% on Windows)."""
    home = os.environ.get("AGENT_ROUTING_HOME")
    if home:
        return Path(home).expanduser()
    legacy = Path.home() / LEGACY_DATA_DIR
    if legacy.is_dir():
        return legacy
    import platformdirs

    return Path(platformdirs.user_data_dir("agent-routing", appauthor=False))


# --- loading -------------------------------------------------------------------------------


def _format_validation_error(error: ValidationError, data: Any) -> ConfigError:
    problems: list[tuple[str, str]] = []
    for item in error.errors():
        loc = ".".join(str(part) for part in item["loc"]) or "(root)"
        message = item["msg"].removeprefix("Value error, ")
        if item["type"] != "missing":
            message += f" (got {item.get('input')!r})"
        problems.append((loc, message))
    return ConfigError(problems)


def settings_from_mapping(data: Any, *, source: str = "settings") -> Settings:
    """Validate a mapping (parsed YAML/JSON, API body) into :class:`Settings`.

    Raises ConfigError naming every bad field and value; `source` prefixes nothing but is
    used when the top level is not a mapping.
    """
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ConfigError.single(
            source, f"must be a mapping of settings, got {type(data).__name__}"
        )
    try:
        settings = Settings.model_validate(data)
    except ValidationError as error:
        raise _format_validation_error(error, data) from None
    return settings


def read_config_file(path: Path) -> dict[str, Any]:
    """Parse a YAML or JSON configuration file into a mapping (not yet validated)."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as error:
        raise ConfigError.single("config", f"cannot read {str(path)!r}: {error.strerror}") from None
    except UnicodeDecodeError as error:
        raise ConfigError.single(
            "config", f"{str(path)!r} is not UTF-8 text (byte {error.start}): save it as UTF-8"
        ) from None
    try:
        data = json.loads(text) if path.suffix == ".json" else yaml.safe_load(text)
    except (json.JSONDecodeError, yaml.YAMLError) as error:
        raise ConfigError.single(
            "config", f"{str(path)!r} is not valid YAML/JSON: {error}"
        ) from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigError.single("config", f"{str(path)!r} must hold a mapping at the top level")
    return data


def _set_nested(data: dict[str, Any], keys: list[str], value: Any) -> None:
    node = data
    for key in keys[:-1]:
        child = node.get(key)
        if not isinstance(child, dict):
            child = {}
            node[key] = child
        node = child
    node[keys[-1]] = value


def apply_env_overrides(
    data: dict[str, Any], environ: dict[str, str] | None = None
) -> dict[str, Any]:
    """Return a copy of `data` with `AGENT_ROUTING__A__B=value` and `AGENT_ROUTING_DB` applied."""
    env = dict(os.environ if environ is None else environ)
    merged: dict[str, Any] = json.loads(json.dumps(data, default=str))
    for name, raw in sorted(env.items()):
        if not name.startswith(ENV_PREFIX):
            continue
        keys = [part.lower() for part in name[len(ENV_PREFIX) :].split("__") if part]
        if not keys:
            continue
        try:
            value: Any = json.loads(raw)
        except json.JSONDecodeError:
            value = raw
        _set_nested(merged, keys, value)
    if env.get("AGENT_ROUTING_DB"):
        # a path or a URL (#14): checked here so the error names the variable
        from agent_routing.ledger.urls import parse_ledger_url

        parse_ledger_url(env["AGENT_ROUTING_DB"], "AGENT_ROUTING_DB")
        _set_nested(merged, ["ledger", "url"], env["AGENT_ROUTING_DB"])
    return merged


def config_path_from_env() -> Path | None:
    """The configuration file named by `AGENT_ROUTING_CONFIG`, if any."""
    value = os.environ.get("AGENT_ROUTING_CONFIG")
    return Path(value).expanduser() if value else None


def load_settings(
    path: Path | None = None,
    *,
    environ: dict[str, str] | None = None,
    validate_models: bool = True,
) -> Settings:
    """Load settings from `path` (or `AGENT_ROUTING_CONFIG`, or defaults) plus environment.

    With `validate_models`, every tier model must be known to litellm's local price map or
    have a price override (UnknownModelError otherwise, naming `tiers[i].model`).
    """
    if path is None:
        path = config_path_from_env()
    data = read_config_file(path) if path is not None else {}
    data = apply_env_overrides(data, environ)
    settings = settings_from_mapping(data)
    if validate_models:
        check_models_known(settings)
    return settings


def check_models_known(settings: Settings) -> None:
    """Raise ConfigError naming every tier/budget/quota model litellm cannot price."""
    from agent_routing.pricing import is_known_model

    problems: list[tuple[str, str]] = []
    for index, tier in enumerate(settings.tiers):
        if not is_known_model(tier.model, settings.prices):
            problems.append(
                (
                    f"tiers.{index}.model",
                    f"unknown model {tier.model!r}: not in litellm's local price map; add it "
                    "under 'prices:' to use a custom or local model",
                )
            )
    problems.extend(unknown_budget_models(settings))
    problems.extend(unknown_quota_models(settings))
    if problems:
        raise ConfigError(problems)


def unknown_quota_models(settings: Settings) -> list[tuple[str, str]]:
    """(field, message) for each quota on a model that no price map, price override or tier
    knows (a typo would make the quota count nothing)."""
    from agent_routing.pricing import is_known_model, same_model

    tier_models = [tier.model for tier in settings.tiers]
    return [
        (
            f"quotas.{index}.model",
            f"unknown model {quota.model!r}: no price map, price override or tier knows it, so "
            "the quota would limit nothing; use the model's litellm name or add it under "
            "'prices:'",
        )
        for index, quota in enumerate(settings.quotas)
        if quota.model is not None
        and not is_known_model(quota.model, settings.prices)
        and not any(same_model(quota.model, tier) for tier in tier_models)
    ]


def unknown_budget_models(
    settings: Settings, budgets: list[BudgetConfig] | None = None
) -> list[tuple[str, str]]:
    """(field, message) for each budget on a model that no price map, price override or
    tier knows: such a budget would limit nothing (a typo such as `gpt4o`)."""
    from agent_routing.pricing import is_known_model, same_model

    tier_models = [tier.model for tier in settings.tiers]
    problems = []
    for index, budget in enumerate(settings.budgets if budgets is None else budgets):
        model = budget.model
        if model is None or is_known_model(model, settings.prices):
            continue
        if any(same_model(model, tier) for tier in tier_models):
            continue
        field = "model" if budgets is not None else f"budgets.{index}.model"
        problems.append(
            (
                field,
                f"unknown model {model!r}: no price map, price override or tier knows it, so "
                "the budget would limit nothing; use the model's litellm name or add it "
                "under 'prices:'",
            )
        )
    return problems
