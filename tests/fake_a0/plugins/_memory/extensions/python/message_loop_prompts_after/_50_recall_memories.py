from helpers.extension import Extension
from plugins._memory.helpers.memory import Memory


class RecallMemories(Extension):
    """Memory recall: embeds the user's message with the plugin's shared embedder."""

    async def execute(self, loop_data=None, **kwargs):
        if not self.agent or loop_data.iteration != 0 or loop_data.user_message is None:
            return
        found = Memory.search(self.agent, str(loop_data.user_message.content))
        loop_data.extras_persistent["memories"] = "\n".join(found) or "(no relevant memories)"
