"""Consumer social graphs and consumer -> streamer follow graphs.

Graphs are stored as CSR arrays so the model can index neighbours without networkx. Every
stochastic function takes a ``numpy.random.Generator``; networkx generators get an int seed
drawn from it, so the same generator state always gives the same graph, bit for bit.

``build_social_graph(..., method="arrays")`` generates sbm, watts_strogatz and complete graphs
directly into numpy arrays, with the same distribution as the networkx generator (not the same
graph for a given seed; see ``_watts_strogatz_arrays`` for the one O(k / n) difference).
Barabasi-Albert and Holme-Kim growth is sequential and has no exact vectorised form, so those
two kinds always use networkx, whatever ``method`` says (slow beyond ~10**5 nodes).
"""

from __future__ import annotations

import math
from pathlib import Path

import networkx as nx
import numpy as np

from livemarket.models.csr import (
    GraphInputError,
    SocialGraph,
    _check_count,
    _first_occurrences,
    _pair_key,
    csr_from_pairs,
    graph_kernels,
)
from livemarket.models.graph_files import read_graph_file

__all__ = [
    "GRAPH_KINDS",
    "GraphInputError",
    "SocialGraph",
    "build_follow_graph",
    "build_social_graph",
    "pareto_popularity",
]

GRAPH_KINDS = ("sbm", "watts_strogatz", "barabasi_albert", "holme_kim", "complete", "file")
_METHODS = ("auto", "networkx", "arrays")
_ARRAY_KINDS = frozenset({"sbm", "watts_strogatz", "complete"})
# "auto" builds into arrays above these sizes: always for the SBM (identical distribution, and
# networkx takes 0.5 s at 10,000 nodes); Watts-Strogatz only where the graph is sparse
_AUTO_ARRAYS_ABOVE = {"sbm": 0, "complete": 0, "watts_strogatz": 20_000}
_MAX_ROUNDS = 32  # rejection rounds before the exact per-item fallback
_CLOCK_BLOCK = 2**22  # clocks per block in the follow-sampling fallback


