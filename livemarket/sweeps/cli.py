"""Command line of the sweeps: ``livemarket sweep``, ``livemarket sensitivity``, ``livemarket experiments``.

Registered on the main typer app by :func:`register`. Bad input (unknown spec, invalid
field, a changed spec in an existing folder) prints one clear message and exits with 2; a
sweep that ends with runs missing (a chunk that could not be written) exits with 1.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Annotated

import typer

from livemarket.config import ConfigError
from livemarket.sweeps.catalog import experiment_files, find_experiment

__all__ = ["register"]

Out = Annotated[Path | None, typer.Option(help="Sweep folder (default results/sweeps/<name>[-quick]).")]
Workers = Annotated[int | None, typer.Option(help="Local worker processes (default: one per core; 0: no Dask).")]
Scheduler = Annotated[str | None, typer.Option(help="Attach to a running Dask scheduler, e.g. tcp://host:8786.")]
Slurm = Annotated[bool, typer.Option(help="Start workers as SLURM jobs (dask-jobqueue).")]
Quick = Annotated[bool, typer.Option(help="Use the spec's small quick size (runs in under a minute).")]
Interface = Annotated[str | None, typer.Option(help="SLURM: network interface of scheduler and workers (ib0).")]
LogDir = Annotated[Path | None, typer.Option(help="SLURM: folder for the worker jobs' output files.")]
JobExtra = Annotated[list[str] | None, typer.Option(
    help="SLURM: an extra #SBATCH directive, e.g. --job-extra=--qos=short (repeatable).")]  # fmt: skip
PrintJobScript = Annotated[bool, typer.Option("--job-script", help="SLURM: print the worker job script and exit.")]
TimeLimit = Annotated[float | None, typer.Option(metavar="SECONDS", help=(
    "Per-run time limit (overrides the spec's run_time_limit_s): a run that takes longer is recorded "
    "as failed and its worker restarted. With --workers 0: SIGALRM."))]  # fmt: skip


def _fail(message: str) -> None:
    typer.secho(f"error: {message}", fg=typer.colors.RED, err=True)
    raise typer.Exit(code=2)


#: A SLURM time limit: minutes, MM:SS, HH:MM:SS, D-HH, D-HH:MM or D-HH:MM:SS.
WALLTIME = re.compile(r"^(\d+-\d+(:\d{1,2}){0,2}|\d+(:\d{1,2}){0,2})$")


def _slurm_options(slurm, queue, account, walltime, cores, memory, jobs, interface=None, log_dir=None, job_extra=None):
    if not slurm:
        if interface or log_dir or job_extra:
            _fail("--interface, --log-dir and --job-extra are SLURM options: add --slurm")
        return None
    from livemarket.sweeps.runner import SlurmOptions

    if not WALLTIME.match(walltime):
        _fail(f"--walltime: {walltime!r} is not a SLURM time limit; accepted: MM, HH:MM:SS, D-HH:MM:SS (e.g. 02:00:00)")
    if interface:  # the scheduler listens on it here, the workers on theirs
        import psutil

        names = sorted(psutil.net_if_addrs())
        if interface not in names:
            _fail(f"--interface: no network interface {interface!r} on this machine; accepted: {', '.join(names)}")
    extra = [e if e.startswith("-") else f"--{e}" for e in job_extra or []]
    return SlurmOptions(queue=queue, account=account, walltime=walltime, cores=cores, memory=memory, jobs=jobs,
                        interface=interface, log_dir=str(log_dir) if log_dir else None, job_extra=extra)  # fmt: skip


def job_script(options) -> str:
    """The batch script each SLURM worker job is submitted with (starts a scheduler here, submits nothing)."""
    from dask_jobqueue import SLURMCluster

    with SLURMCluster(**options.cluster_kwargs(), scheduler_options={"dashboard_address": ":0"}) as cluster:
        return cluster.job_script()


def sweep(
    spec: Annotated[str, typer.Argument(help="Experiment .toml file or name (see `livemarket experiments`).")],
    out: Out = None,
    workers: Workers = None,
    scheduler: Scheduler = None,
    slurm: Slurm = False,
    queue: Annotated[str | None, typer.Option(help="SLURM partition.")] = None,
    account: Annotated[str | None, typer.Option(help="SLURM account.")] = None,
    walltime: Annotated[str, typer.Option(help="SLURM walltime per job.")] = "01:00:00",
    cores: Annotated[int, typer.Option(help="SLURM cores per job (one worker each).")] = 8,
    memory: Annotated[str, typer.Option(help="SLURM memory per job.")] = "16GB",
    jobs: Annotated[int, typer.Option(help="SLURM jobs to start.")] = 1,
    interface: Interface = None,
    log_dir: LogDir = None,
    job_extra: JobExtra = None,
    print_job_script: PrintJobScript = False,
    quick: Quick = False,
    chunk_size: Annotated[int | None, typer.Option(help="Runs per task (default: about 5 s of work).")] = None,
    retry_failed: Annotated[bool, typer.Option(help="Run failed runs again.")] = False,
    time_limit: TimeLimit = None,
    progress: Annotated[bool, typer.Option(help="Show a progress bar.")] = True,
    placebo: Annotated[bool, typer.Option(help="Also run the spec's [placebo] arm (in <out>/placebo).")] = True,
) -> None:
    """Run (or resume) a sweep. Scenario x factors x replicates, one Parquet file per chunk.

    Re-running the same command resumes. A chunk that cannot be written (disk full) stops
    the sweep with exit code 1; free space and re-run the same command.

    With --slurm this command is the driver: it must run until the sweep ends (in tmux or
    screen on a login node, or as a small job of its own); the worker jobs end with it.
    """
    options = _slurm_options(slurm, queue, account, walltime, cores, memory, jobs, interface, log_dir, job_extra)
    if print_job_script:
        if options is None:
            _fail("--job-script shows the SLURM worker job script: add --slurm")
        typer.echo(job_script(options))
        return
    _run(spec, out, workers, scheduler, options, quick, chunk_size, retry_failed, progress, time_limit,
         placebo=placebo)  # fmt: skip


def _run(spec_name, out, workers, scheduler, slurm, quick, chunk_size, retry_failed, progress,
         time_limit=None, check=None, placebo=False):  # fmt: skip
    from livemarket.sweeps import checks, runner, store
    from livemarket.sweeps import placebo as placebos
    from livemarket.sweeps.spec import default_out, load_experiment

    if scheduler and slurm:
        _fail("give --scheduler or --slurm, not both")
    try:
        spec = load_experiment(find_experiment(spec_name)).effective(quick)
        if check is not None:  # the command's own options, checked before anything runs
            check(spec)
        placebo = placebo and spec.placebo is not None
        if placebo:  # its overrides are validated before anything runs
            placebos.placebo_experiment(spec).plan()
        folder = out or default_out(spec, quick)
        options = dict(workers=workers, scheduler=scheduler, slurm=slurm, progress=progress, chunk_size=chunk_size,
                       retry_failed=retry_failed, run_time_limit_s=time_limit)  # fmt: skip
        reports = [(runner.run_sweep(spec, folder, **options), folder)]
        if placebo and reports[0][0].complete:
            reports.append((placebos.run_placebo(spec, folder, **options), folder / placebos.FOLDER))
    except ConfigError as err:
        _fail(str(err))
    except runner.SweepStopped as err:  # SIGTERM / SIGINT: the driver stopped its workers; nothing finished is lost
        typer.secho(f"{err}: finished chunks are kept; re-run the same command to resume", fg=typer.colors.RED,
                    err=True)  # fmt: skip
        raise typer.Exit(code=err.exit_code) from None
    except OSError as err:  # the output folder cannot be written (disk full, permissions): resumable
        typer.secho(f"error: {err}; nothing finished was lost: fix it and re-run the same command",
                    fg=typer.colors.RED, err=True)  # fmt: skip
        raise typer.Exit(code=1) from None
    for report, _ in reports:
        typer.echo(str(report))
        if not report.complete:
            missing = len(report.check["missing"])
            typer.secho(f"{missing} runs missing: re-run the same command to resume", fg=typer.colors.RED, err=True)
            raise typer.Exit(code=1)
    frame = store.results(folder)
    if spec.expect and frame.height:
        typer.echo(f"expected: {spec.expected}" if spec.expected else "expected directions:")
        calibrated = placebos.placebo_results(folder) if placebo else None
        typer.echo(checks.format_checks(checks.check_expectations(spec, frame, calibrated)))
    for report, where in reports:
        if report.failed:
            typer.echo(f"{report.failed} runs failed: livemarket.sweeps.store.failures({str(where)!r}) "
                       "has the tracebacks")
    return spec, folder


def sensitivity(
    spec: Annotated[str, typer.Argument(help="Experiment .toml with design = 'sobol' or 'morris'.")],
    metrics: Annotated[str | None, typer.Option(help="Comma-separated metric columns (default: all).")] = None,
    out: Out = None,
    workers: Workers = None,
    scheduler: Scheduler = None,
    quick: Quick = False,
    conf_level: Annotated[float, typer.Option(help="Confidence level of the intervals.")] = 0.95,
    progress: Annotated[bool, typer.Option(help="Show a progress bar.")] = True,
) -> None:
    """Run a Sobol or Morris sweep. Writes its sensitivity indices with confidence intervals."""
    import polars as pl

    from livemarket.sweeps import sensitivity as sa
    from livemarket.sweeps import store

    wanted = metrics.split(",") if metrics else None
    spec_obj, folder = _run(spec, out, workers, scheduler, None, quick, None, False, progress,
                            check=lambda s: sa.check(s, wanted, conf_level))  # fmt: skip
    try:
        table = sa.analyze(spec_obj, store.results(folder), wanted, conf_level)
    except ConfigError as err:
        _fail(str(err))
    paths = sa.write(table, folder)
    with pl.Config(tbl_rows=60, tbl_cols=12):
        typer.echo(table.drop("ci_low", "ci_high"))
    typer.echo(f"-> {paths[0]} and {paths[1].name}")


def experiments() -> None:
    """List the named experiments. The package's twelve and ./experiments/*.toml, with their questions."""
    from livemarket.sweeps.spec import load_experiment

    for f in experiment_files():
        try:
            e = load_experiment(f)
        except ConfigError as err:
            typer.echo(f"{f.stem:<34} INVALID: {err}")
            continue
        typer.echo(f"{f.stem:<34} {e.question}")
    typer.echo("\nrun one: livemarket sweep <name> [--quick]  (a name above, with or without its number)")


def register(app: typer.Typer) -> None:
    """Add the sweep commands to the main command-line app."""
    app.command()(sweep)
    app.command()(sensitivity)
    app.command()(experiments)
