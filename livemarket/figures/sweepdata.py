"""Sweep results for figures: one outcome per run, from either shape a sweep can take.

Figures of sweeps compare runs, so they work on a *runs table*: one row per run and
outcome, with the run's identity (``run_id``, ``point``, ``replicate``), its factor
values, and

* ``platform``: whose outcome (``"all"`` for the market);
* ``metric``: the model metric (``gmv_share``), ``outcome``: the key figures select on
  (rows of one outcome differ only by platform);
* ``label``: the axis label with units, ``note``: how each run was reduced
  (``"mean of last 90 days"``); ``y``: the value in the label's units.

It is built from a tidy daily table (``point``, ``replicate``, factors, then the model's
tidy columns) by :func:`livemarket.figures.data.per_run`, or read from a sweep folder of
``livemarket.sweeps`` (``manifest.json`` + ``runs/chunk-*.parquet``, one wide row per run
with the spec's metrics as columns) by :func:`livemarket.figures.load.read_sweep_store`.
"""

from __future__ import annotations

import polars as pl

from livemarket.figures.data import metric_label, per_run
from livemarket.figures.load import is_sweep_store, read_sweep_store

__all__ = ["is_sweep_store", "read_sweep_store", "runs_table"]

def runs_table(
    source,
    metrics: list[str] | None = None,
    platforms: list[str] | None = None,
    channel: str = "all",
    last_days: int | None = 90,
) -> pl.DataFrame:
    """One row per run and outcome (see the module docstring) from any sweep source.

    Args:
        source: a tidy sweep table, a runs table, or :class:`livemarket.figures.data.Results`.
        metrics: model metrics (``gmv_share``), outcome keys or stored column names to keep.
        platforms: platforms to keep (default: all).
        channel: channel, for tidy tables.
        last_days: for tidy tables, each run's mean over its last days (``None``: whole run).

    """
    runs = getattr(source, "runs", None)
    frame = getattr(source, "frame", source)
    if runs is None and "step" in frame.columns:
        runs = per_run(
            frame,
            metrics or ["gmv_share"],
            platforms=None if platforms is None else [*platforms, "all"],  # market metrics too
            channel=channel,
            last_days=last_days,
        )
        whole = last_days is None or last_days > frame["step"].max()
        note = "mean over the run" if whole else f"mean of its last {last_days} days"
        runs = runs.with_columns(
            outcome=pl.col("metric"),
            label=pl.col("metric").map_elements(metric_label, return_dtype=pl.String),
            note=pl.lit(note),
        )
    elif runs is None:
        runs = frame
    if metrics is not None:
        wanted = [
            pl.col(c).is_in(metrics) for c in ("metric", "outcome", "column") if c in runs.columns
        ]
        runs = runs.filter(pl.any_horizontal(wanted))
    if platforms is not None:
        runs = runs.filter(pl.col("platform").is_in([*platforms, "all"]))
    if runs.is_empty():
        raise ValueError(f"no outcomes {metrics} in these sweep results")
    return runs
