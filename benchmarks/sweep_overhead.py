"""Dask overhead of a sweep against the same runs in one plain process loop.

Runs N runs of the ``minimal`` scenario three ways and prints wall times:

* ``loop``: ``LiveCommerceModel(config, rng=seed).run(days)`` for every run, nothing else;
* ``dask x1``: ``run_sweep`` on a LocalCluster with one worker process (cluster start,
  pilot, summaries, Parquet writes and progress all included);
* ``dask x2``: the same with two workers (speed-up against the loop).

The loop runs with one BLAS thread, as Dask's worker processes do.
Overhead = (dask x1 wall - loop wall) / dask x1 wall, reported with and without the fixed
cost of starting the cluster. Each measurement is repeated and the fastest kept, since
other processes on a shared machine only ever slow a run down.

Usage: ``python benchmarks/sweep_overhead.py [--runs 120] [--days 60] [--consumers 1000] [--repeat 2]``
"""

from __future__ import annotations

import os

# Dask gives each worker process one BLAS/OpenMP thread; give the loop the same, or the
# comparison measures thread oversubscription instead of Dask.
for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import argparse  # noqa: E402
import json  # noqa: E402
import shutil  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402

from livemarket import LiveCommerceModel  # noqa: E402
from livemarket.sweeps.runner import run_sweep  # noqa: E402
from livemarket.sweeps.spec import Experiment  # noqa: E402


def make_spec(runs: int, days: int, consumers: int) -> Experiment:
    return Experiment(
        name="overhead", scenario="minimal", days=days, consumers=consumers, replicates=runs // 2, root_seed=1,
        factors={"ad_load": {"path": "platforms.video.ad_load", "values": [0.1, 0.2]}},
        metrics=["gmv_rmb:sum", "hhi", "video.gmv_share:last", "video.minutes_per_user:daily"],
    )  # fmt: skip


def loop(spec: Experiment) -> float:
    plan = spec.plan()
    configs = {tuple(r.overrides): spec.resolve(r.overrides) for r in plan.runs}
    started = time.perf_counter()
    for r in plan.runs:
        config = configs[tuple(r.overrides)]
        LiveCommerceModel(config, rng=np.random.SeedSequence(spec.root_seed, spawn_key=r.spawn_key)).run(config.days)
    return time.perf_counter() - started


def dask(spec: Experiment, workers: int) -> tuple[float, float]:
    """(wall time of the whole sweep call, wall time after the cluster was up)."""
    out = Path(tempfile.mkdtemp(prefix="lm-overhead-"))
    try:
        started = time.perf_counter()
        report = run_sweep(spec, out, workers=workers, progress=False)
        total = time.perf_counter() - started
        assert report.ok == report.runs, report
        done = [json.loads(x) for x in (out / "status.jsonl").read_text().splitlines()][-1]
        return total, done["elapsed_s"]
    finally:
        shutil.rmtree(out, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=120)
    parser.add_argument("--days", type=int, default=60)
    parser.add_argument("--consumers", type=int, default=1000)
    parser.add_argument("--repeat", type=int, default=2)
    args = parser.parse_args()
    spec = make_spec(args.runs, args.days, args.consumers)
    loop(make_spec(2, 5, args.consumers))  # warm imports
    t_loop, t_d1, t_d2 = [], [], []
    for _ in range(args.repeat):
        t_loop.append(loop(spec))
        t_d1.append(dask(spec, 1))
        t_d2.append(dask(spec, 2))
    lp, (d1, d1_exec), (d2, d2_exec) = min(t_loop), min(t_d1), min(t_d2)
    n = spec.replicates * 2
    print(f"{n} runs of minimal ({args.consumers} consumers x {args.days} days), best of {args.repeat}")
    print(f"{'':<28}{'wall s':>10}{'per run ms':>12}")
    print(f"{'loop (one process)':<28}{lp:>10.2f}{1000 * lp / n:>12.1f}")
    print(f"{'dask, 1 worker':<28}{d1:>10.2f}{1000 * d1 / n:>12.1f}   after start-up {d1_exec:.2f} s")
    print(f"{'dask, 2 workers':<28}{d2:>10.2f}{1000 * d2 / n:>12.1f}   after start-up {d2_exec:.2f} s")
    print(f"Dask overhead, 1 worker: {100 * (d1 - lp) / d1:+.1f}% of wall time "
          f"({100 * (d1_exec - lp) / d1_exec:+.1f}% without the {d1 - d1_exec:.1f} s cluster start-up)")  # fmt: skip
    print(f"speed-up with 2 workers: {lp / d2:.2f}x ({lp / d2_exec:.2f}x after start-up)")
    print("all timings:", {"loop": [round(x, 2) for x in t_loop], "dask1": t_d1, "dask2": t_d2})


if __name__ == "__main__":
    main()
