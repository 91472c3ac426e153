"""The standard set of figures for a run folder or a sweep folder (``livemarket figures``).

A run gets: GMV and shares by platform, live-room GMV by platform and channel, channel mix,
market indicators, trust over time, a before/after figure for each dated policy of its
scenario, and the social graph coloured by loyalty and by trust, and trust today. Those
last three read the run's last-day state (``state.npz``, written by ``livemarket run``);
without it the model is rebuilt from ``run.json`` and replayed with the same seed, which
reproduces the run. A sweep gets, per factor, the strategy comparison and the series by
level; per pair of factors, heat maps; and the sensitivity indices. :func:`draw_standard`
writes each figure as PDF and PNG by default; ``livemarket figures`` writes PNG unless
``--formats`` asks for more (``png,pdf``).
"""

from __future__ import annotations

import datetime as dt
import functools
import itertools
from pathlib import Path

import polars as pl
from tqdm.auto import tqdm

from livemarket.figures.data import nice
from livemarket.figures.funnel import funnel
from livemarket.figures.graph import graph_layout, graph_sample, sample_nodes, trust_distribution
from livemarket.figures.live import live_commerce
from livemarket.figures.load import Results, load_results
from livemarket.figures.policy import before_after
from livemarket.figures.runs import (
    LETTERS,
    channel_mix,
    gmv_shares,
    market_indicators,
    trust_bands,
)
from livemarket.figures.style import FORMATS, figure, panel_title, save, styled
from livemarket.figures.sweeps import (
    sensitivity_bars,
    sensitivity_indices,
    strategy_comparison,
    sweep_heatmap,
    sweep_timeseries,
)

__all__ = ["REPLAYED", "REPLAY_BUDGET", "draw_standard", "replay_model", "saved_state"]

#: Largest run (consumers x days) replayed to draw the social graph at its last day.
REPLAY_BUDGET = 20_000_000
SWEEP_METRICS = ("gmv_share", "consumer_surplus_rmb", "hhi")


def draw_standard(
    source,
    out: str | Path,
    formats=FORMATS,
    factors: list[str] | None = None,
    progress: bool = True,
    parallel: bool = True,
) -> list[Path]:
    """Draw the standard figures of a run or a sweep into ``out`` and return the files.

    File names keep only letters, digits and ``_`` of the names they come from (a platform,
    a factor), so a run folder cannot make a figure land outside ``out``.

    Args:
        source: run folder, sweep folder, Parquet file, polars frame, or :class:`Results`.
        out: output folder.
        formats: file formats (PDF and PNG by default).
        factors: a sweep's factor columns (default: found from the table).
        progress: show a progress bar.
        parallel: draw half of the figures in a fork of this process where that is safe
            (:mod:`livemarket.figures.workers`); the files are the same either way.

    """
    from matplotlib.backend_bases import FigureCanvasBase

    from livemarket.figures.workers import can_fork, in_two_processes

    supported = FigureCanvasBase.get_supported_filetypes()
    for fmt in formats:
        if fmt not in supported:
            raise ValueError(f"formats: {fmt!r} is not supported; accepted: {', '.join(supported)}")
    out = Path(out)

    def part(k: int | None) -> list[Path]:
        """Draw all figures (``k=None``) or one of two halves (0 or 1)."""
        res = source if isinstance(source, Results) else load_results(source, factors=factors)
        jobs = _sweep_jobs(res) if res.kind == "sweep" else _run_jobs(res)
        if k is not None:
            jobs = _halves(jobs, res)[k]
        written: list[Path] = []
        for name, draw in tqdm(jobs, desc="figures", disable=not progress or k == 1):
            written += save(draw(), out / _slug(name), formats)
        return written

    if parallel and can_fork():  # before any table is read: polars' threads must not have started
        _import_shared(formats)  # once, here, rather than in each process
        return in_two_processes(part)
    return part(None)


def _import_shared(formats) -> None:
    """Import what both processes need: the writers of the formats."""
    import importlib

    for fmt in formats:
        module = {"pdf": "matplotlib.backends.backend_pdf", "png": "matplotlib.backends.backend_agg",
                  "svg": "matplotlib.backends.backend_svg"}.get(fmt)  # fmt: skip
        if module is not None:
            importlib.import_module(module)
    if "png" in formats:
        import PIL.PngImagePlugin  # noqa: F401


