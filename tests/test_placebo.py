"""Placebo arms: paired with the control's runs, branched from the experiment's warm states, calibrating the checks.

The placebo of experiment 01 at its quick size (|z| < 2 on every metric) is checked with the
quick runs of the twelve experiments, in tests/test_sweeps_experiments.py.
"""

import math

import pytest
from typer.testing import CliRunner

from livemarket.cli import app
from livemarket.config import ConfigError
from livemarket.sweeps import store
from livemarket.sweeps.checks import check_expectations
from livemarket.sweeps.placebo import placebo_experiment, placebo_results, placebo_shifts, run_placebo
from livemarket.sweeps.runner import run_sweep
from livemarket.sweeps.spec import Experiment, toml_value

BAN = "policies=[{platform='video', date=2019-01-21, set={link_ban=true}}]"
SAME = "policies+=[{platform='mall', date=2019-01-21, set={protection=0.4}}]"  # the mall's protection as it is
STRONG = "policies+=[{platform='mall', date=2019-01-21, set={protection=0.95}}]"  # not a placebo: a real change


def _spec(placebo: str, **kw) -> Experiment:
    metrics = [
        {"metric": "gmv_rmb", "agg": "sum", "window": ["2019-01-21", "2019-02-10"], "name": "gmv_after"},
        {"platform": "video", "metric": "outbound_link_gmv_rmb", "agg": "sum",
         "window": ["2019-01-21", "2019-02-10"], "name": "outbound_after"},
    ]  # fmt: skip
    expect = [{"metric": "outbound_after", "factor": "policy", "direction": "lower"},
              {"metric": "gmv_after", "factor": "policy", "direction": "lower"}]  # fmt: skip
    base = dict(name="placebo-demo", scenario="minimal", days=40, consumers=400, replicates=3, root_seed=5,
                common_random_numbers=True, factors={"policy": {"levels": {"none": [], "ban": [BAN]}}},
                metrics=metrics, expect=expect, start_from="minimal@2019-01-21",
                placebo={"overrides": [placebo]})  # fmt: skip
    return Experiment(**(base | kw))


def _run(spec, out):
    run_sweep(spec, out, workers=0, progress=False)
    run_placebo(spec, out, workers=0, progress=False)
    return store.results(out), placebo_results(out)


def test_a_placebo_that_changes_nothing_repeats_the_control_runs_from_the_same_warm_states(tmp_path):
    spec = _spec(SAME)
    frame, placebo = _run(spec, tmp_path)
    assert len(list((tmp_path / "warm").glob("*.ckpt"))) == spec.replicates  # no warm state of its own
    assert not (tmp_path / "placebo" / "warm").exists()
    shifts = placebo_shifts(spec, frame, placebo)
    assert shifts["n"].to_list() == [spec.replicates] * 2
    assert shifts["shift"].to_list() == [0.0, 0.0]  # bit for bit the control's runs
    control = frame.filter(frame["policy"] == "none")
    assert control["outbound_after"].min() > 0  # so the zero shift is not two empty metrics
    table = check_expectations(spec, frame, placebo)
    assert table["z"].to_list() == table["z_paired"].to_list()


def test_a_real_change_as_placebo_widens_the_standard_errors(tmp_path):
    spec = _spec(STRONG)
    frame, placebo = _run(spec, tmp_path)
    shift = dict(zip(*placebo_shifts(spec, frame, placebo).select("metric", "shift"), strict=True))
    assert shift["gmv_after"] != 0
    table = check_expectations(spec, frame, placebo)
    plain = check_expectations(spec, frame)
    assert plain["placebo_shift"].is_nan().all() and plain["z"].to_list() == plain["z_paired"].to_list()
    row = table.row(1, named=True)
    se_paired = row["effect"] / row["z_paired"]
    assert row["placebo_shift"] == shift["gmv_after"]
    assert math.isclose(row["effect"] / row["z"], math.hypot(se_paired, shift["gmv_after"]), rel_tol=1e-12)
    assert abs(row["z"]) < abs(row["z_paired"])


def test_the_placebo_arm_is_the_control_point_plus_its_overrides():
    spec = _spec(SAME, start_from=None, common_random_numbers=False,
                 factors={"policy": {"levels": {"none": [], "ban": [BAN]}},
                          "feed": {"path": "platforms.video.feed_mode", "values": [0.2, 0.8]}})  # fmt: skip
    main, arm = spec.plan(), placebo_experiment(spec).plan()
    assert [r.overrides for r in arm.runs] == [main.runs[0].overrides + [SAME]] * spec.replicates
    assert [r.spawn_key for r in arm.runs] == [r.spawn_key for r in main.runs if r.point == 0]
    assert spec.fingerprint() == _spec(STRONG, start_from=None, common_random_numbers=False,
                                       factors=spec.model_dump()["factors"]).fingerprint()  # fmt: skip


def test_bad_placebos_are_refused_by_name(tmp_path):
    with pytest.raises(ConfigError, match="placebo: needs a grid design"):
        _spec(SAME, factors={"placebo": {"path": "platforms.video.feed_mode", "values": [0.2, 0.8]}})
    with pytest.raises(ConfigError, match="placebo"):
        Experiment(**(_spec(SAME).model_dump() | {"placebo": {"overrides": []}}))
    with pytest.raises(ConfigError, match="accepted: the folder of a sweep run first"):
        run_placebo(_spec(SAME), tmp_path / "nothing", workers=0, progress=False)
    assert not (tmp_path / "nothing").exists()
    early = "policies+=[{platform='mall', date=2019-01-05, set={protection=0.401}}]"
    with pytest.raises(ConfigError, match="before the branch date"):
        placebo_experiment(_spec(early)).plan()


def test_the_sweep_command_runs_the_placebo_and_refuses_a_bad_one_before_any_run(tmp_path):
    good, bad = tmp_path / "good.toml", tmp_path / "bad.toml"
    good.write_text(_toml(_spec(STRONG)))
    bad.write_text(_toml(_spec("platforms.nowhere.protection=0.5")))
    result = CliRunner().invoke(app, ["sweep", str(bad), "--out", str(tmp_path / "b"), "--workers", "0"])
    assert result.exit_code == 2 and "nowhere" in result.output, result.output
    assert not (tmp_path / "b").exists()
    result = CliRunner().invoke(app, ["sweep", str(good), "--out", str(tmp_path / "g"), "--workers", "0",
                                      "--no-progress"])  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "[paired" in result.output and (tmp_path / "g" / "placebo" / "manifest.json").exists()
    result = CliRunner().invoke(app, ["sweep", str(good), "--out", str(tmp_path / "n"), "--workers", "0",
                                      "--no-progress", "--no-placebo"])  # fmt: skip
    assert result.exit_code == 0 and "[paired" not in result.output
    assert not (tmp_path / "n" / "placebo").exists()


def _toml(spec: Experiment) -> str:
    """The spec as an experiment file (top-level keys, then tables)."""
    data = spec.model_dump(exclude={"base_dir", "quick"}, exclude_none=True, exclude_defaults=True)
    lines = [f"{k} = {toml_value(v)}" for k, v in data.items() if not isinstance(v, dict)]
    lines += [f"{k} = {toml_value(v)}" for k, v in data.items() if isinstance(v, dict)]
    return "\n".join(lines) + "\n"
