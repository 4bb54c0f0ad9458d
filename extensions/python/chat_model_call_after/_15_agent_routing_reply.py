"""Turn the main reply into outcome signals (misformat, empty, repeated) for the cascade."""

from helpers.extension import Extension

try:
    from agent_routing.host import failures, signals
except ImportError:  # agent-routing is not installed in Agent Zero's Python: stay inert
    signals = None


class AgentRoutingReply(Extension):
    async def execute(self, call_data=None, response=None, **kwargs):
        if not self.agent or signals is None or call_data is None:
            return
        try:
            signals.observe_reply(self.agent, call_data, response or "")
        except Exception:
            failures.log_failure(self.agent, "chat_model_call_after")
