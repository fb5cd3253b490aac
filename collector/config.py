"""The collector's configuration: one strict TOML file (`linewatch collect --config FILE`).

Strict because an edge collector runs unattended for months: a misspelt key that silently falls
back to a default (say `sesion_expiry_seconds`) would lose data at the first outage, so every
unknown key is an error naming the key and its line (telegraf's rule). Enum strings instead of
booleans, so that a third policy can be added later without changing the meaning of the old ones.
Secrets never sit in the file: passwords and tokens come from environment variables named here.

Sections (each documented, with its defaults, in `deploy/collector.example.toml`):
`[collector]`, `[buffer]`, `[sink]`, `[health]`, and any number of source sections
`[[mqtt]]`, `[[sparkplug]]`, `[[opcua]]` (see `collector.sources.registry`).

This module is read by the source plugins (`config.opcua[i]` is an `OpcuaSourceConfig`); the field
names below are a contract within the collector.
"""

from __future__ import annotations

import os
import re
import socket
import tomllib
from pathlib import Path
from typing import Annotated, Any, Literal
from urllib.parse import urljoin

from pydantic import (
    BaseModel,
    ByteSize,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from collector.toml_lines import KeyLines

__all__ = [
    "BufferConfig",
    "CollectorConfig",
    "CollectorSection",
    "ConfigError",
    "CounterConfig",
    "HealthConfig",
    "MqttConnectionConfig",
    "MqttSourceConfig",
    "OpcuaNodeConfig",
    "OpcuaSourceConfig",
    "SinkConfig",
    "SparkplugMetricConfig",
    "SparkplugSourceConfig",
    "TopicMappingConfig",
    "load_config",
    "parse_config",
    "secret_from_env",
]

_NAME = r"^[A-Za-z0-9][A-Za-z0-9_.:-]*$"
SourceName = Annotated[str, Field(pattern=_NAME, max_length=64)]
Finite = Annotated[float, Field(allow_inf_nan=False)]


class ConfigError(ValueError):
    """A configuration that cannot run; the message names the file, line and key."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


# ---------------------------------------------------------------- collector-wide sections


class CollectorSection(_Strict):
    """`[collector]`: identity and process behaviour."""

    name: SourceName = Field(default_factory=lambda: _hostname())
    """The `source` of every reading sent; with `seq` it makes replays idempotent in the service.
    Must be unique among the collectors feeding one service."""
    log_level: Literal["debug", "info", "warning", "error"] = "info"
    log_format: Literal["json", "text"] = "json"
    shutdown_flush_seconds: Annotated[float, Field(ge=0, le=600)] = 10.0
    """On SIGTERM, how long to keep forwarding the buffer before exiting (the rest stays)."""


class BufferConfig(_Strict):
    """`[buffer]`: the SQLite store-and-forward buffer every reading passes through."""

    path: Path = Path("linewatch-buffer.db")
    max_bytes: ByteSize = Field(default=ByteSize(1 << 30), ge=1 << 20)
    """Bound on the readings waiting to be forwarded (stored size), e.g. 1073741824 or "1GiB"."""
    when_full: Literal["stop-acknowledging", "drop-oldest", "drop-newest"] = "stop-acknowledging"
    """stop-acknowledging: keep the oldest, refuse new readings; MQTT then stops acknowledging, so
    the broker keeps them in the session. drop-oldest: delete the oldest waiting readings to make
    room. drop-newest: discard the new readings (and acknowledge them). Drops are counted."""
    dead_letter_max_rows: Annotated[int, Field(ge=0)] = 100_000
    """Readings the service rejected are kept in a dead-letter table, the newest this many."""
    synchronous: Literal["normal", "full"] = "normal"
    """normal: a committed batch survives a crash of the collector (SIGKILL), not a power cut;
    full: it survives a power cut too (an fsync per batch, several times slower on most disks)."""


class SinkConfig(_Strict):
    """`[sink]`: the HTTP forwarder to the service's ingest endpoint."""

    url: Annotated[str, Field(pattern=r"^https?://")] = "http://127.0.0.1:8000/api/v1/measurements"
    token_env: str | None = "LINEWATCH_TOKEN"
    """Name of the environment variable holding the bearer token."""
    token_file: Path | None = None
    """File holding the bearer token (read at start); wins over token_env when set."""
    batch_size: Annotated[int, Field(ge=1, le=50_000)] = 1000
    batch_wait_ms: Annotated[int, Field(ge=0, le=60_000)] = 200
    """A batch leaves when it has batch_size readings or its first reading waited this long."""
    compression: Literal["gzip", "none"] = "gzip"
    timeout_seconds: Annotated[float, Field(gt=0, le=600)] = 10.0
    retry_initial_ms: Annotated[int, Field(ge=1)] = 200
    retry_max_seconds: Annotated[float, Field(gt=0)] = 30.0
    auth_retry_seconds: Annotated[float, Field(gt=0)] = 60.0
    """After 401/403 forwarding stops; it is tried again this often (the token may be fixed)."""
    tls: Literal["verify", "insecure"] = "verify"
    ca_file: Path | None = None
    defects_url: Annotated[str, Field(pattern=r"^https?://")] | None = None
    good_units_url: Annotated[str, Field(pattern=r"^https?://")] | None = None
    """Where counter events go; default: "defects" / "good-units" next to `url`."""

    def counter_url(self, kind: str) -> str:
        """The endpoint of counter events of `kind` ("defects" or "good-units")."""
        given = self.defects_url if kind == "defects" else self.good_units_url
        return given or urljoin(self.url, kind)


class HealthConfig(_Strict):
    """`[health]`: the `/health` and Prometheus `/metrics` HTTP port."""

    listen: str = "127.0.0.1:9108"
    """host:port, or "off"."""

    @field_validator("listen")
    @classmethod
    def _host_port(cls, v: str) -> str:
        if v == "off":
            return v
        host, sep, port = v.rpartition(":")
        if not sep or not host or not port.isdigit() or not 0 <= int(port) <= 65535:
            raise ValueError('expected "host:port" or "off"')
        return v

    @property
    def address(self) -> tuple[str, int] | None:
        if self.listen == "off":
            return None
        host, _, port = self.listen.rpartition(":")
        return host.strip("[]"), int(port)


# ---------------------------------------------------------------- MQTT and Sparkplug B


class MqttConnectionConfig(_Strict):
    """Broker connection fields shared by `[[mqtt]]` and `[[sparkplug]]`."""

    name: SourceName | None = None
    """Source name in logs and metrics; default "<kind>-<n>". Unique within the collector."""
    host: str = "127.0.0.1"
    port: Annotated[int, Field(ge=1, le=65535)] = 1883
    protocol: Literal["5", "3.1.1"] = "5"
    client_id: Annotated[str, Field(min_length=1, max_length=128)] | None = None
    """Stable id of the persistent session; default "linewatch-<collector.name>-<source name>"."""
    session_expiry_seconds: Annotated[int, Field(ge=0, le=0xFFFFFFFF)] = 7 * 24 * 3600
    """MQTT 5: how long the broker keeps the session (and queues QoS 1 messages) while we are away.
    MQTT 3.1.1 sessions never expire on the client's side."""
    keepalive_seconds: Annotated[int, Field(ge=5, le=65535)] = 30
    username: str | None = None
    password_env: str | None = None
    """Name of the environment variable holding the password (never the password itself)."""
    tls: Literal["off", "on", "insecure"] = "off"
    """on: TLS with certificate verification; insecure: TLS without checking the host name."""
    ca_file: Path | None = None
    cert_file: Path | None = None
    key_file: Path | None = None
    shared_group: Annotated[str, Field(pattern=r"^[^/+#]+$")] | None = None
    """Subscribe as $share/<group>/<topic>: collectors of one group split the topic space."""
    qos: Literal[0, 1] = 1
    max_inflight: Annotated[int, Field(ge=1, le=65535)] = 1000
    """Unacknowledged messages the broker may send us at once (MQTT 5 Receive Maximum)."""
    reconnect_min_seconds: Annotated[float, Field(gt=0)] = 1.0
    reconnect_max_seconds: Annotated[float, Field(gt=0)] = 30.0

    @model_validator(mode="after")
    def _tls_files(self) -> MqttConnectionConfig:
        if (self.cert_file is None) != (self.key_file is None):
            raise ValueError("cert_file and key_file go together")
        if self.tls == "off" and (self.ca_file or self.cert_file):
            raise ValueError('ca_file/cert_file/key_file need tls = "on" or "insecure"')
        return self


_PLACEHOLDER = re.compile(r"\{([^{}]*)\}")


def template_fields(template: str) -> list[str]:
    """The placeholder names of a characteristic template ("line1.{2}.{-1}" -> ["2", "-1"])."""
    return _PLACEHOLDER.findall(template)


class CounterConfig(_Strict):
    """`counter = {...}` on a topic mapping or OPC UA node: the signal is a piece counter.

    Its readings are not measurements: the rise between consecutive values becomes defect
    records (`kind = "defects"`, POST /api/v1/defects) or good-unit counts (`kind =
    "good-units"`, POST /api/v1/good-units). The characteristic names the counter: its last
    value is kept per characteristic in the buffer, so give each counter its own.
    """

    kind: Literal["defects", "good-units"]
    line: Annotated[str, Field(min_length=1)]
    product: Annotated[str, Field(min_length=1)]
    """Line and part number the counted pieces belong to (keys known to the service)."""
    station: Annotated[str, Field(min_length=1)] | None = None
    """defects only: the station that rejected them."""
    defect_code: Annotated[str, Field(min_length=1)] | None = None
    """defects only (required): the defect code of every piece counted."""
    disposition: Annotated[str, Field(min_length=1)] | None = None
    """defects only: their disposition; default "scrap"."""

    @model_validator(mode="after")
    def _fields_of_kind(self) -> CounterConfig:
        if self.kind == "defects" and self.defect_code is None:
            raise ValueError('kind = "defects" needs defect_code')
        if self.kind == "good-units":
            extra = [
                n for n in ("station", "defect_code", "disposition") if getattr(self, n) is not None
            ]
            if extra:
                raise ValueError(f'kind = "good-units" takes no {", ".join(extra)}')
        return self


class TopicMappingConfig(_Strict):
    """`[[mqtt.topics]]`: which topics carry which characteristics, and where the value sits."""

    topic: Annotated[str, Field(min_length=1)]
    """Topic filter, with + and # wildcards."""
    characteristic: Annotated[str, Field(min_length=1)]
    """Template: {N} is topic level N (0-based; {-1} is the last level), {topic} the whole topic,
    {field} the value at characteristic_field. E.g. "{1}.{2}.bore" on plant/line1/op20/bore."""
    characteristic_field: str | None = None
    value: str = "value"
    """Field path of the value: "a.b", "a.b[0].c"; "$" is the payload itself (a bare number)."""
    readings: str | None = None
    """Field path of an array of readings (value and other paths are then relative to each
    element); a payload that is a JSON array is always read as an array of readings."""
    scale: Finite = 1.0
    offset: Finite = 0.0
    """Stored value = raw * scale + offset."""
    timestamp: Literal["payload", "receive"] = "payload"
    timestamp_field: str = "ts"
    timestamp_format: Literal["auto", "iso8601", "unix-s", "unix-ms", "unix-us"] = "auto"
    """auto: a string is ISO 8601, a number is Unix time in s, ms or us judged by its size."""
    subgroup: str | None = None
    lot: str | None = None
    serial: str | None = None
    """Field paths of the optional subgroup/lot/serial of a reading."""
    counter: CounterConfig | None = None
    """Set: the value is a piece counter whose rises become defect or good-unit records."""

    @model_validator(mode="after")
    def _consistent(self) -> TopicMappingConfig:
        levels = self.topic.split("/")
        for i, level in enumerate(levels):
            if ("#" in level and (level != "#" or i != len(levels) - 1)) or (
                "+" in level and level != "+"
            ):
                raise ValueError(f"topic {self.topic!r}: + and # must fill a whole level")
        for name in template_fields(self.characteristic):
            if name in ("topic", "field"):
                continue
            if not re.fullmatch(r"-?\d+", name):
                raise ValueError(
                    f"characteristic {self.characteristic!r}: unknown placeholder {{{name}}}"
                    " (use {N}, {-N}, {topic} or {field})"
                )
            if "#" not in levels and not -len(levels) <= int(name) < len(levels):
                raise ValueError(
                    f"characteristic {self.characteristic!r}: "
                    f"topic {self.topic!r} has no level {name}"
                )
        if "{field}" in self.characteristic and self.characteristic_field is None:
            raise ValueError("characteristic uses {field} but characteristic_field is not set")
        if self.value == "$" and self.timestamp == "payload":
            raise ValueError('value = "$" (a bare number) needs timestamp = "receive"')
        return self


class MqttSourceConfig(MqttConnectionConfig):
    """`[[mqtt]]`: JSON payloads on plain MQTT topics."""

    topics: Annotated[list[TopicMappingConfig], Field(min_length=1)]


class SparkplugMetricConfig(_Strict):
    """`[[sparkplug.metrics]]`: which Sparkplug metrics become which characteristics."""

    metric: Annotated[str, Field(min_length=1)]
    """Metric name, shell-style pattern (e.g. "Line1/*")."""
    edge_node: str = "*"
    device: str = "*"
    """Patterns on the edge node id and device id; device "" matches node-level metrics only."""
    characteristic: Annotated[str, Field(min_length=1)]
    """Template with {group}, {node}, {device}, {metric} (metric name with / replaced by .)."""
    scale: Finite = 1.0
    offset: Finite = 0.0

    @field_validator("characteristic")
    @classmethod
    def _placeholders(cls, v: str) -> str:
        for name in template_fields(v):
            if name not in ("group", "node", "device", "metric"):
                raise ValueError(
                    f"unknown placeholder {{{name}}} "
                    "(use {group}, {node}, {device}, {metric})"
                )
        return v


class SparkplugSourceConfig(MqttConnectionConfig):
    """`[[sparkplug]]`: Sparkplug B edge nodes (protobuf payloads, births, sequence numbers)."""

    group_id: Annotated[str, Field(pattern=r"^(\+|[^/+#]+)$")] = "+"
    timestamp: Literal["metric", "payload", "receive"] = "metric"
    """metric: the metric's own timestamp, else the payload's; payload: the payload's."""
    birth_values: Literal["ignore", "emit"] = "ignore"
    """BIRTH certificates repeat current values after every rebirth; emitting them would chart a
    measurement twice, so by default only DATA messages become readings."""
    rebirth: Literal["request", "off"] = "request"
    """On a sequence gap or an unknown alias, publish NCMD "Node Control/Rebirth"."""
    rebirth_min_interval_seconds: Annotated[float, Field(ge=0)] = 5.0
    qos: Literal[0, 1] = 1
    metrics: Annotated[list[SparkplugMetricConfig], Field(min_length=1)]


# ---------------------------------------------------------------- OPC UA


class OpcuaNodeConfig(_Strict):
    """`[[opcua.nodes]]`: one monitored variable and the characteristic it feeds."""

    node_id: Annotated[str, Field(min_length=1)]
    """e.g. "ns=2;s=Line1.OP20.Bore" or "nsu=urn:acme:line1;i=1001"."""
    characteristic: Annotated[str, Field(min_length=1)]
    scale: Finite = 1.0
    offset: Finite = 0.0
    subgroup_node_id: str | None = None
    lot_node_id: str | None = None
    serial_node_id: str | None = None
    """Variables read alongside the value (their latest value tags the reading)."""
    counter: CounterConfig | None = None
    """Set: the variable is a piece counter whose rises become defect or good-unit records."""


class OpcuaSourceConfig(_Strict):
    """`[[opcua]]`: an OPC UA server, subscriptions on its variables."""

    name: SourceName | None = None
    endpoint: Annotated[str, Field(pattern=r"^opc\.tcp://")]
    security_policy: Literal["None", "Basic256Sha256"] = "None"
    security_mode: Literal["Sign", "SignAndEncrypt"] = "SignAndEncrypt"
    """Used when security_policy is not "None"."""
    certificate: Path | None = None
    private_key: Path | None = None
    """Client certificate (DER or PEM) and its key; required with Basic256Sha256."""
    server_certificate: Path | None = None
    username: str | None = None
    password_env: str | None = None
    """Name of the environment variable holding the password (never the password itself)."""
    sampling_interval_ms: Annotated[float, Field(ge=0)] = 100.0
    publishing_interval_ms: Annotated[float, Field(gt=0)] = 500.0
    queue_size: Annotated[int, Field(ge=2, le=65535)] = 10
    """Server-side queue per monitored item: below 2, two changes within one publishing
    interval overwrite each other."""
    deadband: Annotated[float, Field(ge=0, allow_inf_nan=False)] = 0.0
    """Absolute deadband on value changes; 0 reports every change."""
    watchdog_seconds: Annotated[float, Field(gt=0)] = 30.0
    """No data (nor keep-alive) for this long: drop the connection, reconnect, resubscribe."""
    max_nodes_per_connection: Annotated[int, Field(ge=1)] = 500
    timestamp: Literal["source", "server", "receive"] = "source"
    nodes: Annotated[list[OpcuaNodeConfig], Field(min_length=1)]

    @model_validator(mode="after")
    def _security(self) -> OpcuaSourceConfig:
        if self.security_policy != "None" and (
            self.certificate is None or self.private_key is None
        ):
            raise ValueError(
                f"security_policy {self.security_policy} needs certificate and private_key"
            )
        if self.password_env is not None and self.username is None:
            raise ValueError("password_env needs username")
        return self


# ---------------------------------------------------------------- the whole file


class CollectorConfig(_Strict):
    collector: CollectorSection = Field(default_factory=CollectorSection)
    buffer: BufferConfig = Field(default_factory=BufferConfig)
    sink: SinkConfig = Field(default_factory=SinkConfig)
    health: HealthConfig = Field(default_factory=HealthConfig)
    mqtt: list[MqttSourceConfig] = Field(default_factory=list)
    sparkplug: list[SparkplugSourceConfig] = Field(default_factory=list)
    opcua: list[OpcuaSourceConfig] = Field(default_factory=list)

    @model_validator(mode="before")
    @classmethod
    def _default_names(cls, data: Any) -> Any:
        """Fill in source names and MQTT client ids, which depend on the collector's name."""
        if not isinstance(data, dict):
            return data
        data = dict(data)
        section = data.get("collector")
        collector_name = section.get("name") if isinstance(section, dict) else None
        collector_name = collector_name if isinstance(collector_name, str) else _hostname()
        for kind in ("mqtt", "sparkplug", "opcua"):
            entries = data.get(kind)
            if not isinstance(entries, list):
                continue
            filled = []
            for i, entry in enumerate(entries, start=1):
                if isinstance(entry, dict):
                    entry = dict(entry)
                    entry.setdefault("name", f"{kind}-{i}")
                    if kind != "opcua" and isinstance(entry["name"], str):
                        entry.setdefault("client_id", f"linewatch-{collector_name}-{entry['name']}")
                filled.append(entry)
            data[kind] = filled
        return data

    @model_validator(mode="after")
    def _sources(self) -> CollectorConfig:
        names = [s.name for _, s in self.sources()]
        if not names:
            raise ValueError("no source configured: add an [[mqtt]], [[sparkplug]] or [[opcua]]")
        dupes = sorted({n for n in names if names.count(n) > 1 and n is not None})
        if dupes:
            raise ValueError(f"source names must be unique: {', '.join(dupes)}")
        return self

    def sources(self) -> list[tuple[str, Any]]:
        """(kind, section) of every source, in file order per kind."""
        return [(kind, s) for kind in ("mqtt", "sparkplug", "opcua") for s in getattr(self, kind)]

    def source_names(self) -> list[str]:
        return [str(s.name) for _, s in self.sources()]


def _hostname() -> str:
    name = re.sub(r"[^A-Za-z0-9_.:-]", "-", socket.gethostname()) or "collector"
    return name if name[0].isalnum() else f"c{name}"


# ---------------------------------------------------------------- loading


def secret_from_env(variable: str | None) -> str | None:
    """The secret held by the environment variable `variable` (None when unset or unnamed)."""
    if not variable:
        return None
    return os.environ.get(variable)


def load_config(path: str | os.PathLike[str]) -> CollectorConfig:
    """Reads and validates a collector TOML file; ConfigError names file, line and key."""
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"{p}: cannot read: {exc.strerror or exc}") from None
    return parse_config(text, str(p))


def parse_config(text: str, filename: str = "<config>") -> CollectorConfig:
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{filename}: invalid TOML: {exc}") from None
    try:
        return CollectorConfig.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(_describe(exc, text, filename)) from None


def _describe(exc: ValidationError, text: str, filename: str) -> str:
    lines = KeyLines(text)
    messages = []
    for err in exc.errors(include_url=False):
        loc = tuple(err["loc"])
        # Union members and validator wrappers add non-key parts to loc; keep keys and indices.
        loc = tuple(p for p in loc if isinstance(p, int) or not str(p).startswith("function-"))
        key = _dotted(loc)
        line = lines.line_of(loc)
        where = f"{filename}:{line}" if line else filename
        if err["type"] == "extra_forbidden":
            msg = f"unknown key {key!r}"
        elif err["type"] == "missing":
            msg = f"missing key {key!r}"
        else:
            text_msg = str(err["msg"]).removeprefix("Value error, ")
            msg = f"{key}: {text_msg}" if key else text_msg
        messages.append(f"{where}: {msg}")
    return "; ".join(messages)


def _dotted(loc: tuple[Any, ...]) -> str:
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += ("." if out else "") + str(part)
    return out
