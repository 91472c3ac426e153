"""Calibration by the method of simulated moments, with Optuna as the optimiser.

A calibration *spec* (TOML, validated by pydantic with ``extra="forbid"``) names the scenario,
the parameters to fit (override paths with ranges), the in-sample targets (fitted) and the
out-of-sample targets (only reported), and the run budget (consumers, days, replicates,
seeds, trials). Each trial evaluates one parameter vector on the same replicate seeds (common
random numbers) and scores the replicate-mean moments with
:func:`livemarket.validation.loss`; the replicates of a batch of trials run as tasks on a
``dask.distributed`` client. The best parameters are written into a copy of the scenario
file (comments kept) and a Markdown fit report.

Replicates run through :func:`livemarket.validation.run_replicates`, on a cluster from
:func:`livemarket.sweeps.cluster.open_client`: the replicate runner and the cluster helper
that validation and the sweeps use too.

Example spec::

    scenario = "china-2019"
    consumers = 3000
    days = 456
    replicates = 3
    trials = 60
    in_sample = ["shelf_share_taobao", "shelf_share_jd"]
    out_of_sample = ["aov_order_margin"]
    [parameters]
    "platforms.jd.trust_prior" = { low = 0.5, high = 0.9 }
"""

from __future__ import annotations

import contextlib
import datetime as dt
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Annotated, Any, Literal

import numpy as np
import typer
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from livemarket.config import (
    ConfigError,
    _read_toml,
    apply_overrides,
    load_scenario,
    read_toml_file,
)
from livemarket.draws import run_seed_sequence
from livemarket.msm import replicate_means
from livemarket.suggest import describe_errors
from livemarket.sweeps.cluster import open_client
from livemarket.sweeps.modelclass import DEFAULT_MODEL, load_model_class
from livemarket.toml_edit import lookup, set_toml_value, toml_literal, write_scenario
from livemarket.validation import (
    DAYS,
    TARGETS,
    RunSpec,
    figure,
    loss,
    markdown_table,
    run_replicates,
    summarise,
)
from livemarket.validation.timeline import TIMELINE_DAYS, TIMELINE_TARGETS

__all__ = [
    "CalibrationSpec",
    "Parameter",
    "calibrate",
    "calibrate_command",
    "load_spec",
    "run_calibration",
    "set_toml_value",
    "submit_runs",
    "write_report",
]


class Parameter(BaseModel):
    """A parameter to fit: an override path's range (uniform, or log-uniform with ``log``)."""

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)
    low: float
    high: float
    log: bool = False
    also: list[str] = []  # further override paths set to the same value (e.g. a trend's first knot)

    @model_validator(mode="after")
    def _order(self) -> Parameter:
        if not self.low < self.high:
            raise ValueError(f"low ({self.low}) must be below high ({self.high})")
        if self.log and self.low <= 0:
            raise ValueError("log = true needs low > 0")
        return self


