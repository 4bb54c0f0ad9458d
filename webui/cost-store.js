// The chat cost element's store: this chat's spend, tightest budget, tier, routing savings.
// Refreshed after each step (set_messages_after_loop hook), on chat switch, and every 20 s
// while the page is visible. One store serves both anchors (v2 strip, v1.7 input strip).
import { createStore } from "/js/AlpineStore.js";
import { callJsonApi } from "/js/api.js";
import { money, percent, level } from "/plugins/agent_routing/webui/format.js";

const POLL_MS = 20000;
const DASHBOARD = "/plugins/agent_routing/webui/dashboard.html";

const model = {
  data: null,
  error: "",
  context: "",
  loading: false,
  _timer: null,
  _pending: null,
  _mounted: 0,

  mount() {
    this._mounted += 1;
    if (!this._timer) {
      this._timer = setInterval(() => {
        if (document.visibilityState !== "hidden") this.refresh();
      }, POLL_MS);
    }
    this.refresh();
  },

  unmount() {
    this._mounted = Math.max(0, this._mounted - 1);
    if (!this._mounted && this._timer) {
      clearInterval(this._timer);
      this._timer = null;
    }
  },

  // several refreshes in a burst (a step ends, a chat switch) make one request
  refresh() {
    if (this._pending) return this._pending;
    this._pending = (async () => {
      try {
        await new Promise((r) => setTimeout(r, 150));
        const context = globalThis.getContext?.() || "";
        if (context !== this.context) this.data = null;
        this.context = context;
        if (!context) return;
        this.loading = true;
        this.data = await callJsonApi("/plugins/agent_routing/ui_chat", { context });
        this.error = "";
      } catch (error) {
        this.error = String(error?.message || error);
      } finally {
        this.loading = false;
        this._pending = null;
      }
    })();
    return this._pending;
  },

  get visible() {
    return !!this.data && this.data.calls > 0;
  },
  get spent() {
    if (!this.data) return "";
    const unpriced = this.data.unpriced_calls ? "+" : "";
    return `${money(this.data.spent_usd)}${unpriced}`;
  },
  get budget() {
    return this.data?.budget || null;
  },
  get budgetFraction() {
    return this.budget ? Math.min(1, Math.max(0, this.budget.fraction || 0)) : 0;
  },
  get budgetLevel() {
    return level(this.budget?.fraction);
  },
  get budgetLeft() {
    const b = this.budget;
    if (!b) return "";
    return `${money(b.remaining_usd)} left of ${money(b.limit_usd)} (${b.scope})`;
  },
  get tier() {
    const pin = this.data?.pinned;
    if (pin) return `${pin.tier} (pinned)`;
    return this.data?.tier || "";
  },
  get saved() {
    const r = this.data?.routing;
    if (!r || !r.calls_compared) return "";
    return `saved ${money(r.saved_usd)}`;
  },
  get savedTitle() {
    const r = this.data?.routing;
    if (!r || !r.calls_compared) return "";
    return `All-strong would have cost ${money(r.all_strong_usd)}; this chat cost ${money(r.actual_usd)} (${percent(r.saved_share)} saved over ${r.calls_compared} routed calls)`;
  },
  get title() {
    if (!this.data) return "";
    const d = this.data;
    const parts = [`This chat: ${money(d.spent_usd)} over ${d.calls} calls`];
    if (d.unpriced_calls) parts.push(`${d.unpriced_calls} unpriced call(s) not included`);
    if (this.budget) parts.push(`Tightest budget ${this.budget.key}: ${this.budgetLeft}`);
    if (this.tier) parts.push(`Tier in use: ${this.tier}${d.model ? ` (${d.model})` : ""}`);
    if (this.savedTitle) parts.push(this.savedTitle);
    parts.push("Click for the cost dashboard");
    return parts.join("\n");
  },

  openDashboard() {
    globalThis.openModal?.(DASHBOARD);
  },
};

export const store = createStore("agentRoutingCost", model);
