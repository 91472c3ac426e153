"""Where simulation runs execute: a Dask client on a local cluster, a running scheduler or SLURM.

The one place that starts a cluster for the sweep runner, validation and calibration alike
(:func:`open_client`), and the one way to run independent replicates on it or in this process
(:func:`map_runs`).

Example:
    >>> map_runs(abs, [-1, 2, -3], workers=0)
    [1, 2, 3]
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

from livemarket.provenance import model_version

__all__ = ["WORKER_ENV_EXPORTS", "SlurmOptions", "default_workers", "local_cluster", "map_runs", "open_client",
           "warm_up"]

#: Worker settings for simulation runs (see :func:`local_cluster`), as shell exports for job scripts.
WORKER_ENV_EXPORTS = (
    "export DASK_DISTRIBUTED__ADMIN__TICK__INTERVAL=1s",
    "export DASK_DISTRIBUTED__WORKER__PROFILE__ENABLED=False",
    "export POLARS_MAX_THREADS=1 OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 MKL_NUM_THREADS=1",
    "export LIVEMARKET_THREADS=1",
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


def default_workers() -> int:
    """Worker processes for a local cluster: the cores this process may use."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not Linux
        return os.cpu_count() or 1


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
            c.run(warm_up)
            yield c
    finally:
        cluster.close()


def local_cluster(n_workers: int, **kwargs):
    """A LocalCluster of ``n_workers`` single-threaded processes, set up for simulation runs.

    Runs are long pure-Python tasks, one per core, that hold the GIL: every wake-up of a
    worker's event loop (its 20 ms tick, the 10 ms profiler, monitors) takes the GIL from the
    run. Those intervals are stretched here, and polars and the model's kernels
    (``LIVEMARKET_THREADS``) get one thread per worker, as Dask already does for BLAS and OpenMP.
    """
    import dask
    from distributed import LocalCluster

    environ = dict(dask.config.get("distributed.nanny.pre-spawn-environ", {}))
    environ |= {"POLARS_MAX_THREADS": "1", "LIVEMARKET_THREADS": "1"}
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


def warm_up() -> str:
    """Import the model on a worker before the first chunk (part of start-up, not of a run)."""
    import livemarket.models.market  # noqa: F401

    return model_version()


def map_runs(fn: Callable[[Any], Any], items: Sequence[Any], *, client=None, workers: int = 0,
             progress: Callable[[int], None] | None = None) -> list[Any]:  # fmt: skip
    """``[fn(x) for x in items]``: on ``client``, on a new local cluster of ``workers``, or here.

    The replicate runner of validation and calibration: each item is one independent run
    (plain data, pickled to a worker); results come back in the order of ``items``.
    ``progress(n)`` is called after each of the first n runs finishes in this process.
    """
    if client is None and workers <= 0:
        out = []
        for i, x in enumerate(items):
            out.append(fn(x))
            if progress:
                progress(i + 1)
        return out
    with open_client(workers, client=client) as c:
        return c.gather(c.map(fn, list(items), pure=False))