class CalibrationSpec(BaseModel):
    """What to fit, against which targets, with what budget."""

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)
    model: str = DEFAULT_MODEL  # the model class, "package.module:Class" (as in an experiment spec)
    scenario: str = "china-2019"
    targets: Literal["snapshot", "timeline"] = "snapshot"  # the facts: 2019-2021 snapshot, or the 2019-2024 timeline
    method: Literal["tpe", "gauss-newton"] = "tpe"  # Optuna's TPE search, or Gauss-Newton MSM (livemarket.msm)
    iterations: int = Field(default=4, ge=0)  # Gauss-Newton steps after the first Jacobian
    overrides: list[str] = []  # fixed overrides applied before the fitted parameters
    parameters: dict[str, Parameter]
    in_sample: list[str]
    out_of_sample: list[str] = []
    consumers: int = Field(default=3000, ge=50)
    days: int = Field(default=456, ge=30)  # fitting horizon from 2019-01-01
    replicates: int = Field(default=2, ge=1)
    seed: int = Field(default=2019, ge=0)  # root of the replicate seeds (same for every trial)
    trials: int = Field(default=60, ge=1)
    batch: int = Field(default=2, ge=1)  # trials asked and evaluated together
    sampler_seed: int = 0
    startup_trials: int = Field(default=12, ge=1)
    workers: int = Field(default=2, ge=0)  # Dask worker processes (0: run in this process)
    check_replicates: int = Field(default=4, ge=1)  # validation of the fit over DAYS days
    check_consumers: int | None = None
    storage: str | None = None  # Optuna storage URL (e.g. sqlite:///results/study.db): resumable
    study_name: str = "calibration"
    output_scenario: str = "calibration/fitted/china-2019.toml"
    report: str = "docs/calibration_report.md"

    @field_validator("model")
    @classmethod
    def _model_ok(cls, v: str) -> str:
        try:
            load_model_class(v)
        except ConfigError as err:  # pydantic names the field itself
            raise ValueError(str(err).removeprefix("model: ")) from None
        return v

    @model_validator(mode="after")
    def _known(self) -> CalibrationSpec:
        if self.storage is not None:
            scheme = self.storage.split("://", 1)[0].split("+", 1)[0] if "://" in self.storage else ""
            if scheme not in ("sqlite", "postgresql", "mysql", "oracle", "mssql"):
                raise ValueError(
                    f"storage: {self.storage!r} is not a database URL; accepted: sqlite:///path/to/study.db, "
                    "postgresql://..., mysql://... (SQLAlchemy URLs, as optuna takes them)"
                )
        known = {t.key for t in target_set(self.targets)}
        for name in ("in_sample", "out_of_sample"):
            bad = [k for k in getattr(self, name) if k not in known]
            if bad:
                raise ValueError(f"{name}: unknown target(s) {bad}; accepted: {sorted(known)}")
        both = set(self.in_sample) & set(self.out_of_sample)
        if both:
            raise ValueError(f"targets both in and out of sample: {sorted(both)}")
        if not self.in_sample:
            raise ValueError("in_sample: at least one target is needed")
        kinds = {t.key: t.kind for t in target_set(self.targets)}
        unfit = [k for k in self.in_sample if kinds[k] not in ("point", "range")]
        if self.method == "gauss-newton" and unfit:
            raise ValueError(f"in_sample: gauss-newton fits point and range targets only; {unfit} are "
                             "checks (kind above or info): list them under out_of_sample")  # fmt: skip
        if not self.parameters:
            raise ValueError("parameters: at least one parameter to fit is needed")
        return self


def load_spec(path: str | Path) -> CalibrationSpec:
    """Read and check a spec: fields, target names, and that every parameter path exists."""
    path = Path(path)
    try:
        spec = CalibrationSpec.model_validate(read_toml_file(path, "calibration spec"))
    except ValidationError as err:
        raise ConfigError(f"{path}: {describe_errors(err, CalibrationSpec)}") from None
    base = _read_toml(spec.scenario)
    for name, p in spec.parameters.items():
        if lookup(apply_overrides(base, spec.overrides), name) is None:
            raise ConfigError(
                f"{path}: parameters.{name!r} is not set in scenario {spec.scenario!r}"
            )
        for v in (p.low, p.high):
            load_scenario(spec.scenario, [*spec.overrides, *(f"{k}={toml_literal(v)}" for k in (name, *p.also))])
    return spec


# --------------------------------------------------------------------------- running
def submit_runs(specs: Sequence[RunSpec], client=None) -> list[dict[str, float]]:
    """Moments of each run, on ``client`` or in this process (:func:`livemarket.validation.run_replicates`)."""
    return run_replicates(specs, client)


def _replicate_seeds(spec: CalibrationSpec, n: int) -> list[int]:
    return [int(run_seed_sequence(spec.seed, 0, r).generate_state(1)[0]) for r in range(n)]


def _tied(spec: CalibrationSpec, params: dict[str, float]) -> dict[str, float]:
    """The fitted values with every tied path (``also``) set to its parameter's value."""
    return params | {a: v for k, v in params.items() for a in spec.parameters[k].also}


