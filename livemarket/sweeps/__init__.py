"""Strategy sweeps on Dask: experiment specs, resumable runs, sensitivity analysis.

Example:
    >>> from livemarket.sweeps import load_experiment, results, run_experiment
    >>> exp = load_experiment("douyin-link-ban")
    >>> frame = run_experiment(exp, quick=True, workers=2)  # doctest: +SKIP
    >>> frame = results("results/sweeps/douyin-link-ban-quick")  # doctest: +SKIP
"""

from livemarket.sweeps.runner import SlurmOptions, SweepError, run_experiment, run_sweep
from livemarket.sweeps.spec import Experiment, Factor, MetricSpec, load_experiment
from livemarket.sweeps.store import daily, failures, results, scan, verify

__all__ = [
    "Experiment",
    "Factor",
    "MetricSpec",
    "SlurmOptions",
    "SweepError",
    "daily",
    "failures",
    "load_experiment",
    "results",
    "run_experiment",
    "run_sweep",
    "scan",
    "verify",
]
