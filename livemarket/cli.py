"""Command line: ``livemarket run`` and ``scenarios``.

The commands of the other subjects (sweeps and experiments, figures and explorer,
validation and calibration) are defined in their own modules and registered at the end
of this one.

Bad input (unknown scenario, bad override, out-of-range value, an unusable ``--out``) prints
one clear message and exits with code 2, before any simulation starts. ``run`` writes its
outputs into a temporary folder beside ``--out`` and swaps it into place only once complete:
an earlier run in ``--out`` is replaced whole or kept whole.
"""

from __future__ import annotations

import ctypes
import errno
import json
import os
import shutil
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Annotated

import polars as pl
import typer

from livemarket.config import ConfigError, builtin_scenarios, load_scenario
from livemarket.models.detail import DETAIL_TABLES
from livemarket.provenance import git_commit, version, versions
from livemarket.state import write_state

# Plain click help (rich_markup_mode=None): paragraphs re-wrapped and every option's help
# wrapped under it at the terminal's width (80 columns included), never cut off with "…".
app = typer.Typer(add_completion=False, no_args_is_help=True, rich_markup_mode=None,
                  help="Live-stream e-commerce market simulations.")


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
    detail: Annotated[
        str, typer.Option(help="Per-entity tables, comma-separated: brands, streamers, tiers (detail_<name>.parquet).")
    ] = "",
    save_state: Annotated[
        Path | None, typer.Option(help="Also save the full state at the end (a checkpoint to --resume from).")
    ] = None,
    resume: Annotated[
        Path | None, typer.Option(help="Continue a run saved with --save-state (same scenario; --days more days).")
    ] = None,
) -> None:
    """Run one scenario. Writes its tidy results (Parquet) and run.json."""
    from livemarket.models.market import LiveCommerceModel

    try:
        config = load_scenario(scenario, set_ or [], consumers=consumers, days=days, seed=seed)
        check_out(out)
        if save_state is not None and (save_state.is_dir() or not save_state.absolute().parent.is_dir()):
            raise ConfigError(f"--save-state {save_state}: accepted: a file path in an existing folder")
        started = time.time()
        tables = [x.strip() for x in detail.split(",") if x.strip()]
        if resume is not None:
            if set_ or consumers is not None or seed is not None or tables:
                raise ConfigError("--resume continues the saved run as it was: --set, --consumers, --seed and "
                                  "--detail are not accepted with it")  # fmt: skip
            model = LiveCommerceModel.load(resume, scenario=config.name)
            todo = days if days is not None else model.config.days - model.day
            if todo < 1:
                raise ConfigError(f"--resume {resume}: the saved run is at day {model.day} of its "
                                  f"{model.config.days}; accepted: --days N to run N more days")  # fmt: skip
            config = model.config
        else:
            model = LiveCommerceModel(config, run_id=f"{config.name}-seed{config.seed}", detail=tables)
            todo = config.days
        tmp = stage(out)  # the output folder is made (and so known to be writable) before the simulation
    except ConfigError as err:  # GraphInputError (a malformed graph file) is one too
        _fail(str(err))
    try:
        table = model.run(todo, progress=progress)
        if save_state is not None:
            model.save(save_state)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    seconds = time.time() - started
    meta = {
        "scenario": scenario, "seed": config.seed, "days": todo, "consumers": config.consumers,
        "resumed_from": None if resume is None else str(resume),
        "overrides": set_ or [], "seconds": round(seconds, 3), "versions": versions(),
        "version": version(), "git_commit": git_commit(), "parameters": config.model_dump(mode="json"),
    }  # fmt: skip

    def write(folder: Path) -> None:
        table.write_parquet(folder / "results.parquet")
        for name, frame in model.detail_tables().items():
            frame.write_parquet(folder / f"detail_{name}.parquet")
        (folder / "run.json").write_text(json.dumps(meta, indent=2))
        write_state(model, folder)  # the last day, for the graph figures (livemarket figures need not replay)

    try:
        publish(tmp, out, write)
    except Exception as err:  # disk full (polars: ComputeError), permissions: an environment fault
        lines = str(err).strip().splitlines() or [""]
        typer.secho(f"error: {out} could not be written ({type(err).__name__}: {lines[0]}); "
                    f"{'the earlier run in it is kept whole' if out.exists() else 'nothing was written'}",
                    fg=typer.colors.RED, err=True)  # fmt: skip
        raise typer.Exit(code=1) from None
    typer.echo(summary(table))
    typer.echo(f"\n{todo} days x {config.consumers:,} consumers in {seconds:.2f} s -> {out}/")


