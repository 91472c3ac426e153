"""Dask overhead of a sweep against the same runs in one plain process loop.

Runs N runs of the ``minimal`` scenario three ways and prints wall times:

* ``loop``: ``LiveCommerceModel(config, rng=seed).run(days)`` for every run, reduced to the
  spec's metrics (``store.summarize``) and collected in one frame: the same results, with no
  Dask, no files and no bookkeeping;
* ``dask x1``: ``run_sweep`` on a LocalCluster with one worker process (pilot, chunking,
  summaries, Parquet writes, status log all included; the cluster start-up is timed apart);
* ``dask x2``: the same with two workers (speed-up against the loop).

The loop runs with one BLAS and one polars thread, as the sweep's worker processes do.
Overhead = (dask x1 - loop) / dask x1, in wall time and in CPU time (driver + workers; CPU
time is the robust figure on a shared, busy machine). Each measurement is repeated,
interleaved, and the fastest kept, since other processes only ever slow a run down.

Usage: ``python benchmarks/sweep_overhead.py [--runs 120] [--days 60] [--consumers 1000] [--repeat 2]``
"""

from __future__ import annotations

import os

# Sweep workers get one BLAS/OpenMP/polars thread each; give the loop the same, or the
# comparison measures thread oversubscription instead of Dask.
for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "POLARS_MAX_THREADS"):
    os.environ.setdefault(_var, "1")

import argparse  # noqa: E402
import shutil  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402
import polars as pl  # noqa: E402

from livemarket import LiveCommerceModel  # noqa: E402
from livemarket.sweeps.runner import local_cluster, run_sweep  # noqa: E402
from livemarket.sweeps.spec import Experiment  # noqa: E402
from livemarket.sweeps.store import results, summarize  # noqa: E402


def make_spec(runs: int, days: int, consumers: int) -> Experiment:
    return Experiment(
        name="overhead", scenario="minimal", days=days, consumers=consumers, replicates=runs // 2, root_seed=1,
        factors={"ad_load": {"path": "platforms.video.ad_load", "values": [0.1, 0.2]}},
        metrics=["gmv_rmb:sum", "hhi", "video.gmv_share:last", "video.minutes_per_user:daily"],
    )  # fmt: skip


def loop(spec: Experiment) -> tuple[float, float]:
    """(wall s, CPU s) of the plain loop over every run of the spec, producing the same rows."""
    plan = spec.plan()
    configs = {tuple(r.overrides): spec.resolve(r.overrides) for r in plan.runs}
    wall, cpu = time.perf_counter(), time.process_time()
    rows = []
    for r in plan.runs:
        config = configs[tuple(r.overrides)]
        seed = np.random.SeedSequence(spec.root_seed, spawn_key=r.spawn_key)
        table = LiveCommerceModel(config, rng=seed).run(config.days)
        rows.append({"run_id": r.run_id} | summarize(table, spec.metrics))
    pl.DataFrame(rows)
    return time.perf_counter() - wall, time.process_time() - cpu


def _cpu_seconds() -> float:
    import psutil

    t = psutil.Process().cpu_times()
    return t.user + t.system


def dask(spec: Experiment, workers: int) -> tuple[float, float, float, float]:
    """Wall s of cluster start-up, wall s of the sweep, CPU s of driver and workers, busy share.

    The busy share is the time workers spent inside runs (the ``seconds`` column: scenario,
    model run, summary) over workers x sweep wall time: what is left is Dask and the sweep
    tool (scheduling, pilot, Parquet writes, waiting at the end), measured under the same
    machine load as the runs themselves.
    """
    from distributed import Client

    out = Path(tempfile.mkdtemp(prefix="lm-overhead-"))
    try:
        started = time.perf_counter()
        with local_cluster(workers) as cl:
            with Client(cl) as c:
                c.run(lambda: __import__("livemarket.models.market"))
                startup = time.perf_counter() - started
                before = sum(c.run(_cpu_seconds).values()) + time.process_time()
                wall = time.perf_counter()
                report = run_sweep(spec, out, client=c, progress=False)
                wall = time.perf_counter() - wall
                cpu = sum(c.run(_cpu_seconds).values()) + time.process_time() - before
        assert report.ok == report.runs, report
        busy = results(out)["seconds"].sum() / (wall * workers)
        return startup, wall, cpu, busy
    finally:
        shutil.rmtree(out, ignore_errors=True)


