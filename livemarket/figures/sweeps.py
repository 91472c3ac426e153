"""Figures of sweeps: strategy comparison, 2-D heat maps, sensitivity indices, series by level.

Each run is one number per outcome and platform: read from a sweep folder's stored
metrics, or, for a tidy sweep table (``point``, ``replicate``, factors and the model's
tidy columns), the mean over the run's last ``last_days`` days (see
:mod:`livemarket.figures.sweepdata`). Figures average over replicates (and over the levels
of factors they do not show) and draw 95% confidence intervals over runs.
"""

from __future__ import annotations

from collections.abc import Sequence

import matplotlib as mpl
import numpy as np
import polars as pl
from matplotlib.lines import Line2D
from matplotlib.patches import Patch

from livemarket.figures.data import factor_columns, mean_ci, metric_unit, nice, wrap_label
from livemarket.figures.runs import LETTERS, _ci_handle, _hide_unused, _legend_on_top, timeseries
from livemarket.figures.style import OTHER_COLORS, figure, palette, panel_title, styled
from livemarket.figures.sweepdata import runs_table

__all__ = [
    "sensitivity_bars",
    "sensitivity_indices",
    "strategy_comparison",
    "sweep_heatmap",
    "sweep_timeseries",
]


def _levels(frame: pl.DataFrame, column: str) -> list:
    """Levels of a column: sorted if numbers, booleans or bins, else in order of appearance."""
    if isinstance(frame[column].dtype, pl.Enum):
        return [v for v in frame[column].dtype.categories.to_list() if v in set(frame[column].to_list())]
    values = frame[column].unique(maintain_order=True).drop_nulls().to_list()
    return (
        sorted(values)
        if frame[column].dtype.is_numeric() or frame[column].dtype == pl.Boolean
        else values
    )


def _binned(runs: pl.DataFrame, column: str, max_levels: int = 8, bins: int = 5) -> pl.DataFrame:
    """Cut a continuous factor (Latin hypercube, Sobol, Morris designs) into quantile bins.

    A factor with at most ``max_levels`` distinct values is left alone; otherwise its values
    are replaced by the bin they fall in, labelled ``"low–high"`` and ordered.
    """
    values = runs[column]
    if not values.dtype.is_numeric() or values.n_unique() <= max_levels:
        return runs
    edges = np.unique(np.quantile(values.to_numpy(), np.linspace(0, 1, bins + 1)))
    index = np.clip(np.searchsorted(edges, values.to_numpy(), side="right") - 1, 0, len(edges) - 2)
    labels = [f"{a:.2g}–{b:.2g}" for a, b in zip(edges[:-1], edges[1:], strict=True)]
    ordered = pl.Enum(labels)
    return runs.with_columns(pl.Series(column, [labels[i] for i in index], dtype=ordered))


def _fmt(value) -> str:
    if isinstance(value, bool):
        return "on" if value else "off"
    if isinstance(value, float):
        return f"{value:.3g}"
    return str(value).replace("_", " ")


def _inside(mean: np.ndarray, half: np.ndarray, metric: str, nonnegative: bool) -> np.ndarray:
    """Error bars (2, n) cut at the metric's range: 0 for amounts, 100% for shares, 1 for indices."""
    high = {"%": 100.0, "% of consumers": 100.0, "% of orders": 100.0, "0–1": 1.0}.get(metric_unit(metric), np.inf)
    low = 0.0 if nonnegative else -np.inf
    return np.vstack([np.minimum(half, mean - low), np.minimum(half, high - mean)])


def _xticks(ax, levels: list) -> None:
    """Level labels on the x axis, slanted when they would run into each other."""
    labels = [_fmt(v) for v in levels]
    crowded = sum(len(t) for t in labels) > 36
    ax.set_xticks(range(len(levels)), labels, rotation=30 if crowded else 0, ha="right" if crowded else "center")


def _axis(name: str) -> str:
    text = nice(name)
    return text[:1].upper() + text[1:]


