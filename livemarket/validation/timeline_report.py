"""The timeline's report: in-sample and out-of-sample tables, and the model's yearly paths against the facts."""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import polars as pl

from livemarket.validation.report import fmt_number, mean_interval
from livemarket.validation.timeline import NBS_ONLINE_RETAIL_TRN, TIMELINE_TARGETS, YEARS

__all__ = ["timeline_figure", "timeline_tables"]

_BY_KEY = {t.key: t for t in TIMELINE_TARGETS}


def _why(key: str, passed: bool | None) -> str:
    """The short reason printed beside a verdict (the long ones are in docs/validation_notes.md)."""
    t = _BY_KEY[key]
    if "not modelled" in t.source:
        return "not modelled"
    return {True: "**pass**", False: "FAIL", None: "—"}[passed]


def timeline_tables(summary: pl.DataFrame) -> tuple[str, str]:
    """Markdown tables (in sample 2019-2021, out of sample 2022-2024): target, model [95% CI], verdict."""
    head = ["| Fact | Measure | Unit | Target | Model mean [95% CI] | Verdict |", "|---|---|---|---|---|---|"]
    tables = {True: list(head), False: list(head)}
    last = {True: None, False: None}
    for r in summary.iter_rows(named=True):
        ins = _BY_KEY[r["key"]].in_sample
        pattern = r["pattern"] if r["pattern"] != last[ins] else ""
        last[ins] = r["pattern"]
        f = fmt_number
        model = "n/a" if not math.isfinite(r["mean"]) else f"{f(r['mean'])} [{f(r['low'])}, {f(r['high'])}]"
        tables[ins].append(f"| {pattern} | {r['label']} | {r['unit']} | {r['target']} | {model} | "
                           f"{_why(r['key'], r['passed'])} |")  # fmt: skip
    return "\n".join(tables[True]), "\n".join(tables[False])


def timeline_figure(runs: Sequence[dict[str, float]], path: str | Path) -> list[Path]:
    """Yearly paths (replicate mean and 95% interval) against the facts: market, Douyin, live GMV by platform.

    Writes ``path`` as .png and .pdf and returns the paths.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from livemarket.figures.style import color_of as platform_color

    def series(key: str) -> np.ndarray:
        return np.array([mean_interval([r.get(f"path:{key}:{y}", float("nan")) for r in runs]) for y in YEARS])

    def band(ax, key: str, label: str, color: str, style: str = "-o") -> None:
        s = series(key)
        ax.plot(YEARS, s[:, 0], style, color=color, ms=3, lw=1.4, label=label)
        ax.fill_between(YEARS, s[:, 1], s[:, 2], color=color, alpha=0.25, lw=0)

    fig, axes = plt.subplots(1, 3, figsize=(11.0, 3.6))
    ax = axes[0]
    band(ax, "market_gmv_bn", "model", "#332288")
    level = _BY_KEY["market_gmv_2019_bn"].value
    ax.plot(YEARS, [level * NBS_ONLINE_RETAIL_TRN[y] / NBS_ONLINE_RETAIL_TRN[2019] for y in YEARS], "k--", lw=1,
            label="2019 target x NBS growth")  # fmt: skip
    ax.set_title("a  Five platforms' GMV", loc="left", fontsize=9)
    ax.set_ylabel("bn RMB a year")
    ax = axes[1]
    band(ax, "douyin_gmv_bn", "model: live rooms + product videos", platform_color("douyin"))
    band(ax, "douyin_live_gmv_bn", "model: live rooms only", platform_color("douyin"), "--")
    for key, year in (("douyin_gmv_2020_bn", 2020), ("douyin_gmv_2021_bn", 2021)):
        t = _BY_KEY[key]
        ax.errorbar([year], [t.value], yerr=[t.tolerance], fmt="s", color="black", ms=4, capsize=3,
                    label="target" if year == 2020 else None)  # fmt: skip
    ax.set_title("b  Douyin GMV (in sample to 2021)", loc="left", fontsize=9)
    ax = axes[2]
    for p in ("taobao", "kuaishou", "douyin"):
        band(ax, f"{p}_live_gmv_bn", p.capitalize() if p != "taobao" else "Taobao/Tmall", platform_color(p))
    ax.set_title("c  Live-room GMV by platform", loc="left", fontsize=9)
    for ax in axes:
        ax.axvspan(2021.5, 2024.5, color="0.92", lw=0, zorder=0)
        ax.text(2023, 0.03, "out of sample", transform=ax.get_xaxis_transform(), ha="center", va="bottom",
                fontsize=7, color="0.4")  # at the foot of the band, clear of the paths
        ax.set_xticks(YEARS, [str(y) for y in YEARS], fontsize=8)
        ax.tick_params(axis="y", labelsize=8)
        ax.legend(fontsize=7, frameon=False, loc="upper left")
        ax.spines[["top", "right"]].set_visible(False)
    fig.suptitle(f"china-2019-2024: model paths (mean and 95% interval over {len(runs)} replicates) against the facts",
                 fontsize=9)  # fmt: skip
    fig.tight_layout()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    out = []
    for suffix in (".png", ".pdf"):
        fig.savefig(path.with_suffix(suffix), dpi=200)
        out.append(path.with_suffix(suffix))
    plt.close(fig)
    return out
