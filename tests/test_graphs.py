import itertools

import networkx as nx
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats

from livemarket.models import graphs
from livemarket.models.graphs import (
    GRAPH_KINDS,
    GraphInputError,
    SocialGraph,
    build_follow_graph,
    build_social_graph,
    pareto_popularity,
)

RANDOM_KINDS = ("sbm", "watts_strogatz", "barabasi_albert", "holme_kim")


def rng(seed=0):
    return np.random.default_rng(seed)


def shuffled_tiers(n, shares=(0.1, 0.2, 0.3, 0.4), seed=99):
    counts = np.round(np.array(shares) * n).astype(int)
    counts[-1] = n - counts[:-1].sum()
    return rng(seed).permutation(np.repeat(np.arange(len(shares)), counts))


def assert_simple_csr(g: SocialGraph):
    assert g.indptr.dtype == np.int64 and g.indices.dtype == np.int32
    assert g.indptr[0] == 0 and g.indptr[-1] == g.indices.size == 2 * g.num_edges
    rows = np.repeat(np.arange(g.n), g.degrees())
    assert not np.any(rows == g.indices), "self-loop"
    for i in range(g.n):
        nb = g.indices[g.indptr[i] : g.indptr[i + 1]]
        assert np.all(np.diff(nb) > 0), f"row {i} not sorted/unique"
    a = g.adjacency()
    assert (a != a.T).nnz == 0, "not symmetric"


def within_share(g: SocialGraph, tiers):
    rows = np.repeat(np.arange(g.n), g.degrees())
    return np.mean(tiers[rows] == tiers[g.indices])


def build(kind, n, seed=0, **kw):
    if kind == "sbm":
        kw.setdefault("tiers", shuffled_tiers(n))
    return build_social_graph(kind, n, rng(seed), **kw)


# ----------------------------------------------------------------- SocialGraph


def test_from_edges_exact_csr():
    src = np.array([0, 1, 1, 2, 3, 0, 2])
    dst = np.array([1, 0, 2, 2, 0, 3, 1])  # 1-0 and 0-3 and 2-1 repeated, 2-2 self-loop
    g = SocialGraph.from_edges(4, src, dst)
    assert g.indptr.tolist() == [0, 2, 4, 5, 6]
    assert g.indices.tolist() == [1, 3, 0, 2, 1, 0]
    assert (g.n, g.num_edges) == (4, 3)
    assert g.degrees().tolist() == [2, 2, 1, 1]
    dense = g.adjacency().toarray()
    assert dense.dtype == np.float64
    assert dense.tolist() == [[0, 1, 0, 1], [1, 0, 1, 0], [0, 1, 0, 0], [1, 0, 0, 0]]
    assert_simple_csr(g)


def test_from_edges_isolated_nodes_and_errors():
    g = SocialGraph.from_edges(6, np.array([4]), np.array([1]))
    assert g.indptr.tolist() == [0, 0, 1, 1, 1, 2, 2]
    assert g.indices.tolist() == [4, 1]
    assert SocialGraph.from_edges(3, np.array([], int), np.array([], int)).num_edges == 0
    with pytest.raises(ValueError, match="0..3"):
        SocialGraph.from_edges(4, np.array([0]), np.array([4]))
    with pytest.raises(ValueError, match="equal length"):
        SocialGraph.from_edges(4, np.array([0, 1]), np.array([2]))


def test_arrays_are_read_only_and_caller_arrays_untouched():
    indptr, indices = np.array([0, 1, 2]), np.array([1, 0])
    g = SocialGraph(indptr, indices)
    with pytest.raises(ValueError):
        g.indices[0] = 0
    indptr[0] = 0  # the caller's array stays writable
    assert g == SocialGraph.from_edges(2, np.array([0]), np.array([1]))