def _outcomes(runs: pl.DataFrame) -> list[str]:
    return runs["outcome"].unique(maintain_order=True).to_list()


def _first(rows: pl.DataFrame, column: str) -> str:
    return str(rows[column][0])


def _name_unit(label: str) -> tuple[str, str]:
    """``"Platform trust (mean) (0–1)"`` -> ``("Platform trust (mean)", "0–1")``: the last bracket is the unit."""
    if not label.endswith(")") or " (" not in label:
        return label, ""
    name, _, unit = label.rpartition(" (")
    return name, unit[:-1]


@styled
def strategy_comparison(
    source,
    by: str,
    metrics: Sequence[str] = ("gmv_share",),
    platforms: Sequence[str] | None = None,
    channel: str = "all",
    last_days: int | None = 90,
):
    """Outcome of each strategy (level of ``by``) with 95% confidence intervals over runs.

    Args:
        source: sweep results (tidy table, runs table or :class:`Results`), or concatenated
            runs with a column naming the strategy.
        by: the column whose levels are compared (a factor, or e.g. ``"strategy"``).
        metrics: one panel per outcome; platform outcomes get one colour per platform,
            market outcomes (platform ``"all"``) one black series.
        platforms: platforms to show (default: all).
        channel: channel of the metrics (tidy tables).
        last_days: each run contributes its mean over its last days (tidy tables).

    """
    runs = runs_table(
        source, list(metrics), platforms=platforms, channel=channel, last_days=last_days
    )
    runs = _binned(runs, by)
    levels = _levels(runs, by)
    outcomes = _outcomes(runs)
    ncols = len(outcomes) if len(outcomes) <= 3 else 2  # four panels: two rows of two, titles fit
    nrows = int(np.ceil(len(outcomes) / ncols))
    fig, axes = figure("single" if len(outcomes) == 1 else "double", 2.1 * nrows + 0.6,
                       nrows=nrows, ncols=ncols, squeeze=False)  # fmt: skip
    _hide_unused(axes, len(outcomes))
    handles: dict[str, Line2D] = {}
    for k, (ax, outcome) in enumerate(zip(axes.flat, outcomes, strict=False)):
        rows = runs.filter(pl.col("outcome") == outcome)
        shown = [
            p for p in rows["platform"].unique(maintain_order=True).to_list() if p != "all"
        ] or ["all"]
        colors = palette(shown)
        width = 0.7 / len(shown)
        for j, p in enumerate(shown):
            stats_ = [
                mean_ci(rows.filter(pl.col("platform") == p, pl.col(by) == lv)["y"].to_numpy())
                for lv in levels
            ]
            x = np.arange(len(levels)) + (j - (len(shown) - 1) / 2) * width
            m, h = np.array(stats_).T
            # join the points of ordered levels only
            style = "o-" if runs[by].dtype.is_numeric() else "o"
            ax.errorbar(
                x,
                m,
                yerr=_inside(m, h, _first(rows, "metric"), rows["y"].min() >= 0),
                fmt=style,
                color=colors[p],
                ms=3.5,
                lw=0.8,
                capsize=1.5,
                elinewidth=0.7,
            )
            handles.setdefault(
                p, Line2D([], [], marker="o", color=colors[p], lw=0.8, ms=3.5, label=nice(p))
            )
        _xticks(ax, levels)
        ax.set_xlim(-0.6, len(levels) - 0.4)
        ax.set_xlabel(_axis(by))
        name, unit = _name_unit(_first(rows, "label"))
        ax.set_ylabel(unit or name)  # the title names the outcome; the axis, its unit
        ax.grid(axis="x", visible=False)
        panel_title(ax, LETTERS[k] if len(outcomes) > 1 else "", name)
    ids = [c for c in ("run_id", "point", "replicate") if c in runs.columns]
    per_level = runs.group_by(by).agg(pl.struct(*ids).n_unique().alias("n"))["n"]
    n = (
        f"{per_level.min()}"
        if per_level.min() == per_level.max()
        else f"{per_level.min()}–{per_level.max()}"
    )
    title = f"Each run: {_first(runs, 'note')}.\nPoints: mean; bars: 95% CI over the {n} runs of each level"
    shown = [h for p, h in handles.items() if p != "all"]
    if shown:
        shown += [handles["all"]] if "all" in handles else []  # market outcomes beside platforms
        fig.legend(handles=shown, loc="outside upper center", ncol=min(len(shown), 6), title=title)
    else:
        fig.suptitle(title, fontsize=7)
    return fig


