"""Reading results for figures: a run folder, a sweep folder, a Parquet file or a frame.

:func:`load_results` reads any of them into :class:`Results`; a sweep folder of
``livemarket.sweeps`` (``manifest.json`` + ``runs/chunk-*.parquet``, one wide row per run
with the spec's metrics as columns) is turned into a runs table (one row per run and
outcome, see :mod:`livemarket.figures.sweepdata`) by :func:`read_sweep_store`.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass, field
from pathlib import Path

import polars as pl

from livemarket.figures.data import BASE_COLUMNS, METRICS, factor_columns, metric_label, nice

__all__ = ["Results", "is_sweep_store", "load_results", "read_sweep_store"]


@dataclass
class Results:
    """Results of a run or a sweep, ready for figures.

    Attributes:
        frame: the tidy daily table (all runs); ``None`` for a sweep that kept no series.
        kind: ``"run"`` or ``"sweep"``.
        factors: the sweep's factor columns (empty for a run).
        meta: run.json (a run) or the sweep's manifest, if present.
        path: where it was read from.
        runs: a sweep's runs table, when the sweep stored per-run outcomes
            (see :mod:`livemarket.figures.sweepdata`).

    """

    frame: pl.DataFrame | None
    kind: str
    factors: list[str] = field(default_factory=list)
    meta: dict = field(default_factory=dict)
    path: Path | None = None
    runs: pl.DataFrame | None = None


def load_results(source: str | Path | pl.DataFrame, factors: list[str] | None = None) -> Results:
    """Read a run folder, a sweep folder, a Parquet file or a frame.

    * a run folder holds ``results.parquet`` (and ``run.json``);
    * a sweep folder of ``livemarket.sweeps`` holds ``manifest.json`` and ``runs/*.parquet``
      (read by :func:`read_sweep_store`);
    * any other folder: every Parquet file below it, concatenated (a tidy sweep table has
      ``point`` and ``replicate`` columns; a JSON manifest beside them is read if present).

    Args:
        source: folder, ``.parquet`` file or an already loaded frame.
        factors: the sweep's factor columns (default: from the manifest, else every column
            that is neither tidy nor bookkeeping).

    """
    meta: dict = {}
    path = None
    if isinstance(source, pl.DataFrame):
        frame = source
    else:
        path = Path(source)
        if path.is_dir() and is_sweep_store(path):
            _read_json(path / "manifest.json")
            try:
                daily, runs, found, meta = read_sweep_store(path)
            except (KeyError, TypeError, OSError, pl.exceptions.PolarsError) as err:
                raise ValueError(f"{path}: not a readable sweep folder ({err!r}); {_ACCEPTED}") from None
            return Results(
                frame=daily, kind="sweep", factors=factors or found, meta=meta, path=path, runs=runs
            )
        if path.is_file():
            frame = _read_parquet(path)
        elif (path / "results.parquet").is_file():
            frame = _read_parquet(path / "results.parquet")
            if (path / "run.json").is_file():
                meta = _read_json(path / "run.json")
        elif path.is_dir():
            frame, meta = _read_folder(path)
        else:
            raise FileNotFoundError(
                f"{path}: no results (expected a folder with Parquet files or a .parquet file)"
            )
        missing = [c for c in BASE_COLUMNS if c not in frame.columns]
        if missing:
            raise ValueError(f"{path}: not a results table (no columns {missing}); {_ACCEPTED}")
        if "parameters" in meta:  # a run's scenario, replayed for the graph figures
            from livemarket.config import scenario_from_dict

            scenario_from_dict(meta["parameters"], f"{path / 'run.json'}: parameters")
    kind = "sweep" if "point" in frame.columns else "run"
    if factors is None and kind == "sweep":
        factors = list(
            meta.get("factors") or meta.get("spec", {}).get("factors") or factor_columns(frame)
        )
    return Results(frame=frame, kind=kind, factors=list(factors or []), meta=meta, path=path)


def _read_folder(path: Path) -> tuple[pl.DataFrame, dict]:
    files = sorted(p for p in path.rglob("*.parquet"))
    if not files:
        raise FileNotFoundError(f"{path}: no Parquet files below this folder; {_ACCEPTED}")
    frame = pl.concat([_read_parquet(f) for f in files], how="diagonal_relaxed")
    meta = {}
    for name in ("sweep.json", "manifest.json", "experiment.json"):
        if (path / name).is_file():
            meta = _read_json(path / name)
            break
    return frame, meta


_ACCEPTED = (
    "accepted: a run folder of `livemarket run` (results.parquet, run.json), a sweep folder "
    "(manifest.json, runs/) or a tidy results table (.parquet)"
)


def _read_parquet(path: Path) -> pl.DataFrame:
    try:
        return pl.read_parquet(path)
    except (OSError, pl.exceptions.PolarsError) as err:
        raise ValueError(f"{path}: not a Parquet file ({err}); {_ACCEPTED}") from None


def _read_json(path: Path) -> dict:
    try:
        meta = json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as err:
        raise ValueError(f"{path}: malformed JSON ({err}); {_ACCEPTED}") from None
    if not isinstance(meta, dict):
        raise ValueError(f"{path}: expected a JSON object, found {type(meta).__name__}; {_ACCEPTED}")
    return meta


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

    Returns:
        ``(daily, runs, factors, manifest)``: the ``daily`` metrics as a tidy table (empty
        if the spec kept none), the runs table, factor names and the manifest.

    """
    path = Path(path)
    manifest = json.loads((path / "manifest.json").read_text())
    from livemarket.sweeps import store

    wide = store.results(path)
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