#: what a run folder holds (figures: `livemarket figures`; detail tables: ``--detail``)
RUN_FILES = ("results.parquet", "run.json", "state.npz", "figures", *(f"detail_{n}.parquet" for n in DETAIL_TABLES))


def check_out(out: Path) -> None:
    """Refuse an ``--out`` that a run cannot replace whole: a file, a folder of other things, unwritable.

    Raises:
        ConfigError: naming the path and what is accepted.
    """
    accepted = "accepted: a new or empty folder, or one holding an earlier run (results.parquet, run.json, figures/)"
    if out.exists() and not out.is_dir():
        raise ConfigError(f"--out {out}: is a file; {accepted}")
    if out.is_dir():
        if Path.cwd().resolve().is_relative_to(out.resolve()):
            raise ConfigError(f"--out {out}: is the current folder or holds it; accepted: a folder below it")
        other = sorted(p.name for p in out.iterdir() if p.name not in RUN_FILES)
        if other:
            raise ConfigError(f"--out {out}: holds files that are not a run's ({', '.join(other[:5])}); {accepted}")
    parent = out.absolute().parent
    while not parent.exists():
        parent = parent.parent
    if not parent.is_dir() or not os.access(parent, os.W_OK | os.X_OK):
        raise ConfigError(f"--out {out}: {parent} is not a folder this user can write in; {accepted}")


def stage(out: Path) -> Path:
    """Make the temporary folder beside ``out`` that :func:`publish` fills (after removing stale ones).

    Raises:
        ConfigError: it cannot be made (``--out`` is not writable).
    """
    try:
        out = Path(os.path.abspath(out))  # "runs/./x" and "x/" name the folder x
        out.parent.mkdir(parents=True, exist_ok=True)
        _remove_stale(out)
        tmp = out.parent / f".{out.name}.tmp-{os.getpid()}-{uuid.uuid4().hex[:8]}"
        tmp.mkdir()
    except OSError as err:
        raise ConfigError(f"--out {out}: cannot write beside it ({err}); accepted: a folder this user can "
                          "write in") from None  # fmt: skip
    return tmp


def publish(tmp: Path, out: Path, write: Callable[[Path], None]) -> None:
    """Write a run folder atomically.

    ``write(tmp)`` fills the folder made by :func:`stage`; its files are flushed to disk, then
    it takes the place of ``out`` (an earlier run there is replaced whole). ``tmp`` is gone
    afterwards, whatever happened.
    """
    try:
        write(tmp)
        for f in tmp.iterdir():
            if f.is_file():
                with open(f, "rb") as handle:
                    os.fsync(handle.fileno())
        if out.exists():
            _exchange(tmp, out)  # tmp now holds the earlier run, removed below
        else:
            os.rename(tmp, out)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def _exchange(a: Path, b: Path) -> None:
    """Swap two folders atomically (Linux renameat2 RENAME_EXCHANGE), else by two renames."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        if libc.renameat2(-100, os.fsencode(a), -100, os.fsencode(b), 2) == 0:  # AT_FDCWD, RENAME_EXCHANGE
            return
        if ctypes.get_errno() not in (errno.ENOSYS, errno.EINVAL, errno.ENOTSUP):
            raise OSError(ctypes.get_errno(), os.strerror(ctypes.get_errno()), str(b))
    except AttributeError:  # no renameat2 in this C library
        pass
    old = b.with_name(f".{b.name}.old-{os.getpid()}-{uuid.uuid4().hex[:8]}")
    os.rename(b, old)
    os.rename(a, b)
    os.rename(old, a)


def _remove_stale(out: Path) -> None:
    """Remove temporary folders beside ``out`` left by runs that were killed (their process is gone)."""
    for tmp in out.absolute().parent.glob(f".{out.name}.tmp-*-*"):
        try:
            pid = int(tmp.name.rsplit("-", 2)[1])
            os.kill(pid, 0)
        except ProcessLookupError:
            shutil.rmtree(tmp, ignore_errors=True)
        except (ValueError, PermissionError):
            continue


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
