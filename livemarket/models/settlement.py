"""Settlement: who receives each order's value, booked into the brand, streamer and platform ledgers.

Settlement is a step of the day (after fulfilment, before recording): :func:`settle` splits
every kept order's value into the platform's take, the outbound-link fee of the platform
whose live room sent it, the streamer's commission and the brand's receipt, adds the
platforms' ad and splash-ad revenue, and books them. The recorder only reads the
:class:`Ledger` it returns. Brands learn from the booked ledgers (monthly review).

Accounting identity, per day: order values = brand receipts + streamer commissions +
platform take and link fees + refunds (returned or protection-refunded orders).

Example:
    >>> from livemarket import LiveCommerceModel
    >>> model = LiveCommerceModel("minimal", consumers=300, rng=2)
    >>> model.step()
    >>> led = model.ledger
    >>> bool(abs(led.gmv_rmb - led.brand_receipts_rmb - led.commission_rmb.sum()
    ...          - led.platform_receipts_rmb - led.refunds_rmb) < 1e-6)
    True
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from livemarket.core import rules
from livemarket.core.context import REVENUE_SOURCES, DayContext, Orders, Outcomes

__all__ = ["Ledger", "book_platforms", "settle", "settle_orders"]



@dataclass
class Ledger:
    """The day's money, per order (same order as :class:`Orders`) and per platform."""

    value_rmb: np.ndarray  # order value paid by the buyer
    kept: np.ndarray  # bool: neither returned nor refunded by protection
    kept_value_rmb: np.ndarray  # value of kept orders, 0 for the others
    take_rmb: np.ndarray  # platform take on kept orders (where paid)
    link_fee_rmb: np.ndarray  # outbound-link fee on kept orders (to the sending platform)
    commission_rmb: np.ndarray  # streamer commission on kept orders
    brand_receipt_rmb: np.ndarray  # what the brand keeps of each kept order
    revenue_rmb: np.ndarray  # (len(REVENUE_SOURCES), P) platform revenue today by source
    traffic_cost_rmb: np.ndarray  # (P,) splash traffic bought by each platform today

    @property
    def gmv_rmb(self) -> float:
        """Value of today's orders."""
        return float(self.value_rmb.sum())

    @property
    def refunds_rmb(self) -> float:
        """Value of orders returned or refunded by protection."""
        return float((self.value_rmb - self.kept_value_rmb).sum())  # = value * ~kept, exactly

    @property
    def brand_receipts_rmb(self) -> float:
        """What brands keep today."""
        return float(self.brand_receipt_rmb.sum())

    @property
    def platform_receipts_rmb(self) -> float:
        """Platforms' take and link fees today (ads excluded: they are not paid out of orders)."""
        return float((self.take_rmb + self.link_fee_rmb).sum())


def settle(
    model, ctx: DayContext, orders: Orders, out: Outcomes, minutes_sum: np.ndarray, live: np.ndarray
) -> Ledger:
    """Split the day's order values and book them into every ledger of ``model``.

    Args:
        model: the :class:`~livemarket.models.market.LiveCommerceModel` (its brands,
            streamers and platforms are booked).
        ctx: today's context.
        orders: today's orders.
        out: their outcomes (fulfilment).
        minutes_sum: (P,) total minutes spent on each platform today (ad revenue).
        live: bool (S,) streamers on air today (self-broadcast staff cost).
    """
    return book_platforms(model, ctx, settle_orders(model, ctx, orders, out, live), minutes_sum)


