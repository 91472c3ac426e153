"""Command line: ``livemarket run`` and ``scenarios``.

The commands of the other subjects (sweeps and experiments, figures and explorer,
validation and calibration) are defined in their own modules and registered at the end
of this one.

Bad input (unknown scenario, bad override, out-of-range value) prints one clear message
and exits with code 2, before any simulation starts.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Annotated

import polars as pl
import typer

from livemarket.config import ConfigError, builtin_scenarios, load_scenario
from livemarket.models.graphs import GraphInputError
from livemarket.provenance import git_commit, versions
from livemarket.state import write_state

app = typer.Typer(add_completion=False, no_args_is_help=True, help="Live-stream e-commerce market simulations.")


def _fail(message: str) -> None:
    typer.secho(f"error: {message}", fg=typer.colors.RED, err=True)
    raise typer.Exit(code=2)


@app.command()
def run(
    scenario: Annotated[str, typer.Argument(help="Built-in scenario name or a .toml file.")] = "china-2019",
    days: Annotated[int | None, typer.Option(help="Days to simulate (default: the scenario's).")] = None,
    consumers: Annotated[int | None, typer.Option(help="Number of consumers.")] = None,
    seed: Annotated[int | None, typer.Option(help="Random seed (default: the scenario's).")] = None,
    out: Annotated[Path, typer.Option(help="Output folder for results.parquet and run.json.")] = Path("results/run"),
    set_: Annotated[
        list[str] | None, typer.Option("--set", help="Override, e.g. platforms.douyin.link_ban=true")
    ] = None,
    progress: Annotated[bool, typer.Option(help="Show a progress bar.")] = True,
) -> None:
    """Run one scenario and write its tidy results (Parquet) and run.json."""
    from livemarket.models.market import LiveCommerceModel

    try:
        config = load_scenario(scenario, set_ or [], consumers=consumers, days=days, seed=seed)
        started = time.time()
        model = LiveCommerceModel(config, run_id=f"{config.name}-seed{config.seed}")
    except (ConfigError, GraphInputError) as err:
        _fail(str(err))
    table = model.run(config.days, progress=progress)
    seconds = time.time() - started
    out.mkdir(parents=True, exist_ok=True)
    table.write_parquet(out / "results.parquet")
    meta = {
        "scenario": scenario, "seed": config.seed, "days": config.days, "consumers": config.consumers,
        "overrides": set_ or [], "seconds": round(seconds, 3), "versions": versions(),
        "git_commit": git_commit(), "parameters": config.model_dump(mode="json"),
    }  # fmt: skip
    (out / "run.json").write_text(json.dumps(meta, indent=2))
    write_state(model, out)  # the last day, for the graph figures (livemarket figures need not replay)
    typer.echo(summary(table))
    typer.echo(f"\n{config.days} days x {config.consumers:,} consumers in {seconds:.2f} s -> {out}/")


def summary(table: pl.DataFrame) -> str:
    """GMV over the whole run and its share, by platform (raw and scaled to the real market)."""
    gmv = (
        table.filter(pl.col("metric") == "gmv_rmb", pl.col("channel") == "all", pl.col("platform") != "all")
        .group_by("platform", maintain_order=True)
        .agg(pl.col("value").sum().alias("gmv_rmb"), pl.col("value_scaled").sum().alias("gmv_scaled_rmb"))
    )
    total = gmv["gmv_rmb"].sum() or 1.0
    lines = [f"{'platform':<12}{'GMV (RMB, sim)':>18}{'GMV (RMB bn, scaled)':>24}{'share':>9}"]
    for row in gmv.iter_rows(named=True):
        lines.append(
            f"{row['platform']:<12}{row['gmv_rmb']:>18,.0f}{row['gmv_scaled_rmb'] / 1e9:>24,.1f}"
            f"{f'{100 * row["gmv_rmb"] / total:.3g}%':>9}"  # 3 significant digits: 0.0102%, not 0.0%
        )
    return "\n".join(lines)


@app.command()
def scenarios() -> None:
    """List the built-in scenarios."""
    for name in builtin_scenarios():
        typer.echo(name)


# commands that live with their subject
from livemarket.calibration import calibrate_command  # noqa: E402
from livemarket.sweeps.cli import register as register_sweeps  # noqa: E402
from livemarket.validation import validate_command  # noqa: E402
from livemarket.viz_cli import explore, figures  # noqa: E402

register_sweeps(app)  # sweep, sensitivity, experiments
app.command()(figures)
app.command()(explore)
app.command("validate")(validate_command)
app.command("calibrate")(calibrate_command)

if __name__ == "__main__":  # pragma: no cover
    app()
