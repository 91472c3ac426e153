"""Daily measurements and the tidy long results table.

Every day the :class:`Recorder` stores three blocks of numbers: by platform and channel,
by platform, and for the whole market. :meth:`Recorder.table` turns them into one polars
frame with columns ``run_id, step, date, platform, channel, metric, value, value_scaled``
(``platform``/``channel`` are ``"all"`` for aggregates; ``value_scaled`` multiplies
money and counts by ``population_scale`` and is null for shares, rates and trust).

Trust means and quantiles are taken over an evenly spaced sample of at most 5,000 consumers
(and 5,000 follow edges), so they are exact up to that population and cost the same beyond.

Accounting identity, every day: ``gmv_rmb = brand_receipts_rmb + streamer_receipts_rmb +
platform_receipts_rmb + refunds_rmb``.
"""

from __future__ import annotations

import numpy as np
import polars as pl

from livemarket.agents.platform import REVENUE_SOURCES
from livemarket.models import rules
from livemarket.models.policies import hired_by_popularity

__all__ = ["CHANNEL_METRICS", "EXTENSIVE_METRICS", "MARKET_METRICS", "PLATFORM_METRICS", "Recorder", "gini", "hhi"]

CHANNEL_METRICS = ("gmv_rmb", "gmv_net_rmb", "orders", "returns", "refunds_rmb")
PLATFORM_METRICS = (
    "revenue_commission_rmb", "revenue_link_fees_rmb", "revenue_ads_rmb", "revenue_splash_ads_rmb",
    "traffic_cost_rmb", "gmv_rmb", "gmv_net_rmb", "orders", "gmv_share", "live_gmv_share", "users",
    "minutes_per_user", "churned", "joined", "trust_mean", "trust_p10", "trust_p50", "trust_p90",
    "streamer_trust_mean", "orders_delayed", "returns", "live_room_gmv_rmb", "outbound_link_gmv_rmb",
)  # fmt: skip
MARKET_METRICS = (
    "gmv_rmb", "gmv_net_rmb", "orders", "refunds_rmb", "brand_receipts_rmb", "streamer_receipts_rmb",
    "platform_receipts_rmb", "hhi", "consumer_surplus_rmb", "adopter_share", "multihoming_rate",
    "return_rate", "orders_delayed", "streamer_gini", "streamer_top1_share", "self_broadcast_share",
    "live_streamers", "scandals", "adopted", "minutes_per_consumer", "streamer_trust_mean",
    "streamer_trust_p10", "streamer_trust_p50", "streamer_trust_p90", "head_streamer_gmv_rmb",
    "streamer_reputation_mean", "brand_accounts_live",
)  # fmt: skip
_EXTENSIVE_WORDS = ("orders", "returns", "users", "churned", "joined", "adopted")


#: Metrics that scale with the population (money and counts): ``value_scaled`` is set for them.
EXTENSIVE_METRICS = sorted(
    m
    for m in {*CHANNEL_METRICS, *PLATFORM_METRICS, *MARKET_METRICS}
    if m.endswith("_rmb") or m in _EXTENSIVE_WORDS or m == "orders_delayed"
)


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


def _top_share(values: np.ndarray, fraction: float) -> float:
    total = values.sum()
    if total <= 0:
        return 0.0
    k = max(1, int(round(len(values) * fraction)))
    return float(np.sort(values)[-k:].sum() / total)


def _share(x: np.ndarray) -> np.ndarray:
    total = x.sum()
    return x / total if total > 0 else np.zeros_like(x)