@styled
def sweep_heatmap(
    source,
    x: str,
    y: str,
    metric: str = "gmv_share",
    platform: str = "all",
    channel: str = "all",
    last_days: int | None = 90,
    annotate: bool = True,
    cmap: str = "viridis",
    ax=None,
    interval: bool = False,
):
    """Heat map of an outcome over two factors (mean over replicates and other factors).

    Args:
        source: sweep results (tidy table, runs table or :class:`Results`).
        x: factor on the horizontal axis.
        y: factor on the vertical axis.
        metric: model metric or stored outcome.
        platform: whose outcome (``"all"``: the market).
        channel: channel of the metric (tidy tables).
        last_days: each run contributes its mean over its last days (tidy tables).
        annotate: write each cell's value in it.
        cmap: a perceptually uniform, colour-blind-safe colour map.
        ax: axes to draw on (default: a new single-column figure).
        interval: write each cell's 95% confidence interval (``± half-width`` over its runs)
            under its value.

    """
    runs = runs_table(source, [metric], platforms=[platform], channel=channel, last_days=last_days)
    runs = runs.filter(pl.col("platform") == platform, pl.col("outcome") == _outcomes(runs)[0])
    runs = _binned(_binned(runs, x), y)
    xs, ys = _levels(runs, x), _levels(runs, y)
    cells = runs.group_by(x, y).agg(pl.col("y"))
    grid, half = np.full((len(ys), len(xs)), np.nan), np.zeros((len(ys), len(xs)))
    for row in cells.iter_rows(named=True):
        cell = ys.index(row[y]), xs.index(row[x])
        grid[cell], half[cell] = mean_ci(np.asarray(row["y"], dtype=float))
    n_cell = cells["y"].list.len()
    if ax is None:
        fig, ax = figure("single", 2.9)
    image = ax.imshow(grid, origin="lower", aspect="auto", cmap=cmap, interpolation="nearest")
    _xticks(ax, xs)
    ax.set_yticks(range(len(ys)), [_fmt(v) for v in ys])
    ax.set_xlabel(_axis(x))
    ax.set_ylabel(_axis(y))
    ax.grid(False)
    ax.tick_params(length=0)
    ax.figure.colorbar(image, ax=ax, label=wrap_label(_first(runs, "label")), shrink=0.9)
    if annotate and grid.size <= 100:
        lo, hi = np.nanmin(grid), np.nanmax(grid)
        for (i, j), v in np.ndenumerate(grid):
            if np.isfinite(v):
                light = (v - lo) / (hi - lo) < 0.55 if hi > lo else True
                ax.text(
                    j,
                    i,
                    f"{v:.3g}" + (f"\n± {half[i, j]:.2g}" if interval else ""),
                    ha="center",
                    va="center",
                    fontsize=6,
                    color="white" if light else "black",
                )
    others = [c for c in _factor_like(source) if c not in (x, y)]
    what = _first(runs, "label").split(" (")[0] + (
        "" if platform == "all" else f", {nice(platform)}"
    )
    n = f"{n_cell.min()}" if n_cell.min() == n_cell.max() else f"{n_cell.min()}–{n_cell.max()}"
    title = what + f" ({_first(runs, 'note')}" + (", mean over other factors)" if others else ")")
    if interval and annotate:
        title += f"\ncells: mean ± 95% CI half-width over the {n} runs of each cell"
    ax.set_title(title, loc="left")
    return ax.figure


