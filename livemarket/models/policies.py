"""The calendar: dated policy changes, trends, festival demand, scheduled scandals, supply shocks.

Strategies are platform parameters (see :class:`livemarket.config.PlatformConfig`); a
policy event changes them on a date or step. Helpers here build the common events so
experiment scripts read like the history they model.

Example:
    >>> ev = link_ban("douyin", "2020-10-09")
    >>> ev["set"]
    {'link_ban': True}
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator

import numpy as np

from livemarket.config import ScenarioConfig

__all__ = [
    "Calendar",
    "hired_by_popularity",
    "link_ban",
    "open_logistics",
    "open_payment",
    "set_platform",
]


def first_day(event, start_date: dt.date) -> dt.date:
    """The first day of a dated event: a policy event (date or step), a supply shock or a scandal."""
    for field in ("date", "start"):
        if getattr(event, field, None) is not None:
            return getattr(event, field)
    return start_date + dt.timedelta(days=event.step)


def set_platform(platform: str, when: str | int, **changes) -> dict:
    """A policy event dict: on a date ("2020-10-09") or a step (int), set platform parameters."""
    key = "step" if isinstance(when, int) else "date"
    return {"platform": platform, key: when, "set": changes}


def link_ban(platform: str, when: str | int) -> dict:
    """Live rooms of ``platform`` stop carrying outbound links from ``when``."""
    return set_platform(platform, when, link_ban=True)


def open_payment(platform: str, when: str | int, wallets: list[str]) -> dict:
    """Payment interoperability: ``platform``'s checkout accepts ``wallets`` from ``when``."""
    return set_platform(platform, when, accepted_wallets=wallets)


def open_logistics(platform: str, when: str | int, partners: list[str]) -> dict:
    """Logistics interoperability: ``platform``'s merchants may ship with ``partners``."""
    return set_platform(platform, when, logistics_partners=partners)


class Calendar:
    """Answers what the scenario's calendar says about a given day."""

    def __init__(self, config: ScenarioConfig):
        self.config = config
        self._by_step: dict[int, list] = {}
        self._by_date: dict[dt.date, list] = {}
        self.add(config.policies)
        self._trends = {
            (owner, field): _path(config.start_date, _base(config, owner, field), knots)
            for owner, fields in config.trends.items() for field, knots in fields.items()
        }  # fmt: skip

    def add(self, events) -> None:
        """Schedule validated policy events (after those already scheduled for the same day)."""
        for ev in events:
            slot = (
                self._by_step.setdefault(ev.step, []) if ev.step is not None else self._by_date.setdefault(ev.date, [])
            )
            slot.append((ev.platform, dict(ev.set)))

    def policies_on(self, step: int, date: dt.date) -> Iterator[tuple[str, dict]]:
        """Policy changes that take effect on this day, in file order (step events first)."""
        yield from self._by_step.get(step, [])
        yield from self._by_date.get(date, [])

    def trends_on(self, date: dt.date) -> Iterator[tuple[str, dict]]:
        """Today's value of each trending platform parameter, as policy changes (platform, {field: value})."""
        for (owner, field), (days, values) in self._trends.items():
            if owner != "market":
                yield owner, {field: _at(days, values, (date - self.config.start_date).days)}

    def demand_multiplier(self, date: dt.date) -> float:
        """Market demand trend times the multipliers of the festivals covering ``date`` (1 outside them)."""
        demand = self._trends.get(("market", "demand"))
        m = 1.0 if demand is None else _at(*demand, (date - self.config.start_date).days)
        for f in self.config.festivals:
            if date.month == f.month and f.first_day <= date.day <= f.last_day:
                m *= f.demand_multiplier
        return m

    def capacity_factor(self, date: dt.date, brand_category: np.ndarray) -> np.ndarray:
        """Per-brand multiplier of shipping capacity from the supply shocks covering ``date``."""
        factor = np.ones(len(brand_category))
        for s in self.config.supply_shocks:
            if s.start <= date <= s.end:
                hit = np.ones(len(brand_category), bool) if s.category is None else brand_category == s.category
                factor[hit] *= s.capacity_factor
        return factor

    def scandal_ranks_on(self, date: dt.date, popularity: np.ndarray, is_hired: np.ndarray) -> list[int]:
        """Streamer rows hit by scheduled scandals today (rank 0 = most popular hired streamer)."""
        due = [s.streamer_rank for s in self.config.scandals if s.date == date]
        if not due:
            return []
        ranked = hired_by_popularity(popularity, is_hired)
        return [int(ranked[r]) for r in due if r < len(ranked)]


def _base(config: ScenarioConfig, owner: str, field: str) -> float:
    """A trend's value at the start: the configured parameter (market demand: 1)."""
    return 1.0 if owner == "market" else float(getattr(config.platforms[owner], field))


def _path(start: dt.date, base: float, knots: dict[str, float]) -> tuple[np.ndarray, np.ndarray]:
    """Knots of a trend as (days since start, values), starting at (0, base)."""
    dated = sorted((dt.date.fromisoformat(k), v) for k, v in knots.items())
    return np.array([0, *((d - start).days for d, _ in dated)]), np.array([base, *(v for _, v in dated)])


def _at(days: np.ndarray, values: np.ndarray, day: int) -> float:
    """Linear interpolation of a trend on ``day`` (flat after the last knot)."""
    return float(np.interp(day, days, values))


def hired_by_popularity(popularity: np.ndarray, is_hired: np.ndarray) -> np.ndarray:
    """Rows of hired streamers, most popular first: the ranking scheduled scandals refer to."""
    hired = np.nonzero(is_hired)[0]
    return hired[np.argsort(-popularity[hired], kind="stable")]
