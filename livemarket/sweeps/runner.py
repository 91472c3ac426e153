"""Run a sweep on Dask distributed: chunks of runs, resumable, nothing lost, nothing twice.

The driver plans every run (identity, seed, overrides), fixes how runs are grouped into
chunks (written once into ``manifest.json``), and submits the chunks that have no file
yet. A worker runs its chunk's runs one by one, catches each run's error, writes one
Parquet file (temporary name, then rename) and returns only a few counts
(:mod:`livemarket.sweeps.tasks`). Re-running the
same command resumes; a changed spec or model is refused.

Faults: a killed worker's chunk is retried elsewhere; a chunk whose workers keep dying is
recorded as failed runs. With a per-run time limit, workers report each run's start and
result (Dask events); a run past its limit is recorded as failed by the driver, which
restarts that worker and runs the rest of the chunk one run per task. A chunk file that
cannot be written (disk full) stops the sweep with its runs missing, ready to resume.
SIGTERM or Ctrl-C stops the driver cleanly (:mod:`livemarket.sweeps.guards`). A resume
checks every chunk file and recomputes a damaged or foreign one, and rebuilds a lost
manifest from the chunk files (:func:`store.repair`, :func:`store.recover_manifest`).

Where the work runs (:mod:`livemarket.sweeps.cluster`):

* default: a ``LocalCluster`` started and stopped here (one process per core);
* ``scheduler="tcp://host:port"``: a running cluster;
* ``slurm=SlurmOptions(...)``: workers started as SLURM jobs through dask-jobqueue;
* ``client=``: a ``distributed.Client`` you already hold (notebooks);
* ``workers=0``: no Dask, every chunk in this process (debugging, tests).

Example:
    >>> from livemarket.sweeps import load_experiment
    >>> report = run_sweep(load_experiment("ad-load-user-time").effective(quick=True),
    ...                    "results/sweeps/ad-load-quick", workers=2)  # doctest: +SKIP
    >>> frame = run_experiment(load_experiment("ad-load-user-time"), quick=True, workers=2)  # doctest: +SKIP
"""

from __future__ import annotations

import contextlib
import datetime as dt
import fcntl
import json
import math
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tqdm.auto import tqdm

from livemarket.provenance import git_commit, versions
from livemarket.sweeps import store
from livemarket.sweeps.cluster import SlurmOptions, default_workers, local_cluster, open_client
from livemarket.sweeps.guards import (
    SweepError,
    SweepStopped,
    check_options,
    check_out,
    input_changes,
    input_files,
    quiet_children,
    stop_on_signals,
)
from livemarket.sweeps.modelclass import DEFAULT_MODEL
from livemarket.sweeps.spec import NOT_FINGERPRINTED, Experiment, Plan, default_out
from livemarket.sweeps.tasks import (  # noqa: F401 - HANG_GRACE_S, POLL_S: re-exported (run_sweep's time limit)
    HANG_GRACE_S,
    POLL_S,
    ChunkTask,
    RunTimeLimitExceeded,
    pilot,
    run_chunk,
    run_rows,
)

__all__ = ["ChunkTask", "RunTimeLimitExceeded", "SlurmOptions", "SweepError", "SweepReport", "SweepStopped",
           "default_workers", "local_cluster", "open_client", "run_chunk", "run_experiment", "run_rows", "run_sweep"]

TARGET_CHUNK_SECONDS = 5.0  # long enough that Dask's per-task cost (milliseconds) is noise
CHUNKS_PER_WORKER = 4  # at least this many chunks per worker, for load balance


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
# ---------------------------------------------------------------------- driver side

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


