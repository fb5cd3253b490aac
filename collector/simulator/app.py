"""Wires the line model to its servers and publishers for `linewatch simulate`."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import sys
from dataclasses import dataclass, field
from pathlib import Path

from collector.simulator.line import Line
from collector.simulator.runner import Publisher, RunStats, run_simulation
from collector.simulator.scenario import Scenario

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class SimulateOptions:
    scenario: Scenario
    seed: int | None = None
    rate: float = 1.0
    opcua: bool = True
    opcua_host: str = "127.0.0.1"
    opcua_port: int = 4840
    opcua_security: str = "none"
    opcua_cert: Path | None = None
    opcua_key: Path | None = None
    opcua_users: dict[str, str] = field(default_factory=dict)
    mqtt_host: str | None = None
    mqtt_port: int = 1883
    mqtt_prefix: str = "plant"
    sparkplug: bool = False
    sparkplug_group: str = "linewatch"
    duration: float | None = None
    max_lag: float | None = 0.5


def build_publishers(options: SimulateOptions) -> list[Publisher]:
    specs = options.scenario.characteristics
    publishers: list[Publisher] = []
    if options.opcua:
        from collector.simulator.opcua_server import LineOpcUaServer

        publishers.append(
            LineOpcUaServer(
                specs,
                host=options.opcua_host,
                port=options.opcua_port,
                security=options.opcua_security,
                certificate=options.opcua_cert,
                private_key=options.opcua_key,
                users=options.opcua_users or None,
            )
        )
    if options.mqtt_host is not None:
        from collector.simulator.mqtt_publisher import MqttJsonPublisher

        publishers.append(
            MqttJsonPublisher(options.mqtt_host, options.mqtt_port, prefix=options.mqtt_prefix)
        )
        if options.sparkplug:
            from collector.simulator.sparkplug_publisher import SparkplugPublisher

            publishers.append(
                SparkplugPublisher(
                    specs,
                    options.mqtt_host,
                    options.mqtt_port,
                    group=options.sparkplug_group,
                )
            )
    return publishers


def _describe(options: SimulateOptions, line: Line, publishers: list[Publisher]) -> None:
    from collector.simulator.opcua_server import LineOpcUaServer

    sc = options.scenario
    print(
        f"simulating {sc.name!r}: {len(line.characteristics)} characteristics, seed {line.seed},"
        f" speed ×{line.speed:g}",
        file=sys.stderr,
    )
    for p in publishers:
        if isinstance(p, LineOpcUaServer):
            example = p.node_id(line.characteristics[0].key)
            print(f"  OPC UA  {p.endpoint}  (e.g. {example})", file=sys.stderr)
    if options.mqtt_host is not None:
        first = line.characteristics[0].key.replace(".", "/")
        print(
            f"  MQTT    {options.mqtt_host}:{options.mqtt_port}  {options.mqtt_prefix}/{first}",
            file=sys.stderr,
        )
        if options.sparkplug:
            print(
                f"  Sparkplug B  spBv1.0/{options.sparkplug_group}/DDATA/<line>/<station>",
                file=sys.stderr,
            )


async def simulate(options: SimulateOptions) -> int:
    """Runs the simulator until SIGINT/SIGTERM (or `duration`); returns the samples published."""
    publishers = build_publishers(options)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(sig, stop.set)
    started: list[Publisher] = []
    try:
        for p in publishers:
            await p.start()
            started.append(p)
        # The line starts once everything listens, so the first tick is not a backlog.
        line = Line.from_scenario(options.scenario, seed=options.seed, speed=options.rate)
        _describe(options, line, publishers)
        stats = RunStats()
        published = await run_simulation(
            line, publishers, stop, duration=options.duration, max_lag=options.max_lag, stats=stats
        )
        if stats.skipped:
            print(f"skipped {stats.skipped} late samples (machine too busy)", file=sys.stderr)
        return published
    finally:
        for p in reversed(started):
            with contextlib.suppress(Exception):
                await p.stop()