def wrapper_in_worker(spec: Experiment, rounds: int = 6, block: int = 10) -> tuple[float, float]:
    """(s plain, s through the sweep's run wrapper) for the same runs, alternating, in one process.

    Runs inside a worker this measures what the sweep adds to each run (config copy, summary,
    error capture) under the same machine state, which a loop-versus-sweep comparison on a
    busy machine cannot resolve.
    """
    from livemarket.sweeps import tasks

    plan = spec.plan()
    runs = plan.runs[:block]
    task = tasks.ChunkTask("", 0, runs, spec.scenario_source(), spec.consumers, spec.days, spec.root_seed,
                           list(spec.metrics), {}, plan.model_version)  # fmt: skip
    configs = {tuple(r.overrides): spec.resolve(r.overrides) for r in runs}
    plain = wrapped = 0.0
    for _ in range(rounds):
        started = time.perf_counter()
        for r in runs:
            config = configs[tuple(r.overrides)]
            seed = np.random.SeedSequence(spec.root_seed, spawn_key=r.spawn_key)
            summarize(LiveCommerceModel(config, rng=seed).run(config.days), spec.metrics)
        plain += time.perf_counter() - started
        started = time.perf_counter()
        for r in runs:
            tasks._one_run(task, r)
        wrapped += time.perf_counter() - started
    return plain, wrapped


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=120)
    parser.add_argument("--days", type=int, default=60)
    parser.add_argument("--consumers", type=int, default=1000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    spec = make_spec(args.runs, args.days, args.consumers)
    loop(make_spec(2, 5, args.consumers))  # warm imports
    load = os.getloadavg()[0]
    t_loop, t_d1, t_d2 = [], [], []
    for i in range(args.repeat):  # interleaved, order alternating, so a busy moment hits all three
        steps = [lambda: t_loop.append(loop(spec)), lambda: t_d1.append(dask(spec, 1)),
                 lambda: t_d2.append(dask(spec, 2))]  # fmt: skip
        for step in steps if i % 2 == 0 else steps[::-1]:
            step()
    n = spec.replicates * 2
    lp, lp_cpu = min(x[0] for x in t_loop), min(x[1] for x in t_loop)
    s1, d1, d1_cpu = min(x[0] for x in t_d1), min(x[1] for x in t_d1), min(x[2] for x in t_d1)
    s2, d2 = min(x[0] for x in t_d2), min(x[1] for x in t_d2)
    busy1, busy2 = max(x[3] for x in t_d1), max(x[3] for x in t_d2)
    print(f"{n} runs of minimal ({args.consumers} consumers x {args.days} days), best of {args.repeat}; "
          f"load average {load:.1f} -> {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")  # fmt: skip
    print(f"{'(best of each column)':<26}{'start-up s':>11}{'sweep wall s':>14}{'CPU s':>9}{'ms/run':>9}")
    print(f"{'loop (one process)':<26}{0:>11.2f}{lp:>14.2f}{lp_cpu:>9.2f}{1000 * lp / n:>9.1f}")
    print(f"{'dask, 1 worker':<26}{s1:>11.2f}{d1:>14.2f}{d1_cpu:>9.2f}{1000 * d1 / n:>9.1f}")
    print(f"{'dask, 2 workers':<26}{s2:>11.2f}{d2:>14.2f}{'':>9}{1000 * d2 / n:>9.1f}")
    print(f"Dask overhead, 1 worker: {100 * (d1 - lp) / d1:+.1f}% of wall time, "
          f"{100 * (d1_cpu - lp_cpu) / d1_cpu:+.1f}% of CPU time "
          f"(cluster start-up, {s1:.1f} s once per sweep, not included; "
          f"{100 * (s1 + d1 - lp) / (s1 + d1):+.1f}% with it)")  # fmt: skip
    print(f"speed-up with 2 workers: {lp / d2:.2f}x")
    print(f"time outside runs (Dask + sweep bookkeeping), measured inside the sweep: "
          f"{100 * (1 - busy1):.1f}% with 1 worker, {100 * (1 - busy2):.1f}% with 2 workers")  # fmt: skip
    from distributed import Client

    with local_cluster(1) as cl, Client(cl) as c:
        plain, wrapped = c.submit(wrapper_in_worker, spec, pure=False).result()
    print(f"per-run wrapper of the sweep, A/B inside one worker: {100 * (wrapped - plain) / wrapped:+.1f}% "
          f"({plain:.2f} s plain, {wrapped:.2f} s wrapped)")  # fmt: skip
    print("all timings (loop wall, CPU; dask start-up, wall, CPU):", {"loop": t_loop, "dask1": t_d1, "dask2": t_d2})


if __name__ == "__main__":
    main()
