"""Work started before it is needed: a deferred call, and a stream's uniforms drawn ahead.

With the compiled kernels, the day runs some of its steps on a second thread
(``kernels.beside``) while the caller does another that touches none of their data; these
helpers take that function, or none (at once, in the caller's thread: the numpy path, which
imports no numba). Either way the results are the same, bit for bit.
"""

from __future__ import annotations

import numpy as np

__all__ = ["Deferred", "UniformsAhead", "now"]


def now(fn, *args):
    """``fn(*args)`` at once, as a function that gives its result (the serial form of ``kernels.beside``)."""
    result = fn(*args)
    return lambda: result


class Deferred:
    """``fn(*args)`` run by ``beside`` (``kernels.beside`` or :func:`now`) from :meth:`start` or :meth:`result`."""

    def __init__(self, beside, fn, *args):
        self._begin, self._wait = lambda: beside(fn, *args), None

    def start(self) -> None:
        """Begin it, once."""
        self._wait = self._wait or self._begin()

    def result(self):
        """Its result (begun now if nothing began it), or its error."""
        self.start()
        return self._wait()


class UniformsAhead:
    """A stream's first uniforms, ``ahead`` of them drawn through ``beside`` before their number is known.

    A generator gives the same numbers drawn at once or in pieces, so :meth:`take` is
    ``rng.random(count)`` whatever was drawn ahead. The stream must serve nothing else.
    """

    def __init__(self, rng: np.random.Generator, ahead: int, beside=None):
        self._rng, self._drawn = rng, beside(rng.random, ahead) if beside is not None and ahead > 0 else None

    def take(self, count: int) -> np.ndarray:
        """The stream's first ``count`` uniforms: those drawn ahead, then more if they fall short."""
        drawn = self._drawn() if self._drawn is not None else np.zeros(0)
        self._drawn = None
        if len(drawn) < count:
            drawn = np.concatenate([drawn, self._rng.random(count - len(drawn))])
        return drawn[:count]