def _factor_like(source) -> list[str]:
    factors = getattr(source, "factors", None)
    if factors:
        return list(factors)
    frame = getattr(source, "frame", source)
    return factor_columns(frame) if frame is not None else []


@styled
def sweep_timeseries(
    source,
    factor: str,
    metric: str = "gmv_share",
    platforms: Sequence[str] | None = None,
    max_levels: int = 6,
    smooth_days: int = 7,
):
    """Draw a metric over time for each level of one factor, one panel per platform.

    Lines are means over replicates (and over other factors' levels), bands 95% CIs.
    At most ``max_levels`` levels are drawn, evenly spaced over the sorted levels.

    Args:
        source: a tidy sweep table (or :class:`Results` whose sweep kept daily series).
        factor: the factor whose levels get one line each.
        metric: the metric; one panel per platform that has it.
        platforms: platforms to show (default: all).
        max_levels: most lines per panel.
        smooth_days: centred rolling mean of each run's series.

    """
    frame = getattr(source, "frame", source)
    if frame is None:
        raise ValueError("this sweep kept no daily series (add a metric with agg = 'daily')")
    frame = frame.filter(pl.col("metric") == metric)
    levels = _levels(frame, factor)
    if len(levels) > max_levels:
        levels = [
            levels[i]
            for i in np.unique(np.linspace(0, len(levels) - 1, max_levels).round().astype(int))
        ]
    # every run of a level is one sample: pool the points (other factors) within the level
    run = [c for c in ("point", "replicate", "run_id") if c in frame.columns]
    data = (
        frame.filter(pl.col(factor).is_in(levels))
        .with_columns(
            replicate=pl.concat_str([pl.col(c).cast(pl.String) for c in run], separator="/"),
            _level=pl.col(factor).cast(pl.String),
        )
        .drop("point", strict=False)
    )
    names = [p for p in data["platform"].unique(maintain_order=True).to_list() if p != "all"]
    names = [p for p in names if platforms is None or p in platforms] or ["all"]
    ncols = min(3, len(names))
    nrows = int(np.ceil(len(names) / ncols))
    fig, axes = figure(
        "double", 1.7 * nrows + 0.5, nrows=nrows, ncols=ncols, squeeze=False, sharex=True
    )
    keys = pl.Series(levels).cast(pl.String).to_list()  # the same text as the _level column
    cmap = mpl.colormaps["viridis"]
    colors = {k: cmap(i / max(len(keys) - 1, 1) * 0.9) for i, k in enumerate(keys)}
    labels = {k: _fmt(lv) for k, lv in zip(keys, levels, strict=True)}
    for i, (ax, p) in enumerate(zip(axes.flat, names, strict=False)):
        lines = timeseries(data, metric, ax, hue="_level", platform=p, groups=keys,
                           colors=colors, labels=labels, smooth_days=smooth_days, band_alpha=0.12)  # fmt: skip
        panel_title(ax, LETTERS[i], nice(p))
        if i % ncols:
            ax.set_ylabel("")
    _hide_unused(axes, len(names))
    handles = list(lines.values())
    n = data.group_by("_level").agg(pl.col("replicate").n_unique())["replicate"].min()
    fig.legend(handles=handles + ([_ci_handle(n)] if n > 1 else []), loc="outside upper center",
               ncol=min(len(handles) + 1, 7), title=_axis(factor))  # fmt: skip
    return fig


