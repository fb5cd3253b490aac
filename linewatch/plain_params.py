"""Typer commands whose options are converted without Pydantic, for a fast `linewatch` start.

Typer (>= 0.17) validates every option, even an absent one, through a Pydantic TypeAdapter,
and importing Pydantic costs about 0.1 s: a third of the 0.3 s that `linewatch chart` may take
on a small file. Options typed str, int, float or bool need no such machinery, so these classes
give each of them a direct converter. Older typer versions convert with click and are left
alone, as are options of any other type.

Usage: ``typer.Typer(cls=PlainGroup)`` for the root, ``app.command(cls=PlainCommand)``.
"""

from __future__ import annotations

from typing import Any

import typer
from typer.core import TyperCommand, TyperGroup

_PLAIN_TYPES: tuple[type, ...] = (str, int, float, bool)


def install_plain_converter(param: Any) -> None:
    """Give one typer parameter a converter that needs no Pydantic (when it is plain)."""
    try:
        from typer._coercion import RuntimeParam
    except ImportError:  # pragma: no cover - typer without Pydantic coercion
        return
    descriptor = getattr(param, "type_descriptor", None)
    if descriptor is None or getattr(param, "_runtime_param", "absent") is not None:
        return
    annotation = descriptor.annotation
    args = [a for a in getattr(annotation, "__args__", ()) if a is not type(None)]
    base = args[0] if len(args) == 1 else annotation
    if base not in _PLAIN_TYPES:
        return

    class _Plain(RuntimeParam):
        def _coerce_value(self, value: Any, param: Any, ctx: Any) -> Any:
            if base is bool or isinstance(value, base):
                return value
            try:
                return base(value)
            except ValueError:
                what = "an integer" if base is int else "a number"
                raise typer.BadParameter(f"'{value}' is not {what}", ctx=ctx, param=param) from None

    param._runtime_param = _Plain(parameter_info=descriptor.parameter_info, annotation=annotation)


class PlainCommand(TyperCommand):
    def get_params(self, ctx: Any) -> list[Any]:
        params: list[Any] = super().get_params(ctx)
        for param in params:  # every parameter, the help option included, before parsing
            install_plain_converter(param)
        return params


class PlainGroup(TyperGroup):
    def get_params(self, ctx: Any) -> list[Any]:
        params: list[Any] = super().get_params(ctx)
        for param in params:
            install_plain_converter(param)
        return params
