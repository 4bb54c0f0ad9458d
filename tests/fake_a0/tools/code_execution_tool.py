from helpers.tool import Response, Tool


class CodeExecution(Tool):
    async def execute(self, code="", **kwargs):
        if "raise" in code:
            raise RuntimeError("terminal session crashed")
        if "error" in code:
            return Response(
                message='Traceback (most recent call last):\n  File "<stdin>", line 1\n'
                'NameError: name "x" is not defined',
                break_loop=False,
            )
        return Response(message=f"ran: {code}", break_loop=False)
