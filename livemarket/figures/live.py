"""Live commerce in one figure: live-room GMV by platform and by sales channel, on log scales.

Live rooms sell little next to the shelf platforms' planned search, so on a linear axis
shared with them the content platforms sit on the zero line. Here every panel is on a log
scale and only live-room sales are shown:

* a: GMV of the live rooms of each platform (where the stream is watched);
* b: the part of it paid elsewhere through an outbound link (what a link ban stops);
* c: where live-room sales are paid, by channel (own shop, outbound link, later search),
  each platform's mean over the run, with the value written beside each bar.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import polars as pl
from matplotlib.lines import Line2D
from matplotlib.patches import Patch

from livemarket.figures.data import band, display_values, nice
from livemarket.figures.runs import _ci_handle, _date_axis, _n_replicates, _platforms
from livemarket.figures.style import palette, panel_title, paper_style, styled

__all__ = ["LIVE_CHANNELS", "fmt_value", "live_commerce", "log_bars"]

#: Channels of a sale made in a live room (see :data:`livemarket.core.rules.CHANNELS`).
LIVE_CHANNELS = ("live_own_shop", "live_outbound_link", "live_later_search")
#: The figure's unit: million RMB per day, scaled to the real market.
UNIT = "M RMB/day"
_TO_MILLION = 1e3  # display_values gives bn RMB/day


def fmt_value(value: float) -> str:
    """Three significant digits without scientific notation for everyday sizes (``0.0123``, ``245``)."""
    if value == 0 or not np.isfinite(value):
        return "0" if value == 0 else "–"
    if 1e-4 <= abs(value) < 1e6:
        digits = max(0, 2 - int(np.floor(np.log10(abs(value)))))
        return f"{value:,.{digits}f}"
    return f"{value:.2e}"


def log_bars(ax, value: dict[tuple[str, str], float], rows: Sequence[str], series: Sequence[str],
             colors: dict[str, str]) -> None:  # fmt: skip
    """Grouped horizontal bars on a log axis, one group per row, each bar's value written beside it."""
    h = 0.8 / len(series)
    positive = [v for v in value.values() if v > 0]
    floor = min(positive) / 4 if positive else 1.0
    for i, r in enumerate(rows):
        for j, key in enumerate(series):
            v = value.get((r, key), 0.0)
            y = i + (j - (len(series) - 1) / 2) * h
            if v > 0:
                ax.barh(y, v - floor, h, left=floor, color=colors[key])
            ax.text(max(v, floor), y, " " + fmt_value(v), va="center", ha="left", fontsize=6)
    ax.set_xscale("log")
    ax.set_xlim(floor, (max(positive) if positive else 10.0) * 30)  # room for the values
    ax.set_yticks(range(len(rows)), [nice(r) for r in rows])
    ax.set_ylim(len(rows) - 0.5, -0.5)
    ax.grid(axis="y", visible=False)


def _log_series(ax, frame: pl.DataFrame, metric: str, names: list[str], colors: dict, smooth_days: int) -> list[str]:
    """Draw one line per platform on a log axis (days without sales are gaps); return the drawn platforms."""
    data = band(frame, metric, smooth_days=smooth_days)
    drawn = []
    for p in names:
        d = data.filter(pl.col("platform") == p)
        mean = d["mean"].to_numpy() * _TO_MILLION
        if not (mean > 0).any():
            continue
        x = d["date"].to_numpy() if d["date"].null_count() == 0 else d["step"].to_numpy()
        ax.plot(x, np.where(mean > 0, mean, np.nan), color=colors[p])
        if d["lo"].null_count() < len(d):
            lo = d["lo"].fill_null(np.nan).to_numpy() * _TO_MILLION
            hi = d["hi"].fill_null(np.nan).to_numpy() * _TO_MILLION
            ax.fill_between(
                x, np.where(lo > 0, lo, np.nan), np.where(hi > 0, hi, np.nan), color=colors[p], alpha=0.2, lw=0
            )
        drawn.append(p)
    ax.set_yscale("log")
    ax.set_ylabel(f"GMV ({UNIT})")
    if data["date"].null_count() == 0:
        _date_axis(ax)
    else:
        ax.set_xlabel("Day of run")
    if not drawn:
        ax.text(0.5, 0.5, "none in this run", transform=ax.transAxes, ha="center", va="center", color="0.4")
        ax.set_yscale("linear")
        ax.set_yticks([])
    return drawn


def _channel_bars(ax, frame: pl.DataFrame, names: list[str]) -> list[str]:
    """Horizontal bars: each paying platform's mean live-room GMV per channel (log axis, values written)."""
    rows = frame.filter(
        pl.col("metric") == "gmv_rmb", pl.col("channel").is_in(LIVE_CHANNELS), pl.col("platform").is_in(names)
    )
    means = (
        rows.with_columns(display_values("gmv_rmb"))
        .group_by("platform", "channel")
        .agg(pl.col("y").mean() * _TO_MILLION)
    )
    value = {(p, c): v for p, c, v in means.iter_rows()}
    paying = [p for p in names if any(value.get((p, c), 0) > 0 for c in LIVE_CHANNELS)]
    log_bars(ax, value, paying, LIVE_CHANNELS, palette(LIVE_CHANNELS))
    ax.set_xlabel(f"Mean GMV over the run ({UNIT})")
    if not paying:
        ax.text(0.5, 0.5, "no live-room sales in this run", transform=ax.transAxes, ha="center", va="center")
    return paying


@styled
def live_commerce(frame: pl.DataFrame, platforms: Sequence[str] | None = None, smooth_days: int = 7):
    """Live-room GMV by platform and channel on log scales (see the module docstring).

    Args:
        frame: tidy results of a run or of replicates (lines are means, bands 95% CIs).
        platforms: platforms to show (default: all).
        smooth_days: centred rolling mean of each daily series.

    """
    names = _platforms(frame, platforms)
    with paper_style():
        from matplotlib.figure import Figure

        fig = Figure(figsize=(7.2, 4.6), layout="constrained")
        axes = fig.subplot_mosaic([["a", "b"], ["c", "c"]], height_ratios=[1.15, 1])
    colors = palette(names)
    shown = _log_series(axes["a"], frame, "live_room_gmv_rmb", names, colors, smooth_days)
    shown += _log_series(axes["b"], frame, "outbound_link_gmv_rmb", names, colors, smooth_days)
    _channel_bars(axes["c"], frame, names)
    panel_title(axes["a"], "a", f"Live-room GMV ({smooth_days}-day mean)")
    panel_title(axes["b"], "b", "Of which paid elsewhere via links")
    panel_title(axes["c"], "c", "Where live-room sales are paid, by channel")
    handles = [Line2D([], [], color=colors[p], label=nice(p)) for p in names if p in shown]
    n = _n_replicates(frame)
    handles += [_ci_handle(n)] if n > 1 else []
    if handles:
        fig.legend(handles=handles, loc="outside upper center", ncol=min(len(handles), 6),
                   title="Platform of the live room (a, b); log scales, scaled to the market")  # fmt: skip
    axes["c"].legend(handles=[Patch(facecolor=palette(LIVE_CHANNELS)[c], label=nice(c)) for c in LIVE_CHANNELS],
                     loc="lower right", title="Channel")  # fmt: skip
    return fig
