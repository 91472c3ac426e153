"""Compiled set-up kernels (numba) for large populations: the social graph's CSR and the follow sampler.

They give the arrays the numpy path gives (the same graph for the same draws: the random
draws stay in the callers, in numpy, in the same order), without its full-size temporaries
and sorts. :func:`livemarket.models.csr.graph_kernels` says whether a population uses them
(and imports this module, and numba, only then).
"""

from __future__ import annotations

import numba as nb
import numpy as np

__all__ = ["csr_undirected", "keep_new_picks", "place_rows", "sort_segments"]


@nb.njit(cache=True)
def csr_undirected(n, a, b):
    """Symmetric CSR (int64 indptr, int32 sorted unique neighbours) of the pairs (a, b); self-loops dropped."""
    deg = np.zeros(n + 1, np.int64)
    for i in range(len(a)):
        if a[i] != b[i]:
            deg[a[i] + 1] += 1
            deg[b[i] + 1] += 1
    ptr = np.cumsum(deg)
    fill = ptr[:-1].copy()
    cols = np.empty(ptr[n], np.int32)
    for i in range(len(a)):
        x, y = a[i], b[i]
        if x != y:
            cols[fill[x]] = y
            fill[x] += 1
            cols[fill[y]] = x
            fill[y] += 1
    out = np.zeros(n + 1, np.int64)
    w = 0
    for r in range(n):
        lo, hi = ptr[r], ptr[r + 1]
        _sort_small(cols, lo, hi)
        last = -1
        for j in range(lo, hi):
            c = cols[j]
            if c != last:
                cols[w] = c
                w += 1
                last = c
        out[r + 1] = w
    return out, (cols if w == len(cols) else cols[:w].copy())


@nb.njit(cache=True)
def _sort_small(x, lo, hi):
    """Sort ``x[lo:hi]`` in place: insertion sort for short runs, numpy's sort for long ones."""
    if hi - lo > 32:
        x[lo:hi] = np.sort(x[lo:hi])
        return
    for j in range(lo + 1, hi):
        v = x[j]
        i = j - 1
        while i >= lo and x[i] > v:
            x[i + 1] = x[i]
            i -= 1
        x[i + 1] = v


@nb.njit(cache=True)
def keep_new_picks(pending, k, pick, u, prob, alias, ptr, slots, have):
    """One round of successive sampling: each pending owner keeps the picks it does not hold yet (once each).

    Owner ``pending[i]`` takes, in turn, as many of the draws as it lacks; draw ``t`` is item
    ``pick[t]`` if ``u[t] < prob[pick[t]]``, else its alias (Walker's method). Owner ``o``
    holds ``slots[ptr[o] : ptr[o] + have[o]]`` (capacity ``ptr[o + 1] - ptr[o]``).
    """
    t = 0
    for o in pending:
        for _ in range(k[o] - have[o]):
            x = pick[t] if u[t] < prob[pick[t]] else alias[pick[t]]
            t += 1
            base, h = ptr[o], have[o]
            held = False
            for s in range(base, base + h):
                if slots[s] == x:
                    held = True
                    break
            if not held:
                slots[base + h] = x
                have[o] = h + 1


@nb.njit(cache=True)
def sort_segments(ptr, slots):
    """Sort each owner's slots in place."""
    for o in range(len(ptr) - 1):
        _sort_small(slots, ptr[o], ptr[o + 1])


@nb.njit(cache=True)
def place_rows(indices, indptr, consumers, ptr, slots, eligible):
    """Write owner ``o``'s items (as ``eligible`` ids) into consumer ``consumers[o]``'s CSR row."""
    for o in range(len(consumers)):
        start = indptr[consumers[o]]
        for j in range(ptr[o], ptr[o + 1]):
            indices[start + j - ptr[o]] = eligible[slots[j]]
