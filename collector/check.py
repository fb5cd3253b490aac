"""`linewatch collect --check`: what can be known about a config without touching the network.

The schema is already enforced by `load_config`; this adds the environment: secrets named but
unset, files that do not exist, a buffer directory that cannot be written, plugins not installed.
"""

from __future__ import annotations

import importlib.util
import os
from pathlib import Path

from collector.config import CollectorConfig
from collector.sources.registry import SOURCES


def check_config(cfg: CollectorConfig) -> tuple[list[str], str]:
    """(warnings, one-line summary)."""
    problems: list[str] = []
    sink = cfg.sink
    if sink.token_file is not None:
        if not sink.token_file.is_file():
            problems.append(f"sink.token_file {sink.token_file} does not exist")
    elif sink.token_env and not os.environ.get(sink.token_env):
        problems.append(f"sink.token_env: environment variable {sink.token_env} is not set")
    buffer_dir = cfg.buffer.path.resolve().parent
    probe = buffer_dir
    while not probe.exists() and probe != probe.parent:
        probe = probe.parent
    if not os.access(probe, os.W_OK):
        problems.append(f"buffer.path: directory {buffer_dir} is not writable")
    for kind, section in cfg.sources():
        where = f"{kind} {section.name}"
        module = SOURCES[kind].partition(":")[0]
        try:
            found = importlib.util.find_spec(module) is not None
        except ModuleNotFoundError:
            found = False
        if not found:
            problems.append(f"{where}: the {kind} plugin is not installed ({module})")
        password_env = getattr(section, "password_env", None)
        if password_env and not os.environ.get(password_env):
            problems.append(f"{where}: environment variable {password_env} is not set")
        for attr in ("ca_file", "cert_file", "key_file", "certificate", "private_key"):
            path = getattr(section, attr, None)
            if isinstance(path, Path) and not path.is_file():
                problems.append(f"{where}: {attr} {path} does not exist")
    names = ", ".join(f"{kind}:{s.name}" for kind, s in cfg.sources())
    summary = (
        f"config OK: collector {cfg.collector.name!r}, sources {names}, buffer {cfg.buffer.path}, "
        f"sink {cfg.sink.url}"
    )
    return problems, summary
