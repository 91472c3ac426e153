"""Reading results for figures: load runs and sweeps, label metrics with units, summarise.

The tidy results table has one row per (run, day, platform, channel, metric). A sweep adds
``point``, ``replicate`` and one column per factor. Figures need three things from it:

* a metric in display units (``gmv_rmb`` scaled to the real market, in bn RMB per day;
  shares in per cent) with an axis label that says so: :func:`metric_label`, :func:`display_values`;
* a daily series per group with a 95% confidence band over replicates: :func:`band`;
* one number per run (the mean over the last days), to compare strategies: :func:`per_run`.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import polars as pl

__all__ = [
    "BASE_COLUMNS",
    "Results",
    "band",
    "display_values",
    "factor_columns",
    "load_results",
    "metric_label",
    "metric_unit",
    "wrap_label",
    "per_run",
    "replicate_column",
]

#: Columns of every tidy results table.
BASE_COLUMNS = ("run_id", "step", "date", "platform", "channel", "metric", "value", "value_scaled")
#: Bookkeeping columns of sweeps that are neither metrics nor factors.
SWEEP_COLUMNS = ("point", "replicate", "seed", "scenario", "run_dir", "path")

_MONEY = ("bn RMB/day", "value_scaled", 1e-9)
_PERCENT = ("%", "value", 100.0)
_UNIT_SCALE = ("0–1", "value", 1.0)
#: metric -> (reader's name, unit, source column, multiplier to the unit)
METRICS: dict[str, tuple[str, str, str, float]] = {
    "gmv_rmb": ("GMV", *_MONEY),
    "gmv_net_rmb": ("GMV net of returns", *_MONEY),
    "refunds_rmb": ("Refunds", *_MONEY),
    "orders": ("Orders", "million/day", "value_scaled", 1e-6),
    "returns": ("Returns", "million/day", "value_scaled", 1e-6),
    "orders_delayed": ("Delayed orders", "million/day", "value_scaled", 1e-6),
    "revenue_commission_rmb": ("Commission revenue", *_MONEY),
    "revenue_link_fees_rmb": ("Link-fee revenue", *_MONEY),
    "revenue_ads_rmb": ("Ad revenue", *_MONEY),
    "revenue_splash_ads_rmb": ("Splash-ad revenue", *_MONEY),
    "traffic_cost_rmb": ("Traffic bought", *_MONEY),
    "live_room_gmv_rmb": ("GMV from live rooms", *_MONEY),
    "outbound_link_gmv_rmb": ("GMV via outbound links", *_MONEY),
    "brand_receipts_rmb": ("Brand receipts", *_MONEY),
    "streamer_receipts_rmb": ("Streamer receipts", *_MONEY),
    "head_streamer_gmv_rmb": ("Most popular streamer's GMV", *_MONEY),
    "platform_receipts_rmb": ("Platform receipts", *_MONEY),
    "consumer_surplus_rmb": ("Consumer surplus", *_MONEY),
    "gmv_share": ("GMV share", *_PERCENT),
    "live_gmv_share": ("Share of live GMV", *_PERCENT),
    "adopter_share": ("Live-shopping adopters", "% of consumers", "value", 100.0),
    "multihoming_rate": ("Multi-homing", "% of consumers", "value", 100.0),
    "return_rate": ("Return rate", "% of orders", "value", 100.0),
    "streamer_top1_share": ("Top-1% streamers' GMV share", *_PERCENT),
    "self_broadcast_share": ("Self-broadcast share of live GMV", *_PERCENT),
    "hhi": ("HHI of GMV shares", *_UNIT_SCALE),
    "streamer_gini": ("Gini of streamer GMV", *_UNIT_SCALE),
    "users": ("Users", "million", "value_scaled", 1e-6),
    "churned": ("Users leaving", "million/day", "value_scaled", 1e-6),
    "joined": ("Users joining", "million/day", "value_scaled", 1e-6),
    "adopted": ("New adopters", "million/day", "value_scaled", 1e-6),
    "minutes_per_user": ("Time spent", "min/user/day", "value", 1.0),
    "minutes_per_consumer": ("Time spent", "min/consumer/day", "value", 1.0),
    "live_streamers": ("Streamers live", "simulated, per day", "value", 1.0),
    "brand_accounts_live": ("Brands' own accounts live", "simulated, per day", "value", 1.0),
    "scandals": ("Scandals", "per day", "value", 1.0),
    **{f"trust_{s}": (f"Platform trust ({s.replace('p', 'P')})", *_UNIT_SCALE) for s in ("p10", "p50", "p90")},
    "trust_mean": ("Platform trust (mean)", *_UNIT_SCALE),
    "streamer_trust_mean": ("Streamer trust (mean)", *_UNIT_SCALE),
    "streamer_reputation_mean": ("Streamers' public reputation (mean)", *_UNIT_SCALE),
    **{f"streamer_trust_{s}": (f"Streamer trust ({s.replace('p', 'P')})", *_UNIT_SCALE) for s in ("p10", "p50", "p90")},
}  # fmt: skip

#: Readers' names of platforms and channels in legends.
PLATFORM_NAMES = {
    "douyin": "Douyin", "kuaishou": "Kuaishou", "taobao": "Taobao/Tmall", "jd": "JD",
    "pinduoduo": "Pinduoduo", "all": "Market", "video": "Video app", "mall": "Mall",
}  # fmt: skip
CHANNEL_NAMES = {
    "live_own_shop": "Live room, own shop", "live_outbound_link": "Live room, outbound link",
    "live_later_search": "Live room, later search", "planned_search": "Planned search",
    "splash_ad": "Splash ad",
}  # fmt: skip


def nice(name: str) -> str:
    """Reader's name of a platform, channel or factor (``"jd"`` -> ``"JD"``).

    Dotted factor names read as words: ``"platforms.douyin.ad_load"`` -> ``"Douyin ad load"``.
    """
    name = str(name)
    if "." in name:
        parts = name.split(".")
        if parts[0] == "platforms" and len(parts) > 2:
            return f"{nice(parts[1])} {' '.join(parts[2:]).replace('_', ' ')}"
        return " ".join(parts[-2:]).replace("_", " ")
    return PLATFORM_NAMES.get(name) or CHANNEL_NAMES.get(name) or name.replace("_", " ")


def metric_label(metric: str, unit: bool = True) -> str:
    """Axis label with units, e.g. ``"GMV (bn RMB/day)"``."""
    name, u, _, _ = METRICS.get(metric, (metric.replace("_", " "), "", "value", 1.0))
    return f"{name} ({u})" if unit and u else name


def wrap_label(text: str, width: int = 28) -> str:
    """Put a long axis label's unit on a second line, so it fits beside a small panel."""
    name, sep, unit = text.partition(" (")
    return f"{name}\n({unit}" if sep and len(text) > width else text


