"""Experiment specs: a TOML file (or the same fields in Python) that names a whole sweep.

A spec says which scenario to start from, which overrides hold for every run, which
factors vary (lists of values or named strategies for a grid; ranges for a sampled
design drawn with SALib), how many replicates, how many days, which metrics to keep and
the root seed. Everything is validated by pydantic with ``extra="forbid"``, so a typo is
an error naming the field.

Example:
    >>> exp = Experiment(
    ...     name="demo", scenario="minimal", days=10, consumers=300, replicates=2,
    ...     factors={"ban": {"path": "platforms.video.link_ban", "values": [False, True]}},
    ...     metrics=["gmv_rmb:sum"],
    ... )
    >>> [p["ban"] for p in exp.points()]
    [False, True]
    >>> len(exp.plan().runs)
    4
"""

from __future__ import annotations

import datetime as dt
import hashlib
import itertools
import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Literal

import numpy as np
from pydantic import Field, ValidationError, field_validator, model_validator

from livemarket.config import (
    ConfigError,
    builtin_scenarios,
    load_scenario,
    read_toml_file,
)
from livemarket.core.rules import CHANNELS
from livemarket.models.metrics import CHANNEL_METRICS, MARKET_METRICS, PLATFORM_METRICS
from livemarket.provenance import model_version
from livemarket.suggest import describe_errors, did_you_mean
from livemarket.sweeps.branching import arm_changes, check_branch_date, parse_start_from
from livemarket.sweeps.catalog import find_experiment
from livemarket.sweeps.design import _NAME, Expectation, Factor, Placebo, Quick, _Strict
from livemarket.sweeps.modelclass import (
    DEFAULT_MODEL,
    check_keywords,
    check_model_ref,
    load_model_class,
    model_source_sha256,
    split_overrides,
)

__all__ = ["Expectation", "Experiment", "Factor", "MetricSpec", "Plan", "Run", "load_experiment", "toml_value"]

RESERVED_COLUMNS = (
    "run_id", "chunk", "point", "replicate", "sample", "seed_entropy", "seed_spawn_key",
    "status", "error", "traceback", "seconds", "worker",
)  # fmt: skip
#: Fields that do not decide the runs or what is kept: changing them does not change a sweep.
NOT_FINGERPRINTED = ("question", "strategy", "expected", "expect", "quick", "run_time_limit_s", "placebo")
VALIDATE_POINTS = 500  # design points validated on the driver before a sweep starts
_PLACEHOLDER = re.compile(r"\$\{(\w+)\}")


class MetricSpec(_Strict):
    """A per-run summary kept in the results: one model metric, aggregated over a window.

    A string ``"[platform.[channel.]]metric[:agg]"`` is accepted as shorthand, e.g.
    ``"hhi"``, ``"douyin.gmv_share:last"``, ``"douyin.live_own_shop.gmv_rmb:sum"``.

    Attributes:
        metric: model metric name (``gmv_rmb``, ``hhi``, ``trust_mean`` ...).
        platform: platform name, ``"all"`` for market metrics, ``"*"`` for the daily sum over
            platforms (e.g. ``returns``, which the market table lacks).
        channel: sales channel, ``"all"``, or ``"*"`` for the daily sum over channels.
        agg: mean, sum, last, first, min, max over the window; ``growth`` (mean of the
            window's second half over its first half, minus 1); or ``daily`` (the series).
        window: ``[start, end)`` as steps (int) or dates; default the whole run.
        scaled: use ``value_scaled`` (scaled to the real population) instead of ``value``.
        name: column name (default built from the parts).
    """

    metric: str
    platform: str = "all"
    channel: str = "all"
    agg: Literal["mean", "sum", "last", "first", "min", "max", "growth", "daily"] = "mean"
    window: tuple[int | dt.date, int | dt.date] | None = None
    scaled: bool = False
    name: str = ""

    @model_validator(mode="before")
    @classmethod
    def _shorthand(cls, data: Any) -> Any:
        if not isinstance(data, str):
            return data
        text, _, agg = data.partition(":")
        parts = text.split(".")
        if len(parts) > 3 or not all(parts):
            raise ValueError(f"metric {data!r}: expected [platform.[channel.]]metric[:agg]")
        out: dict[str, Any] = {"metric": parts[-1]}
        if len(parts) >= 2:
            out["platform"] = parts[0]
        if len(parts) == 3:
            out["channel"] = parts[1]
        if agg:
            out["agg"] = agg
        return out

    @model_validator(mode="after")
    def _column_name(self) -> MetricSpec:
        if not self.name:
            parts = [p.replace("*", "any") for p in (self.platform, self.channel) if p != "all"]
            parts += [self.metric, self.agg]
            object.__setattr__(self, "name", "_".join(parts))
        if not _NAME.match(self.name):
            raise ValueError(f"metric column name {self.name!r} must be an identifier")
        if self.channel not in ("all", "*", *CHANNELS):
            raise ValueError(
                f"channel {self.channel!r} is not a sales channel; "
                f"accepted: all, *, {', '.join(CHANNELS)}"
            )
        if self.platform == "all" and self.channel != "all":
            raise ValueError(
                f"channel {self.channel!r} needs a platform (a name or '*'); "
                "platform 'all' has market metrics only"
            )
        level, known = _metric_level(self.channel, self.platform)
        if self.metric not in known:
            raise ValueError(
                f"{self.metric!r} is not a {level} metric; accepted: {', '.join(known)}"
                f"{did_you_mean(self.metric, known)}"
            )
        if self.window is not None and type(self.window[0]) is not type(self.window[1]):
            raise ValueError("window: give two steps or two dates")
        if self.window is not None and not self.window[0] < self.window[1]:
            raise ValueError(f"window must be [start, end) with start < end (got {list(self.window)})")
        return self


