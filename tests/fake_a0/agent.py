"""AgentContext, Agent, LoopData and the monologue (§3.1, §4, §5.4, §6, §8), v1.7 behaviour."""

from __future__ import annotations

import asyncio
import json
import random
import string
import time
from collections import OrderedDict
from dataclasses import dataclass, field
from enum import Enum
from typing import Any, ClassVar

from helpers import errors, files, host_version, persist_chat
from helpers.defer import DeferredTask
from helpers.extension import call_extensions_async, call_extensions_sync, extensible
from helpers.history import History, Message, output_text
from helpers.log import Log
from helpers.subagents import get_paths
from helpers.tokens import approximate_tokens
from helpers.tool import Tool
from langchain_core.messages import AIMessage, BaseMessage, HumanMessage, SystemMessage

ERROR_RETRY_DELAY_S = 3.0  # the `_error_retry` plugin's pause; tests set it to 0


class AgentContextType(Enum):
    USER = "user"
    TASK = "task"
    BACKGROUND = "background"


@dataclass
class AgentConfig:
    mcp_servers: str
    profile: str = ""
    knowledge_subdirs: list[str] = field(default_factory=lambda: ["default", "custom"])
    additional: dict[str, Any] = field(default_factory=dict)


@dataclass
class UserMessage:
    message: str
    attachments: list[str] = field(default_factory=list)
    system_message: list[str] = field(default_factory=list)
    id: str = ""


class LoopData:
    def __init__(self, **kwargs: Any) -> None:
        self.iteration = -1
        self.system: list[str] = []
        self.user_message: Message | None = None
        self.history_output: list[Any] = []
        self.extras_temporary: OrderedDict[str, Any] = OrderedDict()
        self.extras_persistent: OrderedDict[str, Any] = OrderedDict()
        self.last_response = ""
        self.params_temporary: dict[str, Any] = {}
        self.params_persistent: dict[str, Any] = {}
        self.current_tool: Tool | None = None
        for key, value in kwargs.items():
            setattr(self, key, value)


class AgentContext:
    _contexts: ClassVar[dict[str, AgentContext]] = {}

    def __init__(
        self,
        config: AgentConfig,
        id: str | None = None,
        name: str | None = None,
        type: AgentContextType = AgentContextType.USER,
    ) -> None:
        self.id = id or "".join(random.choices(string.ascii_letters + string.digits, k=8))
        self.name = name
        self.config = config
        self.type = type
        self.data: dict[str, Any] = {}
        self.output_data: dict[str, Any] = {}
        self.log = Log()
        self.paused = False
        self.streaming_agent: Agent | None = None
        self.created_at = time.time()
        self.last_message = self.created_at
        self.background_tasks: list[DeferredTask] = []
        self.task: DeferredTask | None = None
        AgentContext._contexts[self.id] = self
        self.agent0 = Agent(0, config, self)

    @staticmethod
    def get(ctxid: str) -> AgentContext | None:
        return AgentContext._contexts.get(ctxid)

    def get_data(self, key: str) -> Any:
        return self.data.get(key)

    def set_data(self, key: str, value: Any) -> None:
        self.data[key] = value

    def get_agent(self) -> Agent:
        return self.streaming_agent or self.agent0

    def communicate(self, msg: UserMessage) -> DeferredTask:
        """Start one user request on the "AgentContext" loop thread, as the host does.

        The task's result is the final answer, or None when the monologue ended on an error.
        """
        self.last_message = time.time()
        agent = self.get_agent()
        agent.hist_add_user_message(msg)
        self.task = DeferredTask(thread_name="AgentContext").start_task(self._process_chain, agent)
        return self.task

    async def _process_chain(self, agent: Agent) -> str | None:
        try:
            return await agent.monologue()
        except errors.HandledException:
            return None
        finally:
            await call_extensions_async("process_chain_end", self.get_agent(), data={})

    def wait_background(self, timeout: float = 10.0) -> None:
        for task in self.background_tasks:
            task.join(timeout)


