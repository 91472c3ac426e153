"""``livemarket validate``: run the replicates, print and write the validation table and figure."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import polars as pl
import typer

from livemarket.config import load_scenario
from livemarket.sweeps.modelclass import DEFAULT_MODEL, check_keywords, split_overrides
from livemarket.validation.report import figure, markdown_table
from livemarket.validation.runs import RunSpec, validate
from livemarket.validation.targets import DAYS, HISTORY, LIVE, SHELF
from livemarket.validation.timeline import TIMELINE_DAYS, TIMELINE_TARGETS
from livemarket.validation.timeline_report import timeline_figure, timeline_tables

__all__ = ["validate_command"]


def validate_command(
    scenario: Annotated[
        str, typer.Argument(help="Built-in scenario name or a .toml file.")
    ] = "china-2019",
    replicates: Annotated[int, typer.Option(help="Replicate runs (seeds).")] = 4,
    consumers: Annotated[
        int | None, typer.Option(help="Consumers (default: the scenario's).")
    ] = None,
    seed: Annotated[int, typer.Option(help="Root seed of the replicates.")] = 1,
    days: Annotated[int | None, typer.Option(
        help="Days from 2019-01-01 (default: 912 = to 2021-06-30; the timeline: its own 2192).")] = None,
    targets: Annotated[str, typer.Option(
        help="Facts: snapshot (2019-2021), timeline (2019-2024) or auto (timeline for china-2019-2024).")] = "auto",
    set_: Annotated[
        list[str] | None, typer.Option("--set", help="Override, e.g. consumer.bass_q=0.001")
    ] = None,
    out: Annotated[
        Path, typer.Option(help="Folder for validation.md, moments.parquet, figures.")
    ] = Path("results/validate"),
    workers: Annotated[int, typer.Option(help="Dask worker processes (0: run here).")] = 0,
    model: Annotated[str, typer.Option(help=(
        "Model class, package.module:Class (a LiveCommerceModel subclass; its keywords: --set model.<k>=v)."
    ))] = DEFAULT_MODEL,  # fmt: skip
) -> None:
    """Check the stylized facts on replicate runs. Prints each fact: target, model [95% CI], verdict.

    Writes validation.md, moments.parquet and validation.{png,pdf,svg} to --out; for the timeline
    the in-sample and out-of-sample tables and timeline.{png,pdf} (yearly paths against the facts).
    """
    import time

    try:
        if targets not in ("auto", "snapshot", "timeline"):
            raise ValueError(f"--targets {targets!r}: accepted: auto, snapshot, timeline")
        base = load_scenario(scenario, split_overrides(set_ or [])[0], consumers=consumers)
        if targets == "auto":
            targets = "timeline" if base.trends and base.days >= TIMELINE_DAYS else "snapshot"
        days = days if days is not None else (base.days if targets == "timeline" else DAYS)
        lacking = sorted(({h["platform"] for h in HISTORY} | set(SHELF) | set(LIVE)) - set(base.platforms))
        if lacking:  # the comparison and its 2020 history are about these platforms, not the user's policies
            raise ValueError(
                f"validate compares a scenario with the Chinese market of 2019-2021 and lays its documented "
                f"2020 policies over it, so the scenario needs the platforms {lacking}; {scenario!r} has "
                f"{sorted(base.platforms)}; accepted: china-2019 or a scenario with those platforms"
            )
        RunSpec(scenario, tuple(set_ or []), consumers, days, targets == "snapshot", 0, model).config()
        check_keywords(model, split_overrides(set_ or [])[1], "--set")  # also imports the model class
        if replicates < 1 or days < 1:
            raise ValueError("--replicates and --days must be at least 1")
        if seed < 0 or workers < 0:
            raise ValueError(f"--seed {seed} and --workers {workers}: accepted: 0 or more")
    except (ValueError, OSError) as err:  # ConfigError is a ValueError
        typer.secho(f"error: {err}", fg=typer.colors.RED, err=True)
        raise typer.Exit(code=2) from None
    started = time.time()
    summary, runs = validate(scenario, replicates, consumers, seed, set_ or [], days, workers=workers, model=model,
                             targets=targets)  # fmt: skip
    out.mkdir(parents=True, exist_ok=True)
    pl.DataFrame(runs).write_parquet(out / "moments.parquet")
    if targets == "timeline":
        inside, outside = timeline_tables(summary)
        table = (f"## In sample, 2019-2021 (point and range targets fitted; AOV ordering and returns checked)"
                 f"\n\n{inside}\n\n## Out of sample, 2022-2024 (never fitted)\n\n{outside}")  # fmt: skip
        figure(summary, runs, out / "validation", TIMELINE_TARGETS)
        timeline_figure(runs, out / "timeline")
    else:
        table = markdown_table(summary)
        figure(summary, runs, out / "validation")
    (out / "validation.md").write_text(table + "\n", encoding="utf-8")
    typer.echo(table)
    judged = summary.filter(pl.col("passed").is_not_null())
    typer.echo(
        f"\n{judged['passed'].sum()} of {len(judged)} checks pass; {replicates} replicates in "
        f"{time.time() - started:.0f} s -> {out}/"
    )
