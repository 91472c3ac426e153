"""Stylized facts: calibration targets as data, moments from a run, the validation table and figure.

Every target names its source (``SEED_FACTS.md`` or a publication) and says whether the
calibration fits it (in-sample) or only reports it (out-of-sample). A *run* here is the
scenario (default ``china-2019``) from 2019-01-01 to 2021-06-30 with the documented 2020
history laid over it (:data:`HISTORY`); :func:`moments` turns one run into numbers,
:func:`summarise` turns replicates into a mean and a 95% interval per target, and
:func:`markdown_table` / :func:`figure` present them.

Example:
    >>> [t.key for t in TARGETS][:3]
    ['shelf_share_taobao', 'shelf_share_jd', 'shelf_share_pinduoduo']

"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Literal

import numpy as np
import polars as pl
import typer

from livemarket.config import ScenarioConfig, load_scenario

__all__ = [
    "HISTORY",
    "TARGETS",
    "RunSpec",
    "Target",
    "figure",
    "loss",
    "markdown_table",
    "moments",
    "run_moments",
    "run_replicates",
    "summarise",
    "target_by_key",
    "validate",
    "validate_command",
]

DAYS = 912  # 2019-01-01 .. 2021-06-30 inclusive
LIVE_CHANNELS = ("live_own_shop", "live_outbound_link", "live_later_search")
SHELF = ("taobao", "jd", "pinduoduo")
LIVE = ("taobao", "kuaishou", "douyin")

#: Documented 2020 moves laid over china-2019 when validating (SEED_FACTS "Cooperation and
#: competition moves"): Douyin charges 20% on third-party links from 2020-08 and bans them in
#: live rooms from 2020-10-09 (own shops unaffected).
HISTORY: list[dict[str, Any]] = [
    {"platform": "douyin", "date": dt.date(2020, 8, 1), "set": {"ext_link_fee": 0.20}},
    {"platform": "douyin", "date": dt.date(2020, 10, 9), "set": {"link_ban": True}},
]

# 2019 e-commerce GMV shares [seed]: Tmall 50.1, JD 26.51, Pinduoduo 12.8, Suning 3.04 (percent).
# The model has no Suning and no long tail of small shops, so the three shares are normalised
# to sum to 100 over the three shelf platforms the model has.
_SHELF_2019 = {"taobao": 50.1, "jd": 26.51, "pinduoduo": 12.8}
_SHELF_SUM = sum(_SHELF_2019.values())
# Live-commerce GMV 2019 [seed]: Taobao Live 180B, Kuaishou 40-50B (midpoint 45), Douyin ~10B RMB.
_LIVE_2019 = {"taobao": 180.0, "kuaishou": 45.0, "douyin": 10.0}
_LIVE_SUM = sum(_LIVE_2019.values())
# The whole 2019 market implied by Pinduoduo's 1.01T RMB being 12.8% of it [seed]: 7.89T RMB.
_MARKET_2019_BN = 1010.0 / 0.128

SEED = "SEED_FACTS.md"


@dataclass(frozen=True)
class Target:
    """One stylized fact: what is measured, what it should be, and where that comes from.

    ``kind`` says how the model's value is judged: ``point`` within ``tolerance`` of
    ``value``; ``range`` inside ``[low, high]``; ``above`` greater than ``low``; ``info``
    is reported without a verdict (it supports a pattern judged on another row).
    """

    key: str
    pattern: str
    label: str
    kind: Literal["point", "range", "above", "info"]
    unit: str
    source: str
    in_sample: bool
    value: float | None = None
    tolerance: float | None = None
    low: float | None = None
    high: float | None = None

    def passes(self, x: float) -> bool | None:
        """Verdict on a model value (None for ``info`` rows or a missing value)."""
        if x is None or not math.isfinite(x) or self.kind == "info":
            return None
        if self.kind == "point":
            return abs(x - self.value) <= self.tolerance
        if self.kind == "range":
            return self.low <= x <= self.high
        return x > self.low

    def distance(self, x: float) -> float:
        """Scaled miss used by the calibration loss: 0 when met, about 1 at the edge of tolerance."""
        if x is None or not math.isfinite(x):
            return 10.0
        if self.kind == "point":
            return (x - self.value) / self.tolerance
        if self.kind == "range":
            half = (self.high - self.low) / 2
            return max(0.0, self.low - x, x - self.high) / half
        if self.kind == "above":
            return max(0.0, self.low - x) / (self.tolerance or 1.0)
        return 0.0

    @property
    def target_text(self) -> str:
        """The target as printed in the table."""
        if self.kind == "point":
            return f"{self.value:.3g} ± {self.tolerance:.3g}"
        if self.kind == "range":
            return f"{self.low:.3g} – {self.high:.3g}"
        if self.kind == "above":
            return f"> {self.low:.3g}"
        return "≈ " + (f"{self.value:.3g}" if self.value is not None else "—")


def _shelf(p: str) -> Target:
    v = 100 * _SHELF_2019[p] / _SHELF_SUM
    return Target(
        f"shelf_share_{p}", "2019 shelf GMV shares", f"{p} share of shelf GMV, 2019", "point", "%",
        f"{SEED} [seed]: {_SHELF_2019[p]}% of 2019 e-commerce GMV, normalised over Taobao/Tmall+JD+"
        f"Pinduoduo ({_SHELF_SUM:.2f}%; no Suning in the model)", True, value=round(v, 2), tolerance=3.0,
    )  # fmt: skip


def _live19(p: str) -> Target:
    return Target(
        f"live_share_2019_{p}", "Live-GMV shares 2019 -> late 2020", f"{p} share of live-room GMV, 2019",
        "point", "%", f"{SEED} [seed]: live GMV 2019 Taobao 180B, Kuaishou 40-50B, Douyin ~10B RMB",
        True, value=round(100 * _LIVE_2019[p] / _LIVE_SUM, 1), tolerance=4.0,
    )  # fmt: skip


def _live20(p: str, low: float, high: float) -> Target:
    return Target(
        f"live_share_q4_2020_{p}", "Live-GMV shares 2019 -> late 2020", f"{p} share of live-room GMV, Q4 2020",
        "range", "%", f"{SEED} (atmallgroup): late-2020 live-GMV shares", False, low=low, high=high,
    )  # fmt: skip


def _aov(p: str, v: float) -> Target:
    return Target(
        f"aov_{p}", "Average order value Taobao > Douyin > Kuaishou", f"{p} GMV / orders, 2020", "info",
        "RMB", f"{SEED} (atmallgroup): Taobao ~120 > Douyin ~100 > Kuaishou ~70 RMB", False, value=v,
    )  # fmt: skip


#: All stylized facts, in table order.
TARGETS: tuple[Target, ...] = (
    *(_shelf(p) for p in SHELF),
    Target(
        "market_gmv_2019_bn",
        "Market size 2019",
        "GMV of the five platforms, 2019 (scaled)",
        "point",
        "bn RMB",
        f"{SEED} [seed]: Pinduoduo 1.01T = 12.8% of 2019 GMV -> market 7.89T; five platforms "
        "hold Tmall+JD+PDD 89.4% -> 7.05T",
        True,
        value=round(_MARKET_2019_BN * _SHELF_SUM / 100),
        tolerance=round(0.15 * _MARKET_2019_BN * _SHELF_SUM / 100),
    ),
    Target(
        "live_share_of_gmv_2019",
        "Live commerce share of GMV 2019",
        "live-room GMV / all GMV, 2019",
        "point",
        "%",
        f"{SEED} [seed]: live GMV 2019 ~235B of a 7.89T market",
        True,
        value=round(100 * _LIVE_SUM / _MARKET_2019_BN, 1),
        tolerance=1.5,
    ),
    *(_live19(p) for p in LIVE),
    _live20("taobao", 44.0, 55.0),
    _live20("kuaishou", 27.0, 36.0),
    _live20("douyin", 16.0, 24.0),
    Target(
        "adopters_2020_03",
        "Live-commerce adoption",
        "adopter share of consumers, 2020-03-31",
        "point",
        "%",
        "CNNIC 45th Statistical Report on Internet Development (2020-04): 265M live-commerce "
        "users = 29.3% of internet users, March 2020",
        True,
        value=29.3,
        tolerance=4.0,
    ),
    Target(
        "adopters_2020_12",
        "Live-commerce adoption",
        "adopter share of consumers, 2020-12-31",
        "point",
        "%",
        "CNNIC 47th Statistical Report on Internet Development (2021-02): 388M live-commerce "
        "users = 39.2% of internet users, December 2020",
        True,
        value=39.2,
        tolerance=4.0,
    ),
    Target(
        "adopters_2021_06",
        "Live-commerce adoption",
        "adopter share of consumers, 2021-06-30",
        "point",
        "%",
        f"{SEED} [seed]: live-commerce users 384M = 38% of internet users (mid-2021)",
        False,
        value=38.0,
        tolerance=5.0,
    ),
    *(_aov(p, v) for p, v in (("taobao", 120.0), ("douyin", 100.0), ("kuaishou", 70.0))),
    Target(
        "aov_order_margin",
        "Average order value Taobao > Douyin > Kuaishou",
        "min(AOV Taobao - Douyin, Douyin - Kuaishou), 2020",
        "above",
        "RMB",
        f"{SEED} (atmallgroup)",
        False,
        low=0.0,
        tolerance=10.0,
    ),
    Target(
        "streamer_top1_share",
        "Heavy-tailed streamer GMV",
        "top 1% of hired streamers' share of GMV",
        "above",
        "%",
        "MODEL_SPEC (Pareto popularity, alpha ~1.1); head streamers (Viya, Li Jiaqi) "
        f"dominate Taobao Live ({SEED})",
        False,
        low=10.0,
        tolerance=5.0,
    ),
    Target(
        "streamer_tail_index",
        "Heavy-tailed streamer GMV",
        "Hill tail index of streamer GMV (top 10%)",
        "range",
        "alpha",
        "heavy tail = Pareto index below 2 (infinite variance); Clauset, Shalizi & "
        "Newman (2009) SIAM Review 51:661",
        False,
        low=0.5,
        high=2.0,
    ),
    Target(
        "growth_live_h1_2020",
        "Decelerating growth",
        "live-room GMV, H1 2020 over H1 2019",
        "info",
        "% yoy",
        f"{SEED} [seed]: Douyin GMV growth 320% -> 80% -> 46%; Kuaishou +15% (2024)",
        False,
    ),
    Target(
        "growth_live_h2_2020",
        "Decelerating growth",
        "live-room GMV, H2 2020 over H2 2019",
        "info",
        "% yoy",
        f"{SEED} [seed]",
        False,
    ),
    Target(
        "growth_live_h1_2021",
        "Decelerating growth",
        "live-room GMV, H1 2021 over H1 2020",
        "info",
        "% yoy",
        f"{SEED} [seed]",
        False,
    ),
    Target(
        "growth_deceleration",
        "Decelerating growth",
        "yoy growth H1 2020 minus yoy growth H1 2021",
        "above",
        "pp",
        f"{SEED} [seed]: growth slows without a policy shock (MODEL_SPEC experiment 12)",
        False,
        low=0.0,
        tolerance=20.0,
    ),
    Target(
        "return_rate_live",
        "Higher returns in live commerce",
        "return rate, live channels",
        "info",
        "%",
        f"{SEED} (yicaiglobal): women's apparel 50-60% live vs ~30% ordinary e-commerce",
        False,
        value=None,
    ),
    Target(
        "return_rate_shelf",
        "Higher returns in live commerce",
        "return rate, planned shelf search",
        "info",
        "%",
        f"{SEED} (yicaiglobal)",
        False,
    ),
    Target(
        "return_ratio",
        "Higher returns in live commerce",
        "return rate live / planned shelf search",
        "above",
        "ratio",
        f"{SEED} (yicaiglobal): 50-60% vs ~30% (ratio 1.7-2)",
        False,
        low=1.0,
        tolerance=0.2,
    ),
)


def target_by_key(key: str) -> Target:
    """Return the target with this key (KeyError naming the accepted keys otherwise)."""
    for t in TARGETS:
        if t.key == key:
            return t
    raise KeyError(f"unknown target {key!r}; accepted: {', '.join(t.key for t in TARGETS)}")


# --------------------------------------------------------------------------- moments of one run
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


# --------------------------------------------------------------------------- running replicates
@dataclass(frozen=True)
class RunSpec:
    """What one validation run is: scenario, overrides, population, horizon, history, seed.

    Plain data, so it pickles and ships to Dask workers.
    """

    scenario: str = "china-2019"
    overrides: tuple[str, ...] = ()
    consumers: int | None = None
    days: int = DAYS
    history: bool = True
    seed: int = 0

    def config(self) -> ScenarioConfig:
        """Build the validated scenario (with the 2020 history appended to its policies)."""
        base = load_scenario(self.scenario, list(self.overrides), consumers=self.consumers)
        if not self.history:
            return base.model_copy(update={"days": self.days, "seed": self.seed})
        policies = [p.model_dump() for p in base.policies] + HISTORY
        return load_scenario(
            self.scenario, list(self.overrides), consumers=self.consumers, days=self.days,
            seed=self.seed, policies=policies,
        )  # fmt: skip


def run_moments(spec: RunSpec) -> dict[str, float]:
    """Run one replicate and return its moments (the unit of work shipped to a worker)."""
    from livemarket.models.market import LiveCommerceModel

    config = spec.config()
    model = LiveCommerceModel(config, run_id=f"{config.name}-seed{spec.seed}")
    df = model.run(spec.days)
    hired = model.streamers.brand < 0
    return moments(df, model.streamers.gmv_rmb[hired])


def run_replicates(
    specs: Sequence[RunSpec], client=None, progress: Callable[[int], None] | None = None
) -> list[dict[str, float]]:
    """Moments of each run, on a ``dask.distributed`` client if given, else in this process."""
    if client is None:
        out = []
        for i, s in enumerate(specs):
            out.append(run_moments(s))
            if progress:
                progress(i + 1)
        return out
    futures = client.map(run_moments, list(specs), pure=False)
    return client.gather(futures)


def summarise(
    runs: Sequence[dict[str, float]], targets: Sequence[Target] = TARGETS
) -> pl.DataFrame:
    """Per target: mean over replicates, 95% t-interval, verdict (one row per target)."""
    from scipy import stats

    rows = []
    for t in targets:
        x = np.array([r.get(t.key, float("nan")) for r in runs], dtype=np.float64)
        x = x[np.isfinite(x)]
        mean = float(x.mean()) if len(x) else float("nan")
        if len(x) > 1:
            half = float(stats.t.ppf(0.975, len(x) - 1) * x.std(ddof=1) / math.sqrt(len(x)))
        else:
            half = float("nan")
        rows.append({
            "key": t.key, "pattern": t.pattern, "label": t.label, "unit": t.unit, "target": t.target_text,
            "mean": mean, "low": mean - half, "high": mean + half, "replicates": len(x),
            "passed": t.passes(mean), "in_sample": t.in_sample, "source": t.source,
        })  # fmt: skip
    return pl.DataFrame(rows, schema_overrides={"passed": pl.Boolean})


def loss(means: dict[str, float], keys: Sequence[str]) -> float:
    """Method-of-simulated-moments objective: sum of squared scaled misses over ``keys``."""
    return float(sum(target_by_key(k).distance(means.get(k, float("nan"))) ** 2 for k in keys))


# --------------------------------------------------------------------------- presentation
def _fmt(x: float) -> str:
    if x is None or not math.isfinite(x):
        return "n/a"
    return f"{x:,.0f}" if abs(x) >= 1000 else f"{x:.3g}" if abs(x) < 10 else f"{x:.1f}"


def markdown_table(summary: pl.DataFrame, in_sample: Sequence[str] | None = None) -> str:
    """Render the validation table in Markdown: pattern, measure, target, mean [95% CI], fit, verdict."""
    fitted = set(in_sample) if in_sample is not None else None
    lines = [
        "| Pattern | Measure | Unit | Target | Model mean [95% CI] | Fit | Verdict |",
        "|---|---|---|---|---|---|---|",
    ]
    last = None
    for r in summary.iter_rows(named=True):
        inside = r["key"] in fitted if fitted is not None else r["in_sample"]
        verdict = {True: "**pass**", False: "FAIL", None: "—"}[r["passed"]]
        pattern = r["pattern"] if r["pattern"] != last else ""
        last = r["pattern"]
        ci = f"{_fmt(r['mean'])} [{_fmt(r['low'])}, {_fmt(r['high'])}]"
        lines.append(
            f"| {pattern} | {r['label']} | {r['unit']} | {r['target']} | {ci} | "
            f"{'in' if inside else 'out'} | {verdict} |"
        )
    return "\n".join(lines)


def figure(summary: pl.DataFrame, runs: Sequence[dict[str, float]], path: str | Path) -> list[Path]:
    """Targets (band or point +- tolerance) against replicate values, one panel per pattern.

    Writes ``path`` with suffixes .png, .pdf and .svg and returns the paths.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = [r for r in summary.iter_rows(named=True) if target_by_key(r["key"]).kind != "info"]
    patterns = list(dict.fromkeys(r["pattern"] for r in rows))
    fig, axes = plt.subplots(
        len(patterns),
        1,
        figsize=(7.0, 1.1 + 0.42 * len(rows) + 0.35 * len(patterns)),
        gridspec_kw={
            "height_ratios": [sum(r["pattern"] == p for r in rows) + 0.6 for p in patterns]
        },
    )
    axes = np.atleast_1d(axes)
    for ax, pat in zip(axes, patterns, strict=True):
        mine = [r for r in rows if r["pattern"] == pat]
        for i, r in enumerate(mine):
            t = target_by_key(r["key"])
            lo, hi = (
                (t.value - t.tolerance, t.value + t.tolerance)
                if t.kind == "point"
                else ((t.low, t.high) if t.kind == "range" else (t.low, None))
            )
            if hi is None:  # "above": a threshold
                ax.plot([lo, lo], [i - 0.35, i + 0.35], color="#332288", lw=1.2, ls=":")
            else:
                ax.fill_betweenx([i - 0.3, i + 0.3], lo, hi, color="#88CCEE", alpha=0.5, lw=0)
            if t.kind == "point":
                ax.plot([t.value], [i], "|", color="#332288", ms=12)
            vals = [x.get(r["key"], float("nan")) for x in runs]
            ax.plot(
                vals,
                [i] * len(vals),
                "o",
                color="#CC6677" if r["passed"] is False else "#117733",
                ms=3.5,
                alpha=0.7,
            )
            ax.plot([r["mean"]], [i], "D", color="black", ms=4)
        ax.set_yticks(range(len(mine)), [f"{r['label']} ({r['unit']})" for r in mine], fontsize=7)
        ax.set_ylim(-0.6, len(mine) - 0.4)
        ax.set_title(pat, fontsize=8, loc="left")
        ax.tick_params(axis="x", labelsize=7)
        ax.invert_yaxis()
    fig.suptitle(
        "Stylized facts: target (band / tick) vs model replicates (dots) and mean (diamond)",
        fontsize=8,
    )
    fig.tight_layout()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    out = []
    for suffix in (".png", ".pdf", ".svg"):
        p = path.with_suffix(suffix)
        fig.savefig(p, dpi=300)
        out.append(p)
    plt.close(fig)
    return out


