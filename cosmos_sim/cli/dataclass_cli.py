"""Command-line flags from a config dataclass: one flag per field, its docstring line as the help.

Training scripts keep a single ``Args`` dataclass (CleanRL style); this turns it into argparse
flags and back, so a field, its default and its help are written once. Every ``cosmos-sim``
command declares its flags this way.

How a field becomes a flag (``--field-name``):
    bool                      ``--x/--no-x``
    tuple (default a tuple)   one or more values of the elements' type (``--data a.zarr b.zarr``)
    dict                      a JSON object (``--env-kwargs '{"n_objects": 3}'``; ``''`` is ``{}``)
    X | None (default None)   a value of type X
    anything else             a value of the default's type
A field without a default is a required flag. ``add_dataclass_arguments`` takes per-field
overrides for the rest: other option strings, a parser of the text, a default for the command
line, positional arguments.

Only this module, the standard library and the dataclass's own module are imported, so building
a parser costs no heavy import beyond the one that defines the dataclass.
"""

from __future__ import annotations

import argparse
import ast
import dataclasses
import inspect
import json
import textwrap
import types
import typing
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any


def field_docs(cls: type) -> dict[str, str]:
    """The one-line docstring under each dataclass field (read from the source)."""
    body = ast.parse(textwrap.dedent(inspect.getsource(cls))).body[0].body
    docs = {}
    for prev, node in zip(body, body[1:], strict=False):
        if (
            isinstance(prev, ast.AnnAssign)
            and isinstance(node, ast.Expr)
            and isinstance(node.value, ast.Constant)
        ):
            docs[prev.target.id] = str(node.value.value)
    return docs


def json_object(text: str) -> dict:
    """Parse a flag's JSON object (``''`` is ``{}``); anything else is an argparse usage error."""
    if not text.strip():
        return {}
    try:
        value = json.loads(text)
    except json.JSONDecodeError as e:
        raise argparse.ArgumentTypeError(f"{text!r} is not JSON: {e}") from None
    if not isinstance(value, dict):
        raise argparse.ArgumentTypeError(f"must be a JSON object like '{{\"n_objects\": 3}}', got {text!r}")
    return value


def _hints(cls: type) -> dict[str, Any]:
    """Field annotations as types (empty where they cannot be resolved: then the defaults decide)."""
    try:
        return typing.get_type_hints(cls)
    except Exception:  # a name only imported for type checkers, ...
        return {}


def _field_default(f: dataclasses.Field) -> Any:
    if f.default is not dataclasses.MISSING:
        return f.default
    if f.default_factory is not dataclasses.MISSING:
        return f.default_factory()
    return dataclasses.MISSING


def _optional_of(hint: Any) -> Any:
    """``X`` for an ``X | None`` (or ``Optional[X]``) annotation, else the annotation itself."""
    if typing.get_origin(hint) in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(hint) if a is not type(None)]
        if len(args) == 1:
            return args[0]
    return hint


def _is_dict(hint: Any, default: Any) -> bool:
    return (
        isinstance(default, dict)
        or _optional_of(hint) is dict
        or typing.get_origin(_optional_of(hint)) is dict
    )


