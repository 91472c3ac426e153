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
import math
import re
import time
import tomllib
from collections.abc import Sequence
from pathlib import Path
from typing import Annotated, Any

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
from livemarket.suggest import describe_errors
from livemarket.sweeps.cluster import open_client
from livemarket.sweeps.modelclass import DEFAULT_MODEL, load_model_class
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
        known = {t.key for t in TARGETS}
        for name in ("in_sample", "out_of_sample"):
            bad = [k for k in getattr(self, name) if k not in known]
            if bad:
                raise ValueError(f"{name}: unknown target(s) {bad}; accepted: {sorted(known)}")
        both = set(self.in_sample) & set(self.out_of_sample)
        if both:
            raise ValueError(f"targets both in and out of sample: {sorted(both)}")
        if not self.in_sample:
            raise ValueError("in_sample: at least one target is needed")
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
        if _lookup(apply_overrides(base, spec.overrides), name) is None:
            raise ConfigError(
                f"{path}: parameters.{name!r} is not set in scenario {spec.scenario!r}"
            )
        for v in (p.low, p.high):
            load_scenario(spec.scenario, [*spec.overrides, f"{name}={_toml(v)}"])
    return spec


def _lookup(data: dict, dotted: str) -> Any:
    node: Any = data
    for k in dotted.split("."):
        if not isinstance(node, dict) or k not in node:
            return None
        node = node[k]
    return node


def _toml(v: float) -> str:
    """Format a float as a TOML literal with 4 significant digits (``0.0123``, ``1.5e-05``)."""
    text = f"{float(v):.4g}"
    return text if any(c in text for c in ".en") else text + ".0"


# --------------------------------------------------------------------------- running
def submit_runs(specs: Sequence[RunSpec], client=None) -> list[dict[str, float]]:
    """Moments of each run, on ``client`` or in this process (:func:`livemarket.validation.run_replicates`)."""
    return run_replicates(specs, client)


def _replicate_seeds(spec: CalibrationSpec, n: int) -> list[int]:
    return [int(run_seed_sequence(spec.seed, 0, r).generate_state(1)[0]) for r in range(n)]


def _means(runs: Sequence[dict[str, float]]) -> dict[str, float]:
    keys = runs[0].keys()
    return {k: float(np.nanmean([r[k] for r in runs])) if any(math.isfinite(r[k]) for r in runs) else float("nan")
            for k in keys}  # fmt: skip


def _overrides(spec: CalibrationSpec, params: dict[str, float]) -> tuple[str, ...]:
    return (*spec.overrides, *(f"{k}={_toml(v)}" for k, v in params.items()))


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
        return _study(spec, client, log)


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
        v = float(_lookup(base, name))
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
            RunSpec(spec.scenario, _overrides(spec, pr), spec.consumers, spec.days, True, s, spec.model)
            for pr in params for s in seeds
        ]  # fmt: skip
        results = submit_runs(runs, client)
        for i, trial in enumerate(batch):
            means = _means(results[i * len(seeds) : (i + 1) * len(seeds)])
            trial.set_user_attr("moments", {k: means[k] for k in spec.in_sample})
            study.tell(trial, loss(means, spec.in_sample))
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
def set_toml_value(text: str, dotted: str, value: float) -> str:
    """Set ``dotted`` to ``value`` in TOML source text, keeping comments and layout.

    Handles keys of a ``[table]`` (``platforms.jd.trust_prior``), keys of an inline table
    inside a table (``brands.listing_probability.jd``) and top-level keys. The result is
    parsed back and checked.
    """
    keys = dotted.split(".")
    literal = _toml(value)
    lines = text.splitlines(keepends=True)
    headers = [
        (i, m.group(1).strip())
        for i, line in enumerate(lines)
        if (m := re.match(r"^\s*\[([^\[\]]+)\]\s*(#.*)?$", line))
    ]
    out = None
    for cut in range(len(keys) - 1, -1, -1):
        table, rest = ".".join(keys[:cut]), keys[cut:]
        if len(rest) > 2:
            continue
        if table:
            where = [i for i, h in headers if h == table]
            if not where:
                continue
            lo = where[0] + 1
        else:
            lo = 0
        hi = next((i for i, _ in headers if i >= lo), len(lines))
        for j in range(lo, hi):
            m = re.match(
                rf"^(\s*{re.escape(rest[0])}\s*=\s*)(.*?)(\s*(#.*)?)$", lines[j].rstrip("\n")
            )
            if not m:
                continue
            if len(rest) == 1:
                lines[j] = f"{m.group(1)}{literal}{m.group(3)}\n"
            else:
                inner = m.group(2)
                pat = rf"(\b{re.escape(rest[1])}\s*=\s*)([^,}}]+)"
                if re.search(pat, inner):
                    inner = re.sub(pat, lambda mm: f"{mm.group(1)}{literal} ", inner, count=1)
                    inner = re.sub(r"\s+([,}])", r" \1", inner).replace(" ,", ",")
                else:
                    inner = inner.rstrip().rstrip("}").rstrip() + f", {rest[1]} = {literal} }}"
                lines[j] = f"{m.group(1)}{inner}{m.group(3)}\n"
            out = "".join(lines)
            break
        if out is None and len(rest) == 1 and table:
            lines.insert(lo, f"{rest[0]} = {literal}\n")
            out = "".join(lines)
        if out is not None:
            break
    if out is None:
        raise ConfigError(f"cannot place {dotted!r} in the scenario text")
    got = _lookup(tomllib.loads(out), dotted)
    if got is None or not math.isclose(float(got), float(literal), rel_tol=1e-12):
        raise ConfigError(f"writing {dotted!r} failed (read back {got!r})")
    return out


