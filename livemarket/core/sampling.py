"""Samplers: weighted picks within groups, Bernoulli thinning, choice from cumulative weights.

Every draw takes its uniforms (or its generator) from the caller, so both consumer engines
request the same random numbers in the same order.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

__all__ = [
    "GroupLayout", "WeightedGroups", "bernoulli_candidates", "choose_from_cumulative", "choose_index",
    "concat_ranges", "running_sums",
]  # fmt: skip


class GroupLayout(NamedTuple):
    """Where each key's items sit once sorted by key: it depends on the keys alone (see :meth:`of`)."""

    order: np.ndarray  # np.argsort(keys, kind="stable")
    items: np.ndarray  # the item (or its label) at each sorted position
    start: np.ndarray  # (n_keys,) first position of each key
    end: np.ndarray  # (n_keys,) one past its last position
    last: np.ndarray  # (n_keys,) its last position, kept in range for an empty key
    key_of_position: np.ndarray  # the key at each position (for the guide)
    fraction: np.ndarray  # each position's rank within its key over the key's size (for the guide)

    @classmethod
    def of(cls, keys: np.ndarray, n_keys: int, labels=None) -> GroupLayout:
        """The layout of items with integer ``keys`` in [0, ``n_keys``), optionally labelled."""
        order = np.argsort(keys, kind="stable")
        sorted_keys = np.asarray(keys)[order]
        start = np.searchsorted(sorted_keys, np.arange(n_keys), side="left")
        end = np.searchsorted(sorted_keys, np.arange(n_keys), side="right")
        key = np.repeat(np.arange(n_keys), end - start)
        size = (end - start)[key]
        return cls(
            order=order, items=order if labels is None else np.asarray(labels)[order], start=start, end=end,
            last=np.minimum(np.maximum(end - 1, start), max(len(order) - 1, 0)), key_of_position=key,
            fraction=(np.arange(len(key)) - start[key]) / np.maximum(size, 1),
        )  # fmt: skip


class WeightedGroups:
    """Items grouped by an integer key, picked within a group with chance proportional to weight.

    Example:
        >>> g = WeightedGroups(keys=np.array([0, 0, 1]), weights=np.array([1.0, 3.0, 1.0]), n_keys=2)
        >>> g.pick(np.array([0, 0, 1]), np.array([0.2, 0.5, 0.9])).tolist()
        [0, 1, 2]
    """

    def __init__(self, keys: np.ndarray, weights: np.ndarray, n_keys: int, labels=None, layout=None):
        """``layout``: ``GroupLayout.of(keys, n_keys, labels)`` when the caller keeps it (keys that rarely change)."""
        self.layout = layout = GroupLayout.of(keys, n_keys, labels) if layout is None else layout
        self.items, self.start, self.end, self.last = layout.items, layout.start, layout.end, layout.last
        self.cum = np.cumsum(np.asarray(weights, dtype=np.float64)[layout.order])
        before = np.concatenate([[0.0], self.cum])
        self.base = before[self.start]
        self.total = before[self.end] - self.base  # 0.0 exactly for an empty key

    def guide(self) -> np.ndarray:
        """Where a search for a pick may start, for compiled searches (built on first use).

        Each key's weight range is cut into as many equal buckets as the key has items;
        entry ``start[key] + j`` is the position :meth:`pick` finds at the start of bucket
        ``j``. A search that starts there and steps to the exact position finds what
        :meth:`pick` finds, in a step or two instead of a binary search.
        """
        if getattr(self, "_guide", None) is None:
            key = self.layout.key_of_position
            x = self.base[key] + self.layout.fraction * self.total[key]
            self._guide = np.searchsorted(self.cum, x, side="right")
        return self._guide

    def pick(self, key: np.ndarray, uniform: np.ndarray) -> np.ndarray:
        """Item (or its label) for each (key, uniform); -1 where the group is empty or weightless.

        The item is the first of the group whose running weight exceeds ``base + uniform * total``
        (the group's last item if none does). The search starts at :meth:`guide` and steps to it;
        the few it has not reached after two steps are found by a binary search. Fewer picks
        than half the items are all found by a binary search (building the guide costs more).
        """
        key, uniform = np.asarray(key), np.asarray(uniform)
        if len(self.items) == 0:
            return np.full(key.shape, -1)
        total, lo = self.total[key], self.start[key]
        x = self.base[key] + uniform * total
        if 2 * key.size < len(self.items):
            pos = np.searchsorted(self.cum, x, side="right")
        else:
            pos = self._guided_search(key, uniform, x, lo)
        pos = np.minimum(np.maximum(pos, lo), self.last[key])
        return np.where(total > 0, self.items[pos], -1)  # total > 0: the key has items and weight

    def _guided_search(self, key, uniform, x, lo) -> np.ndarray:
        """``searchsorted(cum, x, "right")`` from the guide (a step past the key's items is undone by the clamp)."""
        size = self.end[key] - lo
        bucket = lo + np.minimum((uniform * size).astype(np.intp), size - 1)  # lo - 1 for an empty group: unused
        pos = self.guide()[bucket]
        if getattr(self, "_padded", None) is None:
            self._padded = np.concatenate([[-np.inf], self.cum, [np.inf]])  # cum[i] at i + 1: no bounds to check
        cum = self._padded
        for _ in range(2):  # a guide's bucket rarely holds more than one step
            pos += cum[pos + 1] <= x
        far = (cum[pos + 1] <= x) | (cum[pos] > x)
        if far.any():
            pos[far] = np.searchsorted(self.cum, x[far], side="right")
        return pos