def metric_unit(metric: str) -> str:
    """Return the unit of a metric as displayed (``"bn RMB/day"``), empty if it has none."""
    return METRICS.get(metric, ("", "", "", 1.0))[1]


def display_values(metric: str) -> pl.Expr:
    """Expression giving ``metric`` in display units (see :data:`METRICS`), named ``y``."""
    _, _, column, factor = METRICS.get(metric, ("", "", "value", 1.0))
    col = (
        pl.coalesce(pl.col(column), pl.col("value")) if column == "value_scaled" else pl.col(column)
    )
    return (col * factor).alias("y")


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


def factor_columns(frame: pl.DataFrame) -> list[str]:
    """Columns of a sweep table that are factors (neither tidy columns nor bookkeeping)."""
    return [c for c in frame.columns if c not in BASE_COLUMNS and c not in SWEEP_COLUMNS]


def load_results(source: str | Path | pl.DataFrame, factors: list[str] | None = None) -> Results:
    """Read a run folder, a sweep folder, a Parquet file or a frame.

    * a run folder holds ``results.parquet`` (and ``run.json``);
    * a sweep folder of ``livemarket.sweeps`` holds ``manifest.json`` and ``runs/*.parquet``
      (read by :func:`livemarket.figures.sweepdata.read_sweep_store`);
    * any other folder: every Parquet file below it, concatenated (a tidy sweep table has
      ``point`` and ``replicate`` columns; a JSON manifest beside them is read if present).

    Args:
        source: folder, ``.parquet`` file or an already loaded frame.
        factors: the sweep's factor columns (default: from the manifest, else every column
            that is neither tidy nor bookkeeping).

    """
    from livemarket.figures.sweepdata import is_sweep_store, read_sweep_store

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


def t_quantile(p, df):
    """Quantile ``p`` of Student's t with ``df`` degrees of freedom (``scipy.stats.t.ppf``).

    From ``scipy.special``, which the model has loaded already: ``scipy.stats`` would add
    half a second to the start of ``livemarket figures``.
    """
    from scipy.special import stdtrit

    return stdtrit(df, p)


def replicate_column(frame: pl.DataFrame) -> str:
    """Return the column that tells replicates apart: ``replicate`` in sweeps, else ``run_id``."""
    return "replicate" if "replicate" in frame.columns else "run_id"


def _select(frame: pl.DataFrame, metric: str, platform: str | None, channel: str) -> pl.DataFrame:
    rows = frame.filter(pl.col("metric") == metric, pl.col("channel") == channel)
    if platform is not None:
        rows = rows.filter(pl.col("platform") == platform)
    if rows.is_empty():
        from livemarket.suggest import did_you_mean

        hint = "".join(
            did_you_mean(v, frame[c].unique().to_list())
            for c, v in (("metric", metric), ("platform", platform), ("channel", channel))
            if v is not None and v not in set(frame[c].unique().to_list())
        )
        raise ValueError(f"no rows for metric={metric!r}, platform={platform!r}, channel={channel!r}{hint}")
    return rows


