"""Compiled kernels that count, rank and index: no behaviour rule is inlined here.

Each gives what its numpy counterpart gives, bit for bit (tests/test_engine_kernels.py); the
column engine reaches them through :mod:`livemarket.agents.kernels`, which imports this module.
"""

from __future__ import annotations

import numba as nb
import numpy as np

__all__ = ["bincounts", "count_segments", "edges_by_key", "over_capacity", "rows_sorted"]


@nb.njit(cache=True)
def rows_sorted(nb_ptr, nbrs) -> bool:
    """Each neighbour list ``nbrs[nb_ptr[i]:nb_ptr[i + 1]]`` is strictly increasing."""
    for i in range(len(nb_ptr) - 1):
        for k in range(nb_ptr[i] + 1, nb_ptr[i + 1]):
            if nbrs[k] <= nbrs[k - 1]:
                return False
    return True


@nb.njit(cache=True)
def edges_by_key(key, ptr, index_type):
    """Positions of ``key`` grouped by key value, ascending within a group (a stable argsort), by counting.

    ``ptr``: where each key value's group starts (the running count of smaller keys).
    """
    fill = ptr[:-1].copy()
    out = np.empty(len(key), type(index_type))
    for e in range(len(key)):
        k = key[e]
        out[fill[k]] = e
        fill[k] += 1
    return out


@nb.njit(cache=True)
def over_capacity(brand, u, capacity):
    """:func:`market._over_capacity` brand by brand: each overflowing brand's late orders, found by selection.

    The orders of a brand with more orders than capacity are gathered in their order (a
    branch-free counting sort; the other brands' orders go to a scratch slot). Its order of rank
    ``capacity`` in a stable sort by ``u`` is the first late one: orders with a larger ``u`` are
    late, and of those tied with it the earlier ones ship first, as in the numpy path's two
    stable sorts. A selection (``np.partition``) finds it without sorting the brand's orders.
    """
    n_b = len(capacity)
    count = np.zeros(n_b, np.int64)
    for i in range(len(brand)):
        count[brand[i]] += 1
    ptr = np.zeros(n_b + 1, np.int64)
    for b in range(n_b):
        ptr[b + 1] = ptr[b] + (count[b] if count[b] > capacity[b] else 0)
    scratch = ptr[n_b]
    fill, step = np.empty(n_b, np.int64), np.empty(n_b, np.int64)
    for b in range(n_b):
        over = count[b] > capacity[b]
        fill[b], step[b] = (ptr[b], 1) if over else (scratch, 0)
    idx, vals = np.empty(scratch + 1, np.int64), np.empty(scratch + 1)
    for i in range(len(brand)):
        j = fill[brand[i]]
        idx[j], vals[j] = i, u[i]
        fill[brand[i]] = j + step[brand[i]]
    delayed = np.zeros(len(brand), np.bool_)
    for b in range(n_b):
        lo, hi = ptr[b], ptr[b + 1]
        if hi == lo:
            continue
        c = int(capacity[b])  # below the brand's order count
        first_late = np.partition(vals[lo:hi], c)[c] if c > 0 else -np.inf
        ties_on_time = c  # of the orders tied with first_late, how many ship on time
        for r in range(lo, hi):
            if vals[r] < first_late:
                ties_on_time -= 1
        for r in range(lo, hi):
            if vals[r] > first_late or c == 0:
                delayed[idx[r]] = True
            elif vals[r] == first_late:
                if ties_on_time > 0:
                    ties_on_time -= 1
                else:
                    delayed[idx[r]] = True
    return delayed


@nb.njit(cache=True, nogil=True)
def bincounts(bins, weights, sizes):
    """:func:`livemarket.core.tally.bincounts`, all tables in one flat array; weights all float64 or all bool.

    Each bin adds its orders' weights in their order, starting from 0.0, as ``np.bincount``
    does (a bool weight adds 1.0 or 0.0). Returns (flat sums, offsets of the tables in it).
    Order by order across the tables: a table's orders come in long runs of one bin (planned
    needs), each a chain of dependent additions; the tables' chains overlap. The caller checks the bins' range.
    """
    offset = np.zeros(len(sizes) + 1, np.int64)
    for g in range(len(sizes)):
        offset[g + 1] = offset[g] + sizes[g]
    out = np.zeros(offset[-1])
    for i in range(len(weights[0]) if len(weights) else 0):
        for g in range(len(sizes)):
            out[offset[g] + bins[g][i]] += np.float64(weights[g][i])
    return out, offset


@nb.njit(cache=True)
def count_segments(f_ptr, f_streamer, streamer_platform, n_p, seg_ptr):
    """Follow-segment pointers: ``seg_ptr[c + 1]`` = edges in cells before and at c (cell = consumer * P + platform).

    Returns False when a consumer's edges are not grouped by platform (the pointers are then
    meaningless), as the numpy path's check.
    """
    last = -1
    for i in range(len(f_ptr) - 1):
        for e in range(f_ptr[i], f_ptr[i + 1]):
            c = i * n_p + streamer_platform[f_streamer[e]]
            if c < last:
                return False
            last = c
            seg_ptr[c + 1] += 1
    for c in range(1, len(seg_ptr)):
        seg_ptr[c] += seg_ptr[c - 1]
    return True
