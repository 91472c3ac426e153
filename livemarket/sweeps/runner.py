"""Run a sweep on Dask distributed: chunks of runs, resumable, nothing lost, nothing twice.

The driver plans every run (identity, seed, overrides), fixes how runs are grouped into
chunks (written once into ``manifest.json``), and submits the chunks that have no file
yet. A worker runs its chunk's runs one by one, catches each run's error, writes one
Parquet file (temporary name, then rename) and returns only a few counts. Re-running the
same command resumes; a changed spec or model is refused.

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
import socket
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
from livemarket.sweeps.spec import Experiment, MetricSpec, Plan, Run
from livemarket.sweeps.version import model_version

__all__ = ["ChunkTask", "SlurmOptions", "SweepError", "SweepReport", "default_workers", "run_chunk", "run_sweep"]

TARGET_CHUNK_SECONDS = 5.0  # long enough that Dask's per-task cost (milliseconds) is noise
CHUNKS_PER_WORKER = 4  # at least this many chunks per worker, for load balance


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
        jobs: number of jobs to start. job_extra: extra ``#SBATCH`` directives.
    """

    queue: str | None = None
    account: str | None = None
    walltime: str = "01:00:00"
    cores: int = 8
    memory: str = "16GB"
    jobs: int = 1
    job_extra: list[str] = field(default_factory=list)

    def cluster_kwargs(self) -> dict[str, Any]:
        """Keyword arguments of ``dask_jobqueue.SLURMCluster``."""
        kw = {"cores": self.cores, "processes": self.cores, "memory": self.memory, "walltime": self.walltime,
              "job_extra_directives": list(self.job_extra), "job_script_prologue": list(WORKER_ENV_EXPORTS)}  # fmt: skip
        if self.queue:
            kw["queue"] = self.queue
        if self.account:
            kw["account"] = self.account
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

    def __str__(self) -> str:
        c = self.check
        state = "complete" if not c["missing"] and not c["duplicated"] else "INCOMPLETE"
        return (
            f"{self.runs} runs ({self.skipped} already done): {self.ok} ok, {self.failed} failed; "
            f"{len(c['missing'])} missing, {len(c['duplicated'])} duplicated -> {state} "
            f"[{self.seconds:.1f} s, {self.workers} workers, {self.chunk_size} runs per chunk] {self.out}"
        )


# ---------------------------------------------------------------------- worker side
def _worker_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


@functools.lru_cache(maxsize=32)
def _scenario(scenario: str, overrides: tuple[str, ...], consumers: int | None, days: int | None, stamp=None):
    """Validated scenario of a design point, read once per worker (replicates share it).

    ``stamp`` (a scenario file's modification time) keeps an edited file from being served
    from the cache of a long-lived worker.
    """
    from livemarket.config import load_scenario

    return load_scenario(scenario, list(overrides), consumers=consumers, days=days)


def _one_run(task: ChunkTask, run: Run) -> dict[str, Any]:
    """Run one simulation and reduce it to the spec's metrics (errors are returned, not raised)."""
    from livemarket.models.market import LiveCommerceModel

    row: dict[str, Any] = {"status": "ok", "error": None, "traceback": None}
    started = time.perf_counter()
    try:
        stamp = os.stat(task.scenario).st_mtime_ns if task.scenario.endswith(".toml") else None
        config = _scenario(task.scenario, tuple(run.overrides), task.consumers, task.days, stamp).model_copy(deep=True)
        seed = np.random.SeedSequence(task.root_seed, spawn_key=run.spawn_key)
        model = LiveCommerceModel(config, rng=seed, run_id=run.run_id)
        row |= store.summarize(model.run(config.days), task.metrics)
    except Exception as err:  # a failing run is recorded and does not sink its chunk
        row |= {"status": "failed", "error": f"{type(err).__name__}: {err}", "traceback": traceback.format_exc()}
        row |= {m.name: None for m in task.metrics}
    row["seconds"] = time.perf_counter() - started
    return row


