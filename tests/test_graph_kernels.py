"""The set-up kernels (models/graph_kernels.py) build the same arrays as the numpy path, from the same draws."""

import numpy as np
import pytest

from livemarket.models import graphs
from livemarket.models.csr import csr_from_pairs

kernels = pytest.importorskip("livemarket.models.graph_kernels")


def test_csr_kernel_equals_sparse_matrix_path(monkeypatch):
    rng = np.random.default_rng(2)
    for n, m in ((2, 3), (50, 400), (3000, 20_000)):
        a, b = rng.integers(0, n, m), rng.integers(0, n, m)
        a[:40] = 0  # a hub with more than 32 neighbours, self-loops and duplicates
        monkeypatch.setenv("LIVEMARKET_KERNELS", "off")
        numpy_path = csr_from_pairs(n, a, b)
        monkeypatch.setenv("LIVEMARKET_KERNELS", "on")
        kernel_path = csr_from_pairs(n, a, b)
        assert kernel_path == numpy_path and numpy_path.num_edges > 0
        assert kernel_path.indices.dtype == numpy_path.indices.dtype


def test_successive_sample_kernel_equals_numpy_path_with_the_same_draws():
    rng = np.random.default_rng(3)
    for trial in range(40):
        n_items = int(rng.integers(1, 60))
        weight = rng.pareto(0.5, n_items) + 1e-3 * (trial % 2)  # heavy tails: the clock fallback runs too
        k = np.minimum(rng.poisson(n_items * rng.random(), 300), n_items)
        seed = int(rng.integers(2**31))
        r1, r2 = np.random.default_rng(seed), np.random.default_rng(seed)
        owner, item = graphs._successive_sample(k, weight, r1)
        ptr, slots = graphs._successive_sample(k, weight, r2, kernels)
        assert np.array_equal(np.repeat(np.arange(k.size), k), owner) and np.array_equal(slots, item), trial
        assert np.array_equal(ptr[1:], np.cumsum(k))
        assert r1.random() == r2.random()  # the same draws were taken


def test_follow_graph_is_the_same_on_both_paths(monkeypatch):
    rng = np.random.default_rng(5)
    platform = np.sort(rng.integers(0, 3, 400))
    popularity = graphs.pareto_popularity(400, 1.2, rng)
    uses = rng.random((5000, 3)) < 0.6
    out = {}
    for path in ("off", "on"):
        monkeypatch.setenv("LIVEMARKET_KERNELS", path)
        out[path] = graphs.build_follow_graph(5000, platform, popularity, uses, 6.0, np.random.default_rng(7))
    for x, y in zip(out["off"], out["on"], strict=True):
        assert x.dtype == y.dtype and np.array_equal(x, y)
    assert len(out["on"][1]) > 10_000
