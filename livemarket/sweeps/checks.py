"""Expected directions: whether a sweep's result moves the way the experiment's header says.

Each ``[[expect]]`` of a spec compares two levels of a factor (paired by replicate and by
the other factors when possible), the slope along a range factor, or two metrics within
the same runs. ``passed`` is the sign of the mean difference; ``shown`` also asks the
sign to be clear of the noise (|z| >= 2, z = effect / standard error).

The standard error is that of the paired differences over replicates (``z_paired``). With the
runs of the experiment's placebo (:mod:`livemarket.sweeps.placebo`), the placebo's shift of the
compared quantity is one more error term: ``se = sqrt(se_paired^2 + placebo_shift^2)``, so an
effect must stand clear of both the replicates' spread and what a change that does not matter
moves.

Example:
    >>> table = check_expectations(spec, results("results/sweeps/09-ad-load-quick"))  # doctest: +SKIP
    >>> table["passed"].all()  # doctest: +SKIP
    True
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import polars as pl

from livemarket.sweeps.placebo import paired_placebo_differences
from livemarket.sweeps.spec import Expectation, Experiment
from livemarket.sweeps.store import factor_cell

__all__ = ["Z_SHOWN", "check_expectations", "format_checks"]

Z_SHOWN = 2.0  # |effect| / standard error for a direction to count as shown


def check_expectations(spec: Experiment, frame: pl.DataFrame, placebo: pl.DataFrame | None = None) -> pl.DataFrame:
    """One row per expectation: control, treatment, effect, relative effect, z, passed.

    ``placebo``: the placebo sweep's runs (:func:`livemarket.sweeps.placebo.placebo_results`);
    without them ``placebo_shift`` is NaN and ``z`` is ``z_paired``.
    """
    rows = []
    for e in spec.expect:
        row = _check(spec, e, frame)
        shift = _placebo_shift(e, frame, placebo)
        se = row.pop("se_paired")
        z = _z(row["effect"], math.hypot(se, shift) if math.isfinite(shift) else se)
        shown = row["passed"] and (z != z or abs(z) >= Z_SHOWN)  # z is nan when there is no noise to compare with
        rows.append(row | {"z": z, "z_paired": _z(row["effect"], se), "placebo_shift": shift, "shown": shown})
    schema = {"label": pl.String, "metric": pl.String, "comparison": pl.String, "control": pl.Float64,
              "treatment": pl.Float64, "effect": pl.Float64, "relative": pl.Float64, "z": pl.Float64,
              "z_paired": pl.Float64, "placebo_shift": pl.Float64, "n": pl.Int64, "passed": pl.Boolean,
              "shown": pl.Boolean}  # fmt: skip
    return pl.DataFrame(rows, schema=schema).select(list(schema))


def _placebo_shift(e: Expectation, frame: pl.DataFrame, placebo: pl.DataFrame | None) -> float:
    """The placebo's mean paired shift of what the expectation compares (NaN without placebo runs)."""
    if placebo is None:
        return float("nan")
    d = paired_placebo_differences(frame.filter(pl.col("point") == 0), placebo, e.metric, e.than)
    return float(np.mean(d)) if len(d) else float("nan")


