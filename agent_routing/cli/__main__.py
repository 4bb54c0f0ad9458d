"""`python -m agent_routing.cli` runs the command line."""

from agent_routing.cli import main

main()
