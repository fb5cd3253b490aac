"""Helpers of the collector tests: a private Mosquitto, config files, publishers, subprocesses."""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt
from ingest_stub import free_port
from paho.mqtt.enums import CallbackAPIVersion

ROOT = Path(__file__).resolve().parents[2]
PEERS = ROOT / "tests" / "peers"
TOKEN = "test-token"


def port_open(port: int, host: str = "127.0.0.1") -> bool:
    try:
        with socket.create_connection((host, port), timeout=0.5):
            return True
    except OSError:
        return False


def wait_until(predicate: Any, timeout: float, what: str, interval: float = 0.02) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(interval)


def _as_root() -> str:
    """Mosquitto started as root drops to user "mosquitto", which cannot write our temp dir."""
    return "user root\n" if os.geteuid() == 0 else ""


class OwnBroker:
    """A Mosquitto of the test's own, with persistence and a large offline queue; restartable."""

    def __init__(self, workdir: Path, port: int | None = None) -> None:
        exe = shutil.which("mosquitto") or "/usr/sbin/mosquitto"
        if not Path(exe).exists():
            raise AssertionError("mosquitto is not installed (apt-get install mosquitto)")
        self.exe = exe
        self.port = port or free_port()
        self.dir = workdir
        self.dir.mkdir(parents=True, exist_ok=True)
        self.conf = self.dir / "mosquitto.conf"
        self.conf.write_text(
            _as_root() + f"listener {self.port} 127.0.0.1\n"
            "allow_anonymous true\n"
            "persistence true\n"
            f"persistence_location {self.dir}/\n"
            "autosave_interval 1\n"
            "max_queued_messages 1000000\n"
            "max_queued_bytes 0\n"
            "max_inflight_messages 1000\n"
            f"log_dest file {self.dir}/mosquitto.log\n"
        )
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> OwnBroker:
        self.proc = subprocess.Popen(
            [self.exe, "-c", str(self.conf)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        wait_until(lambda: port_open(self.port), 10, f"mosquitto on port {self.port}")
        return self

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)  # saves the persistence file
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        self.proc = None

    def restart(self) -> None:
        self.stop()
        self.start()


def publisher(port: int, host: str = "127.0.0.1", protocol: int = mqtt.MQTTv5) -> mqtt.Client:
    client = mqtt.Client(
        CallbackAPIVersion.VERSION2, client_id=f"pub-{uuid.uuid4().hex[:8]}", protocol=protocol
    )
    client.max_queued_messages_set(0)
    client.max_inflight_messages_set(1000)
    client.connect(host, port)
    client.loop_start()
    return client


def publish_all(client: mqtt.Client, messages: list[tuple[str, Any]], qos: int = 1) -> None:
    infos = []
    for topic, payload in messages:
        data = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
        infos.append(client.publish(topic, data, qos=qos))
    for info in infos:
        info.wait_for_publish(timeout=30)


def config_text(
    *,
    buffer: Path,
    sink_url: str,
    sources: str,
    name: str = "test-collector",
    health: str = "off",
    extra: str = "",
    flush: float = 2.0,
) -> str:
    """A collector TOML: common sections filled for tests, sources given as TOML text."""
    return f"""
[collector]
name = "{name}"
log_format = "json"
shutdown_flush_seconds = {flush}

[buffer]
path = "{buffer}"
{extra}

[sink]
url = "{sink_url}"
token_env = "LINEWATCH_TEST_TOKEN"
batch_wait_ms = 20
retry_initial_ms = 50
retry_max_seconds = 0.5

[health]
listen = "{health}"

{sources}
"""


def mqtt_source(
    port: int,
    topic: str,
    characteristic: str,
    *,
    client_id: str,
    extra: str = "",
    mapping: str = "",
) -> str:
    return f"""
[[mqtt]]
port = {port}
client_id = "{client_id}"
{extra}
  [[mqtt.topics]]
  topic = "{topic}"
  characteristic = "{characteristic}"
  {mapping}
"""


class CollectorProcess:
    """`python -m collector --config FILE` as a child process (for SIGKILL and SIGTERM tests)."""

    def __init__(self, config_path: Path, log_path: Path) -> None:
        self.config_path = config_path
        self.log_path = log_path
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> CollectorProcess:
        env = {**os.environ, "LINEWATCH_TEST_TOKEN": TOKEN, "PYTHONUNBUFFERED": "1"}
        log = open(self.log_path, "ab")  # noqa: SIM115 - closed with the process
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "collector", "--config", str(self.config_path)],
            cwd=ROOT,
            env=env,
            stdout=log,
            stderr=log,
        )
        log.close()
        return self

    def wait_log(self, text: str, timeout: float = 15) -> None:
        wait_until(
            lambda: text in self.log_path.read_text(errors="replace"), timeout, f"log line {text!r}"
        )

    def kill(self) -> None:
        assert self.proc is not None
        self.proc.kill()
        self.proc.wait(10)

    def terminate(self, timeout: float = 30) -> int:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGTERM)
        return self.proc.wait(timeout)

    def ensure_stopped(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)


