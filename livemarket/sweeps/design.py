"""The parts of an experiment spec that say what varies and what to expect: factors, expectations, quick size.

Example:
    >>> Factor(path="platforms.video.link_ban", values=[False, True]).grid_values()
    [False, True]
    >>> try:
    ...     Factor(values=[1], range=(0, 1))
    ... except ValueError as err:
    ...     print("give exactly one of values, levels or range" in str(err))
    True
"""

from __future__ import annotations

import re
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

__all__ = ["Expectation", "Factor", "Placebo", "Quick"]

_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)  # nan and inf refused by name


class Factor(_Strict):
    """One thing the sweep varies. Give exactly one of ``values``, ``levels`` or ``range``.

    Attributes:
        path: dotted scenario path set to the factor's value (``platforms.douyin.ad_load``).
            Without ``path``, the value is used through ``${name}`` placeholders in overrides.
        values: grid levels, any TOML values.
        levels: named strategies for a grid: level name -> list of overrides.
        range: ``[low, high]`` for sampled designs (lhs, sobol, morris).
        integer: round sampled values to integers.
    """

    path: str | None = None
    values: list[Any] | None = None
    levels: dict[str, list[str]] | None = None
    range: tuple[float, float] | None = None
    integer: bool = False

    @model_validator(mode="after")
    def _one_kind(self) -> Factor:
        given = [k for k in ("values", "levels", "range") if getattr(self, k) is not None]
        if len(given) != 1:
            raise ValueError(f"give exactly one of values, levels or range (got {given or 'none'})")
        if self.values is not None and not self.values:
            raise ValueError("values must not be empty")
        if self.levels is not None and not self.levels:
            raise ValueError("levels must not be empty")
        if self.levels is not None and self.path is not None:
            raise ValueError("a levels factor sets its overrides itself; drop path")
        if self.range is not None and not self.range[0] < self.range[1]:
            raise ValueError(f"range must be [low, high] with low < high (got {list(self.range)})")
        return self

    @property
    def sampled(self) -> bool:
        """True for a range factor (drawn by the sampled design)."""
        return self.range is not None

    def grid_values(self) -> list[Any]:
        """The levels of a grid factor (level names for a ``levels`` factor)."""
        return list(self.levels) if self.levels is not None else list(self.values or [])


class Expectation(_Strict):
    """An expected direction, checked on the results (``livemarket sweep`` prints the verdict).

    Either compare two levels of ``factor`` (``high`` against ``low``; default the last and
    first level) or, within runs, ``metric`` against another metric column ``than``. With
    ``interaction``, the factor's effect is compared between the last and the first level of
    that second factor (a difference in differences): "higher" means the effect is larger
    at the interaction factor's last level.

    Attributes:
        metric: a metric column name.
        direction: ``higher`` or ``lower``.
        factor: factor whose levels are compared (for a range factor: the slope's sign).
        low: control level. high: treatment level.
        than: other metric column for within-run comparisons.
        interaction: second factor for a difference in differences.
        where: keep only runs with these factor values.
        label: what the expectation says in words.
    """

    metric: str
    direction: Literal["higher", "lower"]
    factor: str | None = None
    low: Any = None
    high: Any = None
    than: str | None = None
    interaction: str | None = None
    where: dict[str, Any] = {}
    label: str = ""

    @model_validator(mode="after")
    def _one_kind(self) -> Expectation:
        if (self.factor is None) == (self.than is None):
            raise ValueError("give exactly one of factor or than")
        if self.interaction is not None and (self.factor is None or self.interaction == self.factor):
            raise ValueError("interaction needs a factor, and another one")
        return self


class Quick(_Strict):
    """The ``--quick`` size: fields replaced (and overrides appended) for a run under a minute.

    ``factors`` replaces whole factors of the same name (e.g. a policy calendar compressed
    into a shorter run).
    """

    replicates: int | None = Field(default=None, ge=1, strict=True)
    consumers: int | None = Field(default=None, ge=2, strict=True)
    days: int | None = Field(default=None, ge=1, strict=True)
    samples: int | None = Field(default=None, ge=1, strict=True)
    overrides: list[str] = []
    factors: dict[str, Factor] = {}


class Placebo(_Strict):
    """A change too small to matter, run as one more arm beside the control (the first design point).

    What it moves is noise: the random draws a policy disturbs. The checks count its shift of
    each metric as one more error term of every effect (:mod:`livemarket.sweeps.checks`).

    Attributes:
        overrides: the placebo's overrides, applied after the control's (e.g. JD's protection
            0.50 -> 0.501 on the policy date).
        label: what the placebo changes, in words.
    """

    overrides: list[str] = Field(min_length=1)
    label: str = ""