def build_social_graph(
    kind: str,
    n: int,
    rng: np.random.Generator,
    *,
    tiers: np.ndarray | None = None,
    mean_degree: float = 12.0,
    homophily: float = 0.8,
    rewire_prob: float = 0.1,
    triad_prob: float = 0.5,
    path: str | Path | None = None,
    method: str = "auto",
    allow_isolated: bool = False,
) -> SocialGraph:
    """Build the consumer social graph.

    Kinds:
        ``sbm``: stochastic block model over city tiers (``tiers``: int labels 0..T-1, one per
        consumer). With tier sizes s_t, shares pi_t = s_t / n, d = mean_degree and
        h = homophily, every pair of consumers is linked independently with probability
        ``p_tt = d * (h + (1 - h) * pi_t) / (s_t - 1)`` inside tier t and
        ``p_tu = d * (1 - h) / n`` across tiers t != u. Every consumer then has expected degree
        exactly d, of which an expected share ``h + (1 - h) * pi_t`` lies inside its own tier,
        so the expected within-tier share of all edges is ``h + (1 - h) * sum_t pi_t**2``.
        h = 0 is proportional (structure-free) mixing, h = 1 puts every edge inside a tier.
        ``watts_strogatz``: ring lattice with k = the even integer nearest to d, each lattice
        edge rewired with ``rewire_prob``.
        ``barabasi_albert``: m = max(1, round(d / 2)) edges per new node.
        ``holme_kim``: powerlaw cluster graph with m as above and ``triad_prob``.
        ``complete``: all pairs (mean_degree ignored).
        ``file``: read ``path`` (see below; mean_degree and method ignored).

    Files: ``.graphml`` (undirected, nodes with ids "0".."n-1", exactly n of them) or an edge
    list (``.csv``, ``.tsv``, ``.txt``, ``.edges``): one edge per line as two integer ids in
    0..n-1 separated by a comma, tab or whitespace, an optional first line ``source,target``,
    ``#`` starting a comment. Self-loops and duplicate edges are errors. Consumers that no edge
    names are isolated: fine between named ids, but an edge list that names fewer nodes than
    there are consumers (highest id below n - 1) is refused unless ``allow_isolated``.

    Args:
        kind: one of ``GRAPH_KINDS``.
        n: number of consumers.
        rng: random generator (the only source of randomness).
        tiers: tier label per consumer, required for ``sbm``.
        mean_degree: target mean degree d, 0 < d < n.
        homophily: h in [0, 1] for ``sbm``.
        rewire_prob: rewiring probability in [0, 1] for ``watts_strogatz``.
        triad_prob: triad formation probability in [0, 1] for ``holme_kim``.
        path: graph file for ``file``.
        allow_isolated: accept an edge list whose highest id is below n - 1.
        method: ``"networkx"``, ``"arrays"`` (vectorised; sbm, watts_strogatz, complete only,
            other kinds fall back to networkx) or ``"auto"`` (arrays for sbm and complete, and
            for watts_strogatz when n > 20_000).

    Returns:
        The graph as a ``SocialGraph``.

    Raises:
        ValueError: a parameter is outside its accepted range.
        GraphInputError: the graph file is malformed.

    """
    if kind not in GRAPH_KINDS:
        raise ValueError(f"kind must be one of {GRAPH_KINDS}, got {kind!r}")
    if method not in _METHODS:
        raise ValueError(f"method must be one of {_METHODS}, got {method!r}")
    n = _check_count("n", n, minimum=1)
    if kind == "file":
        if path is None:
            raise ValueError("kind='file' needs path (a .graphml, .csv, .tsv, .txt or .edges file)")
        return read_graph_file(Path(path), n, allow_isolated)
    arrays = kind in _ARRAY_KINDS and (
        method == "arrays" or (method == "auto" and n > _AUTO_ARRAYS_ABOVE[kind])
    )
    if kind == "complete":
        if arrays:
            src, dst = np.triu_indices(n, 1)
            return csr_from_pairs(n, src, dst)
        return SocialGraph.from_networkx(nx.complete_graph(n))
    if not (math.isfinite(mean_degree) and 0 < mean_degree < n):
        raise ValueError(f"mean_degree must be in (0, n={n}), got {mean_degree}")
    probs = {"homophily": homophily, "rewire_prob": rewire_prob, "triad_prob": triad_prob}
    for name, value in probs.items():
        if not 0.0 <= value <= 1.0:
            raise ValueError(f"{name} must be in [0, 1], got {value}")
    if kind == "sbm":
        return _sbm(n, tiers, mean_degree, homophily, arrays, rng)
    if kind == "watts_strogatz":
        k = 2 * max(1, round(mean_degree / 2))
        if k >= n:
            raise ValueError(f"mean_degree={mean_degree} gives lattice degree {k}; need < n={n}")
        if arrays:
            return _watts_strogatz_arrays(n, k, rewire_prob, rng)
        return SocialGraph.from_networkx(nx.watts_strogatz_graph(n, k, rewire_prob, _seed(rng)))
    m = max(1, round(mean_degree / 2))
    if m >= n:
        raise ValueError(f"mean_degree={mean_degree} gives m={m} edges per node; need m < n={n}")
    if kind == "barabasi_albert":
        return SocialGraph.from_networkx(nx.barabasi_albert_graph(n, m, _seed(rng)))
    return SocialGraph.from_networkx(nx.powerlaw_cluster_graph(n, m, triad_prob, _seed(rng)))


