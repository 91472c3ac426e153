"""What every consumer reads on one day: platform settings, live rooms, orders, outcomes.

The model builds one :class:`DayContext` per day from yesterday's state (synchronous
update); the consumer engines read it and never write it.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from livemarket.core.sampling import WeightedGroups  # re-exported: its old home

__all__ = ["REVENUE_SOURCES", "DayContext", "Orders", "Outcomes", "WeightedGroups"]


#: Revenue sources recorded per platform, in RMB.
REVENUE_SOURCES = ("commission", "link_fees", "ads", "splash_ads")


@dataclass
class DayContext:
    """Yesterday's market state as seen by consumers today. Arrays are indexed by platform."""

    step: int
    demand_multiplier: float
    is_shelf: np.ndarray  # bool (P,)
    feed_mode: np.ndarray
    ad_load: np.ndarray
    live_share: np.ndarray  # zero for platforms without live rooms
    promotion: np.ndarray  # Bass p per platform, hazard per day
    protection: np.ndarray
    minutes_target: np.ndarray  # long-run minutes per day at today's ad load
    minutes_cap: np.ndarray  # highest target so far: no one spends more minutes than this
    link_allowed: np.ndarray  # bool (P, P): live rooms on p may link to shelf q
    link_friction: np.ndarray  # (P, P) extra utility cost of links opened during the run
    accepts: np.ndarray  # bool (P, W): wallets accepted at checkout
    primary_wallet: np.ndarray  # int (P,): wallet a buyer gets when paying there
    sells_in_room: np.ndarray  # bool (B, P): brand sold inside live rooms of p
    listed: np.ndarray  # bool (B, P): brand listed on shelf platform q
    price_rmb: np.ndarray  # (B,)
    brand_trust: np.ndarray  # (B,) public reputation
    brand_category: np.ndarray  # (B,)
    streamer_trust: np.ndarray  # (S,) public reputation
    streamer_category: np.ndarray  # (S,)
    streamer_platform: np.ndarray  # (S,)
    live: np.ndarray  # bool (S,): on air today
    product: np.ndarray  # int (S,): brand sold today, -1 when off air
    rooms: WeightedGroups  # live streamers by platform * K + category
    shelf_brands: WeightedGroups  # brands by platform * K + category, listed there
    splash: list[tuple[int, int, float]]  # (buyer q, seller p, daily reach)
    scandals: list[int] = field(default_factory=list)  # streamers hit today
    n_categories: int = 1
    install_pull: np.ndarray | None = None  # (P,) extra daily install hazard of non-users (None: zeros)
    link_markup: np.ndarray | None = None  # (P,) price markup of outbound-link orders from p's rooms (fee pass-through)

    def __post_init__(self) -> None:
        n_p = len(self.is_shelf)
        if self.install_pull is None:
            self.install_pull = np.zeros(n_p)
        if self.link_markup is None:
            self.link_markup = np.zeros(n_p)


#: Order columns and their types in :class:`Orders`.
ORDER_FIELDS = {
    "consumer": np.int64, "brand": np.int64, "platform": np.int64, "source": np.int64, "channel": np.int64,
    "streamer": np.int64, "edge": np.int64, "price_rmb": np.float64, "impulsivity": np.float64,
}  # fmt: skip


@dataclass
class Orders:
    """Today's orders, one entry per order, in a fixed order (live, planned, splash)."""

    consumer: np.ndarray
    brand: np.ndarray
    platform: np.ndarray  # where the order is paid
    source: np.ndarray  # platform whose live room or splash ad sent it, -1 for none
    channel: np.ndarray  # index into rules.CHANNELS
    streamer: np.ndarray  # -1 for none
    edge: np.ndarray  # follow edge consumer -> streamer, -1 for none
    price_rmb: np.ndarray
    impulsivity: np.ndarray
    surplus_rmb: float = 0.0  # consumer surplus (logit log-sum) over all choices today
    splash_views: np.ndarray | None = None  # (P,) splash impressions sold by each platform
    funnel: np.ndarray | None = None  # (4, P) live-room visits, considerations; product-video views, considerations
    planned_replaced: int = 0  # planned purchases not made: the buyer's earlier content orders had made them

    def __len__(self) -> int:
        return len(self.consumer)

    @staticmethod
    def concat(parts: list[dict[str, np.ndarray]], surplus_rmb: float, splash_views, funnel=None, replaced=0) -> Orders:
        """Join order fragments in the given order: dicts of equal-length arrays, or of scalars shared by a fragment.

        ``consumer`` is always an array (it gives the fragment's length).
        """
        ends = np.cumsum([0] + [len(p["consumer"]) for p in parts]).tolist()
        cols = {}
        for k, dtype in ORDER_FIELDS.items():
            cols[k] = col = np.empty(ends[-1], dtype)
            for p, start, end in zip(parts, ends[:-1], ends[1:], strict=True):
                col[start:end] = p[k]  # a scalar fills its fragment
        return Orders(
            **cols, surplus_rmb=surplus_rmb, splash_views=splash_views, funnel=funnel, planned_replaced=replaced
        )


@dataclass
class Outcomes:
    """How each order ended (same order as :class:`Orders`)."""

    delayed: np.ndarray  # bool: shipped late because the brand's capacity overflowed
    bad: np.ndarray  # bool: quality, logistics or delay problem
    returned: np.ndarray  # bool: sent back and refunded
    covered: np.ndarray  # bool: bad and covered by platform protection, returned or kept (softens trust)

    @property
    def protected(self) -> np.ndarray:
        """Bad, covered and kept: refunded by platform protection."""
        return self.covered & ~self.returned
