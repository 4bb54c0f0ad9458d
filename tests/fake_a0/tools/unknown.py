from helpers.tool import Response, Tool


class Unknown(Tool):
    async def execute(self, **kwargs):
        return Response(
            message=f"Tool {self.name} not found. Available tools: see system prompt.",
            break_loop=False,
        )
