"""Strategy sweeps on Dask: experiment specs, resumable runs, sensitivity analysis.

Example:
    >>> from livemarket.sweeps import load_experiment
    >>> exp = load_experiment("experiments/01-douyin-link-ban.toml")  # doctest: +SKIP
    >>> frame = exp.run(quick=True, workers=2)  # doctest: +SKIP
"""

from livemarket.sweeps.spec import Experiment, Factor, MetricSpec, load_experiment

__all__ = ["Experiment", "Factor", "MetricSpec", "load_experiment"]
