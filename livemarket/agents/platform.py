"""Platform agents: a content or shelf platform with its strategy and revenue ledgers."""

from __future__ import annotations

import mesa

from livemarket.config import PlatformConfig
from livemarket.core import rules
from livemarket.core.context import REVENUE_SOURCES

__all__ = ["Platform"]


class Platform(mesa.Agent):
    """A platform. Its strategy lives in ``config`` (a validated :class:`PlatformConfig`).

    Attributes:
        name: the platform's key in the scenario ("douyin").
        index: its column in every consumer array.
        config: strategy parameters; dated policies assign to it.
        revenue_rmb: cumulative revenue by source (commission, link fees, ads, splash ads).
        link_ban_since_step: step at which the current link ban began (None if no ban).
        links_opened_step: step at which outbound links to each shelf platform were opened
            again (or for the first time) during the run; such links carry a fading friction.
    """

    def __init__(self, model: mesa.Model, name: str, index: int, config: PlatformConfig):
        super().__init__(model)
        self.name = name
        self.index = index
        self.config = config.model_copy(deep=True)
        self.revenue_rmb = dict.fromkeys(REVENUE_SOURCES, 0.0)
        self.link_ban_since_step: int | None = 0 if config.link_ban else None
        self.links_restored_step: int | None = None
        self.links_opened_step: dict[str, int] = {}

    @property
    def is_shelf(self) -> bool:
        """True for shelf e-commerce platforms (Taobao, JD, Pinduoduo)."""
        return self.config.kind == "shelf"

    def apply_policy(self, changes: dict) -> None:
        """Apply a dated policy: validated assignment of each changed parameter."""
        before = set(self.config.effective_outbound)
        for key, value in changes.items():
            if key == "link_ban" and value and not self.config.link_ban:
                self.link_ban_since_step = self.model.day
            before_value = getattr(self.config, key)
            setattr(self.config, key, value)
            if key in ("commission", "self_broadcast") and value is not None and value != before_value:
                self._move_homed(key, value, before_value)
        if not self.config.link_ban:
            self.link_ban_since_step = None
        for q in set(self.config.effective_outbound) - before:
            self.links_opened_step[q] = self.model.day

    def _move_homed(self, key: str, value: float, before: float | None) -> None:
        """A dated commission or self-broadcast lever acts on the streamers or brand accounts homed here."""
        m = self.model
        if key == "commission":
            t = m.streamers
            rows = t.is_hired & (t.platform == self.index)
            old = m.config.streamers.commission if before is None else before
            t.commission[rows] = rules.rescale_commission(t.commission[rows], old, value)
        else:
            b = m.brands
            b.self_broadcast[b.home_platform == self.index] = value

    def review_month(self) -> None:
        """Adaptive rule: restore outbound links when own-shop growth stays under a threshold.

        After at least two months of a link ban, compare own-shop GMV over the last 30 days
        with the 30 days before; growth below ``restore_links_below_growth`` lifts the ban.
        """
        threshold = self.config.restore_links_below_growth
        since = self.link_ban_since_step
        if threshold is None or since is None or self.model.day - since < 60:
            return
        last, before = self.model.own_shop_gmv_windows(self.index, days=30)
        growth = last / before - 1.0 if before > 0 else 0.0
        if growth < threshold:
            self.apply_policy({"link_ban": False})
            self.links_restored_step = self.model.day
