"""`linewatch browse opc.tcp://host:4840`: print a server's address space to help write the config.

Walks the hierarchical references below Objects (the standard Server object is left out unless
asked), reads every variable's data type and current value, and prints either a tree or a
ready-to-edit `[[opcua]]` TOML section: one `[[opcua.nodes]]` per numeric variable, its node id
written with the namespace URI (`nsu=`) because namespace indexes may change when a server
restarts, and children named lot, serial or subgroup wired as its context nodes.
"""

from __future__ import annotations

import asyncio
import json
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

NUMERIC_TYPES = {
    "Boolean", "SByte", "Byte", "Int16", "UInt16", "Int32", "UInt32", "Int64", "UInt64",
    "Float", "Double", "Number", "Integer", "UInteger",
}  # fmt: skip
CONTEXT_NAMES = {"lot": "lot_node_id", "serial": "serial_node_id", "subgroup": "subgroup_node_id"}


@dataclass(frozen=True, slots=True)
class BrowsedNode:
    path: tuple[str, ...]
    node_id: str
    node_id_uri: str
    node_class: str
    data_type: str | None = None
    value: Any = None

    @property
    def depth(self) -> int:
        return len(self.path) - 1

    @property
    def name(self) -> str:
        return self.path[-1]


def _node_id_text(node_id: Any, namespaces: list[str]) -> tuple[str, str]:
    """("ns=2;s=X", "nsu=urn:...;s=X"); namespace 0 ids stay short."""
    from asyncua import ua

    plain = ua.NodeId(node_id.Identifier, node_id.NamespaceIndex, node_id.NodeIdType)
    text = plain.to_string()
    if plain.NamespaceIndex == 0 or plain.NamespaceIndex >= len(namespaces):
        return text, text
    bare = ua.NodeId(plain.Identifier, 0, plain.NodeIdType).to_string()
    return text, f"nsu={namespaces[plain.NamespaceIndex]};{bare}"


def _plain_value(value: Any) -> Any:
    if isinstance(value, bool | int | float | str) or value is None:
        return value
    if isinstance(value, list | tuple):
        return [_plain_value(v) for v in value[:10]]
    return str(value)


async def browse(
    client: Any,
    *,
    max_depth: int = 8,
    max_nodes: int = 5000,
    include_standard: bool = False,
) -> list[BrowsedNode]:
    """Depth-first listing below Objects of a connected asyncua client."""
    from asyncua import ua

    namespaces: list[str] = await client.get_namespace_array()
    out: list[BrowsedNode] = []
    mask = ua.NodeClass.Object | ua.NodeClass.Variable
    seen: set[str] = set()

    async def visit(node: Any, path: tuple[str, ...]) -> None:
        if len(path) > max_depth or len(out) >= max_nodes:
            return
        refs = await node.get_children_descriptions(nodeclassmask=mask)
        for ref in refs:
            if len(out) >= max_nodes:
                return
            nid = ref.NodeId
            if not include_standard and nid.NamespaceIndex == 0:
                continue
            text, uri_text = _node_id_text(nid, namespaces)
            if text in seen:
                continue
            seen.add(text)
            child = client.get_node(ua.NodeId(nid.Identifier, nid.NamespaceIndex, nid.NodeIdType))
            child_path = (*path, ref.BrowseName.Name)
            if ref.NodeClass == ua.NodeClass.Variable:
                data_type, value = await _read_variable(child)
                out.append(BrowsedNode(child_path, text, uri_text, "Variable", data_type, value))
            else:
                out.append(BrowsedNode(child_path, text, uri_text, "Object"))
            await visit(child, child_path)

    await visit(client.nodes.objects, ())
    return out


async def _read_variable(node: Any) -> tuple[str | None, Any]:
    from asyncua import ua

    try:
        dtype, value = await node.read_attributes([ua.AttributeIds.DataType, ua.AttributeIds.Value])
    except Exception:
        return None, None
    type_name = None
    if dtype.Value is not None and dtype.Value.Value is not None:
        type_id = dtype.Value.Value
        if type_id.NamespaceIndex == 0 and isinstance(type_id.Identifier, int):
            type_name = ua.ObjectIdNames.get(type_id.Identifier, type_id.to_string())
        else:
            type_name = type_id.to_string()
    raw = value.Value.Value if value.Value is not None else None
    return type_name, _plain_value(raw)


