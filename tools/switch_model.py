"""switch_model: the agent picks a model tier for the rest of the chat, or hands back to auto."""

from helpers.tool import Response, Tool

try:
    from agent_routing.host import failures, switch
except ImportError:  # agent-routing is not installed in Agent Zero's Python
    switch = None


class SwitchModel(Tool):
    async def execute(self, **kwargs):
        if switch is None:
            return Response(
                message="switch_model is unavailable: agent-routing is not installed.",
                break_loop=False,
            )
        try:
            message = await switch.switch_model(self.agent, dict(self.args or {}))
        except Exception:
            failures.log_failure(self.agent, "switch_model")
            message = "switch_model failed; the model choice is unchanged. Continue the task."
        return Response(message=message, break_loop=False)