def add_dataclass_arguments(
    parser: argparse.ArgumentParser,
    cls: type,
    required: Iterable[str] = (),
    choices: Mapping[str, Sequence] | None = None,
    skip: Iterable[str] = ("extra",),
    *,
    only: Iterable[str] | None = None,
    positional: Iterable[str] = (),
    flags: Mapping[str, Sequence[str]] | None = None,
    types: Mapping[str, Callable[[str], Any]] | None = None,
    defaults: Mapping[str, Any] | None = None,
    metavars: Mapping[str, str] | None = None,
) -> None:
    """Add ``--field-name`` for every field of ``cls`` except ``skip`` (see the module docstring).

    Args:
        required: fields that must be given (fields without a default always must).
        choices: allowed values per field.
        skip: fields that get no flag.
        only: when given, just these fields get a flag.
        positional: fields given as positional arguments (``cosmos-sim export STORE``), not flags.
        flags: the option strings of a field instead of ``--field-name``, e.g.
            ``{"env_id": ("--env", "--env-id")}``.
        types: a field's parser of the flag's text instead of the default one, e.g. ``"64x64"`` -> (64, 64);
            it raises ``argparse.ArgumentTypeError`` (or ValueError) for bad text.
        defaults: the default on the command line when it differs from the field's (or the field has
            none); ``argparse.SUPPRESS`` leaves a flag that is not given out of the namespace.
        metavars: a field's placeholder in the help.
    """
    required, skip, positional = set(required), set(skip), set(positional)
    choices, flags, types_, defaults, metavars = (
        choices or {},
        flags or {},
        types or {},
        defaults or {},
        metavars or {},
    )
    only = None if only is None else set(only)
    docs = field_docs(cls)
    hints = _hints(cls)
    for f in dataclasses.fields(cls):
        if f.name in skip or (only is not None and f.name not in only):
            continue
        own = _field_default(f)
        default = defaults.get(f.name, own)
        shown = own if default is argparse.SUPPRESS else default
        help_ = docs.get(f.name, "") + ("" if shown is dataclasses.MISSING else f" (default {shown})")
        kw: dict[str, Any] = {"help": help_.replace("%", "%%")}
        if f.name in positional:
            names: tuple[str, ...] = (f.name,)
            if default is not dataclasses.MISSING:
                kw.update(nargs="?", default=default)
        else:
            names = tuple(flags.get(f.name, ("--" + f.name.replace("_", "-"),)))
            kw["dest"] = f.name
            if default is dataclasses.MISSING:
                kw["required"] = True
            else:
                kw["default"] = default
            if f.name in required:
                kw["required"] = True
        if f.name in choices:
            kw["choices"] = choices[f.name]
        if f.name in metavars:
            kw["metavar"] = metavars[f.name]
        hint = hints.get(f.name)
        if f.name in types_:
            parser.add_argument(*names, type=types_[f.name], **kw)
        elif isinstance(own, bool):
            parser.add_argument(*names, action=argparse.BooleanOptionalAction, **kw)
        elif isinstance(own, tuple):
            parser.add_argument(*names, nargs="+", type=type(own[0]) if own else _element_type(hint), **kw)
        elif _is_dict(hint, own):
            kw.setdefault("metavar", "JSON")
            parser.add_argument(*names, type=json_object, **kw)
        elif own is None or own is dataclasses.MISSING:
            scalar = _optional_of(hint)
            parser.add_argument(*names, type=scalar if scalar in (int, float, str) else str, **kw)
        else:
            parser.add_argument(*names, type=type(own), **kw)


def _element_type(hint: Any) -> type:
    """The element type of a ``tuple[X, ...]`` annotation (str when unknown)."""
    args = typing.get_args(_optional_of(hint))
    return args[0] if args and args[0] in (int, float, str) else str


def dataclass_from_namespace(
    cls: type, ns: argparse.Namespace, command: str = "", skip: Iterable[str] = ("extra",)
):
    """An instance of ``cls`` from parsed flags; the command line goes into ``extra`` (stored with checkpoints).

    Fields without a value in ``ns`` (no flag, or a suppressed default) keep the dataclass's default.
    """
    skip = set(skip)
    hints = _hints(cls)
    values = {}
    for f in dataclasses.fields(cls):
        if f.name in skip or not hasattr(ns, f.name):
            continue
        v = getattr(ns, f.name)
        is_tuple = isinstance(f.default, tuple) or typing.get_origin(_optional_of(hints.get(f.name))) is tuple
        values[f.name] = tuple(v) if is_tuple and isinstance(v, list) else v
    if command and "extra" in {f.name for f in dataclasses.fields(cls)}:
        values["extra"] = {"command": command}
    return cls(**values)


__all__ = ["add_dataclass_arguments", "dataclass_from_namespace", "field_docs", "json_object"]