def _overrides(spec: CalibrationSpec, params: dict[str, float]) -> tuple[str, ...]:
    return (*spec.overrides, *(f"{k}={toml_literal(v)}" for k, v in _tied(spec, params).items()))


def target_set(name: str) -> tuple:
    """The targets of a target set: ``snapshot`` (2019-2021, china-2019) or ``timeline`` (china-2019-2024)."""
    return TIMELINE_TARGETS if name == "timeline" else TARGETS


def _check_days(spec: CalibrationSpec) -> int:
    """Days of the check runs: the whole timeline, or the snapshot's 2019-01-01 .. 2021-06-30."""
    return TIMELINE_DAYS if spec.targets == "timeline" else DAYS


def _run(spec: CalibrationSpec, scenario: str, overrides, consumers, days, seed) -> RunSpec:
    """One replicate run: the snapshot adds the 2020 history; the timeline has its own."""
    timeline = spec.targets == "timeline"
    return RunSpec(scenario, tuple(overrides), consumers, days, not timeline, seed, spec.model, spec.targets)


def calibrate(spec: CalibrationSpec, client=None, log=print) -> dict[str, Any]:
    """Run the Optuna study; return best parameters, loss, trials table and timings.

    Args:
        spec: the calibration spec.
        client: a ``dask.distributed.Client``; ``None`` starts a LocalCluster with
            ``spec.workers`` processes (or runs in this process when ``workers == 0``).
        log: where progress lines go.

    """
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    with contextlib.ExitStack() as stack:
        if client is None and spec.workers > 0:
            client = stack.enter_context(open_client(spec.workers))
        return _gauss_newton(spec, client, log) if spec.method == "gauss-newton" else _study(spec, client, log)


def _gauss_newton(spec: CalibrationSpec, client, log) -> dict[str, Any]:
    """:func:`livemarket.msm.fit` on the spec's replicates; plus the bootstrap and the identification table."""
    from livemarket import msm

    seeds = _replicate_seeds(spec, spec.replicates)
    targets = [t for t in target_set(spec.targets) if t.key in spec.in_sample]
    params = {n: msm.Parameter(p.low, p.high, p.log) for n, p in spec.parameters.items()}
    base = apply_overrides(_read_toml(spec.scenario), spec.overrides)
    initial = {n: float(lookup(base, n)) for n in params}

    def evaluate(vectors: list[dict[str, float]]) -> list[list[dict[str, float]]]:
        runs = [_run(spec, spec.scenario, _overrides(spec, v), spec.consumers, spec.days, s)
                for v in vectors for s in seeds]  # fmt: skip
        out = submit_runs(runs, client)
        return [out[i * len(seeds) : (i + 1) * len(seeds)] for i in range(len(vectors))]

    result = msm.fit(evaluate, params, initial, targets, spec.iterations, log=log)
    best = min((h for h in result.history if h.get("accepted", True)), key=lambda h: h["loss"])
    return {
        "best_params": result.params, "best_loss": result.loss, "best_trial": best["iteration"],
        "initial_params": initial, "initial_loss": result.history[0]["loss"], "seeds": seeds,
        "trials": [{"trial": h["iteration"], "loss": h["loss"], **{n: h[n] for n in params}} for h in result.history],
        "seconds": result.seconds, "runs": result.runs, "identification": msm.identification(result, params, targets),
        "draws": msm.bootstrap(result, params, targets, seed=spec.sampler_seed), "jacobian": result.jacobian,
    }  # fmt: skip


