"""Compress the main call's prompt for the model it is routed to (new lists, never in place)."""

from helpers.extension import Extension

try:
    from agent_routing.host import compress, failures
except ImportError:  # agent-routing is not installed in Agent Zero's Python: stay inert
    compress = None


class AgentRoutingCompress(Extension):
    async def execute(self, loop_data=None, **kwargs):
        if not self.agent or compress is None:
            return
        try:
            await compress.compress_prompt(self.agent, loop_data)
        except Exception:
            failures.log_failure(self.agent, "message_loop_prompts_after")
