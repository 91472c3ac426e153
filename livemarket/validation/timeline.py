"""The timeline's facts (`china-2019-2024`): fitted on 2019-2021, predicted for 2022-2024.

The in-sample rows are the 2019-2021 facts of SEED_FACTS.md (the snapshot's 2019 rows, the
late-2020 live mix, Douyin's 2020 and 2021 GMV, its users, adoption, order values, returns,
minutes on short video, the market's growth); the out-of-sample rows are the 2022-2024 facts,
which the calibration never sees. :func:`timeline_moments` measures all of them on one run
from 2019-01-01 to 2024-12-31, and :func:`yearly_paths` the yearly series the figure draws.

Example:
    >>> timeline_target("douyin_gmv_2020_bn").passes(480.0)
    True
"""

from __future__ import annotations

import datetime as dt
from dataclasses import replace

import numpy as np
import polars as pl

from livemarket.validation.moments import moments
from livemarket.validation.targets import SEED, Target, target_by_key

__all__ = ["TIMELINE_DAYS", "TIMELINE_TARGETS", "timeline_moments", "timeline_target", "yearly_paths"]

TIMELINE_DAYS = 2192  # 2019-01-01 .. 2024-12-31
YEARS = tuple(range(2019, 2025))
CONTENT = ("douyin", "kuaishou")
# Online retail sales of physical goods, RMB trn (National Bureau of Statistics, SEED_FACTS)
NBS_ONLINE_RETAIL_TRN = {2019: 8.52, 2020: 9.76, 2021: 10.80, 2022: 11.96, 2023: 13.02, 2024: 13.08}
# Short-video users 873M of 989M internet users, December 2020 (CNNIC 47th report): 88%
SHORT_VIDEO_USER_SHARE = 0.88
_NBS = "National Bureau of Statistics, online retail sales of physical goods (SEED_FACTS)"
#: A content platform's e-commerce GMV: what its live rooms and its product videos sent, every channel
CONTENT_GMV = ("live_room_gmv_rmb", "video_gmv_rmb")
_DOUYIN = "GMV sent by Douyin's live rooms and product videos, all channels (the model has no Douyin mall)"

_SNAPSHOT_IN = (
    "shelf_share_taobao", "shelf_share_jd", "shelf_share_pinduoduo", "market_gmv_2019_bn",
    "live_share_of_gmv_2019", "live_share_2019_taobao", "live_share_2019_kuaishou", "live_share_2019_douyin",
    "live_share_q4_2020_taobao", "live_share_q4_2020_kuaishou", "live_share_q4_2020_douyin",
    "adopters_2020_03", "adopters_2020_12", "adopters_2021_06", "aov_taobao", "aov_douyin", "aov_kuaishou",
    "aov_order_margin", "return_rate_live", "return_rate_shelf", "return_ratio",
)  # fmt: skip


def _in(key: str) -> Target:
    """A snapshot target of the in-sample years 2019-2021 (``in_sample`` here: the period, not the fit)."""
    return replace(target_by_key(key), in_sample=True)


def _growth(year: int) -> Target:
    v = 100 * (NBS_ONLINE_RETAIL_TRN[year] / NBS_ONLINE_RETAIL_TRN[year - 1] - 1)
    return Target(
        f"market_growth_{year}", "The market grows (input)", f"GMV of the five platforms, {year} over {year - 1}",
        "point", "% yoy", f"{_NBS}: an input of the scenario (trends.market.demand); a check that the five "
        "platforms carry it", year <= 2021, value=round(v, 1), tolerance=4.0,
    )  # fmt: skip


def _douyin_growth(year: int, value: float, tolerance: float) -> Target:
    return Target(
        f"douyin_growth_{year}_04", "Douyin's growth slows (320% -> 80% -> 46%)",
        f"Douyin GMV, May {year - 1} - April {year} over the year before", "point", "% yoy",
        f"{SEED}: growth 320%, 80%, then 46% in the year to the 2024 ecosystem conference (May); {_DOUYIN}",
        False, value=value, tolerance=tolerance,
    )  # fmt: skip


