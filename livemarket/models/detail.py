"""Per-entity tables on request: daily GMV, orders, followers and trust per brand, streamer or city tier.

Off by default (they are large). ``LiveCommerceModel(..., detail=["brands"])`` or
``model.run(days, detail=[...])`` records them from then on; :meth:`DetailRecorder.tables`
returns one tidy frame per name with columns ``run_id, step, date, entity, id, metric, value``
(money and counts are simulated, not scaled to the real population).

Example:
    >>> from livemarket import LiveCommerceModel
    >>> m = LiveCommerceModel("minimal", consumers=300, rng=1, detail=["tiers"])
    >>> t = m.run(3)
    >>> sorted(m.detail_tables()["tiers"]["metric"].unique())
    ['consumers', 'gmv_rmb', 'orders']
"""

from __future__ import annotations

import numpy as np
import polars as pl

__all__ = ["DETAIL_TABLES", "DetailRecorder", "check_detail"]

#: table name -> its metrics
DETAIL_TABLES: dict[str, tuple[str, ...]] = {
    "brands": ("gmv_rmb", "orders", "price_rmb", "content_shops", "reputation"),
    "streamers": ("gmv_rmb", "orders", "followers", "reputation", "active"),
    "tiers": ("gmv_rmb", "orders", "consumers"),
}


def check_detail(names) -> tuple[str, ...]:
    """The requested table names, validated; a ValueError names any unknown one and the accepted names."""
    names = tuple(names or ())
    unknown = [n for n in names if n not in DETAIL_TABLES]
    if unknown:
        raise ValueError(f"detail: unknown table(s) {unknown} (accepted: {sorted(DETAIL_TABLES)})")
    return tuple(dict.fromkeys(names))


class DetailRecorder:
    """Daily per-entity values of the requested tables."""

    def __init__(self, model, names=()):
        self.model = model
        self.names = check_detail(names)
        self.days: dict[str, list[tuple[int, np.ndarray]]] = {n: [] for n in DETAIL_TABLES}

    def request(self, names) -> None:
        """Record these tables too from the next day on."""
        self.names = check_detail((*self.names, *check_detail(names)))

    def record(self, orders) -> None:
        """Measure today's per-entity values of every requested table."""
        m, step = self.model, self.model.day
        if "brands" in self.names:
            b, n = m.brands, len(m.brands.category)
            shelf = np.array([p.is_shelf for p in m.platform_list])
            self.days["brands"].append((step, np.stack([
                np.bincount(orders.brand, orders.price_rmb, n), np.bincount(orders.brand, minlength=n),
                b.price_rmb, (b.own_shop & ~shelf).sum(axis=1), b.reputation,
            ], axis=1)))  # fmt: skip
        if "streamers" in self.names:
            t, n = m.streamers, len(m.streamers.platform)
            sold = orders.streamer >= 0
            self.days["streamers"].append((step, np.stack([
                np.bincount(orders.streamer[sold], orders.price_rmb[sold], n),
                np.bincount(orders.streamer[sold], minlength=n), t.followers, t.reputation, t.active,
            ], axis=1)))  # fmt: skip
        if "tiers" in self.names:
            tier = m.consumer_tier
            k = len(m.config.consumer.tier_shares)
            bought = tier[orders.consumer]
            self.days["tiers"].append((step, np.stack([
                np.bincount(bought, orders.price_rmb, k), np.bincount(bought, minlength=k),
                np.bincount(tier, minlength=k),
            ], axis=1)))  # fmt: skip

    def tables(self) -> dict[str, pl.DataFrame]:
        """One tidy frame per requested table."""
        out = {}
        for name in self.names:
            metrics, days = DETAIL_TABLES[name], self.days[name]
            if not days:
                values, steps, n = np.zeros((0, len(metrics))), np.zeros(0, np.int64), 0
            else:
                n = days[0][1].shape[0]
                values = np.concatenate([v for _, v in days])
                steps = np.repeat([s for s, _ in days], n)
            ids = np.tile(np.arange(n), len(days))
            k = len(metrics)
            frame = pl.DataFrame({
                "run_id": pl.Series([self.model.run_id] * (len(steps) * k), dtype=pl.String),
                "step": pl.Series(np.repeat(steps, k).astype(np.int32)),
                "entity": pl.Series([name.removesuffix("s")] * (len(steps) * k), dtype=pl.String),
                "id": pl.Series(np.repeat(ids, k).astype(np.int64)),
                "metric": pl.Series(np.tile(np.array(metrics, dtype=object), len(steps)).tolist(), dtype=pl.String),
                "value": pl.Series(values.reshape(-1).astype(np.float64)),
            })  # fmt: skip
            start = self.model.start_date
            out[name] = frame.with_columns(
                date=(pl.lit(start, dtype=pl.Date) + pl.duration(days=pl.col("step"))).cast(pl.Date)
            ).select("run_id", "step", "date", "entity", "id", "metric", "value")
        return out