class Agent:
    DATA_NAME_SUPERIOR = "_superior"
    DATA_NAME_SUBORDINATE = "_subordinate"
    DATA_NAME_CTX_WINDOW = "ctx_window"

    @extensible
    def __init__(
        self, number: int, config: AgentConfig, context: AgentContext | None = None
    ) -> None:
        self.config = config
        self.context = context or AgentContext(config)
        self.number = number
        self.agent_name = f"A{number}"
        self.history = History(self)
        self.last_user_message: Message | None = None
        self.intervention: UserMessage | None = None
        self.data: dict[str, Any] = {}
        self.loop_data = LoopData()
        call_extensions_sync("agent_init", self)

    def get_data(self, key: str) -> Any:
        return self.data.get(key)

    def set_data(self, key: str, value: Any) -> None:
        self.data[key] = value

    # --- prompts -----------------------------------------------------------------------

    def read_prompt(self, file: str, **kwargs: Any) -> str:
        return files.read_prompt_file(file, get_paths(self, "prompts"), **kwargs)

    def parse_prompt(self, file: str, **kwargs: Any) -> Any:
        return files.parse_file(file, get_paths(self, "prompts"), **kwargs)

    async def get_system_prompt(self, loop_data: LoopData) -> list[str]:
        system_prompt: list[str] = []
        await call_extensions_async(
            "system_prompt", self, system_prompt=system_prompt, loop_data=loop_data
        )
        return system_prompt

    async def prepare_prompt(self, loop_data: LoopData) -> list[BaseMessage]:
        await call_extensions_async("message_loop_prompts_before", self, loop_data=loop_data)
        loop_data.system = await self.get_system_prompt(loop_data)
        loop_data.history_output = self.history.output()
        await call_extensions_async("message_loop_prompts_after", self, loop_data=loop_data)
        messages: list[BaseMessage] = [SystemMessage("\n\n".join(loop_data.system))]
        for item in loop_data.history_output:
            content = (
                item["content"] if isinstance(item["content"], str) else json.dumps(item["content"])
            )
            messages.append(AIMessage(content) if item["ai"] else HumanMessage(content))
        extras = {**loop_data.extras_persistent, **loop_data.extras_temporary}
        if extras:
            messages.append(HumanMessage(json.dumps(extras)))
        loop_data.extras_temporary.clear()
        full_text = output_text(loop_data.history_output) + "\n".join(loop_data.system)
        self.set_data(
            self.DATA_NAME_CTX_WINDOW, {"text": full_text, "tokens": approximate_tokens(full_text)}
        )
        return messages

    # --- history -----------------------------------------------------------------------

    def hist_add_message(self, ai: bool, content: Any, tokens: int = 0, id: str = "") -> Message:
        content_data = {"content": content}
        call_extensions_sync("hist_add_before", self, content_data=content_data, ai=ai)
        return self.history.add_message(ai, content_data["content"], tokens, id)

    def hist_add_user_message(self, message: UserMessage, intervention: bool = False) -> Message:
        self.history.new_topic()
        content = self.parse_prompt(
            "fw.user_message.md", message=message.message, attachments=message.attachments
        )
        msg = self.hist_add_message(False, content)
        self.last_user_message = msg
        return msg

    def hist_add_ai_response(self, message: str, id: str = "") -> Message:
        self.loop_data.last_response = message
        return self.hist_add_message(True, message, id=id)

    def hist_add_warning(self, message: Any, id: str = "") -> Message:
        content = self.parse_prompt("fw.warning.md", message=message)
        return self.hist_add_message(False, content, id=id)

    def hist_add_tool_result(self, tool_name: str, tool_result: str, **kwargs: Any) -> Message:
        data = {
            "tool_name": tool_name,
            "tool_result": tool_result,
            **{k: v for k, v in kwargs.items() if k != "id"},
        }
        call_extensions_sync("hist_add_tool_result", self, data=data)
        return self.hist_add_message(False, data, id=kwargs.get("id", ""))

    # --- models ------------------------------------------------------------------------

    @extensible
    def get_chat_model(self) -> Any:
        return None

    @extensible
    def get_utility_model(self) -> Any:
        return None

    @extensible
    def get_embedding_model(self) -> Any:
        return None

    if not host_version.is_v2():  # v2 removed it (the browser is a tool of the main agent)

        @extensible
        def get_browser_model(self) -> Any:
            return None

    def rate_limiter_callback(self, message: str, key: str, total: int, limit: int) -> bool:
        return False

    async def call_chat_model(
        self,
        messages: list[BaseMessage],
        response_callback: Any = None,
        reasoning_callback: Any = None,
        background: bool = False,
        explicit_caching: bool = True,
    ) -> tuple[str, str]:
        call_data = {
            "model": self.get_chat_model(),
            "messages": messages,
            "response_callback": response_callback,
            "reasoning_callback": reasoning_callback,
            "background": background,
            "explicit_caching": explicit_caching,
        }
        await call_extensions_async("chat_model_call_before", self, call_data=call_data)
        response, reasoning = await call_data["model"].unified_call(
            messages=call_data["messages"],
            reasoning_callback=call_data["reasoning_callback"],
            response_callback=call_data["response_callback"],
            rate_limiter_callback=None if call_data["background"] else self.rate_limiter_callback,
            explicit_caching=call_data["explicit_caching"],
        )
        await call_extensions_async(
            "chat_model_call_after",
            self,
            call_data=call_data,
            response=response,
            reasoning=reasoning,
        )
        return response, reasoning

    @extensible
    async def call_chat_model_turn(
        self,
        messages: list[BaseMessage],
        response_callback: Any = None,
        reasoning_callback: Any = None,
        background: bool = False,
        explicit_caching: bool = True,
    ) -> Any:
        """v2: the main turn (agent-zero-host-v2.md §1); returns the model's LLMResult."""
        model = self.get_chat_model()
        call_data: dict[str, Any] = {
            "model": model,
            "messages": messages,
            "response_callback": response_callback,
            "reasoning_callback": reasoning_callback,
            "background": background,
            "explicit_caching": explicit_caching,
            "a0_responses_function_tools": [],
        }
        state = self.get_data(RESPONSES_STATE_KEY)
        if isinstance(state, dict) and state.get("provider_model_key") == getattr(
            model, "model_name", None
        ):
            call_data["previous_response_id"] = state["response_id"]
            call_data["responses_input_items"] = _input_items(
                self.history.output()[state["history_counter"] :]
            )
        call_data["responses_local_input_items"] = _input_items_of(messages)
        await call_extensions_async("chat_model_call_before", self, call_data=call_data)
        turn_kwargs = {
            "a0_responses_function_tools": call_data.get("a0_responses_function_tools"),
            "responses_local_input_items": call_data.get("responses_local_input_items"),
        }
        for key in (
            "responses_builtin_tools",
            "responses_state",
            "previous_response_id",
            "responses_input_items",
        ):
            if call_data.get(key) is not None:
                turn_kwargs[key] = call_data[key]
        result = await call_data["model"].unified_turn(
            messages=call_data["messages"],
            reasoning_callback=call_data["reasoning_callback"],
            response_callback=call_data["response_callback"],
            rate_limiter_callback=None if call_data["background"] else self.rate_limiter_callback,
            explicit_caching=call_data["explicit_caching"],
            **turn_kwargs,
        )
        await call_extensions_async(
            "chat_model_call_after",
            self,
            call_data=call_data,
            response=result.response,
            reasoning=result.reasoning,
        )
        return result

    def _remember_llm_result_state(self, result: Any) -> None:
        """v2: a Responses turn's id continues the conversation at the provider next step."""
        if not getattr(result, "response_id", ""):
            return
        self.set_data(
            RESPONSES_STATE_KEY,
            {
                "response_id": result.response_id,
                "provider_model_key": result.provider_model_key,
                "history_counter": len(self.history.output()),
            },
        )

    async def call_utility_model(
        self, system: str, message: str, callback: Any = None, background: bool = False
    ) -> str:
        call_data = {
            "model": self.get_utility_model(),
            "system": system,
            "message": message,
            "callback": callback,
            "background": background,
        }
        await call_extensions_async("util_model_call_before", self, call_data=call_data)

        async def stream_callback(chunk: str, total: str) -> None:
            if call_data["callback"]:
                await call_data["callback"](chunk)

        response, _reasoning = await call_data["model"].unified_call(
            system_message=call_data["system"],
            user_message=call_data["message"],
            response_callback=stream_callback if call_data["callback"] else None,
            rate_limiter_callback=None if call_data["background"] else self.rate_limiter_callback,
        )
        await call_extensions_async(
            "util_model_call_after", self, call_data=call_data, response=response
        )
        return response

    # --- the loop ----------------------------------------------------------------------

    async def monologue(self) -> str | None:
        error_retries = 0
        while True:
            try:
                self.loop_data = LoopData(user_message=self.last_user_message)
                await call_extensions_async("monologue_start", self, loop_data=self.loop_data)
                while True:
                    self.context.streaming_agent = self
                    self.loop_data.iteration += 1
                    self.loop_data.params_temporary = {}
                    await call_extensions_async(
                        "message_loop_start", self, loop_data=self.loop_data
                    )
                    try:
                        prompt = await self.prepare_prompt(loop_data=self.loop_data)
                        await call_extensions_async(
                            "before_main_llm_call", self, loop_data=self.loop_data
                        )

                        async def reasoning_callback(chunk: str, full: str) -> None:
                            stream_data = {"chunk": chunk, "full": full}
                            await call_extensions_async(
                                "reasoning_stream_chunk",
                                self,
                                loop_data=self.loop_data,
                                stream_data=stream_data,
                            )

                        async def stream_callback(chunk: str, full: str) -> str | None:
                            stream_data = {"chunk": chunk, "full": full}
                            if "}" not in chunk:  # only a closing brace can complete a call
                                await call_extensions_async(
                                    "response_stream_chunk",
                                    self,
                                    loop_data=self.loop_data,
                                    stream_data=stream_data,
                                )
                                return None
                            await call_extensions_async(
                                "response_stream_chunk",
                                self,
                                loop_data=self.loop_data,
                                stream_data=stream_data,
                            )
                            complete = complete_tool_request(stream_data["full"])
                            if complete is not None:
                                return complete
                            return None

                        llm_result = None
                        if host_version.is_v2():
                            llm_result = await self.call_chat_model_turn(
                                messages=prompt,
                                response_callback=stream_callback,
                                reasoning_callback=reasoning_callback,
                            )
                            agent_response = llm_result.response
                            self.last_llm_result = llm_result  # (tests) what the host got
                        else:
                            agent_response, _reasoning = await self.call_chat_model(
                                messages=prompt,
                                response_callback=stream_callback,
                                reasoning_callback=reasoning_callback,
                            )
                        await call_extensions_async(
                            "reasoning_stream_end", self, loop_data=self.loop_data
                        )
                        await call_extensions_async(
                            "response_stream_end", self, loop_data=self.loop_data
                        )
                        if self.loop_data.last_response == agent_response:
                            self.hist_add_ai_response(agent_response)
                            if llm_result is not None:
                                self._remember_llm_result_state(llm_result)
                            self.hist_add_warning(self.read_prompt("fw.msg_repeat.md"))
                        else:
                            self.hist_add_ai_response(agent_response)
                            if llm_result is not None:
                                self._remember_llm_result_state(llm_result)
                            tools_result = await self.process_tools(agent_response)
                            if tools_result:
                                return tools_result
                    except errors.InterventionException:
                        pass
                    except errors.RepairableException as error:
                        msg = {"message": errors.format_error(error)}
                        await call_extensions_async("error_format", self, msg=msg)
                        self.hist_add_warning(msg["message"])
                    except Exception as error:
                        error_retries = self._critical(error, error_retries)
                        await asyncio.sleep(ERROR_RETRY_DELAY_S)
                    finally:
                        await call_extensions_async(
                            "message_loop_end", self, loop_data=self.loop_data
                        )
            except errors.InterventionException:
                continue
            except Exception as error:  # message_loop_start / monologue_start failures
                error_retries = self._critical(error, error_retries)
                await asyncio.sleep(ERROR_RETRY_DELAY_S)
                continue
            finally:
                self.context.streaming_agent = None
                await call_extensions_async("monologue_end", self, loop_data=self.loop_data)

    def _critical(self, error: Exception, retries: int) -> int:
        """HandledException ends the monologue; others retry once (`_error_retry`), then end it."""
        if isinstance(error, errors.HandledException):
            raise error
        if retries < 1:
            self.context.log.log(
                type="warning",
                heading="Critical error, retrying",
                content=errors.format_error(error),
            )
            return retries + 1
        self.context.log.log(type="error", heading="Error", content=errors.format_error(error))
        raise errors.HandledException(error) from error

    async def process_tools(self, msg: str) -> str | None:
        request = dirty_json_object(msg)
        if request is None:
            self.hist_add_warning(self.read_prompt("fw.msg_misformat.md"))
            return None
        raw_name = request.get("tool_name")
        tool_args = request.get("tool_args")
        if (
            not isinstance(raw_name, str)
            or not raw_name
            or not isinstance(tool_args, dict)
            or not tool_args
        ):
            raise ValueError(
                "Tool request must have a tool_name (type string) "
                "and tool_args (type dictionary) field"
            )
        name, _, method = raw_name.partition(":")
        tool = self.get_tool(
            name=name, method=method or None, args=tool_args, message=msg, loop_data=self.loop_data
        )
        self.loop_data.current_tool = tool
        try:
            await tool.before_execution(**tool_args)
            await call_extensions_async(
                "tool_execute_before", self, tool_args=tool_args or {}, tool_name=name
            )
            response = await tool.execute(**tool_args)
            await call_extensions_async(
                "tool_execute_after", self, response=response, tool_name=name
            )
            await tool.after_execution(response)
            if response.break_loop:
                return response.message
            return None
        finally:
            self.loop_data.current_tool = None

    def get_tool(
        self,
        name: str,
        method: str | None,
        args: dict[str, Any],
        message: str,
        loop_data: LoopData,
        **kwargs: Any,
    ) -> Tool:
        from pathlib import Path

        from helpers.extension import load_module_classes

        for folder in get_paths(self, "tools"):
            candidate = Path(folder) / f"{name}.py"
            if candidate.is_file():
                classes = load_module_classes(candidate, Tool)  # re-imported on every call
                if classes:
                    return classes[0](
                        agent=self,
                        name=name,
                        method=method,
                        args=args,
                        message=message,
                        loop_data=loop_data,
                        **kwargs,
                    )
        from tools.unknown import Unknown

        return Unknown(
            agent=self,
            name=name,
            method=method,
            args=args,
            message=message,
            loop_data=loop_data,
            **kwargs,
        )

    def save(self) -> None:
        persist_chat.save_tmp_chat(self.context)


