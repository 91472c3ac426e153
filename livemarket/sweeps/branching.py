"""Warm starts: every arm of an experiment branches from the same simulated state at a date.

An experiment with ``start_from = "<scenario>@YYYY-MM-DD"`` runs the scenario with its fixed
overrides (the experiment's ``overrides``, quick ones included) up to that date once per seed,
saves the state (:mod:`livemarket.models.checkpoint`) in the sweep folder's ``warm/``, and each
arm continues from it with its own overrides applied on the branch date. So the 2024
experiments start from the simulated mid-2024 market, not from a relabelled 2019 one, and the
arms of a replicate share every day before the branch.

What an arm may change at the branch: platform fields (applied as a policy on the branch date)
and extra dated policies, supply shocks and scandals (on or after it). Anything else
(population, brands, graph, a behaviour coefficient) would be a different history, and is
refused by name.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from pathlib import Path

from livemarket.config import ConfigError, ScenarioConfig, load_scenario
from livemarket.models.checkpoint import CheckpointError
from livemarket.models.policies import first_day

__all__ = ["arm_changes", "branched_model", "check_branch_date", "parse_start_from"]


def parse_start_from(text: str) -> tuple[str, dt.date]:
    """``"<scenario>@YYYY-MM-DD"`` -> (scenario, date); a ValueError says what is accepted."""
    scenario, sep, day = str(text).rpartition("@")
    try:
        date = dt.date.fromisoformat(day)
    except ValueError:
        date = None
    if not sep or not scenario or date is None:
        raise ValueError(f"start_from: {text!r}; accepted: '<scenario>@YYYY-MM-DD', e.g. 'china-2019-2024@2024-06-01'")
    return scenario, date


def check_branch_date(config: ScenarioConfig, date: dt.date) -> int:
    """The branch step; a ConfigError unless ``date`` falls strictly inside the scenario's run."""
    step = (date - config.start_date).days
    end = config.start_date + dt.timedelta(days=config.days - 1)
    if not 0 < step < config.days:
        raise ConfigError(
            f"start_from: {date} is outside the run of {config.name} ({config.start_date} .. {end}); "
            "accepted: a date after the first day and on or before the last"
        )
    return step


#: Dated lists an arm may extend at a branch (each item on or after the branch date).
SCHEDULED = ("policies", "supply_shocks", "scandals")


def arm_changes(base: ScenarioConfig, arm: ScenarioConfig, date: dt.date) -> tuple[dict[str, dict], dict[str, list]]:
    """What an arm changes at the branch ``date``: (platform fields to set, events added per list), or a ConfigError."""
    b, a = base.model_dump(mode="json"), arm.model_dump(mode="json")
    for key in sorted(set(b) | set(a)):
        if key not in ("platforms", *SCHEDULED) and b.get(key) != a.get(key):
            raise ConfigError(
                f"start_from: an arm changes {key!r}, which would change the shared history before the branch; "
                "accepted at a branch: platform fields (platforms.<name>.<field>), dated policies, supply "
                "shocks and scandals"
            )
    if set(b["platforms"]) != set(a["platforms"]):
        raise ConfigError("start_from: an arm adds or removes platforms; accepted: platform fields and dated events")
    sets = {}
    for name, fields in a["platforms"].items():
        changed = {k: v for k, v in fields.items() if b["platforms"][name].get(k) != v}
        if changed:
            sets[name] = changed
    added = {}
    for key in SCHEDULED:
        if a[key][: len(b[key])] != b[key]:
            raise ConfigError(f"start_from: an arm replaces the scenario's {key}; accepted: {key} added after them")
        added[key] = a[key][len(b[key]):]
        for item in getattr(arm, key)[len(b[key]):]:
            when = first_day(item, base.start_date)
            if when < date:
                raise ConfigError(f"start_from: an arm adds {key} on {when}, before the branch date {date}; "
                                  "accepted: events on or after it")
    return sets, added


def _warm_path(folder: Path, key: dict) -> Path:
    digest = hashlib.sha256(json.dumps(key, sort_keys=True, default=str).encode()).hexdigest()[:24]
    return folder / f"{digest}.ckpt"


def branched_model(model_class, task, run, seed, keywords: dict, arm: ScenarioConfig):
    """The run's model: the shared warm state at the branch date (built once per seed), then the arm's changes."""
    scenario, date = parse_start_from(task.start_from)
    base = load_scenario(task.scenario, list(task.base_overrides), consumers=task.consumers, days=task.days)
    step = check_branch_date(base, date)
    sets, added = arm_changes(base, arm, date)
    key = {"scenario": task.scenario, "overrides": list(task.base_overrides), "consumers": task.consumers,
           "days": task.days, "seed": [task.root_seed, *run.spawn_key], "date": str(date), "model": task.model,
           "keywords": keywords, "version": task.model_version}  # fmt: skip
    path = _warm_path(Path(task.warm_dir or Path(task.out) / "warm"), key)
    model = None
    if path.exists():
        try:
            model = model_class.load(path, **keywords)
        except CheckpointError:  # a damaged warm state is rebuilt
            model = None
    if model is None:
        model = model_class(base, rng=seed, run_id=run.run_id, **keywords)
        for _ in range(step):
            model.step()
        model.save(path)
    model.run_id = run.run_id
    model.recorder.rank_head_streamer()  # the head of the market the arms start from
    for name, fields in sets.items():
        model.platforms[name].apply_policy(fields)
    if any(added.values()):
        model.schedule(**added)
    return model, arm.days - step
