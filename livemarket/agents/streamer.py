"""Streamers: hired hosts and brands' own live accounts, as rows of a :class:`StreamerTable`."""

from __future__ import annotations

from dataclasses import dataclass

import mesa
import numpy as np

__all__ = ["Streamer", "StreamerTable"]


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
    income_rmb: np.ndarray  # cumulative commission received

    def reordered(self, order: np.ndarray) -> StreamerTable:
        """The same streamers with rows permuted (ids sorted by platform keep follow lists grouped)."""
        return StreamerTable(**{k: v[order] for k, v in self.__dict__.items()})

    @property
    def reputation(self) -> np.ndarray:
        """Public trust in each streamer, a / (a + b)."""
        return self.rep_a / (self.rep_a + self.rep_b)

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
