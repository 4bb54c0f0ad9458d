from helpers.extension import Extension


class MainPrompt(Extension):
    async def execute(self, system_prompt=None, loop_data=None, **kwargs):
        if not self.agent:
            return
        system_prompt.append(self.agent.read_prompt("agent.system.main.md"))
