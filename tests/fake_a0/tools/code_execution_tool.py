from helpers.tool import Response, Tool


class CodeExecution(Tool):
    async def execute(self, code="", **kwargs):
        if code.startswith("dump "):  # a long output, e.g. a log file: `dump <lines>`
            lines = int(code.split()[1])
            return Response(
                message="\n".join(
                    f"{n:05d} worker {n % 7} processed batch {n * 31}" for n in range(lines)
                ),
                break_loop=False,
            )
        if "raise" in code:
            raise RuntimeError("terminal session crashed")
        if "error" in code:
            return Response(
                message='Traceback (most recent call last):\n  File "<stdin>", line 1\n'
                'NameError: name "x" is not defined',
                break_loop=False,
            )
        return Response(message=f"ran: {code}", break_loop=False)
