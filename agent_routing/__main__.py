"""`python -m agent_routing` runs the command line (the same as `agent-routing`)."""

from agent_routing.cli import main

main(prog_name="agent-routing")
