"""Placebo arms: how far a change that does not matter moves each metric.

An experiment's ``[placebo]`` names overrides too small to matter (JD's protection 0.50 ->
0.501 on the policy date). They are run as a sweep of their own in ``<out>/placebo``: one arm,
the control (the first design point) plus the placebo's overrides, with the control's seeds, so
each placebo run pairs with the control run of the same replicate. A ``start_from`` experiment's
placebo continues from the experiment's own warm states (``<out>/warm``): the same history.

The placebo's shift of a metric (mean paired difference placebo - control) is what the model's
noise alone makes of a change; :func:`livemarket.sweeps.checks.check_expectations` counts it as
one more error term of every effect on that metric: ``se = sqrt(se_paired^2 + shift^2)``.

Example:
    >>> from livemarket.sweeps.spec import Experiment
    >>> exp = Experiment(
    ...     name="demo", scenario="minimal", days=10, consumers=300, replicates=2,
    ...     factors={"ban": {"path": "platforms.video.link_ban", "values": [False, True]}},
    ...     metrics=["gmv_rmb:sum"], placebo={"overrides": ["platforms.mall.protection=0.401"]},
    ... )
    >>> arm = placebo_experiment(exp)
    >>> arm.name, [r.overrides for r in arm.plan().runs][0]
    ('demo-placebo', ['platforms.video.link_ban=false', 'platforms.mall.protection=0.401'])
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

from livemarket.config import ConfigError
from livemarket.sweeps.design import Factor
from livemarket.sweeps.spec import Experiment

__all__ = ["FOLDER", "paired_placebo_differences", "placebo_experiment", "placebo_results", "placebo_shifts",
           "run_placebo"]

FOLDER = "placebo"  # the placebo sweep's folder inside the experiment's
ARM = "placebo"  # the placebo sweep's own factor and level (spec.py refuses a factor of that name)


def placebo_experiment(spec: Experiment) -> Experiment:
    """The placebo's sweep: the control point of every factor, then the placebo's overrides, same seeds."""
    if spec.placebo is None:
        raise ConfigError(f"{spec.name}: the experiment has no [placebo]")
    control = spec.points()[0]
    factors = {name: _only(f, control[name]) for name, f in spec.factors.items()}
    factors[ARM] = Factor(levels={ARM: list(spec.placebo.overrides)})
    data = spec.model_dump() | {"name": f"{spec.name}-placebo", "factors": factors, "expect": [], "quick": None,
                                "placebo": None, "base_dir": spec.base_dir}  # fmt: skip
    return Experiment.model_validate(data)


def _only(factor: Factor, value: Any) -> Factor:
    """A grid factor kept at one of its values (a level keeps its overrides)."""
    if factor.levels is not None:
        return Factor(levels={value: factor.levels[value]})
    return Factor(path=factor.path, values=[value])


def run_placebo(spec: Experiment, out: str | Path, **options: Any):
    """Run (or resume) the placebo sweep of ``spec`` in ``out/placebo``, after the sweep in ``out``; its report."""
    from livemarket.sweeps.runner import SweepError, run_sweep

    out = Path(out)
    if not (out / "manifest.json").exists():
        raise SweepError(f"{out}: no sweep of {spec.name} here; accepted: the folder of a sweep run first")
    return run_sweep(placebo_experiment(spec), out / FOLDER, warm_dir=out / "warm", **options)


def placebo_results(out: str | Path) -> pl.DataFrame | None:
    """The placebo runs of the sweep in ``out`` (None when it has none)."""
    from livemarket.sweeps import store

    folder = Path(out) / FOLDER
    return store.results(folder) if (folder / "manifest.json").exists() else None


def placebo_shifts(spec: Experiment, frame: pl.DataFrame, placebo: pl.DataFrame) -> pl.DataFrame:
    """Per metric column: the placebo's mean paired shift against the control, its standard error and z."""
    control = frame.filter(pl.col("point") == 0)
    rows = []
    for m in spec.metrics:
        d = paired_placebo_differences(control, placebo, m.name)
        se = float(np.std(d, ddof=1) / math.sqrt(len(d))) if len(d) > 1 else float("nan")
        shift = float(np.mean(d)) if len(d) else float("nan")
        rows.append({"metric": m.name, "shift": shift, "se": se, "z": shift / se if se > 0 else float("nan"),
                     "n": len(d)})  # fmt: skip
    return pl.DataFrame(rows, schema={"metric": pl.String, "shift": pl.Float64, "se": pl.Float64, "z": pl.Float64,
                                      "n": pl.Int64})  # fmt: skip


def paired_placebo_differences(control: pl.DataFrame, placebo: pl.DataFrame, column: str,
                               than: str | None = None) -> np.ndarray:  # fmt: skip
    """Placebo - control of ``column`` (minus ``than``) per replicate both have, in replicate order."""
    def value(df):
        return df[column] - df[than] if than is not None else df[column]

    a = control.select("replicate", value(control).alias("v"))
    b = placebo.select("replicate", value(placebo).alias("v"))
    pairs = a.join(b, on="replicate", suffix="_p").sort("replicate")
    return (pairs["v_p"] - pairs["v"]).to_numpy()
