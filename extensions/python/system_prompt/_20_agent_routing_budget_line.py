"""Tell the agent its remaining budget in one line (opt-in: budget_in_system_prompt)."""

from helpers.extension import Extension

try:
    from agent_routing.host import failures, prompts
except ImportError:  # agent-routing is not installed in Agent Zero's Python: stay inert
    prompts = None


class AgentRoutingBudgetLine(Extension):
    async def execute(self, system_prompt=None, loop_data=None, **kwargs):
        if not self.agent or prompts is None or system_prompt is None:
            return
        try:
            await prompts.add_budget_line(self.agent, system_prompt)
        except Exception:
            failures.log_failure(self.agent, "system_prompt")
