// After the host renders new chat messages (a step ended): refresh the cost element.
import { store } from "/plugins/agent_routing/webui/cost-store.js";

export default async function agentRoutingCostRefresh() {
  store.refresh();
}
