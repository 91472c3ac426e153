"""The social graph and the trust of consumers, drawn from a model's current state.

A drawing shows a snowball sample (breadth-first from a few random consumers) of at most a
few hundred consumers with the edges among them, laid out by a seeded spring layout, so the
picture is the same every time and takes well under a second at any population size. Nodes
are coloured by loyalty (the platform on which the consumer spends the most minutes) or by
trust in one platform.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from matplotlib.collections import LineCollection
from matplotlib.lines import Line2D

from livemarket.figures.data import nice
from livemarket.figures.style import figure, palette, styled

__all__ = ["graph_layout", "graph_sample", "loyalty", "sample_nodes", "trust_distribution"]


def sample_nodes(graph, size: int = 300, seed: int = 0, restart: float = 0.15) -> np.ndarray:
    """Random-walk sample of consumers, a connected neighbourhood that keeps local structure.

    The walk starts at a random consumer and moves to a random neighbour; with probability
    ``restart`` (or at a consumer without neighbours) it jumps back to a consumer already
    sampled, and after many steps without a new consumer it starts afresh elsewhere. Unlike
    a breadth-first snowball, the sample does not end in a fringe of one-edge leaves.

    Args:
        graph: a :class:`livemarket.models.graphs.SocialGraph` (CSR arrays).
        size: at most this many consumers.
        seed: seed of the walk.
        restart: chance per step of jumping back to a sampled consumer.

    """
    rng = np.random.default_rng(seed)
    size = min(size, graph.n)
    seen = np.zeros(graph.n, bool)
    order = [int(rng.integers(graph.n))]
    seen[order[0]] = True
    node, idle = order[0], 0
    while len(order) < size:
        nbrs = graph.indices[graph.indptr[node] : graph.indptr[node + 1]]
        if idle > 50 * size:  # stuck in a small component: start elsewhere
            pool = np.flatnonzero(~seen)
            node, idle = int(rng.choice(pool)), 0
        elif len(nbrs) == 0 or rng.random() < restart:
            node = order[int(rng.integers(len(order)))]
            idle += 1
            continue
        else:
            node = int(nbrs[rng.integers(len(nbrs))])
        if not seen[node]:
            seen[node] = True
            order.append(node)
            idle = 0
        else:
            idle += 1
    return np.array(order, dtype=np.int64)


def graph_layout(graph, nodes: np.ndarray, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Spring layout of the subgraph induced by ``nodes``.

    Returns:
        ``(xy, edges)``: (len(nodes), 2) positions and (E, 2) edges as row numbers of ``nodes``.

    """
    import networkx as nx  # here: ``livemarket figures`` imports it only where graphs are drawn

    index = {int(v): i for i, v in enumerate(nodes)}
    h = nx.Graph()
    h.add_nodes_from(range(len(nodes)))
    for i, v in enumerate(nodes):
        for u in graph.indices[graph.indptr[v] : graph.indptr[v + 1]]:
            j = index.get(int(u))
            if j is not None and j > i:
                h.add_edge(i, j)
    pos = nx.spring_layout(h, seed=seed, iterations=60)
    xy = np.array([pos[i] for i in range(len(nodes))])
    edges = np.array(list(h.edges()), dtype=np.int64).reshape(-1, 2)
    return xy, edges


def loyalty(model) -> np.ndarray:
    """Each consumer's main platform (most minutes among installed apps), -1 for none."""
    s = model.consumers.snapshot()
    minutes = np.where(s.installed, s.minutes, -1.0)
    main = np.argmax(minutes, axis=1)
    return np.where(s.installed.any(axis=1), main, -1)


