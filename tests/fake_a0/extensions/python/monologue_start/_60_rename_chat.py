from helpers.extension import Extension


class RenameChat(Extension):
    """Chat renaming: a foreground utility call, once per chat."""

    async def execute(self, loop_data=None, **kwargs):
        if not self.agent or self.agent.number != 0 or self.agent.context.name:
            return
        text = str(loop_data.user_message.content if loop_data.user_message else "")
        self.agent.context.name = (
            await self.agent.call_utility_model(
                system=self.agent.read_prompt("fw.rename_chat.sys.md"), message=text
            )
        ).strip()
