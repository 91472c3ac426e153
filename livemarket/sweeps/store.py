"""A sweep folder on disk: manifest, one Parquet file per chunk, and reading it back.

Layout of a sweep folder::

    manifest.json              design, spec, versions, git commit, chunk size (written once)
    status.jsonl               one JSON line per event, for headless cluster jobs
    runs/chunk-000042.parquet  one row per run of chunk 42 (failed runs too, with traceback)

A chunk file is written under a temporary name and renamed into place, so a file either
holds its whole chunk or does not exist; readers only ever see complete files. Which runs
form a chunk is fixed by the manifest, so a chunk computed twice (a retried task, an
orphaned worker) lands on the same name with the same content: no run can appear twice.

Example:
    >>> frame = results("results/sweeps/demo")  # doctest: +SKIP
    >>> frame.columns[:4]  # doctest: +SKIP
    ['run_id', 'chunk', 'point', 'replicate']
"""

from __future__ import annotations

import datetime as dt
import json
import os
import uuid
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

from livemarket.sweeps.spec import Experiment, MetricSpec

__all__ = [
    "chunk_path",
    "daily",
    "done_chunks",
    "failures",
    "read_manifest",
    "results",
    "scan",
    "schema",
    "summarize",
    "verify",
    "write_chunk",
    "write_json_atomic",
]

MANIFEST = "manifest.json"
STATUS = "status.jsonl"
RUNS = "runs"
_AGGREGATE = {"mean": np.mean, "sum": np.sum, "min": np.min, "max": np.max, "first": lambda v: v[0],
              "last": lambda v: v[-1], "growth": lambda v: _growth(v)}  # fmt: skip


# ---------------------------------------------------------------------- per-run summary
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


# ---------------------------------------------------------------------- writing
def chunk_path(out: Path, chunk: int) -> Path:
    """Final path of a chunk's Parquet file."""
    return Path(out) / RUNS / f"chunk-{chunk:06d}.parquet"


def write_chunk(out: Path, chunk: int, frame: pl.DataFrame) -> Path:
    """Write a chunk's rows to a temporary file, flush it to disk, rename it into place.

    On any error (disk full) the temporary file is removed and the error raised: the chunk
    then has no file, and its runs are not done.
    """
    final = chunk_path(out, chunk)
    final.parent.mkdir(parents=True, exist_ok=True)
    tmp = final.with_name(f".{final.name}.{uuid.uuid4().hex}.tmp")
    try:
        frame.write_parquet(tmp, statistics=False)
        with open(tmp, "rb") as f:
            os.fsync(f.fileno())
        os.replace(tmp, final)
    finally:
        tmp.unlink(missing_ok=True)
    return final


def write_json_atomic(path: Path, data: dict[str, Any]) -> None:
    """Write JSON through a temporary file and an atomic rename (no temporary file left on error)."""
    tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex}.tmp")
    try:
        tmp.write_text(json.dumps(data, indent=1, default=str))
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def remove_temporary(out: Path) -> int:
    """Delete temporary files left by killed writers; return how many."""
    n = 0
    for f in [*Path(out).glob(f"{RUNS}/.*.tmp"), *Path(out).glob(".*.tmp")]:
        f.unlink(missing_ok=True)
        n += 1
    return n


# ---------------------------------------------------------------------- reading
def read_manifest(out: str | Path) -> dict[str, Any] | None:
    """The sweep's manifest, or None when the folder holds no sweep yet."""
    path = Path(out) / MANIFEST
    return json.loads(path.read_text()) if path.is_file() else None


def done_chunks(out: str | Path) -> set[int]:
    """Indices of chunks whose file is in place."""
    return {int(f.stem.removeprefix("chunk-")) for f in (Path(out) / RUNS).glob("chunk-*.parquet")}


def scan(out: str | Path) -> pl.LazyFrame:
    """Lazy scan of every run row (ok and failed) of a sweep folder."""
    files = sorted((Path(out) / RUNS).glob("chunk-*.parquet"))
    if not files:
        manifest = read_manifest(out)
        if manifest is None:
            raise FileNotFoundError(f"{out} holds no sweep (no {MANIFEST})")
        return pl.LazyFrame(schema={k: _dtype(v) for k, v in manifest["schema"].items()})
    return pl.scan_parquet(files)


def results(out: str | Path, include_failed: bool = False) -> pl.DataFrame:
    """All finished runs as one frame: one row per run, factors and metrics as columns."""
    lf = scan(out)
    if not include_failed:
        lf = lf.filter(pl.col("status") == "ok").drop("error", "traceback", strict=False)
    return lf.sort("point", "replicate").collect()


def failures(out: str | Path) -> pl.DataFrame:
    """Failed runs with their error and traceback."""
    return scan(out).filter(pl.col("status") != "ok").sort("point", "replicate").collect()


def daily(out: str | Path, metrics: list[str] | None = None) -> pl.DataFrame:
    """The ``daily`` metrics as a tidy long frame: run, factors, step, metric, value."""
    manifest = read_manifest(out) or {}
    series = [m["name"] for m in manifest.get("spec", {}).get("metrics", []) if m["agg"] == "daily"]
    series = [m for m in series if metrics is None or m in metrics]
    keep = ["run_id", "point", "replicate", *manifest.get("spec", {}).get("factors", {})]
    frame = results(out).select(*keep, *series)
    long = frame.unpivot(index=keep, on=series, variable_name="metric", value_name="value")
    return long.with_columns(step=pl.int_ranges(0, pl.col("value").list.len())).explode("value", "step")


def verify(out: str | Path) -> dict[str, Any]:
    """Check a sweep folder against its manifest: runs missing, runs present more than once."""
    manifest = read_manifest(out)
    if manifest is None:
        raise FileNotFoundError(f"{out} holds no sweep (no {MANIFEST})")
    expected = set(manifest["run_ids"])
    counts = scan(out).group_by("run_id").agg(pl.len().alias("n"), pl.col("status").first()).collect()
    present = set(counts["run_id"])
    return {
        "runs": len(expected),
        "ok": int((counts["status"] == "ok").sum()),
        "failed": int((counts["status"] != "ok").sum()),
        "missing": sorted(expected - present),
        "duplicated": sorted(counts.filter(pl.col("n") > 1)["run_id"]),
        "unknown": sorted(present - expected),
        "temporary_files": len(list(Path(out).glob(f"{RUNS}/.*.tmp"))),
    }


def _dtype(text: str) -> pl.DataType:
    """Polars dtype from its string form in the manifest."""
    simple = {"String": pl.String, "Int32": pl.Int32, "Int64": pl.Int64, "UInt64": pl.UInt64,
              "Float64": pl.Float64, "Boolean": pl.Boolean, "Date": pl.Date}  # fmt: skip
    if text.startswith("List("):
        return pl.List(_dtype(text[5:-1]))
    return simple[text]