def band(
    frame: pl.DataFrame,
    metric: str,
    hue: str = "platform",
    platform: str | None = None,
    channel: str = "all",
    smooth_days: int = 7,
    level: float = 0.95,
) -> pl.DataFrame:
    """Daily mean of a metric per ``hue`` group with a confidence band over replicates.

    Each replicate's series is first smoothed by a centred rolling mean of ``smooth_days``;
    then, day by day, the band is mean +/- t * sd / sqrt(n) over the n replicates
    (no band when n = 1).

    Returns:
        Columns ``hue, step, date, mean, lo, hi, n`` (``lo``/``hi`` null when n = 1).

    """
    rep = replicate_column(frame)
    rows = _select(frame, metric, platform, channel)
    if "point" in rows.columns and hue != "point" and rows["point"].n_unique() > 1:
        raise ValueError("the table holds several sweep points: filter one, or pass hue='point'")
    keys = list(dict.fromkeys([hue, rep, "run_id"] if rep != "run_id" else [hue, rep]))
    rows = rows.select(*keys, "step", "date", display_values(metric)).sort([*keys, "step"])
    if smooth_days > 1:
        rows = rows.with_columns(
            pl.col("y").rolling_mean(smooth_days, center=True, min_samples=1).over(keys)
        )
    out = (
        rows.group_by(hue, "step", "date")
        .agg(pl.col("y").mean().alias("mean"), pl.col("y").std().alias("sd"), pl.len().alias("n"))
        .sort(hue, "step")
    )
    n = out["n"].to_numpy()
    t = np.where(n > 1, t_quantile(0.5 + level / 2, np.maximum(n - 1, 1)), np.nan)
    half = pl.Series(t) * out["sd"] / out["n"].cast(pl.Float64).sqrt()
    # keep the band inside the metric's range: amounts and shares are never negative,
    # shares never above 100%, trust and indices never above 1
    # (a rolling mean of non-negative values can come out at -1e-18: still non-negative)
    low = 0.0 if rows["y"].min() >= -1e-12 * float(rows["y"].abs().max() or 1.0) else None
    high = {"%": 100.0, "% of consumers": 100.0, "% of orders": 100.0, "0–1": 1.0}.get(
        metric_unit(metric)
    )
    return out.with_columns(
        lo=(pl.col("mean") - half).clip(lower_bound=low),
        hi=(pl.col("mean") + half).clip(upper_bound=high),
    ).drop("sd")


def per_run(
    frame: pl.DataFrame,
    metrics: list[str] | str,
    platforms: list[str] | None = None,
    channel: str = "all",
    last_days: int | None = 90,
) -> pl.DataFrame:
    """One number per run and series: the mean of each metric over the run's last days.

    Args:
        frame: tidy results (a run, several runs, or a sweep).
        metrics: metric names.
        platforms: platforms to keep (default: all, including the ``"all"`` aggregate).
        channel: channel (``"all"`` = every channel).
        last_days: average over the last ``last_days`` days of each run (``None``: the whole run).

    Returns:
        One row per run, platform and metric with every non-tidy column of ``frame`` (factors,
        ``point``, ``replicate``, labels) and ``y`` in display units.

    """
    metrics = [metrics] if isinstance(metrics, str) else list(metrics)
    rows = frame.filter(pl.col("metric").is_in(metrics), pl.col("channel") == channel)
    if platforms is not None:
        rows = rows.filter(pl.col("platform").is_in(platforms))
    run_keys = [c for c in frame.columns if c not in BASE_COLUMNS] + ["run_id"]
    if last_days is not None:
        last = pl.col("step").max().over(run_keys)
        rows = rows.filter(pl.col("step") > last - last_days)
    parts = [rows.filter(pl.col("metric") == m).with_columns(display_values(m)) for m in metrics]
    rows = pl.concat(parts)
    return rows.group_by([*run_keys, "platform", "metric"], maintain_order=True).agg(
        pl.col("y").mean()
    )


def mean_ci(values: np.ndarray, level: float = 0.95) -> tuple[float, float]:
    """Mean and half-width of its t confidence interval (0 for a single value)."""
    v = np.asarray(values, dtype=float)
    v = v[np.isfinite(v)]
    if len(v) < 2:
        return (float(v.mean()) if len(v) else float("nan")), 0.0
    half = t_quantile(0.5 + level / 2, len(v) - 1) * v.std(ddof=1) / np.sqrt(len(v))
    return float(v.mean()), float(half)
