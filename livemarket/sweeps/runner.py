"""Run a sweep on Dask distributed: chunks of runs, resumable, nothing lost, nothing twice.

The driver plans every run (identity, seed, overrides), fixes how runs are grouped into
chunks (written once into ``manifest.json``), and submits the chunks that have no file
yet. A worker runs its chunk's runs one by one, catches each run's error, writes one
Parquet file (temporary name, then rename) and returns only a few counts. Re-running the
same command resumes; a changed spec or model is refused.

Faults: a killed worker's chunk is retried elsewhere; a chunk whose workers keep dying is
recorded as failed runs. With a per-run time limit, workers report each run's start and
result (Dask events); a run past its limit is recorded as failed by the driver, which
restarts that worker and runs the rest of the chunk one run per task. A chunk file that
cannot be written (disk full) stops the sweep with its runs missing, ready to resume.

Where the work runs:

* default: a ``LocalCluster`` started and stopped here (one process per core);
* ``scheduler="tcp://host:port"``: a running cluster;
* ``slurm=SlurmOptions(...)``: workers started as SLURM jobs through dask-jobqueue;
* ``client=``: a ``distributed.Client`` you already hold (notebooks);
* ``workers=0``: no Dask, every chunk in this process (debugging, tests).

Example:
    >>> from livemarket.sweeps import load_experiment
    >>> report = run_sweep(load_experiment("experiments/09-ad-load-user-time.toml").effective(quick=True),
    ...                    "results/sweeps/ad-load-quick", workers=2)  # doctest: +SKIP
"""

from __future__ import annotations

import contextlib
import datetime as dt
import fcntl
import functools
import json
import math
import os
import signal
import socket
import sys
import threading
import time
import traceback
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl
from tqdm.auto import tqdm

from livemarket.config import ConfigError
from livemarket.provenance import git_commit, versions
from livemarket.sweeps import store
from livemarket.sweeps.spec import NOT_FINGERPRINTED, Experiment, MetricSpec, Plan, Run
from livemarket.sweeps.version import model_version

__all__ = ["ChunkTask", "RunTimeLimitExceeded", "SlurmOptions", "SweepError", "SweepReport", "default_workers",
           "run_chunk", "run_rows", "run_sweep"]

TARGET_CHUNK_SECONDS = 5.0  # long enough that Dask's per-task cost (milliseconds) is noise
CHUNKS_PER_WORKER = 4  # at least this many chunks per worker, for load balance
HANG_GRACE_S = 2.0  # a run is taken as hung this long after its time limit (its report may be on its way)
POLL_S = 0.5  # how often the driver looks for hung runs
PROGRESS_TOPIC = "livemarket-sweep-progress"  # Dask event topic: a run started, a run finished


class SweepError(ConfigError):
    """A sweep that cannot start or go on (changed spec, other model version, folder locked)."""


#: Worker settings for simulation runs (see :func:`local_cluster`), as shell exports for job scripts.
WORKER_ENV_EXPORTS = (
    "export DASK_DISTRIBUTED__ADMIN__TICK__INTERVAL=1s",
    "export DASK_DISTRIBUTED__WORKER__PROFILE__ENABLED=False",
    "export POLARS_MAX_THREADS=1 OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 MKL_NUM_THREADS=1",
)


@dataclass
class SlurmOptions:
    """Workers started as SLURM jobs (dask-jobqueue); one worker process per core.

    Attributes:
        queue: partition (``#SBATCH -p``). account: project to charge.
        walltime: per job, ``HH:MM:SS``. cores: per job. memory: per job (``"16GB"``).
        jobs: number of jobs to start. job_extra: extra ``#SBATCH`` directives (``"--qos=short"``).
        interface: network interface of the scheduler and workers (``"ib0"``; default: dask's choice).
        log_dir: folder of the jobs' output files (default: ``slurm-N.out`` in the working folder).
    """

    queue: str | None = None
    account: str | None = None
    walltime: str = "01:00:00"
    cores: int = 8
    memory: str = "16GB"
    jobs: int = 1
    job_extra: list[str] = field(default_factory=list)
    interface: str | None = None
    log_dir: str | None = None

    def cluster_kwargs(self) -> dict[str, Any]:
        """Keyword arguments of ``dask_jobqueue.SLURMCluster``."""
        kw = {"cores": self.cores, "processes": self.cores, "memory": self.memory, "walltime": self.walltime,
              "job_extra_directives": list(self.job_extra),
              "job_script_prologue": list(WORKER_ENV_EXPORTS)}  # fmt: skip
        if self.queue:
            kw["queue"] = self.queue
        if self.account:
            kw["account"] = self.account
        if self.interface:
            kw["interface"] = self.interface
        if self.log_dir:
            kw["log_directory"] = str(self.log_dir)
        return kw