def render_tree(nodes: list[BrowsedNode], endpoint: str) -> str:
    lines = [f"{endpoint}", "Objects"]
    for n in nodes:
        indent = "  " * (n.depth + 1)
        if n.node_class == "Variable":
            shown = json.dumps(n.value, ensure_ascii=False) if n.value is not None else "null"
            if len(shown) > 40:
                shown = shown[:37] + "..."
            lines.append(f"{indent}{n.name}  [{n.data_type or '?'} = {shown}]  {n.node_id}")
        else:
            lines.append(f"{indent}{n.name}/  {n.node_id}")
    return "\n".join(lines) + "\n"


def render_json(nodes: list[BrowsedNode]) -> str:
    return json.dumps([asdict(n) for n in nodes], ensure_ascii=False, indent=2, default=str) + "\n"


def _toml_str(text: str) -> str:
    return json.dumps(text, ensure_ascii=False)  # a JSON string is a valid TOML basic string


def render_toml(nodes: list[BrowsedNode], endpoint: str) -> str:
    """An `[[opcua]]` section to start from; characteristic keys come from the browse paths."""
    by_path = {n.path: n for n in nodes}
    values = [
        n
        for n in nodes
        if n.node_class == "Variable"
        and n.data_type in NUMERIC_TYPES
        and not (n.name.lower() in CONTEXT_NAMES and n.path[:-1] in by_path)
    ]
    prefix = _common_prefix([n.path[:-1] for n in values])
    lines = [
        "# Generated by `linewatch browse`: rename the characteristics to the keys defined in the",
        "# service, delete the variables you do not want, and see deploy/collector.example.toml.",
        "[[opcua]]",
        f"endpoint = {_toml_str(endpoint)}",
        "",
    ]
    for n in values:
        key = ".".join(p.replace(" ", "_") for p in n.path[len(prefix) :])
        lines += [
            "[[opcua.nodes]]",
            f"node_id = {_toml_str(n.node_id_uri)}",
            f"characteristic = {_toml_str(key)}",
        ]
        for child in nodes:
            field = CONTEXT_NAMES.get(child.name.lower())
            if field and child.path[:-1] == n.path and child.node_class == "Variable":
                lines.append(f"{field} = {_toml_str(child.node_id_uri)}")
        lines.append("")
    return "\n".join(lines)


def _common_prefix(paths: list[tuple[str, ...]]) -> tuple[str, ...]:
    if not paths:
        return ()
    first = paths[0]
    size = 0
    while size < len(first) and all(len(p) > size and p[size] == first[size] for p in paths):
        size += 1
    return first[:size]


async def browse_endpoint(
    endpoint: str,
    *,
    max_depth: int = 8,
    max_nodes: int = 5000,
    include_standard: bool = False,
    timeout: float = 10.0,
    security_policy: str = "None",
    security_mode: str = "SignAndEncrypt",
    certificate: Path | None = None,
    private_key: Path | None = None,
    username: str | None = None,
    password: str | None = None,
) -> list[BrowsedNode]:
    """Connects, browses and disconnects; raises TimeoutError/OSError/ua.UaError on failure."""
    from asyncua import Client

    from collector.sources.opcua.security import apply_security

    client = Client(endpoint, timeout=timeout)
    await apply_security(
        client,
        policy=security_policy,
        mode=security_mode,
        certificate=certificate,
        private_key=private_key,
        username=username,
        password=password,
    )
    await asyncio.wait_for(client.connect(), timeout=timeout)
    try:
        return await browse(
            client, max_depth=max_depth, max_nodes=max_nodes, include_standard=include_standard
        )
    finally:
        try:
            await asyncio.wait_for(client.disconnect(), timeout=timeout)
        except Exception:
            client.disconnect_socket()
