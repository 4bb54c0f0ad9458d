"""v2 `parallel` tool jobs: each runs in a context of its own whose data names the parent chat
(PARALLEL_WORKER_PARENT_CONTEXT_KEY), on its own loop thread. A tool job runs the tool in a
background context; a `call_subordinate` job is an isolated child chat (a USER context whose
agent 0 runs a monologue on the message, no superior, no tool in progress), its data saying
`_parallel_worker_kind: subordinate` (v2 `helpers/parallel_tools.py`)."""

from __future__ import annotations

import asyncio
import json
from typing import Any

from helpers.defer import DeferredTask
from helpers.extension import call_extensions_async

PARALLEL_WORKER_PARENT_CONTEXT_KEY = "_parallel_parent_context_id"
PARALLEL_WORKER_JOB_KEY = "_parallel_job_id"
PARALLEL_WORKER_KIND_KEY = "_parallel_worker_kind"


async def run_jobs(agent: Any, jobs: list[dict[str, Any]]) -> list[str]:
    tasks = [
        DeferredTask(thread_name=f"parallel-{index}").start_task(
            _run_subordinate_context_job
            if job.get("tool_name") == "call_subordinate"
            else _run_direct_tool_job,
            agent.context.id,
            job,
        )
        for index, job in enumerate(jobs)
    ]
    return list(await asyncio.gather(*(task.result() for task in tasks)))


async def _run_direct_tool_job(parent_context_id: str, job: dict[str, Any]) -> str:
    from agent import AgentContext, AgentContextType, LoopData

    parent = AgentContext.get(parent_context_id)
    assert parent is not None
    worker = AgentContext(parent.config, type=AgentContextType.BACKGROUND)
    worker.set_data(PARALLEL_WORKER_PARENT_CONTEXT_KEY, parent_context_id)
    agent = worker.agent0
    agent.loop_data = LoopData()
    name, args = str(job["tool_name"]), dict(job.get("tool_args") or {})
    tool = agent.get_tool(
        name=name, method=None, args=args, message=json.dumps(job), loop_data=agent.loop_data
    )
    agent.loop_data.current_tool = tool
    try:
        await tool.before_execution(**args)
        await call_extensions_async("tool_execute_before", agent, tool_args=args, tool_name=name)
        response = await tool.execute(**args)
        await call_extensions_async("tool_execute_after", agent, response=response, tool_name=name)
        return str(response.message)
    finally:
        agent.loop_data.current_tool = None


async def _run_subordinate_context_job(parent_context_id: str, job: dict[str, Any]) -> str:
    from agent import AgentContext, AgentContextType, UserMessage

    parent = AgentContext.get(parent_context_id)
    assert parent is not None
    worker = AgentContext(parent.config, type=AgentContextType.USER)
    worker.set_data(PARALLEL_WORKER_PARENT_CONTEXT_KEY, parent_context_id)
    worker.set_data(PARALLEL_WORKER_JOB_KEY, f"job-{worker.id}")
    worker.set_data(PARALLEL_WORKER_KIND_KEY, "subordinate")
    message = str((job.get("tool_args") or {}).get("message") or "")
    worker.agent0.hist_add_user_message(UserMessage(message=message))
    return str(await worker.agent0.monologue())