@styled
def graph_sample(
    model,
    size: int = 300,
    color_by: str = "loyalty",
    platform: str | None = None,
    seed: int = 0,
    ax=None,
    layout: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None,
):
    """Draw a sample of the consumers' social graph, coloured by loyalty or by trust.

    Args:
        model: a :class:`livemarket.LiveCommerceModel` (at any step).
        size: consumers in the sample.
        color_by: ``"loyalty"`` (main platform) or ``"trust"`` (trust in ``platform``).
        platform: platform for ``color_by="trust"`` (default: the first platform).
        seed: seed of the sample and of the layout.
        ax: axes to draw on (default: a new single-column figure).
        layout: ``(nodes, xy, edges)`` from an earlier call (keeps the picture still while
            the model runs, as the explorer does).

    Returns:
        The figure.

    """
    if ax is None:
        fig, ax = figure("single", 3.5 if color_by == "loyalty" else 3.2)
    fig = ax.figure
    if layout is None:
        nodes = sample_nodes(model.social_graph, size, seed)
        layout = (nodes, *graph_layout(model.social_graph, nodes, seed))
    nodes, xy, edges = layout
    ax.add_collection(LineCollection(xy[edges], colors="0.7", linewidths=0.35, zorder=1))
    names = [p.name for p in model.platform_list]
    installed = model.consumers.snapshot().installed[nodes]
    if color_by == "loyalty":
        main = loyalty(model)[nodes]
        colors = palette(names)
        handles = []
        for i, name in enumerate(names):
            m = main == i
            if m.any():
                ax.scatter(
                    *xy[m].T, s=9, color=colors[name], edgecolors="white", linewidths=0.3, zorder=2
                )
                handles.append(
                    Line2D(
                        [],
                        [],
                        ls="",
                        marker="o",
                        ms=4,
                        color=colors[name],
                        label=f"{nice(name)} ({m.sum()})",
                    )
                )
        if (main < 0).any():
            ax.scatter(
                *xy[main < 0].T, s=9, facecolors="white", edgecolors="0.4", linewidths=0.5, zorder=2
            )
            handles.append(
                Line2D([], [], ls="", marker="o", ms=4, mfc="white", mec="0.4", label=f"no app ({(main < 0).sum()})")
            )
        fig.legend(
            handles=handles,
            loc="outside lower center",
            ncol=3,
            title="Main platform (most minutes)",
        )
    elif color_by == "trust":
        name = platform or names[0]
        col = names.index(name)
        everyone = model.consumers.platform_trust()[:, col]
        trust = everyone[nodes]
        users = installed[:, col]
        # colour range: the middle 96% of all consumers' trust, so differences show
        lo, hi = (
            np.floor(np.quantile(everyone, 0.02) * 20) / 20,
            np.ceil(np.quantile(everyone, 0.98) * 20) / 20,
        )
        hi = max(hi, lo + 0.05)
        points = ax.scatter(*xy[users].T, s=9, c=trust[users], cmap="viridis", vmin=lo, vmax=hi,
                            edgecolors="white", linewidths=0.3, zorder=2)  # fmt: skip
        ax.scatter(
            *xy[~users].T, s=7, facecolors="white", edgecolors="0.5", linewidths=0.4, zorder=2
        )
        fig.colorbar(points, ax=ax, shrink=0.7, extend="both" if (lo > 0 or hi < 1) else "neither",
                     label=f"Trust in {nice(name)} (0–1 scale)")  # fmt: skip
        fig.legend(handles=[Line2D([], [], ls="", marker="o", ms=4, mfc="white", mec="0.5",
                                   label=f"not a {nice(name)} user")],
                   loc="outside lower center")  # fmt: skip
    else:
        raise ValueError(f"color_by={color_by!r}: accepted 'loyalty' or 'trust'")
    ax.set_aspect("equal")
    ax.set_axis_off()
    ax.set_title(
        f"Social graph: {len(nodes)} of {model.config.consumers:,} consumers, day {max(model.day + 1, 0)}",
        loc="left",
    )
    ax.autoscale_view()
    return fig


@styled
def trust_distribution(
    trust,
    names: Sequence[str] | None = None,
    installed: np.ndarray | None = None,
    ax=None,
):
    """Violins of consumers' trust in each platform (users only, if ``installed`` is given).

    Args:
        trust: a model (its current trust and installed apps are used) or an (N, P) array.
        names: platform names (taken from the model when a model is passed).
        installed: (N, P) bool; only users of a platform enter its violin.
        ax: axes to draw on (default: a new single-column figure).

    """
    if hasattr(trust, "consumers"):
        model = trust
        trust = model.consumers.platform_trust()
        installed = model.consumers.snapshot().installed if installed is None else installed
        names = names or [p.name for p in model.platform_list]
    trust = np.asarray(trust)
    names = list(names or [f"platform {i}" for i in range(trust.shape[1])])
    if ax is None:
        fig, ax = figure("single", 2.3)
    colors = palette(names)
    data = [
        trust[installed[:, j], j] if installed is not None else trust[:, j]
        for j in range(len(names))
    ]
    keep = [j for j, d in enumerate(data) if len(d) > 1]
    parts = ax.violinplot(
        [data[j] for j in keep], positions=keep, widths=0.8, showmedians=True, showextrema=False
    )
    for body, j in zip(parts["bodies"], keep, strict=True):
        body.set_facecolor(colors[names[j]])
        body.set_edgecolor(colors[names[j]])
        body.set_alpha(0.6)
    parts["cmedians"].set_color("0.1")
    parts["cmedians"].set_linewidth(0.9)
    ax.set_xticks(range(len(names)), [nice(n) for n in names], rotation=30 if len(names) > 3 else 0,
                  ha="right" if len(names) > 3 else "center")  # fmt: skip
    ax.set_ylim(0, 1)
    ax.set_ylabel("Trust in platform (0–1)")
    ax.grid(axis="x", visible=False)
    if installed is not None:
        ax.set_title("Users of each platform; line: median", loc="left")
    return ax.figure
