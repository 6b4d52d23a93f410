"""Typer's option coercion without pydantic for the values that need none.

Why: Typer (0.29) coerces every parameter of the invoked command, defaults included, through a
pydantic TypeAdapter it builds on first use; importing pydantic for that is a fifth of a read
command's start (`ledger runs`, `stops`, `show`, `db status` import it for nothing else), and
issue 18 wants every read within 0.5 s. A string that is a `str` option, a bool that is a flag,
an int default of an int option, strings of a `list[str]` option: for those the adapter returns
the value itself (a list for a list), so here they are returned directly; a `Path` option's
string becomes `Path(value)`, what pydantic makes of it, and then goes through Typer's own path
checks (coerce_cli_path). Anything else (a typed
value from the command line that needs parsing, a Path, a choice, a range, a custom parser) goes
to Typer's own coercion, built then, so its answers and error messages are exactly Typer's.
"""

from __future__ import annotations

import types
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Union, get_args, get_origin

import typer.core
from typer._coercion import RuntimeParam, TypeDescriptor, build_runtime_param
from typer._param_types import coerce_cli_path

__all__ = ["install"]

_NATIVE = (str, bool, int)


def _plain(annotation: Any) -> Any:
    """`X` for `X | None` (and `X` itself), else None when it is any other union."""
    if get_origin(annotation) in (Union, types.UnionType):
        kept = [a for a in get_args(annotation) if a is not type(None)]
        return kept[0] if len(kept) == 1 else None
    return annotation


def _simple(descriptor: TypeDescriptor) -> Any:
    """The native type (or `list` of str) when nothing but the type decides, else None."""
    info = descriptor.parameter_info
    plain = _plain(descriptor.annotation)
    if descriptor.is_path and plain is Path and getattr(info, "path_type", None) in (None, Path):
        return Path
    if (descriptor.is_file or descriptor.is_path or descriptor.is_ranged or descriptor.is_tuple
            or descriptor.is_datetime or getattr(info, "parser", None) is not None
            or getattr(info, "click_type", None) is not None or descriptor.is_choice):
        return None
    if plain in _NATIVE:
        return plain
    if get_origin(plain) is list and get_args(plain) == (str,):
        return list
    return None


@dataclass(frozen=True)
class _Deferred(RuntimeParam):
    """Returns what needs no coercion; builds Typer's coercion for anything else."""

    descriptor: TypeDescriptor = field(kw_only=True)
    native: Any = field(kw_only=True)
    built: list[RuntimeParam] = field(default_factory=list, kw_only=True)

    def _coerce_value(self, value: Any, param: Any, ctx: Any) -> Any:
        native = self.native
        if native is Path:  # Typer's own path checks, given the Path pydantic would make
            if (type(value) is str and value) or isinstance(value, Path):
                return coerce_cli_path(Path(value), self.parameter_info, path_type=Path,
                                       param=param, ctx=ctx)
        elif native is list:
            if isinstance(value, list | tuple) and all(type(v) is str for v in value):
                return list(value)
        elif native is not None and type(value) is native:  # exact: a bool is no int here
            return value
        if not self.built:
            self.built.append(build_runtime_param(self.descriptor))
        return self.built[0].coerce(value, param=param, ctx=ctx)


def _runtime_param(descriptor: TypeDescriptor) -> RuntimeParam:
    """Every parameter deferred: an option not given (None) is answered by RuntimeParam.coerce
    itself, the same for every kind, so Typer's coercion is built only for a value to parse."""
    return _Deferred(parameter_info=descriptor.parameter_info, annotation=descriptor.annotation,
                     descriptor=descriptor, native=_simple(descriptor))


def install() -> None:
    """Route Typer's parameters through `_runtime_param` (idempotent)."""
    typer.core.build_runtime_param = _runtime_param  # type: ignore[attr-defined]