class Recorder:
    """Collects each day's measurements of one model."""

    def __init__(self, model):
        self.model = model
        self.names = [p.name for p in model.platform_list]
        self.by_channel: list[np.ndarray] = []  # (P, C, len(CHANNEL_METRICS))
        self.by_platform: list[np.ndarray] = []  # (P, len(PLATFORM_METRICS))
        self.market: list[np.ndarray] = []  # (len(MARKET_METRICS),)
        ranked = hired_by_popularity(model.streamers.popularity, model.streamers.is_hired)
        self.head_streamer = int(ranked[0]) if len(ranked) else -1  # "streamer_rank = 0" of scandals

    def record(self, ctx, orders, out, flows: dict, live: np.ndarray) -> None:
        """Measure the day just simulated."""
        m, n_p, n_c = self.model, len(self.names), len(rules.CHANNELS)
        stats = m.consumers.stats()
        v = orders.price_rmb
        kept = ~(out.returned | out.protected)
        cell = orders.platform * n_c + orders.channel
        chan = np.zeros((n_p, n_c, len(CHANNEL_METRICS)))
        for j, w in enumerate((v, v * kept, np.ones_like(v), out.returned, v * ~kept)):
            chan[:, :, j] = np.bincount(cell, w, n_p * n_c).reshape(n_p, n_c)

        # who receives each kept order's value
        cfg = [p.config for p in m.platform_list]
        take = np.array([c.take_rate for c in cfg])[orders.platform] * v * kept
        fee_rate = np.array([c.ext_link_fee for c in cfg])[np.maximum(orders.source, 0)]
        link_fee = np.where(orders.channel == rules.LIVE_LINK, fee_rate, 0.0) * v * kept
        st = m.streamers
        commission = np.where(orders.streamer >= 0, st.commission[np.maximum(orders.streamer, 0)], 0.0) * v * kept
        brand_receipt = v * kept - take - link_fee - commission
        self._book_brands(orders, brand_receipt, live)
        st.gmv_rmb += np.bincount(orders.streamer[orders.streamer >= 0], v[orders.streamer >= 0], len(st.gmv_rmb))

        minutes = stats["minutes_sum"]
        ads = minutes * ctx.ad_load * np.array([c.ad_price_rmb_per_minute for c in cfg])
        splash_price = np.array([c.splash_price_rmb_per_view for c in cfg])
        splash_sold = orders.splash_views * splash_price
        traffic_cost = np.zeros(n_p)
        for q, p, _ in ctx.splash:
            buyers = max(sum(1 for x in ctx.splash if x[1] == p), 1)
            traffic_cost[q] += orders.splash_views[p] * splash_price[p] / buyers
        revenue = np.stack([
            np.bincount(orders.platform, take, n_p),
            np.bincount(np.maximum(orders.source, 0), link_fee, n_p),
            ads, splash_sold,
        ])  # fmt: skip
        for pl_ in m.platform_list:
            for source, amounts in zip(REVENUE_SOURCES, revenue, strict=True):
                pl_.revenue_rmb[source] += float(amounts[pl_.index])

        gmv_p = chan[:, :, 0].sum(axis=1)
        live_orders = orders.channel <= rules.LIVE_SEARCH
        src = orders.source + 1  # shift so "no source" (-1) lands in bin 0
        live_gmv = chan[:, : rules.LIVE_SEARCH + 1, 0]
        trust, users = stats["trust"], stats["users"]
        q10, q50, q90 = np.quantile(trust, [0.1, 0.5, 0.9], axis=0)
        f_trust, f_plat = stats["follow_trust"], stats["follow_platform"]
        f_count = np.bincount(f_plat, minlength=n_p)
        plat = np.column_stack([
            revenue[0], revenue[1], revenue[2], revenue[3], traffic_cost, gmv_p, chan[:, :, 1].sum(axis=1),
            chan[:, :, 2].sum(axis=1), _share(gmv_p), _share(live_gmv.sum(axis=1)), users,
            minutes / np.maximum(users, 1), flows["churned"], flows["joined"], trust.mean(axis=0),
            q10, q50, q90, np.bincount(f_plat, f_trust, n_p) / np.maximum(f_count, 1),
            np.bincount(orders.platform, out.delayed, n_p), chan[:, :, 3].sum(axis=1),
            np.bincount(src, np.where(live_orders, v, 0.0), n_p + 1)[1:],
            np.bincount(src, np.where(orders.channel == rules.LIVE_LINK, v, 0.0), n_p + 1)[1:],
        ])  # fmt: skip

        hired = st.brand < 0
        from_accounts = (orders.streamer >= 0) & (st.brand[np.maximum(orders.streamer, 0)] >= 0)
        live_total = v[live_orders].sum()
        ft = f_trust if len(f_trust) else np.zeros(1)
        market = np.array([
            v.sum(), (v * kept).sum(), len(v), (v * ~kept).sum(), brand_receipt.sum(), commission.sum(),
            (take + link_fee).sum(), hhi(_share(gmv_p)), orders.surplus_rmb, stats["adopter_share"],
            stats["multihoming_rate"], out.returned.mean() if len(v) else 0.0,
            out.delayed.sum(), gini(st.gmv_rmb[hired]), _top_share(st.gmv_rmb[hired], 0.01),
            v[from_accounts].sum() / live_total if live_total > 0 else 0.0, live.sum(),
            len(ctx.scandals), flows["adopted"], minutes.sum() / m.config.consumers, ft.mean(),
            *np.quantile(ft, [0.1, 0.5, 0.9]), v[orders.streamer == self.head_streamer].sum(),
            st.reputation[hired].mean() if hired.any() else m.config.behaviour.trust_prior_streamer,
            (live & ~hired).sum(),
        ], dtype=np.float64)  # fmt: skip
        self.by_channel.append(chan)
        self.by_platform.append(plat)
        self.market.append(market)

    def _book_brands(self, orders, receipt: np.ndarray, live: np.ndarray) -> None:
        b, st = self.model.brands, self.model.streamers
        n_b = len(b.category)
        seller = st.brand[np.maximum(orders.streamer, 0)]  # brand of the selling account, -1: hired host
        account = (orders.streamer >= 0) & (seller >= 0)
        hired = (orders.streamer >= 0) & (seller < 0)  # shelf and splash sales involve no streamer
        b.receipts_self_rmb += np.bincount(orders.brand[account], receipt[account], n_b)
        b.receipts_hired_rmb += np.bincount(orders.brand[hired], receipt[hired], n_b)
        on_air = live & (st.brand >= 0)
        cfg = self.model.config
        b.cost_self_rmb[st.brand[on_air]] += cfg.brands.self_broadcast_cost_rmb_per_day * cfg.consumers / 10_000
        np.add.at(b.receipts_by_platform_rmb, (orders.brand, orders.platform), receipt)

    # ------------------------------------------------------------------ reading
    def last(self, metric: str) -> float:
        """Market metric of the latest recorded day (nan before the first day)."""
        return float(self.market[-1][MARKET_METRICS.index(metric)]) if self.market else float("nan")

    def last_share(self, platform: int) -> float:
        """GMV share of a platform on the latest recorded day."""
        if not self.by_platform:
            return float("nan")
        return float(self.by_platform[-1][platform, PLATFORM_METRICS.index("gmv_share")])

    def window_sums(self, metric: str, platform: int, channel: int, days: int) -> tuple[float, float]:
        """Sum of a platform-channel metric over the last ``days`` days and the ``days`` before."""
        j = CHANNEL_METRICS.index(metric)
        series = [d[platform, channel, j] for d in self.by_channel]
        return float(sum(series[-days:])), float(sum(series[-2 * days : -days]))

    def table(self) -> pl.DataFrame:
        """All recorded days as one tidy long polars frame."""
        if not self.market:
            return _frame([], [], [], [], [], self.model)
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
            cols["platform"].append(np.array(plats, dtype=object)[p.ravel()])
            cols["channel"].append(np.array(chs, dtype=object)[c.ravel()])
            cols["metric"].append(np.array(mets, dtype=object)[k.ravel()])
            cols["value"].append(values.ravel())
        return _frame(*(np.concatenate(cols[k]) for k in cols), self.model)


def _frame(step, platform, channel, metric, value, model) -> pl.DataFrame:
    scale = model.config.population_scale
    df = pl.DataFrame(
        {
            "run_id": pl.Series([model.run_id] * len(step), dtype=pl.String),
            "step": pl.Series(np.asarray(step, dtype=np.int32)),
            "platform": pl.Series(list(platform), dtype=pl.String),
            "channel": pl.Series(list(channel), dtype=pl.String),
            "metric": pl.Series(list(metric), dtype=pl.String),
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