@settings(max_examples=60, deadline=None)
@given(
    st.integers(1, 30).flatmap(
        lambda n: st.tuples(
            st.just(n),
            st.lists(st.tuples(st.integers(0, n - 1), st.integers(0, n - 1)), max_size=80),
        )
    )
)
def test_from_edges_property(case):
    n, edges = case
    src = np.array([e[0] for e in edges], dtype=np.int64)
    dst = np.array([e[1] for e in edges], dtype=np.int64)
    g = SocialGraph.from_edges(n, src, dst)
    assert_simple_csr(g)
    expected = {(min(a, b), max(a, b)) for a, b in edges if a != b}
    assert set(g.to_networkx().edges()) == expected
    assert g.n == n


def test_networkx_round_trip():
    g0 = build("holme_kim", 300, seed=3, mean_degree=6)
    g1 = SocialGraph.from_networkx(g0.to_networkx())
    assert g1 == g0
    assert sorted(g0.to_networkx().nodes) == list(range(300))


def test_from_networkx_labels():
    h = nx.Graph()
    h.add_nodes_from([2, 0, 1])  # ids 0..n-1 keep their ids
    h.add_edges_from([(2, 0), (2, 2)])
    assert SocialGraph.from_networkx(h).indices.tolist() == [2, 0]
    h = nx.Graph([("b", "a"), ("a", "c")])  # insertion order: b=0, a=1, c=2
    g = SocialGraph.from_networkx(h)
    assert g.indptr.tolist() == [0, 1, 3, 4] and g.indices.tolist() == [1, 0, 2, 1]
    multi = nx.MultiDiGraph([(0, 1), (1, 0), (0, 1)])
    assert SocialGraph.from_networkx(multi).num_edges == 1


# ----------------------------------------------------------------- generators


@pytest.mark.parametrize("method", ["networkx", "arrays"])
@pytest.mark.parametrize("kind", [*RANDOM_KINDS, "complete"])
def test_determinism(kind, method):
    a = build(kind, 400, seed=5, method=method)
    b = build(kind, 400, seed=5, method=method)
    assert a == b
    assert np.array_equal(a.indices, b.indices) and np.array_equal(a.indptr, b.indptr)
    assert_simple_csr(a)
    if kind != "complete":
        assert build(kind, 400, seed=6, method=method) != a


@pytest.mark.parametrize(
    ("kind", "method", "tol"),
    [
        ("sbm", "networkx", 0.5),
        ("sbm", "arrays", 0.5),
        ("watts_strogatz", "networkx", 0.0),
        ("watts_strogatz", "arrays", 0.0),
        ("barabasi_albert", "networkx", 0.2),
        ("holme_kim", "networkx", 0.2),
    ],
)
def test_mean_degree(kind, method, tol):
    g = build(kind, 3000, seed=1, method=method, mean_degree=12)
    assert abs(g.degrees().mean() - 12) <= tol + 1e-12


def test_complete_and_auto_method():
    for method in ("networkx", "arrays"):
        g = build("complete", 7, method=method)
        assert g.num_edges == 21 and set(g.degrees().tolist()) == {6}
    assert build("complete", 7, method="arrays") == build("complete", 7, method="networkx")
    # BA / Holme-Kim have no array generator: "arrays" falls back to networkx, same graph
    assert build("barabasi_albert", 300, method="arrays") == build(
        "barabasi_albert", 300, method="networkx"
    )


def test_auto_switches_to_arrays_above_threshold(monkeypatch):
    calls = []
    monkeypatch.setitem(graphs._AUTO_ARRAYS_ABOVE, "watts_strogatz", 100)
    real = graphs._watts_strogatz_arrays
    monkeypatch.setattr(graphs, "_watts_strogatz_arrays", lambda *a: calls.append(a) or real(*a))
    build("watts_strogatz", 100, method="auto")
    assert not calls
    build("watts_strogatz", 101, method="auto")
    assert len(calls) == 1


