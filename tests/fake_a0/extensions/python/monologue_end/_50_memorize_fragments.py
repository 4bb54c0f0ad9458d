from helpers.defer import DeferredTask
from helpers.extension import Extension
from helpers.history import output_text


class MemorizeFragments(Extension):
    """Memorisation: a utility call in a background task (its own loop, closed after)."""

    async def execute(self, loop_data=None, **kwargs):
        if not self.agent or self.agent.number != 0:
            return
        agent = self.agent
        text = output_text(agent.history.output())
        task = DeferredTask(thread_name="memorize").start_task(
            agent.call_utility_model,
            system=agent.read_prompt("memory.memories_sum.sys.md"),
            message=text,
            background=True,
        )
        agent.context.background_tasks.append(task)
