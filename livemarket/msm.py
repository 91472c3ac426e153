"""Method of simulated moments by Gauss-Newton: the fit, its Jacobian, what it identifies, a bootstrap.

The residual of target ``k`` is ``r_k = (mean moment - target) / tolerance`` (a range: its
midpoint, half its width as the tolerance), averaged over the same replicate seeds at every
parameter vector (common random numbers). Parameters are searched in log units when ``log``
(a step of 0.1 is +10.5%), else in units of their range. The Jacobian ``J = dr/dθ`` comes from
forward differences at the start; Levenberg-Marquardt steps follow, with a Broyden update of
``J`` after each, and a fresh Jacobian at the fit for the identification table and the
uncertainty.

Uncertainty is a **bootstrap of the moments through the linearised map at the fit**: each draw
resamples the replicates (simulation noise) and perturbs every target within its tolerance
(read as two standard deviations of the fact), and moves the parameters by the least-squares
step ``-(JᵀJ)⁺ Jᵀ r``. A parameter whose Jacobian column is near zero is *not identified* by
the targets: the table says so and its interval is the parameter's whole range.

Every run goes through :func:`livemarket.validation.run_replicates` (on a Dask client, a local
cluster, or in this process).

Example:
    >>> p = Parameter(low=0.01, high=1.0, log=True)
    >>> round(p.to_search(0.1), 3), round(p.from_search(p.to_search(0.1)), 6)
    (-2.303, 0.1)
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from livemarket.validation.targets import Target

__all__ = ["Fit", "Parameter", "aim", "bootstrap", "fit", "identification", "replicate_means", "residuals"]

#: A parameter moves no target by more than this many tolerances per search unit: not identified.
IDENTIFIED_BELOW = 0.25


@dataclass(frozen=True)
class Parameter:
    """A fitted parameter's range and whether it is searched in log units."""

    low: float
    high: float
    log: bool = False

    def to_search(self, v: float) -> float:
        """The search coordinate of value ``v``."""
        return math.log(v) if self.log else (v - self.low) / (self.high - self.low)

    def from_search(self, x: float) -> float:
        """The value of search coordinate ``x``, clipped to the range."""
        v = math.exp(x) if self.log else self.low + x * (self.high - self.low)
        return min(max(v, self.low), self.high)


@dataclass
class Fit:
    """Result of :func:`fit`: parameters, loss, Jacobian at the fit, replicate moments, history."""

    params: dict[str, float]
    loss: float
    jacobian: np.ndarray  # (targets, parameters), residual tolerances per search unit
    replicate_moments: list[dict[str, float]]
    history: list[dict[str, Any]] = field(default_factory=list)
    runs: int = 0
    seconds: float = 0.0


def aim(t: Target) -> tuple[float, float]:
    """(value, tolerance) a target is fitted to (a range: midpoint and half-width)."""
    if t.kind == "point":
        return float(t.value), float(t.tolerance)
    if t.kind == "range":
        return (t.low + t.high) / 2, (t.high - t.low) / 2
    raise ValueError(f"target {t.key}: only point and range targets can be fitted (kind {t.kind!r})")


def residuals(means: dict[str, float], targets: Sequence[Target]) -> np.ndarray:
    """Scaled misses ``(mean - target) / tolerance`` of each target (10 where a moment is missing)."""
    out = []
    for t in targets:
        value, tol = aim(t)
        x = means.get(t.key, float("nan"))
        out.append((x - value) / tol if math.isfinite(x) else 10.0)
    return np.array(out)


def replicate_means(runs: Sequence[dict[str, float]]) -> dict[str, float]:
    """Each moment's mean over the replicates' finite values (NaN when none is finite)."""
    keys = runs[0].keys()
    return {k: float(np.nanmean(v)) if np.isfinite(v := np.array([r[k] for r in runs], float)).any() else float("nan")
            for k in keys}  # fmt: skip


