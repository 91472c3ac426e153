"""Trends: platform fields and market demand that follow a path through dated knots.

``trends.<platform>.<field> = { <ISO date> = value, ... }`` (or ``trends.market.demand``): the value
starts at the configured one (demand: 1) on ``start_date`` and runs linearly through the knots,
flat after the last (:class:`livemarket.models.policies.Calendar` computes it each day). This
module says which fields may trend and checks a scenario's trends.

Example:
    >>> "live_share" in TREND_FIELDS, MARKET_TRENDS
    (True, ('demand',))
"""

from __future__ import annotations

import datetime as dt

from pydantic import ValidationError

from livemarket.suggest import describe_errors, did_you_mean

__all__ = ["MARKET_TRENDS", "TREND_FIELDS", "check_trends"]

#: Platform parameters a trend may move day by day (read afresh every day by the engine).
TREND_FIELDS = ("live_share", "ad_load", "feed_mode", "install_pull", "promotion", "protection", "logistics_quality")
#: Market-wide trends: ``demand`` multiplies every consumer's purchase propensity (planned needs,
#: live consideration, splash views), as festivals do.
MARKET_TRENDS = ("demand",)


def check_trends(config, platform_model) -> None:
    """Check a scenario's trends; a ValueError names the field and what is accepted.

    Each trend names a platform (or ``market``) and a field that may trend, with ISO dates after
    the start and valid values; no policy may set a trending field.
    """
    names = list(config.platforms)
    for owner, fields in config.trends.items():
        if owner != "market" and owner not in config.platforms:
            raise ValueError(f"trends.{owner}: unknown platform (accepted: {names} or 'market')"
                             f"{did_you_mean(owner, [*names, 'market'])}")  # fmt: skip
        allowed = MARKET_TRENDS if owner == "market" else TREND_FIELDS
        for field, knots in fields.items():
            where = f"trends.{owner}.{field}"
            if field not in allowed:
                raise ValueError(f"{where}: {field!r} cannot trend (accepted: {list(allowed)})"
                                 f"{did_you_mean(field, allowed)}")  # fmt: skip
            if not knots:
                raise ValueError(f"{where}: needs at least one dated value, e.g. {{ 2020-07-01 = 0.05 }}")
            for key, value in knots.items():
                _check_knot(config, platform_model, owner, field, where, key, value)
            if owner != "market":
                for i, ev in enumerate(config.policies):
                    if ev.platform == owner and field in ev.set:
                        raise ValueError(f"policies[{i}].set.{field}: {owner}'s {field} follows "
                                         f"{where}; a policy may not also set it")  # fmt: skip


def _check_knot(config, platform_model, owner: str, field: str, where: str, key: str, value: float) -> None:
    try:
        date = dt.date.fromisoformat(key)
    except ValueError:
        raise ValueError(f"{where}: {key!r} is not a date (accepted: YYYY-MM-DD)") from None
    if date <= config.start_date:
        raise ValueError(f"{where}.{key}: the date must be after start_date {config.start_date}")
    if owner == "market":
        if not value > 0:
            raise ValueError(f"{where}.{key}: demand must be > 0 (got {value})")
        return
    try:
        platform_model.model_validate(config.platforms[owner].model_dump() | {field: value})
    except ValidationError as err:
        raise ValueError(describe_errors(err, platform_model, f"{where}.{key}")) from None