def sensitivity_indices(
    source,
    factors: Sequence[str],
    metrics: Sequence[str] = ("gmv_rmb", "hhi", "consumer_surplus_rmb"),
    platform: str | None = "all",
    last_days: int | None = 90,
    bins: int | None = None,
    n_boot: int = 200,
    seed: int = 0,
    n_perm: int = 200,
) -> pl.DataFrame:
    """First-order sensitivity indices of run outcomes to each factor, for any sweep design.

    The index of factor X on outcome Y is the correlation ratio Var(E[Y | X]) / Var(Y): the
    share of the outcome's variance across runs explained by X alone (Sobol's first-order
    index, estimated from the sweep's own runs). Continuous factors with many distinct
    values (Latin hypercube, random designs) are cut into ``bins`` quantile bins (default
    about sqrt(number of runs)). ``S1_conf`` is the half-width of a 95% bootstrap interval.

    A factor that does nothing still gets an index above 0 from seed noise (about
    (levels - 1) / (runs - 1) on average). ``S1_null`` is the 95th percentile of the index
    with the factor's values shuffled among the runs (``n_perm`` permutations) and ``S1_p``
    the permutation p-value: an index at or below ``S1_null`` (``S1_p >= 0.05``) cannot be
    told from 0.
    For Sobol or Morris designs, ``livemarket.sweeps`` computes SALib's indices instead;
    :func:`sensitivity_bars` draws either.

    Args:
        source: sweep results (tidy table, runs table or :class:`Results`).
        factors: factor columns.
        metrics: model metrics or stored outcomes.
        platform: whose outcomes (``"all"``: the market; ``None``: every platform separately).
        last_days: each run contributes its mean over its last days (tidy tables).
        bins: quantile bins of continuous factors.
        n_boot: bootstrap resamples of the runs for the interval.
        seed: seed of the bootstrap and the permutations.
        n_perm: permutations of the factor for ``S1_null`` and ``S1_p`` (0: none).

    Returns:
        Columns ``metric, label, platform, factor, S1, S1_conf`` (and ``S1_null, S1_p``).

    """
    rng = np.random.default_rng(seed)
    runs = runs_table(
        source,
        list(metrics),
        platforms=None if platform is None else [platform],
        last_days=last_days,
    )
    if platform is not None:
        runs = runs.filter(pl.col("platform") == platform)
    out = []
    for outcome, plat in runs.select("outcome", "platform").unique(maintain_order=True).iter_rows():
        rows = runs.filter(pl.col("outcome") == outcome, pl.col("platform") == plat)
        y = rows["y"].to_numpy()
        for f in factors:
            groups = _groups(rows[f], bins or max(2, int(np.sqrt(len(y)))))
            s1 = _eta2(y, groups)
            boots = [
                _eta2(y[i], groups[i])
                for i in (rng.integers(0, len(y), len(y)) for _ in range(n_boot))
            ]
            lo, hi = np.nanpercentile(boots, [2.5, 97.5]) if boots else (s1, s1)
            row = {"metric": outcome, "label": _name_unit(_first(rows, "label"))[0], "platform": plat,
                   "factor": f, "S1": s1, "S1_conf": (hi - lo) / 2}  # fmt: skip
            if n_perm:
                null = np.array([_eta2(y, rng.permutation(groups)) for _ in range(n_perm)])
                row |= {"S1_null": float(np.percentile(null, 95)),
                        "S1_p": float((1 + np.sum(null >= s1 - 1e-12)) / (1 + n_perm))}  # fmt: skip
            out.append(row)
    return pl.DataFrame(out)


def _groups(values: pl.Series, bins: int) -> np.ndarray:
    if values.dtype.is_numeric() and values.n_unique() > bins:
        edges = np.unique(np.quantile(values.to_numpy(), np.linspace(0, 1, bins + 1))[1:-1])
        return np.searchsorted(edges, values.to_numpy(), side="right")
    return values.cast(pl.String).to_numpy()


def _eta2(y: np.ndarray, groups: np.ndarray) -> float:
    total = np.var(y)
    if total <= 0:
        return 0.0
    labels, inverse = np.unique(groups, return_inverse=True)
    means = np.bincount(inverse, y) / np.bincount(inverse)
    return float(np.var(means[inverse]) / total)


