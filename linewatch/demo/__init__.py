"""`linewatch demo`: the whole product on one machine, in one process tree.

`plan` turns the simulator's built-in plant into the service's and the collector's
configuration (pure); `supervisor` starts and stops the child processes.
"""
