"""The Agent Zero side of agent-routing.

The plugin's extension files (`extensions/python/<point>/_NN_agent_routing_*.py`) are thin:
each turns the host's objects into one call of a function here and contains its own
failures. Everything stateful lives in this package (imported normally, so it survives the
host re-executing extension modules on a cache refill) or in agent/context data.
"""