#: Figures drawn from the model's last day (saved state, or a replay of the run).
REPLAYED = ("graph_loyalty", "graph_trust", "trust_distribution")


#: Rough drawing time of a figure relative to a time-series figure (measured on a 10,000-consumer run).
_WEIGHTS = {"graphs": 1.6, "trust_distribution": 0.4, "funnel": 0.6}


def _halves(jobs: list, res: Results) -> tuple[list, list]:
    """Split the figures in two of about equal drawing time, heaviest first to the lighter half.

    A replay and its figures stay together in one process; with the saved state only the two
    graph figures do (they share one layout of the sample).
    """
    rest = [j for j in jobs if j[0] not in REPLAYED]
    replayed = [j for j in jobs if j[0] in REPLAYED]
    if replayed and saved_state(res) is None:
        return rest, replayed
    graphs = [j for j in replayed if j[0].startswith("graph_")]
    units = [[j] for j in jobs if not j[0].startswith("graph_")] + ([graphs] if graphs else [])
    weight = {id(u): _WEIGHTS.get("graphs" if u[0][0].startswith("graph_") else u[0][0], 1.0) for u in units}
    halves: tuple[list, list] = ([], [])
    load = [0.0, 0.0]
    for unit in sorted(units, key=lambda u: -weight[id(u)]):  # stable: equal weights keep their order
        k = int(load[1] < load[0])
        halves[k].extend(unit)
        load[k] += weight[id(unit)]
    return halves


def _run_jobs(res: Results) -> list[tuple[str, object]]:
    f = res.frame
    jobs = [
        ("gmv_shares", lambda: gmv_shares(f)),
        ("live_commerce", lambda: live_commerce(f)),
        *([("funnel", lambda: funnel(f))] if "live_visits" in set(f["metric"].unique().to_list()) else []),
        ("channel_mix", lambda: channel_mix(f)),
        ("market_indicators", lambda: market_indicators(f)),
        ("trust", lambda: trust_bands(f)),
    ]
    params = res.meta.get("parameters", {})
    last = f["date"].max()
    first = f["date"].min()
    by_date: dict = {}  # events of one date share one figure: its window and bars are the same
    for ev in params.get("policies", []):
        by_date.setdefault(ev.get("date") or ev.get("step"), []).append(ev)
    for when, events in by_date.items():
        platforms = list(dict.fromkeys(ev["platform"] for ev in events))
        name = f"policy_{'_'.join(platforms)}_" + (
            f"step{when}" if isinstance(when, int) else when.replace("-", "")
        )
        if isinstance(when, int) or first < dt.date.fromisoformat(when) <= last:
            event = "; ".join(
                f"{nice(ev['platform'])} " + " ".join(k.replace("_", " ") for k in ev.get("set", {}))
                for ev in events
            )
            jobs.append((name, lambda when=when, event=event: before_after(f, when, event=event)))
    if params:
        model = functools.cache(lambda: saved_state(res) or replay_model(res))
        layout = functools.cache(lambda: graph_sample_layout(model()))  # one sample, both graphs
        jobs += [
            ("graph_loyalty", lambda: graph_sample(model(), color_by="loyalty", layout=layout())),
            ("graph_trust", lambda: graph_sample(model(), color_by="trust", layout=layout())),
            ("trust_distribution", lambda: trust_distribution(model())),
        ]
    return jobs


def graph_sample_layout(model, size: int = 300, seed: int = 0):
    """The ``(nodes, xy, edges)`` that :func:`graph_sample` draws with its defaults."""
    nodes = sample_nodes(model.social_graph, size, seed)
    return (nodes, *graph_layout(model.social_graph, nodes, seed))


def saved_state(res: Results):
    """The last-day state that ``livemarket run`` saved beside the results (``None`` if absent or stale)."""
    if res.path is None or not res.path.is_dir():
        return None
    from livemarket.state import read_state

    return read_state(res.path, run_id=str(res.frame["run_id"][0]), day=int(res.frame["step"].max()))


