"""Weighted counts of the day's orders by group, many at once.

The recorder sums each day's orders into a dozen tables (GMV by platform and channel, by
source, delays, returns ...): each is an ``np.bincount``. At a million consumers a day has
about 160,000 orders and each bincount waits on its own chain of additions; the compiled
pass (:func:`livemarket.agents.kernels.bincounts`) walks the orders once and adds to every
table, each bin in bincount's order, so the two give the same bits.
"""

from __future__ import annotations

import numpy as np

__all__ = ["bincounts"]


def bincounts(tables: dict[str, tuple[np.ndarray, np.ndarray, int]], compiled=None) -> dict[str, np.ndarray]:
    """``{name: np.bincount(bins, weights, size)}`` for each ``name: (bins, weights, size)``, as float64.

    All ``bins`` and ``weights`` have one entry per order and every bin is below its ``size``.
    ``compiled``: the kernels module (one pass over the orders), or None (numpy).
    """
    if compiled is None or not tables:
        return {name: np.bincount(b, w, size) for name, (b, w, size) in tables.items()}
    bins = tuple(np.ascontiguousarray(b, dtype=np.int64) for b, _, _ in tables.values())
    weights = tuple(np.ascontiguousarray(w, dtype=np.float64) for _, w, _ in tables.values())
    sizes = np.array([size for _, _, size in tables.values()], np.int64)
    if len({len(x) for x in bins + weights}) > 1:
        raise ValueError(f"bincounts: bins and weights differ in length ({sorted(tables)})")
    checked = {(id(b), size): (b, size) for (b, _, size) in tables.values()}  # tables share bins: check each once
    for b, size in checked.values():
        if len(b) and (b.min() < 0 or b.max() >= size):
            raise IndexError(f"bincounts: a bin outside its table of {size} (bins {b.min()}..{b.max()})")
    flat, offset = compiled.bincounts(bins, weights, sizes)
    return {name: flat[offset[g] : offset[g + 1]] for g, name in enumerate(tables)}
