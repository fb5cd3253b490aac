"""E-mail against a real SMTP server (aiosmtpd, STARTTLS + AUTH) and MQTT against Mosquitto."""

from __future__ import annotations

import email
import json
import queue
import time
import uuid
from email import policy

import pytest
from alerting_receivers import SMTP_PASSWORD, SMTP_USER, free_port

from service.alerting.channels.email import EmailChannel
from service.alerting.channels.mqtt import MqttChannel, topic_for
from service.alerting.chart_image import chart_png

pytestmark = pytest.mark.anyio


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


def _email_channel(server, **overrides):
    kwargs = dict(
        host=server.host,
        port=server.port,
        sender="linewatch@plant.example",
        to=["engineer@plant.example"],
        cc=["qm@plant.example"],
        security="starttls",
        username=SMTP_USER,
        password=SMTP_PASSWORD,
        ca_file=server.ca_file,
        timeout_s=5.0,
    )
    kwargs.update(overrides)
    return EmailChannel("mail", **kwargs)


async def test_email_starttls_auth_text_html_and_inline_chart(smtp_server, opened_message):
    result = await _email_channel(smtp_server).send(opened_message.with_delivery("n-5"))
    assert result.ok, result.detail
    assert smtp_server.envelopes == [
        ("linewatch@plant.example", ["engineer@plant.example", "qm@plant.example"])
    ]
    mail = email.message_from_bytes(smtp_server.messages[0], policy=policy.default)
    assert mail["Subject"].startswith("Out of control: Bore diameter (line1 / op20)")
    assert mail["X-Linewatch-Delivery"] == "n-5"
    text = mail.get_body(("plain",)).get_content()
    assert "Rule: WE2: 2 of 3 points beyond 2σ above" in text
    assert "Limits: LCL 73.988 · CL 74.0012 · UCL 74.0143" in text
    html = mail.get_body(("html",))
    html_text = html.get_content()
    assert '<img src="cid:' in html_text
    cid = html_text.split('<img src="cid:')[1].split('"')[0]
    images = [p for p in mail.walk() if p.get_content_type() == "image/png"]
    assert len(images) == 1
    assert images[0]["Content-ID"] == f"<{cid}>"
    png = images[0].get_payload(decode=True)
    assert png.startswith(b"\x89PNG\r\n\x1a\n") and 1_000 < len(png) < 60_000


async def test_email_wrong_password_is_permanent(smtp_server, opened_message):
    result = await _email_channel(smtp_server, password="wrong").send(opened_message)
    assert not result.ok and not result.retryable
    assert "wrong" not in result.detail
    assert smtp_server.messages == []


async def test_email_server_down_is_retryable(opened_message, tmp_path):
    channel = EmailChannel(
        "mail", host="127.0.0.1", port=free_port(), sender="a@b.c", to=["d@e.f"], timeout_s=2.0
    )
    started = time.monotonic()
    result = await channel.send(opened_message)
    assert not result.ok and result.retryable
    assert time.monotonic() - started < 3.0


def test_email_without_recent_points_has_no_image(opened_message):
    from dataclasses import replace

    channel = EmailChannel("mail", host="x", port=25, sender="a@b.c", to=["d@e.f"])
    mail = channel.compose(replace(opened_message, recent=()))
    assert not [p for p in mail.walk() if p.get_content_type() == "image/png"]


def test_chart_png_is_small_and_marks_points():
    png = chart_png([1.0, 2.0, 1.5, 9.0], center=1.5, lcl=0.0, ucl=3.0)
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    assert len(png) < 40_000


def _subscriber(host: str, port: int, topics: list[str], inbox: queue.Queue):
    import paho.mqtt.client as mqtt

    ready = queue.Queue()
    client = mqtt.Client(
        mqtt.CallbackAPIVersion.VERSION2,
        client_id=f"t-{uuid.uuid4().hex[:8]}",
        protocol=mqtt.MQTTv5,
    )

    def on_connect(c, u, f, rc, p=None):
        for t in topics:
            c.subscribe(t, qos=1)
        ready.put(True)

    client.on_connect = on_connect
    client.on_message = lambda c, u, m: inbox.put((m.topic, json.loads(m.payload), m.retain))
    client.connect(host, port)
    client.loop_start()
    ready.get(timeout=5)
    time.sleep(0.2)  # let SUBACK arrive
    return client


async def test_mqtt_event_and_retained_state(mqtt_broker, opened_message):
    host, port = mqtt_broker
    prefix = f"lwtest/{uuid.uuid4().hex[:8]}"
    channel = MqttChannel(
        "andon",
        host=host,
        port=port,
        topic=prefix + "/{site}/{line}/{characteristic}/alarm",
        state_topic=prefix + "/{site}/{line}/{characteristic}/state",
        timeout_s=5.0,
    )
    inbox: queue.Queue = queue.Queue()
    live = _subscriber(host, port, [prefix + "/#"], inbox)
    try:
        result = await channel.send(opened_message)
        assert result.ok, result.detail
        got = {}
        for _ in range(2):
            topic, payload, _retain = inbox.get(timeout=5)
            got[topic] = payload
        event = got[f"{prefix}/Suzhou/line1/line1.op20.bore/alarm"]
        assert event["event"] == "alarm.opened" and event["alarm_id"] == 42
        assert event["rule"] == "WE2" and event["side"] == "above"
        state = got[f"{prefix}/Suzhou/line1/line1.op20.bore/state"]
        assert state["state"] == "alarm" and state["alarm_id"] == 42
    finally:
        live.loop_stop()
        live.disconnect()
    # A light that connects later learns the current state from the retained message.
    from dataclasses import replace

    assert (await channel.send(replace(opened_message, event="alarm.acknowledged"))).ok
    late_inbox: queue.Queue = queue.Queue()
    late = _subscriber(host, port, [prefix + "/+/+/+/state"], late_inbox)
    try:
        topic, payload, retain = late_inbox.get(timeout=5)
        assert retain is True
        assert payload["state"] == "acknowledged"
    finally:
        late.loop_stop()
        late.disconnect()
        # clear the retained message
        import paho.mqtt.publish as publish

        publish.single(topic, b"", retain=True, hostname=host, port=port)
        await channel.aclose()


async def test_mqtt_broker_down_is_retryable(opened_message):
    channel = MqttChannel(
        "andon",
        host="127.0.0.1",
        port=free_port(),
        topic="x/{line}",
        state_topic=None,
        timeout_s=1.0,
    )
    result = await channel.send(opened_message)
    assert not result.ok and result.retryable


def test_topic_template_escapes_wildcards(opened_message):
    from dataclasses import replace

    msg = replace(opened_message, line="line/1+#", site=None)
    assert topic_for("lw/{site}/{line}/{characteristic}/{nope}", msg) == (
        "lw/_/line_1__/line1.op20.bore/_"
    )
