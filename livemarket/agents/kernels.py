"""Compiled kernels (numba) for the column engine's hot paths, used above a population threshold.

Each kernel walks the rows the numpy path handles as whole columns and applies the same
formulas of :mod:`livemarket.core.rules` (registered here as jitable, so the rule is still
written once), in the same order of operations: the two paths give bit-identical results.
What numba would compute differently stays in numpy in the callers: ``exp`` and ``log``
(numba's differ from numpy's in the last bit on a few per cent of inputs) and sums over
many terms (numpy sums pairwise).

A kernel whose rows are independent (planned needs) or whose parts write disjoint cells,
each in the serial order (word of mouth), runs in parts on :func:`thread_count` threads
(:func:`in_parts`), so a run's output does not depend on the number of threads; the others
are serial. :func:`beside` runs a step of the day on a second thread while the caller does
another that touches none of its data (settlement beside the consumers' learning). Random
reads and writes into the large per-consumer arrays are announced a few rows ahead
(:func:`prefetch`, a hint to the processor that changes no value), since a day
at a million consumers waits mostly on memory. Kernels are cached on disk (``cache=True``)
so a run does not pay for compilation after the first. This module imports numba;
:mod:`consumers` imports it only when a population is large enough for the kernels to pay.
"""

from __future__ import annotations

import hashlib
import os
import threading
from collections import namedtuple
from pathlib import Path

import numba as nb
import numpy as np
from llvmlite import ir
from numba import types
from numba.core import cgutils
from numba.extending import intrinsic, register_jitable

from livemarket.agents.index_kernels import bincounts, count_segments, edges_by_key, over_capacity, rows_sorted
from livemarket.core import rules
from livemarket.core.ahead import now

__all__ = [
    "behaviour_tuple", "beside", "bincounts", "count_segments", "edge_of", "edges_by_key", "in_parts",
    "last_order_steps", "logit_pick", "logit_steps", "order_outcomes", "over_capacity", "pick_followed",
    "planned_utilities", "row_max_shift", "rows_sorted", "scandal", "scatter_evidence", "thread_count",
]  # fmt: skip

for _rule in (rules.perceived_trust, rules.platform_utility, rules.price_utility, rules.shelf_utility,
              rules.word_of_mouth_evidence, rules.bad_outcome_probability, rules.return_probability):  # fmt: skip
    register_jitable(_rule)

_FIELDS = ("util_trust_platform", "protection_assurance", "wallet_friction", "util_planned", "util_trust_brand",
           "word_of_mouth", "bad_base", "bad_quality", "bad_logistics", "bad_delay", "selection_care_effect",
           "return_bad", "return_impulse", "return_protection_lift")  # fmt: skip
Behaviour = namedtuple("Behaviour", _FIELDS)


def behaviour_tuple(beh) -> Behaviour:
    """The behaviour parameters the kernels read, as a tuple numba can type."""
    return Behaviour(*(float(getattr(beh, f)) for f in _FIELDS))


#: Rows below which a part is not worth a thread (starting one costs about 50 microseconds).
MIN_ROWS_PER_THREAD = 10_000
_MAX_THREADS = 4


def thread_count() -> int:
    """Threads a row-parallel kernel may use: ``LIVEMARKET_THREADS``, else the cores this process may use (<= 4).

    Sweep workers (one per core) run with ``LIVEMARKET_THREADS=1``; outputs do not depend on it.
    """
    value = os.environ.get("LIVEMARKET_THREADS", "")
    if not value:
        return max(1, min(len(os.sched_getaffinity(0)), _MAX_THREADS))
    if not value.isdigit() or int(value) < 1:
        raise ValueError(f"LIVEMARKET_THREADS={value!r}: accepted a whole number of threads >= 1")
    return int(value)


