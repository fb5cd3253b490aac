"""The simulated line as an OPC UA server (asyncua): one variable per characteristic.

Address space, in namespace `urn:linewatch:simulator`, with string node ids equal to the keys:
Objects/Plant/<line>/<station>/<name> (Double, ns=2;s=line1.op10.bore) and, where the
characteristic has them, its children lot, serial and subgroup (String, s=line1.op10.bore.lot).
Context variables are written before the value with the same source timestamp, so a client can
match them by timestamp. A sample with quality "bad" is written with BadSensorFailure, which
asyncua's server turns into a null value (OPC UA Part 4, §7.7.1), exactly as a real PLC does.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from asyncua import Server, ua
from asyncua.crypto.permission_rules import User, UserRole
from asyncua.server.user_managers import UserManager

from collector.simulator.line import SimSample
from collector.simulator.scenario import CharacteristicSpec

NAMESPACE_URI = "urn:linewatch:simulator"
CONTEXT_FIELDS = ("lot", "serial", "subgroup")
_STATUS = {
    "good": ua.StatusCode(ua.StatusCodes.Good),
    "uncertain": ua.StatusCode(ua.StatusCodes.UncertainLastUsableValue),
    "bad": ua.StatusCode(ua.StatusCodes.BadSensorFailure),
}
log = logging.getLogger(__name__)


class _SharedDataValue(ua.DataValue):
    """A DataValue that deep-copies to itself.

    asyncua's server deep-copies every written DataValue for every monitored item (57 µs each,
    most of the simulator's time at 10,000 values/s); ours hold only immutable floats and
    strings and are never changed after they are written, so sharing them is safe.
    """

    def __deepcopy__(self, memo: dict[int, Any]) -> _SharedDataValue:
        return self


class _PasswordUsers(UserManager):
    """Accepts exactly the configured username/password pairs; no anonymous session."""

    def __init__(self, users: dict[str, str]) -> None:
        self._users = dict(users)

    def get_user(
        self,
        iserver: Any,
        username: str | None = None,
        password: str | None = None,
        certificate: Any = None,
    ) -> User | None:
        if username is not None and self._users.get(username) == password:
            return User(role=UserRole.User, name=username)
        return None


def context_fields(spec: CharacteristicSpec) -> tuple[str, ...]:
    present = {"lot": spec.has_lot, "serial": spec.has_serial, "subgroup": spec.has_subgroup}
    return tuple(f for f in CONTEXT_FIELDS if present[f])


class LineOpcUaServer:
    """Serves a scenario's characteristics and writes simulated samples to them.

    security: "none", "basic256sha256" (SignAndEncrypt, needs certificate and private_key) or
    "both". users: when given, sessions must log in with one of these username/password pairs.
    """

    def __init__(
        self,
        specs: Sequence[CharacteristicSpec],
        *,
        host: str = "0.0.0.0",
        port: int = 4840,
        security: str = "none",
        certificate: Path | None = None,
        private_key: Path | None = None,
        users: dict[str, str] | None = None,
    ) -> None:
        if security not in ("none", "basic256sha256", "both"):
            raise ValueError(f"security: must be none, basic256sha256 or both, got {security!r}")
        if security != "none" and (certificate is None or private_key is None):
            raise ValueError("security: basic256sha256 needs certificate and private_key")
        self.specs = tuple(specs)
        self.host, self.port = host, port
        self._security = security
        self._certificate, self._private_key = certificate, private_key
        self._users = users
        self._server: Server | None = None
        self.ns = 0
        self._nodes: dict[str, ua.NodeId] = {}

    @property
    def endpoint(self) -> str:
        host = "127.0.0.1" if self.host in ("0.0.0.0", "") else self.host
        return f"opc.tcp://{host}:{self.port}"

    def node_id(self, key: str, field: str | None = None) -> str:
        """The string form a client configures, e.g. `ns=2;s=line1.op10.bore.lot`."""
        return f"ns={self.ns};s={key}" + (f".{field}" if field else "")

    async def start(self) -> None:
        user_manager = _PasswordUsers(self._users) if self._users else None
        server = Server(user_manager=user_manager)
        await server.init()
        server.set_endpoint(f"opc.tcp://{self.host}:{self.port}/")
        server.set_server_name("Linewatch line simulator")
        await server.set_application_uri("urn:linewatch:simulator:server")
        policies = []
        if self._security in ("none", "both"):
            policies.append(ua.SecurityPolicyType.NoSecurity)
        if self._security in ("basic256sha256", "both"):
            assert self._certificate is not None and self._private_key is not None
            await server.load_certificate(str(self._certificate))
            await server.load_private_key(str(self._private_key))
            policies.append(ua.SecurityPolicyType.Basic256Sha256_SignAndEncrypt)
        server.set_security_policy(policies)
        if self._users:
            server.set_identity_tokens([ua.UserNameIdentityToken])
        self.ns = await server.register_namespace(NAMESPACE_URI)
        await self._build_address_space(server)
        await server.start()
        self._server = server
        log.info("opcua simulator listening", extra={"fields": {"endpoint": self.endpoint}})

    async def _build_address_space(self, server: Server) -> None:
        ns = self.ns
        plant = await server.nodes.objects.add_object(
            ua.NodeId("Plant", ns), ua.QualifiedName("Plant", ns)
        )
        parents: dict[str, Any] = {}
        for spec in self.specs:
            line_id, station_id = spec.line, f"{spec.line}.{spec.station}"
            if line_id not in parents:
                parents[line_id] = await plant.add_object(
                    ua.NodeId(line_id, ns), ua.QualifiedName(spec.line, ns)
                )
            if station_id not in parents:
                parents[station_id] = await parents[line_id].add_object(
                    ua.NodeId(station_id, ns), ua.QualifiedName(spec.station, ns)
                )
            var = await parents[station_id].add_variable(
                ua.NodeId(spec.key, ns),
                ua.QualifiedName(spec.short_name, ns),
                ua.Variant(float(spec.mean), ua.VariantType.Double),
            )
            self._nodes[spec.key] = var.nodeid
            for field in context_fields(spec):
                child = await var.add_variable(
                    ua.NodeId(f"{spec.key}.{field}", ns),
                    ua.QualifiedName(field, ns),
                    ua.Variant("", ua.VariantType.String),
                )
                self._nodes[f"{spec.key}.{field}"] = child.nodeid

    async def publish(self, samples: Iterable[SimSample]) -> None:
        """Writes each sample (context first, then the value) with its source timestamp."""
        server = self._server
        if server is None:
            raise RuntimeError("server not started")
        now = datetime.now(UTC)
        write = server.write_attribute_value
        nodes = self._nodes
        for s in samples:
            for field, text in (("lot", s.lot), ("serial", s.serial), ("subgroup", s.subgroup)):
                if text is not None:
                    nid = nodes.get(f"{s.characteristic}.{field}")
                    if nid is not None:
                        await write(
                            nid,
                            _SharedDataValue(
                                ua.Variant(text, ua.VariantType.String),
                                SourceTimestamp=s.ts,
                                ServerTimestamp=now,
                            ),
                        )
            await write(
                nodes[s.characteristic],
                _SharedDataValue(
                    ua.Variant(float(s.value), ua.VariantType.Double),
                    StatusCode=_STATUS[s.quality],
                    SourceTimestamp=s.ts,
                    ServerTimestamp=now,
                ),
            )

    async def stop(self) -> None:
        if self._server is not None:
            server, self._server = self._server, None
            try:
                await asyncio.wait_for(server.stop(), timeout=5.0)
            except (TimeoutError, OSError):
                log.warning("opcua simulator did not stop cleanly")
