from helpers.parallel_tools import run_jobs
from helpers.tool import Response, Tool


class Parallel(Tool):
    """v2: run tool calls as background jobs in worker contexts, then collect their results."""

    async def execute(self, jobs=None, **kwargs):
        results = await run_jobs(self.agent, list(jobs or []))
        return Response(message="\n".join(results), break_loop=False)
