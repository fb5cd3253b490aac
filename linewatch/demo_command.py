"""`linewatch demo`: simulator → collector (OPC UA and MQTT) → service → dashboard, one command.

Everything runs on loopback in one process tree: the line simulator (an OPC UA server and an
MQTT publisher), an MQTT broker (amqtt, in a child process, unless `--mqtt-host` names one), a
collector reading line 1 over OPC UA and line 2 over MQTT, the service on SQLite (or
`--database-url`), and the dashboard. The simulator injects a shift and a trend a minute in.
Ctrl-C (or SIGTERM) stops every child.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Annotated

import typer


def register(app: typer.Typer) -> None:
    app.command()(demo)


def _fail(message: str) -> None:
    typer.echo(f"error: {message}", err=True)
    raise typer.Exit(2)


def demo(
    database_url: Annotated[
        str | None,
        typer.Option(help="postgresql://… to run on PostgreSQL (default: SQLite in --workdir)"),
    ] = None,
    port: Annotated[int, typer.Option(help="Service port")] = 8000,
    dashboard_port: Annotated[int, typer.Option(help="Dashboard port")] = 8050,
    workdir: Annotated[
        Path, typer.Option(help="Folder for the demo's database, configs and logs")
    ] = Path("linewatch-demo"),
    mqtt_host: Annotated[
        str | None, typer.Option(help="Use this MQTT broker instead of the embedded one")
    ] = None,
    mqtt_port: Annotated[int, typer.Option(help="Port of --mqtt-host")] = 1883,
    rate: Annotated[float, typer.Option(help="Simulated seconds per real second")] = 1.0,
    duration: Annotated[
        float | None, typer.Option(help="Stop after this many seconds (default: until Ctrl-C)")
    ] = None,
    keep_data: Annotated[
        bool, typer.Option(help="Keep the previous run's SQLite database and buffer")
    ] = False,
) -> None:
    """Run the whole product on this machine: simulator, collector, service, dashboard."""
    import os
    import signal
    import sys
    import time

    from collector.simulator.builtin import demo_scenario
    from linewatch.demo import plan
    from linewatch.demo.supervisor import DemoError, Supervisor, free_port, port_free

    if rate <= 0:
        _fail(f"--rate must be > 0, got {rate}")
    for name, value in (("--port", port), ("--dashboard-port", dashboard_port)):
        if not port_free(value):
            _fail(f"{name} {value} is in use; pick another with {name}")
    workdir = workdir.resolve()
    workdir.mkdir(parents=True, exist_ok=True)
    if not keep_data:
        for pattern in ("demo.db*", "buffer.db*"):
            for path in workdir.glob(pattern):
                path.unlink()
    db_url = database_url or f"sqlite:///{workdir / 'demo.db'}"
    embedded_broker = mqtt_host is None
    ports = plan.Ports(
        service=port,
        dashboard=dashboard_port,
        opcua=free_port(),
        mqtt=free_port() if embedded_broker else mqtt_port,
        collector_health=free_port(),
    )
    scenario = demo_scenario()
    (workdir / "linewatch.toml").write_text(plan.service_config(scenario))
    (workdir / "collector.toml").write_text(
        plan.collector_config(scenario, ports=ports, buffer_path=str(workdir / "buffer.db"))
    )
    env = {
        **os.environ,
        "LINEWATCH_DATABASE_URL": db_url,
        "LINEWATCH_CONFIG_FILE": str(workdir / "linewatch.toml"),
        "PYTHONUNBUFFERED": "1",
    }
    sup = Supervisor(workdir, env)

    def _terminate(signum: int, frame: object) -> None:
        raise KeyboardInterrupt

    # Both, explicitly: a shell starts background jobs with SIGINT ignored, and Python keeps an
    # ignored SIGINT ignored unless a handler is installed.
    signal.signal(signal.SIGTERM, _terminate)
    signal.signal(signal.SIGINT, _terminate)
    try:
        sup.run("db", "upgrade", "--database-url", db_url)
        admin = sup.run("token", "create", "--role", "admin", "--name", "demo-admin",
                        "--database-url", db_url)  # fmt: skip
        collector_token = sup.run("token", "create", "--role", "operator",
                                  "--name", "demo-collector", "--database-url", db_url)  # fmt: skip
        if embedded_broker:
            (workdir / "broker.yaml").write_text(plan.broker_config(ports.mqtt))
            amqtt = shutil.which("amqtt", path=str(Path(sys.executable).parent)) or "amqtt"
            broker = sup.start("broker", [amqtt, "-c", str(workdir / "broker.yaml")])
            sup.wait_port(broker, ports.mqtt)
        service = sup.linewatch("service", "serve", "--port", str(port),
                                "--database-url", db_url)  # fmt: skip
        sup.wait_http(service, f"http://127.0.0.1:{port}/health", timeout=90)
        simulator = sup.linewatch(
            "simulator", "simulate", "--scenario", "demo", "--rate", str(rate),
            "--opcua-port", str(ports.opcua), "--mqtt-host", mqtt_host or "127.0.0.1",
            "--mqtt-port", str(ports.mqtt),
        )  # fmt: skip
        sup.wait_port(simulator, ports.opcua, timeout=60)
        sup.linewatch("collector", "collect", "--config", str(workdir / "collector.toml"),
                      env={"LINEWATCH_TOKEN": collector_token})  # fmt: skip
        dashboard = sup.linewatch(
            "dashboard", "dashboard", "--api-url", f"http://127.0.0.1:{port}",
            "--port", str(dashboard_port),
        )  # fmt: skip
        sup.wait_http(dashboard, f"http://127.0.0.1:{dashboard_port}/", timeout=90)
        typer.echo(
            "\nLinewatch demo is running.\n"
            f"  dashboard    http://127.0.0.1:{dashboard_port}/\n"
            f"  API          http://127.0.0.1:{port}/docs\n"
            f"  admin token  {admin}\n"
            f"  database     {db_url}\n"
            f"  logs         {workdir}\n"
            "A mean shift (line1.op20.torque) and a trend (line2.op10.fill_weight) start about "
            f"{60 / rate:.0f} s in.\nPress Ctrl-C to stop.",
        )
        started = time.monotonic()
        while duration is None or time.monotonic() - started < duration:
            sup.check_alive()
            time.sleep(0.5)
    except KeyboardInterrupt:
        typer.echo("\nstopping…", err=True)
    except DemoError as exc:
        sup.stop()
        _fail(str(exc))
    finally:
        sup.stop()
    typer.echo("demo stopped", err=True)