def _study(spec: CalibrationSpec, client, log) -> dict[str, Any]:
    """The trials of :func:`calibrate`, each batch's replicates on ``client`` (or in this process)."""
    import optuna

    seeds = _replicate_seeds(spec, spec.replicates)
    sampler = optuna.samplers.TPESampler(seed=spec.sampler_seed, multivariate=True,
                                         n_startup_trials=spec.startup_trials)  # fmt: skip
    study = optuna.create_study(direction="minimize", sampler=sampler, storage=spec.storage,
                                study_name=spec.study_name, load_if_exists=spec.storage is not None)  # fmt: skip
    base = apply_overrides(_read_toml(spec.scenario), spec.overrides)
    initial = {}
    for name, p in spec.parameters.items():
        v = float(lookup(base, name))
        initial[name] = min(max(v, p.low), p.high)
    finished = [t for t in study.trials if t.state == optuna.trial.TrialState.COMPLETE]
    if not study.trials:
        study.enqueue_trial(initial)  # the scenario as it stands is trial 0
    elif finished:
        log(f"resuming study {spec.study_name!r}: {len(finished)} trials done")
    started = time.time()
    earlier = float(study.user_attrs.get("study_seconds", 0.0))  # wall time of earlier sessions
    done = len(finished)
    while done < spec.trials:
        batch = [study.ask() for _ in range(min(spec.batch, spec.trials - done))]
        params = [
            {n: t.suggest_float(n, p.low, p.high, log=p.log) for n, p in spec.parameters.items()}
            for t in batch
        ]  # fmt: skip
        runs = [
            _run(spec, spec.scenario, _overrides(spec, pr), spec.consumers, spec.days, s)
            for pr in params for s in seeds
        ]  # fmt: skip
        results = submit_runs(runs, client)
        for i, trial in enumerate(batch):
            means = replicate_means(results[i * len(seeds) : (i + 1) * len(seeds)])
            trial.set_user_attr("moments", {k: means[k] for k in spec.in_sample})
            study.tell(trial, loss(means, spec.in_sample, target_set(spec.targets)))
        done += len(batch)
        study.set_user_attr("study_seconds", earlier + time.time() - started)
        best = study.best_trial
        log(f"trials {done}/{spec.trials}  best loss {best.value:.3f} (trial {best.number})  "
            f"{time.time() - started:.0f} s")  # fmt: skip
    complete = [t for t in study.trials if t.state == optuna.trial.TrialState.COMPLETE]
    rows = [{"trial": t.number, "loss": t.value, **t.params,
             **{f"m:{k}": v for k, v in t.user_attrs.get("moments", {}).items()}} for t in complete]  # fmt: skip
    first = min(complete, key=lambda t: t.number)
    best = study.best_trial
    return {
        "best_params": dict(best.params), "best_loss": float(best.value), "best_trial": best.number,
        "initial_params": initial, "initial_loss": first.value, "trials": rows,
        "seconds": float(study.user_attrs.get("study_seconds", earlier + time.time() - started)), "seeds": seeds,
    }  # fmt: skip