def _check(spec: Experiment, e: Expectation, frame: pl.DataFrame) -> dict[str, Any]:
    df = frame
    for name, value in e.where.items():
        df = df.filter(pl.col(name) == factor_cell(value, frame.schema[name]))
    if e.than is not None:
        diff = (df[e.metric] - df[e.than]).to_numpy()
        control, treatment, comparison = df[e.than].mean(), df[e.metric].mean(), f"{e.metric} vs {e.than}"
    elif spec.factors[e.factor].sampled:
        x, y = df[e.factor].to_numpy(), df[e.metric].to_numpy()
        slope, se = _slope(x, y)
        lo, hi = spec.factors[e.factor].range
        diff = None
        control, treatment = float(np.mean(y)), float(np.mean(y) + slope * (hi - lo))
        comparison = f"slope along {e.factor} (x range)"
        return _row(e, comparison, control, treatment, slope * (hi - lo), se * (hi - lo), len(y))
    elif e.interaction is not None:
        levels = spec.factors[e.interaction].grid_values()
        dtype = frame.schema[e.interaction]
        at = [_paired_effect(spec, e, df.filter(pl.col(e.interaction) == factor_cell(v, dtype)), exclude=e.interaction)
              for v in (levels[0], levels[-1])]  # fmt: skip
        (d0, c0, t0, low, high), (d1, *_) = at
        n = min(len(d0), len(d1))
        diff = d1[:n] - d0[:n]
        control, treatment = float(np.mean(d0)), float(np.mean(d1))
        comparison = f"effect of {e.factor} {low} -> {high}, at {e.interaction} {levels[0]} vs {levels[-1]}"
    else:
        diff, control, treatment, low, high = _paired_effect(spec, e, df)
        comparison = f"{e.factor}: {low} -> {high}"
        if diff is None:
            a, b = (df.filter(pl.col(e.factor) == factor_cell(v, frame.schema[e.factor])) for v in (low, high))
            va, vb = a[e.metric].to_numpy(), b[e.metric].to_numpy()
            se = (
                math.sqrt(np.var(va, ddof=1) / len(va) + np.var(vb, ddof=1) / len(vb))
                if min(len(va), len(vb)) > 1
                else float("nan")
            )
            return _row(e, comparison, control, treatment, treatment - control, se, len(va) + len(vb))
    se = float(np.std(diff, ddof=1) / math.sqrt(len(diff))) if len(diff) > 1 else float("nan")
    return _row(e, comparison, control, treatment, float(np.mean(diff)), se, len(diff))


def _paired_effect(spec: Experiment, e: Expectation, df: pl.DataFrame, exclude: str | None = None):
    """Per-pair differences high - low (pairs share replicate and other factors), means, levels."""
    levels = spec.factors[e.factor].grid_values()
    low = levels[0] if e.low is None else e.low
    high = levels[-1] if e.high is None else e.high
    dtype = df.schema[e.factor]
    a = df.filter(pl.col(e.factor) == factor_cell(low, dtype))
    b = df.filter(pl.col(e.factor) == factor_cell(high, dtype))
    keys = [c for c in [*spec.factors, "sample", "replicate"] if c in df.columns and c not in (e.factor, exclude)]
    pairs = a.select(*keys, e.metric).join(b.select(*keys, e.metric), on=keys, suffix="_t").sort(keys)
    diff = (pairs[f"{e.metric}_t"] - pairs[e.metric]).to_numpy() if pairs.height >= 2 else None
    return diff, a[e.metric].mean(), b[e.metric].mean(), low, high


def _slope(x: np.ndarray, y: np.ndarray) -> tuple[float, float]:
    """Least-squares slope and its standard error."""
    xc = x - x.mean()
    sxx = float(np.sum(xc**2))
    slope = float(np.sum(xc * (y - y.mean())) / sxx)
    resid = y - y.mean() - slope * xc
    se = math.sqrt(float(np.sum(resid**2)) / max(len(x) - 2, 1) / sxx)
    return slope, se


def _z(effect: float, se: float) -> float:
    return effect / se if se and se == se and se > 0 else float("nan")


def _row(e: Expectation, comparison: str, control, treatment, effect: float, se: float, n: int) -> dict[str, Any]:
    control = float("nan") if control is None else float(control)
    treatment = float("nan") if treatment is None else float(treatment)
    relative = effect / abs(control) if control not in (0.0,) and control == control else float("nan")
    passed = bool(effect > 0) if e.direction == "higher" else bool(effect < 0)
    label = e.label or f"{e.metric} {e.direction}"
    return {"label": label, "metric": e.metric, "comparison": comparison, "control": control, "treatment": treatment,
            "effect": effect, "relative": relative, "se_paired": se, "n": n, "passed": passed}  # fmt: skip


def format_checks(table: pl.DataFrame) -> str:
    """The verdicts as text lines for the terminal."""
    lines = []
    for r in table.iter_rows(named=True):
        mark = "PASS" if r["shown"] else ("WEAK" if r["passed"] else "FAIL")
        lines.append(
            f"  [{mark}] {r['label']}: {r['comparison']}: {r['control']:.4g} -> {r['treatment']:.4g} "
            f"({100 * r['relative']:+.1f}%, z={r['z']:.1f}{_paired(r)}, n={r['n']})"
        )
    return "\n".join(lines)


def _paired(r: dict[str, Any]) -> str:
    """The paired z beside a placebo-calibrated one."""
    return f" [paired {r['z_paired']:.1f}]" if math.isfinite(r["placebo_shift"]) else ""
