"""Fixtures for alerting tests: real HTTP and SMTP receivers, and a sample alarm message."""

from __future__ import annotations

import ssl
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import pytest
from alerting_receivers import SMTP_PASSWORD, SMTP_USER, HttpReceiver, free_port, self_signed_cert

from service.alerting.message import AlarmMessage


@pytest.fixture
def receiver() -> Iterator[HttpReceiver]:
    rec = HttpReceiver(free_port())
    rec.start()
    yield rec
    rec.stop()


@pytest.fixture
def opened_message() -> AlarmMessage:
    return AlarmMessage(
        kind="alarm",
        event="alarm.opened",
        alarm_id=42,
        characteristic="line1.op20.bore",
        characteristic_name="Bore diameter",
        unit="mm",
        site="Suzhou",
        line="line1",
        station="op20",
        rule="WE2",
        severity="warning",
        value=74.0154,
        center=74.001176,
        lcl=73.988048,
        ucl=74.014304,
        ts=datetime(2026, 11, 26, 10, 0, 0, 123000, tzinfo=UTC),
        chart_url="http://dash.local:8050/characteristics/line1.op20.bore?alarm=42",
        recent=(74.001, 73.998, 74.004, 74.010, 74.0154),
    )


@dataclass
class SmtpServer:
    host: str
    port: int
    ca_file: str
    messages: list[bytes] = field(default_factory=list)
    envelopes: list[tuple[str, list[str]]] = field(default_factory=list)


@pytest.fixture
def smtp_server(tmp_path: Path) -> Iterator[SmtpServer]:
    """aiosmtpd requiring STARTTLS before AUTH (as a plant's relay would)."""
    from aiosmtpd.controller import Controller
    from aiosmtpd.smtp import AuthResult, LoginPassword

    cert, key = self_signed_cert(tmp_path)
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)
    server = SmtpServer("127.0.0.1", free_port(), cert)

    class Handler:
        async def handle_DATA(self, srv, session, envelope):
            server.messages.append(envelope.original_content or envelope.content)
            server.envelopes.append((envelope.mail_from, list(envelope.rcpt_tos)))
            return "250 Message accepted"

    def authenticator(srv, session, envelope, mechanism, auth_data):
        ok = isinstance(auth_data, LoginPassword) and (
            auth_data.login == SMTP_USER.encode() and auth_data.password == SMTP_PASSWORD.encode()
        )
        return AuthResult(success=ok, handled=False)

    controller = Controller(
        Handler(),
        hostname=server.host,
        port=server.port,
        tls_context=context,
        require_starttls=True,
        authenticator=authenticator,
        auth_require_tls=True,
        # aiosmtpd's LOGIN does not take smtplib's initial response and would stall the
        # fallback after a refused PLAIN; real relays answer both.
        auth_exclude_mechanism=["LOGIN"],
    )
    controller.start()
    yield server
    controller.stop()
