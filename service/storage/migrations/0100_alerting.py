"""Alerting: notifications with every delivery attempt, per-route rate-limit state, digests of
repeats, the alarm state alerting tracks for escalation, and routes edited over the API.

Owned by service/alerting (number range 0100-0199). `alert_notifications.dedup_key` is what
makes delivery exactly-once per (event, route, channel): the worker inserts it in the same
transaction that marks the outbox row consumed, so replays and concurrent workers cannot
create a second notification.
"""

from __future__ import annotations

from service.storage.db import Tx

SCHEMA = """
CREATE TABLE alert_notifications (
    id {pk},
    dedup_key TEXT NOT NULL UNIQUE,
    kind TEXT NOT NULL,
    event TEXT NOT NULL,
    route TEXT,
    channel TEXT NOT NULL,
    alarm_id {bigint},
    outbox_id {bigint},
    characteristic TEXT NOT NULL,
    state TEXT NOT NULL,
    message {json} NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    next_attempt_at {ts},
    lease_until {ts},
    lease_owner TEXT,
    created_at {ts} NOT NULL,
    sent_at {ts},
    last_error TEXT
);
CREATE INDEX alert_notifications_due ON alert_notifications (next_attempt_at)
    WHERE state = 'pending';
CREATE INDEX alert_notifications_alarm ON alert_notifications (alarm_id, id);
CREATE TABLE alert_attempts (
    id {pk},
    notification_id {bigint} NOT NULL REFERENCES alert_notifications (id) ON DELETE CASCADE,
    attempt INTEGER NOT NULL,
    started_at {ts} NOT NULL,
    duration_ms {float} NOT NULL,
    ok INTEGER NOT NULL,
    retryable INTEGER NOT NULL,
    status_code INTEGER,
    detail TEXT,
    worker TEXT NOT NULL
);
CREATE INDEX alert_attempts_notification ON alert_attempts (notification_id, id);
CREATE TABLE alert_route_state (
    route TEXT PRIMARY KEY,
    tokens {float} NOT NULL,
    counted_at {float} NOT NULL
);
CREATE TABLE alert_digests (
    route TEXT NOT NULL,
    characteristic TEXT NOT NULL,
    pending INTEGER NOT NULL DEFAULT 0,
    first_ts {ts},
    last_ts {ts},
    by_rule {json} NOT NULL DEFAULT '{}',
    alarm_ids {json} NOT NULL DEFAULT '[]',
    message {json},
    last_sent_at {ts},
    PRIMARY KEY (route, characteristic)
);
CREATE TABLE alert_alarms (
    alarm_id {bigint} PRIMARY KEY,
    characteristic TEXT NOT NULL,
    state TEXT NOT NULL,
    policy TEXT,
    opened_at {ts} NOT NULL,
    levels_done INTEGER NOT NULL DEFAULT 0,
    next_due_at {ts},
    message {json} NOT NULL,
    updated_at {ts} NOT NULL
);
CREATE INDEX alert_alarms_due ON alert_alarms (next_due_at) WHERE state = 'open';
CREATE INDEX alert_alarms_characteristic ON alert_alarms (characteristic, state);
CREATE TABLE alert_routes (
    name TEXT PRIMARY KEY,
    definition {json} NOT NULL,
    updated_at {ts} NOT NULL,
    updated_by TEXT NOT NULL
);
"""


def upgrade(tx: Tx) -> None:
    tx.ddl(SCHEMA)
