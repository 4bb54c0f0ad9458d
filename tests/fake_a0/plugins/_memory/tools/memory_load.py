from helpers.tool import Response, Tool
from plugins._memory.helpers.memory import Memory


class MemoryLoad(Tool):
    """Searches memory: one embedding of the query with the plugin's shared embedder."""

    async def execute(self, query="", **kwargs):
        found = Memory.search(self.agent, str(query))
        return Response(message="\n".join(found) or "No memories found.", break_loop=False)
