"""A policy's effect in one figure: means over a window before and after its date, by platform.

Bars compare the run (or the mean over replicates, with 95% intervals) in the window before
the policy date with the window after it, optionally against a baseline run without the
policy.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

import numpy as np
import polars as pl
from matplotlib.patches import Patch

from livemarket.figures.data import (
    band,
    display_values,
    mean_ci,
    metric_label,
    metric_unit,
    nice,
    replicate_column,
    wrap_label,
)
from livemarket.figures.runs import LETTERS, _ci_handle, _legend_on_top, _n_replicates, _platforms, timeseries
from livemarket.figures.style import figure, palette, panel_title, styled

__all__ = ["before_after"]


def _as_date(frame: pl.DataFrame, when: str | int | dt.date) -> dt.date:
    if isinstance(when, int):
        dates = frame.filter(pl.col("step") == when)["date"]
        if dates.is_empty():
            raise ValueError(f"step {when} is not in the results")
        return dates[0]
    return dt.date.fromisoformat(when) if isinstance(when, str) else when


def _spec(item: str | tuple) -> tuple[str, str]:
    if isinstance(item, tuple):
        return item
    metric, _, channel = item.partition(":")
    return metric, channel or "all"


@styled
def before_after(
    frame: pl.DataFrame,
    when: str | int | dt.date,
    metrics: Sequence[str | tuple[str, str]] = ("gmv_rmb", "gmv_share"),
    platforms: Sequence[str] | None = None,
    window_days: int = 60,
    baseline: pl.DataFrame | None = None,
    event: str = "policy",
    smooth_days: int = 7,
):
    """Before/after comparison around a policy date, one row per metric.

    Left: the series in a window around the date (dashed vertical line; a counterfactual
    run without the policy, if given, dashed). Right: mean over the ``window_days`` days
    before and after the date, per platform, with 95% confidence intervals over replicates.

    Args:
        frame: tidy results of the run(s) with the policy.
        when: policy date (``"2020-10-09"``), date, or step.
        metrics: metric names, or ``"metric:channel"`` / ``(metric, channel)`` pairs.
        platforms: platforms to show (default: all).
        window_days: days on each side of the date.
        baseline: results of the same set-up without the policy (optional).
        event: name of the policy for the labels (``"link ban"``).
        smooth_days: rolling mean of the left-hand series.

    """
    date = _as_date(frame, when)
    names = _platforms(frame, platforms)
    colors = palette(names)
    lo, hi = date - dt.timedelta(days=window_days), date + dt.timedelta(days=window_days)
    specs = [_spec(m) for m in metrics]
    fig, axes = figure("double", 2.0 * len(specs) + 0.45, nrows=len(specs), ncols=2, squeeze=False,
                       width_ratios=[1.6, 1])  # fmt: skip
    for r, (metric, channel) in enumerate(specs):
        left, right = axes[r]
        in_window = [
            pl.col("date") >= lo - dt.timedelta(days=smooth_days),
            pl.col("date") < hi + dt.timedelta(days=smooth_days),
        ]
        lines = timeseries(
            frame.filter(*in_window),
            metric,
            left,
            channel=channel,
            groups=names,
            colors=colors,
            smooth_days=smooth_days,
        )
        if baseline is not None:
            base = band(
                baseline.filter(*in_window), metric, channel=channel, smooth_days=smooth_days
            )
            for p in names:
                d = base.filter(pl.col("platform") == p)
                left.plot(
                    d["date"].to_numpy(), d["mean"].to_numpy(), color=colors[p], ls="--", lw=0.9
                )
        left.set_xlim(lo, hi)
        if metric_unit(metric) != "0–1":  # amounts and shares from 0; indices (HHI, trust) zoomed to their range
            left.set_ylim(bottom=min(0, left.get_ylim()[0]))
        left.axvline(date, color="0.2", lw=0.8, ls=":")
        left.annotate(f"{event}\n{date:%Y-%m-%d}", (date, 1), xycoords=("data", "axes fraction"),
                      xytext=(3, -2), textcoords="offset points", va="top", fontsize=6.5)  # fmt: skip
        what = metric_label(metric, unit=False) + (
            "" if channel == "all" else f", {nice(channel).lower()}"
        )
        panel_title(left, LETTERS[2 * r], what)
        _bars(right, frame, baseline, metric, channel, names, colors, date, window_days)
        panel_title(right, LETTERS[2 * r + 1], f"{window_days} days before and after")
    n = _n_replicates(frame)
    handles = list(lines.values()) + ([_ci_handle(n)] if n > 1 else [])
    handles += [
        Patch(facecolor="0.72", label="bars: before"),
        Patch(facecolor="0.25", label="after"),
    ]
    if baseline is not None:
        handles += [
            Patch(
                facecolor="white",
                edgecolor="0.3",
                hatch="////",
                label=f"after, no {event} (dashed)",
            )
        ]
    _legend_on_top(fig, handles, ncol=min(len(handles), 5))
    return fig


def _window_means(frame, metric, channel, names, date, window_days) -> dict:
    """Platform -> ((before mean, ci), (after mean, ci)) over replicates."""
    rep = replicate_column(frame)
    rows = frame.filter(
        pl.col("metric") == metric, pl.col("channel") == channel, pl.col("platform").is_in(names)
    )
    rows = rows.with_columns(display_values(metric), after=pl.col("date") >= date).filter(
        (pl.col("date") - date).dt.total_days().abs() <= window_days,
        pl.col("date") != date + dt.timedelta(days=window_days),
    )
    means = rows.group_by("platform", rep, "after").agg(pl.col("y").mean())
    out = {}
    for p in names:
        d = means.filter(pl.col("platform") == p)
        out[p] = tuple(
            mean_ci(d.filter(pl.col("after") == side)["y"].to_numpy()) for side in (False, True)
        )
    return out


def _bars(ax, frame, baseline, metric, channel, names, colors, date, window_days) -> None:
    policy = _window_means(frame, metric, channel, names, date, window_days)
    base = (
        _window_means(baseline, metric, channel, names, date, window_days)
        if baseline is not None
        else None
    )
    width = 0.8 / (3 if base else 2)
    x = np.arange(len(names))
    err = dict(elinewidth=0.7, capsize=1.5, ecolor="0.15")
    for i, p in enumerate(names):
        (b, bci), (a, aci) = policy[p]
        ax.bar(
            x[i] - width * (1 if base else 0.5),
            b,
            width,
            yerr=bci or None,
            color=colors[p],
            alpha=0.45,
            error_kw=err,
        )
        ax.bar(
            x[i] + (0 if base else width * 0.5),
            a,
            width,
            yerr=aci or None,
            color=colors[p],
            error_kw=err,
        )
        if base:
            c, cci = base[p][1]
            ax.bar(
                x[i] + width,
                c,
                width,
                yerr=cci or None,
                color="white",
                edgecolor=colors[p],
                hatch="////",
                lw=0.6,
                error_kw=err,
            )
    ax.set_xticks(
        x,
        [nice(p) for p in names],
        rotation=30 if len(names) > 3 else 0,
        ha="right" if len(names) > 3 else "center",
    )
    ax.set_ylabel(wrap_label(metric_label(metric)))
    ax.grid(axis="x", visible=False)
