"""`python -m collector.simulator simulate ...`: the simulator without the linewatch CLI root."""

from collector.simulator.cli import main

main()
