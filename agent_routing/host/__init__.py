"""The Agent Zero side of agent-routing.

The plugin's extension files (`extensions/python/<point>/_NN_agent_routing_*.py`) are thin:
each turns the host's objects into one call of a function here and contains its own
failures. Everything stateful lives in this package (imported normally, so it survives the
host re-executing extension modules on a cache refill) or in agent/context data.

Public modules (what the plugin files and the installer import): `routing`, `signals`,
`call_scope`, `compress`, `prompts`, `switch`, `failures`, `api_http`, `ui_api` and
`layout`. The `_*` modules are internal: `_runtime` (the per-process PluginRuntime),
`_state`, `_attribution`, `_messages`, `_routed_model`, `_provider_state`,
`_context_size`, `_tiers`, `_duel`, `_notify`, `_stream_usage` (asking streams for usage)
and `_api` (the cost API's handlers).
"""