def run_chunk(task: ChunkTask) -> dict[str, Any]:
    """Run every run of a chunk and write the chunk's Parquet file; return small counts.

    A chunk whose file is already in place is not run again (a retried task after its
    worker died between writing and reporting). With ``retry_failed``, only the failed
    runs of an existing file are run again and the file is replaced.
    """
    if model_version() != task.model_version:
        raise SweepError(
            f"worker {_worker_name()} runs model {model_version()} but the sweep was planned with "
            f"{task.model_version}: install the same livemarket on the driver and every worker"
        )
    out, started = Path(task.out), time.perf_counter()
    path = store.chunk_path(out, task.chunk)
    previous: dict[str, dict[str, Any]] = {}
    if path.exists():
        old = pl.read_parquet(path)
        if not task.retry_failed or old.filter(pl.col("status") != "ok").is_empty():
            return _counts(task.chunk, old, 0.0, cached=True)
        previous = {r["run_id"]: r for r in old.iter_rows(named=True) if r["status"] == "ok"}
    rows, worker = [], _worker_name()
    for run in task.runs:
        if run.run_id in previous:
            rows.append(previous[run.run_id])
            continue
        base = {"run_id": run.run_id, "chunk": task.chunk, "point": run.point, "replicate": run.replicate,
                "seed_entropy": task.root_seed, "seed_spawn_key": list(run.spawn_key), "worker": worker}  # fmt: skip
        factors = {k: store.factor_cell(v, task.columns[k]) for k, v in run.values.items()}
        rows.append(base | factors | _one_run(task, run))
    frame = pl.DataFrame(rows, schema=task.columns)
    store.write_chunk(out, task.chunk, frame)
    return _counts(task.chunk, frame, time.perf_counter() - started)


def _counts(chunk: int, frame: pl.DataFrame, seconds: float, cached: bool = False) -> dict[str, Any]:
    failed = int((frame["status"] != "ok").sum())
    return {"chunk": chunk, "ok": frame.height - failed, "failed": failed, "seconds": seconds,
            "worker": _worker_name(), "cached": cached}  # fmt: skip


