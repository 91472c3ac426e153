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
with the spec's metrics as columns) by :func:`read_sweep_store`.
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import polars as pl

from livemarket.figures.data import METRICS, metric_label, nice, per_run

__all__ = ["is_sweep_store", "read_sweep_store", "runs_table"]

#: Columns of a sweep store row that are neither factors nor metrics.
STORE_COLUMNS = (
    "run_id", "chunk", "point", "replicate", "sample", "seed_entropy", "seed_spawn_key",
    "status", "error", "traceback", "seconds", "worker",
)  # fmt: skip
_AGG_NOTE = {
    "mean": "mean",
    "sum": "total",
    "last": "last day",
    "first": "first day",
    "min": "minimum",
    "max": "maximum",
}


def is_sweep_store(path: Path) -> bool:
    """Tell whether a folder was written by ``livemarket.sweeps`` (a manifest and a runs folder)."""
    return (path / "manifest.json").is_file() and (path / "runs").is_dir()


def read_sweep_store(path: str | Path) -> tuple[pl.DataFrame, pl.DataFrame, list[str], dict]:
    """Read a ``livemarket.sweeps`` folder.

    Uses that package's reader when it is installed, else reads the Parquet files itself.

    Returns:
        ``(daily, runs, factors, manifest)``: the ``daily`` metrics as a tidy table (empty
        if the spec kept none), the runs table, factor names and the manifest.

    """
    path = Path(path)
    manifest = json.loads((path / "manifest.json").read_text())
    try:
        from livemarket.sweeps import store  # optional: the sweeps package

        wide = store.results(path)
    except ImportError:
        files = sorted((path / "runs").glob("chunk-*.parquet"))
        wide = (
            pl.concat([pl.read_parquet(f) for f in files], how="diagonal_relaxed")
            if files
            else pl.DataFrame()
        )
        if "status" in wide.columns:
            wide = wide.filter(pl.col("status") == "ok")
    spec = manifest.get("spec", {})
    factors = list(spec.get("factors", {}))
    metrics = spec.get("metrics", [])
    keys = [c for c in ("run_id", "point", "replicate", *factors) if c in wide.columns]
    scalar = [m for m in metrics if m.get("agg") != "daily" and m["name"] in wide.columns]
    daily = [m for m in metrics if m.get("agg") == "daily" and m["name"] in wide.columns]
    scale = _scale(spec)
    runs = (
        pl.concat([_outcome_rows(wide, keys, m, scale) for m in scalar], how="diagonal_relaxed")
        if scalar
        else None
    )
    start = _start_date(spec)
    tidy = (
        pl.concat([_daily_rows(wide, keys, m, start) for m in daily], how="diagonal_relaxed")
        if daily
        else None
    )
    return tidy, runs, factors, manifest


def _unit(m: dict, scale: float | None = None) -> tuple[str, float]:
    """Display unit and multiplier of a stored metric (its aggregation and scaling).

    Amounts stored unscaled (simulated consumers) are scaled to the real market by the
    scenario's ``scale`` (real users per simulated consumer) when it is known.
    """
    _, unit, column, factor = METRICS.get(m["metric"], ("", "", "value", 1.0))
    extensive = column == "value_scaled"
    if extensive and not m.get("scaled", False):
        if scale is None:
            unit, factor = ("RMB, simulated" if "RMB" in unit else "simulated"), 1.0
        else:
            factor *= scale
    if m.get("agg") != "sum":
        return unit, factor
    return unit.replace("/day", "").replace("per day", ""), factor


def _outcome_rows(wide: pl.DataFrame, keys: list[str], m: dict, scale: float | None = None) -> pl.DataFrame:
    unit, factor = _unit(m, scale)
    name = metric_label(m["metric"], unit=False)
    if m.get("channel", "all") != "all":
        name += f", {nice(m['channel']).lower()}"
    window = m.get("window")
    note = _AGG_NOTE.get(m.get("agg", "mean"), m.get("agg", "")) + (
        f" over {window[0]}–{window[1]}" if window else " over the run"
    )
    return wide.select(
        *keys,
        platform=pl.lit(m.get("platform", "all")),
        metric=pl.lit(m["metric"]),
        outcome=pl.lit(f"{m['metric']}:{m.get('agg', 'mean')}:{m.get('channel', 'all')}:{window}"),
        column=pl.lit(m["name"]),
        label=pl.lit(f"{name} ({unit})" if unit else name),
        note=pl.lit(note),
        y=pl.col(m["name"]).cast(pl.Float64) * factor,
    )


def _scale(spec: dict) -> float | None:
    """Real users per simulated consumer of a sweep's runs (``None`` if unknown or varied by a factor)."""
    factors = spec.get("factors", {})
    varied = [f.get("path") or name for name, f in factors.items() if isinstance(f, dict)]
    if any(str(v).split(".")[-1] in ("consumers", "internet_users") for v in varied):
        return None
    try:
        from livemarket.config import load_scenario

        config = load_scenario(spec["scenario"], list(spec.get("overrides", [])), consumers=spec.get("consumers"))
        return config.population_scale
    except Exception:  # noqa: BLE001  (a scenario path relative to a spec elsewhere: unscaled)
        return None


def _start_date(spec: dict) -> dt.date | None:
    try:
        from livemarket.config import load_scenario

        return load_scenario(spec["scenario"], list(spec.get("overrides", []))).start_date
    except Exception:  # noqa: BLE001  (a scenario path relative to a spec elsewhere: use steps)
        return None


def _daily_rows(
    wide: pl.DataFrame, keys: list[str], m: dict, start: dt.date | None
) -> pl.DataFrame:
    window = m.get("window")
    first = 0
    if window and isinstance(window[0], int):
        first = window[0]
    elif window and start is not None:
        first = (dt.date.fromisoformat(str(window[0])) - start).days
    scaled = m.get("scaled", False)
    rows = wide.select(*keys, value=pl.col(m["name"])).with_columns(
        step=pl.int_ranges(0, pl.col("value").list.len()) + first
    )
    rows = rows.explode("value", "step").with_columns(
        platform=pl.lit(m.get("platform", "all")), channel=pl.lit(m.get("channel", "all")), metric=pl.lit(m["metric"]),
        value_scaled=pl.col("value") if scaled else pl.lit(None, pl.Float64),
        date=(pl.lit(start) + pl.duration(days=pl.col("step"))).cast(pl.Date) if start else pl.lit(None, pl.Date),
    )  # fmt: skip
    return rows.with_columns(pl.col("step").cast(pl.Int32))


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
            platforms=platforms,
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
