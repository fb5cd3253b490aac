"""E-mail over SMTP: STARTTLS (or implicit TLS), optional AUTH, a text and an HTML part with a
small inline chart of the last points.

smtplib is blocking, so each send runs in a worker thread with the channel's timeout on the
socket; one connection per message is fine at alarm rates (a few per hour, not per second).
"""

from __future__ import annotations

import smtplib
import ssl
import time
from datetime import tzinfo
from email.message import EmailMessage
from email.utils import formatdate, make_msgid

import anyio

from service.alerting import formats
from service.alerting.channels.base import DeliveryResult, redact
from service.alerting.chart_image import chart_png
from service.alerting.message import AlarmMessage
from service.alerting.templates import render

# Permanent SMTP answers: auth refused, sender/recipient refused, message refused.
_PERMANENT = (smtplib.SMTPAuthenticationError, smtplib.SMTPRecipientsRefused)


class EmailChannel:
    kind = "email"

    def __init__(
        self,
        name: str,
        *,
        host: str,
        port: int,
        sender: str,
        to: list[str],
        cc: list[str] | None = None,
        security: str = "starttls",
        username: str | None = None,
        password: str | None = None,
        ca_file: str | None = None,
        chart: bool = True,
        language: str = "en",
        tz: tzinfo | str = "UTC",
        timeout_s: float = 10.0,
    ) -> None:
        self.name = name
        self.language = language
        self._host, self._port = host, port
        self._sender, self._to, self._cc = sender, list(to), list(cc or [])
        self._security = security
        self._username, self._password = username, password
        self._ca_file = ca_file
        self._chart = chart
        self._tz = tz
        self._timeout = timeout_s

    def compose(self, message: AlarmMessage) -> EmailMessage:
        r = render(message, self.language, self._tz)
        mail = EmailMessage()
        mail["Subject"] = r.title
        mail["From"] = self._sender
        mail["To"] = ", ".join(self._to)
        if self._cc:
            mail["Cc"] = ", ".join(self._cc)
        mail["Date"] = formatdate(localtime=False)
        domain = self._sender.rpartition("@")[2] or "linewatch.local"
        mail["Message-ID"] = make_msgid("linewatch", domain=domain)
        if message.delivery_id:
            mail["X-Linewatch-Delivery"] = message.delivery_id
        mail.set_content(r.text())
        png = None
        if self._chart and len(message.recent) >= 2:
            png = chart_png(message.recent, center=message.center, lcl=message.lcl, ucl=message.ucl)
        cid = make_msgid("chart", domain=domain) if png else None
        mail.add_alternative(
            formats.html_body(r, chart_cid=cid[1:-1] if cid else None), subtype="html"
        )
        if png and cid:
            html_part = mail.get_body(("html",))
            assert isinstance(html_part, EmailMessage)
            html_part.add_related(png, maintype="image", subtype="png", cid=cid)
        return mail

    def _ssl_context(self) -> ssl.SSLContext:
        return ssl.create_default_context(cafile=self._ca_file)

    def _deliver(self, mail: EmailMessage) -> None:
        smtp: smtplib.SMTP
        if self._security == "tls":
            smtp = smtplib.SMTP_SSL(
                self._host, self._port, timeout=self._timeout, context=self._ssl_context()
            )
        else:
            smtp = smtplib.SMTP(self._host, self._port, timeout=self._timeout)
        with smtp:
            smtp.ehlo()
            if self._security == "starttls":
                smtp.starttls(context=self._ssl_context())
                smtp.ehlo()
            if self._username:
                smtp.login(self._username, self._password or "")
            smtp.send_message(mail, to_addrs=[*self._to, *self._cc])

    async def send(self, message: AlarmMessage) -> DeliveryResult:
        started = time.perf_counter()
        try:
            mail = self.compose(message)
            await anyio.to_thread.run_sync(self._deliver, mail)
        except _PERMANENT as exc:
            return DeliveryResult.failure(self._describe(exc), retryable=False, started=started)
        except smtplib.SMTPResponseException as exc:
            return DeliveryResult.failure(
                self._describe(exc),
                retryable=exc.smtp_code >= 400 and exc.smtp_code < 500,
                status_code=exc.smtp_code,
                started=started,
            )
        except (OSError, smtplib.SMTPException) as exc:
            return DeliveryResult.failure(self._describe(exc), retryable=True, started=started)
        return DeliveryResult.success(250, "accepted", started)

    def _describe(self, exc: BaseException) -> str:
        return redact(f"{type(exc).__name__}: {exc}", self._password)

    async def aclose(self) -> None:
        """Nothing held between messages."""
