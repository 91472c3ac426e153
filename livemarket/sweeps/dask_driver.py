"""The driver's side of a sweep on Dask: submit the chunks, collect them, recover from faults.

A chunk task writes its own file (:func:`tasks.run_chunk`). The driver writes a chunk
itself only when it had to put it together: a task lost with its workers (its runs fail),
or, with a time limit, a hung run (the run fails, its worker is restarted, the rest of the
chunk runs one task per run).
"""

from __future__ import annotations

import dataclasses
import logging
import queue
import signal
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import polars as pl
from distributed.diagnostics.plugin import WorkerPlugin

from livemarket.sweeps import store
from livemarket.sweeps.tasks import (
    HANG_GRACE_S,
    POLL_S,
    PROGRESS_TOPIC,
    ChunkTask,
    RunTimeLimitExceeded,
    SweepError,
    _counts,
    _failure,
    _identity,
    _ok_rows,
    _write,
    run_chunk,
    run_rows,
)

if TYPE_CHECKING:
    from livemarket.sweeps.runner import _Status

__all__ = ["DaskSweep", "quiet_workers"]


class _QuietLocalWorker(WorkerPlugin):
    """On each local worker (also one started later): ignore SIGINT, and say nothing of a lost scheduler.

    The driver stops the workers. Its scheduler stops with it, so a heartbeat that meets the
    closing scheduler is no news, but distributed logs it as an error with a traceback, which
    would follow the one-line "stopped by SIGINT" message.
    """

    def setup(self, worker) -> None:
        if threading.current_thread() is threading.main_thread():
            signal.signal(signal.SIGINT, signal.SIG_IGN)
        logging.getLogger("distributed.worker").addFilter(_not_a_heartbeat_failure)


def _not_a_heartbeat_failure(record: logging.LogRecord) -> bool:
    return not str(record.msg).startswith("Failed to communicate with scheduler during heartbeat")


def quiet_workers(client) -> None:
    """Make this client's local workers ignore SIGINT (also those started later) and a closing scheduler.

    A worker restarted after a hung run is started without the inherited SIG_IGN of
    :func:`livemarket.sweeps.guards.quiet_children`; a Ctrl-C to the process group then
    still stops only the driver, which stops the workers.
    """
    client.register_plugin(_QuietLocalWorker(), name="livemarket-quiet-local-worker")


@dataclass
class _Running:
    """A submitted task, and what its worker reported: the run in progress, the runs finished."""

    future: Any
    task: ChunkTask  # the runs of this task
    chunk: ChunkTask  # the whole chunk (``task`` itself, or the chunk of a one-run task)
    run_id: str | None = None  # the run in progress ...
    since: float = 0.0  # ... since then (this process's monotonic clock) ...
    address: str = ""  # ... on this worker
    worker: str = ""  # its name in the rows (host:pid)
    finished: dict[str, tuple[str, dict[str, Any]]] = field(default_factory=dict)  # run_id -> (worker, result)