@dataclass
class ChunkTask:
    """What a worker needs to run one chunk (small, pickled to the worker)."""

    out: str
    chunk: int
    runs: list[Run]
    scenario: str
    consumers: int | None
    days: int | None
    root_seed: int
    metrics: list[MetricSpec]
    columns: dict[str, pl.DataType]
    model_version: str
    retry_failed: bool = False
    run_time_limit_s: float | None = None


@dataclass
class SweepReport:
    """What a sweep did: counts, time, chunking, and the folder check."""

    out: Path
    runs: int
    ok: int
    failed: int
    skipped: int  # runs already done before this call
    seconds: float
    chunk_size: int
    workers: int
    check: dict[str, Any]
    errors: list[str] = field(default_factory=list)  # why the sweep stopped early (a chunk not written)

    @property
    def complete(self) -> bool:
        """Every run of the plan is in the folder exactly once (ok or failed)."""
        return not self.check["missing"] and not self.check["duplicated"]

    def __str__(self) -> str:
        c = self.check
        text = (
            f"{self.runs} runs ({self.skipped} already done): {self.ok} ok, {self.failed} failed; "
            f"{len(c['missing'])} missing, {len(c['duplicated'])} duplicated -> "
            f"{'complete' if self.complete else 'INCOMPLETE'} "
            f"[{self.seconds:.1f} s, {self.workers} workers, {self.chunk_size} runs per chunk] {self.out}"
        )
        return "\n".join([text, *(f"stopped: {e}" for e in self.errors)])


# ---------------------------------------------------------------------- worker side
class RunTimeLimitExceeded(Exception):
    """A run took longer than the sweep's time limit."""

    def __init__(self, limit_s: float):
        super().__init__(f"exceeded the time limit of {limit_s:g} s")


def _worker_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


def _check_model_version(task: ChunkTask) -> None:
    if model_version() != task.model_version:
        raise SweepError(
            f"worker {_worker_name()} runs model {model_version()} but the sweep was planned with "
            f"{task.model_version}: install the same livemarket on the driver and every worker"
        )


@functools.lru_cache(maxsize=32)
def _scenario(scenario: str, overrides: tuple[str, ...], consumers: int | None, days: int | None, stamp=None):
    """Validated scenario of a design point, read once per worker (replicates share it).

    ``stamp`` (a scenario file's modification time) keeps an edited file from being served
    from the cache of a long-lived worker.
    """
    from livemarket.config import load_scenario

    return load_scenario(scenario, list(overrides), consumers=consumers, days=days)


@contextlib.contextmanager
def _alarm(limit_s: float | None) -> Iterator[None]:
    """Raise :class:`RunTimeLimitExceeded` after ``limit_s`` (SIGALRM: main thread only, else no-op).

    The alarm repeats every second until the run ends: an exception raised while Python runs
    a ``__del__`` or weakref callback is swallowed, and a hung run must still be stopped.
    On Dask workers runs execute in other threads: there the driver enforces the limit.
    """
    if not limit_s or threading.current_thread() is not threading.main_thread():
        yield
        return

    def expire(signum, frame):
        raise RunTimeLimitExceeded(limit_s)

    previous = signal.signal(signal.SIGALRM, expire)
    signal.setitimer(signal.ITIMER_REAL, limit_s, min(limit_s, 1.0))
    try:
        yield
    finally:
        try:
            signal.setitimer(signal.ITIMER_REAL, 0)
        finally:
            signal.signal(signal.SIGALRM, previous)


