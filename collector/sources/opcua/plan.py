"""Which variables go on which client connection.

The upstream maintainers advise spreading many monitored items over several connections
(ECOSYSTEM.md): one asyncua client decodes its publish responses on one task, and a failing
connection then only stalls its share. A mapping's value node travels with its lot, serial and
subgroup nodes, so that the context of a value always arrives through the same subscription and
can be matched by timestamp; a context node shared by many mappings is monitored once per
connection that needs it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from collector.config import CounterConfig, OpcuaNodeConfig

CONTEXT_FIELDS = ("subgroup", "lot", "serial")


@dataclass(frozen=True, slots=True)
class Target:
    """One `[[opcua.nodes]]` mapping: where a value node's readings go."""

    characteristic: str
    scale: float = 1.0
    offset: float = 0.0
    subgroup: str | None = None
    lot: str | None = None
    serial: str | None = None
    counter: CounterConfig | None = None

    @classmethod
    def from_config(cls, node: OpcuaNodeConfig) -> Target:
        return cls(
            characteristic=node.characteristic,
            scale=node.scale,
            offset=node.offset,
            subgroup=node.subgroup_node_id,
            lot=node.lot_node_id,
            serial=node.serial_node_id,
            counter=node.counter,
        )

    def context_nodes(self) -> list[str]:
        return [n for n in (self.subgroup, self.lot, self.serial) if n is not None]


@dataclass(slots=True)
class ConnectionPlan:
    """The node ids one connection monitors: value nodes (with their targets) and context nodes."""

    index: int
    values: dict[str, list[Target]] = field(default_factory=dict)
    contexts: list[str] = field(default_factory=list)

    def node_ids(self) -> set[str]:
        return set(self.values) | set(self.contexts)


def plan_connections(nodes: Sequence[OpcuaNodeConfig], max_nodes: int) -> list[ConnectionPlan]:
    """Fills connections in config order, each with at most `max_nodes` distinct variables.

    A mapping and its context nodes are never split; a mapping that alone needs more than
    `max_nodes` variables gets a connection of its own.
    """
    if max_nodes < 1:
        raise ValueError(f"max_nodes_per_connection: must be >= 1, got {max_nodes}")
    plans: list[ConnectionPlan] = []
    current = ConnectionPlan(0)
    for node in nodes:
        target = Target.from_config(node)
        unit = {node.node_id, *target.context_nodes()}
        present = current.node_ids()
        if present and len(present | unit) > max_nodes:
            plans.append(current)
            current = ConnectionPlan(len(plans))
        current.values.setdefault(node.node_id, []).append(target)
        for ctx in target.context_nodes():
            if ctx not in current.contexts:
                current.contexts.append(ctx)
    if current.node_ids():
        plans.append(current)
    return plans