def write_scenario(
    spec: CalibrationSpec, params: dict[str, float], path: str | Path, note: str
) -> Path:
    """Write the scenario file with fitted values substituted (comments kept) and a header note."""
    from importlib import resources

    source = Path(spec.scenario)
    if source.suffix == ".toml":
        text = source.read_text(encoding="utf-8")
    else:
        text = (resources.files("livemarket") / "scenarios" / f"{spec.scenario}.toml").read_text()
    for name, value in params.items():
        text = set_toml_value(text, name, value)
    text = f"# {note}\n" + text
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    load_scenario(path)  # must validate
    return path


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
    lines = [
        "# Calibration report: china-2019", "",
        f"Generated by `livemarket calibrate {spec_path}` on {dt.date.today().isoformat()} "
        f"(git {git_commit() or 'unknown'}; optuna {_version('optuna')}, dask {_version('dask')}).", "",
        "## Method", "",
        "Method of simulated moments: each trial runs the scenario on the same "
        f"{spec.replicates} replicate seeds (common random numbers) with {spec.consumers:,} consumers "
        f"for {spec.days} days from 2019-01-01 (with the documented 2020 history of "
        "`livemarket.validation.HISTORY`), averages the moments over replicates, and scores "
        "`sum_k ((m_k - target_k) / tolerance_k)^2` over the in-sample targets (ranges score 0 inside). "
        f"Optuna TPE sampler (multivariate, seed {spec.sampler_seed}, {spec.startup_trials} random "
        f"start-up trials, trial 0 = the scenario as it stood); {spec.trials} trials in batches of "
        f"{spec.batch}, replicate runs as tasks on a dask.distributed LocalCluster of {spec.workers} "
        "worker processes.", "",
        f"Wall time: **{fit['seconds'] / 60:.1f} min** for the study, {check_seconds / 60:.1f} min for "
        f"the check runs ({spec.check_replicates} replicates x {consumers:,} consumers x {DAYS} days).", "",
        f"Loss: {fit['initial_loss']:.2f} at the start (trial 0) -> **{fit['best_loss']:.2f}** "
        f"(trial {fit['best_trial']}).", "",
        "## Fitted parameters", "",
        "| Parameter | Range | Before | Fitted |", "|---|---|---|---|",
    ]  # fmt: skip
    for name, p in spec.parameters.items():
        lines.append(f"| `{name}` | {p.low:g} – {p.high:g}{' (log)' if p.log else ''} | "
                     f"{fit['initial_params'][name]:.4g} | **{fit['best_params'][name]:.4g}** |")  # fmt: skip
    lines += [
        "", f"Fitted scenario: `{scenario_path}`.", "",
        f"## Fit and out-of-sample checks ({spec.check_replicates} replicates, {consumers:,} consumers, "
        "2019-01-01 to 2021-06-30)", "",
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
        scenario_path = write_scenario(spec, fit["best_params"], spec.output_scenario, note)
        started = time.time()
        consumers = spec.check_consumers or spec.consumers
        specs = [
            RunSpec(str(scenario_path), tuple(spec.overrides), consumers, DAYS, True, s, spec.model)
            for s in _replicate_seeds(spec, spec.check_replicates)
        ]  # fmt: skip
        runs = submit_runs(specs, client)
        check_seconds = time.time() - started
    check = summarise(runs)
    import polars as pl

    stem = Path(spec.report).with_suffix("")
    pl.DataFrame(fit["trials"]).write_csv(f"{stem}_trials.csv")
    figs = figure(check, runs, f"{stem}_fit")
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