def validate(
    scenario: str = "china-2019",
    replicates: int = 4,
    consumers: int | None = None,
    seed: int = 1,
    overrides: Sequence[str] = (),
    days: int = DAYS,
    client=None,
) -> tuple[pl.DataFrame, list[dict[str, float]]]:
    """Run ``replicates`` seeds of the scenario (with the 2020 history) and summarise every target."""
    from livemarket.draws import run_seed_sequence

    specs = [
        RunSpec(scenario, tuple(overrides), consumers, days, True,
                int(run_seed_sequence(seed, 0, r).generate_state(1)[0]))
        for r in range(replicates)
    ]  # fmt: skip
    runs = run_replicates(specs, client)
    return summarise(runs), runs


def validate_command(
    scenario: Annotated[
        str, typer.Argument(help="Built-in scenario name or a .toml file.")
    ] = "china-2019",
    replicates: Annotated[int, typer.Option(help="Replicate runs (seeds).")] = 4,
    consumers: Annotated[
        int | None, typer.Option(help="Consumers (default: the scenario's).")
    ] = None,
    seed: Annotated[int, typer.Option(help="Root seed of the replicates.")] = 1,
    days: Annotated[int, typer.Option(help="Days from 2019-01-01 (912 = to 2021-06-30).")] = DAYS,
    set_: Annotated[
        list[str] | None, typer.Option("--set", help="Override, e.g. consumer.bass_q=0.001")
    ] = None,
    out: Annotated[
        Path, typer.Option(help="Folder for validation.md, moments.parquet, figures.")
    ] = Path("results/validate"),
    workers: Annotated[int, typer.Option(help="Dask worker processes (0: run here).")] = 0,
) -> None:
    """Run the scenario with replicates and print each stylized fact: target, model [95% CI], verdict.

    Writes ``validation.md``, ``moments.parquet`` and ``validation.{png,pdf,svg}`` to ``out``.
    """
    import time

    try:
        base = RunSpec(scenario, tuple(set_ or []), consumers, days, False, 0).config()
        lacking = sorted(({h["platform"] for h in HISTORY} | set(SHELF) | set(LIVE)) - set(base.platforms))
        if lacking:  # the comparison and its 2020 history are about these platforms, not the user's policies
            raise ValueError(
                f"validate compares a scenario with the Chinese market of 2019-2021 and lays its documented "
                f"2020 policies over it, so the scenario needs the platforms {lacking}; {scenario!r} has "
                f"{sorted(base.platforms)}; accepted: china-2019 or a scenario with those platforms"
            )
        RunSpec(scenario, tuple(set_ or []), consumers, days, True, 0).config()
        if replicates < 1 or days < 1:
            raise ValueError("--replicates and --days must be at least 1")
        if seed < 0 or workers < 0:
            raise ValueError(f"--seed {seed} and --workers {workers}: accepted: 0 or more")
    except (ValueError, OSError) as err:  # ConfigError is a ValueError
        typer.secho(f"error: {err}", fg=typer.colors.RED, err=True)
        raise typer.Exit(code=2) from None
    client = cluster = None
    started = time.time()
    try:
        if workers > 0:
            from dask.distributed import Client, LocalCluster

            cluster = LocalCluster(n_workers=workers, threads_per_worker=1, dashboard_address=None)
            client = Client(cluster)
        summary, runs = validate(scenario, replicates, consumers, seed, set_ or [], days, client)
    finally:
        if client is not None:
            client.close()
            cluster.close()
    table = markdown_table(summary)
    out.mkdir(parents=True, exist_ok=True)
    (out / "validation.md").write_text(table + "\n", encoding="utf-8")
    pl.DataFrame(runs).write_parquet(out / "moments.parquet")
    figure(summary, runs, out / "validation")
    typer.echo(table)
    judged = summary.filter(pl.col("passed").is_not_null())
    typer.echo(
        f"\n{judged['passed'].sum()} of {len(judged)} checks pass; {replicates} replicates in "
        f"{time.time() - started:.0f} s -> {out}/"
    )
