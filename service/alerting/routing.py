"""Routing decisions as pure functions: which routes an alarm event matches, whether a route
is in its quiet hours, whether its token bucket has a token, and what to do with the event.

Nothing here reads a clock or a database: the worker passes `now` and the stored bucket state,
so every decision is reproducible in a test and identical on every service replica.

Policy (one message per alarm opening, a digest for repeats):
- `alarm.opened` is sent once per (route, alarm) when the route has a token and is not quiet;
  otherwise it is folded into the route's digest for that characteristic.
- `alarm.hit` (the open alarm's rule fired again) is folded into the digest unless the route
  lists it in `events`.
- `alarm.acknowledged` / `alarm.closed` are sent when the route lists them (MQTT state topics,
  MES); they are never rate limited (there is at most one per opening) and skipped when quiet.
- A digest is due when a characteristic has folded events, the route is not quiet, the last
  message for that characteristic on that route is `digest_minutes` old, and a token is free.
"""

from __future__ import annotations

import fnmatch
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal
from zoneinfo import ZoneInfo

from service.alerting.config import SEVERITY_ORDER, MatchSpec, QuietHours, RateLimit, RouteConfig

Decision = Literal["send", "fold", "skip"]
_DAY_NAMES = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


@dataclass(frozen=True, slots=True)
class AlarmFacts:
    """The attributes routes match on."""

    characteristic: str
    site: str | None = None
    line: str | None = None
    rule: str | None = None
    severity: str = "warning"


def _glob_any(patterns: Sequence[str], value: str | None) -> bool:
    if not patterns:
        return True
    if value is None:
        return False
    return any(fnmatch.fnmatchcase(value, p) for p in patterns)


def matches(spec: MatchSpec, facts: AlarmFacts) -> bool:
    """Every non-empty criterion must hold; globs (`line1.*`) work on site, line, characteristic."""
    if SEVERITY_ORDER.get(facts.severity, 0) < SEVERITY_ORDER[spec.min_severity]:
        return False
    if spec.rules and facts.rule not in spec.rules:
        return False
    return (
        _glob_any(spec.sites, facts.site)
        and _glob_any(spec.lines, facts.line)
        and _glob_any(spec.characteristics, facts.characteristic)
    )


def matching_routes(routes: Iterable[RouteConfig], facts: AlarmFacts) -> list[RouteConfig]:
    return [route for route in routes if matches(route, facts)]


def in_quiet_hours(windows: Sequence[QuietHours], now: datetime, default_tz: str) -> bool:
    """True when `now` (aware) falls into any window; a window with end < start wraps midnight
    and belongs to the day it starts on (Friday 22:00–06:00 covers Saturday 03:00)."""
    for window in windows:
        local = now.astimezone(ZoneInfo(window.timezone or default_tz))
        t = local.time().replace(tzinfo=None)
        day = _DAY_NAMES[local.weekday()]
        previous_day = _DAY_NAMES[(local.weekday() - 1) % 7]
        if window.start <= window.end:
            if window.start <= t < window.end and day in window.days:
                return True
        elif (t >= window.start and day in window.days) or (
            t < window.end and previous_day in window.days
        ):
            return True
    return False


@dataclass(frozen=True, slots=True)
class BucketState:
    """Token bucket state as stored per route: tokens left and when they were counted."""

    tokens: float
    updated: float  # epoch seconds

    @classmethod
    def full(cls, limit: RateLimit, now: float) -> BucketState:
        return cls(float(limit.burst), now)


def refill(state: BucketState, limit: RateLimit, now: float) -> BucketState:
    elapsed = max(0.0, now - state.updated)
    tokens = min(float(limit.burst), state.tokens + elapsed * limit.per_minute / 60.0)
    return BucketState(tokens, max(now, state.updated))


def take_token(state: BucketState, limit: RateLimit, now: float) -> tuple[bool, BucketState]:
    """(granted, new state): one message's worth of the route's rate limit."""
    current = refill(state, limit, now)
    if current.tokens >= 1.0:
        return True, BucketState(current.tokens - 1.0, current.updated)
    return False, current


def seconds_until_token(state: BucketState, limit: RateLimit, now: float) -> float:
    current = refill(state, limit, now)
    missing = 1.0 - current.tokens
    return 0.0 if missing <= 0 else math.ceil(missing * 60.0 / limit.per_minute * 1000) / 1000


def decide(route: RouteConfig, event: str, *, quiet: bool, token: bool) -> Decision:
    """What a route does with one event (policy in the module docstring)."""
    if event in ("alarm.opened", "alarm.hit"):
        if event == "alarm.hit" and event not in route.events:
            return "fold"
        if event == "alarm.opened" and event not in route.events:
            return "skip"
        if quiet or not token:
            return "fold"
        return "send"
    if event not in route.events or quiet:
        return "skip"
    return "send"


def needs_token(event: str) -> bool:
    return event in ("alarm.opened", "alarm.hit")


def digest_due(
    route: RouteConfig,
    *,
    last_message_at: datetime | None,
    now: datetime,
    quiet: bool,
) -> bool:
    """Whether a characteristic's folded events on this route may go out as a digest now."""
    if quiet:
        return False
    if last_message_at is None:
        return True
    return now - last_message_at >= timedelta(minutes=route.digest_minutes)


def backoff_delay(attempt: int, initial_s: float, max_s: float, jitter: float) -> float:
    """Exponential backoff with jitter in [0.5, 1): attempt 1 waits ~initial, then doubles.

    `jitter` is a number in [0, 1) supplied by the caller (random in the worker, fixed in tests),
    so that replicas retrying one dead receiver do not hammer it in lockstep.
    """
    base = min(max_s, initial_s * (2.0 ** max(0, attempt - 1)))
    return base * (0.5 + 0.5 * min(max(jitter, 0.0), 0.999999))
