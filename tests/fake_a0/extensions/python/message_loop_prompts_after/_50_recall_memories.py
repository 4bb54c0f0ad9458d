from helpers.extension import Extension


class RecallMemories(Extension):
    """Memory recall: embeds the user's message (a sync litellm.embedding call)."""

    async def execute(self, loop_data=None, **kwargs):
        if not self.agent or loop_data.iteration != 0 or loop_data.user_message is None:
            return
        self.agent.get_embedding_model().embed_query(str(loop_data.user_message.content))
        loop_data.extras_persistent["memories"] = "(no relevant memories)"