def make_tls_files(directory: Path) -> dict[str, Path]:
    """A throw-away CA and a server certificate for 127.0.0.1 (cryptography, no network)."""
    import datetime as dt
    import ipaddress

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    directory.mkdir(parents=True, exist_ok=True)
    now = dt.datetime.now(dt.UTC)

    def name(cn: str) -> x509.Name:
        return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])

    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca = (
        x509.CertificateBuilder()
        .subject_name(name("linewatch test CA"))
        .issuer_name(name("linewatch test CA"))
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(ca_key, hashes.SHA256())
    )
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (
        x509.CertificateBuilder()
        .subject_name(name("127.0.0.1"))
        .issuer_name(ca.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .sign(ca_key, hashes.SHA256())
    )
    files = {
        "ca": directory / "ca.pem",
        "cert": directory / "server.pem",
        "key": directory / "server.key",
    }
    files["ca"].write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    files["cert"].write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    files["key"].write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return files


class SecureBroker(OwnBroker):
    """A private Mosquitto with TLS only and a password file (user "collector")."""

    def __init__(self, workdir: Path, password: str) -> None:
        super().__init__(workdir)
        tls = make_tls_files(workdir / "tls")
        self.ca_file = tls["ca"]
        passwd = workdir / "passwd"
        passwd.write_text("")
        subprocess.run(
            ["mosquitto_passwd", "-b", str(passwd), "collector", password],
            check=True,
            capture_output=True,
            timeout=30,
        )
        self.conf.write_text(
            _as_root() + f"listener {self.port} 127.0.0.1\n"
            f"cafile {tls['ca']}\ncertfile {tls['cert']}\nkeyfile {tls['key']}\n"
            "allow_anonymous false\n"
            f"password_file {passwd}\n"
            f"log_dest file {self.dir}/mosquitto.log\n"
        )


class RunningCollector:
    """A Collector on its own event loop in a thread, stoppable like SIGTERM would."""

    def __init__(self, config: Any, **kwargs: Any) -> None:
        from collector.app import Collector

        self.collector = Collector(config, **kwargs)
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop: asyncio.Event | None = None
        self.error: BaseException | None = None
        self._thread = threading.Thread(target=self._main, daemon=True)

    def _main(self) -> None:
        async def run() -> None:
            self._loop = asyncio.get_running_loop()
            self._stop = asyncio.Event()
            await self.collector.run(self._stop)

        try:
            asyncio.run(run())
        except BaseException as exc:  # surfaced by stop()
            self.error = exc

    def start(self, timeout: float = 10.0) -> RunningCollector:
        self._thread.start()
        deadline = time.monotonic() + timeout
        while not self.collector.ready.is_set():
            if self.error is not None:
                raise self.error
            if time.monotonic() > deadline:
                raise TimeoutError("collector did not start")
            time.sleep(0.01)
        return self

    def stop(self, timeout: float = 30.0) -> None:
        if self._loop is not None and self._stop is not None:
            self._loop.call_soon_threadsafe(self._stop.set)
        self._thread.join(timeout)
        if self._thread.is_alive():
            raise TimeoutError("collector did not stop")
        if self.error is not None:
            raise self.error
