"""`linewatch simulate` (a production line for demos and tests) and `linewatch browse URL`.

Only typer and the standard library are imported here; asyncua, paho and numpy are imported
inside the commands so that the CLI starts fast.
"""

from __future__ import annotations

import os
import sys
from enum import StrEnum
from pathlib import Path
from typing import Annotated, NoReturn

import typer

PASSWORD_ENV = "LINEWATCH_SIM_OPCUA_PASSWORD"


class Security(StrEnum):
    none = "none"
    basic256sha256 = "basic256sha256"
    both = "both"


class BrowseFormat(StrEnum):
    tree = "tree"
    toml = "toml"
    json = "json"


def _fail(message: str) -> NoReturn:
    print(f"error: {message}", file=sys.stderr)
    raise typer.Exit(2)


def _quiet_asyncua() -> None:
    import logging

    # asyncua warns at every start about endpoints we deliberately did not configure.
    logging.getLogger("asyncua").setLevel(logging.ERROR)


def simulate(
    scenario: Annotated[
        str, typer.Option(help="Built-in scenario (demo, load:N@HZ) or a .json/.toml file.")
    ] = "demo",
    seed: Annotated[int | None, typer.Option(help="Overrides the scenario's seed.")] = None,
    rate: Annotated[
        float, typer.Option(help="Speed factor: simulated seconds per real second.")
    ] = 1.0,
    opcua: Annotated[bool, typer.Option("--opcua/--no-opcua", help="Serve OPC UA.")] = True,
    opcua_host: Annotated[str, typer.Option(help="Address the OPC UA server binds.")] = "127.0.0.1",
    opcua_port: Annotated[int, typer.Option(help="OPC UA port.")] = 4840,
    opcua_security: Annotated[
        Security, typer.Option(help="OPC UA security policy.")
    ] = Security.none,
    opcua_cert: Annotated[Path | None, typer.Option(help="Server certificate (DER/PEM).")] = None,
    opcua_key: Annotated[Path | None, typer.Option(help="Server private key (PEM).")] = None,
    opcua_user: Annotated[
        str | None,
        typer.Option(help=f"Require this user; the password is read from ${PASSWORD_ENV}."),
    ] = None,
    mqtt_host: Annotated[
        str | None, typer.Option(help="Publish JSON to this MQTT broker (off when not given).")
    ] = None,
    mqtt_port: Annotated[int, typer.Option(help="MQTT port.")] = 1883,
    mqtt_prefix: Annotated[
        str, typer.Option(help="Topic prefix: PREFIX/line/station/name.")
    ] = "plant",
    sparkplug: Annotated[
        bool, typer.Option("--sparkplug", help="Also publish Sparkplug B (one edge node per line).")
    ] = False,
    sparkplug_group: Annotated[str, typer.Option(help="Sparkplug B group id.")] = "linewatch",
    duration: Annotated[
        float | None, typer.Option(help="Stop after this many seconds (default: run until Ctrl-C).")
    ] = None,
    max_lag: Annotated[
        float,
        typer.Option(help="Skip samples this many seconds late (a busy machine); 0: never skip."),
    ] = 0.5,
) -> None:
    """Simulate a production line over OPC UA, MQTT JSON and Sparkplug B."""
    import asyncio

    from collector.simulator.app import SimulateOptions
    from collector.simulator.app import simulate as run
    from collector.simulator.scenario import ScenarioError, load_scenario

    if rate <= 0:
        _fail(f"--rate must be > 0, got {rate}")
    if max_lag < 0:
        _fail(f"--max-lag must be >= 0, got {max_lag}")
    if not 0 < opcua_port < 65536 or not 0 < mqtt_port < 65536:
        _fail("ports must be between 1 and 65535")
    if sparkplug and mqtt_host is None:
        mqtt_host = "127.0.0.1"
    users: dict[str, str] = {}
    if opcua_user is not None:
        password = os.environ.get(PASSWORD_ENV)
        if not password:
            _fail(f"--opcua-user needs the password in ${PASSWORD_ENV}")
        users[opcua_user] = password
    if opcua_security != Security.none and (opcua_cert is None or opcua_key is None):
        _fail(f"--opcua-security {opcua_security.value} needs --opcua-cert and --opcua-key")
    try:
        loaded = load_scenario(scenario)
    except ScenarioError as exc:
        _fail(str(exc))
    if not opcua and mqtt_host is None:
        _fail("nothing to publish: give --mqtt-host or leave OPC UA on")
    options = SimulateOptions(
        scenario=loaded,
        seed=seed,
        rate=rate,
        opcua=opcua,
        opcua_host=opcua_host,
        opcua_port=opcua_port,
        opcua_security=opcua_security.value,
        opcua_cert=opcua_cert,
        opcua_key=opcua_key,
        opcua_users=users,
        mqtt_host=mqtt_host,
        mqtt_port=mqtt_port,
        mqtt_prefix=mqtt_prefix,
        sparkplug=sparkplug,
        sparkplug_group=sparkplug_group,
        duration=duration,
        max_lag=max_lag or None,
    )
    _quiet_asyncua()
    try:
        published = asyncio.run(run(options))
    except OSError as exc:
        _fail(f"cannot start: {exc}")
    except ModuleNotFoundError as exc:
        _fail(f"missing module {exc.name}: install linewatch[collector]")
    print(f"published {published} samples", file=sys.stderr)


