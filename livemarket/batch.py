"""Replicates in ``mesa.batch_run``: each iteration gets a seed of its own, derived from the scenario's.

``mesa.batch_run(LiveCommerceModel, parameters, iterations=N)`` builds every run with
``rng=None`` and does not tell the model which iteration it is. Without help all N runs
would use the scenario's seed and be the same run. :func:`default_seed` gives the seed a
model uses when it is given none: the scenario's seed, except inside ``mesa.batch_run``,
where iteration ``i`` gets a seed drawn from ``SeedSequence([scenario seed, i])``
(iteration 0 keeps the scenario's seed). The runs are the same on every call, in one
process or many (``number_processes``), because the iteration number comes with each
run. An explicit ``rng`` (or ``batch_run(..., rng=[...])``) is always used as given.
"""

from __future__ import annotations

import sys

import numpy as np

__all__ = ["default_seed", "iteration_seed"]

_BATCH_RUN = ("mesa.batchrunner", "_model_run_func")


def iteration_seed(seed: int, iteration: int) -> int:
    """Seed of replicate ``iteration`` of a scenario seeded ``seed`` (iteration 0: ``seed`` itself)."""
    if iteration == 0:
        return int(seed)
    return int(np.random.SeedSequence([int(seed), int(iteration)]).generate_state(1, np.uint64)[0] >> 1)


def _batch_iteration(depth: int = 12) -> int | None:
    """The iteration number of the ``mesa.batch_run`` run being built, if this is one."""
    frame = sys._getframe(1)
    for _ in range(depth):
        if frame is None:
            return None
        if (frame.f_globals.get("__name__"), frame.f_code.co_name) == _BATCH_RUN:
            iteration = frame.f_locals.get("iteration")
            return iteration if isinstance(iteration, int) else None
        frame = frame.f_back
    return None


def default_seed(seed: int) -> int:
    """The seed of a model built without ``rng``: see the module docstring."""
    iteration = _batch_iteration()
    return int(seed) if iteration is None else iteration_seed(seed, iteration)
