"""Global sensitivity analysis of a sweep with SALib: Sobol indices or Morris screening.

A spec with ``design = "sobol"`` (Saltelli sampling) or ``design = "morris"`` is run as
any sweep; then, for each chosen metric, the replicates of each design point are averaged
and SALib computes the indices with bootstrap confidence intervals:

* Sobol: first-order ``S1`` and total ``ST`` (and ``S2`` if ``sobol_second_order``);
* Morris: ``mu_star`` (mean absolute elementary effect, with its interval), ``mu`` and ``sigma``.

Grid factors crossed with the sampled ones give one set of indices per grid level.

Example:
    >>> table = analyze(spec, results(out), metrics=["gmv_rmb_sum"])  # doctest: +SKIP
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

from livemarket.sweeps.runner import SweepError
from livemarket.sweeps.spec import Experiment

__all__ = ["analyze", "check", "write"]


def check(
    spec: Experiment, metrics: list[str] | None = None, conf_level: float = 0.95
) -> list[str]:
    """Return the metrics to analyse; raise SweepError for what cannot be analysed."""
    if spec.design not in ("sobol", "morris"):
        raise SweepError(
            f"{spec.name}: sensitivity needs design = 'sobol' or 'morris' (got {spec.design!r})"
        )
    if not 0 < conf_level < 1:
        raise SweepError(f"conf_level: {conf_level} is outside the accepted range (0, 1)")
    scalar = [m.name for m in spec.metrics if m.agg != "daily"]
    metrics = metrics or scalar
    for m in metrics:
        if m not in scalar:
            raise SweepError(
                f"{spec.name}: {m!r} is not a scalar metric of the spec; accepted: {scalar}"
            )
    return metrics


def analyze(
    spec: Experiment, frame: pl.DataFrame, metrics: list[str] | None = None, conf_level: float = 0.95,
    num_resamples: int = 200,
) -> pl.DataFrame:  # fmt: skip
    """Tidy table: metric, grid levels, factor, index, value, conf (half-width), ci_low, ci_high."""
    metrics = check(spec, metrics, conf_level)
    problem = spec.salib_problem()
    x = spec.sample_matrix()
    grid = [n for n, f in spec.factors.items() if not f.sampled]
    means = frame.group_by("point", "sample", *grid).agg(pl.col(metrics).mean()).sort("point")
    groups = means.partition_by(grid, as_dict=True, maintain_order=True) if grid else {(): means}
    seed = int(np.random.SeedSequence(spec.root_seed).generate_state(2)[1])
    rows: list[dict[str, Any]] = []
    for levels, part in groups.items():
        part = part.sort("sample")
        if part["sample"].to_list() != list(range(len(x))):
            missing = sorted(set(range(len(x))) - set(part["sample"].to_list()))
            raise SweepError(
                f"{spec.name}: design samples without a finished run: {missing[:20]}; their runs failed or are "
                "missing (livemarket.sweeps.store.failures(folder) has the errors): a failed run fails again "
                "as it is (same seed), so fix its cause, then re-run the sweep with --retry-failed"
            )
        where = dict(zip(grid, levels, strict=True))
        for m in metrics:
            y = part[m].to_numpy()
            if not np.all(np.isfinite(y)):
                raise SweepError(f"{spec.name}: metric {m} is not finite at some design points")
            rows += _indices(spec, problem, x, y, conf_level, num_resamples, seed, m, where)
    table = pl.DataFrame(rows)
    return table.with_columns(ci_low=pl.col("value") - pl.col("conf"), ci_high=pl.col("value") + pl.col("conf"))


def _indices(spec, problem, x, y, conf_level, num_resamples, seed, metric, where) -> list[dict[str, Any]]:
    from SALib.analyze import morris, sobol

    base = {"metric": metric} | where
    out = []
    if spec.design == "sobol":
        si = sobol.analyze(problem, y, calc_second_order=spec.sobol_second_order, conf_level=conf_level,
                           num_resamples=num_resamples, seed=seed)  # fmt: skip
        for i, name in enumerate(problem["names"]):
            for index in ("S1", "ST"):
                out.append(base | {"factor": name, "index": index, "value": float(si[index][i]),
                                   "conf": float(si[f"{index}_conf"][i])})  # fmt: skip
        if spec.sobol_second_order:
            for i, a in enumerate(problem["names"]):
                for j, b in enumerate(problem["names"][i + 1 :], start=i + 1):
                    out.append(base | {"factor": f"{a}:{b}", "index": "S2", "value": float(si["S2"][i, j]),
                                       "conf": float(si["S2_conf"][i, j])})  # fmt: skip
    else:
        si = morris.analyze(problem, x, y, conf_level=conf_level, num_resamples=num_resamples,
                            num_levels=spec.morris_levels, seed=seed)  # fmt: skip
        for i, name in enumerate(problem["names"]):
            for index in ("mu_star", "mu", "sigma"):
                conf = float(si["mu_star_conf"][i]) if index == "mu_star" else float("nan")
                out.append(base | {"factor": name, "index": index, "value": float(si[index][i]), "conf": conf})
    return out


def write(table: pl.DataFrame, out: str | Path) -> list[Path]:
    """Write the indices as ``sensitivity.parquet`` and ``sensitivity.csv`` in the sweep folder."""
    out = Path(out)
    paths = [out / "sensitivity.parquet", out / "sensitivity.csv"]
    table.write_parquet(paths[0])
    table.write_csv(paths[1])
    return paths