#: The timeline's facts, in table order: in sample (2019-2021; the calibration fits their point and range
#: targets) first, then out of sample (2022-2024, never fitted).
TIMELINE_TARGETS: tuple[Target, ...] = (
    *(_in(k) for k in _SNAPSHOT_IN),
    _growth(2020),
    _growth(2021),
    Target(
        "douyin_gmv_2020_bn", "Douyin's content commerce takes off", "Douyin GMV, 2020 (scaled)", "point",
        "bn RMB", f"{SEED}: Douyin e-commerce GMV 2020 500B; {_DOUYIN}", True, value=500.0, tolerance=125.0,
    ),
    Target(
        "douyin_gmv_2021_bn", "Douyin's content commerce takes off", "Douyin GMV, 2021 (scaled)", "point",
        "bn RMB", f"{SEED}: 2021 target 1T (a company goal, met by reports); {_DOUYIN}", True,
        value=1000.0, tolerance=250.0,
    ),
    Target(
        "douyin_users_2020_03_m", "Douyin's content commerce takes off", "Douyin users, 2020-03-31 (scaled)",
        "point", "M", f"{SEED}: Douyin 518M monthly users (March 2020)", True, value=518.0, tolerance=60.0,
    ),
    Target(
        "douyin_users_growth", "Douyin's content commerce takes off", "Douyin users, end 2021 / March 2020",
        "range", "ratio", f"{SEED}: daily users 300M (early 2020) -> 600M (2021); installed (monthly) "
        "users grow less than daily ones (assumption: 1.2-2.0)", True, low=1.2, high=2.0,
    ),  # fmt: skip
    Target(
        "short_video_minutes", "Time on short video", "minutes a day on Douyin + Kuaishou per short-video user, 2020",
        "point", "min/day", f"{SEED}: about 80 minutes a day on short video; short-video users 88% of internet "
        "users (CNNIC 47th report, December 2020)", True, value=80.0, tolerance=15.0,
    ),  # fmt: skip
    # ---- out of sample: 2022-2024
    *(_growth(y) for y in (2022, 2023, 2024)),
    _douyin_growth(2022, 320.0, 100.0),
    _douyin_growth(2023, 80.0, 25.0),
    _douyin_growth(2024, 46.0, 15.0),
    Target(
        "douyin_deceleration", "Douyin's growth slows (320% -> 80% -> 46%)",
        "min(growth to 2022-04 - to 2023-04, to 2023-04 - to 2024-04)", "above", "pp", SEED, False,
        low=0.0, tolerance=10.0,
    ),
    Target(
        "douyin_shelf_scene_growth_2024", "Douyin's growth slows (320% -> 80% -> 46%)",
        "Douyin shelf-scene (mall, search) GMV growth, year to 2024-04", "point", "% yoy",
        f"{SEED}: +86% (was +140%); not modelled: Douyin has no shelf scene in the model", False,
        value=86.0, tolerance=20.0,
    ),
    Target(
        "kuaishou_growth_q2_2024", "2024: slowdown", "Kuaishou GMV, Q2 2024 over Q2 2023", "point", "% yoy",
        f"{SEED}: Kuaishou Q2 2024 e-commerce GMV +15%; GMV its live rooms and product videos sent", False,
        value=15.0, tolerance=7.5,
    ),
    Target(
        "festival_618_2024", "2024: slowdown", "GMV of the five platforms, 1-18 June 2024 over 2023", "point",
        "% yoy", f"{SEED}: total 618 sales 742.8B RMB, -7%", False, value=-7.0, tolerance=4.0,
    ),
    Target(
        "trust_fall_2024", "2024: slowdown", "streamer trust (follow edges), December 2023 minus December 2024",
        "above", "trust", f"{SEED}: top Douyin streamers penalised before Double 11 2024; consumers' trust in "
        "streamers collapsing", False, low=0.0, tolerance=0.01,
    ),  # fmt: skip
)


def timeline_target(key: str) -> Target:
    """The timeline target with this key (KeyError naming the accepted keys otherwise)."""
    return target_by_key(key, TIMELINE_TARGETS)


def _sum(df: pl.DataFrame, metric, start: str, end: str, platforms=None, scaled: bool = True) -> float:
    """Sum of a platform metric or tuple of metrics (channel all) over dates and platforms (default all), per day."""
    col = "value_scaled" if scaled else "value"
    a, b = dt.date.fromisoformat(start), dt.date.fromisoformat(end)
    metrics = [metric] if isinstance(metric, str) else list(metric)
    d = df.filter(pl.col("metric").is_in(metrics), pl.col("channel") == "all", pl.col("platform") != "all",
                  pl.col("date").is_between(a, b))  # fmt: skip
    if platforms is not None:
        d = d.filter(pl.col("platform").is_in(list(platforms)))
    return float(d[col].sum()) / ((b - a).days + 1)


def _yoy(df: pl.DataFrame, metric: str, start: str, end: str, platforms=None) -> float:
    """Growth in % of a per-day sum over [start, end] against the same dates a year before."""
    back = lambda s: dt.date.fromisoformat(s).replace(year=int(s[:4]) - 1).isoformat()  # noqa: E731
    now, before = _sum(df, metric, start, end, platforms), _sum(df, metric, back(start), back(end), platforms)
    return 100 * (now / before - 1) if before > 0 and now > 0 else float("nan")


