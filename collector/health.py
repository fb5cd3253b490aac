"""`/health` and `/metrics` on one small HTTP port (asyncio streams, no web framework).

/health answers 200 while the collector can do its job (sources running, buffer accepting,
even while the service is unreachable: that is what the buffer is for) and 503 when someone
must act: the service refuses the token, or the buffer is full.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from typing import Any

from collector.logs import get_logger

log = get_logger("health")

HealthFn = Callable[[], Awaitable[tuple[bool, dict[str, Any]]]]
MetricsFn = Callable[[], bytes]


class HealthServer:
    def __init__(self, host: str, port: int, health: HealthFn, metrics: MetricsFn) -> None:
        self.host, self.port = host, port
        self._health, self._metrics = health, metrics
        self._server: asyncio.Server | None = None

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._handle, self.host, self.port)
        sock = self._server.sockets[0].getsockname()
        self.port = int(sock[1])
        log.info(
            "health and metrics listening",
            extra={"fields": {"address": f"{self.host}:{self.port}"}},
        )

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            request = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), timeout=5)
            parts = request.split(b"\r\n", 1)[0].split()
            method = parts[0] if parts else b""
            path = parts[1].split(b"?", 1)[0] if len(parts) > 1 else b""
            if method not in (b"GET", b"HEAD"):
                status, ctype, body = 405, "text/plain", b"method not allowed\n"
            elif path == b"/health":
                ok, doc = await self._health()
                status, ctype = (200 if ok else 503), "application/json"
                body = json.dumps(doc).encode()
            elif path == b"/metrics":
                status, ctype, body = 200, "text/plain; version=0.0.4", self._metrics()
            else:
                status, ctype, body = 404, "text/plain", b"not found\n"
            reason = {
                200: "OK",
                404: "Not Found",
                405: "Method Not Allowed",
                503: "Service Unavailable",
            }
            head = (
                f"HTTP/1.1 {status} {reason[status]}\r\nContent-Type: {ctype}\r\n"
                f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n"
            ).encode()
            writer.write(head + (b"" if method == b"HEAD" else body))
            await writer.drain()
        except (
            asyncio.IncompleteReadError,
            asyncio.LimitOverrunError,
            TimeoutError,
            ConnectionError,
        ):
            pass
        finally:
            writer.close()
