"""Line numbers of TOML keys, so that a config error can say "collector.toml:14".

tomllib returns plain dicts without positions, so this scans the text: table headers
(`[a.b]`, `[[a.b]]`, counting array-of-table indices) and `key = ...` lines (dotted keys too).
Keys inside inline tables and multi-line arrays fall back to the line of their parent key.
Good enough for error messages; never used to read values.
"""

from __future__ import annotations

import re
from typing import Any

_HEADER = re.compile(r"^\s*(\[\[?)\s*([^\]]+?)\s*\]\]?\s*(#.*)?$")
_KEY = re.compile(
    r"""^\s*((?:[A-Za-z0-9_-]+|"[^"]*"|'[^']*')(?:\s*\.\s*(?:[A-Za-z0-9_-]+|"[^"]*"|'[^']*'))*)\s*="""
)


def _split_key(dotted: str) -> list[str]:
    parts = re.findall(r"""[A-Za-z0-9_-]+|"[^"]*"|'[^']*'""", dotted)
    return [p[1:-1] if p[:1] in "\"'" else p for p in parts]


class KeyLines:
    """Maps key paths (with list indices, as in pydantic's `loc`) to 1-based line numbers."""

    def __init__(self, text: str) -> None:
        self._lines: dict[tuple[Any, ...], int] = {}
        counts: dict[tuple[Any, ...], int] = {}
        current: tuple[Any, ...] = ()
        in_multiline = False
        for number, raw in enumerate(text.splitlines(), start=1):
            # Skip the body of multi-line strings: their lines are not keys.
            if in_multiline:
                if raw.count('"""') % 2 == 1 or raw.count("'''") % 2 == 1:
                    in_multiline = False
                continue
            header = _HEADER.match(raw)
            if header and not _KEY.match(raw):
                names = _split_key(header.group(2))
                base = self._resolve(names[:-1], counts)
                path = (*base, names[-1])
                if header.group(1) == "[[":
                    index = counts.get(path, -1) + 1
                    counts[path] = index
                    self._lines.setdefault(path, number)
                    path = (*path, index)
                current = path
                self._lines.setdefault(path, number)
                continue
            key = _KEY.match(raw)
            if key:
                self._lines.setdefault((*current, *_split_key(key.group(1))), number)
                rest = raw[key.end() :]
                if rest.count('"""') % 2 == 1 or rest.count("'''") % 2 == 1:
                    in_multiline = True

    def _resolve(self, names: list[str], counts: dict[tuple[Any, ...], int]) -> tuple[Any, ...]:
        """A header's parent path, descending into the latest element of arrays of tables."""
        path: tuple[Any, ...] = ()
        for name in names:
            path = (*path, name)
            if path in counts:
                path = (*path, counts[path])
        return path

    def line_of(self, loc: tuple[Any, ...]) -> int | None:
        """The line of `loc`, or of its nearest enclosing key or table that has one."""
        for end in range(len(loc), 0, -1):
            line = self._lines.get(tuple(loc[:end]))
            if line is not None:
                return line
        return None
