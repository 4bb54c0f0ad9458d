"""Fill the switch_model tool prompt with the tiers, before the host collects tool prompts."""

from helpers.extension import Extension

try:
    from agent_routing.host import failures, prompts
except ImportError:  # agent-routing is not installed in Agent Zero's Python: stay inert
    prompts = None


class AgentRoutingToolPrompt(Extension):
    async def execute(self, system_prompt=None, loop_data=None, **kwargs):
        if not self.agent or prompts is None:
            return
        try:
            prompts.register_tool_prompt(self.agent)
        except Exception:
            failures.log_failure(self.agent, "system_prompt")
