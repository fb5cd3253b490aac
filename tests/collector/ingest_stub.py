"""A small but real HTTP server implementing the service's ingest contract, for collector tests.

POST /api/v1/measurements with a bearer token; dedup on (source, seq); accepts gzip bodies;
rejects unknown characteristics, non-numeric values and missing fields per record, as the
contract says. It can be stopped and started again on the same port to simulate an outage, made
to answer 503/401/422, and it records every stored reading in arrival order.
"""

from __future__ import annotations

import contextlib
import gzip
import json
import math
import socket
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

PATH = "/api/v1/measurements"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class IngestState:
    token: str = "test-token"
    known: set[str] | None = None  # None: every characteristic is known
    force_status: int | None = None  # answer this status to every request
    reject_whole_batch_if: str | None = None  # 422 for a batch containing this characteristic
    stored: list[dict[str, Any]] = field(default_factory=list)
    seen: set[tuple[str, int]] = field(default_factory=set)
    requests: int = 0
    duplicates: int = 0
    gzip_requests: int = 0
    delay_s: float = 0.0
    lock: threading.Lock = field(default_factory=threading.Lock)

    def values(self, characteristic: str) -> list[float]:
        with self.lock:
            return [r["value"] for r in self.stored if r["characteristic"] == characteristic]

    def count(self) -> int:
        with self.lock:
            return len(self.stored)


def _record_error(rec: Any, known: set[str] | None) -> str | None:
    if not isinstance(rec, dict):
        return "not an object"
    for key in ("characteristic", "ts", "value"):
        if key not in rec:
            return f"missing field {key}"
    if type(rec["value"]) not in (int, float) or not math.isfinite(rec["value"]):
        return "value is not a finite number"
    if known is not None and rec["characteristic"] not in known:
        return f"unknown characteristic {rec['characteristic']!r}"
    return None


def make_handler(state: IngestState) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args: Any) -> None:
            pass

        def _send(self, status: int, body: Any) -> None:
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def do_POST(self) -> None:
            raw = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            with state.lock:
                state.requests += 1
            if state.delay_s:
                time.sleep(state.delay_s)
            if self.path != PATH:
                return self._send(404, {"detail": "not found"})
            if state.force_status is not None:
                return self._send(state.force_status, {"detail": "forced"})
            if self.headers.get("Authorization") != f"Bearer {state.token}":
                return self._send(401, {"detail": "bad token"})
            if self.headers.get("Content-Encoding") == "gzip":
                raw = gzip.decompress(raw)
                with state.lock:
                    state.gzip_requests += 1
            try:
                doc = json.loads(raw)
                records = doc["measurements"]
                assert isinstance(records, list)
            except (ValueError, KeyError, AssertionError):
                return self._send(422, {"detail": "body is not {measurements: [...]}"})
            if state.reject_whole_batch_if is not None and any(
                isinstance(r, dict) and r.get("characteristic") == state.reject_whole_batch_if
                for r in records
            ):
                return self._send(
                    422, {"detail": [{"loc": ["body", "measurements"], "msg": "bad record"}]}
                )
            accepted, duplicates, rejected = 0, 0, []
            with state.lock:
                for i, rec in enumerate(records):
                    error = _record_error(rec, state.known)
                    if error:
                        rejected.append({"index": i, "error": error})
                        continue
                    key = (rec.get("source"), rec.get("seq"))
                    if rec.get("seq") is not None and key in state.seen:
                        duplicates += 1
                        continue
                    state.seen.add(key)
                    state.stored.append(rec)
                    accepted += 1
                state.duplicates += duplicates
            self._send(200, {"accepted": accepted, "duplicates": duplicates, "rejected": rejected})

    return Handler


class _Server(ThreadingHTTPServer):
    """Tracks open connections so that `stop` really takes the service away (keep-alive too)."""

    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, *args: Any) -> None:
        super().__init__(*args)
        self.open_sockets: set[socket.socket] = set()
        self.sockets_lock = threading.Lock()

    def process_request(self, request: Any, client_address: Any) -> None:
        with self.sockets_lock:
            self.open_sockets.add(request)
        super().process_request(request, client_address)

    def shutdown_request(self, request: Any) -> None:
        with self.sockets_lock:
            self.open_sockets.discard(request)
        super().shutdown_request(request)

    def close_all(self) -> None:
        with self.sockets_lock:
            for sock in list(self.open_sockets):
                with contextlib.suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)
            self.open_sockets.clear()


class IngestServer:
    """Start/stop on a fixed port; the state (stored readings) survives restarts."""

    def __init__(self, port: int, state: IngestState | None = None) -> None:
        self.port = port
        self.state = state or IngestState()
        self._httpd: _Server | None = None
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}{PATH}"

    def start(self) -> IngestServer:
        self._httpd = _Server(("127.0.0.1", self.port), make_handler(self.state))
        self._thread = threading.Thread(target=self._httpd.serve_forever, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()
            self._httpd.close_all()
            self._httpd = None

    def wait_for(self, n: int, timeout: float = 20.0) -> None:
        deadline = time.monotonic() + timeout
        while self.state.count() < n:
            if time.monotonic() > deadline:
                raise AssertionError(f"ingest server has {self.state.count()} readings, want {n}")
            time.sleep(0.02)
