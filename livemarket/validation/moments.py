"""Moments of one run: every target's model value from the run's tidy results table."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

import numpy as np
import polars as pl

from livemarket.validation.targets import LIVE, LIVE_CHANNELS, SHELF

__all__ = ["hill_tail_index", "moments"]


def _window(df: pl.DataFrame, start: str, end: str) -> pl.DataFrame:
    return df.filter(
        pl.col("date").is_between(dt.date.fromisoformat(start), dt.date.fromisoformat(end))
    )


def _platform_sum(df: pl.DataFrame, metric: str, scaled: bool = False) -> dict[str, float]:
    col = "value_scaled" if scaled else "value"
    rows = (
        df.filter(pl.col("metric") == metric, pl.col("channel") == "all", pl.col("platform") != "all")
        .group_by("platform").agg(pl.col(col).sum())
    )  # fmt: skip
    return dict(zip(rows["platform"].to_list(), rows[col].to_list(), strict=True))


def _shares(values: dict[str, float], names: Sequence[str]) -> dict[str, float]:
    total = sum(values.get(n, 0.0) for n in names)
    return {n: 100 * values.get(n, 0.0) / total if total > 0 else float("nan") for n in names}


def _channel_rate(df: pl.DataFrame, channels: Sequence[str]) -> float:
    d = df.filter(
        pl.col("channel").is_in(list(channels)), pl.col("metric").is_in(["returns", "orders"])
    )
    s = d.group_by("metric").agg(pl.col("value").sum())
    v = dict(zip(s["metric"].to_list(), s["value"].to_list(), strict=True))
    return 100 * v.get("returns", 0.0) / v["orders"] if v.get("orders") else float("nan")


def _market_on(df: pl.DataFrame, metric: str, day: str) -> float:
    d = df.filter(
        pl.col("platform") == "all",
        pl.col("metric") == metric,
        pl.col("date") == dt.date.fromisoformat(day),
    )
    return float(d["value"][0]) if len(d) else float("nan")


def hill_tail_index(values: np.ndarray, top: float = 0.1) -> float:
    """Hill estimator of the Pareto tail index from the largest ``top`` share of positive values."""
    x = np.sort(np.asarray(values, dtype=np.float64)[np.asarray(values) > 0])[::-1]
    k = max(int(len(x) * top), 2)
    if len(x) <= k:
        return float("nan")
    logs = np.log(x[:k]) - np.log(x[k])
    return float(1.0 / logs.mean()) if logs.mean() > 0 else float("nan")


def moments(df: pl.DataFrame, streamer_gmv: np.ndarray | None = None) -> dict[str, float]:
    """Every target's model value from one run's results table (and hired streamers' GMV).

    Args:
        df: the tidy results table of a run from 2019-01-01 (see :class:`RunSpec`).
        streamer_gmv: cumulative GMV of each hired streamer (``model.streamers.gmv_rmb``
            where ``brand < 0``), for the tail index; ``None`` leaves it NaN.

    """
    m: dict[str, float] = {}
    y19 = _window(df, "2019-01-01", "2019-12-31")
    gmv19 = _platform_sum(y19, "gmv_rmb")
    for p, v in _shares(gmv19, SHELF).items():
        m[f"shelf_share_{p}"] = v
    m["market_gmv_2019_bn"] = sum(_platform_sum(y19, "gmv_rmb", scaled=True).values()) / 1e9
    live19 = _platform_sum(y19, "live_room_gmv_rmb")
    m["live_share_of_gmv_2019"] = 100 * sum(live19.values()) / max(sum(gmv19.values()), 1e-9)
    for p, v in _shares(live19, LIVE).items():
        m[f"live_share_2019_{p}"] = v
    for p, v in _shares(
        _platform_sum(_window(df, "2020-10-01", "2020-12-31"), "live_room_gmv_rmb"), LIVE
    ).items():
        m[f"live_share_q4_2020_{p}"] = v
    m["adopters_2020_03"] = 100 * _market_on(df, "adopter_share", "2020-03-31")
    m["adopters_2020_12"] = 100 * _market_on(df, "adopter_share", "2020-12-31")
    m["adopters_2021_06"] = 100 * _market_on(df, "adopter_share", "2021-06-30")
    y20 = _window(df, "2020-01-01", "2020-12-31")
    gmv20, orders20 = _platform_sum(y20, "gmv_rmb"), _platform_sum(y20, "orders")
    for p in LIVE:
        m[f"aov_{p}"] = gmv20.get(p, 0.0) / orders20[p] if orders20.get(p) else float("nan")
    m["aov_order_margin"] = min(
        m["aov_taobao"] - m["aov_douyin"], m["aov_douyin"] - m["aov_kuaishou"]
    )
    end = df["date"].max().isoformat()
    m["streamer_top1_share"] = 100 * _market_on(df, "streamer_top1_share", end)
    m["streamer_tail_index"] = (
        hill_tail_index(streamer_gmv) if streamer_gmv is not None else float("nan")
    )

    def live(start: str, stop: str) -> float:  # per day, so leap years do not count as growth
        days = (dt.date.fromisoformat(stop) - dt.date.fromisoformat(start)).days + 1
        return sum(_platform_sum(_window(df, start, stop), "live_room_gmv_rmb").values()) / days

    h = {k: live(*w) for k, w in {"h1_19": ("2019-01-01", "2019-06-30"), "h2_19": ("2019-07-01", "2019-12-31"),
         "h1_20": ("2020-01-01", "2020-06-30"), "h2_20": ("2020-07-01", "2020-12-31"),
         "h1_21": ("2021-01-01", "2021-06-30")}.items()}  # fmt: skip
    growth = lambda a, b: 100 * (h[b] / h[a] - 1) if h[a] > 0 and h[b] > 0 else float("nan")  # noqa: E731
    m["growth_live_h1_2020"] = growth("h1_19", "h1_20")
    m["growth_live_h2_2020"] = growth("h2_19", "h2_20")
    m["growth_live_h1_2021"] = growth("h1_20", "h1_21")
    m["growth_deceleration"] = m["growth_live_h1_2020"] - m["growth_live_h1_2021"]
    m["return_rate_live"] = _channel_rate(df, LIVE_CHANNELS)
    m["return_rate_shelf"] = _channel_rate(df, ["planned_search"])
    m["return_ratio"] = m["return_rate_live"] / m["return_rate_shelf"]
    return m
