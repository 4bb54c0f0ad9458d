from helpers import persist_chat
from helpers.extension import Extension


class SaveChat(Extension):
    async def execute(self, loop_data=None, **kwargs):
        if not self.agent:
            return
        persist_chat.save_tmp_chat(self.agent.context)
