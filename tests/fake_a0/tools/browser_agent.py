from helpers import host_version
from helpers.tool import Response, Tool


class BrowserAgent(Tool):
    """v1.7: like the browser plugin, it drives its own model, outside the chat/utility hooks.
    v2: a direct (Playwright) tool of the main agent, no model of its own."""

    async def execute(self, message="", **kwargs):
        if host_version.is_v2():
            return Response(message=f"opened: {message}", break_loop=False)
        model = self.agent.get_browser_model()
        answer, _ = await model.unified_call(
            system_message="You control a browser.", user_message=message
        )
        return Response(message=answer, break_loop=False)
