"""The explicit table of source plugins: config section name -> factory (telegraf's registry).

A factory takes the validated section and the source's name and returns a `Source`. Plugins are
imported only when a config uses them, so a collector without OPC UA never imports asyncua, and
`linewatch collect --check` validates a config without importing any protocol library.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import Any

from collector.sources.base import Source

Factory = Callable[[Any, str], Source]

# section name in collector.toml -> "module:function" of its factory
SOURCES: dict[str, str] = {
    "mqtt": "collector.sources.mqtt.source:build",
    "sparkplug": "collector.sources.sparkplug.source:build",
    "opcua": "collector.sources.opcua.source:build",
}


def factory(kind: str) -> Factory:
    """The factory of a source kind; KeyError names the known kinds."""
    try:
        target = SOURCES[kind]
    except KeyError:
        raise KeyError(
            f"unknown source kind {kind!r} (known: {', '.join(sorted(SOURCES))})"
        ) from None
    module_name, _, attr = target.partition(":")
    module = importlib.import_module(module_name)
    built: Factory = getattr(module, attr)
    return built


def build_source(kind: str, cfg: Any) -> Source:
    """Builds the source of one config section (its `name` is set by the config's defaults)."""
    return factory(kind)(cfg, str(cfg.name))