def _metric_level(channel: str, platform: str) -> tuple[str, tuple[str, ...]]:
    """Which metrics the results table has for a (platform, channel) selector."""
    if channel != "all":
        return "channel", CHANNEL_METRICS
    return ("market", MARKET_METRICS) if platform == "all" else ("platform", PLATFORM_METRICS)


class Experiment(_Strict):
    """A sweep: scenario x factors x replicates, the metrics to keep, and a root seed.

    Attributes:
        name: short name, used for the default output folder.
        question, strategy, expected: the header (what is asked, what varies, what should happen).
        model: the model class, ``"package.module:Class"``: the built-in ``LiveCommerceModel``
            or a subclass of it (a researcher's strategy), importable on the driver and every
            worker. Its source file enters the runs' identity. Keywords its constructor adds
            are set by overrides and factor paths ``model.<keyword>``.
        scenario: built-in scenario name or a ``.toml`` path (relative to the spec file).
        overrides: ``dotted.path=value`` strings applied to every run.
        consumers, days: population and run length (default: the scenario's).
        factors: name -> :class:`Factor`, in declaration order.
        design: ``grid`` (full factorial of the listed values) or a SALib design over the
            range factors: ``lhs``, ``sobol`` (Saltelli), ``morris``. Grid factors are crossed
            with a sampled design.
        samples: base sample size N of a sampled design (sobol: a power of two).
        replicates: runs per design point, with seeds ``SeedSequence(root_seed, (point, r))``.
        common_random_numbers: seed every point with spawn key ``(0, r)`` instead, so
            strategies are compared on the same draws.
        metrics: per-run summaries to keep (:class:`MetricSpec` or its shorthand).
        expect: expected directions, checked after the sweep.
        quick: the ``--quick`` size.
        placebo: an arm beside the control that changes nothing that matters; its runs go to
            ``<out>/placebo`` (:mod:`livemarket.sweeps.placebo`) and calibrate the checks.
        run_time_limit_s: a run that takes longer fails with "exceeded the time limit of N s"
            (default: no limit). It does not change the runs: a sweep may resume with another.
    """

    name: str
    question: str = ""
    strategy: str = ""
    expected: str = ""
    model: str = DEFAULT_MODEL
    scenario: str = "minimal"
    overrides: list[str] = []
    consumers: int | None = Field(default=None, ge=2, strict=True)
    days: int | None = Field(default=None, ge=1, strict=True)
    factors: dict[str, Factor] = {}
    design: Literal["grid", "lhs", "sobol", "morris"] = "grid"
    samples: int = Field(default=16, ge=1, strict=True)
    morris_levels: int = Field(default=4, ge=2, strict=True)
    sobol_second_order: bool = False
    replicates: int = Field(default=1, ge=1, strict=True)
    root_seed: int = Field(default=0, ge=0, lt=2**63, strict=True)
    common_random_numbers: bool = False
    metrics: list[MetricSpec] = Field(min_length=1)
    expect: list[Expectation] = []
    quick: Quick | None = None
    placebo: Placebo | None = None
    run_time_limit_s: float | None = Field(default=None, gt=0)
    start_from: str | None = None  # "<scenario>@YYYY-MM-DD": every arm branches from the shared state at that date
    base_dir: Annotated[str, Field(exclude=True)] = "."

    def __init__(self, **data: Any) -> None:
        """Validate the fields; a problem is a :class:`ConfigError` naming the field."""
        try:
            super().__init__(**data)
        except ValidationError as err:
            raise ConfigError(f"{data.get('name', 'experiment')}: {describe(err)}") from None

    @field_validator("name")
    @classmethod
    def _name_ok(cls, v: str) -> str:
        if not re.match(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$", v):
            raise ValueError("letters, digits, '-', '_' and '.' only")
        return v

    @field_validator("model")
    @classmethod
    def _model_ok(cls, v: str) -> str:
        try:
            load_model_class(check_model_ref(v))
        except ConfigError as err:  # pydantic names the field itself
            raise ValueError(str(err).removeprefix("model: ")) from None
        return v

    @model_validator(mode="after")
    def _cross_checks(self) -> Experiment:
        if self.start_from is not None:
            scenario, _ = parse_start_from(self.start_from)
            if scenario != self.scenario:
                raise ValueError(
                    f"start_from: branches from {scenario!r} but the experiment's scenario is {self.scenario!r}; "
                    "accepted: the experiment's own scenario"
                )
        source = self.scenario_source()
        if self.scenario not in builtin_scenarios() and not Path(source).is_file():
            raise ValueError(
                f"scenario: {self.scenario!r} is neither a built-in scenario nor a .toml file "
                f"(accepted: {builtin_scenarios()} or a path ending in .toml, relative to the "
                f"spec; looked for {source}){did_you_mean(self.scenario, builtin_scenarios())}"
            )
        for name in self.factors:
            if not _NAME.match(name) or name in RESERVED_COLUMNS:
                raise ValueError(f"factors.{name}: must be an identifier and not one of {RESERVED_COLUMNS}")
        sampled = [n for n, f in self.factors.items() if f.sampled]
        if self.design == "grid" and sampled:
            raise ValueError(f"design 'grid' needs values or levels; range factors {sampled} need lhs/sobol/morris")
        if self.design != "grid" and not sampled:
            raise ValueError(f"design {self.design!r} needs at least one factor with a range")
        if self.design == "sobol" and self.samples & (self.samples - 1):
            raise ValueError(f"samples: sobol needs a power of two (got {self.samples})")
        texts = self.overrides + [o for f in self.factors.values() for o in (f.levels or {}).values() for o in o]
        if self.placebo is not None:
            if self.design != "grid" or "placebo" in self.factors:
                raise ValueError("placebo: needs a grid design and no factor named 'placebo'")
            texts += self.placebo.overrides
        if self.quick:
            texts += self.quick.overrides
            texts += [o for f in self.quick.factors.values() for o in (f.levels or {}).values() for o in o]
        used = {m for t in texts for m in _PLACEHOLDER.findall(t)}
        for name in used - set(self.factors):
            raise ValueError(f"overrides use ${{{name}}} but there is no factor {name!r}")
        for name, f in self.factors.items():
            if f.levels is None and f.path is None and name not in used:
                raise ValueError(f"factors.{name}: give a path or use ${{{name}}} in an override")
        columns = [m.name for m in self.metrics]
        dup = {c for c in columns if columns.count(c) > 1}
        if dup or set(columns) & (set(self.factors) | set(RESERVED_COLUMNS)):
            raise ValueError(f"metric column names must be unique and differ from factors: {sorted(dup) or columns}")
        for i, e in enumerate(self.expect):
            for col in (e.metric, e.than):
                if col is not None and col not in columns:
                    raise ValueError(f"expect[{i}]: {col!r} is not a metric column ({columns})")
            for col in [c for c in (e.factor, e.interaction) if c] + list(e.where):
                if col not in self.factors:
                    raise ValueError(f"expect[{i}]: {col!r} is not a factor ({list(self.factors)})")
        return self

    # ------------------------------------------------------------------ sizes
    def effective(self, quick: bool = False) -> Experiment:
        """The spec to run: with ``quick``, the ``[quick]`` sizes replace the full ones."""
        if not quick:
            return self.model_copy(update={"quick": None})
        if self.quick is None:
            raise ConfigError(f"experiment {self.name!r} has no [quick] table")
        q = self.quick
        unknown = set(q.factors) - set(self.factors)
        if unknown:
            raise ConfigError(f"{self.name}: quick.factors {sorted(unknown)} are not factors of the experiment")
        update = {k: v for k, v in q.model_dump(exclude={"overrides", "factors"}).items() if v is not None}
        factors = self.model_dump()["factors"] | q.model_dump()["factors"]
        data = self.model_dump() | update | {
            "overrides": self.overrides + q.overrides,
            "quick": None,
            "factors": factors,
        }
        return Experiment.model_validate(data | {"base_dir": self.base_dir})

    def fingerprint(self) -> str:
        """Hash of everything that decides the runs and what is kept (not the header text).

        The built-in model is left out, so specs written before ``model`` existed keep their hash.
        """
        keep = self.model_dump(mode="json", exclude=set(NOT_FINGERPRINTED))
        if keep["model"] == DEFAULT_MODEL:
            del keep["model"]
        return hashlib.sha256(json.dumps(keep, sort_keys=True).encode()).hexdigest()

    # ------------------------------------------------------------------ design
    def scenario_source(self) -> str:
        """The scenario as :func:`livemarket.load_scenario` takes it (paths made absolute)."""
        if self.scenario.endswith(".toml"):
            return str((Path(self.base_dir) / self.scenario).resolve())
        return self.scenario

    def points(self) -> list[dict[str, Any]]:
        """Design points in order: factor name -> value (a ``sample`` index for sampled designs)."""
        grid = [n for n, f in self.factors.items() if not f.sampled]
        combos = list(itertools.product(*(self.factors[n].grid_values() for n in grid)))
        if self.design == "grid":
            return [dict(zip(grid, c, strict=True)) for c in combos]
        x = self.sample_matrix()
        sampled = [n for n, f in self.factors.items() if f.sampled]
        out = []
        for combo in combos:
            for i, row in enumerate(x):
                values = {
                    n: (round(v) if self.factors[n].integer else float(v)) for n, v in zip(sampled, row, strict=True)
                }
                out.append({"sample": i} | dict(zip(grid, combo, strict=True)) | values)
        return [{n: p[n] for n in ["sample", *self.factors]} for p in out]

    def salib_problem(self) -> dict[str, Any]:
        """The SALib problem of the range factors."""
        names = [n for n, f in self.factors.items() if f.sampled]
        return {"num_vars": len(names), "names": names, "bounds": [list(self.factors[n].range) for n in names]}

    def sample_matrix(self) -> np.ndarray:
        """The SALib sample of the range factors (rows in SALib order), seeded from ``root_seed``."""
        from SALib.sample import latin, morris, sobol

        problem, seed = self.salib_problem(), int(np.random.SeedSequence(self.root_seed).generate_state(1)[0])
        if self.design == "lhs":
            return latin.sample(problem, self.samples, seed=seed)
        if self.design == "sobol":
            return sobol.sample(problem, self.samples, calc_second_order=self.sobol_second_order, seed=seed)
        return morris.sample(problem, self.samples, num_levels=self.morris_levels, seed=seed)

    def shared_overrides(self) -> list[str]:
        """The fixed overrides without a ``${factor}`` placeholder: the history every arm of a branch shares."""
        return [o for o in self.overrides if not _PLACEHOLDER.search(o)]

    def point_overrides(self, point: dict[str, Any]) -> list[str]:
        """All overrides of one design point: fixed ones, then each factor's, placeholders filled."""
        out = list(self.overrides)
        for name, f in self.factors.items():
            if f.levels is not None:
                out += f.levels[point[name]]
            elif f.path is not None:
                out.append(f"{f.path}={toml_value(point[name])}")
        return [_PLACEHOLDER.sub(lambda m: toml_value(point[m.group(1)]), o) for o in out]

    def plan(self, validate: bool = True) -> Plan:
        """Every run of the sweep with its identity.

        With ``validate``, the scenario of each distinct design point is validated first (up to
        :data:`VALIDATE_POINTS` of them; later points are validated by the workers, where a bad
        one becomes a failed run with its error).
        """
        source = self.scenario_source()
        scenario_sha = _scenario_sha256(source)
        mv, model_sha = model_version(), model_source_sha256(self.model)
        runs, seen = [], {}
        for index, point in enumerate(self.points()):
            overrides = self.point_overrides(point)
            key = tuple(overrides)
            if validate and key not in seen and len(seen) < VALIDATE_POINTS:
                seen[key] = self.resolve(overrides)
                check_keywords(self.model, split_overrides(overrides)[1], self.name)
                if len(seen) == 1:  # as the pilot run: a point of another length may still fail
                    self._check_metrics(seen[key])
                if self.start_from is not None:  # the branch date inside the run, the arm's changes allowed
                    base, date = self.resolve(self.shared_overrides()), parse_start_from(self.start_from)[1]
                    check_branch_date(base, date)
                    arm_changes(base, seen[key], date)
            for r in range(self.replicates):
                seed_point = 0 if self.common_random_numbers else index
                ident = {
                    "model": mv, "scenario": scenario_sha, "overrides": overrides, "consumers": self.consumers,
                    "days": self.days, "seed": [self.root_seed, seed_point, r],
                }  # fmt: skip
                if model_sha is not None:  # a user's model class (the built-in one is in ``mv``)
                    ident |= {"model_class": self.model, "model_source": model_sha}
                run_id = hashlib.sha256(json.dumps(ident, sort_keys=True, default=str).encode()).hexdigest()[:20]
                runs.append(Run(run_id, index, r, (seed_point, r), point, overrides))
        ids = [r.run_id for r in runs]
        if len(set(ids)) != len(ids):
            raise ConfigError(f"{self.name}: two design points are the same run (identical overrides and seed)")
        return Plan(self, runs, scenario_sha, mv, model_sha)

    def _check_metrics(self, config) -> None:
        """Each metric names a platform of the scenario and a window that overlaps the run.

        Checked on the first design point, before anything is written; a metric whose window
        misses only some points' runs (``days`` as a factor) fails those runs.
        """
        platforms = ["all", "*", *config.platforms]
        end = config.start_date + dt.timedelta(days=config.days)
        for m in self.metrics:
            if m.platform not in platforms:
                raise ConfigError(
                    f"{self.name}: metric {m.name}: unknown platform {m.platform!r}; "
                    f"accepted: {platforms}{did_you_mean(m.platform, platforms)}"
                )
            if m.window is not None:
                steps = isinstance(m.window[0], int)
                first, stop = (0, config.days) if steps else (config.start_date, end)
                if not (m.window[0] < stop and m.window[1] > first):
                    raise ConfigError(
                        f"{self.name}: metric {m.name}: window [{m.window[0]}, {m.window[1]}) "
                        "is outside the run; "
                        f"accepted: a window overlapping [{first}, {stop})"
                    )

    def resolve(self, overrides: list[str]):
        """The validated scenario config of a run with these overrides."""
        scenario, _ = split_overrides(overrides)  # model.<keyword> overrides go to the model class
        return load_scenario(self.scenario_source(), scenario, consumers=self.consumers, days=self.days)


@dataclass(frozen=True)
class Run:
    """One run: its identity, design point, replicate, seed spawn key and overrides."""

    run_id: str
    point: int
    replicate: int
    spawn_key: tuple[int, int]
    values: dict[str, Any]
    overrides: list[str]


@dataclass(frozen=True)
class Plan:
    """All runs of an experiment, with what identifies them."""

    experiment: Experiment
    runs: list[Run]
    scenario_sha256: str
    model_version: str
    model_source_sha256: str | None = None  # source of a user's model class (None: the built-in model)


def default_out(spec: Experiment, quick: bool = False) -> Path:
    """Default results folder of a spec: ``results/sweeps/<name>`` (``-quick`` for quick runs)."""
    return Path("results") / "sweeps" / (spec.name + ("-quick" if quick else ""))


def toml_value(value: Any) -> str:
    """A Python value written as an inline TOML value (for overrides)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float | np.integer | np.floating):
        v = value.item() if isinstance(value, np.generic) else value
        return {float("inf"): "inf", float("-inf"): "-inf"}.get(v, "nan" if v != v else repr(v))
    if isinstance(value, str):
        return json.dumps(value)
    if isinstance(value, dt.date | dt.datetime):
        return value.isoformat()
    if isinstance(value, list | tuple):
        return "[" + ", ".join(toml_value(v) for v in value) + "]"
    if isinstance(value, dict):
        key = lambda k: k if _NAME.match(k) else json.dumps(k)  # noqa: E731
        return "{" + ", ".join(f"{key(k)} = {toml_value(v)}" for k, v in value.items()) + "}"
    raise TypeError(f"cannot write {value!r} as TOML")


def _scenario_sha256(source: str) -> str:
    if source in builtin_scenarios():
        return "builtin:" + source  # built-in scenarios are part of the model version
    return hashlib.sha256(Path(source).read_bytes()).hexdigest()


def load_experiment(path: str | Path) -> Experiment:
    """Read and validate an experiment TOML file (or a named one, ``"douyin-link-ban"``).

    Raises:
        ConfigError: naming every problem (or the accepted names).
    """
    path = find_experiment(path)
    data = read_toml_file(path, "experiment file")
    data.setdefault("name", path.stem)
    try:
        return Experiment.model_validate(data | {"base_dir": str(path.parent)})
    except ValidationError as err:
        raise ConfigError(f"{path}: {describe(err)}") from None


def describe(err: ValidationError) -> str:
    """One line per problem: dotted field, message (or the accepted fields), rejected input."""
    return describe_errors(err, Experiment)