# --------------------------------------------------------------------------- writing results
def write_report(
    spec: CalibrationSpec,
    spec_path: str,
    fit: dict[str, Any],
    check: Any,
    runs: list,
    scenario_path: Path,
    figure_paths: list[Path],
    check_seconds: float,
) -> Path:
    """Write the Markdown fit report: budget, fitted parameters, in-sample fit, out-of-sample checks."""
    from livemarket.provenance import git_commit, versions

    consumers = spec.check_consumers or spec.consumers
    days = _check_days(spec)
    history = ("its own dated history" if spec.targets == "timeline"
               else "the documented 2020 history of `livemarket.validation.HISTORY`")  # fmt: skip
    if spec.method == "gauss-newton":
        method = [
            f"Method of simulated moments by Gauss-Newton (`livemarket.msm`): each evaluation runs the scenario on "
            f"the same {spec.replicates} replicate seeds (common random numbers) with {spec.consumers:,} consumers "
            f"for {spec.days} days from 2019-01-01 ({history}) and scores `sum_k ((m_k - target_k) / tolerance_k)^2` "
            "over the in-sample targets (a range: its midpoint, half-width as tolerance). A forward-difference "
            f"Jacobian at the start, {spec.iterations} Levenberg-Marquardt steps with Broyden updates, a fresh "
            f"Jacobian at the fit; {fit['runs']} runs as tasks on a dask.distributed LocalCluster of "
            f"{spec.workers} worker processes.",
        ]  # fmt: skip
    else:
        method = [
            "Method of simulated moments: each trial runs the scenario on the same "
            f"{spec.replicates} replicate seeds (common random numbers) with {spec.consumers:,} consumers "
            f"for {spec.days} days from 2019-01-01 (with {history}), averages the moments over replicates, and scores "
            "`sum_k ((m_k - target_k) / tolerance_k)^2` over the in-sample targets (ranges score 0 inside). "
            f"Optuna TPE sampler (multivariate, seed {spec.sampler_seed}, {spec.startup_trials} random "
            f"start-up trials, trial 0 = the scenario as it stood); {spec.trials} trials in batches of "
            f"{spec.batch}, replicate runs as tasks on a dask.distributed LocalCluster of {spec.workers} "
            "worker processes.",
        ]  # fmt: skip
    lines = [
        f"# Calibration report: {spec.scenario}", "",
        f"Generated by `livemarket calibrate {spec_path}` on {dt.date.today().isoformat()} "
        f"(git {git_commit() or 'unknown'}; optuna {_version('optuna')}, dask {_version('dask')}).", "",
        "## Method", "", *method, "",
        f"Wall time: **{fit['seconds'] / 60:.1f} min** for the fit, {check_seconds / 60:.1f} min for "
        f"the check runs ({spec.check_replicates} replicates x {consumers:,} consumers x {days} days).", "",
        f"Loss: {fit['initial_loss']:.2f} at the start -> **{fit['best_loss']:.2f}** "
        f"(step {fit['best_trial']}).", "",
        "## Fitted parameters", "",
    ]  # fmt: skip
    lines += _parameter_table(spec, fit)
    end = dt.date(2019, 1, 1) + dt.timedelta(days=days - 1)
    lines += [
        "", f"Fitted scenario: `{scenario_path}`.", "",
        f"## Fit and out-of-sample checks ({spec.check_replicates} replicates, {consumers:,} consumers, "
        f"2019-01-01 to {end})", "",
        "`Fit` = in: the target was fitted; out: not used in the fit (an out-of-sample check).", "",
        markdown_table(check, spec.in_sample), "",
    ]  # fmt: skip
    keyed = {r["key"]: r for r in check.iter_rows(named=True)}
    ins = [keyed[k]["passed"] for k in spec.in_sample]
    outs = [(k, keyed[k]["passed"]) for k in spec.out_of_sample if keyed[k]["passed"] is not None]
    lines += [
        f"In-sample targets met: **{sum(bool(x) for x in ins)} of {len(ins)}**. "
        f"Out-of-sample checks met: **{sum(bool(x) for _, x in outs)} of {len(outs)}** "
        f"(held: {', '.join(k for k, x in outs if x) or 'none'}; failed: "
        f"{', '.join(k for k, x in outs if not x) or 'none'}).", "",
        "![validation](" + Path(figure_paths[0]).name + ")" if figure_paths else "", "",
        "## Trials (best 10)", "",
        "| Trial | Loss | " + " | ".join(f"`{n.split('.')[-2]}.{n.split('.')[-1]}`" for n in spec.parameters) + " |",
        "|---|---|" + "---|" * len(spec.parameters),
    ]  # fmt: skip
    for r in sorted(fit["trials"], key=lambda r: r["loss"])[:10]:
        lines.append(
            f"| {r['trial']} | {r['loss']:.2f} | "
            + " | ".join(f"{r[n]:.3g}" for n in spec.parameters)
            + " |"
        )
    lines += ["", "## Provenance", "", "```", f"spec: {spec.model_dump_json()}", f"replicate seeds: {fit['seeds']}",
              f"versions: {versions()}", "```", ""]  # fmt: skip
    path = Path(spec.report)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(lines), encoding="utf-8")
    return path


