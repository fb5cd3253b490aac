"""The OPC UA source: the registry's `build(cfg, name)` and the loop that batches into `emit`.

Each connection only appends notifications to its pending list; this loop wakes after every
publish response, drains all connections at once and awaits `emit` with the whole batch, so the
disk buffer commits once per batch rather than once per value. While `emit` waits for the disk,
notifications keep arriving and simply make the next batch larger. OPC UA cannot be asked to hold
data upstream, so a batch the buffer refuses (BufferFull) is counted as dropped and logged.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Sequence
from pathlib import Path

from collector.config import OpcuaSourceConfig, secret_from_env
from collector.logs import get_logger
from collector.sources.base import BufferFull, Emit, Reject, SourceSample
from collector.sources.opcua.connection import (
    ClientFactory,
    Connection,
    OpcuaStats,
    default_client_factory,
)
from collector.sources.opcua.nodeids import parse_node_id
from collector.sources.opcua.plan import ConnectionPlan, plan_connections

log = get_logger("opcua")

MAX_EMIT = 5000  # samples per emit call: bounds one buffer transaction


class OpcuaSource:
    """Subscribes to a server's variables over one or more connections (see `plan`)."""

    def __init__(
        self,
        cfg: OpcuaSourceConfig,
        name: str,
        *,
        client_factory: ClientFactory = default_client_factory,
    ) -> None:
        self.cfg = cfg
        self.name = name
        self.plans: list[ConnectionPlan] = plan_connections(cfg.nodes, cfg.max_nodes_per_connection)
        self.counters = OpcuaStats()
        self.connections: list[Connection] = []
        self._client_factory = client_factory

    def stats(self) -> dict[str, float]:
        """Counters for the collector's /health document."""
        c = self.counters
        return {
            "connections": float(len(self.plans)),
            "connected": float(sum(1 for conn in self.connections if conn.connected.is_set())),
            "notifications": float(c.notifications),
            "samples": float(c.samples),
            "duplicates": float(c.duplicates),
            "rejected": float(c.rejected),
            "dropped_buffer_full": float(c.dropped),
            "connects": float(c.connects),
            "drops": float(c.drops),
            "watchdog_fired": float(c.watchdog_fired),
        }

    async def run(self, emit: Emit, reject: Reject, stop: asyncio.Event) -> None:
        wake = asyncio.Event()
        self.connections = [
            Connection(
                self.cfg,
                plan,
                source=self.name,
                reject=reject,
                wake=wake,
                stats=self.counters,
                client_factory=self._client_factory,
            )
            for plan in self.plans
        ]
        tasks = [
            asyncio.create_task(c.run(stop), name=f"opcua:{c.label}") for c in self.connections
        ]
        stop_task = asyncio.create_task(stop.wait())
        try:
            while not stop.is_set():
                wake_task = asyncio.create_task(wake.wait())
                done, _ = await asyncio.wait(
                    (wake_task, stop_task, *tasks), return_when=asyncio.FIRST_COMPLETED
                )
                wake_task.cancel()
                for task in [t for t in tasks if t in done]:
                    tasks.remove(task)
                    error = task.exception()
                    if error is not None:
                        raise error
                wake.clear()
                await self._emit(emit, self._drain())
        finally:
            stop_task.cancel()
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, stop_task, return_exceptions=True)
            # What was read before the stop still goes to the buffer.
            with contextlib.suppress(BufferFull):
                await self._emit(emit, self._drain())

    def _drain(self) -> list[SourceSample]:
        out: list[SourceSample] = []
        for c in self.connections:
            out.extend(c.drain())
        return out

    async def _emit(self, emit: Emit, samples: Sequence[SourceSample]) -> None:
        for start in range(0, len(samples), MAX_EMIT):
            chunk = samples[start : start + MAX_EMIT]
            try:
                await emit(chunk)
            except BufferFull:
                self.counters.dropped += len(chunk)
                log.warning(
                    "buffer full: opcua samples dropped",
                    extra={
                        "fields": {
                            "source": self.name,
                            "dropped": len(chunk),
                            "total": self.counters.dropped,
                        }
                    },
                )


def check_config(cfg: OpcuaSourceConfig) -> None:
    """What can be checked without the network: node id syntax, files, the password variable."""
    for node in cfg.nodes:
        for text in (node.node_id, node.subgroup_node_id, node.lot_node_id, node.serial_node_id):
            if text is not None:
                parse_node_id(text)
    for path in (cfg.certificate, cfg.private_key, cfg.server_certificate):
        if path is not None and not Path(path).is_file():
            raise ValueError(f"opcua {cfg.endpoint}: no such file: {path}")
    if cfg.password_env is not None and secret_from_env(cfg.password_env) is None:
        raise ValueError(
            f"opcua {cfg.endpoint}: environment variable {cfg.password_env} is not set"
        )


def build(cfg: OpcuaSourceConfig, name: str) -> OpcuaSource:
    """The registry's factory (`collector.sources.registry`)."""
    check_config(cfg)
    return OpcuaSource(cfg, name)
