"""What a sweep keeps of a run: one row of metric cells, and the column types of those rows.

:func:`summarize` reduces a run's tidy table to the spec's metrics (a window and an
aggregate each); :func:`schema` gives the column types of a chunk file (identity, factors,
metrics, status), written into the manifest as text and read back by :func:`column_dtype`.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import numpy as np
import polars as pl

from livemarket.sweeps.spec import Experiment, MetricSpec

__all__ = ["column_dtype", "factor_cell", "schema", "summarize"]

_AGGREGATE = {"mean": np.mean, "sum": np.sum, "min": np.min, "max": np.max, "first": lambda v: v[0],
              "last": lambda v: v[-1], "growth": lambda v: _growth(v)}  # fmt: skip


def summarize(table: pl.DataFrame, metrics: list[MetricSpec]) -> dict[str, Any]:
    """Reduce one run's tidy table to the spec's metrics: a float or, for ``daily``, a list.

    Raises:
        KeyError: a metric, platform or channel that the table does not have, or an empty window.
    """
    names = {m.metric for m in metrics}
    rows = table.filter(pl.col("metric").is_in(names)).sort("step")
    groups = rows.partition_by(["platform", "channel", "metric"], as_dict=True)
    out: dict[str, Any] = {}
    for m in metrics:
        part = groups.get((m.platform, m.channel, m.metric))
        if part is None and "*" in (m.platform, m.channel):
            part = _summed(rows, m)
        if part is None:
            raise KeyError(f"metric {m.platform}/{m.channel}/{m.metric} is not in the model's results")
        if m.window is not None:
            col = "step" if isinstance(m.window[0], int) else "date"
            part = part.filter(pl.col(col) >= m.window[0], pl.col(col) < m.window[1])
            if part.is_empty():
                raise KeyError(f"metric {m.name}: window {list(m.window)} selects no day of this run")
        values = part["value_scaled" if m.scaled else "value"].fill_null(float("nan")).to_numpy()
        out[m.name] = values.tolist() if m.agg == "daily" else float(_AGGREGATE[m.agg](values))
    return out


def _summed(rows: pl.DataFrame, m: MetricSpec) -> pl.DataFrame | None:
    """Daily sum over platforms and/or channels for a ``*`` selector (None if nothing matches)."""
    sel = rows.filter(pl.col("metric") == m.metric)
    for col, want in (("platform", m.platform), ("channel", m.channel)):
        sel = sel.filter(pl.col(col) != "all") if want == "*" else sel.filter(pl.col(col) == want)
    if sel.is_empty():
        return None
    return sel.group_by("step", "date").agg(pl.col("value").sum(), pl.col("value_scaled").sum()).sort("step")


def _growth(values: np.ndarray) -> float:
    half = len(values) // 2
    if half == 0:
        return float("nan")
    first, second = float(np.mean(values[:half])), float(np.mean(values[-half:]))
    return second / first - 1.0 if first != 0 else float("nan")


# ---------------------------------------------------------------------- schema
def _factor_dtype(values: list[Any]) -> pl.DataType:
    kinds = {type(v) for v in values}
    if kinds == {bool}:
        return pl.Boolean
    if kinds <= {int} and all(abs(v) < 2**63 for v in values):
        return pl.Int64
    if kinds <= {int, float}:
        return pl.Float64
    if kinds == {dt.date}:
        return pl.Date
    return pl.String  # lists, tables and mixtures are stored as their TOML text


def schema(spec: Experiment, points: list[dict[str, Any]]) -> dict[str, pl.DataType]:
    """Column types of a chunk file: identity, factors, metrics, status."""
    cols: dict[str, pl.DataType] = {
        "run_id": pl.String, "chunk": pl.Int32, "point": pl.Int32, "replicate": pl.Int32,
        "seed_entropy": pl.UInt64, "seed_spawn_key": pl.List(pl.Int64),
    }  # fmt: skip
    if spec.design != "grid":
        cols["sample"] = pl.Int32
    for name in spec.factors:
        cols[name] = _factor_dtype([p[name] for p in points])
    for m in spec.metrics:
        cols[m.name] = pl.List(pl.Float64) if m.agg == "daily" else pl.Float64
    cols |= {
        "status": pl.String, "error": pl.String, "traceback": pl.String, "seconds": pl.Float64, "worker": pl.String
    }
    return cols


def factor_cell(value: Any, dtype: pl.DataType) -> Any:
    """A factor value as stored in its column (TOML text when the column is a string)."""
    from livemarket.sweeps.spec import toml_value

    return toml_value(value) if dtype == pl.String and not isinstance(value, str) else value


def column_dtype(text: str) -> pl.DataType:
    """Polars dtype from its string form in the manifest."""
    simple = {"String": pl.String, "Int32": pl.Int32, "Int64": pl.Int64, "UInt64": pl.UInt64,
              "Float64": pl.Float64, "Boolean": pl.Boolean, "Date": pl.Date}  # fmt: skip
    if text.startswith("List("):
        return pl.List(column_dtype(text[5:-1]))
    return simple[text]