def _parameter_table(spec: CalibrationSpec, fit: dict[str, Any]) -> list[str]:
    """Fitted parameters; with Gauss-Newton also the 95% bootstrap interval and what identifies each one."""
    if "draws" not in fit:
        rows = ["| Parameter | Range | Before | Fitted |", "|---|---|---|---|"]
        for name, p in spec.parameters.items():
            rows.append(f"| `{name}` | {p.low:g} – {p.high:g}{' (log)' if p.log else ''} | "
                        f"{fit['initial_params'][name]:.4g} | **{fit['best_params'][name]:.4g}** |")  # fmt: skip
        return rows
    rows = [
        "Uncertainty: bootstrap of the moments through the linearised moment map at the fit (2,000 draws: "
        "replicates resampled for the simulation noise, each target drawn within its tolerance read as two "
        "standard deviations; `livemarket.msm.bootstrap`). Identification: the in-sample targets a 10% "
        "(log-parameter) or 10%-of-range move of the parameter shifts most, in tolerances per search unit "
        "(Jacobian at the fit); a parameter that moves no target by 0.25 tolerances per unit is **not identified** "
        "(its interval is its whole range).", "",
        "| Parameter | Range | Before | Fitted [95% interval] | Moves (tolerances per search unit) |",
        "|---|---|---|---|---|",
    ]  # fmt: skip
    ident = {r["parameter"]: r for r in fit["identification"]}
    for name, p in spec.parameters.items():
        lo, hi = np.quantile(fit["draws"][name], [0.025, 0.975])
        moves = ", ".join(f"{k} {v:+.2f}" for k, v in ident[name]["moves"]) or "—"
        flag = "" if ident[name]["identified"] else " **not identified**"
        rows.append(f"| `{name}` | {p.low:g} – {p.high:g}{' (log)' if p.log else ''} | "
                    f"{fit['initial_params'][name]:.4g} | **{fit['best_params'][name]:.4g}** [{lo:.4g}, {hi:.4g}] | "
                    f"{moves}{flag} |")  # fmt: skip
    return rows


def _version(name: str) -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version(name)
    except PackageNotFoundError:
        return "not installed"


def run_calibration(spec_path: str | Path, log=print) -> dict[str, Any]:
    """Load the spec, fit, write the fitted scenario, validate it over the full horizon, report."""
    spec = load_spec(spec_path)
    with contextlib.ExitStack() as stack:
        client = stack.enter_context(open_client(spec.workers)) if spec.workers > 0 else None
        fit = calibrate(spec, client, log)
        note = (f"Calibrated by `livemarket calibrate {spec_path}` (loss {fit['best_loss']:.2f}); "
                f"report: {spec.report}")  # fmt: skip
        scenario_path = write_scenario(spec.scenario, _tied(spec, fit["best_params"]), spec.output_scenario, note)
        started = time.time()
        consumers = spec.check_consumers or spec.consumers
        specs = [_run(spec, str(scenario_path), spec.overrides, consumers, _check_days(spec), s)
                 for s in _replicate_seeds(spec, spec.check_replicates)]  # fmt: skip
        runs = submit_runs(specs, client)
        check_seconds = time.time() - started
    check = summarise(runs, target_set(spec.targets))
    import polars as pl

    stem = Path(spec.report).with_suffix("")
    pl.DataFrame(fit["trials"]).write_csv(f"{stem}_trials.csv")
    figs = figure(check, runs, f"{stem}_fit", target_set(spec.targets))
    report = write_report(
        spec, str(spec_path), fit, check, runs, scenario_path, figs, check_seconds
    )
    log(markdown_table(check, spec.in_sample))
    log(f"fitted scenario -> {scenario_path}; report -> {report}")
    return {"fit": fit, "check": check, "scenario": scenario_path, "report": report}


def calibrate_command(
    spec: Annotated[str, typer.Argument(help="Calibration spec (.toml).")],
) -> None:
    """Fit a scenario's parameters to the stylized facts. Method of simulated moments (Optuna)."""
    try:
        load_spec(spec)
    except ConfigError as err:
        typer.secho(f"error: {err}", fg=typer.colors.RED, err=True)
        raise typer.Exit(code=2) from None
    run_calibration(spec, log=typer.echo)
