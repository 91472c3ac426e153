"""Streamers: hired hosts and brands' own live accounts, as rows of a :class:`StreamerTable`."""

from __future__ import annotations

from dataclasses import dataclass

import mesa
import numpy as np

__all__ = ["Streamer", "StreamerTable", "enter_and_exit"]


@dataclass
class StreamerTable:
    """Column state of all streamers: hired hosts and one own account per brand, by home platform."""

    platform: np.ndarray  # int, home platform
    category: np.ndarray  # int, category focus
    popularity: np.ndarray  # heavy-tailed weight (Pareto)
    commission: np.ndarray  # share of order value paid to the streamer
    selection_care: np.ndarray  # in [0, 1]: how well products are vetted
    scandal_hazard_per_day: np.ndarray
    live_probability: np.ndarray  # chance of going live on a day (hired streamers)
    brand: np.ndarray  # int, the brand of an own account, -1 for hired streamers
    carried: np.ndarray  # int (streamers, brands_carried): brands the streamer sells
    rep_a: np.ndarray  # public reputation evidence (good)
    rep_b: np.ndarray  # public reputation evidence (bad)
    banned_until_step: np.ndarray  # int: off air until this step (scandal)
    followers: np.ndarray  # int: follow edges pointing at the streamer
    gmv_rmb: np.ndarray  # cumulative GMV sold
    month_gmv_rmb: np.ndarray  # month to date: GMV sold
    month_income_rmb: np.ndarray  # month to date: commission received
    active: np.ndarray  # bool: in the market (dormant entrants and leavers are not)
    entry_step: np.ndarray  # int: step the streamer entered (0 at start), -1 while dormant

    def reordered(self, order: np.ndarray) -> StreamerTable:
        """The same streamers with rows permuted (ids sorted by platform keep follow lists grouped)."""
        return StreamerTable(**{k: v[order] for k, v in self.__dict__.items()})

    @property
    def reputation(self) -> np.ndarray:
        """Public trust in each streamer, a / (a + b)."""
        return self.rep_a / (self.rep_a + self.rep_b)

    def reset_month(self) -> None:
        """Start new month-to-date ledgers."""
        self.month_gmv_rmb[:] = 0.0
        self.month_income_rmb[:] = 0.0

    @property
    def is_hired(self) -> np.ndarray:
        """True for hired streamers, False for brands' own accounts."""
        return self.brand < 0


class Streamer(mesa.Agent):
    """A streamer; reads its row of the model's :class:`StreamerTable`."""

    def __init__(self, model: mesa.Model, row: int):
        super().__init__(model)
        self.row = row

    @property
    def _t(self) -> StreamerTable:
        return self.model.streamers

    platform = property(lambda self: int(self._t.platform[self.row]))
    category = property(lambda self: int(self._t.category[self.row]))
    followers = property(lambda self: int(self._t.followers[self.row]))
    commission = property(lambda self: float(self._t.commission[self.row]))
    reputation = property(lambda self: float(self._t.reputation[self.row]))
    gmv_rmb = property(lambda self: float(self._t.gmv_rmb[self.row]))
    is_brand_account = property(lambda self: bool(self._t.brand[self.row] >= 0))

    def suffer_scandal(self) -> None:
        """Go off air and lose public reputation; followers are hit by the consumer engine."""
        t, beh, step = self._t, self.model.config.behaviour, self.model.day
        t.banned_until_step[self.row] = step + beh.scandal_ban_days
        t.rep_b[self.row] += beh.scandal_evidence * 10
        self.model.scandals_today.append(self.row)


def enter_and_exit(model) -> tuple[np.ndarray, np.ndarray]:
    """Monthly entry and exit of hired streamers (docs/ODD.md, "The dynamic market"); returns (entered, left) rows.

    Exit: an active hired streamer whose month's commission income (scaled to 10,000 consumers)
    is below ``exit_income_rmb`` leaves with chance ``exit_per_month``. Entry: on each platform
    with active hired streamers, ``Poisson(entry_per_month * A * g / (g + entry_income_rmb))``
    dormant streamers of the entry pool start, where ``A`` is the number of active hired
    streamers there and ``g`` their month's live GMV per head (scaled to 10,000 consumers).
    """
    cfg, t, rng = model.config.streamers, model.streamers, model.streams["market"]
    scale = 10_000 / model.config.consumers
    hired = t.is_hired
    left = np.zeros(0, np.int64)
    if cfg.exit_per_month > 0 and cfg.exit_income_rmb > 0:
        low = hired & t.active & (t.month_income_rmb * scale < cfg.exit_income_rmb)
        left = np.flatnonzero(low & (rng.random(len(low)) < cfg.exit_per_month))
    entered = []
    if cfg.entry_per_month > 0:
        for p in model.platform_list:
            here = hired & (t.platform == p.index)
            active = here & t.active
            heads = int(active.sum())
            dormant = np.flatnonzero(here & (t.entry_step < 0))
            if heads == 0 or len(dormant) == 0:
                continue
            g = float(t.month_gmv_rmb[active].sum()) * scale / heads
            k = int(rng.poisson(cfg.entry_per_month * heads * g / (g + cfg.entry_income_rmb)))
            entered.append(dormant[:k])
    entered = np.concatenate(entered) if entered else np.zeros(0, np.int64)
    t.active[left] = False
    t.active[entered] = True
    t.entry_step[entered] = model.day
    return entered, left
