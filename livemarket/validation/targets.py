"""Stylized facts as data: what is measured, the target, its source; and the calibration loss.

Every target names its source (``SEED_FACTS.md`` or a publication) and says whether the
calibration fits it (in-sample) or only reports it (out-of-sample).

Example:
    >>> target_by_key("shelf_share_jd").passes(22.0)
    False
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

__all__ = ["DAYS", "HISTORY", "LIVE", "LIVE_CHANNELS", "SHELF", "TARGETS", "Target", "loss", "target_by_key"]

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
        "ODD section 2 (Pareto popularity, alpha ~1.1); head streamers (Viya, Li Jiaqi) "
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
        f"{SEED} [seed]: growth slows without a policy shock (experiment 12, experiments/12-saturation.toml)",
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


def target_by_key(key: str, targets: Sequence[Target] = TARGETS) -> Target:
    """Return the target with this key among ``targets`` (KeyError naming the accepted keys otherwise)."""
    for t in targets:
        if t.key == key:
            return t
    raise KeyError(f"unknown target {key!r}; accepted: {', '.join(t.key for t in targets)}")


def loss(means: dict[str, float], keys: Sequence[str], targets: Sequence[Target] = TARGETS) -> float:
    """Method-of-simulated-moments objective: sum of squared scaled misses over ``keys`` (of ``targets``)."""
    by_key = {t.key: t for t in targets}
    return float(sum(by_key[k].distance(means.get(k, float("nan"))) ** 2 for k in keys))
