"""Figures of sweeps: strategy comparison, 2-D heat maps, sensitivity indices, series by point.

A sweep table is the tidy results table plus ``point``, ``replicate`` and one column per
factor. Each run is first reduced to one number per metric and platform, the mean over its
last ``last_days`` days (:func:`livemarket.figures.data.per_run`); figures then average
over replicates (and over the levels of factors they do not show) and draw 95% confidence
intervals over runs.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import polars as pl
from matplotlib.lines import Line2D
from matplotlib.patches import Patch

from livemarket.figures import figure, palette, panel_title, styled
from livemarket.figures.data import mean_ci, metric_label, nice, per_run
from livemarket.figures.runs import LETTERS, _ci_handle, _legend_on_top, timeseries

__all__ = ["sensitivity_bars", "sensitivity_indices", "strategy_comparison", "sweep_heatmap", "sweep_timeseries"]


def _levels(frame: pl.DataFrame, column: str) -> list:
    values = frame[column].unique(maintain_order=True).drop_nulls().to_list()
    try:
        return sorted(values)
    except TypeError:
        return values


def _fmt(value) -> str:
    if isinstance(value, bool):
        return "on" if value else "off"
    if isinstance(value, float):
        return f"{value:.3g}"
    return nice(str(value))


def _window_note(last_days: int | None) -> str:
    return "whole run" if last_days is None else f"mean of last {last_days} days"


@styled
def strategy_comparison(
    frame: pl.DataFrame,
    by: str,
    metrics: Sequence[str] = ("gmv_share",),
    platforms: Sequence[str] | None = None,
    channel: str = "all",
    last_days: int | None = 90,
):
    """Outcome of each strategy (level of ``by``) with 95% confidence intervals over runs.

    Args:
        frame: sweep results, or concatenated runs with a column naming the strategy.
        by: the column whose levels are compared (a factor, or e.g. ``"strategy"``).
        metrics: one panel each; platform metrics get one colour per platform, market
            metrics (platform ``"all"``) one black series.
        platforms: platforms to show (default: all).
        channel: channel of the metrics.
        last_days: each run contributes its mean over its last days (``None``: whole run).
    """
    runs = per_run(frame, list(metrics), platforms=None, channel=channel, last_days=last_days)
    levels = _levels(frame, by)
    fig, axes = figure("single" if len(metrics) == 1 else "double", 2.5, ncols=len(metrics), squeeze=False)
    handles: dict[str, Line2D] = {}
    for k, (ax, metric) in enumerate(zip(axes[0], metrics, strict=True)):
        rows = runs.filter(pl.col("metric") == metric)
        plats = [p for p in rows["platform"].unique(maintain_order=True).to_list() if p != "all"]
        shown = [p for p in plats if platforms is None or p in platforms] or ["all"]
        colors = palette(shown)
        width = 0.7 / len(shown)
        for j, p in enumerate(shown):
            stats_ = [mean_ci(rows.filter(pl.col("platform") == p, pl.col(by) == lv)["y"].to_numpy()) for lv in levels]
            x = np.arange(len(levels)) + (j - (len(shown) - 1) / 2) * width
            m, h = np.array(stats_).T
            line = ax.errorbar(x, m, yerr=h, fmt="o-", color=colors[p], ms=3.5, lw=0.8, capsize=1.5, elinewidth=0.7)
            handles.setdefault(p, Line2D([], [], marker="o", color=colors[p], lw=0.8, ms=3.5, label=nice(p)))
            del line
        ax.set_xticks(range(len(levels)), [_fmt(v) for v in levels])
        ax.set_xlabel(nice(by))
        ax.set_ylabel(metric_label(metric))
        ax.grid(axis="x", visible=False)
        panel_title(ax, LETTERS[k] if len(metrics) > 1 else "", metric_label(metric, unit=False) + f" ({_window_note(last_days)})")
    n = frame.select(pl.struct(*[c for c in ("run_id", "point", "replicate") if c in frame.columns]).n_unique()).item()
    handles_ = [h for p, h in handles.items() if p != "all"]
    note = Line2D([], [], ls="", marker="|", color="0.2", label=f"95% CI over runs ({n} runs)")
    _legend_on_top(fig, handles_ + [note], ncol=min(len(handles_) + 1, 6))
    return fig


@styled
def sweep_heatmap(
    frame: pl.DataFrame,
    x: str,
    y: str,
    metric: str = "gmv_share",
    platform: str = "all",
    channel: str = "all",
    last_days: int | None = 90,
    annotate: bool = True,
    cmap: str = "viridis",
    ax=None,
):
    """Heat map of a metric over two factors (mean over replicates and other factors).

    Args:
        frame: sweep results.
        x, y: factor columns on the horizontal and vertical axes.
        metric: metric in display units; ``platform`` selects whose (``"all"``: market).
        channel: channel of the metric.
        last_days: each run contributes its mean over its last days.
        annotate: write each cell's value in it.
        cmap: a perceptually uniform, colour-blind-safe colour map.
        ax: axes to draw on (default: a new single-column figure).
    """
    runs = per_run(frame, metric, platforms=[platform], channel=channel, last_days=last_days)
    xs, ys = _levels(frame, x), _levels(frame, y)
    cells = runs.group_by(x, y).agg(pl.col("y").mean())
    grid = np.full((len(ys), len(xs)), np.nan)
    for row in cells.iter_rows(named=True):
        grid[ys.index(row[y]), xs.index(row[x])] = row["y"]
    if ax is None:
        fig, ax = figure("single", 2.9)
    image = ax.imshow(grid, origin="lower", aspect="auto", cmap=cmap, interpolation="nearest")
    ax.set_xticks(range(len(xs)), [_fmt(v) for v in xs])
    ax.set_yticks(range(len(ys)), [_fmt(v) for v in ys])
    ax.set_xlabel(nice(x))
    ax.set_ylabel(nice(y))
    ax.grid(False)
    ax.tick_params(length=0)
    ax.figure.colorbar(image, ax=ax, label=metric_label(metric), shrink=0.9)
    if annotate and grid.size <= 100:
        lo, hi = np.nanmin(grid), np.nanmax(grid)
        for (i, j), v in np.ndenumerate(grid):
            if np.isfinite(v):
                light = (v - lo) / (hi - lo) < 0.55 if hi > lo else True
                ax.text(j, i, f"{v:.3g}", ha="center", va="center", fontsize=6, color="white" if light else "black")
    others = [c for c in _factor_like(frame) if c not in (x, y)]
    what = metric_label(metric, unit=False) + ("" if platform == "all" else f", {nice(platform)}")
    ax.set_title(what + f" ({_window_note(last_days)}" + (", mean over other factors)" if others else ")"), loc="left")
    return ax.figure


def _factor_like(frame: pl.DataFrame) -> list[str]:
    from livemarket.figures.data import factor_columns

    return factor_columns(frame)


@styled
def sweep_timeseries(
    frame: pl.DataFrame,
    factor: str,
    metric: str = "gmv_share",
    platforms: Sequence[str] | None = None,
    max_levels: int = 6,
    smooth_days: int = 7,
):
    """A metric over time for each level of one factor, one panel per platform.

    Lines are means over replicates (and over other factors' levels), bands 95% CIs.
    At most ``max_levels`` levels are drawn, evenly spaced over the sorted levels.
    """
    levels = _levels(frame, factor)
    if len(levels) > max_levels:
        levels = [levels[i] for i in np.unique(np.linspace(0, len(levels) - 1, max_levels).round().astype(int))]
    # every run of a level is one sample: pool the points (other factors) within the level
    run = [c for c in ("point", "replicate", "run_id") if c in frame.columns]
    data = frame.filter(pl.col(factor).is_in(levels)).with_columns(
        replicate=pl.concat_str([pl.col(c).cast(pl.String) for c in run], separator="/"),
        _level=pl.col(factor).cast(pl.String),
    ).drop("point", strict=False)
    names = [p for p in data["platform"].unique(maintain_order=True).to_list() if p != "all"]
    names = [p for p in names if platforms is None or p in platforms] or ["all"]
    ncols = min(3, len(names))
    nrows = int(np.ceil(len(names) / ncols))
    fig, axes = figure("double", 1.7 * nrows + 0.5, nrows=nrows, ncols=ncols, squeeze=False, sharex=True)
    import matplotlib as mpl

    cmap = mpl.colormaps["viridis"]
    colors = {str(lv): cmap(i / max(len(levels) - 1, 1) * 0.9) for i, lv in enumerate(levels)}
    labels = {str(lv): _fmt(lv) for lv in levels}
    for i, (ax, p) in enumerate(zip(axes.flat, names, strict=False)):
        lines = timeseries(data, metric, ax, hue="_level", platform=p, groups=[str(v) for v in levels],
                           colors=colors, labels=labels, smooth_days=smooth_days)  # fmt: skip
        panel_title(ax, LETTERS[i], nice(p))
        if i % ncols:
            ax.set_ylabel("")
    for ax in list(axes.flat)[len(names) :]:
        ax.set_visible(False)
    handles = list(lines.values())
    n = data.group_by("_level").agg(pl.col("replicate").n_unique())["replicate"].min()
    fig.legend(handles=handles + ([_ci_handle(n)] if n > 1 else []), loc="outside upper center",
               ncol=min(len(handles) + 1, 7), title=nice(factor))  # fmt: skip
    return fig


def sensitivity_indices(
    frame: pl.DataFrame,
    factors: Sequence[str],
    metrics: Sequence[str] = ("gmv_rmb", "hhi", "consumer_surplus_rmb"),
    platform: str = "all",
    last_days: int | None = 90,
    bins: int | None = None,
    n_boot: int = 200,
    seed: int = 0,
) -> pl.DataFrame:
    """First-order sensitivity indices of run outcomes to each factor, for any sweep design.

    The index of factor X on outcome Y is the correlation ratio Var(E[Y | X]) / Var(Y): the
    share of the outcome's variance across runs explained by X alone (Sobol's first-order
    index, estimated from the sweep's own runs). Continuous factors with many distinct
    values (Latin hypercube, random designs) are cut into ``bins`` quantile bins (default
    about sqrt(number of runs)). ``S1_conf`` is the half-width of a 95% bootstrap interval.

    Returns:
        Columns ``metric, platform, factor, S1, S1_conf`` (SALib-like).
    """
    rng = np.random.default_rng(seed)
    runs = per_run(frame, list(metrics), platforms=[platform], last_days=last_days)
    out = []
    for metric in metrics:
        rows = runs.filter(pl.col("metric") == metric)
        y = rows["y"].to_numpy()
        for f in factors:
            groups = _groups(rows[f], bins or max(2, int(np.sqrt(len(y)))))
            s1 = _eta2(y, groups)
            boots = []
            for _ in range(n_boot):
                idx = rng.integers(0, len(y), len(y))
                boots.append(_eta2(y[idx], groups[idx]))
            lo, hi = np.nanpercentile(boots, [2.5, 97.5]) if boots else (s1, s1)
            out.append({"metric": metric, "platform": platform, "factor": f, "S1": s1, "S1_conf": (hi - lo) / 2})
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


@styled
def sensitivity_bars(indices: pl.DataFrame, index: str = "S1", total: str | None = "ST"):
    """Horizontal bars of sensitivity indices per factor, one panel per outcome.

    Args:
        indices: rows of ``metric, factor, S1, S1_conf`` (and ``ST, ST_conf`` if a Sobol
            analysis gave total indices; ``platform`` optional), e.g. from
            :func:`sensitivity_indices` or SALib's ``to_df()``.
        index: first-order column.
        total: total-order column, drawn beside the first-order bar when present.
    """
    has_total = total is not None and total in indices.columns
    groups = indices.select("metric", *(["platform"] if "platform" in indices.columns else [])).unique(maintain_order=True)
    n = len(groups)
    fig, axes = figure("single" if n == 1 else "double", 0.35 + 0.22 * indices["factor"].n_unique() + 0.5,
                       ncols=n, squeeze=False, sharex=True)  # fmt: skip
    first, tot = palette(["first", "total"]).values()
    for k, (ax, row) in enumerate(zip(axes[0], groups.iter_rows(named=True), strict=True)):
        d = indices.filter(*(pl.col(c) == v for c, v in row.items())).sort(index)
        y = np.arange(len(d))
        h = 0.38 if has_total else 0.7
        err = dict(elinewidth=0.7, capsize=1.5, ecolor="0.15")
        ax.barh(y + (h / 2 if has_total else 0), d[index].to_numpy(), h, xerr=_conf(d, index), color=first, error_kw=err)
        if has_total:
            ax.barh(y - h / 2, d[total].to_numpy(), h, xerr=_conf(d, total), color=tot, error_kw=err)
        ax.set_yticks(y, [nice(f) for f in d["factor"]])
        ax.set_xlim(0, 1)
        ax.grid(axis="y", visible=False)
        ax.set_xlabel("Share of outcome variance")
        where = "" if row.get("platform", "all") == "all" else f", {nice(row['platform'])}"
        panel_title(ax, LETTERS[k] if n > 1 else "", metric_label(row["metric"], unit=False) + where)
    handles = [Patch(facecolor=first, label="first-order index")]
    handles += [Patch(facecolor=tot, label="total-order index")] if has_total else []
    handles += [Line2D([], [], ls="", marker="|", color="0.2", label="95% interval")]
    _legend_on_top(fig, handles)
    return fig


def _conf(d: pl.DataFrame, column: str):
    conf = f"{column}_conf"
    return d[conf].to_numpy() if conf in d.columns else None
