"""The validation report: replicates summarised per target, the Markdown table and the figure."""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import polars as pl

from livemarket.validation.targets import TARGETS, Target

__all__ = ["figure", "fmt_number", "markdown_table", "mean_interval", "summarise"]


def summarise(
    runs: Sequence[dict[str, float]], targets: Sequence[Target] = TARGETS
) -> pl.DataFrame:
    """Per target: mean over replicates, 95% t-interval, verdict (one row per target)."""
    rows = []
    for t in targets:
        values = [r.get(t.key, float("nan")) for r in runs]
        mean, low, high = mean_interval(values)
        rows.append({
            "key": t.key, "pattern": t.pattern, "label": t.label, "unit": t.unit, "target": t.target_text,
            "mean": mean, "low": low, "high": high, "replicates": int(np.isfinite(np.asarray(values, float)).sum()),
            "passed": t.passes(mean), "in_sample": t.in_sample, "source": t.source,
        })  # fmt: skip
    return pl.DataFrame(rows, schema_overrides={"passed": pl.Boolean})


def mean_interval(values: Sequence[float]) -> tuple[float, float, float]:
    """Mean and 95% t-interval of the replicate mean over the finite values (NaN bounds below two)."""
    from scipy import stats

    x = np.asarray([v for v in values if v is not None and math.isfinite(v)], float)
    if len(x) < 2:
        return (float(x.mean()) if len(x) else float("nan"), float("nan"), float("nan"))
    half = float(stats.t.ppf(0.975, len(x) - 1) * x.std(ddof=1) / math.sqrt(len(x)))
    return float(x.mean()), float(x.mean() - half), float(x.mean() + half)


def fmt_number(x: float) -> str:
    """A number as the tables print it (thousands separated, 3 significant digits below 10, n/a)."""
    if x is None or not math.isfinite(x):
        return "n/a"
    return f"{x:,.0f}" if abs(x) >= 1000 else f"{x:.3g}" if abs(x) < 10 else f"{x:.1f}"


def markdown_table(summary: pl.DataFrame, in_sample: Sequence[str] | None = None) -> str:
    """Render the validation table in Markdown: pattern, measure, target, mean [95% CI], fit, verdict."""
    fitted = set(in_sample) if in_sample is not None else None
    lines = [
        "| Pattern | Measure | Unit | Target | Model mean [95% CI] | Fit | Verdict |",
        "|---|---|---|---|---|---|---|",
    ]
    last = None
    for r in summary.iter_rows(named=True):
        inside = r["key"] in fitted if fitted is not None else r["in_sample"]
        verdict = {True: "**pass**", False: "FAIL", None: "—"}[r["passed"]]
        pattern = r["pattern"] if r["pattern"] != last else ""
        last = r["pattern"]
        ci = f"{fmt_number(r['mean'])} [{fmt_number(r['low'])}, {fmt_number(r['high'])}]"
        lines.append(
            f"| {pattern} | {r['label']} | {r['unit']} | {r['target']} | {ci} | "
            f"{'in' if inside else 'out'} | {verdict} |"
        )
    return "\n".join(lines)


def figure(
    summary: pl.DataFrame, runs: Sequence[dict[str, float]], path: str | Path, targets: Sequence[Target] = TARGETS
) -> list[Path]:
    """Targets (band or point +- tolerance) against replicate values, one panel per pattern.

    Writes ``path`` with suffixes .png, .pdf and .svg and returns the paths.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    by_key = {t.key: t for t in targets}
    rows = [r for r in summary.iter_rows(named=True) if by_key[r["key"]].kind != "info" and math.isfinite(r["mean"])]
    patterns = list(dict.fromkeys(r["pattern"] for r in rows))
    fig, axes = plt.subplots(
        len(patterns),
        1,
        figsize=(7.0, 1.1 + 0.42 * len(rows) + 0.35 * len(patterns)),
        gridspec_kw={
            "height_ratios": [sum(r["pattern"] == p for r in rows) + 0.6 for p in patterns]
        },
    )
    axes = np.atleast_1d(axes)
    for ax, pat in zip(axes, patterns, strict=True):
        mine = [r for r in rows if r["pattern"] == pat]
        for i, r in enumerate(mine):
            t = by_key[r["key"]]
            lo, hi = (
                (t.value - t.tolerance, t.value + t.tolerance)
                if t.kind == "point"
                else ((t.low, t.high) if t.kind == "range" else (t.low, None))
            )
            if hi is None:  # "above": a threshold
                ax.plot([lo, lo], [i - 0.35, i + 0.35], color="#332288", lw=1.2, ls=":")
            else:
                ax.fill_betweenx([i - 0.3, i + 0.3], lo, hi, color="#88CCEE", alpha=0.5, lw=0)
            if t.kind == "point":
                ax.plot([t.value], [i], "|", color="#332288", ms=12)
            vals = [x.get(r["key"], float("nan")) for x in runs]
            ax.plot(
                vals,
                [i] * len(vals),
                "o",
                color="#CC6677" if r["passed"] is False else "#117733",
                ms=3.5,
                alpha=0.7,
            )
            ax.plot([r["mean"]], [i], "D", color="black", ms=4)
        ax.set_yticks(range(len(mine)), [f"{r['label']} ({r['unit']})" for r in mine], fontsize=7)
        ax.set_ylim(-0.6, len(mine) - 0.4)
        ax.set_title(pat, fontsize=8, loc="left")
        ax.tick_params(axis="x", labelsize=7)
        ax.invert_yaxis()
    fig.suptitle(
        "Stylized facts: target (band / tick) vs model replicates (dots) and mean (diamond)",
        fontsize=8,
    )
    fig.tight_layout(rect=(0, 0, 1, 1 - 0.35 / fig.get_figheight()))  # room for the title above the first panel
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    out = []
    for suffix in (".png", ".pdf", ".svg"):
        p = path.with_suffix(suffix)
        fig.savefig(p, dpi=300)
        out.append(p)
    plt.close(fig)
    return out
