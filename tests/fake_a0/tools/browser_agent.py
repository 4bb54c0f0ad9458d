from helpers.tool import Response, Tool


class BrowserAgent(Tool):
    """Like the browser plugin: it drives its own model, outside the chat/utility hooks."""

    async def execute(self, message="", **kwargs):
        model = self.agent.get_browser_model()
        answer, _ = await model.unified_call(
            system_message="You control a browser.", user_message=message
        )
        return Response(message=answer, break_loop=False)
