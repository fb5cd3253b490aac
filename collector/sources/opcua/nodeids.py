"""Node ids as written in the config, resolved against the server's namespace array.

Configs may name a namespace by URI (`nsu=urn:acme:line1;s=Bore`) because namespace indexes are
only stable within one server run (OPC UA Part 3, §8.2.3); the index is looked up after every
connect, so a server that reorders its namespaces on restart is still read correctly.
"""

from __future__ import annotations

from asyncua import ua


class NodeIdError(ValueError):
    """A node id that cannot be parsed or whose namespace URI the server does not know."""


def parse_node_id(text: str) -> ua.NodeId:
    """Parses `ns=2;s=...`, `nsu=URI;i=...`, `i=2258`, ... (an ExpandedNodeId keeps its URI)."""
    try:
        return ua.NodeId.from_string(text)
    except Exception as exc:  # asyncua raises its own parsing error types
        raise NodeIdError(f"invalid node id {text!r}: {exc}") from None


def resolve_node_id(text: str, namespaces: list[str]) -> ua.NodeId:
    """A plain NodeId whose namespace index points into `namespaces` (the server's array)."""
    node_id = parse_node_id(text)
    uri = getattr(node_id, "NamespaceUri", None)
    if uri is None:
        return ua.NodeId(node_id.Identifier, node_id.NamespaceIndex, node_id.NodeIdType)
    try:
        index = namespaces.index(uri)
    except ValueError:
        raise NodeIdError(f"node id {text!r}: the server has no namespace {uri!r}") from None
    return ua.NodeId(node_id.Identifier, index, node_id.NodeIdType)
