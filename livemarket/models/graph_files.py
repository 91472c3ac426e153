"""Social graphs from files: edge lists (.csv, .tsv, .txt, .edges) and GraphML, checked line by line.

A malformed file is one :class:`~livemarket.models.csr.GraphInputError` naming the file, the
line and what is accepted.
"""

from __future__ import annotations

import re
from pathlib import Path
from xml.etree import ElementTree
from xml.etree.ElementTree import ParseError

import networkx as nx
import numpy as np

from livemarket.models.csr import GraphInputError, SocialGraph, _first_occurrences, _pair_key, csr_from_pairs

__all__ = ["read_graph_file"]

_EDGE_LIST_SUFFIXES = (".csv", ".tsv", ".txt", ".edges")
_INT_CELL = re.compile(r"[+-]?[0-9]+")


def read_graph_file(path: Path, n: int, allow_isolated: bool = False) -> SocialGraph:
    """The social graph in ``path`` (GraphML or an edge list) over consumers 0..n-1; a GraphInputError if malformed."""
    suffix = path.suffix.lower()
    if not path.is_file():
        what = "is a folder" if path.is_dir() else "does not exist"
        raise GraphInputError(
            f"{path}: {what}; accepted: a .graphml or edge-list file ("
            + ", ".join(_EDGE_LIST_SUFFIXES) + f") over consumers 0..{n - 1}"
        )
    if suffix not in (".graphml", *_EDGE_LIST_SUFFIXES):
        raise GraphInputError(
            f"{path}: unsupported file type {suffix!r}; accepted: .graphml, "
            + ", ".join(_EDGE_LIST_SUFFIXES)
        )
    if path.stat().st_size == 0:
        raise GraphInputError(f"{path}: file is empty; expected a graph over consumers 0..{n - 1}")
    if suffix == ".graphml":
        return _read_graphml(path, n)
    return _read_edge_list(path, n, allow_isolated)


def _read_edge_list(path: Path, n: int, allow_isolated: bool = False) -> SocialGraph:
    accepted = (
        f"accepted: two integer consumer ids in 0..{n - 1} per line separated by a comma, tab "
        "or whitespace, an optional first line 'source,target', '#' comments"
    )
    try:
        text = path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError as exc:
        raise GraphInputError(f"{path}: not UTF-8 text ({exc.reason}); {accepted}") from None
    ids: list[int] = []
    lines: list[int] = []
    content = 0
    for lineno, raw in enumerate(text.splitlines(), start=1):
        line = raw.split("#", 1)[0].strip()
        cells = [c.strip() for c in line.split(",")] if "," in line else line.split()
        content += bool(line)
        if not line or (content == 1 and [c.lower() for c in cells] == ["source", "target"]):
            continue
        if len(cells) != 2:
            problem = f"expected 2 columns, found {len(cells)} in {line!r}"
        elif bad := [c for c in cells if not _INT_CELL.fullmatch(c)]:
            problem = f"non-integer cell {bad[0]!r} in {line!r}"
        elif bad := [c for c in cells if not 0 <= int(c) < n]:
            problem = f"consumer id {bad[0]} out of range in {line!r}"
        elif int(cells[0]) == int(cells[1]):
            problem = f"self-loop {line!r}; self-loops are not accepted"
        else:
            ids += map(int, cells)
            lines.append(lineno)
            continue
        raise GraphInputError(f"{path}: line {lineno}: {problem}; {accepted}")
    if not lines:
        raise GraphInputError(f"{path}: file is empty (no edge lines); {accepted}")
    ends = np.array(ids, dtype=np.int64).reshape(-1, 2)
    key = _pair_key(ends[:, 0], ends[:, 1], n)
    repeat = np.ones(key.size, dtype=bool)
    repeat[_first_occurrences(key)] = False
    if repeat.any():
        i = np.flatnonzero(repeat)[0]
        raise GraphInputError(
            f"{path}: line {lines[i]}: duplicate edge {ends[i, 0]} -- {ends[i, 1]}, already on "
            f"line {lines[np.flatnonzero(key == key[i])[0]]}; each undirected edge must appear once"
        )
    top = int(ends.max())
    if top < n - 1 and not allow_isolated:
        raise GraphInputError(
            f"{path}: the edges name consumers 0..{top} only, so {n - 1 - top} of the {n} consumers (ids "
            f"{top + 1}..{n - 1}) would have no tie; accepted: an edge list over ids 0..{n - 1} (as many nodes as "
            "consumers), or graph.allow_isolated = true"
        )
    return csr_from_pairs(n, ends[:, 0], ends[:, 1])


def _read_graphml(path: Path, n: int) -> SocialGraph:
    accepted = f"accepted: undirected GraphML with exactly {n} nodes whose ids are '0'..'{n - 1}'"
    try:
        g = nx.read_graphml(path, node_type=str)
    except (ParseError, nx.NetworkXError, KeyError, ValueError) as exc:
        raise GraphInputError(f"{path}: cannot read GraphML ({exc}); {accepted}") from None
    if g.is_directed():
        raise GraphInputError(f"{path}: graph is directed; {accepted}")
    tree = ElementTree.parse(path)
    declared = {e.get("id") for e in tree.iter() if e.tag.rpartition("}")[2] == "node"}
    for u, v in g.edges():  # networkx adds the end of an edge that no <node> declares
        if missing := [x for x in (u, v) if x not in declared]:
            raise GraphInputError(
                f"{path}: edge {u!r} -- {v!r} refers to node {missing[0]!r}, which no <node> "
                f"declares; {accepted}"
            )
    if len(g) != n:
        raise GraphInputError(f"{path}: expected {n} nodes, found {len(g)}; {accepted}")
    ids: dict[int, str] = {}
    for v in g:
        if not (v.isascii() and v.isdigit() and int(v) < n):
            raise GraphInputError(f"{path}: node id {v!r} is not one of '0'..'{n - 1}'; {accepted}")
        if int(v) in ids:
            raise GraphInputError(f"{path}: node ids {ids[int(v)]!r} and {v!r} repeat; {accepted}")
        ids[int(v)] = v
    loops = list(nx.selfloop_edges(g))
    if loops:
        raise GraphInputError(f"{path}: self-loop on node {loops[0][0]!r}; self-loops not accepted")
    if g.is_multigraph():  # read_graphml returns a MultiGraph iff some edge is repeated
        seen: set[frozenset] = set()
        for u, v in g.edges():
            if frozenset((u, v)) in seen:
                raise GraphInputError(f"{path}: duplicate edge {u!r} -- {v!r}; give each edge once")
            seen.add(frozenset((u, v)))
    ends = np.array([(int(u), int(v)) for u, v in g.edges()], dtype=np.int64).reshape(-1, 2)
    return csr_from_pairs(n, ends[:, 0], ends[:, 1])
