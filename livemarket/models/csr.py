"""The social graph's CSR form: an undirected simple graph over consumers, read-only arrays.

Every generator (:mod:`livemarket.models.graphs`) and file reader
(:mod:`livemarket.models.graph_files`) returns a :class:`SocialGraph`.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import networkx as nx
import numpy as np
import scipy.sparse as sp

from livemarket.config import ConfigError

__all__ = ["GRAPH_KERNELS_FROM", "GraphInputError", "SocialGraph", "csr_from_pairs", "graph_kernels"]

#: Populations from which set-up builds graphs with the compiled kernels (:mod:`.graph_kernels`);
#: ``LIVEMARKET_KERNELS`` = ``on`` or ``off`` forces either path, as for the consumer kernels.
GRAPH_KERNELS_FROM = 20_000


def graph_kernels(n: int):
    """The set-up kernels module when a population of ``n`` uses it, else None (the numpy path)."""
    forced = os.environ.get("LIVEMARKET_KERNELS", "auto").lower()
    if forced == "off" or (forced != "on" and n < GRAPH_KERNELS_FROM):
        return None
    from livemarket.models import graph_kernels as kernels

    return kernels


class GraphInputError(ConfigError):
    """A graph file is malformed; the message names the file, the line and what is accepted."""


@dataclass(frozen=True, eq=False)
class SocialGraph:
    """Undirected simple graph over consumers 0..n-1 in CSR form.

    The adjacency is symmetric, has no self-loops and no duplicate edges, and each neighbour
    list ``indices[indptr[i]:indptr[i + 1]]`` is sorted. The arrays are stored as read-only
    views. Build instances with ``from_edges``, ``from_networkx`` or ``build_social_graph``;
    the constructor checks shapes only, not symmetry.

    Attributes:
        indptr: int64 array of length n + 1.
        indices: int32 array of neighbour ids, length 2 * num_edges.

    """

    indptr: np.ndarray
    indices: np.ndarray

    def __post_init__(self) -> None:
        indptr = np.asarray(self.indptr, dtype=np.int64).view()
        indices = np.asarray(self.indices, dtype=np.int32).view()
        ok = indptr.ndim == indices.ndim == 1 and indptr.size and indptr[0] == 0
        if not (ok and indptr[-1] == indices.size and np.all(np.diff(indptr) >= 0)):
            raise ValueError("need 1-D indptr rising from 0 to len(indices), 1-D indices")
        for name, a in (("indptr", indptr), ("indices", indices)):
            a.flags.writeable = False
            object.__setattr__(self, name, a)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, SocialGraph):
            return NotImplemented
        same = np.array_equal(self.indptr, other.indptr)
        return same and np.array_equal(self.indices, other.indices)

    __hash__ = None  # type: ignore[assignment]

    @property
    def n(self) -> int:
        """Number of consumers (nodes)."""
        return self.indptr.size - 1

    @property
    def num_edges(self) -> int:
        """Number of undirected edges."""
        return self.indices.size // 2

    def degrees(self) -> np.ndarray:
        """Return the int64 degree of every node."""
        return np.diff(self.indptr)

    def adjacency(self) -> sp.csr_array:
        """Return the symmetric 0/1 float64 adjacency matrix (n x n)."""
        data = np.ones(self.indices.size, dtype=np.float64)
        return sp.csr_array((data, self.indices.copy(), self.indptr.copy()), shape=(self.n,) * 2)

    def to_networkx(self) -> nx.Graph:
        """Return an ``nx.Graph`` with nodes 0..n-1 (isolated nodes included)."""
        rows = np.repeat(np.arange(self.n), self.degrees())
        upper = rows < self.indices
        g = nx.Graph()
        g.add_nodes_from(range(self.n))
        g.add_edges_from(zip(rows[upper].tolist(), self.indices[upper].tolist(), strict=True))
        return g

    @classmethod
    def from_networkx(cls, g: nx.Graph) -> SocialGraph:
        """Convert a networkx graph.

        Nodes that are exactly the integers 0..n-1 keep their ids; any other node set is
        relabelled 0..n-1 in ``g.nodes`` insertion order. Directed graphs are symmetrised;
        self-loops and parallel edges are dropped.
        """
        nodes = list(g.nodes)
        ints = all(isinstance(v, int | np.integer) and not isinstance(v, bool) for v in nodes)
        if ints and set(map(int, nodes)) == set(range(len(nodes))):
            index = {v: int(v) for v in nodes}
        else:
            index = {v: i for i, v in enumerate(nodes)}
        ends = np.fromiter((index[x] for e in g.edges() for x in e[:2]), dtype=np.int64)
        return cls.from_edges(len(nodes), ends[0::2], ends[1::2])

    @classmethod
    def from_edges(cls, n: int, src: np.ndarray, dst: np.ndarray) -> SocialGraph:
        """Build from edge endpoint arrays; symmetrises, drops self-loops and duplicates.

        Raises:
            ValueError: if the arrays differ in length or hold ids outside 0..n-1.

        """
        n = _check_count("n", n)
        src, dst = np.asarray(src).ravel(), np.asarray(dst).ravel()
        if src.shape != dst.shape:
            raise ValueError(f"src and dst must have equal length, got {src.size} and {dst.size}")
        for name, a in (("src", src), ("dst", dst)):
            if a.size and not np.issubdtype(a.dtype, np.integer):
                raise ValueError(f"{name} must hold integers, got dtype {a.dtype}")
            if a.size and (a.min() < 0 or a.max() >= n):
                raise ValueError(f"{name} holds ids outside the accepted range 0..{n - 1}")
        return csr_from_pairs(n, src.astype(np.int64), dst.astype(np.int64))


def csr_from_pairs(n: int, a: np.ndarray, b: np.ndarray) -> SocialGraph:
    """Symmetric CSR from endpoint arrays; drops self-loops and duplicates."""
    if n >= 2**31:
        raise ValueError(f"n must be < 2**31 (int32 neighbour ids), got {n}")
    kernels = graph_kernels(n)
    if kernels is not None:  # the same arrays, without the sparse matrix's temporaries
        indptr, indices = kernels.csr_undirected(n, a, b)
        return SocialGraph(indptr, indices)
    keep = a != b
    if not keep.all():
        a, b = a[keep], b[keep]
    rows, cols = np.empty((2, 2 * a.size), dtype=np.int32)
    rows[: a.size], rows[a.size :], cols[: a.size], cols[a.size :] = a, b, b, a
    m = sp.csr_array((np.ones(rows.size, dtype=bool), (rows, cols)), shape=(n, n))
    m.sum_duplicates()  # also sorts each row
    return SocialGraph(m.indptr.astype(np.int64), m.indices.astype(np.int32, copy=False))





def _pair_key(u: np.ndarray, v: np.ndarray, n: int) -> np.ndarray:
    return np.minimum(u, v).astype(np.int64) * n + np.maximum(u, v)


def _first_occurrences(keys: np.ndarray) -> np.ndarray:
    """Return indices of the first occurrence of each distinct key, in sorted-key order."""
    order = np.argsort(keys, kind="stable")
    s = keys[order]
    first = np.ones(s.size, dtype=bool)
    first[1:] = s[1:] != s[:-1]
    return order[first]


def _check_count(name: str, value: int, minimum: int = 0) -> int:
    if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < minimum:
        raise ValueError(f"{name} must be an integer >= {minimum}, got {value!r}")
    return int(value)
