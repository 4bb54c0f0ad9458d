// The settings screen's store. The host owns the settings object (`config`, loaded and saved
// through POST /api/plugins get_config / save_config); this store edits it in place, prices
// tier models, and validates the whole configuration on the server (our own pydantic
// Settings, via ui_settings) before the host's Save writes anything: each problem becomes a
// toast naming the field, and nothing is saved while any remains.
import { createStore } from "/js/AlpineStore.js";
import { callJsonApi } from "/js/api.js";
import * as fmt from "/plugins/agent_routing/webui/format.js";

const API = "/plugins/agent_routing/ui_settings";
const TITLE = "Agent Routing settings";

const model = {
  fmt,
  models: [],
  hostModels: [],
  prices: {},
  problems: [],
  validating: false,

  // give the config every section the form binds to (a saved file, or the host's Default,
  // may lack some); runs again whenever the host replaces the object
  prepare(config) {
    if (!config || typeof config !== "object") return;
    config.tiers ??= [];
    config.router ??= {};
    config.router.enabled ??= true;
    config.router.shadow ??= false;
    config.router.strategy ??= "balanced";
    config.budgets ??= [];
    config.quotas ??= [];
    config.compression ??= {};
    config.compression.enabled ??= true;
    config.compression.summarizer ??= "extractive";
    config.compression.keep_recent_turns ??= 3;
    config.budget_in_system_prompt ??= false;
    for (const budget of config.budgets) budget.alert_thresholds ??= [0.5, 0.8, 1.0];
  },

  // wrap the host's Save (the settings modal's context) so it validates first
  attach(element, config) {
    this.prepare(config);
    this.describe(config.tiers.map((t) => t.model));
    this.searchModels("");
    const context = element.closest(".modal")?.__pluginSettingsContext || globalThis.__pluginSettingsContext;
    if (!context || context.__agentRoutingGuard) return;
    const save = context.save.bind(context);
    context.save = async () => {
      if (await this.validate(context.settings)) return save();
      return undefined;
    };
    context.__agentRoutingGuard = true;
  },

  async validate(config) {
    this.validating = true;
    try {
      const result = await callJsonApi(API, { action: "validate", settings: JSON.parse(JSON.stringify(config)) });
      this.problems = result.problems || [];
    } catch (error) {
      this.problems = fmt.problemsOf(error).map((message) => ({ field: "settings", message }));
    } finally {
      this.validating = false;
    }
    for (const problem of this.problems.slice(0, 6)) {
      globalThis.toastFrontendError?.(`${problem.field}: ${problem.message}`, `${TITLE} not saved`, 8);
    }
    return this.problems.length === 0;
  },

  async searchModels(query) {
    try {
      const result = await callJsonApi(API, { action: "models", query: query || "" });
      this.models = result.models || [];
      this.hostModels = result.host_models || [];
      for (const entry of this.models) this.prices[entry.model] = entry;
    } catch (_e) {
      this.models = [];
    }
  },

  async describe(names) {
    const wanted = (names || []).filter((n) => n && !(n in this.prices));
    if (!wanted.length) return;
    try {
      const result = await callJsonApi(API, { action: "describe", models: wanted });
      for (const entry of result.models || []) this.prices = { ...this.prices, [entry.model]: entry };
    } catch (_e) {
      // prices are a hint; validation reports unknown models
    }
  },

  priceLine(name) {
    const entry = this.prices[name];
    if (!name) return "";
    if (!entry) return "…";
    if (!entry.known) return "no price known: calls would be unpriced (add it under prices)";
    const window = entry.context_window ? ` · ${fmt.tokens(entry.context_window)} context` : "";
    return `in ${fmt.perMtok(entry.input_per_mtok)} / out ${fmt.perMtok(entry.output_per_mtok)} per 1M tokens${window}`;
  },

  addTier(config) {
    const names = config.tiers.map((t) => t.name);
    const name = ["cheap", "mid", "strong"].find((n) => !names.includes(n)) || `tier${names.length + 1}`;
    config.tiers.push({ name, model: "", use_for: "" });
  },
  addHostTiers(config) {
    const chat = this.hostModels.find((m) => m.role === "chat_model");
    const utility = this.hostModels.find((m) => m.role === "utility_model");
    if (utility) config.tiers.push({ name: "cheap", model: utility.model, use_for: "simple steps, lookups" });
    if (chat) config.tiers.push({ name: "strong", model: chat.model, use_for: "hard reasoning, code" });
    this.describe(config.tiers.map((t) => t.model));
  },
  addBudget(config) {
    config.budgets.push({ scope: "daily", limit_usd: 5, enforcement: "warn", alert_thresholds: [0.5, 0.8, 1.0] });
  },
  addQuota(config) {
    config.quotas.push({ model: "", unit: "requests", period: "day", limit: 1000 });
  },
  remove(list, index) {
    list.splice(index, 1);
  },

  // "50, 80, 100" (percent) <-> [0.5, 0.8, 1.0]; anything not a number is kept as typed so
  // the server names it
  percentsText(values) {
    return (values || []).map((v) => (typeof v === "number" ? +(v * 100).toFixed(2) : v)).join(", ");
  },
  parsePercents(text) {
    return String(text)
      .split(/[\s,;]+/)
      .filter(Boolean)
      .map((part) => {
        const number = Number(part.replace(/%$/, ""));
        return Number.isFinite(number) ? +(number / 100).toFixed(6) : part;
      });
  },

  // a quota names a model or a provider: switch which key holds the value
  quotaTarget(quota) {
    return "provider" in quota ? "provider" : "model";
  },
  setQuotaTarget(quota, target) {
    const value = quota.model ?? quota.provider ?? "";
    delete quota.model;
    delete quota.provider;
    quota[target] = value;
  },
  optionalModel(budget, value) {
    if (value && value.trim()) budget.model = value.trim();
    else delete budget.model;
  },
};

export const store = createStore("agentRoutingSettings", model);