def fit(
    evaluate: Callable[[list[dict[str, float]]], list[list[dict[str, float]]]],
    parameters: dict[str, Parameter],
    start: dict[str, float],
    targets: Sequence[Target],
    iterations: int = 4,
    step: float = 0.1,
    log: Callable[[str], None] = print,
) -> Fit:
    """Gauss-Newton (Levenberg-Marquardt) fit of ``parameters`` to ``targets``.

    Args:
        evaluate: parameter vectors -> each vector's replicate moments (runs them, e.g. on Dask).
        parameters: what to fit.
        start: the starting values (clipped to the ranges).
        targets: point or range targets fitted.
        iterations: steps after the first Jacobian.
        step: forward-difference step in search units.
        log: where progress lines go.
    """
    started, names = time.time(), list(parameters)
    x = np.array([parameters[n].to_search(min(max(start[n], parameters[n].low), parameters[n].high)) for n in names])
    values = lambda x: {n: parameters[n].from_search(float(v)) for n, v in zip(names, x, strict=True)}  # noqa: E731
    history, runs = [], 0

    def inside(n: str, v: float) -> bool:
        return abs(parameters[n].to_search(parameters[n].from_search(v)) - v) < 1e-12

    def jacobian(x, r0):
        nonlocal runs
        steps = [step if inside(n, x[j] + step) else -step for j, n in enumerate(names)]  # stay in the range
        shifted = [x + h * np.eye(len(x))[j] for j, h in enumerate(steps)]
        out = evaluate([values(s) for s in shifted])
        runs += sum(len(o) for o in out)
        cols = [(residuals(replicate_means(o), targets) - r0) / h for o, h in zip(out, steps, strict=True)]
        return np.column_stack(cols)

    first = evaluate([values(x)])[0]
    runs += len(first)
    r = residuals(replicate_means(first), targets)
    loss, best_runs = float(r @ r), first
    history.append({"iteration": 0, "loss": loss, **values(x)})
    log(f"MSM start: loss {loss:.2f}; Jacobian over {len(names)} parameters")
    J = jacobian(x, r)
    damping = 1e-2
    for it in range(1, iterations + 1):
        JTJ = J.T @ J
        delta = -np.linalg.solve(JTJ + damping * np.diag(np.diag(JTJ) + 1e-9), J.T @ r)
        delta = np.clip(delta, -1.0, 1.0)  # a trust region of one search unit
        clipped = [parameters[n].from_search(v) for n, v in zip(names, x + delta, strict=True)]
        trial_x = np.array([parameters[n].to_search(v) for n, v in zip(names, clipped, strict=True)])
        trial = evaluate([values(trial_x)])[0]
        runs += len(trial)
        r_new = residuals(replicate_means(trial), targets)
        new_loss = float(r_new @ r_new)
        moved = trial_x - x
        if moved @ moved > 0:  # Broyden's update of the Jacobian along the step taken
            J = J + np.outer(r_new - r - J @ moved, moved) / (moved @ moved)
        accepted = new_loss < loss
        if accepted:
            x, r, loss, best_runs, damping = trial_x, r_new, new_loss, trial, damping / 3
        else:
            damping *= 10
        history.append({"iteration": it, "loss": new_loss, "accepted": accepted, **values(trial_x)})
        log(f"MSM step {it}: loss {new_loss:.2f} ({'accepted' if accepted else 'rejected'}); best {loss:.2f}; "
            f"{time.time() - started:.0f} s")  # fmt: skip
    log("MSM: Jacobian at the fit")
    J = jacobian(x, r)
    return Fit(values(x), loss, J, best_runs, history, runs, time.time() - started)


def identification(result: Fit, parameters: dict[str, Parameter], targets: Sequence[Target]) -> list[dict[str, Any]]:
    """Per parameter: the targets it moves most (tolerances per search unit) and whether any pins it down."""
    rows = []
    for j, name in enumerate(parameters):
        col = result.jacobian[:, j]
        order = np.argsort(-np.abs(col))
        rows.append({
            "parameter": name, "max_effect": float(np.abs(col).max()),
            "identified": bool(np.abs(col).max() >= IDENTIFIED_BELOW),
            "moves": [(targets[i].key, float(col[i])) for i in order[:3] if abs(col[i]) >= 0.05],
        })  # fmt: skip
    return rows


def bootstrap(
    result: Fit, parameters: dict[str, Parameter], targets: Sequence[Target], draws: int = 2000, seed: int = 0
) -> dict[str, np.ndarray]:
    """Parameter draws from the bootstrap of the moments through the linearised map at the fit."""
    rng = np.random.default_rng(seed)
    names = list(parameters)
    x = np.array([parameters[n].to_search(result.params[n]) for n in names])
    J = result.jacobian
    ident = np.abs(J).max(axis=0) >= IDENTIFIED_BELOW
    solve = np.linalg.pinv(J[:, ident])
    aims = np.array([aim(t) for t in targets])
    reps = result.replicate_moments
    at_fit = residuals(replicate_means(reps), targets)
    out = np.empty((draws, len(names)))
    for b in range(draws):
        sample = [reps[i] for i in rng.integers(0, len(reps), len(reps))]
        target_b = aims[:, 0] + aims[:, 1] / 2 * rng.standard_normal(len(targets))
        m = replicate_means(sample)
        sim = np.array([m.get(t.key, float("nan")) for t in targets])
        r = np.where(np.isfinite(sim), (sim - target_b) / aims[:, 1], at_fit)
        xb = x.copy()
        xb[ident] = x[ident] - solve @ (r - at_fit)  # centred: the draw's move away from the fit
        out[b] = [parameters[n].from_search(v) if ident[j] else rng.uniform(parameters[n].low, parameters[n].high)
                  for j, (n, v) in enumerate(zip(names, xb, strict=True))]  # fmt: skip
    return {n: out[:, j] for j, n in enumerate(names)}