@pytest.mark.parametrize("method", ["networkx", "arrays"])
@pytest.mark.parametrize("h", [0.0, 0.5, 0.8, 1.0])
def test_sbm_homophily_formula(method, h):
    n, d = 5000, 12
    tiers = shuffled_tiers(n)
    g = build("sbm", n, seed=2, tiers=tiers, mean_degree=d, homophily=h, method=method)
    pi = np.bincount(tiers) / n
    assert within_share(g, tiers) == pytest.approx(h + (1 - h) * np.sum(pi**2), abs=0.015)
    deg = g.degrees()
    for t in range(4):  # every tier has expected degree d
        assert deg[tiers == t].mean() == pytest.approx(d, abs=0.6)
    if h == 1.0:
        assert within_share(g, tiers) == 1.0


def test_sbm_keeps_consumer_ids():
    # tier 0 = even consumers, tier 1 = odd; with h = 1 every edge joins equal parities
    n = 400
    tiers = np.arange(n) % 2
    for method in ("networkx", "arrays"):
        g = build("sbm", n, tiers=tiers, mean_degree=8, homophily=1.0, method=method)
        rows = np.repeat(np.arange(n), g.degrees())
        assert g.num_edges > 0 and np.all(rows % 2 == g.indices % 2)


def test_sbm_empty_tier_label_is_ignored():
    tiers = np.where(shuffled_tiers(600) == 1, 3, shuffled_tiers(600))  # labels 0, 2, 3
    g = build("sbm", 600, tiers=tiers, method="arrays")
    assert abs(g.degrees().mean() - 12) < 1.0