def _failure(err: BaseException, metrics: list[MetricSpec]) -> dict[str, Any]:
    """Return the cells of a failed run: its error, traceback and empty metrics."""
    cells = {"status": "failed", "error": f"{type(err).__name__}: {err}",
             "traceback": "".join(traceback.format_exception(err))}  # fmt: skip
    return cells | {m.name: None for m in metrics}


def _one_run(task: ChunkTask, run: Run) -> dict[str, Any]:
    """Run one simulation and reduce it to the spec's metrics (errors are returned, not raised).

    A run that finishes but took longer than the time limit fails too, so that the result
    does not depend on how fast the limit was noticed.
    """
    from livemarket.models.market import LiveCommerceModel

    row: dict[str, Any] = {"status": "ok", "error": None, "traceback": None}
    started, limit_s = time.perf_counter(), task.run_time_limit_s
    try:
        with _alarm(limit_s):
            stamp = os.stat(task.scenario).st_mtime_ns if task.scenario.endswith(".toml") else None
            config = _scenario(task.scenario, tuple(run.overrides), task.consumers, task.days, stamp)
            config = config.model_copy(deep=True)
            seed = np.random.SeedSequence(task.root_seed, spawn_key=run.spawn_key)
            model = LiveCommerceModel(config, rng=seed, run_id=run.run_id)
            row |= store.summarize(model.run(config.days), task.metrics)
        if limit_s and time.perf_counter() - started > limit_s:
            raise RunTimeLimitExceeded(limit_s)
    except Exception as err:  # a failing run is recorded and does not sink its chunk
        row |= _failure(err, task.metrics)
    row["seconds"] = time.perf_counter() - started
    return row


def _identity(task: ChunkTask, run: Run, worker: str) -> dict[str, Any]:
    """Return the cells of a row that say which run it is: identity, seed, factor values, worker."""
    row = {"run_id": run.run_id, "chunk": task.chunk, "point": run.point, "replicate": run.replicate,
           "seed_entropy": task.root_seed, "seed_spawn_key": list(run.spawn_key), "worker": worker}  # fmt: skip
    return row | {k: store.factor_cell(v, task.columns[k]) for k, v in run.values.items()}


def _progress_reporter(task: ChunkTask):
    """``report(run_id, result=None)``: tell the driver a run started (or what it gave).

    Only with a time limit on a Dask worker, where the driver watches for hung runs;
    otherwise it does nothing.
    """
    try:
        from distributed import get_worker

        worker = get_worker() if task.run_time_limit_s else None
    except (ImportError, ValueError):  # not on a Dask worker
        worker = None
    if worker is None:
        return lambda run_id, result=None: None
    key, name = worker.get_current_task(), _worker_name()

    def report(run_id: str, result: dict[str, Any] | None = None) -> None:
        worker.log_event(PROGRESS_TOPIC, {"key": key, "run_id": run_id, "address": worker.address,
                                          "name": name, "result": result})  # fmt: skip

    return report


def run_rows(task: ChunkTask, previous: dict[str, dict[str, Any]] | None = None) -> list[dict[str, Any]]:
    """Run a task's runs one by one and return their rows (``previous`` rows are kept, not run)."""
    _check_model_version(task)
    _warm_up()  # imports are not part of a run's time
    previous, worker, report = previous or {}, _worker_name(), _progress_reporter(task)
    rows = []
    for run in task.runs:
        if run.run_id in previous:
            rows.append(previous[run.run_id])
            continue
        report(run.run_id)
        result = _one_run(task, run)
        report(run.run_id, result)
        rows.append(_identity(task, run, worker) | result)
    return rows


