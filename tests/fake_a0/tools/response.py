from helpers.tool import Response, Tool


class ResponseTool(Tool):
    async def execute(self, **kwargs):
        return Response(
            message=self.args.get("text", self.args.get("message", "")), break_loop=True
        )
