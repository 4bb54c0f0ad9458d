from helpers.extension import Extension


class IterationNo(Extension):
    async def execute(self, loop_data=None, **kwargs):
        if not self.agent:
            return
        self.agent.set_data("iteration_no", (self.agent.get_data("iteration_no") or 0) + 1)