def run_chunk(task: ChunkTask) -> dict[str, Any]:
    """Run every run of a chunk and write the chunk's Parquet file; return small counts.

    A chunk whose file is already in place is not run again (a retried task after its
    worker died between writing and reporting). With ``retry_failed``, only the failed
    runs of an existing file are run again and the file is replaced. A file that cannot
    be written (disk full) is reported in the counts' ``write_error``, not raised: its runs
    are not done, and running them again on another worker would not help.
    """
    _check_model_version(task)
    out, started = Path(task.out), time.perf_counter()
    path = store.chunk_path(out, task.chunk)
    previous: dict[str, dict[str, Any]] = {}
    if path.exists():
        old = pl.read_parquet(path)
        if not task.retry_failed or old.filter(pl.col("status") != "ok").is_empty():
            return _counts(task.chunk, old, 0.0, cached=True)
        previous = _ok_rows(old)
    frame = pl.DataFrame(run_rows(task, previous), schema=task.columns)
    return _counts(task.chunk, frame, time.perf_counter() - started, write_error=_write(out, task.chunk, frame))


def _ok_rows(frame: pl.DataFrame) -> dict[str, dict[str, Any]]:
    return {r["run_id"]: r for r in frame.iter_rows(named=True) if r["status"] == "ok"}


def _write(out: Path, chunk: int, frame: pl.DataFrame) -> str | None:
    """Write a chunk's file; return the error (disk full, read-only...) instead of raising it."""
    try:
        store.write_chunk(out, chunk, frame)
    except OSError as err:
        return str(err)
    return None


def _counts(chunk: int, frame: pl.DataFrame, seconds: float, cached: bool = False,
            write_error: str | None = None) -> dict[str, Any]:  # fmt: skip
    failed = int((frame["status"] != "ok").sum())
    return {"chunk": chunk, "ok": frame.height - failed, "failed": failed, "seconds": seconds,
            "worker": _worker_name(), "cached": cached, "write_error": write_error}  # fmt: skip


def pilot(spec: Experiment, run: Run) -> dict[str, Any]:
    """Time a few days of the first run and check that every metric exists in the model's output.

    (Metric windows were checked against the same run by ``Experiment.plan``.)
    """
    from livemarket.models.market import LiveCommerceModel

    config = spec.resolve(run.overrides)
    seed = np.random.SeedSequence(spec.root_seed, spawn_key=run.spawn_key)
    LiveCommerceModel(config, rng=seed).run(1)  # first calls (imports, caches) are not the run's cost
    started = time.perf_counter()
    model = LiveCommerceModel(config, rng=seed)
    setup = time.perf_counter() - started
    days = min(config.days, 5)
    table = model.run(days)
    per_day = (time.perf_counter() - started - setup) / days
    try:
        store.summarize(table, [m.model_copy(update={"window": None}) for m in spec.metrics])
    except KeyError as err:
        raise SweepError(f"{spec.name}: {err.args[0]}") from None
    return {"run_seconds": setup + per_day * config.days, "days": config.days, "start_date": str(config.start_date)}