def build_follow_graph(
    n_consumers: int,
    streamer_platform: np.ndarray,
    streamer_popularity: np.ndarray,
    uses_platform: np.ndarray,
    follows_per_consumer: float,
    rng: np.random.Generator,
) -> tuple[np.ndarray, np.ndarray]:
    """Draw directed follow edges consumer -> streamer.

    Consumer i is eligible to follow streamer s iff ``uses_platform[i, streamer_platform[s]]``
    and ``streamer_popularity[s] > 0``. Consumer i follows
    ``min(Poisson(follows_per_consumer), #eligible)`` distinct streamers, drawn one after another
    with probability proportional to popularity among the eligible streamers not yet followed
    (successive sampling; implemented exactly by drawing with replacement and redrawing
    duplicates). Vectorised over consumers; loops only over distinct platform combinations.

    Args:
        n_consumers: number of consumers.
        streamer_platform: home platform id (0..P-1) of each streamer.
        streamer_popularity: non-negative finite weight of each streamer.
        uses_platform: bool array (n_consumers, P).
        follows_per_consumer: Poisson mean, >= 0.
        rng: random generator.

    Returns:
        ``(indptr, indices)``: int64 indptr of length n_consumers + 1 and int32 streamer ids,
        sorted and unique within each consumer's slice.

    """
    n = _check_count("n_consumers", n_consumers)
    platform = np.asarray(streamer_platform)
    weight = np.asarray(streamer_popularity, dtype=np.float64)
    uses = np.asarray(uses_platform, dtype=bool)
    if uses.ndim != 2 or uses.shape[0] != n or uses.shape[1] > 62:
        raise ValueError(f"uses_platform must have shape (n_consumers={n}, P <= 62)")
    if platform.ndim != 1 or weight.shape != platform.shape:
        raise ValueError("streamer_platform and streamer_popularity must be 1-D of equal length")
    ints = platform.size == 0 or np.issubdtype(platform.dtype, np.integer)
    if not ints or (platform.size and not 0 <= platform.min() <= platform.max() < uses.shape[1]):
        raise ValueError(f"streamer_platform must hold integers in 0..{uses.shape[1] - 1}")
    if not np.all(np.isfinite(weight) & (weight >= 0)):
        raise ValueError("streamer_popularity must be finite and >= 0")
    if not (math.isfinite(follows_per_consumer) and follows_per_consumer >= 0):
        raise ValueError(f"follows_per_consumer must be >= 0, got {follows_per_consumer}")
    kernels = graph_kernels(n)
    codes = uses.astype(np.int64) @ (np.int64(1) << np.arange(uses.shape[1], dtype=np.int64))
    order = np.argsort(codes, kind="stable")
    bounds = np.flatnonzero(np.diff(codes[order])) + 1
    counts = np.zeros(n, dtype=np.int64)
    groups = []
    for consumers in np.split(order, bounds) if n else ():  # one group per platform combination
        used = uses[consumers[0]]
        eligible = np.flatnonzero(used[platform] & (weight > 0))
        k = np.minimum(rng.poisson(follows_per_consumer, consumers.size), eligible.size)
        if eligible.size == 0 or not k.any():
            continue
        counts[consumers] = k
        if kernels is not None:  # each owner's items in its slots, sorted: placed below
            groups.append((consumers, eligible, _successive_sample(k, weight[eligible], rng, kernels)))
            continue
        owner, item = _successive_sample(k, weight[eligible], rng)
        groups.append((consumers[owner], eligible[item]))
    indptr = np.zeros(n + 1, dtype=np.int64)
    np.cumsum(counts, out=indptr[1:])
    indices = np.empty(indptr[-1], dtype=np.int32)
    if kernels is not None:
        for consumers, eligible, (ptr, slots) in groups:
            kernels.place_rows(indices, indptr, consumers, ptr, slots, eligible.astype(np.int32))
        return indptr, indices
    for follower, streamers in groups:  # scatter each consumer's sorted run into its slice
        start = np.flatnonzero(np.diff(follower, prepend=-1))
        rank = np.arange(follower.size) - np.repeat(start, np.diff(start, append=follower.size))
        indices[indptr[follower] + rank] = streamers
    return indptr, indices