def _on(df: pl.DataFrame, metric: str, platform: str, day: str, scaled: bool = False) -> float:
    d = df.filter(pl.col("metric") == metric, pl.col("platform") == platform, pl.col("channel") == "all",
                  pl.col("date") == dt.date.fromisoformat(day))  # fmt: skip
    return float(d["value_scaled" if scaled else "value"][0]) if len(d) else float("nan")


def _mean(df: pl.DataFrame, metric: str, platform: str, start: str, end: str) -> float:
    d = df.filter(pl.col("metric") == metric, pl.col("platform") == platform, pl.col("channel") == "all",
                  pl.col("date").is_between(dt.date.fromisoformat(start), dt.date.fromisoformat(end)))  # fmt: skip
    return float(d["value"].mean()) if len(d) else float("nan")


def _content_minutes(df: pl.DataFrame, consumers: int, year: int) -> float:
    """Minutes a day on the content apps per short-video user (consumers x 88%), mean over ``year``."""
    d = df.filter(pl.col("metric").is_in(["minutes_per_user", "users"]), pl.col("platform").is_in(list(CONTENT)),
                  pl.col("channel") == "all", pl.col("date").dt.year() == year)  # fmt: skip
    wide = d.pivot(on="metric", index=["date", "platform"], values="value")
    total = (wide["minutes_per_user"] * wide["users"]).sum() / wide["date"].n_unique()
    return float(total) / (consumers * SHORT_VIDEO_USER_SHARE)


def timeline_moments(df: pl.DataFrame, streamer_gmv: np.ndarray | None = None, consumers: int = 0) -> dict[str, float]:
    """Every timeline target's model value (and the yearly paths) from one run's results table."""
    m = moments(df, streamer_gmv)
    year = lambda y, metric="gmv_rmb", p=None: _sum(df, metric, f"{y}-01-01", f"{y}-12-31", p)  # noqa: E731
    growth = lambda now, before: 100 * (now / before - 1) if before > 0 and now > 0 else float("nan")  # noqa: E731
    for y in range(2020, 2025):
        m[f"market_growth_{y}"] = growth(year(y), year(y - 1))
    days = lambda y: 366 if y % 4 == 0 else 365  # noqa: E731
    for y in (2020, 2021):
        m[f"douyin_gmv_{y}_bn"] = year(y, CONTENT_GMV, ["douyin"]) * days(y) / 1e9
    m["douyin_users_2020_03_m"] = _on(df, "users", "douyin", "2020-03-31", scaled=True) / 1e6
    users_2020 = max(_on(df, "users", "douyin", "2020-03-31"), 1.0)
    m["douyin_users_growth"] = _on(df, "users", "douyin", "2021-12-31") / users_2020
    m["short_video_minutes"] = _content_minutes(df, consumers, 2020) if consumers else float("nan")
    for y in (2022, 2023, 2024):
        m[f"douyin_growth_{y}_04"] = _yoy(df, CONTENT_GMV, f"{y - 1}-05-01", f"{y}-04-30", ["douyin"])
    g = [m[f"douyin_growth_{y}_04"] for y in (2022, 2023, 2024)]
    m["douyin_deceleration"] = min(g[0] - g[1], g[1] - g[2])
    m["douyin_shelf_scene_growth_2024"] = float("nan")  # not modelled
    m["kuaishou_growth_q2_2024"] = _yoy(df, CONTENT_GMV, "2024-04-01", "2024-06-30", ["kuaishou"])
    m["festival_618_2024"] = _yoy(df, "gmv_rmb", "2024-06-01", "2024-06-18")
    m["trust_fall_2024"] = _mean(df, "streamer_trust_mean", "all", "2023-12-01", "2023-12-31") - _mean(
        df, "streamer_trust_mean", "all", "2024-12-01", "2024-12-31"
    )
    m.update(yearly_paths(df))
    return m


#: Yearly series drawn against the facts: (key, metric, platforms or None for all five, unit scale).
PATHS = (
    ("market_gmv_bn", "gmv_rmb", None),
    ("live_gmv_bn", "live_room_gmv_rmb", None),
    ("douyin_gmv_bn", CONTENT_GMV, ["douyin"]),
    ("douyin_live_gmv_bn", "live_room_gmv_rmb", ["douyin"]),
    ("kuaishou_live_gmv_bn", "live_room_gmv_rmb", ["kuaishou"]),
    ("taobao_live_gmv_bn", "live_room_gmv_rmb", ["taobao"]),
)


def yearly_paths(df: pl.DataFrame) -> dict[str, float]:
    """``path:<series>:<year>`` values (bn RMB a year, scaled) for the timeline figure."""
    out = {}
    for key, metric, platforms in PATHS:
        for y in YEARS:
            days = 366 if y % 4 == 0 else 365
            out[f"path:{key}:{y}"] = _sum(df, metric, f"{y}-01-01", f"{y}-12-31", platforms) * days / 1e9
    return out
