"""Validation runs: the scenario with the 2020 history, replicates on Dask or in this process."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import polars as pl

from livemarket.config import ScenarioConfig, load_scenario
from livemarket.sweeps.cluster import map_runs
from livemarket.sweeps.modelclass import DEFAULT_MODEL, load_model_class, split_overrides
from livemarket.validation.moments import moments
from livemarket.validation.report import summarise
from livemarket.validation.targets import DAYS, HISTORY, TARGETS
from livemarket.validation.timeline import TIMELINE_TARGETS, timeline_moments

__all__ = ["RunSpec", "run_moments", "run_replicates", "validate"]


@dataclass(frozen=True)
class RunSpec:
    """What one validation run is: scenario, overrides, population, horizon, history, seed, model.

    Plain data, so it pickles and ships to Dask workers. ``model`` is the model class,
    ``"package.module:Class"`` (as in an experiment spec; default the built-in model).
    """

    scenario: str = "china-2019"
    overrides: tuple[str, ...] = ()
    consumers: int | None = None
    days: int = DAYS
    history: bool = True
    seed: int = 0
    model: str = DEFAULT_MODEL  # its constructor's keywords: overrides model.<keyword>=<value>
    targets: str = "snapshot"  # which facts the run is measured on: "snapshot" (2019-2021) or "timeline"

    def config(self) -> ScenarioConfig:
        """Build the validated scenario (with the 2020 history appended to its policies)."""
        overrides = split_overrides(list(self.overrides))[0]
        base = load_scenario(self.scenario, overrides, consumers=self.consumers)
        if not self.history:
            return base.model_copy(update={"days": self.days, "seed": self.seed})
        policies = [p.model_dump() for p in base.policies] + HISTORY
        return load_scenario(
            self.scenario, overrides, consumers=self.consumers, days=self.days,
            seed=self.seed, policies=policies,
        )  # fmt: skip


def run_moments(spec: RunSpec) -> dict[str, float]:
    """Run one replicate and return its moments (the unit of work shipped to a worker)."""
    config = spec.config()
    keywords = split_overrides(list(spec.overrides))[1]
    model = load_model_class(spec.model)(config, run_id=f"{config.name}-seed{spec.seed}", **keywords)
    df = model.run(spec.days)
    hired = model.streamers.brand < 0
    if spec.targets == "timeline":
        return timeline_moments(df, model.streamers.gmv_rmb[hired], config.consumers)
    return moments(df, model.streamers.gmv_rmb[hired])


def run_replicates(
    specs: Sequence[RunSpec], client=None, progress: Callable[[int], None] | None = None, workers: int = 0
) -> list[dict[str, float]]:
    """Moments of each run: on ``client``, on a local cluster of ``workers`` processes, or in this process.

    Validation and calibration run every replicate through here (:func:`livemarket.sweeps.cluster.map_runs`,
    the cluster helper of the sweeps).
    """
    return map_runs(run_moments, specs, client=client, workers=workers, progress=progress)


def validate(
    scenario: str = "china-2019",
    replicates: int = 4,
    consumers: int | None = None,
    seed: int = 1,
    overrides: Sequence[str] = (),
    days: int = DAYS,
    client=None,
    workers: int = 0,
    model: str = DEFAULT_MODEL,
    targets: str = "snapshot",
) -> tuple[pl.DataFrame, list[dict[str, float]]]:
    """Run ``replicates`` seeds of the scenario and summarise every target.

    ``targets="snapshot"``: the 2019-2021 facts, the 2020 history laid over the scenario;
    ``"timeline"``: the 2019-2024 facts, the scenario's own history (``china-2019-2024``).
    The runs go to ``client``, to a local cluster of ``workers`` processes, or run here (``workers=0``).
    """
    from livemarket.draws import run_seed_sequence

    timeline = targets == "timeline"
    specs = [
        RunSpec(scenario, tuple(overrides), consumers, days, not timeline,
                int(run_seed_sequence(seed, 0, r).generate_state(1)[0]), model, targets)
        for r in range(replicates)
    ]  # fmt: skip
    runs = run_replicates(specs, client, workers=workers)
    return summarise(runs, TIMELINE_TARGETS if timeline else TARGETS), runs
