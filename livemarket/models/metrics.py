"""Daily measurements: the metric registry and the read-only recorder.

Every metric is declared once in :data:`REGISTRY` (name, level, unit, whether it scales
with the population, a reader's label and a one-line definition). The recorder, the
``value_scaled`` column, figure labels, the ODD's output table and sweep-spec validation
are all derived from it. Adding a metric is one :class:`Metric` entry plus the line that
computes it in :meth:`Recorder.record` (the recorder refuses a day whose computed names
differ from the registry).

Every day the :class:`Recorder` stores three blocks: by platform and channel, by platform,
and for the whole market. :meth:`Recorder.table` turns them into one polars frame with
columns ``run_id, step, date, platform, channel, metric, value, value_scaled``
(``platform``/``channel`` are ``"all"`` for aggregates; ``value_scaled`` multiplies
money and counts by ``population_scale`` and is null for shares, rates and trust).

Trust means and quantiles are taken over an evenly spaced sample of at most 5,000 consumers
(and 5,000 follow edges), so they are exact up to that population and cost the same beyond.

Accounting identity, every day: ``gmv_rmb = brand_receipts_rmb + streamer_receipts_rmb +
platform_receipts_rmb + refunds_rmb`` (booked by :mod:`livemarket.models.settlement`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import polars as pl

from livemarket.core import rules, tally
from livemarket.models.policies import hired_by_popularity

__all__ = [
    "CHANNEL_METRICS", "EXTENSIVE_METRICS", "MARKET_METRICS", "METRIC_INFO", "PLATFORM_METRICS",
    "REGISTRY", "Metric", "Recorder", "gini", "hhi", "quantiles",
]  # fmt: skip

LEVELS = ("channel", "platform", "market")
REPEAT_WINDOWS_DAYS = (30, 90)  # repeat_order_share_{d}d: the buyer ordered on the platform within d days
#: display conventions: raw unit -> (display unit, source column, multiplier)
DISPLAY = {
    "RMB/day": ("bn RMB/day", "value_scaled", 1e-9),
    "orders/day": ("million/day", "value_scaled", 1e-6),
    "consumers/day": ("million/day", "value_scaled", 1e-6),
    "consumers": ("million", "value_scaled", 1e-6),
    "share": ("%", "value", 100.0),
    "index": ("0–1", "value", 1.0),
    "trust": ("0–1", "value", 1.0),
    "min/user/day": ("min/user/day", "value", 1.0),
    "min/consumer/day": ("min/consumer/day", "value", 1.0),
    "streamers": ("simulated, per day", "value", 1.0),
    "events/day": ("per day", "value", 1.0),
    "RMB/order": ("RMB", "value", 1.0),
    "visits/day": ("million/day", "value_scaled", 1e-6),
    "min/day": ("million min/day", "value_scaled", 1e-6),
    "brands": ("brands, simulated", "value", 1.0),
    "follows": ("million", "value_scaled", 1e-6),
}


@dataclass(frozen=True)
class Metric:
    """One recorded quantity at one level (``channel``, ``platform`` or ``market``)."""

    name: str
    level: str
    unit: str  # raw unit of ``value`` (a key of DISPLAY)
    label: str  # reader's name, for axes and legends
    doc: str  # one-line definition (the ODD's output table)
    scales: bool = False  # money or a count: ``value_scaled`` = value x population_scale
    display_unit: str = ""  # overrides DISPLAY[unit][0]

    @property
    def display(self) -> tuple[str, str, float]:
        """(display unit, source column, multiplier) for figures."""
        unit, column, factor = DISPLAY[self.unit]
        return self.display_unit or unit, column, factor


def _m(name, level, unit, label, doc, **kw) -> Metric:
    scales = unit in ("RMB/day", "orders/day", "consumers/day", "consumers", "visits/day", "min/day", "follows")
    return Metric(name, level, unit, label, doc, scales=kw.pop("scales", scales), **kw)


_CH, _PL, _MK = LEVELS
#: Every metric, in the order of the results table (new metrics go at the end of their level).
REGISTRY: tuple[Metric, ...] = (
    _m("gmv_rmb", _CH, "RMB/day", "GMV", "value of orders paid on the platform through the channel"),
    _m("gmv_net_rmb", _CH, "RMB/day", "GMV net of returns", "value of orders neither returned nor refunded"),
    _m("orders", _CH, "orders/day", "Orders", "orders placed"),
    _m("returns", _CH, "orders/day", "Returns", "orders returned"),
    _m("refunds_rmb", _CH, "RMB/day", "Refunds", "value refunded (returns and protection)"),
    _m("revenue_commission_rmb", _PL, "RMB/day", "Commission revenue", "take on kept orders paid here"),
    _m("revenue_link_fees_rmb", _PL, "RMB/day", "Link-fee revenue", "fees on outbound-link orders sent from here"),
    _m("revenue_ads_rmb", _PL, "RMB/day", "Ad revenue", "ad minutes shown x ad price"),
    _m("revenue_splash_ads_rmb", _PL, "RMB/day", "Splash-ad revenue", "splash views sold x price"),
    _m("traffic_cost_rmb", _PL, "RMB/day", "Traffic bought", "splash traffic bought from content platforms"),
    _m("gmv_rmb", _PL, "RMB/day", "GMV", "value of orders paid on the platform"),
    _m("gmv_net_rmb", _PL, "RMB/day", "GMV net of returns", "kept order value paid on the platform"),
    _m("orders", _PL, "orders/day", "Orders", "orders paid on the platform"),
    _m("gmv_share", _PL, "share", "GMV share", "share of the market's GMV"),
    _m("live_gmv_share", _PL, "share", "Share of live GMV", "share of live-room GMV (any channel) paid here"),
    _m("users", _PL, "consumers", "Users", "consumers with the app installed"),
    _m("minutes_per_user", _PL, "min/user/day", "Time spent", "minutes per user per day"),
    _m("churned", _PL, "consumers/day", "Users leaving", "uninstalls today"),
    _m("joined", _PL, "consumers/day", "Users joining", "installs today"),
    _m("trust_mean", _PL, "trust", "Platform trust (mean)", "consumers' trust in the platform, mean"),
    _m("trust_p10", _PL, "trust", "Platform trust (P10)", "consumers' trust in the platform, 10th percentile"),
    _m("trust_p50", _PL, "trust", "Platform trust (P50)", "consumers' trust in the platform, median"),
    _m("trust_p90", _PL, "trust", "Platform trust (P90)", "consumers' trust in the platform, 90th percentile"),
    _m("streamer_trust_mean", _PL, "trust", "Streamer trust (mean)", "trust along follow edges to its streamers"),
    _m("orders_delayed", _PL, "orders/day", "Delayed orders", "orders paid here shipped late"),
    _m("returns", _PL, "orders/day", "Returns", "orders paid here returned"),
    _m("live_room_gmv_rmb", _PL, "RMB/day", "GMV from live rooms", "GMV sent by the platform's live rooms"),
    _m("outbound_link_gmv_rmb", _PL, "RMB/day", "GMV via outbound links", "GMV its rooms and videos sent by links"),
    _m("aov_rmb", _PL, "RMB/order", "Average order value", "GMV / orders paid on the platform (0 without orders)"),
    _m("live_impressions_min", _PL, "min/day", "Live-feed minutes", "minutes on the app x its live share"),
    _m("live_visits", _PL, "visits/day", "Live-room visits", "adopters entering one of its live rooms"),
    _m("live_considerations", _PL, "visits/day", "Considerations", "live-room visits where buying was considered"),
    _m("live_orders", _PL, "orders/day", "Live-room orders", "orders sent by its live rooms (any channel)"),
    _m("live_conversion_rate", _PL, "share", "Live conversion", "live-room orders / live-room visits"),
    _m("repeat_order_share_30d", _PL, "share", "Repeat orders (30 days)",
       "share of today's orders paid here by consumers who also ordered here in the 30 days before"),
    _m("repeat_order_share_90d", _PL, "share", "Repeat orders (90 days)",
       "share of today's orders paid here by consumers who also ordered here in the 90 days before"),
    _m("streamer_income_rmb", _PL, "RMB/day", "Streamer income", "commissions of the streamers homed here"),
    _m("platform_profit_rmb", _PL, "RMB/day", "Platform profit", "revenue from all sources minus traffic bought"),
    _m("brand_shops", _PL, "brands", "Brand shops", "brands whose own shop sells in its live rooms"),
    _m("hired_streamers_active", _PL, "streamers", "Hired streamers", "hired streamers homed here and in the market"),
    _m("followers", _PL, "follows", "Follows", "follow edges to streamers homed here"),
    _m("multihoming_share", _PL, "share", "Users on other apps too", "share of its users with two apps or more"),
    _m("wallet_ok_share", _PL, "share", "Can pay", "share of consumers holding a wallet its checkout accepts"),
    _m("outbound_link_orders", _PL, "orders/day", "Outbound-link orders", "orders its rooms and videos sent by links"),
    _m("video_gmv_rmb", _PL, "RMB/day", "GMV from product videos", "GMV sent by product videos in its feed"),
    _m("video_views", _PL, "visits/day", "Product-video views", "adopters seeing a product video in its feed"),
    _m("video_considerations", _PL, "visits/day", "Video considerations", "video views where buying was considered"),
    _m("gmv_rmb", _MK, "RMB/day", "GMV", "value of all orders"),
    _m("gmv_net_rmb", _MK, "RMB/day", "GMV net of returns", "kept order value"),
    _m("orders", _MK, "orders/day", "Orders", "all orders"),
    _m("refunds_rmb", _MK, "RMB/day", "Refunds", "value refunded"),
    _m("brand_receipts_rmb", _MK, "RMB/day", "Brand receipts", "what brands keep of kept orders"),
    _m("streamer_receipts_rmb", _MK, "RMB/day", "Streamer receipts", "streamer commissions"),
    _m("platform_receipts_rmb", _MK, "RMB/day", "Platform receipts", "platforms' take and link fees"),
    _m("hhi", _MK, "index", "HHI of GMV shares", "Herfindahl index of platforms' GMV shares"),
    _m("consumer_surplus_rmb", _MK, "RMB/day", "Consumer surplus",
       "decision surplus: logit log-sum over every choice today, in RMB (utility / price sensitivity)"),
    _m("adopter_share", _MK, "share", "Live-shopping adopters", "share of consumers who adopted",
       display_unit="% of consumers"),
    _m("multihoming_rate", _MK, "share", "Multi-homing", "share of consumers with two apps or more",
       display_unit="% of consumers"),
    _m("return_rate", _MK, "share", "Return rate", "returns / orders", display_unit="% of orders"),
    _m("orders_delayed", _MK, "orders/day", "Delayed orders", "orders shipped late"),
    _m("streamer_gini", _MK, "index", "Gini of streamer GMV", "Gini of hired streamers' cumulative GMV"),
    _m("streamer_top1_share", _MK, "share", "Top-1% streamers' GMV share", "share of the top 1% hired streamers"),
    _m("self_broadcast_share", _MK, "share", "Self-broadcast share of live GMV", "brand accounts' share of live GMV"),
    _m("live_streamers", _MK, "streamers", "Streamers live", "streamers on air today"),
    _m("scandals", _MK, "events/day", "Scandals", "streamer scandals today"),
    _m("adopted", _MK, "consumers/day", "New adopters", "consumers adopting live shopping today"),
    _m("planned_replaced", _MK, "orders/day", "Planned purchases replaced by content orders",
       "planned purchases not made because the buyer's earlier content orders had made them (substitution)"),
    _m("minutes_per_consumer", _MK, "min/consumer/day", "Time spent", "minutes per consumer per day, all apps"),
    _m("streamer_trust_mean", _MK, "trust", "Streamer trust (mean)", "trust along follow edges, mean"),
    _m("streamer_trust_p10", _MK, "trust", "Streamer trust (P10)", "trust along follow edges, 10th percentile"),
    _m("streamer_trust_p50", _MK, "trust", "Streamer trust (P50)", "trust along follow edges, median"),
    _m("streamer_trust_p90", _MK, "trust", "Streamer trust (P90)", "trust along follow edges, 90th percentile"),
    _m("head_streamer_gmv_rmb", _MK, "RMB/day", "Most popular streamer's GMV",
       "GMV of the rank-0 hired streamer (ranked at the start, or at the branch)"),
    _m("streamer_reputation_mean", _MK, "trust", "Streamers' public reputation (mean)",
       "hired streamers' public reputation, mean"),
    _m("brand_accounts_live", _MK, "streamers", "Brands' own accounts live", "brand accounts on air today"),
    _m("experienced_surplus_rmb", _MK, "RMB/day", "Experienced consumer surplus",
       "decision surplus minus the price share lost on bad orders kept unrefunded and the hassle of returns"),
    _m("producer_surplus_rmb", _MK, "RMB/day", "Brand producer surplus",
       "brand receipts minus production cost of kept orders and self-broadcast staff cost"),
    _m("platform_profit_rmb", _MK, "RMB/day", "Platform profit", "platforms' revenue minus traffic bought"),
    _m("total_welfare_rmb", _MK, "RMB/day", "Total welfare",
       "experienced consumer surplus + producer surplus + platform profit + streamer receipts"),
    _m("price_index", _MK, "index", "Price index", "mean over brands of price / base price (1: no pass-through)"),
    _m("hhi_revenue", _MK, "index", "HHI of platform revenue", "Herfindahl index of platforms' shares of revenue"),
)  # fmt: skip

CHANNEL_METRICS = tuple(m.name for m in REGISTRY if m.level == _CH)
PLATFORM_METRICS = tuple(m.name for m in REGISTRY if m.level == _PL)
MARKET_METRICS = tuple(m.name for m in REGISTRY if m.level == _MK)
_NAME_SETS = {names: frozenset(names) for names in (CHANNEL_METRICS, PLATFORM_METRICS, MARKET_METRICS)}
#: metric name -> its first registry entry (labels and units do not depend on the level)
METRIC_INFO: dict[str, Metric] = {}
for _metric in REGISTRY:
    METRIC_INFO.setdefault(_metric.name, _metric)
#: Metrics that scale with the population (money and counts): ``value_scaled`` is set for them.
EXTENSIVE_METRICS = sorted({m.name for m in REGISTRY if m.scales})


def hhi(shares: np.ndarray) -> float:
    """Herfindahl-Hirschman index of market shares given as fractions (0..1 scale)."""
    return float(np.sum(np.square(shares)))


def gini(values: np.ndarray) -> float:
    """Gini coefficient of non-negative values (0 equal, 1 one holds everything)."""
    x = np.sort(np.asarray(values, dtype=np.float64))
    total = x.sum()
    if len(x) == 0 or total <= 0:
        return 0.0
    ranks = np.arange(1, len(x) + 1)
    return float((2.0 * np.sum(ranks * x) / (len(x) * total)) - (len(x) + 1) / len(x))


def quantiles(values: np.ndarray, qs: tuple[float, ...]) -> np.ndarray:
    """``np.quantile(values, qs, axis=0)`` (the linear method), the same bits at a fraction of the cost.

    numpy partitions along axis 0 of a strided array at several order statistics; here each
    column is sorted as one contiguous row (a vectorised sort, several times faster), giving the
    same order statistics, then interpolated as numpy does (its two-sided lerp), so the result is
    identical, NaN columns included.
    """
    x = np.asarray(values, dtype=np.float64)
    rows = np.array(x.reshape(len(x), -1).T, order="C")  # (columns, n), always a copy: sorted in place
    n = rows.shape[1]
    virtual = (n - 1) * np.asarray(qs, dtype=np.float64)
    below = np.floor(virtual).astype(np.intp)
    above = np.minimum(below + 1, n - 1)
    rows.sort(axis=1)
    a, b, t = rows[:, below], rows[:, above], (virtual - below)
    diff = b - a
    out = a + diff * t
    np.subtract(b, diff * (1 - t), out=out, where=t >= 0.5)
    out[np.isnan(rows[:, -1])] = np.nan  # sorting puts NaN last: a column with one is NaN
    return out.T.reshape((len(qs), *x.shape[1:]))


def _top_share(values: np.ndarray, fraction: float) -> float:
    total = values.sum()
    if total <= 0:
        return 0.0
    k = max(1, int(round(len(values) * fraction)))
    return float(np.sort(values)[-k:].sum() / total)


def _share(x: np.ndarray) -> np.ndarray:
    total = x.sum()
    return x / total if total > 0 else np.zeros_like(x)


def _stack(level: str, values: dict[str, np.ndarray | float], names: tuple[str, ...]) -> np.ndarray:
    """Values in registry order, along a last axis; a computed name the registry lacks (or the reverse) is a bug."""
    if values.keys() != _NAME_SETS[names]:
        missing, extra = sorted(set(names) - set(values)), sorted(set(values) - set(names))
        raise RuntimeError(f"{level} metrics differ from the registry: missing {missing}, not registered {extra}")
    return np.ascontiguousarray(np.moveaxis(np.array([values[k] for k in names], dtype=np.float64), 0, -1))


class Recorder:
    """Collects each day's measurements of one model (reads the day's ledger; books nothing)."""

    def __init__(self, model):
        self.model = model
        self.names = [p.name for p in model.platform_list]
        self.by_channel: list[np.ndarray] = []  # (P, C, len(CHANNEL_METRICS))
        self.by_platform: list[np.ndarray] = []  # (P, len(PLATFORM_METRICS))
        self.market: list[np.ndarray] = []  # (len(MARKET_METRICS),)
        self.head_streamer = -1
        self.rank_head_streamer()
        self.last_order_step = np.full((model.config.consumers, len(self.names)), -(10**6), np.int32)

    def rank_head_streamer(self) -> None:
        """The streamer ``head_streamer_gmv_rmb`` follows: today's most popular hired streamer.

        Ranked when the run starts, and again when a branched run leaves its warm state
        (:mod:`livemarket.sweeps.branching`): the head of the market the arms start from, the
        streamer a ``streamer_rank = 0`` scandal on the branch date hits.
        """
        s = self.model.streamers
        ranked = hired_by_popularity(s.popularity, s.is_hired & s.active)
        self.head_streamer = int(ranked[0]) if len(ranked) else -1

    def record(self, ctx, orders, out, ledger, stats: dict, flows: dict, live: np.ndarray) -> None:
        """Measure the day just simulated from its orders, outcomes, ledger and consumer statistics."""
        m, n_p, n_c = self.model, len(self.names), len(rules.CHANNELS)
        v, kept_v = ledger.value_rmb, ledger.kept_value_rmb
        refunded_v = v - kept_v  # = v * ~kept, exactly
        cell, cells = orders.platform * n_c + orders.channel, n_p * n_c
        src = orders.source + 1  # shift so "no source" (-1) lands in bin 0
        live_orders, links = rules.is_live_room(orders.channel), rules.is_link(orders.channel)
        before = self._last_order_steps(orders)
        sums = tally.bincounts({
            "gmv_rmb": (cell, v, cells), "gmv_net_rmb": (cell, kept_v, cells),
            "orders": (cell, np.ones_like(v), cells), "returns": (cell, out.returned, cells),
            "refunds_rmb": (cell, refunded_v, cells),
            "orders_delayed": (orders.platform, out.delayed, n_p),
            "live_room_gmv_rmb": (src, np.where(live_orders, v, 0.0), n_p + 1),
            "outbound_link_gmv_rmb": (src, np.where(links, v, 0.0), n_p + 1),
            "video_gmv_rmb": (src, np.where(rules.is_video(orders.channel), v, 0.0), n_p + 1),
            "outbound_link_orders": (src, links, n_p + 1), "live_orders": (src, live_orders, n_p + 1),
            **{f"repeat_{d}d": (orders.platform, m.day - before <= d, n_p) for d in REPEAT_WINDOWS_DAYS},
        }, m.kernels)  # fmt: skip
        chan = {k: sums[k].reshape(n_p, n_c) for k in ("gmv_rmb", "gmv_net_rmb", "orders", "returns", "refunds_rmb")}
        by_source = {k: sums[k][1:] for k in ("live_room_gmv_rmb", "outbound_link_gmv_rmb", "video_gmv_rmb",
                                              "outbound_link_orders", "live_orders")}  # fmt: skip

        revenue = ledger.revenue_rmb
        minutes = stats["minutes_sum"]
        gmv_p = chan["gmv_rmb"].sum(axis=1)
        live_gmv = chan["gmv_rmb"][:, : rules.LIVE_SEARCH + 1]
        trust, users = stats["trust"], stats["users"]
        q10, q50, q90 = quantiles(trust, (0.1, 0.5, 0.9))
        f_trust, f_plat = stats["follow_trust"], stats["follow_platform"]
        f_count = np.bincount(f_plat, minlength=n_p)
        st = m.streamers
        hired = st.brand < 0
        sold = orders.streamer >= 0
        st_home = st.platform[orders.streamer[sold]]
        plat = {
            "revenue_commission_rmb": revenue[0], "revenue_link_fees_rmb": revenue[1],
            "revenue_ads_rmb": revenue[2], "revenue_splash_ads_rmb": revenue[3],
            "traffic_cost_rmb": ledger.traffic_cost_rmb, "gmv_rmb": gmv_p,
            "gmv_net_rmb": chan["gmv_net_rmb"].sum(axis=1), "orders": chan["orders"].sum(axis=1),
            "gmv_share": _share(gmv_p), "live_gmv_share": _share(live_gmv.sum(axis=1)), "users": users,
            "minutes_per_user": minutes / np.maximum(users, 1), "churned": flows["churned"],
            "joined": flows["joined"], "trust_mean": trust.mean(axis=0), "trust_p10": q10, "trust_p50": q50,
            "trust_p90": q90, "streamer_trust_mean": np.bincount(f_plat, f_trust, n_p) / np.maximum(f_count, 1),
            "orders_delayed": sums["orders_delayed"], "returns": chan["returns"].sum(axis=1),
            "live_room_gmv_rmb": by_source["live_room_gmv_rmb"],
            "outbound_link_gmv_rmb": by_source["outbound_link_gmv_rmb"], "video_gmv_rmb": by_source["video_gmv_rmb"],
            **self._funnel(ctx, orders, minutes, by_source["live_orders"], chan, sums),
            "streamer_income_rmb": np.bincount(st_home, ledger.commission_rmb[sold], n_p),
            "platform_profit_rmb": revenue.sum(axis=0) - ledger.traffic_cost_rmb,
            "brand_shops": (m.brands.own_shop & ctx.sells_in_room).sum(axis=0) * ~ctx.is_shelf,
            "hired_streamers_active": np.bincount(st.platform[hired & st.active], minlength=n_p),
            "followers": np.bincount(st.platform, st.followers, n_p),
            "multihoming_share": stats["multihoming_share"], "wallet_ok_share": stats["wallet_ok_share"],
            "outbound_link_orders": by_source["outbound_link_orders"],
        }  # fmt: skip

        hired = st.brand < 0
        from_accounts = (orders.streamer >= 0) & (st.brand[np.maximum(orders.streamer, 0)] >= 0)
        live_total = v[live_orders].sum()
        ft = f_trust if len(f_trust) else np.zeros(1)
        f10, f50, f90 = quantiles(ft, (0.1, 0.5, 0.9))
        market = {
            "gmv_rmb": v.sum(), "gmv_net_rmb": kept_v.sum(), "orders": len(v), "refunds_rmb": refunded_v.sum(),
            "brand_receipts_rmb": ledger.brand_receipt_rmb.sum(), "streamer_receipts_rmb": ledger.commission_rmb.sum(),
            "platform_receipts_rmb": (ledger.take_rmb + ledger.link_fee_rmb).sum(), "hhi": hhi(_share(gmv_p)),
            "consumer_surplus_rmb": orders.surplus_rmb, "adopter_share": stats["adopter_share"],
            "multihoming_rate": stats["multihoming_rate"],
            "return_rate": np.count_nonzero(out.returned) / len(v) if len(v) else 0.0,
            "orders_delayed": out.delayed.sum(),
            "streamer_gini": gini(st.gmv_rmb[hired]), "streamer_top1_share": _top_share(st.gmv_rmb[hired], 0.01),
            "self_broadcast_share": v[from_accounts].sum() / live_total if live_total > 0 else 0.0,
            "live_streamers": live.sum(), "scandals": len(ctx.scandals), "adopted": flows["adopted"],
            "planned_replaced": orders.planned_replaced,
            "minutes_per_consumer": minutes.sum() / m.config.consumers, "streamer_trust_mean": ft.mean(),
            "streamer_trust_p10": f10, "streamer_trust_p50": f50, "streamer_trust_p90": f90,
            "head_streamer_gmv_rmb": v[orders.streamer == self.head_streamer].sum(),
            "streamer_reputation_mean": (
                st.reputation[hired].mean() if hired.any() else m.config.behaviour.trust_prior_streamer
            ),
            "brand_accounts_live": (live & ~hired).sum(),
            **self._welfare(orders, out, ledger, live, hired),
            "hhi_revenue": hhi(_share(revenue.sum(axis=0))),
        }  # fmt: skip
        self.by_channel.append(_stack(_CH, chan, CHANNEL_METRICS))
        self.by_platform.append(_stack(_PL, plat, PLATFORM_METRICS))
        self.market.append(_stack(_MK, market, MARKET_METRICS))

    def _last_order_steps(self, orders) -> np.ndarray:
        """Each order's buyer's previous order day on its platform (far in the past if none); today becomes it."""
        n_p, compiled = len(self.names), self.model.kernels
        last = self.last_order_step.reshape(-1)  # flat cells: faster than the 2-D index, same cells
        if compiled is not None:
            return compiled.last_order_steps(last, orders.consumer, orders.platform, n_p, self.model.day)
        cell = orders.consumer * n_p + orders.platform
        before = last[cell]
        last[cell] = self.model.day
        return before

    def _funnel(self, ctx, orders, minutes, live_n, chan, sums) -> dict:
        """Conversion funnel by platform (impressions, visits, considerations, orders) and repeat orders."""
        n_p = len(self.names)
        funnel = orders.funnel if orders.funnel is not None else np.zeros((4, n_p))
        counts = chan["orders"].sum(axis=1)
        repeat = {
            f"repeat_order_share_{d}d": sums[f"repeat_{d}d"] / np.maximum(counts, 1) for d in REPEAT_WINDOWS_DAYS
        }  # fmt: skip
        return {
            "aov_rmb": chan["gmv_rmb"].sum(axis=1) / np.maximum(counts, 1),
            "live_impressions_min": minutes * ctx.live_share,
            "live_visits": funnel[0], "live_considerations": funnel[1], "live_orders": live_n,
            "live_conversion_rate": live_n / np.maximum(funnel[0], 1), **repeat,
            "video_views": funnel[2], "video_considerations": funnel[3],
        }  # fmt: skip

    def _welfare(self, orders, out, ledger, live, hired) -> dict:
        """Experienced consumer surplus, brand producer surplus, platform profit and their total (RMB today)."""
        cfg, b = self.model.config, self.model.brands
        v = ledger.value_rmb
        lost = (out.bad & ledger.kept).astype(float) * v * cfg.behaviour.bad_outcome_loss_share
        hassle = out.returned * v * cfg.behaviour.return_hassle_share
        experienced = orders.surplus_rmb - lost.sum() - hassle.sum()
        staff = (live & ~hired).sum() * cfg.brands.self_broadcast_cost_rmb_per_day * cfg.consumers / 10_000
        cost = cfg.brands.unit_cost_share * b.base_price_rmb[orders.brand] * ledger.kept
        producer = ledger.brand_receipt_rmb.sum() - cost.sum() - staff
        profit = ledger.revenue_rmb.sum() - ledger.traffic_cost_rmb.sum()
        return {
            "experienced_surplus_rmb": experienced, "producer_surplus_rmb": producer, "platform_profit_rmb": profit,
            "total_welfare_rmb": experienced + producer + profit + ledger.commission_rmb.sum(),
            "price_index": float(np.mean(b.price_rmb / b.base_price_rmb)) if len(b.price_rmb) else 1.0,
        }  # fmt: skip

    # ------------------------------------------------------------------ reading
    def last(self, metric: str) -> float:
        """Market metric of the latest recorded day (nan before the first day)."""
        return float(self.market[-1][MARKET_METRICS.index(metric)]) if self.market else float("nan")

    def last_share(self, platform: int) -> float:
        """GMV share of a platform on the latest recorded day."""
        if not self.by_platform:
            return float("nan")
        return float(self.by_platform[-1][platform, PLATFORM_METRICS.index("gmv_share")])

    def window_sums(self, metric: str, platform: int, channels: tuple[int, ...], days: int) -> tuple[float, float]:
        """Sum of a platform metric over ``channels`` for the last ``days`` days and the ``days`` before."""
        j = CHANNEL_METRICS.index(metric)
        series = [sum(d[platform, c, j] for c in channels) for d in self.by_channel]
        return float(sum(series[-days:])), float(sum(series[-2 * days : -days]))

    def table(self) -> pl.DataFrame:
        """All recorded days as one tidy long polars frame."""
        if not self.market:
            none = _strings([], np.zeros(0, np.int64))
            return _frame(np.zeros(0, np.int32), none, none, none, np.zeros(0), self.model)
        days = len(self.market)
        chans = list(rules.CHANNELS)
        parts = [
            (np.stack(self.by_channel), [self.names, chans, list(CHANNEL_METRICS)]),
            (np.stack(self.by_platform), [self.names, ["all"], list(PLATFORM_METRICS)]),
            (np.stack(self.market), [["all"], ["all"], list(MARKET_METRICS)]),
        ]
        cols: dict[str, list] = {"step": [], "platform": [], "channel": [], "metric": [], "value": []}
        for values, (plats, chs, mets) in parts:
            values = values.reshape(days, len(plats), len(chs), len(mets))
            d, p, c, k = np.meshgrid(
                np.arange(days), np.arange(len(plats)), np.arange(len(chs)), np.arange(len(mets)), indexing="ij"
            )
            cols["step"].append(d.ravel())
            cols["platform"].append(_strings(plats, p.ravel()))
            cols["channel"].append(_strings(chs, c.ravel()))
            cols["metric"].append(_strings(mets, k.ravel()))
            cols["value"].append(values.ravel())
        step, value = np.concatenate(cols["step"]), np.concatenate(cols["value"])
        return _frame(step, *(pl.concat(cols[k]) for k in ("platform", "channel", "metric")), value, self.model)


def _strings(labels: list[str], codes: np.ndarray) -> pl.Series:
    """The string column ``labels[codes]``, gathered by polars (no Python string per row)."""
    return pl.Series(labels, dtype=pl.String).gather(codes)


def _frame(step, platform: pl.Series, channel: pl.Series, metric: pl.Series, value, model) -> pl.DataFrame:
    scale = model.config.population_scale
    df = pl.DataFrame(
        {
            "run_id": pl.repeat(model.run_id, len(step), dtype=pl.String, eager=True),
            "step": pl.Series(np.asarray(step, dtype=np.int32)),
            "platform": platform.alias("platform"),
            "channel": channel.alias("channel"),
            "metric": metric.alias("metric"),
            "value": pl.Series(np.asarray(value, dtype=np.float64)),
        }
    )
    start = model.start_date
    return df.with_columns(
        date=(pl.lit(start, dtype=pl.Date) + pl.duration(days=pl.col("step"))).cast(pl.Date),
        value_scaled=pl.when(pl.col("metric").is_in(EXTENSIVE_METRICS))
        .then(pl.col("value") * scale)
        .otherwise(None),
    ).select("run_id", "step", "date", "platform", "channel", "metric", "value", "value_scaled")