# ---------------------------------------------------------------------- driver side
def default_workers() -> int:
    """Worker processes for a local cluster: the cores this process may use."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not Linux
        return os.cpu_count() or 1


@contextlib.contextmanager
def _lock(out: Path) -> Iterator[None]:
    """One driver per sweep folder (the lock dies with the process that holds it)."""
    handle = open(out / ".lock", "a+")
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        handle.close()
        raise SweepError(f"another sweep is running in {out} (its lock file {out / '.lock'} is held)") from None
    try:
        yield
    finally:
        fcntl.flock(handle, fcntl.LOCK_UN)
        handle.close()


@contextlib.contextmanager
def open_client(workers: int | None = None, scheduler: str | None = None, slurm: SlurmOptions | None = None,
                client=None) -> Iterator[Any]:  # fmt: skip
    """A Dask client: given, attached to ``scheduler``, on SLURM jobs, or on a new LocalCluster."""
    if client is not None:
        yield client
        return
    import logging

    from distributed import Client

    if scheduler:
        with Client(scheduler) as c:
            yield c
        return
    if slurm is not None:
        from dask_jobqueue import SLURMCluster

        with SLURMCluster(**slurm.cluster_kwargs()) as cluster:
            cluster.scale(jobs=slurm.jobs)
            with Client(cluster) as c:
                c.wait_for_workers(1)
                yield c
        return
    cluster = local_cluster(workers or default_workers(), silence_logs=logging.ERROR)
    try:
        with Client(cluster) as c:
            c.run(_warm_up)
            yield c
    finally:
        cluster.close()


def local_cluster(n_workers: int, **kwargs):
    """A LocalCluster of ``n_workers`` single-threaded processes, set up for simulation runs.

    Runs are long pure-Python tasks, one per core, that hold the GIL: every wake-up of a
    worker's event loop (its 20 ms tick, the 10 ms profiler, monitors) takes the GIL from the
    run. Those intervals are stretched here, and polars gets one thread per worker, as Dask
    already does for BLAS and OpenMP.
    """
    import dask
    from distributed import LocalCluster

    environ = dict(dask.config.get("distributed.nanny.pre-spawn-environ", {})) | {"POLARS_MAX_THREADS": "1"}
    settings = {"distributed.worker.profile.enabled": False, "distributed.nanny.pre-spawn-environ": environ,
                "distributed.admin.tick.interval": "1s", "distributed.admin.system-monitor.interval": "2s",
                "distributed.worker.memory.monitor-interval": "1s",
                "distributed.admin.system-monitor.gil.enabled": False,
                # tasks are queued on the scheduler (one chunk per free thread): nothing to steal or rebalance
                "distributed.scheduler.work-stealing": False,
                "distributed.scheduler.active-memory-manager.start": False}  # fmt: skip
    with dask.config.set(settings):
        return LocalCluster(n_workers=n_workers, threads_per_worker=1, processes=True, dashboard_address=":0",
                            **kwargs)  # fmt: skip


def _warm_up() -> str:
    """Import the model on a worker before the first chunk (part of start-up, not of a run)."""
    import livemarket.models.market  # noqa: F401

    return model_version()


def _check_same(manifest: dict[str, Any], spec: Experiment, plan: Plan, out: Path) -> None:
    """Refuse to resume when the spec or the model differs from the manifest's."""
    if manifest["model_version"] != plan.model_version:
        raise SweepError(
            f"{out} was started with model {manifest['model_version']}, this is {plan.model_version}; "
            "results of two model versions would mix. Use a new --out folder."
        )
    if manifest["fingerprint"] != spec.fingerprint() or manifest["scenario_sha256"] != plan.scenario_sha256:
        old, new = _flatten(manifest["spec"]), _flatten(json.loads(spec.model_dump_json()))
        ignore = NOT_FINGERPRINTED
        diff = [f"{k}: {old.get(k, '<absent>')!r} -> {new.get(k, '<absent>')!r}"
                for k in sorted(set(old) | set(new))
                if old.get(k) != new.get(k) and not k.startswith(ignore)]  # fmt: skip
        if manifest["scenario_sha256"] != plan.scenario_sha256:
            diff.append(f"scenario file {spec.scenario} changed")
        raise SweepError(
            f"the spec differs from the one this sweep in {out} was started with ({'; '.join(diff)}). "
            "Restore it to resume, or use a new --out folder."
        )


def _flatten(data: Any, prefix: str = "") -> dict[str, Any]:
    if isinstance(data, dict):
        return {k: v for key, val in data.items() for k, v in _flatten(val, f"{prefix}{key}.").items()}
    return {prefix.rstrip("."): data}


def _manifest(spec: Experiment, plan: Plan, chunk_size: int, columns: dict, estimate: dict) -> dict[str, Any]:
    points = spec.points()
    return {
        "format": 1, "name": spec.name, "created": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "fingerprint": spec.fingerprint(), "model_version": plan.model_version,
        "scenario_sha256": plan.scenario_sha256, "versions": versions(), "git_commit": git_commit(),
        "spec": json.loads(spec.model_dump_json()), "chunk_size": chunk_size,
        "chunks": math.ceil(len(plan.runs) / chunk_size), "n_runs": len(plan.runs), "n_points": len(points),
        "replicates": spec.replicates, "seeds": "SeedSequence(root_seed, spawn_key=(point, replicate))"
        + (" with point 0 for every point (common random numbers)" if spec.common_random_numbers else ""),
        "pilot": estimate, "design": [{"point": i} | p for i, p in enumerate(points)],
        "salib_problem": spec.salib_problem() if spec.design != "grid" else None,
        "run_ids": [r.run_id for r in plan.runs], "schema": {k: str(v) for k, v in columns.items()},
    }  # fmt: skip