def pareto_popularity(n: int, alpha: float, rng: np.random.Generator) -> np.ndarray:
    """Return n heavy-tailed float64 weights, Pareto with x_m = 1 and shape ``alpha`` > 0."""
    n = _check_count("n", n)
    if not (math.isfinite(alpha) and alpha > 0):
        raise ValueError(f"alpha must be > 0, got {alpha}")
    return rng.pareto(alpha, n) + 1.0


# --------------------------------------------------------------------------- helpers


def _seed(rng: np.random.Generator) -> int:
    return int(rng.integers(2**31 - 1))


def _contains(sorted_keys: np.ndarray, keys: np.ndarray) -> np.ndarray:
    if sorted_keys.size == 0:
        return np.zeros(keys.shape, dtype=bool)
    pos = np.minimum(np.searchsorted(sorted_keys, keys), sorted_keys.size - 1)
    return sorted_keys[pos] == keys


def _sbm(n, tiers, mean_degree, homophily, arrays, rng) -> SocialGraph:
    if tiers is None:
        raise ValueError("kind='sbm' needs tiers: an int array of length n with labels 0..T-1")
    tiers = np.asarray(tiers)
    if tiers.shape != (n,) or not np.issubdtype(tiers.dtype, np.integer) or tiers.min() < 0:
        raise ValueError(f"tiers must be a 1-D int array of length n={n} with labels >= 0")
    sizes = np.bincount(tiers)
    present = np.flatnonzero(sizes)
    sizes = sizes[present]
    share = sizes / n
    within = mean_degree * (homophily + (1 - homophily) * share)  # expected degree in own tier
    if np.any(sizes == 1):
        raise ValueError(f"tier {present[sizes == 1][0]} has a single consumer; sbm needs >= 2")
    if np.any(within > (sizes - 1) * (1 + 1e-12)):
        t = int(np.argmax(within / (sizes - 1)))
        d_max = np.min((sizes - 1) / (homophily + (1 - homophily) * share))
        h_max = np.min(((sizes - 1) / mean_degree - share) / np.maximum(1 - share, 1e-300))
        raise ValueError(
            f"tier {present[t]} has {sizes[t]} consumers, too few for {within[t]:.3g} expected "
            f"within-tier neighbours each; accepted with these tiers: mean_degree <= "
            f"{math.floor(d_max * 1000) / 1000:g}"
            + (f" or homophily <= {math.floor(h_max * 1000) / 1000:g}" if h_max >= 0 else "")
        )
    p = np.full((sizes.size,) * 2, mean_degree * (1 - homophily) / n)
    np.fill_diagonal(p, np.minimum(1.0, within / (sizes - 1)))
    if not arrays:
        nodelist = np.argsort(tiers, kind="stable").tolist()
        g = nx.stochastic_block_model(sizes.tolist(), p.tolist(), nodelist, _seed(rng))
        return SocialGraph.from_networkx(g)
    members = [np.flatnonzero(tiers == t) for t in present]
    src, dst = [], []
    for t in range(sizes.size):
        for u in range(t, sizes.size):
            st, su = int(sizes[t]), int(sizes[u])
            n_pairs = st * (st - 1) // 2 if t == u else st * su
            n_edges = int(rng.binomial(n_pairs, p[t, u])) if n_pairs else 0
            if n_edges == 0:
                continue
            idx = rng.choice(n_pairs, size=n_edges, replace=False, shuffle=False)
            i, j = _triangle_pair(idx) if t == u else np.divmod(idx, su)
            src.append(members[t][i])
            dst.append(members[u][j])
    empty = np.empty(0, dtype=np.int64)
    return csr_from_pairs(n, np.concatenate([empty, *src]), np.concatenate([empty, *dst]))