def replay_model(res: Results):
    """Rebuild a run's model from its ``run.json`` and replay it (same seed, same trajectory).

    Runs larger than :data:`REPLAY_BUDGET` consumer-days are rebuilt but not replayed: the
    graph is then drawn at the first day.
    """
    from livemarket import LiveCommerceModel, ScenarioConfig

    config = ScenarioConfig.model_validate(res.meta["parameters"])
    model = LiveCommerceModel(config, run_id=str(res.frame["run_id"][0]))
    days = int(res.frame["step"].max()) + 1
    if config.consumers * days <= REPLAY_BUDGET:
        model.run(days)
    return model


def _sweep_jobs(res: Results) -> list[tuple[str, object]]:
    factors = res.factors
    if not factors:
        raise ValueError("a sweep table needs factor columns (pass factors=[...])")
    columns = {c for table in (res.frame, res.runs) if table is not None for c in table.columns}
    unknown = [f for f in factors if f not in columns]
    if unknown:
        from livemarket.suggest import did_you_mean

        found = sorted(c for c in columns if c in (res.meta.get("spec", {}).get("factors") or {})) or sorted(columns)
        raise ValueError(f"--factors: {unknown} are not columns of this sweep; accepted: {found}"
                         f"{did_you_mean(unknown[0], found)}")  # fmt: skip
    if res.runs is None:  # tidy table: the model's metrics, each run's mean of its last 90 days
        compare, market = (
            list(SWEEP_METRICS),
            [(m, "all") for m in SWEEP_METRICS if m != "gmv_share"],
        )
    else:  # stored outcomes: as the spec named them
        pairs = res.runs.select("outcome", "platform").unique(maintain_order=True).rows()
        compare = list(dict.fromkeys(o for o, _ in pairs))[:4]
        market = ([p for p in pairs if p[1] == "all"] or pairs)[:3]
    jobs = []
    for x in factors:
        slug = _slug(x)
        jobs.append((f"compare_{slug}", lambda x=x: strategy_comparison(res, x, metrics=compare)))
        if res.frame is not None and not res.frame.is_empty():
            metric = "gmv_share" if "gmv_share" in res.frame["metric"] else res.frame["metric"][0]
            jobs.append(
                (f"series_{slug}", lambda x=x, m=metric: sweep_timeseries(res, x, metric=m))
            )
    for x, y in itertools.combinations(factors, 2):
        jobs.append(
            (f"heatmap_{_slug(x)}__{_slug(y)}", lambda x=x, y=y: _heatmaps(res, x, y, market))
        )
    stored = res.path / "sensitivity.parquet" if res.path is not None else None
    if stored is not None and stored.is_file():  # SALib indices of a Sobol or Morris design
        jobs.append(("sensitivity", lambda: sensitivity_bars(pl.read_parquet(stored))))
    else:
        wanted = ["gmv_rmb", *(m for m, _ in market)] if res.runs is None else compare
        platform = (
            "all" if res.runs is None else None
        )  # stored outcomes: each with its own platform
        jobs.append(
            (
                "sensitivity",
                lambda: sensitivity_bars(
                    sensitivity_indices(res, factors, wanted, platform=platform)
                ),
            )
        )
    return jobs


@styled
def _heatmaps(res: Results, x: str, y: str, outcomes: list[tuple[str, str]]):
    """Heat maps of several outcomes over one pair of factors, side by side."""
    fig, axes = figure("double", 2.6, ncols=len(outcomes), squeeze=False)
    for k, (ax, (m, platform)) in enumerate(zip(axes[0], outcomes, strict=True)):
        sweep_heatmap(res, x, y, metric=m, platform=platform, ax=ax)
        title, _, note = ax.get_title(loc="left").partition(" (")  # from sweep_heatmap (no letter)
        panel_title(ax, LETTERS[k], title)
    fig.suptitle(
        f"Mean over replicates of each run's {note.rstrip(')')}", x=0.01, ha="left", fontsize=7
    )
    return fig


def _slug(name: str) -> str:
    return "".join(c if c.isalnum() else "_" for c in name).strip("_")