RESPONSES_STATE_KEY = "responses_state"  # v2: the provider-side conversation of this agent


def _input_items(output: list[Any]) -> list[dict[str, Any]]:
    """v2 Responses input items for history messages (role and text)."""
    return [
        {
            "role": "assistant" if item["ai"] else "user",
            "content": item["content"]
            if isinstance(item["content"], str)
            else json.dumps(item["content"]),
        }
        for item in output
    ]


def _input_items_of(messages: list[BaseMessage]) -> list[dict[str, Any]]:
    roles = {"human": "user", "ai": "assistant", "system": "system"}
    return [{"role": roles.get(m.type, "user"), "content": m.content} for m in messages]


def dirty_json_object(text: str) -> dict[str, Any] | None:
    """The outermost `{...}` of a reply, parsed; None when there is none."""
    start, end = text.find("{"), text.rfind("}")
    if start < 0 or end <= start:
        return None
    try:
        value = json.loads(text[start : end + 1])
    except ValueError:
        return None
    return value if isinstance(value, dict) else None


def complete_tool_request(text: str) -> str | None:
    """v1.7: the first complete, valid tool-call JSON object in a partial stream, else None."""
    start = text.find("{")
    if start < 0:
        return None
    depth, in_string, escaped = 0, False, False
    for index in range(start, len(text)):
        char = text[index]
        if in_string:
            if escaped:
                escaped = False
            elif char == "\\":
                escaped = True
            elif char == '"':
                in_string = False
        elif char == '"':
            in_string = True
        elif char == "{":
            depth += 1
        elif char == "}":
            depth -= 1
            if depth == 0:
                candidate = text[start : index + 1]
                parsed = dirty_json_object(candidate)
                if (
                    parsed
                    and isinstance(parsed.get("tool_name"), str)
                    and isinstance(parsed.get("tool_args"), dict)
                ):
                    return candidate
                return None
    return None