def _wide_indices(indices: pl.DataFrame) -> pl.DataFrame:
    """SALib-like wide rows (``S1, S1_conf, ST, ST_conf``) from the sweeps package's tidy table."""
    if "index" not in indices.columns:
        return indices
    rows = indices.filter(pl.col("index").is_in(["S1", "ST", "mu_star"]))
    keys = [c for c in rows.columns if c not in ("index", "value", "conf", "ci_low", "ci_high")]
    value = rows.pivot(on="index", index=keys, values="value")
    conf = rows.with_columns(pl.col("index") + "_conf").pivot(on="index", index=keys, values="conf")
    return value.join(conf, on=keys)


@styled
def sensitivity_bars(indices: pl.DataFrame, index: str = "S1", total: str | None = "ST"):
    """Horizontal bars of sensitivity indices per factor, one panel per outcome.

    Args:
        indices: rows of ``metric, factor, S1, S1_conf`` (and ``ST, ST_conf`` if a Sobol
            analysis gave total indices), from :func:`sensitivity_indices` or SALib's
            ``to_df()``; or the tidy ``metric, factor, index, value, conf`` table of
            ``livemarket.sweeps.sensitivity.analyze``.
        index: first-order column.
        total: total-order column, drawn beside the first-order bar when present.

    """
    indices = _wide_indices(indices)
    has_total = total is not None and total in indices.columns
    keys = [
        c
        for c in indices.columns
        if c not in ("factor", "label") and not c.startswith(("S1", "ST", "S2", "mu"))
    ]
    groups = indices.select(keys).unique(maintain_order=True)
    n = len(groups)
    ncols = min(n, 3)
    nrows = int(np.ceil(n / ncols))
    per_row = max(1.5, 0.75 + 0.22 * indices["factor"].n_unique())
    fig, axes = figure("single" if n == 1 else "double", per_row * nrows + 0.35, nrows=nrows, ncols=ncols,
                       squeeze=False, sharex=True)  # fmt: skip
    first, tot = OTHER_COLORS[5], OTHER_COLORS[1]  # blue and vermillion
    err = dict(elinewidth=0.7, capsize=1.5, ecolor="0.15")
    for k, (ax, row) in enumerate(zip(axes.flat, groups.iter_rows(named=True), strict=False)):
        d = indices.filter(*(pl.col(c) == v for c, v in row.items())).sort(index)
        y = np.arange(len(d))
        h = 0.38 if has_total else 0.7
        ax.barh(
            y + (h / 2 if has_total else 0),
            d[index].to_numpy(),
            h,
            xerr=_conf(d, index),
            color=first,
            error_kw=err,
        )
        if has_total:
            ax.barh(y - h / 2, d[total].to_numpy(), h, xerr=_conf(d, total), color=tot, error_kw=err)
        if "S1_null" in d.columns and index == "S1":  # what the index reaches when the factor does nothing
            ax.barh(y + (h / 2 if has_total else 0), d["S1_null"].to_numpy(), h * 1.3, color="0.88", zorder=0.8)
        ax.set_yticks(y, [_axis(f) for f in d["factor"]])
        ax.set_xlim(0, 1)
        ax.grid(axis="y", visible=False)
        if k >= n - ncols:
            ax.set_xlabel("Share of outcome variance")
        title = str(d["label"][0]) if "label" in d.columns else nice(str(row["metric"]))
        where = [
            nice(v) if c == "platform" else f"{nice(c)} {_fmt(v)}"
            for c, v in row.items()
            if c != "metric" and v != "all"
        ]
        panel_title(ax, LETTERS[k] if n > 1 else "", ", ".join([title, *where]))
    _hide_unused(axes, n)
    handles = [Patch(facecolor=first, label="first-order index")]
    handles += [Patch(facecolor=tot, label="total-order index")] if has_total else []
    handles += [Line2D([], [], ls="", marker="|", color="0.2", label="95% interval")]
    if "S1_null" in indices.columns and index == "S1":
        handles += [Patch(facecolor="0.88", label="reached by a factor that does nothing (95%)")]
    _legend_on_top(fig, handles)
    return fig


def _conf(d: pl.DataFrame, column: str):
    conf = f"{column}_conf"
    return np.clip(d[conf].to_numpy(), 0, None) if conf in d.columns else None
