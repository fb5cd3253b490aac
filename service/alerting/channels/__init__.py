"""Notification channels: one small class per kind, each `async send(message) -> DeliveryResult`.

External systems sit behind seams: HTTP channels take an `httpx.AsyncClient` (tests point them at
a real local server), e-mail uses stdlib smtplib in a thread, MQTT a paho 2 client.
"""

from service.alerting.channels.base import Channel, DeliveryResult
from service.alerting.channels.factory import build_channel, build_channels

__all__ = ["Channel", "DeliveryResult", "build_channel", "build_channels"]
