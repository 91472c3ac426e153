"""Kernels added after test_kernels.py: each gives what its numpy counterpart gives, bit for bit."""

import numpy as np
import pytest

from livemarket import LiveCommerceModel
from livemarket.agents import consumers
from livemarket.models.market import _over_capacity

kernels = pytest.importorskip("livemarket.agents.kernels")


def test_over_capacity_kernel_ranks_as_the_two_stable_sorts():
    rng = np.random.default_rng(0)
    delayed = 0
    for trial in range(300):
        n_b, m = int(rng.integers(1, 40)), int(rng.integers(0, 300))
        brand = rng.integers(0, n_b, m)
        u = rng.random(m)
        if trial % 3 == 0:
            u = np.round(u, 1)  # ties: the earlier order ships first
        capacity = np.floor(rng.random(n_b) * 10) * (rng.random(n_b) < 0.9)  # some brands ship nothing
        expected = _over_capacity(brand, u, capacity)
        assert np.array_equal(kernels.over_capacity(brand, u, capacity), expected), trial
        delayed += expected.sum()
    assert delayed > 1000


def test_edges_by_key_is_the_stable_argsort():
    rng = np.random.default_rng(1)
    for n, keys in ((0, 4), (1, 1), (5000, 7), (20_000, 3000)):
        key = rng.integers(0, keys, n).astype(np.int32)
        ptr = np.zeros(keys + 1, np.int64)
        np.cumsum(np.bincount(key, minlength=keys), out=ptr[1:])
        order = kernels.edges_by_key(key, ptr, np.int32(0))
        assert order.dtype == np.int32
        assert np.array_equal(order, np.argsort(key, kind="stable"))


def test_count_segments_gives_the_bincount_pointers_and_refuses_ungrouped_edges():
    rng = np.random.default_rng(2)
    n, n_p, n_s = 500, 4, 60
    platform = np.sort(rng.integers(0, n_p, n_s))  # streamer ids sorted by home platform
    per = rng.poisson(3, n)
    f_ptr = np.concatenate([[0], np.cumsum(per)])
    f_streamer = np.concatenate([np.sort(rng.choice(n_s, k, replace=False)) for k in per]).astype(np.int32)
    cell = np.repeat(np.arange(n), per) * n_p + platform[f_streamer]
    expected = np.concatenate([[0], np.cumsum(np.bincount(cell, minlength=n * n_p))])
    seg_ptr = np.zeros(n * n_p + 1, np.int32)
    assert kernels.count_segments(f_ptr, f_streamer, platform, n_p, seg_ptr)
    assert np.array_equal(seg_ptr, expected)
    # a consumer's first two edges, on two platforms, swapped: no longer grouped by platform
    home = platform[f_streamer]
    lo = next(f_ptr[i] for i in range(n) if per[i] >= 2 and home[f_ptr[i]] < home[f_ptr[i] + 1])
    f_streamer[lo : lo + 2] = f_streamer[lo : lo + 2][::-1]
    assert not kernels.count_segments(f_ptr, f_streamer, platform, n_p, np.zeros(n * n_p + 1, np.int32))


def test_bincounts_kernel_is_numpys_bincount_for_every_table():
    from livemarket.core import tally

    rng = np.random.default_rng(4)
    for m in (0, 1, 7, 5000):
        cell = rng.integers(0, 12, m)
        runs = np.sort(rng.integers(0, 3, m))  # long runs of one bin, as sources are
        v = rng.lognormal(3.0, 1.5, m)
        flags = rng.random(m) < 0.3
        tables = {
            "value": (cell, v, 12), "kept": (cell, np.where(flags, 0.0, v), 12), "flags": (runs, flags, 4),
            "count": (runs, np.ones(m), 4), "signed": (cell, rng.normal(size=m) * 1e6, 12),
        }  # fmt: skip
        expected = tally.bincounts(tables)
        got = tally.bincounts(tables, kernels)
        assert list(got) == list(expected)
        for name, sums in expected.items():
            assert sums.shape == got[name].shape and got[name].tobytes() == sums.tobytes(), (m, name)  # -0.0 too
    for bins in ([0, 5], [-1, 0]):
        with pytest.raises(IndexError, match="outside its table"):
            tally.bincounts({"ok": (np.array([0, 1]), np.ones(2), 5), "bad": (np.array(bins), np.ones(2), 5)}, kernels)
    with pytest.raises(ValueError, match="differ in length"):
        tally.bincounts({"a": (np.array([0, 1]), np.ones(2), 2), "b": (np.array([0]), np.ones(1), 2)}, kernels)


