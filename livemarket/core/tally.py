"""Weighted counts of the day's orders by group, many at once.

The recorder sums each day's orders into a dozen tables (GMV by platform and channel, by
source, delays, returns ...): each is an ``np.bincount``. At a million consumers a day has
about 160,000 orders and each bincount waits on its own chain of additions; the compiled
kernel (:func:`livemarket.agents.kernels.bincounts`) walks the orders twice at once (tables
of float weights, and on a second thread tables of flags) and adds to every table, each bin
in bincount's order, so the two give the same bits.
"""

from __future__ import annotations

import numpy as np

__all__ = ["bincounts"]


def bincounts(tables: dict[str, tuple[np.ndarray, np.ndarray, int]], compiled=None) -> dict[str, np.ndarray]:
    """``{name: np.bincount(bins, weights, size)}`` for each ``name: (bins, weights, size)``, as float64.

    All ``bins`` and ``weights`` have one entry per order and every bin is below its ``size``.
    ``compiled``: the kernels module (two passes over the orders at once), or None (numpy).
    """
    if compiled is None or not tables:
        return {name: np.bincount(b, w, size) for name, (b, w, size) in tables.items()}
    names = list(tables)
    bins = [np.ascontiguousarray(tables[k][0], dtype=np.int64) for k in names]
    weights = [np.ascontiguousarray(w) if w.dtype == np.bool_ else np.ascontiguousarray(w, dtype=np.float64)
               for w in (np.asarray(tables[k][1]) for k in names)]  # fmt: skip
    if len({len(x) for x in bins + weights}) > 1:
        raise ValueError(f"bincounts: bins and weights differ in length ({sorted(tables)})")
    checked = {(id(b), size): (b, size) for b, (_, _, size) in zip(bins, tables.values(), strict=True)}  # shared bins
    for b, size in checked.values():
        if len(b) and (b.min() < 0 or b.max() >= size):
            raise IndexError(f"bincounts: a bin outside its table of {size} (bins {b.min()}..{b.max()})")
    # float weights, then bool ones (counted as 0/1 in the kernel, as bincount casts them: no float copy),
    # the second group on a thread of its own (kernels.beside) while the first is summed
    kinds = [w.dtype == np.bool_ for w in weights]
    groups = [g for g in ([g for g, flag in enumerate(kinds) if flag == flags] for flags in (False, True)) if g]

    def sums(group: list[int]) -> dict[str, np.ndarray]:
        sizes = np.array([tables[names[g]][2] for g in group], np.int64)
        flat, offset = compiled.bincounts(tuple(bins[g] for g in group), tuple(weights[g] for g in group), sizes)
        return {names[g]: flat[offset[j] : offset[j + 1]] for j, g in enumerate(group)}

    later = [compiled.beside(sums, group) for group in groups[1:]]
    out = sums(groups[0]) if groups else {}
    for wait in later:
        out.update(wait())
    return {name: out[name] for name in names}