def settle_orders(model, ctx: DayContext, orders: Orders, out: Outcomes, live: np.ndarray) -> Ledger:
    """:func:`settle` but the platforms' books: the orders' splits, booked into brand and streamer ledgers.

    It reads and writes no consumer state, so the model runs it beside the consumers' learning
    (:meth:`~livemarket.models.market.LiveCommerceModel.step`). The ledger's ad revenue is
    zero until :func:`book_platforms` adds it from the day's minutes.
    """
    cfg = [p.config for p in model.platform_list]
    n_p = len(cfg)
    v = orders.price_rmb
    kept = ~(out.returned | out.protected)
    kept_value = v * kept  # rate * kept_value = rate * v * kept exactly: kept is 0 or 1, rates and values >= 0
    take = np.array([c.take_rate for c in cfg])[orders.platform] * kept_value
    fee_rate = np.array([c.ext_link_fee for c in cfg])[np.maximum(orders.source, 0)]
    link_fee = np.where(rules.is_link(orders.channel), fee_rate, 0.0) * kept_value
    st = model.streamers
    commission = np.where(orders.streamer >= 0, st.commission[np.maximum(orders.streamer, 0)], 0.0) * kept_value
    brand_receipt = kept_value - take - link_fee - commission

    splash_price = np.array([c.splash_price_rmb_per_view for c in cfg])
    splash_sold = orders.splash_views * splash_price
    traffic_cost = np.zeros(n_p)
    for q, p, _ in ctx.splash:
        buyers = max(sum(1 for x in ctx.splash if x[1] == p), 1)
        traffic_cost[q] += orders.splash_views[p] * splash_price[p] / buyers
    revenue = np.stack([
        np.bincount(orders.platform, take, n_p),
        np.bincount(np.maximum(orders.source, 0), link_fee, n_p),
        np.zeros(n_p), splash_sold,
    ])  # fmt: skip
    ledger = Ledger(
        value_rmb=v, kept=kept, kept_value_rmb=kept_value, take_rmb=take, link_fee_rmb=link_fee,
        commission_rmb=commission, brand_receipt_rmb=brand_receipt, revenue_rmb=revenue, traffic_cost_rmb=traffic_cost,
    )  # fmt: skip
    _book_brands(model, orders, ledger, live)
    sold, n_s = orders.streamer >= 0, len(st.gmv_rmb)
    gmv = np.bincount(orders.streamer[sold], v[sold], n_s)
    income = np.bincount(orders.streamer[sold], commission[sold], n_s)
    st.gmv_rmb += gmv
    st.month_gmv_rmb += gmv
    st.month_income_rmb += income
    return ledger


def book_platforms(model, ctx: DayContext, ledger: Ledger, minutes_sum: np.ndarray) -> Ledger:
    """The last step of :func:`settle`: the day's ad revenue (from ``minutes_sum``) and each platform's books."""
    ad_price = np.array([p.config.ad_price_rmb_per_minute for p in model.platform_list])
    ledger.revenue_rmb[REVENUE_SOURCES.index("ads")] = minutes_sum * ctx.ad_load * ad_price
    for pl_ in model.platform_list:
        for source, amounts in zip(REVENUE_SOURCES, ledger.revenue_rmb, strict=True):
            pl_.revenue_rmb[source] += float(amounts[pl_.index])
    return ledger


def _book_brands(model, orders: Orders, ledger: Ledger, live: np.ndarray) -> None:
    """Month-to-date brand ledgers: receipts by seller and platform, staff cost, fees, live demand by room."""
    b, st, receipt = model.brands, model.streamers, ledger.brand_receipt_rmb
    n_b = len(b.category)
    seller = st.brand[np.maximum(orders.streamer, 0)]  # brand of the selling account, -1: hired host
    account = (orders.streamer >= 0) & (seller >= 0)
    hired = (orders.streamer >= 0) & (seller < 0)  # shelf and splash sales involve no streamer
    b.receipts_self_rmb += np.bincount(orders.brand[account], receipt[account], n_b)
    b.receipts_hired_rmb += np.bincount(orders.brand[hired], receipt[hired], n_b)
    on_air = live & (st.brand >= 0)
    cfg = model.config
    b.cost_self_rmb[st.brand[on_air]] += cfg.brands.self_broadcast_cost_rmb_per_day * cfg.consumers / 10_000
    # flat cells (row-major, as the 2-D index): np.add.at's fast 1-D path, the same additions in the same order
    by_platform = b.receipts_by_platform_rmb
    np.add.at(by_platform.reshape(-1), orders.brand * by_platform.shape[1] + orders.platform, receipt)
    b.fees_rmb += np.bincount(orders.brand, ledger.take_rmb + ledger.commission_rmb, n_b)  # link fees: at checkout
    b.sales_rmb += np.bincount(orders.brand, ledger.kept_value_rmb, n_b)
    content = rules.is_content(orders.channel)
    by_source = b.content_value_by_source_rmb
    room = orders.brand[content] * by_source.shape[1] + orders.source[content]
    np.add.at(by_source.reshape(-1), room, ledger.value_rmb[content])
