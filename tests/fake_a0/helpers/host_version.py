"""Which Agent Zero the fake plays (rewritten by `tests/fakehost.make_host` in each copy).

- VERSION "1.7": the v1.7 seams (`call_chat_model` -> `unified_call` -> (text, reasoning)).
- VERSION "2": the v2 seams (`call_chat_model_turn` -> `unified_turn` -> `LLMResult`), no
  `Agent.get_browser_model`, the `parallel` tool; API_MODE picks the transport of a model
  without `a0_api_mode` ("chat": Chat Completions, cut at the first tool JSON; "responses":
  `litellm.aresponses`, read to its end, state kept at the provider); USAGE_DRAIN plays the
  later upstream code: `stream_options.include_usage` on streamed chat requests and the
  built-in `_context_window` plugin reading the main stream to its end.
"""

VERSION = "1.7"
API_MODE = "chat"
USAGE_DRAIN = False


def is_v2() -> bool:
    return VERSION.startswith("2")
