"""'Did you mean ...?' for a misspelt name: the closest accepted one, by difflib."""

from __future__ import annotations

import difflib
from collections.abc import Iterable

__all__ = ["did_you_mean"]


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