def test_triangle_pair_mapping():
    s = 60
    i, j = graphs._triangle_pair(np.arange(s * (s - 1) // 2))
    assert list(zip(i.tolist(), j.tolist(), strict=True)) == [
        (a, b) for b in range(s) for a in range(b)
    ]
    k = np.array([0, 10**11, 2**40 - 1, 124_999_750_000 - 1])
    i, j = graphs._triangle_pair(k)
    assert np.all((0 <= i) & (i < j)) and np.array_equal(j * (j - 1) // 2 + i, k)


@pytest.mark.parametrize(
    ("kind", "kw"),
    [
        ("sbm", {"homophily": 0.7}),
        ("watts_strogatz", {"rewire_prob": 0.1}),
        ("watts_strogatz", {"rewire_prob": 0.6}),
    ],
)
def test_arrays_match_networkx_distribution(kind, kw):
    n = 3000
    tiers = shuffled_tiers(n)
    extra = {"tiers": tiers} if kind == "sbm" else {}
    runs = {
        m: [build(kind, n, seed=s, method=m, **kw, **extra) for s in range(3)]
        for m in ("networkx", "arrays")
    }
    deg = {m: np.concatenate([g.degrees() for g in gs]) for m, gs in runs.items()}
    assert deg["arrays"].mean() == pytest.approx(deg["networkx"].mean(), abs=0.2)
    assert deg["arrays"].var() == pytest.approx(deg["networkx"].var(), rel=0.12)
    assert stats.ks_2samp(deg["arrays"], deg["networkx"]).pvalue > 1e-3
    if kind == "sbm":
        share = {m: np.mean([within_share(g, tiers) for g in gs]) for m, gs in runs.items()}
        assert share["arrays"] == pytest.approx(share["networkx"], abs=0.01)
    else:
        clus = {m: nx.average_clustering(gs[0].to_networkx()) for m, gs in runs.items()}
        assert clus["arrays"] == pytest.approx(clus["networkx"], abs=0.02)


@pytest.mark.parametrize(("n", "k", "p"), [(14, 12, 1.0), (30, 20, 0.9), (9, 2, 1.0)])
def test_watts_strogatz_arrays_dense(n, k, p):
    for seed in range(5):
        g = build("watts_strogatz", n, seed=seed, method="arrays", mean_degree=k, rewire_prob=p)
        assert_simple_csr(g)
        assert g.num_edges == n * k // 2  # rewiring never loses an edge


def test_watts_strogatz_p0_is_ring_lattice():
    for method in ("networkx", "arrays"):
        g = build("watts_strogatz", 10, method=method, mean_degree=4, rewire_prob=0.0)
        assert g.indices[g.indptr[0] : g.indptr[1]].tolist() == [1, 2, 8, 9]
        assert set(g.degrees().tolist()) == {4}


@pytest.mark.parametrize(
    ("kw", "match"),
    [
        ({"kind": "sbm", "mean_degree": 500}, "mean_degree"),
        ({"kind": "sbm", "mean_degree": 0}, "mean_degree"),
        ({"kind": "sbm", "homophily": 1.2}, r"homophily must be in \[0, 1\]"),
        ({"kind": "watts_strogatz", "rewire_prob": -0.1}, "rewire_prob"),
        ({"kind": "holme_kim", "triad_prob": 2}, "triad_prob"),
        ({"kind": "sbm", "tiers": None}, "tiers"),
        ({"kind": "sbm", "tiers": np.zeros(10, int)}, "length n=500"),
        ({"kind": "ring"}, "kind must be one of"),
        ({"kind": "sbm", "method": "fast"}, "method must be one of"),
        ({"kind": "file"}, "path"),
    ],
)
def test_bad_parameters(kw, match):
    kw = dict(kw)
    kind = kw.pop("kind")
    if kind == "sbm":
        kw.setdefault("tiers", shuffled_tiers(500))
    with pytest.raises(ValueError, match=match):
        build_social_graph(kind, 500, rng(), **kw)


def test_sbm_tier_too_small():
    tiers = np.zeros(100, int)
    tiers[:3] = 1  # 3 consumers cannot each have ~10 within-tier neighbours
    msg = r"tier 1 has 3 consumers.*accepted .*: mean_degree <= 2.481 or homophily <= 0.14$"
    with pytest.raises(ValueError, match=msg):
        build_social_graph("sbm", 100, rng(), tiers=tiers, mean_degree=12, homophily=0.8)
    # the bounds in the message are feasible
    build_social_graph("sbm", 100, rng(), tiers=tiers, mean_degree=12, homophily=0.14)
    build_social_graph("sbm", 100, rng(), tiers=tiers, mean_degree=2.481, homophily=0.8)
    tiers[0] = 2  # a tier of one consumer can have no within-tier neighbour
    with pytest.raises(ValueError, match="tier 2 has a single consumer"):
        build_social_graph("sbm", 100, rng(), tiers=tiers, mean_degree=12, homophily=0.0)


def test_graph_kinds_constant():
    assert GRAPH_KINDS == (
        "sbm",
        "watts_strogatz",
        "barabasi_albert",
        "holme_kim",
        "complete",
        "file",
    )


# ----------------------------------------------------------------- files


def read(path, n=5):
    """Read a graph file (node 4 of the edge lists below is isolated: allowed here)."""
    return build_social_graph("file", n, rng(), path=path, allow_isolated=True)


EXPECTED_5 = SocialGraph.from_edges(5, np.array([0, 1, 3]), np.array([1, 2, 0]))


def test_csv_with_header_and_comments(tmp_path):
    p = tmp_path / "g.csv"
    p.write_text("# consumers\nsource,target\n0,1\n2, 1  # inline\n\n3,0\n")
    assert read(p) == EXPECTED_5


def test_edge_list_naming_fewer_nodes_than_consumers_needs_allow_isolated(tmp_path):
    p = tmp_path / "g.csv"
    p.write_text("0,1\n1,2\n3,0\n")  # ids 0..3 for 5 consumers
    with pytest.raises(GraphInputError, match=r"name consumers 0..3 only, so 1 of the 5 .*graph.allow_isolated = true"):
        build_social_graph("file", 5, rng(), path=p)
    assert read(p) == EXPECTED_5
    p.write_text("0,4\n1,2\n")  # node 3 isolated between named ids: fine
    assert build_social_graph("file", 5, rng(), path=p).degrees().tolist() == [1, 1, 1, 0, 1]


def test_tsv_txt_and_edges(tmp_path):
    for name, text in [
        ("g.tsv", "0\t1\n1\t2\n3\t0\n"),
        ("g.txt", "0 1\n1   2\n3 0\n"),
        ("g.edges", "source target\n0 1\n1\t2\n3 0"),
    ]:
        p = tmp_path / name
        p.write_text(text)
        assert read(p) == EXPECTED_5, name


def test_graphml(tmp_path):
    p = tmp_path / "g.graphml"
    nx.write_graphml(EXPECTED_5.to_networkx(), p)
    assert read(p) == EXPECTED_5
    h = nx.Graph()
    h.add_nodes_from(["4", "3", "2", "1", "0"])
    h.add_edges_from([("3", "0"), ("2", "1"), ("0", "1")])
    nx.write_graphml(h, p)
    assert read(p) == EXPECTED_5


# ----------------------------------------------------------------- follow graph


def follow_case(n=20_000, n_streamers=3000, n_platforms=3, seed=0, alpha=1.1):
    r = rng(seed)
    platform = r.integers(0, n_platforms, n_streamers)
    popularity = pareto_popularity(n_streamers, alpha, r)
    uses = r.random((n, n_platforms)) < 0.5
    return platform, popularity, uses


def test_follow_graph_structure():
    platform, popularity, uses = follow_case()
    indptr, indices = build_follow_graph(20_000, platform, popularity, uses, 10.0, rng(1))
    assert indptr.dtype == np.int64 and indices.dtype == np.int32
    assert indptr.size == 20_001 and indptr[-1] == indices.size
    owner = np.repeat(np.arange(20_000), np.diff(indptr))
    assert np.all(uses[owner, platform[indices]]), "followed a streamer on an unused platform"
    same_owner = owner[1:] == owner[:-1]
    assert np.all(indices[1:][same_owner] > indices[:-1][same_owner]), "unsorted or duplicate"
    # mean follows: Poisson(10) for everyone using >= 1 platform (cap ~ 1000 never binds)
    active = uses.any(axis=1)
    counts = np.diff(indptr)
    assert np.all(counts[~active] == 0)
    assert counts[active].mean() == pytest.approx(10.0, abs=0.1)
    assert counts[active].var() == pytest.approx(10.0, rel=0.1)
    # heavy tail: top 1% of streamers get > 10% of all follows
    per_streamer = np.sort(np.bincount(indices, minlength=3000))[::-1]
    assert per_streamer[:30].sum() > 0.10 * indices.size


def test_follow_graph_deterministic_and_capped():
    platform, popularity, uses = follow_case(n=2000, n_streamers=6)
    a = build_follow_graph(2000, platform, popularity, uses, 50.0, rng(4))
    b = build_follow_graph(2000, platform, popularity, uses, 50.0, rng(4))
    assert all(np.array_equal(x, y) for x, y in zip(a, b, strict=True))
    counts = np.diff(a[0])
    eligible = uses[:, platform].sum(axis=1)
    assert np.array_equal(counts, eligible)  # Poisson(50) always exceeds the cap here
    c = build_follow_graph(2000, platform, popularity, uses, 3.0, rng(5))
    assert not np.array_equal(c[1], a[1][: c[1].size])


def test_follow_graph_zero_popularity_and_no_platforms():
    platform = np.array([0, 0, 1, 1])
    popularity = np.array([1.0, 0.0, 2.0, 3.0])
    uses = np.array([[True, False], [False, False], [True, True]])
    indptr, indices = build_follow_graph(3, platform, popularity, uses, 40.0, rng())
    assert indptr.tolist() == [0, 1, 1, 4]
    assert indices.tolist() == [0, 0, 2, 3]


def test_successive_sampling_inclusion_probabilities():
    # two draws without replacement, P(i in sample) = w_i + sum_{j != i} w_j w_i / (1 - w_j)
    w = np.array([8.0, 4.0, 2.0, 1.0, 1.0])
    p = w / w.sum()
    expect = p + np.array(
        [sum(p[j] * p[i] / (1 - p[j]) for j in range(5) if j != i) for i in range(5)]
    )
    owners = 40_000
    owner, item = graphs._successive_sample(np.full(owners, 2), w, rng(3))
    assert np.bincount(owner).tolist() == [2] * owners
    freq = np.bincount(item, minlength=5) / owners
    assert freq == pytest.approx(expect, abs=0.01)


def successive_inclusion(w, k):
    """Exact P(item in sample) for successive sampling of k items, by enumeration."""
    incl = np.zeros(len(w))
    for perm in itertools.permutations(range(len(w)), k):
        left, p = w.sum(), 1.0
        for i in perm:
            p *= w[i] / left
            left -= w[i]
        incl[list(perm)] += p
    return incl


@pytest.mark.parametrize("max_rounds", [32, 1, 0])
def test_successive_sampling_near_cap(monkeypatch, max_rounds):
    # few items, one dominant: rejection needs many rounds, so the exact fallback takes over
    monkeypatch.setattr(graphs, "_MAX_ROUNDS", max_rounds)
    w = np.array([50.0, 5.0, 2.0, 1.0, 1.0, 0.5])
    owners = 30_000
    owner, item = graphs._successive_sample(np.full(owners, 4), w, rng(8))
    starts = np.flatnonzero(np.diff(owner, prepend=-1))  # one contiguous run per owner
    assert np.array_equal(np.sort(owner[starts]), np.arange(owners))
    assert np.all(np.diff(starts, append=owner.size) == 4)
    assert np.all(np.diff(item.reshape(owners, 4), axis=1) > 0)
    freq = np.bincount(item, minlength=6) / owners
    assert freq == pytest.approx(successive_inclusion(w, 4), abs=0.012)


def test_successive_sampling_fallback_in_blocks(monkeypatch):
    # 1000 clocks per block over 100 items -> 10 owners per block, 100 owners = 10 blocks
    monkeypatch.setattr(graphs, "_MAX_ROUNDS", 0)
    monkeypatch.setattr(graphs, "_CLOCK_BLOCK", 1000)
    w = np.ones(100)
    w[7] = 1e9  # item 7 is (almost) always chosen
    k = np.array([3, 0, 1] * 33 + [2])
    owner, item = graphs._successive_sample(k, w, rng(1))
    assert np.array_equal(owner, np.repeat(np.arange(100), k))
    runs = np.split(item, np.cumsum(k)[:-1])
    assert all(np.all(np.diff(r) > 0) and 7 in r for r in runs if r.size)


def test_watts_strogatz_fallback_only(monkeypatch):
    # with no rejection rounds every rewired edge goes through the exact per-edge fallback
    monkeypatch.setattr(graphs, "_MAX_ROUNDS", 0)
    g = build("watts_strogatz", 300, seed=2, method="arrays", mean_degree=6, rewire_prob=0.3)
    assert_simple_csr(g)
    assert g.num_edges == 900
    ref = build("watts_strogatz", 300, seed=2, method="networkx", mean_degree=6, rewire_prob=0.3)
    assert g.degrees().var() == pytest.approx(ref.degrees().var(), rel=0.3)


def test_follow_graph_bad_inputs():
    platform, popularity, uses = follow_case(n=10, n_streamers=5)
    with pytest.raises(ValueError, match="uses_platform"):
        build_follow_graph(11, platform, popularity, uses, 1.0, rng())
    with pytest.raises(ValueError, match="streamer_platform"):
        build_follow_graph(10, platform + 3, popularity, uses, 1.0, rng())
    with pytest.raises(ValueError, match="streamer_popularity"):
        build_follow_graph(10, platform, -popularity, uses, 1.0, rng())
    with pytest.raises(ValueError, match="follows_per_consumer"):
        build_follow_graph(10, platform, popularity, uses, -1.0, rng())


def test_pareto_popularity():
    w = pareto_popularity(200_000, 1.1, rng())
    assert w.dtype == np.float64 and w.min() >= 1.0
    assert np.mean(w > 10) == pytest.approx(10**-1.1, abs=0.003)  # P(X > x) = x**-alpha
    assert np.array_equal(w, pareto_popularity(200_000, 1.1, rng()))
    with pytest.raises(ValueError, match="alpha"):
        pareto_popularity(5, 0.0, rng())
