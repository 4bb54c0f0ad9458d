// The cost dashboard's store. Each section is one request to ui_dashboard (server-side
// aggregation through the report functions), fired in parallel so the page fills in as
// answers arrive; the calls table pages on the server.
import { createStore } from "/js/AlpineStore.js";
import { callJsonApi } from "/js/api.js";
import { stackedBars } from "/plugins/agent_routing/webui/chart.js";
import * as fmt from "/plugins/agent_routing/webui/format.js";

const API = "/plugins/agent_routing/ui_dashboard";
const RANGES = { "7d": 7, "30d": 30, "90d": 90 };

function isoDay(date) {
  const pad = (n) => String(n).padStart(2, "0");
  return `${date.getFullYear()}-${pad(date.getMonth() + 1)}-${pad(date.getDate())}`;
}

const model = {
  fmt,
  range: "7d",
  since: "",
  until: "",
  stack: "model",
  by: "model",
  page: 0,
  pageSize: 25,
  summary: null,
  breakdown: null,
  daily: null,
  budgets: null,
  routing: null,
  calls: null,
  loading: {},
  _generation: 0,

  get tz() {
    return Intl.DateTimeFormat().resolvedOptions().timeZone || "UTC";
  },

  bounds() {
    if (this.range === "custom") return { since: this.since, until: this.until };
    const days = RANGES[this.range] || 30;
    const until = new Date();
    const since = new Date(until.getTime() - (days - 1) * 86400000);
    return { since: isoDay(since), until: isoDay(until) };
  },

  async _section(name, extra = {}) {
    const generation = this._generation;
    this.loading = { ...this.loading, [name]: true };
    try {
      const body = { section: name, tz: this.tz, ...extra };
      if (name !== "budgets") Object.assign(body, this.bounds());
      const result = await callJsonApi(API, body);
      if (generation === this._generation) this[name] = result;
    } catch (error) {
      globalThis.toastFrontendError?.(fmt.problemsOf(error).join("\n"), "Cost dashboard");
    } finally {
      this.loading = { ...this.loading, [name]: false };
    }
  },

  async load() {
    if (this.range === "custom" && (!this.since || !this.until)) {
      globalThis.toastFrontendWarning?.("Pick both dates of the custom range.", "Cost dashboard");
      return;
    }
    this._generation += 1;
    this.page = 0;
    await Promise.all([
      this._section("summary", { by: "model" }),
      this.by === "model" ? Promise.resolve() : this._section("breakdown", { by: this.by }),
      this._section("daily", { stack: this.stack }),
      this._section("budgets"),
      this._section("routing"),
      this._section("calls", { page: 0, page_size: this.pageSize }),
    ]);
  },

  setRange(range) {
    this.range = range;
    if (range !== "custom") this.load();
  },
  setStack(stack) {
    this.stack = stack;
    this._section("daily", { stack });
  },
  setBy(by) {
    this.by = by;
    if (by !== "model") this._section("breakdown", { by });
  },
  async goto(page) {
    if (page < 0) return;
    this.page = page;
    await this._section("calls", { page, page_size: this.pageSize });
  },

  get busy() {
    return Object.values(this.loading).some(Boolean);
  },
  get chart() {
    if (!this.daily || !this.daily.days.length) return "";
    return stackedBars(this.daily);
  },
  get totals() {
    return this.summary?.totals || null;
  },
  // the summary is the model breakdown: no second request for it
  get shownBreakdown() {
    return this.by === "model" ? this.summary : this.breakdown;
  },
  // by conversation the report lists the top chats; the others come summed as `other`
  get groups() {
    const shown = this.shownBreakdown;
    return [...(shown?.groups || []), ...(shown?.other ? [shown.other] : [])];
  },
  share(group) {
    const total = this.shownBreakdown?.totals?.cost_usd || 0;
    return total > 0 && group.cost_usd ? group.cost_usd / total : 0;
  },
  get unpricedModels() {
    const models = this.summary?.unpriced?.models || {};
    return Object.entries(models).map(([model, calls]) => ({ model, calls }));
  },
  budgetText(b) {
    const limit = fmt.money(b.limit_usd);
    if (b.fraction !== null && b.fraction !== undefined) return `${fmt.money(b.spent_usd)} of ${limit}`;
    return b.scope === "call" ? `${limit} per call` : `${limit} per chat (see each chat's element)`;
  },
  // a call without a cost: unpriced if it was served, nothing billed if it failed or was blocked
  callCost(c) {
    if (c.cost_usd !== null && c.cost_usd !== undefined) return fmt.money(c.cost_usd);
    return c.outcome === "ok" || c.outcome === "abandoned" ? "unpriced" : "—";
  },
  budgetFraction(b) {
    return Math.min(1, Math.max(0, b.fraction || 0));
  },
  label(key) {
    return key === "(none)" ? "(none)" : key;
  },
};

export const store = createStore("agentRoutingDashboard", model);
