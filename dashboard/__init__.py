"""Linewatch dashboard: Plotly Dash screens that read everything over the service's HTTP API.

Importing this package imports neither Dash nor Plotly: ``dashboard.cli`` must stay cheap for
``linewatch`` start-up, and an app exists only once :func:`create_app` builds it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from dashboard.app import create_app

__all__ = ["create_app"]


def __getattr__(name: str) -> Any:
    if name == "create_app":
        from dashboard.app import create_app

        return create_app
    raise AttributeError(f"module 'dashboard' has no attribute {name!r}")
