"""Brands: the supply side. State lives in one :class:`BrandTable`; ``Brand`` agents view a row."""

from __future__ import annotations

from dataclasses import dataclass

import mesa
import numpy as np

__all__ = ["Brand", "BrandTable"]


@dataclass
class BrandTable:
    """Column state of all brands (row ``i`` belongs to the brand with ``row == i``)."""

    category: np.ndarray  # int, product category
    quality: np.ndarray  # in [0, 1]
    price_rmb: np.ndarray  # list price of the brand's product
    capacity_orders_per_day: np.ndarray  # orders shipped on time per day
    listed: np.ndarray  # bool (brands, platforms): listed on that shelf platform
    own_shop: np.ndarray  # bool (brands, platforms): has a shop on that platform
    self_broadcast: np.ndarray  # in [0, 1]: intensity of the brand's own live account
    home_platform: np.ndarray  # int: content platform of the brand's own live account
    rep_a: np.ndarray  # public reputation evidence (good)
    rep_b: np.ndarray  # public reputation evidence (bad)
    receipts_self_rmb: np.ndarray  # month to date, from own-account sales
    receipts_hired_rmb: np.ndarray  # month to date, from hired-streamer sales
    cost_self_rmb: np.ndarray  # month to date, cost of self-broadcasting
    receipts_by_platform_rmb: np.ndarray  # (brands, platforms), month to date
    base_price_rmb: np.ndarray  # price before any pass-through of fees and commissions
    fees_rmb: np.ndarray  # month to date: take and commissions on kept orders (link fees are passed at checkout)
    sales_rmb: np.ndarray  # month to date: value of the brand's kept orders
    content_value_by_source_rmb: np.ndarray  # (brands, platforms) month to date: live-room and video sales by platform

    @property
    def reputation(self) -> np.ndarray:
        """Public trust in each brand, a / (a + b)."""
        return self.rep_a / (self.rep_a + self.rep_b)

    def reset_month(self) -> None:
        """Start new month-to-date ledgers."""
        for arr in (self.receipts_self_rmb, self.receipts_hired_rmb, self.cost_self_rmb, self.fees_rmb,
                    self.sales_rmb, self.receipts_by_platform_rmb, self.content_value_by_source_rmb):  # fmt: skip
            arr[:] = 0.0

    def reprice(self, pass_through: float) -> None:
        """Pass a share of last month's fee burden into prices (docs/ODD.md, "The dynamic market": prices answer costs).

        With fee burden ``f`` (platform take and commissions over kept sales; outbound-link fees
        are passed into the checkout price of link orders instead), full pass-through sets the
        price to ``base / (1 - f)`` so the brand keeps its base receipt per order; a share ``s``
        moves it part of the way: ``base * (1 + s * f / (1 - f))``. Brands that sold nothing keep
        their price.
        """
        sold = self.sales_rmb > 0
        burden = np.minimum(self.fees_rmb[sold] / self.sales_rmb[sold], 0.95)
        self.price_rmb[sold] = self.base_price_rmb[sold] * (1.0 + pass_through * burden / (1.0 - burden))


class Brand(mesa.Agent):
    """A brand; reads and writes its row of the model's :class:`BrandTable`."""

    def __init__(self, model: mesa.Model, row: int):
        super().__init__(model)
        self.row = row

    @property
    def _t(self) -> BrandTable:
        return self.model.brands

    category = property(lambda self: int(self._t.category[self.row]))
    quality = property(lambda self: float(self._t.quality[self.row]))
    price_rmb = property(lambda self: float(self._t.price_rmb[self.row]))
    self_broadcast = property(lambda self: float(self._t.self_broadcast[self.row]))
    reputation = property(lambda self: float(self._t.reputation[self.row]))

    def review_month(self) -> None:
        """Monthly learning: move self-broadcast intensity toward the channel that paid more.

        Profit per unit of intensity is compared between the brand's own live account
        (receipts minus staff cost) and hired streamers (receipts net of commission); the
        intensity moves by ``learning_rate`` times the normalised difference. Then listings
        are re-chosen: a shelf listing that sold nothing this month is dropped (keeping at
        least one) and an unlisted shelf platform is tried with probability ``learning_rate``.
        """
        t, r, cfg = self._t, self.row, self.model.config.brands
        s = float(t.self_broadcast[r])
        own = (t.receipts_self_rmb[r] - t.cost_self_rmb[r]) / max(s, 0.02)
        hired = t.receipts_hired_rmb[r] / max(1.0 - s, 0.02)
        scale = abs(own) + abs(hired)
        if scale > 0:
            s += cfg.learning_rate * (own - hired) / scale
        t.self_broadcast[r] = min(0.98, max(0.02, s))

        shelf = self.model.shelf_indices
        listed = [q for q in shelf if t.listed[r, q]]
        idle = [q for q in listed if t.receipts_by_platform_rmb[r, q] <= 0]
        if idle and len(listed) > 1:
            t.listed[r, idle[0]] = False
        unlisted = [q for q in shelf if not t.listed[r, q]]
        explore = self.model.streams["brands"].random()
        if unlisted and explore < cfg.learning_rate:
            t.listed[r, unlisted[int(self.model.streams["brands"].integers(len(unlisted)))]] = True
        if cfg.channel_review > 0 and self.model.streams["brands"].random() < cfg.channel_review:
            self.review_shops()

    def shop_gains_rmb(self) -> dict[int, float]:
        """Monthly margin gain of an own shop over the best outbound link, per content platform allowing shops.

        Live-room demand from platform p (last month's live sales sent by its rooms, scaled to
        10,000 consumers) times the margin difference: own shop ``1 - take_p`` against the best
        link to a shelf platform q where the brand is listed, ``1 - link_fee_p - take_q`` (0 when
        links are banned: a live room without shop or link cannot sell on the spot). Commission
        and production cost are the same in both channels and cancel.
        """
        m, t, r = self.model, self._t, self.row
        scale = 10_000 / m.config.consumers
        gains = {}
        for p in m.platform_list:
            if p.is_shelf or not p.config.own_shop:
                continue
            links = [
                1.0 - p.config.ext_link_fee - m.platforms[q].config.take_rate
                for q in p.config.effective_outbound if t.listed[r, m.platforms[q].index]
            ]  # fmt: skip
            margin_gap = (1.0 - p.config.take_rate) - max(links, default=0.0)
            gains[p.index] = float(t.content_value_by_source_rmb[r, p.index]) * scale * margin_gap
        return gains

    def review_shops(self) -> None:
        """Open an own shop where it beats the best link by more than the switching cost; close where it loses."""
        t, r, cost = self._t, self.row, self.model.config.brands.shop_switch_cost_rmb
        for p, gain in self.shop_gains_rmb().items():
            if not t.own_shop[r, p] and gain > cost:
                t.own_shop[r, p] = True
            elif t.own_shop[r, p] and gain < -cost:
                t.own_shop[r, p] = False
