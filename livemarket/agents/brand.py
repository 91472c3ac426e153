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

    @property
    def reputation(self) -> np.ndarray:
        """Public trust in each brand, a / (a + b)."""
        return self.rep_a / (self.rep_a + self.rep_b)

    def reset_month(self) -> None:
        """Start new month-to-date ledgers."""
        for arr in (self.receipts_self_rmb, self.receipts_hired_rmb, self.cost_self_rmb):
            arr[:] = 0.0
        self.receipts_by_platform_rmb[:] = 0.0


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
        explore = self.model.rng.random()
        if unlisted and explore < cfg.learning_rate:
            t.listed[r, unlisted[int(self.model.rng.integers(len(unlisted)))]] = True
