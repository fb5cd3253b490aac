"""What each role may do on screen. The service enforces the same rules (403); hiding what a
role cannot do keeps operators from meeting buttons that only ever fail.

Roles form a ladder, as the service's "403 role too low" implies: operator < engineer <
manager < admin.
"""

from __future__ import annotations

ROLES = ("operator", "engineer", "manager", "admin")

# The lowest role allowed to do each thing.
MINIMUM = {
    "view": "operator",
    "acknowledge": "operator",
    "close_alarm": "engineer",
    "propose_limits": "engineer",
    "approve_limits": "engineer",
    "quality_cost": "manager",
}


def rank(role: str | None) -> int:
    """Position on the ladder; -1 for no or an unknown role (sees nothing)."""
    return ROLES.index(role) if role in ROLES else -1


def can(role: str | None, action: str) -> bool:
    return rank(role) >= 0 and rank(role) >= rank(MINIMUM[action])
