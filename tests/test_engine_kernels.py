"""Kernels added after test_kernels.py: each gives what its numpy counterpart gives, bit for bit."""

import numpy as np
import pytest

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