def choose_index(probabilities, uniform):
    """Index of the option picked by inverse-CDF sampling with one uniform draw per row."""
    return choose_from_cumulative(running_sums(probabilities), uniform)


def running_sums(values) -> np.ndarray:
    """``np.cumsum(values, axis=-1)``; float rows of fewer than 8 a column at a time (the same additions, faster)."""
    v = np.asarray(values)
    if v.ndim != 2 or v.shape[1] >= 8 or v.dtype != np.float64:
        return np.cumsum(v, axis=-1)
    running = v.copy()  # numpy accumulates short rows one call per row
    for j in range(1, v.shape[1]):
        running[:, j] += running[:, j - 1]
    return running


def choose_from_cumulative(cumulative, uniform):
    """:func:`choose_index` given the running sums of the probabilities (reusable across days)."""
    u = np.asarray(uniform)[..., None] * cumulative[..., -1:]
    k = np.shape(cumulative)[-1]
    at_or_below = cumulative <= u
    if k < 256:  # a product with ones counts short rows several times faster than sum(axis=-1)
        return np.minimum(at_or_below.view(np.uint8) @ np.ones(k, np.uint8), k - 1, dtype=np.intp)
    return np.minimum(at_or_below.sum(axis=-1), k - 1)


def bernoulli_candidates(size: int, p_max: float, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Thinning for many independent events of chance ``p_i <= p_max`` among ``size`` cells.

    Draws the cells where a Bernoulli(``p_max``) trial succeeds (geometric gaps, so the cost
    grows with the number of successes, not with ``size``) and one uniform ``u`` per such cell.
    Cell ``i`` then has its event when ``u * p_max < p_i``: exactly chance ``p_i``, as with one
    uniform per cell, at a fraction ``p_max`` of the draws. Cells come in increasing order.

    Returns:
        (cells, u): int64 cell indices in increasing order and their uniforms.
    """
    if size <= 0 or p_max <= 0.0:
        return np.zeros(0, np.int64), np.zeros(0)
    if p_max >= 1.0:
        return np.arange(size, dtype=np.int64), rng.random(size)
    expected = size * p_max
    batch = int(expected + 6.0 * np.sqrt(expected) + 16)
    cells = np.cumsum(_geometric_gaps(p_max, batch, size, rng)) - 1
    while cells[-1] < size:
        cells = np.concatenate([cells, cells[-1] + np.cumsum(_geometric_gaps(p_max, batch, size, rng))])
    cells = cells[: np.searchsorted(cells, size)]  # cells increase: those below size are a prefix
    return cells, rng.random(len(cells))


def _geometric_gaps(p: float, count: int, cap: int, rng: np.random.Generator) -> np.ndarray:
    """Geometric(p) trials to the next success, by inversion, capped at ``cap + 1`` (no overflow)."""
    gaps = rng.standard_exponential(count)
    with np.errstate(over="ignore"):  # p near zero: gaps beyond any cap
        np.divide(gaps, -np.log1p(-p), out=gaps)  # in place: the same values, no temporaries
    np.ceil(gaps, out=gaps)
    np.maximum(gaps, 1.0, out=gaps)
    np.minimum(gaps, cap + 1.0, out=gaps)
    return gaps.astype(np.int64)


def concat_ranges(starts: np.ndarray, lengths: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Concatenated ``arange(start, start + length)``; also the owner index of each element."""
    owner = np.repeat(np.arange(len(starts)), lengths)
    first = np.cumsum(lengths) - lengths
    return starts[owner] + (np.arange(len(owner)) - first[owner]), owner