def in_parts(kernel, rows: int, *args) -> None:
    """``kernel(lo, hi, *args)`` over rows [0, rows) in contiguous parts, one per thread, all at once.

    The kernel must release the GIL (``nogil=True``) and write only its own rows' outputs.
    """
    parts = max(1, min(thread_count(), rows // MIN_ROWS_PER_THREAD))
    bounds = [rows * t // parts for t in range(parts + 1)]
    errors: list[BaseException] = []

    def part(t: int) -> None:
        try:
            kernel(bounds[t], bounds[t + 1], *args)
        except BaseException as exc:  # raised again in the calling thread
            errors.append(exc)

    others = [threading.Thread(target=part, args=(t,)) for t in range(1, parts)]
    for t in others:
        t.start()
    part(0)
    for t in others:
        t.join()
    if errors:
        raise errors[0]


def beside(fn, *args):
    """Start ``fn(*args)`` on a thread of its own, if :func:`thread_count` allows two; else run it now.

    Returns a function that waits for it and gives its result (or raises its error). ``fn`` must
    touch nothing the caller reads or writes meanwhile, so the outcome does not depend on timing.
    """
    if thread_count() < 2:
        return now(fn, *args)
    box: list = []

    def run() -> None:
        try:
            box.append((True, fn(*args)))
        except BaseException as exc:  # raised again by wait()
            box.append((False, exc))

    thread = threading.Thread(target=run)
    thread.start()

    def wait():
        thread.join()
        ok, value = box[0]
        if not ok:
            raise value
        return value

    return wait


def _prefetch_intrinsic(write: int):
    @intrinsic
    def hint(typingctx, array, index):
        def codegen(context, builder, signature, args):
            ary = context.make_array(signature.args[0])(context, builder, args[0])
            ptr = cgutils.get_item_pointer(context, builder, signature.args[0], ary, [args[1]], wraparound=False,
                                           boundscheck=False)  # fmt: skip
            i8p, i32 = ir.IntType(8).as_pointer(), ir.IntType(32)
            fn = cgutils.get_or_insert_function(
                builder.module, ir.FunctionType(ir.VoidType(), [i8p, i32, i32, i32]), "llvm.prefetch.p0"
            )
            # (address, read 0 / write 1, locality 3: keep in all cache levels, data cache)
            builder.call(fn, [builder.bitcast(ptr, i8p), i32(write), i32(3), i32(1)])
            return context.get_dummy_value()

        if not (isinstance(array, types.Array) and array.ndim == 1 and isinstance(index, types.Integer)):
            return None
        return types.void(array, index), codegen

    return hint


#: ``prefetch(a, i)``: ask the processor to start loading ``a[i]`` (1-D) into cache; a hint, no value changes.
prefetch = _prefetch_intrinsic(0)
#: ``prefetch_write(a, i)``: the same, for an element about to be written.
prefetch_write = _prefetch_intrinsic(1)
#: Rows ahead whose memory is announced: enough to keep several loads in flight, few enough to stay in cache.
_AHEAD = 4


@nb.njit(cache=True, nogil=True)
def planned_utilities(lo_row, hi_row, brand, u, nn, d, interest_cum, shelf, n_k, cum, base, total, start, end,
                      items, guide, installed, brand_trust, price_rmb, price_sensitivity, ta, tb, prior_a, prior_b,
                      decay, protection, wallet_ok, beh):  # fmt: skip
    """Planned needs of rows [lo_row, hi_row): category, a brand on each shelf platform, the utilities.

    Writes brand (m, Q), -1 where none is found or the app is not installed (no pick: that option
    cannot be chosen), and u (m, 1 + Q) = [none, shelf q...], -inf where the brand is -1. Rows are
    independent (:func:`in_parts`).
    """
    m, n_q, k, n_items, n_p = len(nn), len(shelf), interest_cum.shape[1], len(items), ta.shape[1]
    ta_flat, tb_flat, interest_flat = ta.reshape(-1), tb.reshape(-1), interest_cum.reshape(-1)
    for i in range(lo_row, hi_row):
        if i + _AHEAD < m:  # the rows a later need reads (a row may span two cache lines)
            ahead = nn[i + _AHEAD]
            prefetch(interest_flat, ahead * k)
            prefetch(interest_flat, ahead * k + k - 1)
            for flat in (ta_flat, tb_flat):
                prefetch(flat, ahead * n_p)
                prefetch(flat, ahead * n_p + n_p - 1)
        n = nn[i]
        x = d[i, 0] * np.float64(interest_cum[n, k - 1])
        cat = 0
        for j in range(k):
            if interest_cum[n, j] <= x:
                cat += 1
        cat = min(cat, k - 1)
        u[i, 0] = 0.0
        for j in range(n_q):
            q = shelf[j]
            # WeightedGroups.pick, written out (a helper taking the arrays would count references per call)
            key = q * n_k + cat
            t, lo, hi = total[key], start[key], end[key]
            b = -1
            if n_items > 0 and t > 0 and hi > lo and installed[n, q]:
                x = base[key] + d[i, 1] * t
                # first position in [lo, hi) whose running weight exceeds x, else hi: from the guide, step
                a = min(max(guide[lo + min(np.int64(d[i, 1] * (hi - lo)), hi - lo - 1)], lo), hi)
                while a > lo and cum[a - 1] > x:
                    a -= 1
                while a < hi and cum[a] <= x:
                    a += 1
                b = items[min(min(max(a, lo), max(hi - 1, lo)), n_items - 1)]
            brand[i, j] = b
            if b >= 0:
                a = prior_a[q] + decay * ta[n, q]
                trust = a / (a + prior_b[q] + decay * tb[n, q])
                plat = rules.platform_utility(trust, protection[q], wallet_ok[n, q], beh)
                price = rules.price_utility(price_rmb[b], price_sensitivity[n])
                u[i, j + 1] = rules.shelf_utility(brand_trust[b], price, plat, beh)
            else:
                u[i, j + 1] = -np.inf


def scatter_evidence(ta, tb, fa, fb, n_p, consumer, platform, edge, good_w, bad_w, nb_ptr, nbrs, beh):
    """Outcome evidence to the buyer, then word of mouth to the neighbours, then to follow edges.

    ``ta``/``tb`` are the flat (N * P) evidence offsets. Additions land in the order of the
    numpy path's ``np.add.at`` calls (own outcomes, then what neighbours hear, order by
    order), so every cell sums its terms in the same order; additions of 0.0 are skipped.
    Word of mouth runs in parts of the hearers (:func:`in_parts`), each part adding in that order.
    """
    own_evidence(ta, tb, fa, fb, n_p, consumer, platform, edge, good_w, bad_w)
    in_parts(word_of_mouth, len(nb_ptr) - 1, ta, tb, n_p, consumer, platform, good_w, bad_w, nb_ptr, nbrs, beh)


@nb.njit(cache=True, nogil=True)
def own_evidence(ta, tb, fa, fb, n_p, consumer, platform, edge, good_w, bad_w):
    """Each order's outcome evidence to its buyer's trust in the platform and to the follow edge it came by."""
    for i in range(len(consumer)):
        cell = consumer[i] * n_p + platform[i]
        if good_w[i] != 0.0:
            ta[cell] += good_w[i]
        if bad_w[i] != 0.0:
            tb[cell] += bad_w[i]
    for i in range(len(consumer)):
        e = edge[i]
        if e >= 0:
            if good_w[i] != 0.0:
                fa[e] += good_w[i]
            if bad_w[i] != 0.0:
                fb[e] += bad_w[i]


@nb.njit(cache=True, nogil=True, inline="always")
def _hearers(nb_ptr, nbrs, buyer, lo_node, hi_node, whole):
    """The stretch of ``buyer``'s sorted neighbour list holding ids in [lo_node, hi_node) (all of it if whole)."""
    start, end = nb_ptr[buyer], nb_ptr[buyer + 1]
    if whole:
        return start, end
    row = nbrs[start:end]
    return start + np.searchsorted(row, lo_node), start + np.searchsorted(row, hi_node)


@nb.njit(cache=True, nogil=True)
def word_of_mouth(lo_node, hi_node, ta, tb, n_p, consumer, platform, good_w, bad_w, nb_ptr, nbrs, beh):
    """What each buyer's neighbours with ids in [lo_node, hi_node) hear, added order by order.

    Neighbour lists are sorted (the social graph's invariant), so a part's hearers of an order
    are one stretch of the buyer's list and each part reads only its own. An order adds to
    each hearer's cell once, so within an order the order of hearers changes no sum.
    """
    m, whole = len(consumer), lo_node == 0 and hi_node >= len(nb_ptr) - 1
    ring = 2 * _AHEAD  # stretches found when their cells were announced, used _AHEAD orders later
    first, last = np.empty(ring, np.int64), np.empty(ring, np.int64)
    for j in range(min(_AHEAD, m)):
        first[j % ring], last[j % ring] = _hearers(nb_ptr, nbrs, consumer[j], lo_node, hi_node, whole)
    for i in range(m):
        if i + 2 * _AHEAD < m:  # the neighbour list of a later order, then (below) the cells it will add to
            later = consumer[i + 2 * _AHEAD]
            prefetch(nbrs, nb_ptr[later])
            prefetch(nbrs, nb_ptr[later + 1] - 1)
        if i + _AHEAD < m:
            j = i + _AHEAD
            lo, hi = _hearers(nb_ptr, nbrs, consumer[j], lo_node, hi_node, whole)
            first[j % ring], last[j % ring] = lo, hi
            target = ta if good_w[j] != 0.0 else tb
            for k in range(lo, hi):
                prefetch_write(target, np.int64(nbrs[k]) * n_p + platform[j])
        g = rules.word_of_mouth_evidence(good_w[i], beh)
        h = rules.word_of_mouth_evidence(bad_w[i], beh)
        p = platform[i]
        for k in range(first[i % ring], last[i % ring]):
            cell = np.int64(nbrs[k]) * n_p + p
            if g != 0.0:
                ta[cell] += g
            if h != 0.0:
                tb[cell] += h


@nb.njit(cache=True)
def pick_followed(vn, vp, uniform, n_p, seg_ptr, f_streamer, live):
    """:meth:`ConsumerColumns._pick_followed` row by row: the k-th followed room on air, k = floor(u * count)."""
    m = len(vn)
    edge = np.full(m, -1, np.int64)
    streamer = np.full(m, -1, np.int64)
    for i in range(m):
        cell = vn[i] * n_p + vp[i]
        lo, hi = seg_ptr[cell], seg_ptr[cell + 1]
        count = 0
        for e in range(lo, hi):
            if live[f_streamer[e]]:
                count += 1
        want = np.int64(np.floor(uniform[i] * np.float64(count)))
        rank = 0
        for e in range(lo, hi):
            if live[f_streamer[e]]:
                if rank == want:
                    edge[i] = e
                    streamer[i] = f_streamer[e]
                    break
                rank += 1
    return streamer, edge


@nb.njit(cache=True)
def edge_of(n, streamer, streamer_platform, n_p, seg_ptr, f_streamer):
    """Follow edge (consumer, streamer) by a scan of the consumer's edges on the streamer's platform; -1 if none."""
    m = len(n)
    out = np.full(m, -1, np.int64)
    for i in range(m):
        s = streamer[i]
        if s < 0:
            continue
        cell = n[i] * n_p + streamer_platform[s]
        for e in range(seg_ptr[cell], seg_ptr[cell + 1]):
            if f_streamer[e] == s:
                out[i] = e
                break
    return out


def logit_steps(u, uniform):
    """:func:`rules.logit_choice`'s compiled steps in row parts on threads: (row maxima, choices, row sums).

    Each part runs :func:`row_max_shift`, numpy's ``exp`` (which releases the GIL) and
    :func:`logit_pick` on its own rows; rows are independent, so the parts give the serial bits.
    """
    m = len(u)
    top, choice, total = np.empty(m), np.empty(m, np.int64), np.empty(m)

    def part(lo, hi):
        t, shifted = row_max_shift(u[lo:hi])
        choice[lo:hi], total[lo:hi] = logit_pick(np.exp(shifted), uniform[lo:hi], u[lo:hi], t)
        top[lo:hi] = t

    in_parts(part, m)
    return top, choice, total


@nb.njit(cache=True, nogil=True)
def row_max_shift(u):
    """Each row's maximum and the row less it (the steps before ``exp`` in :func:`rules.logit_choice`).

    Entries shifted to -inf are written as 0.0: numpy's vector ``exp`` leaves its fast path on
    -inf (7 ms instead of 2 on a 1M day); :func:`logit_pick` counts them as exp(-inf) = 0.
    """
    m, k = u.shape
    top = np.empty(m)
    shifted = np.empty((m, k))
    for i in range(m):
        t = u[i, 0]
        for j in range(1, k):
            if u[i, j] > t:
                t = u[i, j]
        top[i] = t
        for j in range(k):
            x = u[i, j] - t
            shifted[i, j] = 0.0 if x == -np.inf else x
    return top, shifted


@nb.njit(cache=True, nogil=True)
def logit_pick(e, uniform, u, top):
    """Row sums of ``e`` (term by term, as numpy sums rows of fewer than 8) and the logit choice.

    ``e`` is ``exp`` of :func:`row_max_shift`'s rows; where ``u - top`` is -inf it holds
    exp(0.0) and is read as 0.0. The choice is :func:`rules.choose_index` of the shares
    ``e / sum``: the running sum of the shares, then the count of running sums at or below
    ``uniform`` times the last one. Returns (choice, sums).
    """
    m, k = e.shape
    choice = np.empty(m, np.int64)
    total = np.empty(m)
    cum = np.empty(k)
    row = np.empty(k)
    for i in range(m):
        for j in range(k):  # branch-free: -inf entries are random, a branch would mispredict
            row[j] = e[i, j] * (u[i, j] - top[i] != -np.inf)
        s = row[0]
        for j in range(1, k):
            s += row[j]
        total[i] = s
        acc = 0.0
        for j in range(k):
            acc += row[j] / s
            cum[j] = acc
        x = uniform[i] * cum[k - 1]
        count = 0
        for j in range(k):
            count += cum[j] <= x
        choice[i] = min(count, k - 1)
    return choice, total


def order_outcomes(u, delayed, brand, platform, streamer, from_content, impulsivity, quality, logistics, care,
                   return_rate, protection, beh):  # fmt: skip
    """:meth:`LiveCommerceModel._fulfil` after the delays, order by order in row parts: (bad, returned, covered).

    ``u``: the (orders, 4) uniforms; ``quality`` and ``return_rate`` by brand, ``logistics`` and
    ``protection`` by platform, ``care`` (selection care) by streamer; ``from_content`` by order.
    """
    n = len(brand)
    bad, returned, covered = np.empty(n, np.bool_), np.empty(n, np.bool_), np.empty(n, np.bool_)
    in_parts(outcome_rows, n, u, delayed, brand, platform, streamer, from_content, impulsivity, quality, logistics,
             care, return_rate, protection, beh, bad, returned, covered)  # fmt: skip
    return bad, returned, covered


@nb.njit(cache=True, nogil=True)
def outcome_rows(lo, hi, u, delayed, brand, platform, streamer, from_content, impulsivity, quality, logistics, care,
                 return_rate, protection, beh, bad, returned, covered):  # fmt: skip
    """:func:`order_outcomes` of orders [lo, hi), into ``bad``, ``returned`` and ``covered``."""
    for i in range(lo, hi):
        s = streamer[i]
        vetting = care[s] if s >= 0 else 0.0
        p_bad = rules.bad_outcome_probability(quality[brand[i]], logistics[platform[i]], delayed[i], vetting, beh)
        bad[i] = u[i, 1] < p_bad
        shield = protection[platform[i]]
        p_return = rules.return_probability(return_rate[brand[i]], bad[i], impulsivity[i], from_content[i], shield, beh)
        returned[i] = u[i, 2] < p_return
        covered[i] = bad[i] and u[i, 3] < shield


def last_order_steps(last, consumer, platform, n_p, day):
    """:meth:`Recorder._last_order_steps` in row parts: all orders' cells read, then all set to ``day``.

    A cell holds its buyer's last order day on the platform; one ordered twice reads the older day twice.
    """
    before = np.empty(len(consumer), last.dtype)
    in_parts(_read_cells, len(consumer), last, consumer, platform, n_p, before)
    in_parts(_write_cells, len(consumer), last, consumer, platform, n_p, day)
    return before


@nb.njit(cache=True, nogil=True)
def _read_cells(lo, hi, last, consumer, platform, n_p, before):
    for i in range(lo, hi):
        if i + 2 * _AHEAD < hi:
            prefetch(last, consumer[i + 2 * _AHEAD] * n_p + platform[i + 2 * _AHEAD])
        before[i] = last[consumer[i] * n_p + platform[i]]


@nb.njit(cache=True, nogil=True)
def _write_cells(lo, hi, last, consumer, platform, n_p, day):
    for i in range(lo, hi):
        last[consumer[i] * n_p + platform[i]] = day


@nb.njit(cache=True)
def scandal(fb, tb, hit, streamer, home, f_ptr, seg_ptr, f_streamer, on_edge, on_platform, spillover):
    """A scandal's bad evidence on the follow edges ``hit`` (ascending), the home platform, the other edges there.

    The evidence lands on each follow edge to the streamer, on the follower's trust in the
    streamer's home platform and on the follower's other follow edges there. Each cell gets
    one addition, as in the numpy path; followers are found by a galloping search over the
    CSR row pointers (the edges come in increasing order).
    """
    n, n_p = len(f_ptr) - 1, tb.shape[1]
    f = 0
    for e in hit:
        lo, hi, step = f, f + 1, 1  # owner: the last row whose first edge is at or before e
        while hi < n and f_ptr[hi] <= e:
            lo = hi
            step *= 2
            hi = lo + step
        hi = min(hi, n)
        while hi - lo > 1:
            mid = (lo + hi) >> 1
            if f_ptr[mid] <= e:
                lo = mid
            else:
                hi = mid
        f = lo
        fb[e] += on_edge
        tb[f, home] += on_platform
        cell = f * n_p + home
        for other in range(seg_ptr[cell], seg_ptr[cell + 1]):
            if f_streamer[other] != streamer:
                fb[other] += spillover


KERNELS = (
    scandal, planned_utilities, own_evidence, word_of_mouth, pick_followed, edge_of, row_max_shift, logit_pick,
    outcome_rows, _read_cells, _write_cells,
)  # fmt: skip


def _drop_stale_cache() -> None:
    """Numba keys a cached kernel on this file only; drop the cache when the rules it inlines change."""
    stamp = hashlib.sha256(Path(rules.__file__).read_bytes() + Path(__file__).read_bytes()).hexdigest()
    try:
        folder = Path(planned_utilities._cache._cache_path)
        mark = folder / "kernels.rules-stamp"
        if mark.exists() and mark.read_text() == stamp:
            return
        for kernel in KERNELS:
            kernel._cache.flush()
        folder.mkdir(parents=True, exist_ok=True)
        mark.write_text(stamp)
    except (AttributeError, OSError):  # a read-only install or another numba: the cache stays as numba keeps it
        pass


_drop_stale_cache()
