"""Command-line flags from a config dataclass: one flag per field, its docstring line as the help.

Training scripts keep a single ``Args`` dataclass (CleanRL style); this turns it into argparse
flags and back, so a field, its default and its help are written once.
"""

from __future__ import annotations

import argparse
import ast
import dataclasses
import inspect
import textwrap
from collections.abc import Iterable


def field_docs(cls: type) -> dict[str, str]:
    """The one-line docstring under each dataclass field (read from the source)."""
    body = ast.parse(textwrap.dedent(inspect.getsource(cls))).body[0].body
    docs = {}
    for prev, node in zip(body, body[1:], strict=False):
        if isinstance(prev, ast.AnnAssign) and isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant):
            docs[prev.target.id] = str(node.value.value)
    return docs


def add_dataclass_arguments(parser: argparse.ArgumentParser, cls: type, required: Iterable[str] = (),
                            choices: dict[str, list] | None = None, skip: Iterable[str] = ("extra",)) -> None:
    """Add ``--field-name`` for every field of ``cls`` except ``skip``.

    bools become ``--x/--no-x``; tuples take one or more values of their elements' type; ``required``
    fields must be given; ``choices`` restricts a field's values.
    """
    required, skip, choices = set(required), set(skip), choices or {}
    docs = field_docs(cls)
    for f in dataclasses.fields(cls):
        if f.name in skip:
            continue
        flag = "--" + f.name.replace("_", "-")
        default = f.default
        help_ = (docs.get(f.name, "") + f" (default {default})").replace("%", "%%")
        kw: dict = {"default": default, "help": help_}
        if f.name in required:
            kw["required"] = True
        if f.name in choices:
            kw["choices"] = choices[f.name]
        if isinstance(default, bool):
            parser.add_argument(flag, action=argparse.BooleanOptionalAction, **kw)
        elif isinstance(default, tuple):
            parser.add_argument(flag, nargs="+", type=type(default[0]) if default else str, **kw)
        else:
            parser.add_argument(flag, type=type(default), **kw)


def dataclass_from_namespace(cls: type, ns: argparse.Namespace, command: str = "", skip: Iterable[str] = ("extra",)):
    """An instance of ``cls`` from parsed flags; the command line goes into ``extra`` (stored with checkpoints)."""
    skip = set(skip)
    values = {}
    for f in dataclasses.fields(cls):
        if f.name in skip:
            continue
        v = getattr(ns, f.name)
        values[f.name] = tuple(v) if isinstance(f.default, tuple) else v
    if command and "extra" in {f.name for f in dataclasses.fields(cls)}:
        values["extra"] = {"command": command}
    return cls(**values)
