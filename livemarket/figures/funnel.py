"""The live-commerce funnel by platform: visits, considerations, orders, and the conversion rate.

* a: each platform's mean daily live-room visits, considerations and orders sent by its rooms
  (scaled to the market, log scale, values written beside the bars);
* b: the conversion rate (orders sent by the rooms / visits), 7-day mean over time.

Platforms without live rooms (no visits in the run) are left out.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import polars as pl
from matplotlib.lines import Line2D
from matplotlib.patches import Patch

from livemarket.figures.data import band, nice
from livemarket.figures.live import log_bars
from livemarket.figures.runs import _date_axis, _platforms
from livemarket.figures.style import palette, panel_title, paper_style, styled

__all__ = ["FUNNEL_STEPS", "funnel"]

#: The funnel's steps (metric, reader's name), in order.
FUNNEL_STEPS = (("live_visits", "Visits"), ("live_considerations", "Considerations"), ("live_orders", "Orders"))
_STEP_COLORS = ("#BBBBBB", "#777777", "#000000")


def _scaled_means(frame: pl.DataFrame, names: list[str]) -> dict[tuple[str, str], float]:
    """Mean per day over the run of each funnel step and platform, in millions (scaled to the market)."""
    rows = frame.filter(pl.col("metric").is_in([m for m, _ in FUNNEL_STEPS]), pl.col("platform").is_in(names))
    y = pl.coalesce(pl.col("value_scaled"), pl.col("value")) / 1e6
    means = rows.group_by("platform", "metric").agg(y.mean().alias("y"))
    return {(p, m): v for p, m, v in means.iter_rows()}


@styled
def funnel(frame: pl.DataFrame, platforms: Sequence[str] | None = None, smooth_days: int = 7):
    """The conversion funnel of live rooms by platform (see the module docstring).

    Args:
        frame: tidy results of a run or of replicates (bars are means over days and runs).
        platforms: platforms to show (default: all with live-room visits).
        smooth_days: centred rolling mean of the conversion rate.

    """
    names = _platforms(frame, platforms)
    value = _scaled_means(frame, names)
    live = [p for p in names if value.get((p, "live_visits"), 0.0) > 0]
    with paper_style():
        from matplotlib.figure import Figure

        fig = Figure(figsize=(7.2, 3.0), layout="constrained")
        ax_a, ax_b = fig.subplots(1, 2, width_ratios=[1.2, 1])
    steps = [m for m, _ in FUNNEL_STEPS]
    log_bars(ax_a, value, live, steps, dict(zip(steps, _STEP_COLORS, strict=True)))
    ax_a.set_xlabel("Mean per day (million)")
    ax_a.legend(handles=[Patch(facecolor=c, label=n) for c, (_, n) in zip(_STEP_COLORS, FUNNEL_STEPS, strict=True)],
                loc="lower right", fontsize=6)  # fmt: skip
    colors = palette(names)
    rate = band(frame, "live_conversion_rate", smooth_days=smooth_days)
    drawn = []
    for p in live:
        d = rate.filter(pl.col("platform") == p)
        x = d["date"].to_numpy() if d["date"].null_count() == 0 else d["step"].to_numpy()
        ax_b.plot(x, d["mean"].to_numpy(), color=colors[p])  # band() gives the share in % already
        drawn.append(p)
    ax_b.set_ylabel("Orders per visit (%)")
    if rate["date"].null_count() == 0:
        _date_axis(ax_b)
    if not live:
        for ax in (ax_a, ax_b):
            ax.text(0.5, 0.5, "no live-room visits in this run", transform=ax.transAxes, ha="center", va="center")
    panel_title(ax_a, "a", "Live-room funnel, mean over the run")
    panel_title(ax_b, "b", f"Conversion ({smooth_days}-day mean)")
    if drawn:
        ax_b.legend(handles=[Line2D([], [], color=colors[p], label=nice(p)) for p in drawn], fontsize=6)
    ax_b.set_ylim(0, max(1e-9, float(np.nanmax(rate["mean"].to_numpy()))) * 1.1 if len(rate) else 1)
    return fig