def pilot(spec: Experiment, run: Run) -> dict[str, Any]:
    """Time a few days of the first run and check that every metric exists in the model's output."""
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
    end = config.start_date + dt.timedelta(days=config.days)
    for m in spec.metrics:
        if m.window is not None and not (m.window[0] < (config.days if isinstance(m.window[0], int) else end)):
            raise SweepError(f"{spec.name}: metric {m.name}: window {list(m.window)} starts after the run ends")
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
                "distributed.admin.system-monitor.gil.enabled": False}  # fmt: skip
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
        ignore = ("question", "strategy", "expected", "expect", "quick")
        diff = [f"{k}: {old.get(k, '<absent>')!r} -> {new.get(k, '<absent>')!r}"
                for k in sorted(set(old) | set(new)) if old.get(k) != new.get(k) and not k.startswith(ignore)]  # fmt: skip
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
    """Appends one JSON line per event to ``status.jsonl`` and drives the progress bar."""

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
        with open(self.path, "a") as f:
            f.write(json.dumps(line, default=str) + "\n")

    def chunk_done(self, counts: dict[str, Any]) -> None:
        self.done += counts["ok"] + counts["failed"]
        self.failed += counts["failed"]
        self.bar.update(counts["ok"] + counts["failed"])
        self.bar.set_postfix(failed=self.failed)
        self.log("chunk", **counts)

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

    Raises:
        SweepError: the folder holds a sweep of another spec or model, or is in use.
    """
    out = Path(out)
    started = time.perf_counter()
    plan = spec.plan()  # validates every run's scenario: bad input writes nothing
    out.mkdir(parents=True, exist_ok=True)
    with _lock(out):
        manifest = store.read_manifest(out)
        if manifest is not None:
            _check_same(manifest, spec, plan, out)
        store.remove_temporary(out)
        in_process = workers == 0 and scheduler is None and slurm is None and client is None
        with contextlib.nullcontext(None) if in_process else open_client(workers, scheduler, slurm, client) as c:
            expected = slurm.jobs * slurm.cores if slurm is not None else 1  # SLURM jobs start one by one
            n_workers = 1 if c is None else max(len(c.nthreads()), expected)
            if manifest is None:
                estimate = pilot(spec, plan.runs[0]) if c is None else c.submit(pilot, spec, plan.runs[0], pure=False).result()
                size = chunk_size or _auto_chunk_size(estimate["run_seconds"], len(plan.runs), n_workers)
                columns = store.schema(spec, spec.points())
                manifest = _manifest(spec, plan, size, columns, estimate)
                store.write_json_atomic(out / store.MANIFEST, manifest)
            return _execute(spec, plan, out, manifest, c, n_workers, progress, retry_failed, started)


def _auto_chunk_size(run_seconds: float, n_runs: int, n_workers: int) -> int:
    by_time = max(1, round(TARGET_CHUNK_SECONDS / max(run_seconds, 1e-6)))
    by_balance = max(1, math.ceil(n_runs / (CHUNKS_PER_WORKER * n_workers)))
    return min(by_time, by_balance)


def _execute(spec, plan, out, manifest, client, n_workers, progress, retry_failed, started) -> SweepReport:
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
    status.log("start", chunks_todo=len(todo), chunk_size=size, workers=n_workers, model_version=plan.model_version)

    def task(i: int) -> ChunkTask:
        return ChunkTask(str(out.resolve()), i, chunks[i], spec.scenario_source(), spec.consumers, spec.days,
                         spec.root_seed, list(spec.metrics), columns, plan.model_version, i in redo)  # fmt: skip

    try:
        if client is None:
            for i in todo:
                status.chunk_done(run_chunk(task(i)))
        else:
            _run_on_dask(client, [task(i) for i in todo], manifest["fingerprint"], status, out, columns)
    except BaseException as err:
        status.log("stopped", error=f"{type(err).__name__}: {err}")
        raise
    finally:
        status.close()
    check = store.verify(out)
    status.log("done", check={k: (len(v) if isinstance(v, list) else v) for k, v in check.items()})
    return SweepReport(out, len(plan.runs), check["ok"], check["failed"], skipped, time.perf_counter() - started,
                       size, n_workers, check)  # fmt: skip


def _run_on_dask(client, tasks: list[ChunkTask], fingerprint: str, status: _Status, out: Path, columns) -> None:
    """Submit every chunk; a chunk whose workers keep dying is recorded as failed runs."""
    from distributed import as_completed

    by_key = {}
    for t in tasks:
        key = f"livemarket-{fingerprint[:12]}-chunk-{t.chunk:06d}"
        by_key[key] = t
    futures = [client.submit(run_chunk, t, key=k, pure=False, retries=2) for k, t in by_key.items()]
    try:
        for fut in as_completed(futures):
            t = by_key[fut.key]
            try:
                counts = fut.result()
            except SweepError:
                raise
            except Exception as err:  # the chunk's workers died (KilledWorker) or it kept raising
                status.log("chunk_error", chunk=t.chunk, error=f"{type(err).__name__}: {err}")
                counts = _record_lost_chunk(t, err, out, columns)
            status.chunk_done(counts)
            fut.release()  # done: the scheduler may forget it (no recompute if its worker dies later)
    except BaseException:
        for fut in futures:
            fut.cancel()
        raise


def _record_lost_chunk(t: ChunkTask, err: BaseException, out: Path, columns) -> dict[str, Any]:
    """Write a chunk whose task could not finish as failed runs (``--retry-failed`` runs them again)."""
    text = f"{type(err).__name__}: {err}"
    rows = []
    for run in t.runs:
        row = dict.fromkeys(columns)
        row |= {"run_id": run.run_id, "chunk": t.chunk, "point": run.point, "replicate": run.replicate,
                "seed_entropy": t.root_seed, "seed_spawn_key": list(run.spawn_key), "status": "failed",
                "error": text, "traceback": "".join(traceback.format_exception(err)), "seconds": None,
                "worker": "driver"}  # fmt: skip
        row |= {k: store.factor_cell(v, columns[k]) for k, v in run.values.items()}
        rows.append(row)
    store.write_chunk(out, t.chunk, pl.DataFrame(rows, schema=columns))
    return {"chunk": t.chunk, "ok": 0, "failed": len(rows), "seconds": 0.0, "worker": "driver", "cached": False}