class _Status:
    """Appends one JSON line per event to ``status.jsonl``, drives the progress bar, prints problems."""

    def __init__(self, out: Path, total: int, done: int, failed: int, name: str, progress: bool):
        self.path, self.total, self.done, self.failed = out / store.STATUS, total, done, failed
        self.start_done, self.started = done, time.perf_counter()
        self.bar = tqdm(total=total, initial=done, unit="run", desc=name, disable=not progress, dynamic_ncols=True)
        self.bar.set_postfix(failed=failed)

    def log(self, event: str, **fields: Any) -> None:
        elapsed = time.perf_counter() - self.started
        rate = (self.done - self.start_done) / elapsed if elapsed > 0 else 0.0
        eta = (self.total - self.done) / rate if rate > 0 else None
        line = {"time": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"), "event": event,
                "runs_done": self.done, "runs_failed": self.failed, "runs_total": self.total,
                "elapsed_s": round(elapsed, 2), "eta_s": None if eta is None else round(eta, 1)} | fields  # fmt: skip
        try:
            with open(self.path, "a") as f:
                f.write(json.dumps(line, default=str) + "\n")
        except OSError as err:  # a full disk must not stop the sweep from reporting
            tqdm.write(f"livemarket: cannot append to {self.path}: {err}", file=sys.stderr)

    def warn(self, event: str, message: str, **fields: Any) -> str:
        """Log a problem, print it above the progress bar, and return it."""
        tqdm.write(f"livemarket: {message}", file=sys.stderr)
        self.log(event, message=message, **fields)
        return message

    def chunk_done(self, counts: dict[str, Any]) -> str | None:
        """Count a written chunk; return the error of a chunk that could not be written (its runs are not done)."""
        if counts["write_error"]:
            message = f"chunk {counts['chunk']} could not be written: {counts['write_error']}"
            return self.warn("chunk_write_error", message, chunk=counts["chunk"])
        self.done += counts["ok"] + counts["failed"]
        self.failed += counts["failed"]
        self.bar.update(counts["ok"] + counts["failed"])
        self.bar.set_postfix(failed=self.failed)
        self.log("chunk", **counts)
        return None

    def close(self) -> None:
        self.bar.close()


def run_sweep(
    spec: Experiment,
    out: str | Path,
    *,
    workers: int | None = None,
    scheduler: str | None = None,
    slurm: SlurmOptions | None = None,
    client=None,
    progress: bool = True,
    chunk_size: int | None = None,
    retry_failed: bool = False,
    run_time_limit_s: float | None = None,
) -> SweepReport:
    """Run the sweep of ``spec`` into folder ``out``, or resume it there.

    Args:
        spec: the experiment (already at its final size; see :meth:`Experiment.effective`).
        out: sweep folder; created if needed.
        workers: local worker processes (default: one per core); 0 runs in this process.
        scheduler: address of a running Dask scheduler instead of a local cluster.
        slurm: start workers as SLURM jobs instead.
        client: an existing ``distributed.Client``.
        progress: show a tqdm progress bar.
        chunk_size: runs per task (default: chosen so a task lasts about five seconds);
            fixed when the sweep starts.
        retry_failed: run failed runs again.
        run_time_limit_s: per-run time limit, instead of the spec's ``run_time_limit_s``. A
            run past it is recorded as failed. On Dask, the driver notices it (within
            ``HANG_GRACE_S`` + ``POLL_S``), restarts that worker and runs the rest of the
            chunk as one task per run; with ``workers=0``, SIGALRM stops the run (main thread only).

    A chunk file that cannot be written (disk full) stops the sweep: its runs stay missing,
    the report says why, and running the same call again resumes.

    Raises:
        SweepError: the folder holds a sweep of another spec or model, or is in use; a time
            limit that is not positive.
    """
    out = Path(out)
    limit_s = spec.run_time_limit_s if run_time_limit_s is None else run_time_limit_s
    if limit_s is not None and not limit_s > 0:
        raise SweepError(f"the run time limit must be more than 0 s (got {limit_s:g})")
    in_process = workers == 0 and scheduler is None and slurm is None and client is None
    if in_process and limit_s and threading.current_thread() is not threading.main_thread():
        raise SweepError("a run time limit with workers=0 needs the main thread (SIGALRM); use workers >= 1")
    started = time.perf_counter()
    plan = spec.plan()  # validates every run's scenario: bad input writes nothing
    out.mkdir(parents=True, exist_ok=True)
    with _lock(out):
        manifest = store.read_manifest(out)
        if manifest is not None:
            _check_same(manifest, spec, plan, out)
        store.remove_temporary(out)
        with contextlib.nullcontext(None) if in_process else open_client(workers, scheduler, slurm, client) as c:
            expected = slurm.jobs * slurm.cores if slurm is not None else 1  # SLURM jobs start one by one
            n_workers = 1 if c is None else max(len(c.nthreads()), expected)
            if manifest is None:
                if c is None:
                    estimate = pilot(spec, plan.runs[0])
                else:
                    estimate = c.submit(pilot, spec, plan.runs[0], pure=False).result()
                size = chunk_size or _auto_chunk_size(estimate["run_seconds"], len(plan.runs), n_workers)
                columns = store.schema(spec, spec.points())
                manifest = _manifest(spec, plan, size, columns, estimate)
                store.write_json_atomic(out / store.MANIFEST, manifest)
            return _execute(spec, plan, out, manifest, c, n_workers, progress, retry_failed, limit_s, started)


