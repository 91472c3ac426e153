"""What keeps a sweep from going silently wrong: bounds on its size, its input files, signals.

* :func:`check_options`: workers, chunk size and the number of runs, checked before planning.
* :func:`input_files` / :func:`check_inputs`: the files the runs read besides the code
  (scenario file, graph files) are hashed when the sweep is planned; a resume or a chunk
  refuses to go on when one changed, naming it, so that runs of two inputs never mix.
* :func:`stop_on_signals`: SIGTERM and SIGINT raise :class:`SweepStopped` in the driver,
  which stops its workers, logs a ``stopped`` event and exits with 128 + the signal.
* :func:`quiet_children`: a local cluster is started with SIGINT ignored, so a Ctrl-C to the
  process group reaches the driver only (no worker tracebacks).
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import math
import os
import signal
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

from livemarket.config import ConfigError

if TYPE_CHECKING:
    from livemarket.sweeps.spec import Experiment, Plan

__all__ = ["MAX_RUNS", "SweepError", "SweepStopped", "check_inputs", "check_options", "check_out", "file_sha256",
           "input_changes", "input_files", "quiet_children", "stop_on_signals"]  # fmt: skip

MAX_RUNS = 1_000_000  # a plan holds every run in memory (about 1 KB each) and the manifest lists them


class SweepError(ConfigError):
    """A sweep that cannot start or go on (changed spec, other model version, folder locked)."""


class SweepStopped(BaseException):
    """SIGTERM or SIGINT reached the driver: the sweep stopped cleanly, ready to resume.

    A ``BaseException``, so that no ``except Exception`` (a run's error handling) takes it.
    """

    def __init__(self, signum: int):
        self.signum, self.exit_code = signum, 128 + signum
        super().__init__(f"stopped by {signal.Signals(signum).name}")


# ---------------------------------------------------------------------- sizes and options
def check_options(spec: Experiment, workers: int | None, chunk_size: int | None, slurm=None,
                  local: bool = False) -> None:  # fmt: skip
    """Bounds on the sweep's size and options, checked before anything is planned or written.

    With ``local`` (the workers are processes of this machine), the largest run's memory
    estimate times the number of workers must fit in this machine's memory.
    """
    for name in ("jobs", "cores"):
        value = getattr(slurm, name, 1)
        if not isinstance(value, int) or value < 1:
            raise SweepError(f"--{name}: {value} is not accepted; accepted: 1 or more")
    if workers is not None and workers < 0:
        raise SweepError(f"--workers: {workers} is not accepted; accepted: 0 (no Dask) or more")
    if chunk_size is not None and chunk_size < 1:
        raise SweepError(f"--chunk-size: {chunk_size} is not accepted; accepted: 1 or more runs per chunk")
    grid = math.prod(len(f.grid_values()) for f in spec.factors.values() if not f.sampled)
    d = sum(f.sampled for f in spec.factors.values())
    rows = {"grid": 1, "lhs": spec.samples, "morris": spec.samples * (d + 1),
            "sobol": spec.samples * (2 * d + 2 if spec.sobol_second_order else d + 2)}[spec.design]  # fmt: skip
    n = grid * rows * spec.replicates
    if local and workers != 0:
        _check_local_memory(spec, workers)
    if n > MAX_RUNS:
        raise SweepError(
            f"{spec.name}: {n:,} runs ({grid * rows:,} design points x replicates = {spec.replicates:,}); "
            f"accepted: at most {MAX_RUNS:,} runs per sweep (split it into several sweeps)"
        )


def _check_local_memory(spec: Experiment, workers: int | None) -> None:
    """Refuse local workers whose runs, side by side, would not fit in this machine's memory."""
    from livemarket.sizing import machine_memory_bytes, memory_estimate_bytes
    from livemarket.sweeps.cluster import default_workers

    n_workers = default_workers() if workers is None else workers
    need, have = memory_estimate_bytes(spec.resolve(spec.overrides)) * n_workers, machine_memory_bytes()
    if have and need > have:
        raise SweepError(
            f"--workers: {n_workers} local workers running {spec.name}'s runs side by side need about "
            f"{need / 2**30:,.1f} GiB (docs/PERFORMANCE.md) but this machine has {have / 2**30:,.1f} GiB; "
            f"accepted: at most {max(1, int(have // (need / n_workers)))} workers for runs of this size"
        )


def check_out(out: Path) -> None:
    """Refuse an ``--out`` that is a file, or a folder holding other things than a sweep."""
    accepted = "accepted: a new or empty folder, or the folder of this sweep"
    if out.exists() and not out.is_dir():
        raise SweepError(f"--out {out}: is a file; {accepted}")
    if out.is_dir() and not (out / "manifest.json").exists() and not (out / "runs").is_dir():
        other = sorted(p.name for p in out.iterdir() if p.name not in (".lock", "status.jsonl"))
        if other:
            raise SweepError(f"--out {out}: holds files that are not a sweep's ({', '.join(other[:5])}); {accepted}")


# ---------------------------------------------------------------------- input files
def input_files(spec: Experiment, plan: Plan) -> dict[str, str | None]:
    """Absolute path -> sha256 of every file the runs read besides the code: scenario and graph files."""
    paths = [spec.scenario_source()] if spec.scenario.endswith(".toml") else []
    graph = spec.resolve(plan.runs[0].overrides).graph
    if graph.kind == "file" and graph.path:
        paths.append(graph.path)
    for overrides in {tuple(r.overrides) for r in plan.runs}:
        paths += [o.split("=", 1)[1].strip().strip("'\"") for o in overrides
                  if o.replace(" ", "").startswith("graph.path=")]  # fmt: skip
    return {str(Path(p).resolve()): file_sha256(p) for p in dict.fromkeys(paths)}


def file_sha256(path: str | Path) -> str | None:
    """SHA-256 of a file's bytes (None if it cannot be read)."""
    try:
        return hashlib.sha256(Path(path).read_bytes()).hexdigest()
    except OSError:
        return None


def input_changes(old: dict[str, str | None], new: dict[str, str | None]) -> list[str]:
    """One phrase per input file that differs: changed, gone, new."""
    out = []
    for name in sorted(set(old) | set(new)):
        a, b = old.get(name), new.get(name)
        if a == b:
            continue
        if name not in old:
            out.append(f"{name}: not read when the sweep started")
        elif b is None:
            out.append(f"{name}: no longer exists or cannot be read")
        else:
            out.append(f"{name} changed (sha256 {str(a)[:12]} -> {b[:12]})")
    return out


@functools.lru_cache(maxsize=64)
def _sha256_of(path: str, mtime_ns: int, size: int) -> str | None:
    return file_sha256(path)


def check_inputs(inputs: dict[str, str | None], out: str) -> None:
    """Refuse to run a chunk when an input file changed since the sweep started (runs would mix)."""
    now = {}
    for path in inputs:
        try:
            st = os.stat(path)
            now[path] = _sha256_of(path, st.st_mtime_ns, st.st_size)
        except OSError:
            now[path] = None
    changes = input_changes(inputs, now)
    if changes:
        raise SweepError(f"{'; '.join(changes)} since the sweep in {out} started: runs would mix; "
                         "restore it and re-run the same command, or use a new --out folder")  # fmt: skip


# ---------------------------------------------------------------------- signals
@contextlib.contextmanager
def stop_on_signals() -> Iterator[None]:
    """SIGTERM and SIGINT raise :class:`SweepStopped` in the driver (main thread only); later ones are ignored."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def stop(signum, frame):
        for s in (signal.SIGTERM, signal.SIGINT):  # the clean-up (cancel, close the cluster) is not interrupted
            signal.signal(s, signal.SIG_IGN)
        raise SweepStopped(signum)

    previous = {s: signal.signal(s, stop) for s in (signal.SIGTERM, signal.SIGINT)}
    try:
        yield
    finally:
        for s, handler in previous.items():
            signal.signal(s, handler)


@contextlib.contextmanager
def quiet_children(local: bool) -> Iterator[None]:
    """Start a local cluster with SIGINT ignored.

    Its workers inherit that, so a Ctrl-C to the process group stops the driver only (which
    stops them) instead of printing their tracebacks. (A worker restarted later, after a hung
    run, is started without it.)
    """
    if not local or threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)
