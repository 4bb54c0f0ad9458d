from helpers.extension import Extension
from plugins._memory.helpers.memory import Memory


class MemoryInit(Extension):
    """Opens the memory store (first time in the process: probe and knowledge preload)."""

    async def execute(self, loop_data=None, **kwargs):
        if not self.agent:
            return
        Memory.get(self.agent)