def _check_same(manifest: dict[str, Any], spec: Experiment, plan: Plan, out: Path,
                inputs_now: dict[str, str | None]) -> None:  # fmt: skip
    """Refuse to resume when the spec, the model or an input file differs from the manifest's, naming each."""
    if manifest["model_version"] != plan.model_version:
        raise SweepError(
            f"{out} was started with model {manifest['model_version']}, this is {plan.model_version}; "
            "results of two model versions would mix. Use a new --out folder."
        )
    same_spec = manifest["fingerprint"] == spec.fingerprint()
    if same_spec and manifest.get("model_source_sha256") != plan.model_source_sha256:
        raise SweepError(
            f"{out} was started with another source of the model class {spec.model} "
            f"(sha256 {str(manifest.get('model_source_sha256'))[:12]}, now {str(plan.model_source_sha256)[:12]}); "
            "results of two model versions would mix. Restore the file to resume, or use a new --out folder."
        )
    inputs = input_changes(manifest["inputs"], inputs_now) if "inputs" in manifest else []
    if manifest["fingerprint"] != spec.fingerprint() or manifest["scenario_sha256"] != plan.scenario_sha256 or inputs:
        old = _flatten({"model": DEFAULT_MODEL} | manifest["spec"])  # written before specs named their model
        new = _flatten(json.loads(spec.model_dump_json()))
        ignore = NOT_FINGERPRINTED
        diff = [f"{k}: {old.get(k, '<absent>')!r} -> {new.get(k, '<absent>')!r}"
                for k in sorted(set(old) | set(new))
                if old.get(k) != new.get(k) and not k.startswith(ignore)]  # fmt: skip
        if manifest["scenario_sha256"] != plan.scenario_sha256 and not any(spec.scenario_source() in i for i in inputs):
            diff.append(f"scenario file {spec.scenario} changed")
        diff += inputs
        if not diff:
            diff = [f"spec fingerprint {manifest['fingerprint'][:12]} -> {spec.fingerprint()[:12]}"]
        raise SweepError(
            f"the spec differs from the one this sweep in {out} was started with ({'; '.join(diff)}). "
            "Restore it to resume, or use a new --out folder."
        )


def _flatten(data: Any, prefix: str = "") -> dict[str, Any]:
    if isinstance(data, dict):
        return {k: v for key, val in data.items() for k, v in _flatten(val, f"{prefix}{key}.").items()}
    return {prefix.rstrip("."): data}