class DaskSweep:
    """The chunks on Dask: submit, collect, record lost chunks; with a time limit, recover hung runs.

    A chunk task writes its own file. Chunks the driver puts together (a lost task, a hung
    run) are collected in ``partial`` (run_id -> row) and written here once every run is in.
    """

    def __init__(self, client, status: _Status, out: Path, columns, limit_s: float | None, fingerprint: str):
        from distributed import as_completed

        self.client, self.status, self.out, self.columns, self.limit_s = client, status, out, columns, limit_s
        self.prefix = f"livemarket-{fingerprint[:12]}-chunk"
        self.running: dict[str, _Running] = {}
        self.partial: dict[int, dict[str, dict[str, Any]]] = {}
        self.reports: queue.SimpleQueue = queue.SimpleQueue()
        self.completed = as_completed()
        self.errors: list[str] = []

    def run(self, tasks) -> list[str]:
        """Run the chunk tasks; return the write errors (the first one stops the sweep)."""
        if self.limit_s:
            self.client.subscribe_topic(PROGRESS_TOPIC, lambda ev: self.reports.put((time.monotonic(), ev[1])))
        try:
            for t in tasks:
                self.submit(t, t, f"{self.prefix}-{t.chunk:06d}")
            while self.running and not self.errors:
                for fut in self.completed.next_batch(block=not self.limit_s):
                    if fut.key in self.running:
                        self.collect(self.running.pop(fut.key))
                    fut.release()  # done: the scheduler may forget it (no recompute if its worker dies later)
                self.read_reports()
                for key in self.hung():
                    self.recover(self.running.pop(key))
                if self.limit_s:
                    time.sleep(POLL_S)
        finally:
            for r in self.running.values():
                r.future.cancel()
            if self.limit_s:
                self.client.unsubscribe_topic(PROGRESS_TOPIC)
        return self.errors

    def submit(self, task: ChunkTask, chunk: ChunkTask, key: str) -> None:
        """Submit a task: a chunk task writes its file, a one-run task (after a hung run) returns its row."""
        fut = self.client.submit(run_chunk if task is chunk else run_rows, task, key=key, pure=False, retries=2)
        self.running[key] = _Running(fut, task, chunk)
        self.completed.add(fut)

    def collect(self, r: _Running) -> None:
        """Count a finished task; a task that failed for good fails its runs (finished ones are kept)."""
        try:
            result = r.future.result()
        except SweepError:
            raise
        except Exception as err:  # its workers died (KilledWorker) or it kept raising: its runs fail
            self.status.log("chunk_error", chunk=r.chunk.chunk, error=f"{type(err).__name__}: {err}")
            lost = [_identity(r.chunk, run, "driver") | _failure(err, r.chunk.metrics) for run in r.task.runs]
            self.put(r.chunk, [*self.finished_rows(r), *lost])  # the runs it reported finished are kept
        else:
            if r.task is not r.chunk:
                self.put(r.chunk, result)
            elif error := self.status.chunk_done(result):
                self.errors.append(error)

    def read_reports(self) -> None:
        """Take in the workers' reports: which run each task is on, since when; the runs it finished."""
        while not self.reports.empty():
            at, msg = self.reports.get()
            r = self.running.get(msg["key"])
            if r is None:  # a task already collected or given up
                continue
            if msg["result"] is None:
                r.run_id, r.since, r.address, r.worker = msg["run_id"], at, msg["address"], msg["name"]
            else:
                r.finished[msg["run_id"]], r.run_id = (msg["name"], msg["result"]), None

    def hung(self) -> list[str]:
        """Keys of the tasks whose run in progress is past the time limit, on the worker it started on."""
        now = time.monotonic()
        late = [k for k, r in self.running.items() if r.run_id and now - r.since > self.limit_s + HANG_GRACE_S]
        processing = self.client.processing() if late else {}
        for k in late:
            r = self.running[k]
            if k not in processing.get(r.address, ()):  # that worker died: the task starts again and reports again
                r.run_id = None
        return [k for k in late if self.running[k].run_id]

    def recover(self, r: _Running) -> None:
        """Fail a hung run, restart its worker, keep the runs it finished and give each other run its own task."""
        r.future.cancel()
        restarted = self.client.restart_workers([r.address], raise_for_error=False)  # a thread cannot be stopped
        # (a worker without a nanny cannot be restarted: the warning says so, and its thread stays busy)
        self.status.warn("run_time_limit", f"run {r.run_id} of chunk {r.chunk.chunk} exceeded the time limit of "
                         f"{self.limit_s:g} s; its worker {r.worker} was restarted ({restarted.get(r.address)})",
                         chunk=r.chunk.chunk, run_id=r.run_id)  # fmt: skip
        hung = next(run for run in r.task.runs if run.run_id == r.run_id)
        failed = _identity(r.chunk, hung, r.worker) | _failure(RunTimeLimitExceeded(self.limit_s), r.chunk.metrics)
        have = self.put(r.chunk, [*self.finished_rows(r), failed | {"seconds": time.monotonic() - r.since}])
        for run in r.task.runs:
            if run.run_id not in have:
                one = dataclasses.replace(r.chunk, runs=[run])
                self.submit(one, r.chunk, f"{self.prefix}-{r.chunk.chunk:06d}-run-{run.run_id}")

    def finished_rows(self, r: _Running) -> list[dict[str, Any]]:
        """Return the rows of the runs a task reported finished."""
        return [_identity(r.chunk, run, r.finished[run.run_id][0]) | r.finished[run.run_id][1]
                for run in r.task.runs if run.run_id in r.finished]  # fmt: skip

    def put(self, chunk: ChunkTask, rows: list[dict[str, Any]]) -> set[str]:
        """Add rows to a chunk put together here (first row of a run wins); write it once complete.

        Returns the runs the chunk has now.
        """
        if chunk.chunk not in self.partial:
            self.partial[chunk.chunk] = self._kept(chunk)
        have = self.partial[chunk.chunk]
        for row in rows:
            have.setdefault(row["run_id"], row)
        if all(run.run_id in have for run in chunk.runs):
            del self.partial[chunk.chunk]
            frame = pl.DataFrame([have[run.run_id] for run in chunk.runs], schema=self.columns)
            counts = _counts(chunk.chunk, frame, 0.0, write_error=_write(self.out, chunk.chunk, frame, chunk.identity))
            if error := self.status.chunk_done(counts):
                self.errors.append(error)
        return set(have)

    def _kept(self, chunk: ChunkTask) -> dict[str, dict[str, Any]]:
        """Return the ok rows a ``retry_failed`` chunk keeps from its file (they are not run again)."""
        path = store.chunk_path(self.out, chunk.chunk)
        return _ok_rows(pl.read_parquet(path)) if chunk.retry_failed and path.exists() else {}
