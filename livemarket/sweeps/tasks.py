"""The worker's side of a sweep: run a chunk's runs one by one, reduce each, write the chunk's file.

A worker runs its chunk's runs one by one, catches each run's error, writes one Parquet
file (temporary name, then rename) and returns only a few counts (:func:`run_chunk`).
"""

from __future__ import annotations

import contextlib
import functools
import os
import signal
import socket
import threading
import time
import traceback
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

from livemarket.config import ConfigError
from livemarket.provenance import model_version
from livemarket.sweeps import store
from livemarket.sweeps.branching import branched_model
from livemarket.sweeps.cluster import warm_up
from livemarket.sweeps.guards import SweepError, check_inputs
from livemarket.sweeps.modelclass import DEFAULT_MODEL, load_model_class, model_source_sha256, split_overrides
from livemarket.sweeps.spec import Experiment, MetricSpec, Run

__all__ = ["ChunkTask", "RunTimeLimitExceeded", "SweepError", "pilot", "run_chunk", "run_rows"]

HANG_GRACE_S = 2.0  # a run is taken as hung this long after its time limit (its report may be on its way)
POLL_S = 0.5  # how often the driver looks for hung runs
PROGRESS_TOPIC = "livemarket-sweep-progress"  # Dask event topic: a run started, a run finished


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
    model: str = DEFAULT_MODEL  # the model class, "package.module:Class"
    model_source_sha256: str | None = None  # its source file's hash, for a user's class
    start_from: str | None = None  # "<scenario>@YYYY-MM-DD": arms branch from a shared warm state
    identity: dict[str, Any] = field(default_factory=dict)  # written into the chunk file (store.write_chunk)
    inputs: dict[str, str | None] = field(default_factory=dict)  # input file -> sha256 when the sweep started
    base_overrides: tuple[str, ...] = ()  # the experiment's fixed overrides (the warm state's)
    warm_dir: str | None = None  # folder of the warm states (default <out>/warm; a placebo shares its experiment's)


class RunTimeLimitExceeded(Exception):
    """A run took longer than the sweep's time limit."""

    def __init__(self, limit_s: float):
        super().__init__(f"exceeded the time limit of {limit_s:g} s")


def _worker_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


def _check_model_version(task: ChunkTask) -> None:
    """Refuse to run on a worker whose livemarket, or whose copy of the model class, differs from the driver's."""
    if model_version() != task.model_version:
        raise SweepError(
            f"worker {_worker_name()} runs model {model_version()} but the sweep was planned with "
            f"{task.model_version}: install the same livemarket on the driver and every worker"
        )
    try:
        load_model_class(task.model)
        source = model_source_sha256(task.model)
    except ConfigError as err:
        raise SweepError(f"worker {_worker_name()}: {err}") from None
    if source != task.model_source_sha256:
        raise SweepError(
            f"model: worker {_worker_name()} has another source of {task.model} than the driver "
            f"(sha256 {str(source)[:12]}, planned with {str(task.model_source_sha256)[:12]}): "
            "give every worker the same file"
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
    row: dict[str, Any] = {"status": "ok", "error": None, "traceback": None}
    started, limit_s = time.perf_counter(), task.run_time_limit_s
    try:
        with _alarm(limit_s):
            stamp = os.stat(task.scenario).st_mtime_ns if task.scenario.endswith(".toml") else None
            scenario, keywords = split_overrides(run.overrides)
            config = _scenario(task.scenario, tuple(scenario), task.consumers, task.days, stamp)
            config = config.model_copy(deep=True)
            seed = np.random.SeedSequence(task.root_seed, spawn_key=run.spawn_key)
            if task.start_from:  # the shared state at the branch date, then this arm's changes
                model, days = branched_model(load_model_class(task.model), task, run, seed, keywords, config)
            else:
                model, days = load_model_class(task.model)(config, rng=seed, run_id=run.run_id, **keywords), config.days
            row |= store.summarize(model.run(days), task.metrics)
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
    warm_up()  # imports are not part of a run's time
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
    check_inputs(task.inputs, task.out)
    out, started = Path(task.out), time.perf_counter()
    path = store.chunk_path(out, task.chunk)
    previous: dict[str, dict[str, Any]] = {}
    if path.exists():
        old = pl.read_parquet(path)
        if not task.retry_failed or old.filter(pl.col("status") != "ok").is_empty():
            return _counts(task.chunk, old, 0.0, cached=True)
        previous = _ok_rows(old)
    frame = pl.DataFrame(run_rows(task, previous), schema=task.columns)
    error = _write(out, task.chunk, frame, task.identity)
    return _counts(task.chunk, frame, time.perf_counter() - started, write_error=error)


def _ok_rows(frame: pl.DataFrame) -> dict[str, dict[str, Any]]:
    return {r["run_id"]: r for r in frame.iter_rows(named=True) if r["status"] == "ok"}


def _write(out: Path, chunk: int, frame: pl.DataFrame, identity: dict[str, Any] | None = None) -> str | None:
    """Write a chunk's file; return the error (disk full, read-only...) in one line instead of raising it.

    Any writer error counts (polars reports a full disk as ``ComputeError``, not ``OSError``):
    the chunk is then not done, and it is not retried (another worker would not help).
    """
    try:
        store.write_chunk(out, chunk, frame, identity)
    except Exception as err:
        lines = str(err).strip().splitlines() or [""]
        return lines[0] if isinstance(err, OSError) else f"{type(err).__name__}: {lines[0]}"
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
    model_class = load_model_class(spec.model)
    config = spec.resolve(run.overrides)
    seed = np.random.SeedSequence(spec.root_seed, spawn_key=run.spawn_key)
    keywords = split_overrides(run.overrides)[1]
    model_class(config, rng=seed, **keywords).run(1)  # first calls (imports, caches) are not the run's cost
    started = time.perf_counter()
    model = model_class(config, rng=seed, **keywords)
    setup = time.perf_counter() - started
    days = min(config.days, 5)
    table = model.run(days)
    per_day = (time.perf_counter() - started - setup) / days
    try:
        store.summarize(table, [m.model_copy(update={"window": None}) for m in spec.metrics])
    except KeyError as err:
        raise SweepError(f"{spec.name}: {err.args[0]}") from None
    return {"run_seconds": setup + per_day * config.days, "days": config.days, "start_date": str(config.start_date)}

