"""Results for figures: label metrics with units, summarise (reading them: :mod:`livemarket.figures.load`).

The tidy results table has one row per (run, day, platform, channel, metric). A sweep adds
``point``, ``replicate`` and one column per factor. Figures need three things from it:

* a metric in display units (``gmv_rmb`` scaled to the real market, in bn RMB per day;
  shares in per cent) with an axis label that says so: :func:`metric_label`, :func:`display_values`;
* a daily series per group with a 95% confidence band over replicates: :func:`band`;
* one number per run (the mean over the last days), to compare strategies: :func:`per_run`.
"""

from __future__ import annotations

import numpy as np
import polars as pl

from livemarket.models.metrics import METRIC_INFO

__all__ = [
    "BASE_COLUMNS",
    "band",
    "display_values",
    "factor_columns",
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

#: metric -> (reader's name, unit, source column, multiplier to the unit), from the metric registry
METRICS: dict[str, tuple[str, str, str, float]] = {name: (m.label, *m.display) for name, m in METRIC_INFO.items()}

#: Readers' names of platforms and channels in legends.
PLATFORM_NAMES = {
    "douyin": "Douyin", "kuaishou": "Kuaishou", "taobao": "Taobao/Tmall", "jd": "JD",
    "pinduoduo": "Pinduoduo", "all": "Market", "video": "Video app", "mall": "Mall",
}  # fmt: skip
CHANNEL_NAMES = {
    "live_own_shop": "Live room, own shop", "live_outbound_link": "Live room, outbound link",
    "live_later_search": "Live room, later search", "planned_search": "Planned search",
    "splash_ad": "Splash ad", "video_own_shop": "Product video, own shop",
    "video_outbound_link": "Product video, outbound link", "video_later_search": "Product video, later search",
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


def factor_columns(frame: pl.DataFrame) -> list[str]:
    """Columns of a sweep table that are factors (neither tidy columns nor bookkeeping)."""
    return [c for c in frame.columns if c not in BASE_COLUMNS and c not in SWEEP_COLUMNS]


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
    t = np.full(len(n), np.nan)  # one run per group (a single run): no band, and no scipy to import
    if (n > 1).any():
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
