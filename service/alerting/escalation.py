"""Escalation: an alarm nobody acknowledged reaches the next level (line engineer → quality
manager → plant manager), one level after another, until someone acknowledges or it closes.

Pure: time is a parameter. The worker keeps per alarm the policy, the opening time and the
highest level already notified, and calls `due_levels` on each tick.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta

from service.alerting.config import EscalationLevel, EscalationPolicy
from service.alerting.routing import AlarmFacts, matches


def policy_for(policies: Iterable[EscalationPolicy], facts: AlarmFacts) -> EscalationPolicy | None:
    """The first policy that matches: one alarm follows one escalation chain, never two."""
    for policy in policies:
        if matches(policy, facts):
            return policy
    return None


def due_levels(
    policy: EscalationPolicy,
    *,
    opened_at: datetime,
    levels_done: int,
    now: datetime,
    acknowledged: bool = False,
) -> list[tuple[int, EscalationLevel]]:
    """Levels (1-based number, level) to notify now, in order.

    Levels come strictly one after another: level k is due only when its `after_minutes` have
    passed since the opening and levels 1..k-1 are done; a worker that was down for an hour sends
    the overdue levels in order on its next tick. Acknowledgement (or closing) cancels the rest.
    """
    if acknowledged:
        return []
    due: list[tuple[int, EscalationLevel]] = []
    for number, level in enumerate(policy.levels, start=1):
        if number <= levels_done:
            continue
        if now - opened_at >= timedelta(minutes=level.after_minutes):
            due.append((number, level))
        else:
            break
    return due


def next_due_at(
    policy: EscalationPolicy, *, opened_at: datetime, levels_done: int
) -> datetime | None:
    """When the next level falls due (None when all levels are done)."""
    if levels_done >= len(policy.levels):
        return None
    return opened_at + timedelta(minutes=policy.levels[levels_done].after_minutes)