def _auto_chunk_size(run_seconds: float, n_runs: int, n_workers: int) -> int:
    by_time = max(1, round(TARGET_CHUNK_SECONDS / max(run_seconds, 1e-6)))
    by_balance = max(1, math.ceil(n_runs / (CHUNKS_PER_WORKER * n_workers)))
    return min(by_time, by_balance)


def _execute(spec, plan, out, manifest, client, n_workers, progress, retry_failed, limit_s, started) -> SweepReport:
    size = manifest["chunk_size"]
    columns = {k: store._dtype(v) for k, v in manifest["schema"].items()}
    chunks = [plan.runs[i : i + size] for i in range(0, len(plan.runs), size)]
    done = store.done_chunks(out)
    before = store.verify(out)
    redo = set()
    if retry_failed and before["failed"]:
        redo = set(store.failures(out)["chunk"].to_list())
    todo = [i for i in range(len(chunks)) if i not in done or i in redo]
    skipped = before["ok"] + before["failed"] - sum(len(chunks[i]) for i in redo)
    status = _Status(out, len(plan.runs), skipped, before["failed"] if not redo else 0, spec.name, progress)
    status.log("start", chunks_todo=len(todo), chunk_size=size, workers=n_workers, model_version=plan.model_version,
               run_time_limit_s=limit_s)  # fmt: skip

    def task(i: int) -> ChunkTask:
        return ChunkTask(str(out.resolve()), i, chunks[i], spec.scenario_source(), spec.consumers, spec.days,
                         spec.root_seed, list(spec.metrics), columns, plan.model_version, i in redo,
                         limit_s)  # fmt: skip

    errors: list[str] = []
    try:
        if client is None:
            for i in todo:
                error = status.chunk_done(run_chunk(task(i)))
                if error:
                    errors.append(error)
                    break
        else:
            from livemarket.sweeps.dask_driver import DaskSweep

            errors = DaskSweep(client, status, out, columns, limit_s, manifest["fingerprint"]).run(map(task, todo))
    except BaseException as err:
        status.log("stopped", error=f"{type(err).__name__}: {err}")
        raise
    finally:
        status.close()
    check = store.verify(out)
    status.log("done", check={k: (len(v) if isinstance(v, list) else v) for k, v in check.items()}, errors=errors)
    return SweepReport(out, len(plan.runs), check["ok"], check["failed"], skipped, time.perf_counter() - started,
                       size, n_workers, check, errors)  # fmt: skip