def _triangle_pair(k: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Map k = j * (j - 1) / 2 + i (0 <= i < j) back to (i, j)."""
    k = np.asarray(k, dtype=np.int64)
    j = ((1.0 + np.sqrt(1.0 + 8.0 * k)) / 2.0).astype(np.int64)
    j -= j * (j - 1) // 2 > k  # correct float rounding either way
    j += (j + 1) * j // 2 <= k
    return k - j * (j - 1) // 2, j


def _watts_strogatz_arrays(n: int, k: int, p: float, rng: np.random.Generator) -> SocialGraph:
    """Vectorised ``nx.watts_strogatz_graph``.

    Same lattice and rule: each lattice edge (u, u + j) is, with probability p, replaced by
    (u, w) with w uniform over nodes that are not u, not a lattice neighbour of u and not
    already joined to u by a rewired edge (so never back to the original); if no such w
    exists the edge is kept. networkx applies the rule one edge at a time against the
    current graph, here all edges are rewired together against the lattice, which only
    changes which already-removed lattice pairs may be re-used (a probability O(k / n) event;
    for dense graphs, k close to n, prefer method="networkx").
    """
    u = np.tile(np.arange(n, dtype=np.int64), k // 2)
    v = (u + np.repeat(np.arange(1, k // 2 + 1), n)) % n
    lattice = np.sort(_pair_key(u, v, n))
    pending = np.flatnonzero(rng.random(u.size) < p)
    accepted = np.empty(0, dtype=np.int64)  # sorted keys of rewired edges
    for _ in range(_MAX_ROUNDS):
        if pending.size == 0:
            break
        w = rng.integers(0, n, pending.size)
        key = _pair_key(u[pending], w, n)
        clash = _contains(lattice, key) | _contains(accepted, key)
        ok = np.flatnonzero((w != u[pending]) & ~clash)
        ok = np.sort(ok[_first_occurrences(key[ok])])
        v[pending[ok]] = w[ok]
        accepted = np.sort(np.concatenate([accepted, np.sort(key[ok])]), kind="stable")
        pending = np.delete(pending, ok)
    for e in pending.tolist():  # dense leftovers: choose among the remaining valid targets
        taken = np.concatenate([lattice, accepted])
        taken = taken[(taken // n == u[e]) | (taken % n == u[e])]
        free = np.ones(n, dtype=bool)
        free[[u[e], *(taken // n), *(taken % n)]] = False
        if free.any():
            v[e] = rng.choice(np.flatnonzero(free))
            accepted = np.sort(np.append(accepted, _pair_key(u[e], v[e], n)))
    return csr_from_pairs(n, u, v)


def _alias_table(weight: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Walker/Vose alias table for O(1) sampling proportional to ``weight`` (all > 0)."""
    prob = (weight * (weight.size / weight.sum())).tolist()
    alias = list(range(weight.size))
    small = [i for i, q in enumerate(prob) if q < 1.0]
    large = [i for i, q in enumerate(prob) if q >= 1.0]
    while small and large:
        s, big = small.pop(), large[-1]
        alias[s] = big
        prob[big] -= 1.0 - prob[s]
        if prob[big] < 1.0:
            small.append(large.pop())
    for i in small + large:  # leftovers are 1 up to rounding
        prob[i] = 1.0
    return np.array(prob), np.array(alias, dtype=np.int64)


def _successive_sample(k: np.ndarray, weight: np.ndarray, rng: np.random.Generator, kernels=None):
    """For each owner i draw k[i] distinct items by successive sampling proportional to weight.

    Each round every owner still short draws as many items as it lacks, with replacement, and
    keeps those it does not hold yet; this equals drawing one at a time and rejecting repeats.
    Owners still short after ``_MAX_ROUNDS`` rounds finish with exponential clocks.
    Returns (owner, item) sorted by owner, then item; with ``kernels`` (:mod:`.graph_kernels`,
    the same draws) (ptr, slots) instead: owner i's items, sorted, in ``slots[ptr[i]:ptr[i + 1]]``.
    """
    n_items = weight.size
    bits = n_items.bit_length()  # key = owner << bits | item
    prob, alias = _alias_table(weight)
    full = k == n_items  # following every eligible item needs no draws
    if kernels is not None:
        ptr = np.zeros(k.size + 1, np.int64)
        np.cumsum(k, out=ptr[1:])
        slots = np.empty(ptr[-1], np.int64)
        for o in np.flatnonzero(full).tolist():
            slots[ptr[o] : ptr[o + 1]] = np.arange(n_items)
    else:
        chunks = [(np.flatnonzero(full)[:, None] << bits | np.arange(n_items)).ravel()]
        held = np.zeros(0, np.int64)  # the keys kept by the rounds (pending owners'), sorted
    have = np.where(full, k, 0)
    pending = np.flatnonzero((k > 0) & ~full)
    for _ in range(_MAX_ROUNDS):
        if pending.size == 0:
            break
        need = k[pending] - have[pending]
        pick = rng.integers(0, n_items, need.sum())
        u = rng.random(pick.size)
        if kernels is not None:
            kernels.keep_new_picks(pending, k, pick, u, prob, alias, ptr, slots, have)
        else:
            owner = np.repeat(pending, need)
            pick = np.where(u < prob[pick], pick, alias[pick])
            new = np.sort(owner << bits | pick)
            first = np.ones(len(new), bool)
            np.not_equal(new[1:], new[:-1], out=first[1:])  # each key once
            new = new[first]
            new = new[~_contains(held, new)]
            chunks.append(new)
            held = np.sort(np.concatenate([held, new]))
            have += np.bincount(new >> bits, minlength=k.size)
        pending = pending[have[pending] < k[pending]]
    if kernels is not None:
        if pending.size:
            held = np.concatenate([(o << bits) | slots[ptr[o] : ptr[o] + have[o]] for o in pending.tolist()])
            for owners, chosen in _clock_finish(pending, k, np.sort(held), weight, rng):
                for o, row in zip(owners.tolist(), chosen, strict=True):
                    slots[ptr[o] : ptr[o + 1]] = np.flatnonzero(row)
        kernels.sort_segments(ptr, slots)
        return ptr, slots
    if pending.size:
        short = np.zeros(k.size, dtype=bool)
        short[pending] = True
        held = np.sort(np.concatenate([c[short[c >> bits]] for c in chunks]))
        chunks = [c[~short[c >> bits]] for c in chunks]
        for owners, chosen in _clock_finish(pending, k, held, weight, rng):
            chunks.append((owners[:, None] << bits | np.arange(weight.size))[chosen])
    keys = np.sort(np.concatenate(chunks), kind="stable")  # merges the sorted chunks
    return keys >> bits, keys & ((1 << bits) - 1)


def _clock_finish(pending, k, held, weight, rng):
    """Exact finish for owners still short: exponential clocks E / w over the items they lack.

    ``held`` are the sorted keys (owner << bits | item) the owners hold (their clock is -1); the
    k[i] smallest clocks continue the successive sample. Yields blocks (owners, chosen): chosen is
    bool (owners, items), k[owner] items a row.
    """
    n_items = weight.size
    bits = n_items.bit_length()
    row = np.searchsorted(pending, held >> bits)
    step = max(1, _CLOCK_BLOCK // n_items)
    for lo in range(0, pending.size, step):
        owners = pending[lo : lo + step]
        clock = rng.exponential(size=(owners.size, n_items)) / weight
        sel = slice(*np.searchsorted(row, [lo, lo + owners.size]))
        clock[row[sel] - lo, held[sel] & ((1 << bits) - 1)] = -1.0
        yield owners, np.argsort(np.argsort(clock, axis=1), axis=1) < k[owners, None]  # rank < k