@pytest.mark.parametrize("threads", ["1", "2", "3"])
def test_word_of_mouth_in_parts_of_the_hearers_adds_as_numpy_does(threads, monkeypatch):
    """Each part adds to its own hearers' cells, order by order: the sums of np.add.at, bit for bit."""
    from livemarket.config import BehaviourConfig
    from livemarket.core import rules
    from livemarket.core.sampling import concat_ranges
    from livemarket.models.csr import SocialGraph

    monkeypatch.setenv("LIVEMARKET_THREADS", threads)
    monkeypatch.setattr(kernels, "MIN_ROWS_PER_THREAD", 100)  # parts even on this small graph
    rng = np.random.default_rng(int(threads))
    n, n_p, m, n_edges = 3000, 4, 6000, 40
    g = SocialGraph.from_edges(n, rng.integers(0, n, 20_000), rng.integers(0, n, 20_000))
    consumer = rng.integers(0, n, m)  # buyers repeat: cells get many additions
    platform, edge = rng.integers(0, n_p, m), np.where(rng.random(m) < 0.5, rng.integers(0, n_edges, m), -1)
    bad = rng.random(m) < 0.3
    good_w, bad_w = np.where(bad, 0.0, rng.random(m)), np.where(bad, rng.random(m) * 3, 0.0)
    beh = BehaviourConfig()
    start = [rng.random(n * n_p) * 7, rng.random(n * n_p) * 7, rng.random(n_edges), rng.random(n_edges)]
    got = [a.copy() for a in start]
    kernels.scatter_evidence(*got, n_p, consumer, platform, edge, good_w, bad_w, g.indptr, g.indices,
                             kernels.behaviour_tuple(beh))  # fmt: skip
    ta, tb, fa, fb = (a.copy() for a in start)
    np.add.at(ta, consumer * n_p + platform, good_w)
    np.add.at(tb, consumer * n_p + platform, bad_w)
    heard, owner = concat_ranges(g.indptr[consumer], np.diff(g.indptr)[consumer])
    cell = g.indices[heard].astype(np.int64) * n_p + platform[owner]
    np.add.at(ta, cell, rules.word_of_mouth_evidence(good_w[owner], beh))
    np.add.at(tb, cell, rules.word_of_mouth_evidence(bad_w[owner], beh))
    e = edge >= 0
    np.add.at(fa, edge[e], good_w[e])
    np.add.at(fb, edge[e], bad_w[e])
    for name, want, have in zip(("ta", "tb", "fa", "fb"), (ta, tb, fa, fb), got, strict=True):
        assert have.tobytes() == want.tobytes(), name


def test_kernel_path_refuses_unsorted_neighbour_lists(monkeypatch):
    from livemarket.models.csr import SocialGraph

    assert kernels.rows_sorted(np.array([0, 2, 3]), np.array([1, 2, 0], np.int32))
    assert not kernels.rows_sorted(np.array([0, 2, 3]), np.array([2, 1, 0], np.int32))
    assert not kernels.rows_sorted(np.array([0, 2, 3]), np.array([1, 1, 0], np.int32))  # a repeat
    monkeypatch.setenv("LIVEMARKET_KERNELS", "on")
    model = LiveCommerceModel("minimal", consumers=300, rng=1)
    g = model.social_graph
    rows = np.repeat(np.arange(g.n), g.degrees())
    model.social_graph = SocialGraph(g.indptr, g.indices[np.lexsort((-g.indices, rows))])  # each list reversed
    with pytest.raises(ValueError, match="neighbour list must be sorted"):
        consumers.ConsumerColumns(model, model.consumers.snapshot())