def _manifest(spec: Experiment, plan: Plan, chunk_size: int, columns: dict, estimate: dict,
              inputs: dict[str, str | None]) -> dict[str, Any]:  # fmt: skip
    points = spec.points()
    return {
        "format": store.FORMAT, "inputs": inputs,
        "name": spec.name, "created": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "fingerprint": spec.fingerprint(), "model_version": plan.model_version,
        "scenario_sha256": plan.scenario_sha256, "model_source_sha256": plan.model_source_sha256,
        "versions": versions(), "git_commit": git_commit(),
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
    warm_dir: str | Path | None = None,
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
        warm_dir: folder of the warm states of a ``start_from`` experiment (default ``out/warm``).

    A chunk file that cannot be written (disk full) stops the sweep: its runs stay missing,
    the report says why, and running the same call again resumes.

    Raises:
        SweepError: the folder holds a sweep of another spec or model, or is in use; a time
            limit that is not positive.
    """
    out = Path(out)
    limit_s = spec.run_time_limit_s if run_time_limit_s is None else run_time_limit_s
    if limit_s is not None and not 0 < limit_s < math.inf:
        raise SweepError(f"the run time limit must be more than 0 s (got {limit_s:g}); accepted: a finite number")
    in_process = workers == 0 and scheduler is None and slurm is None and client is None
    check_options(spec, workers, chunk_size, slurm, local=scheduler is None and slurm is None and client is None)
    check_out(out)
    if in_process and limit_s and threading.current_thread() is not threading.main_thread():
        raise SweepError("a run time limit with workers=0 needs the main thread (SIGALRM); use workers >= 1")
    started = time.perf_counter()
    plan = spec.plan()  # validates every run's scenario: bad input writes nothing
    out.mkdir(parents=True, exist_ok=True)
    columns, inputs = store.schema(spec, spec.points()), input_files(spec, plan)  # inputs as the plan read them
    with _lock(out), stop_on_signals():
        store.remove_temporary(out)
        manifest, notes = store.recover_manifest(
            out, lambda size: _manifest(spec, plan, size, columns, {"rebuilt": True}, inputs), spec.fingerprint(),
            plan.model_version, inputs)  # fmt: skip
        if manifest is not None:
            _check_same(manifest, spec, plan, out, inputs)
        local = not in_process and scheduler is None and slurm is None and client is None
        with contextlib.ExitStack() as stack:
            with quiet_children(local):  # only while the workers are started
                c = None if in_process else stack.enter_context(open_client(workers, scheduler, slurm, client))
            if local:
                from livemarket.sweeps.dask_driver import quiet_workers

                quiet_workers(c)  # workers restarted later (a hung run) ignore Ctrl-C too
            expected = slurm.jobs * slurm.cores if slurm is not None else 1  # SLURM jobs start one by one
            n_workers = 1 if c is None else max(len(c.nthreads()), expected)
            if manifest is None:
                if c is None:
                    estimate = pilot(spec, plan.runs[0])
                else:
                    estimate = c.submit(pilot, spec, plan.runs[0], pure=False).result()
                size = chunk_size or _auto_chunk_size(estimate["run_seconds"], len(plan.runs), n_workers)
                manifest = store.write_manifest(out, _manifest(spec, plan, size, columns, estimate, inputs))
            return _execute(spec, plan, out, manifest, c, n_workers, progress, retry_failed, limit_s, started, notes,
                            warm_dir)


def run_experiment(spec: Experiment, out: str | Path | None = None, *, quick: bool = False, **options: Any):
    """Run (or resume) an experiment's sweep and return its results, one row per run (polars).

    Args:
        spec: the experiment (:func:`livemarket.sweeps.load_experiment`).
        out: results folder (default ``results/sweeps/<name>[-quick]``).
        quick: use the ``[quick]`` size.
        **options: passed to :func:`run_sweep` (``workers``, ``scheduler``, ``client``, ``slurm``,
            ``progress``, ``chunk_size``...).
    """
    sized = spec.effective(quick)
    folder = Path(out) if out is not None else default_out(sized, quick)
    run_sweep(sized, folder, **options)
    return store.results(folder)


def _auto_chunk_size(run_seconds: float, n_runs: int, n_workers: int) -> int:
    by_time = max(1, round(TARGET_CHUNK_SECONDS / max(run_seconds, 1e-6)))
    by_balance = max(1, math.ceil(n_runs / (CHUNKS_PER_WORKER * n_workers)))
    return min(by_time, by_balance)


def _execute(spec, plan, out, manifest, client, n_workers, progress, retry_failed, limit_s, started,
             notes=(), warm_dir=None) -> SweepReport:  # fmt: skip
    size = manifest["chunk_size"]
    columns = {k: store.column_dtype(v) for k, v in manifest["schema"].items()}
    chunks = [plan.runs[i : i + size] for i in range(0, len(plan.runs), size)]
    done, moved = store.repair(out, manifest)  # every chunk file counted is checked; bad ones are moved aside
    before = store.verify(out)
    redo = set()
    if retry_failed and before["failed"]:
        redo = set(store.failures(out)["chunk"].to_list())
    todo = [i for i in range(len(chunks)) if i not in done or i in redo]
    skipped = before["ok"] + before["failed"] - sum(len(chunks[i]) for i in redo)
    status = _Status(out, len(plan.runs), skipped, before["failed"] if not redo else 0, spec.name, progress)
    for line in [*notes, *moved]:
        status.warn("repaired", line)
    status.log("start", chunks_todo=len(todo), chunk_size=size, workers=n_workers, model_version=plan.model_version,
               run_time_limit_s=limit_s)  # fmt: skip
    inputs = manifest.get("inputs", {})
    identity = {"fingerprint": manifest["fingerprint"], "chunk_size": size, "model_version": plan.model_version,
                "inputs": inputs}  # fmt: skip

    def task(i: int) -> ChunkTask:
        return ChunkTask(str(out.resolve()), i, chunks[i], spec.scenario_source(), spec.consumers, spec.days,
                         spec.root_seed, list(spec.metrics), columns, plan.model_version, i in redo,
                         limit_s, model=spec.model, model_source_sha256=plan.model_source_sha256,
                         start_from=spec.start_from, base_overrides=tuple(spec.shared_overrides()),
                         identity=identity, inputs=inputs,
                         warm_dir=str(Path(warm_dir).resolve()) if warm_dir else None)  # fmt: skip

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
        status.log("stopped", error=str(err) if isinstance(err, SweepStopped) else f"{type(err).__name__}: {err}")
        raise
    finally:
        status.close()
    check = store.verify(out)
    status.log("done", check={k: (len(v) if isinstance(v, list) else v) for k, v in check.items()}, errors=errors)
    return SweepReport(out, len(plan.runs), check["ok"], check["failed"], skipped, time.perf_counter() - started,
                       size, n_workers, check, errors)  # fmt: skip
