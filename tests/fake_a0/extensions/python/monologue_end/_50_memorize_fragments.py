import asyncio

from helpers.defer import DeferredTask
from helpers.extension import Extension
from helpers.history import output_text


class MemorizeFragments(Extension):
    """Memorisation: a utility call in a background task on its own loop thread.

    A real provider answers in seconds, long after the foreground turn has ended and the
    "AgentContext" loop has gone idle; the mock answers at once. So the task first waits for
    the turn to end, which gives the real ordering: litellm's success callback is then queued
    to a logging worker bound to the idle foreground loop and never runs (the behaviour
    measured in Agent Zero v1.7), instead of racing the end of the turn.

    Every agent memorises at the end of its monologue, subordinates included (v1.7 and v2:
    the host's extension has no agent-number check), so a subordinate's memorisation starts
    inside its superior's `call_subordinate` tool and ends after that tool has returned.
    """

    async def execute(self, loop_data=None, **kwargs):
        if not self.agent:
            return
        agent = self.agent
        text = output_text(agent.history.output())
        turn = agent.context.task

        async def memorize():
            for _ in range(1000):  # bounded: at most 10 s
                if turn is None or not turn.is_alive():
                    break
                await asyncio.sleep(0.01)
            await asyncio.sleep(0.05)  # the foreground loop's last callbacks, then idle
            return await agent.call_utility_model(
                system=agent.read_prompt("memory.memories_sum.sys.md"),
                message=text,
                background=True,
            )

        task = DeferredTask(thread_name="memorize").start_task(memorize)
        agent.context.background_tasks.append(task)
