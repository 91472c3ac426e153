"""What bad input is told: every problem of a validation in one line each, and 'did you mean ...?'."""

from __future__ import annotations

import difflib
from collections.abc import Iterable
from typing import Any, get_args, get_origin

from pydantic import BaseModel, ValidationError

__all__ = ["describe_errors", "did_you_mean"]


def did_you_mean(word: object, choices: Iterable[object]) -> str:
    """Return ``"; did you mean 'x'?"`` for the accepted name closest to ``word``, or ``""`` if none is close.

    >>> did_you_mean("douyn", ["douyin", "kuaishou"])
    "; did you mean 'douyin'?"
    >>> did_you_mean("zzz", ["douyin"])
    ''
    """
    names = [str(c) for c in choices]
    match = difflib.get_close_matches(str(word), names, n=1, cutoff=0.6)
    return f"; did you mean {match[0]!r}?" if match and match[0] != str(word) else ""


def describe_errors(err: ValidationError, root: type[BaseModel], prefix: str = "") -> str:
    """One line per problem: the dotted field, the message, and the rejected input.

    ``root`` is the model that was validated: an unknown field's message lists the fields
    accepted at its place in that model, and the closest of them.
    """
    lines = []
    for e in err.errors():
        loc = ".".join(str(x) for x in e["loc"])
        loc = f"{prefix}.{loc}" if prefix and loc else (loc or prefix)
        msg = e["msg"].removeprefix("Value error, ")
        if e["type"] == "extra_forbidden":
            accepted = _fields_at(e["loc"][:-1], root)
            msg = f"unknown field; accepted: {', '.join(accepted)}" if accepted else "unknown field"
            msg += did_you_mean(e["loc"][-1], accepted)
        lines.append(f"{loc}: {msg} (got {e.get('input')!r})" if loc else msg)
    return "; ".join(lines)


def _fields_at(loc: tuple, root: type[BaseModel]) -> list[str]:
    """Field names of the table at a validation-error location of ``root`` (for "accepted: ...")."""
    def table(node: Any) -> Any:  # X | None: the table is X
        return next(a for a in get_args(node) if a is not type(None)) if type(None) in get_args(node) else node

    node: Any = root
    for key in loc:
        node = table(node)
        if get_origin(node) in (list, dict):  # key is a list index or a dict key
            node = get_args(node)[-1]
        elif isinstance(node, type) and issubclass(node, BaseModel) and key in node.model_fields:
            node = node.model_fields[key].annotation
        else:
            return []
    node = table(node)
    if not (isinstance(node, type) and issubclass(node, BaseModel)):
        return []
    return sorted(k for k, f in node.model_fields.items() if not f.exclude)
