"""Figures of runs: time series with confidence bands, channel mix, policy dates, trust.

Each function takes a tidy results table (one run, or replicates of one set-up told apart
by ``run_id`` or ``replicate``) and returns a figure at a journal column width. Daily series
are smoothed by a centred 7-day mean; shaded bands are 95% confidence intervals of the mean
over replicates and are drawn only when there are at least two.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence

import matplotlib.dates as mdates
import matplotlib.ticker as mticker
import numpy as np
import polars as pl
from matplotlib.lines import Line2D
from matplotlib.patches import Patch

from livemarket.figures.data import (
    band,
    display_values,
    metric_label,
    metric_unit,
    nice,
    per_run,
    replicate_column,
    wrap_label,
)
from livemarket.figures.style import OTHER_COLORS, figure, palette, panel_title, styled

__all__ = [
    "channel_mix",
    "gmv_shares",
    "market_indicators",
    "timeseries",
    "trust_bands",
]

LETTERS = "abcdefghijklmnopqrstuvwxyz"


def _platforms(
    frame: pl.DataFrame, platforms: Sequence[str] | None, market: bool = False
) -> list[str]:
    found = [p for p in frame["platform"].unique(maintain_order=True).to_list() if p != "all"]
    chosen = list(platforms) if platforms is not None else found
    return chosen + (["all"] if market else [])


class _DateLocator(mdates.AutoDateLocator):
    """``AutoDateLocator`` that remembers the ticks of its last view interval.

    A figure is drawn several times (the layout measures it twice, then each format draws
    it), always over the same interval; the ticks are a function of the interval alone.
    """

    def __call__(self):
        key = tuple(self.axis.get_view_interval()) if self.axis is not None else None
        if key is None or getattr(self, "_last", (None,))[0] != key:
            self._last = (key, super().__call__())
        return self._last[1]


def _date_axis(ax) -> None:
    locator = _DateLocator(minticks=3, maxticks=6)
    # a view of 31-35 months (under 3 years: ticked by month) needs more than 6 months a tick: allow 12
    locator.intervald[mdates.MONTHLY] = [1, 2, 3, 4, 6, 12]
    ax.xaxis.set_major_locator(locator)
    ax.xaxis.set_major_formatter(mdates.ConciseDateFormatter(locator, show_offset=True))


def _hide_unused(axes, used: int) -> None:
    """Hide panels past ``used``; panels above a hidden one keep their x tick labels."""
    flat, ncols = list(axes.flat), axes.shape[1]
    for ax in flat[used:]:
        ax.set_visible(False)
    for i, ax in enumerate(flat[:used]):
        if i + ncols >= used:
            ax.xaxis.set_tick_params(labelbottom=True)


def _n_replicates(frame: pl.DataFrame) -> int:
    rep = replicate_column(frame)
    return frame[rep].n_unique()


def _ci_handle(n: int) -> Patch:
    return Patch(facecolor="0.6", alpha=0.3, edgecolor="none", label=f"band: 95% CI over {n} runs")


@styled
def timeseries(
    frame: pl.DataFrame,
    metric: str,
    ax,
    hue: str = "platform",
    platform: str | None = None,
    channel: str = "all",
    groups: Sequence | None = None,
    colors: dict | None = None,
    labels: dict | None = None,
    smooth_days: int = 7,
    band_alpha: float = 0.2,
    log: bool = False,
) -> dict:
    """Draw one line per ``hue`` group (mean over replicates) with its 95% band on ``ax``.

    Args:
        frame: tidy results.
        metric: metric name (units come from :func:`metric_label`).
        ax: matplotlib axes to draw on.
        hue: column whose values get one line each (``platform``, ``point``, a factor).
        platform: keep one platform (e.g. ``"all"`` for market metrics); ``None`` keeps all.
        channel: channel (``"all"`` = every channel).
        groups: which hue values to draw, in order (default: all but the ``"all"`` aggregate
            when ``hue="platform"`` and no platform was chosen).
        colors: hue value -> colour (default: :func:`palette`).
        labels: hue value -> legend label (default: reader's names).
        smooth_days: centred rolling mean applied to each replicate first.
        band_alpha: opacity of the confidence bands.
        log: draw on a log axis: values of about zero (no sales that week) are left as gaps.

    Returns:
        hue value -> line, for legends.

    """
    data = band(frame, metric, hue=hue, platform=platform, channel=channel, smooth_days=smooth_days)
    found = (
        frame.filter(pl.col("metric") == metric)[hue].unique(maintain_order=True).to_list()
    )  # scenario order
    found = [g for g in found if g in set(data[hue].to_list())]
    if groups is None:
        groups = [g for g in found if not (hue == "platform" and platform is None and g == "all")]
    if colors is None:  # platforms and channels keep their colours; other groups take the cycle
        named = hue in ("platform", "channel")
        colors = palette(groups) if named else dict(zip(groups, itertools.cycle(OTHER_COLORS)))
    lines = {}
    by_date = data["date"].null_count() == 0
    if log:  # rolling means of zeros can be 1e-18, not 0
        tiny = 1e-9 * max(float(data["mean"].abs().max() or 0.0), 1e-300)
        data = data.with_columns(pl.when(pl.col(c) > tiny).then(pl.col(c)) for c in ("mean", "lo", "hi"))
        ax.set_yscale("log", nonpositive="mask")
    for g in groups:
        d = data.filter(pl.col(hue) == g)
        x = d["date" if by_date else "step"].to_numpy()
        (lines[g],) = ax.plot(
            x, d["mean"].fill_null(np.nan).to_numpy(), color=colors[g], label=(labels or {}).get(g, nice(str(g)))
        )
        if d["lo"].null_count() < len(d):
            ax.fill_between(x, d["lo"].fill_null(np.nan).to_numpy(), d["hi"].fill_null(np.nan).to_numpy(),
                            color=colors[g], alpha=band_alpha, lw=0)  # fmt: skip
    ax.set_ylabel(wrap_label(metric_label(metric)))
    if by_date:
        _date_axis(ax)
    else:
        ax.set_xlabel("Day of run")
    return lines


def _legend_on_top(fig, handles: list, ncol: int | None = None) -> None:
    fig.legend(handles=handles, loc="outside upper center", ncol=ncol or min(len(handles), 6))


@styled
def gmv_shares(frame: pl.DataFrame, platforms: Sequence[str] | None = None, smooth_days: int = 7):
    """GMV (bn RMB/day, scaled to the market) and GMV share (%, log scale) by platform over time.

    Double-column figure with two panels and one legend above them; the share panel is on a
    log scale so that small platforms are not drawn on the zero line, and the legend gives
    each platform's mean share over the run to three significant digits.
    """
    names = _platforms(frame, platforms)
    fig, (a, b) = figure("double", 2.8, ncols=2)
    colors = palette(names)
    shares = per_run(frame, "gmv_share", platforms=names, last_days=None)
    mean = dict(shares.group_by("platform").agg(pl.col("y").mean()).iter_rows())
    labels = {p: f"{nice(p)} {share_text(mean.get(p, float('nan')))}" for p in names}
    lines = timeseries(frame, "gmv_rmb", a, groups=names, colors=colors, labels=labels, smooth_days=smooth_days)
    small = any(0 < v < 1 for v in mean.values())  # a platform under 1%: log scale
    timeseries(frame, "gmv_share", b, groups=names, colors=colors, smooth_days=smooth_days, log=small)
    panel_title(a, "a", f"GMV by platform ({smooth_days}-day mean)")
    panel_title(b, "b", "Market share of GMV" + (" (log scale)" if small else ""))
    a.set_ylim(bottom=0)
    if small:
        share_axis(b)
    else:
        b.set_ylim(bottom=0)
    n = _n_replicates(frame)
    handles = list(lines.values()) + ([_ci_handle(n)] if n > 1 else [])
    fig.legend(handles=handles, loc="outside upper center", ncol=min(len(handles), 6),
               title="Platform and its mean GMV share over the run")  # fmt: skip
    return fig


def share_axis(ax) -> None:
    """Label a log axis of shares in per cent (``0.01%``, ``10%``); label minor ticks too when it spans little."""
    fmt = mticker.FuncFormatter(lambda v, _: share_text(v))
    ax.yaxis.set_major_formatter(fmt)
    lo, hi = ax.dataLim.intervaly
    narrow = lo > 0 and hi / lo < 30  # fewer than two decades: few or no major ticks
    ax.yaxis.set_minor_formatter(fmt if narrow else mticker.NullFormatter())


def share_text(percent: float) -> str:
    """A share in per cent with three significant digits: ``55.2%``, ``0.0123%`` (never ``0.0%``)."""
    if not np.isfinite(percent):
        return "–"
    if percent == 0:
        return "0%"
    return f"{percent:.3g}%" if percent >= 1e-3 else f"{percent:.2e}%"


@styled
def market_indicators(
    frame: pl.DataFrame,
    metrics: Sequence[str] = ("hhi", "consumer_surplus_rmb", "adopter_share", "multihoming_rate"),
    smooth_days: int = 7,
):
    """Market-level indicators (one panel each, mean and 95% band over replicates)."""
    ncols = 2
    nrows = int(np.ceil(len(metrics) / ncols))
    fig, axes = figure(
        "double", 1.9 * nrows + 0.3, nrows=nrows, ncols=ncols, squeeze=False, sharex=True
    )
    for i, (ax, m) in enumerate(zip(axes.flat, metrics, strict=False)):
        timeseries(
            frame,
            m,
            ax,
            platform="all",
            groups=["all"],
            colors={"all": "#000000"},
            smooth_days=smooth_days,
        )
        panel_title(
            ax,
            LETTERS[i],
            metric_label(m, unit=False) + (f" ({smooth_days}-day mean)" if smooth_days > 1 else ""),
        )
        ax.set_ylabel("index (0–1)" if metric_unit(m) == "0–1" else metric_unit(m))
    _hide_unused(axes, len(metrics))
    n = _n_replicates(frame)
    if n > 1:
        _legend_on_top(fig, [_ci_handle(n)])
    return fig


@styled
def channel_mix(
    frame: pl.DataFrame,
    platforms: Sequence[str] | None = None,
    smooth_days: int = 7,
    share: bool = True,
):
    """How each platform's GMV arrives, by sales channel, as stacked areas over time.

    Args:
        frame: tidy results (replicates are averaged).
        platforms: platforms, one panel each (default: all with GMV).
        smooth_days: centred rolling mean of each channel's GMV before stacking.
        share: stack shares of the platform's GMV (%); ``False`` stacks bn RMB/day.

    """
    rows = frame.filter(
        pl.col("metric") == "gmv_rmb", pl.col("channel") != "all", pl.col("platform") != "all"
    )
    rows = rows.group_by("platform", "channel", "step", "date").agg(
        display_values("gmv_rmb").mean()
    )
    rows = rows.sort("platform", "channel", "step").with_columns(
        pl.col("y")
        .rolling_mean(smooth_days, center=True, min_samples=1)
        .over("platform", "channel")
    )
    totals = rows.group_by("platform").agg(pl.col("y").sum())
    has_gmv = set(totals.filter(pl.col("y") > 0)["platform"].to_list())
    names = [p for p in _platforms(frame, platforms) if p in has_gmv]
    used = (
        rows.group_by("channel").agg(pl.col("y").sum()).filter(pl.col("y") > 0)["channel"].to_list()
    )
    channels = [c for c in frame["channel"].unique(maintain_order=True).to_list() if c in used]
    colors = palette(channels)
    ncols = min(3, len(names))
    nrows = int(np.ceil(len(names) / ncols))
    no_sales = False
    fig, axes = figure(
        "double",
        1.65 * nrows + 0.5,
        nrows=nrows,
        ncols=ncols,
        squeeze=False,
        sharex=True,
        sharey=share,
    )
    for i, (ax, name) in enumerate(zip(axes.flat, names, strict=False)):
        wide = (
            rows.filter(pl.col("platform") == name)
            .pivot(on="channel", index="date", values="y")
            .sort("date")
        )
        stack = np.vstack(
            [
                wide[c].fill_null(0).to_numpy() if c in wide.columns else np.zeros(len(wide))
                for c in channels
            ]
        )
        if share:
            total = stack.sum(axis=0)
            stack = np.divide(100 * stack, total, out=np.full_like(stack, np.nan), where=total > 0)
            if (total <= 0).any():  # days without any sale have no mix: grey, and said so
                ax.fill_between(wide["date"].to_numpy(), 0, 100, where=total <= 0, color="0.88", lw=0, step="mid")
                no_sales = True
        ax.stackplot(wide["date"].to_numpy(), stack, colors=[colors[c] for c in channels], lw=0)
        panel_title(ax, LETTERS[i], nice(name))
        ax.set_ylim(0, 100 if share else None)
        ax.margins(x=0)
        _date_axis(ax)
        if i % ncols == 0:
            ax.set_ylabel("Share of platform GMV (%)" if share else metric_label("gmv_rmb"))
    _hide_unused(axes, len(names))
    handles = [Patch(facecolor=colors[c], label=nice(c)) for c in channels]
    handles += [Patch(facecolor="0.88", label=f"no sales ({smooth_days}-day mean)")] if no_sales else []
    fig.legend(handles=handles, loc="outside upper center", ncol=min(len(handles), 3),
               title="Sales channel of each platform's GMV (platform = where the order is paid)")  # fmt: skip
    return fig


@styled
def trust_bands(frame: pl.DataFrame, platforms: Sequence[str] | None = None, smooth_days: int = 1):
    """Distribution of consumers' trust in each platform over time: median and P10-P90.

    One small panel per platform plus one for trust along follow edges (streamers), on a
    shared 0-1 axis. Quantiles are averaged over replicates.
    """
    names = _platforms(frame, platforms)
    panels = [(p, "trust") for p in names] + [("all", "streamer_trust")]
    ncols = min(len(panels), 3)
    nrows = int(np.ceil(len(panels) / ncols))
    fig, axes = figure(
        "double",
        1.55 * nrows + 0.45,
        nrows=nrows,
        ncols=ncols,
        squeeze=False,
        sharex=True,
        sharey=True,
    )
    colors = palette([*names, "all"])
    for i, (ax, (p, prefix)) in enumerate(zip(axes.flat, panels, strict=False)):
        qs = {
            q: band(frame, f"{prefix}_{q}", platform=p, smooth_days=smooth_days)
            for q in ("p10", "p50", "p90")
        }
        x = qs["p50"]["date"].to_numpy()
        ax.fill_between(
            x,
            qs["p10"]["mean"].to_numpy(),
            qs["p90"]["mean"].to_numpy(),
            color=colors[p],
            alpha=0.25,
            lw=0,
        )
        ax.plot(x, qs["p50"]["mean"].to_numpy(), color=colors[p])
        panel_title(
            ax, LETTERS[i], "Streamers (follow edges)" if prefix == "streamer_trust" else nice(p)
        )
        ax.set_ylim(0, 1)
        ax.margins(x=0)
        _date_axis(ax)
        if i % ncols == 0:
            ax.set_ylabel("Trust (0–1)")
    _hide_unused(axes, len(panels))
    handles = [
        Patch(facecolor="0.5", alpha=0.25, label="consumers' P10–P90"),
        Line2D([], [], color="0.2", label="median"),
    ]
    _legend_on_top(fig, handles)
    return fig