def browse(
    url: Annotated[str, typer.Argument(help="Server endpoint, e.g. opc.tcp://host:4840")],
    output: Annotated[
        BrowseFormat, typer.Option("--format", help="tree, toml (a config section) or json.")
    ] = BrowseFormat.tree,
    depth: Annotated[int, typer.Option(help="How deep below Objects.")] = 8,
    max_nodes: Annotated[int, typer.Option(help="Stop after this many nodes.")] = 5000,
    all_nodes: Annotated[
        bool, typer.Option("--all", help="Include the standard Server object (ns=0).")
    ] = False,
    timeout: Annotated[float, typer.Option(help="Seconds to wait for the server.")] = 10.0,
    security_policy: Annotated[str, typer.Option(help="None or Basic256Sha256.")] = "None",
    security_mode: Annotated[str, typer.Option(help="Sign or SignAndEncrypt.")] = "SignAndEncrypt",
    certificate: Annotated[Path | None, typer.Option(help="Client certificate.")] = None,
    private_key: Annotated[Path | None, typer.Option(help="Client private key.")] = None,
    username: Annotated[str | None, typer.Option(help="User name.")] = None,
    password_env: Annotated[
        str | None, typer.Option(help="Name of the environment variable holding the password.")
    ] = None,
) -> None:
    """Print an OPC UA server's address space (or a config section for it)."""
    import asyncio

    if not url.startswith("opc.tcp://"):
        _fail(f"not an OPC UA endpoint (opc.tcp://host:port): {url}")
    if depth < 1 or max_nodes < 1 or timeout <= 0:
        _fail("--depth, --max-nodes and --timeout must be positive")
    password = None
    if password_env is not None:
        password = os.environ.get(password_env)
        if password is None:
            _fail(f"environment variable {password_env} is not set")

    from collector.browse import browse_endpoint, render_json, render_toml, render_tree
    from collector.sources.opcua.security import SecurityConfigError

    _quiet_asyncua()
    try:
        nodes = asyncio.run(
            browse_endpoint(
                url,
                max_depth=depth,
                max_nodes=max_nodes,
                include_standard=all_nodes,
                timeout=timeout,
                security_policy=security_policy,
                security_mode=security_mode,
                certificate=certificate,
                private_key=private_key,
                username=username,
                password=password,
            )
        )
    except SecurityConfigError as exc:
        _fail(str(exc))
    except (TimeoutError, OSError) as exc:
        _fail(f"cannot reach {url}: {exc or type(exc).__name__}")
    except Exception as exc:  # asyncua's status-code errors (bad user, bad policy, ...)
        _fail(f"{url}: {type(exc).__name__}: {exc}")
    if output == BrowseFormat.toml:
        sys.stdout.write(render_toml(nodes, url))
    elif output == BrowseFormat.json:
        sys.stdout.write(render_json(nodes))
    else:
        sys.stdout.write(render_tree(nodes, url))


def register(app: typer.Typer) -> None:
    app.command("simulate")(simulate)
    app.command("browse")(browse)


def main() -> None:
    """`python -m collector.simulator`: the same commands without the linewatch root."""
    app = typer.Typer(add_completion=False, no_args_is_help=True, pretty_exceptions_enable=False)
    register(app)
    app()
