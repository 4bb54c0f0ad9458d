"""Tag the browser agent's model so its calls land in the ledger with the chat and agent."""

from helpers.extension import Extension

try:
    from agent_routing.config import CallKind
    from agent_routing.host import failures, model_tags
except ImportError:  # agent-routing is not installed in Agent Zero's Python: stay inert
    model_tags = None


class AgentRoutingBrowser(Extension):
    def execute(self, data=None, **kwargs):
        if not self.agent or model_tags is None or data is None:
            return
        try:
            model_tags.tag_model(self.agent, data, CallKind.BROWSER)
        except Exception:
            failures.log_failure(self.agent, "_functions/agent/Agent/get_browser_model/end")
