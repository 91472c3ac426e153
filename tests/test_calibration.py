"""Calibration spec checking, TOML editing that keeps comments, a two-trial study end to end."""

import tomllib
from pathlib import Path

import pytest
from typer.testing import CliRunner

from livemarket.calibration import (
    CalibrationSpec,
    calibrate,
    load_spec,
    set_toml_value,
    write_scenario,
)
from livemarket.cli import app
from livemarket.config import ConfigError, load_scenario

TEXT = """# header comment
name = "x"
days = 10

[consumer]
wallets = { alipay = 0.75, wechat_pay = 0.90 }  # keep me
needs_per_day = 0.02 # and me

[platforms.jd]
kind = "shelf"
trust_prior = 0.70

[platforms.pinduoduo]
kind = "shelf"
"""


@pytest.mark.parametrize(
    ("path", "value"),
    [("consumer.needs_per_day", 0.2), ("consumer.wallets.alipay", 0.5), ("consumer.wallets.jd_pay", 0.1),
     ("platforms.jd.trust_prior", 0.812345), ("platforms.pinduoduo.users_share", 0.3), ("days", 40.0),
     ("consumer.bass_q", 1.5e-05)],
)  # fmt: skip
def test_set_toml_value_keeps_comments_and_other_keys(path, value):
    out = set_toml_value(TEXT, path, value)
    data = tomllib.loads(out)
    node = data
    for k in path.split("."):
        node = node[k]
    assert node == pytest.approx(float(f"{value:.4g}"))
    assert "# keep me" in out and "# and me" in out and out.startswith("# header comment")
    assert (
        data["platforms"]["jd"]["kind"] == "shelf"
        and data["consumer"]["wallets"]["wechat_pay"] == 0.9
    )


def _spec(tmp_path, **extra) -> str:
    body = {
        "consumers": 200, "days": 40, "replicates": 1, "trials": 3, "batch": 2, "startup_trials": 1,
        "workers": 0, "check_replicates": 1, "in_sample": ["shelf_share_jd", "shelf_share_pinduoduo"],
        "out_of_sample": ["return_ratio"], "output_scenario": str(tmp_path / "fitted.toml"),
        "report": str(tmp_path / "report.md"),
    } | extra  # fmt: skip
    lines = [f"{k} = {v!r}".replace("'", '"') for k, v in body.items() if k != "parameters"]
    lines.append("[parameters]")
    params = extra.get("parameters", {"platforms.jd.trust_prior": "{ low = 0.5, high = 0.9 }"})
    lines += [f'"{k}" = {v}' for k, v in params.items()]
    path = tmp_path / "spec.toml"
    path.write_text("\n".join(lines).replace("True", "true").replace("False", "false"))
    return str(path)


@pytest.mark.parametrize(
    ("extra", "message"),
    [({"trails": 3}, "trails: unknown field"),
     ({"in_sample": ["shelf_share_jd", "nope"]}, "unknown target"),
     ({"out_of_sample": ["shelf_share_jd"]}, "both in and out of sample"),
     ({"parameters": {"platforms.jd.trust_prior": "{ low = 0.9, high = 0.5 }"}}, "must be below"),
     ({"parameters": {"platforms.jd.trust_prio": "{ low = 0.5, high = 0.9 }"}}, "not set in scenario"),
     ({"parameters": {"platforms.jd.trust_prior": "{ low = 0.5, high = 1.5 }"}}, "less than or equal to 1"),
     ({"model": "sweep_strategies:NotAModel"}, "model: 'sweep_strategies:NotAModel' is not a subclass"),
     ({"model": "no_such_module_xyz:M"}, "model: cannot import module 'no_such_module_xyz'"),
     ({"method": "gauss-newton", "in_sample": ["aov_order_margin"], "out_of_sample": []},
      "point and range targets only"),
     ({"method": "newton"}, "method: Input should be 'tpe' or 'gauss-newton'"),
     ({"in_sample": ["douyin_gmv_2020_bn"]}, "unknown target"),
     ({"parameters": {"platforms.jd.trust_prior": "{ low = 0.5, high = 0.9, also = ['platforms.jd.no_such_field'] }"}},
      "no_such_field")],
)  # fmt: skip
def test_bad_specs_are_one_clear_error(tmp_path, extra, message):
    with pytest.raises(ConfigError, match=message):
        load_spec(_spec(tmp_path, **extra))


def test_calibrate_command_exits_2_on_a_bad_spec(tmp_path):
    result = CliRunner().invoke(app, ["calibrate", str(tmp_path / "missing.toml")])
    assert result.exit_code == 2 and "does not exist" in result.output


@pytest.mark.parametrize("name", ["china-2019.toml", "china-2019-2024.toml"])
def test_shipped_spec_is_valid(name):
    spec = load_spec(Path(__file__).resolve().parent.parent / "calibration" / name)
    assert set(spec.in_sample).isdisjoint(spec.out_of_sample)
    assert spec.out_of_sample  # some targets are kept out of the fit


def test_two_trial_study_and_fitted_scenario(tmp_path):
    spec = load_spec(_spec(tmp_path))
    fit = calibrate(spec, client=None, log=lambda *_: None)
    assert len(fit["trials"]) == 3
    as_is = load_scenario("china-2019").platforms["jd"].trust_prior
    assert fit["trials"][0]["platforms.jd.trust_prior"] == pytest.approx(
        as_is
    )  # trial 0: the scenario as is
    assert 0.5 <= fit["best_params"]["platforms.jd.trust_prior"] <= 0.9
    assert fit["best_loss"] == min(r["loss"] for r in fit["trials"])
    path = write_scenario(spec.scenario, fit["best_params"], tmp_path / "fitted.toml", "note")
    fitted = load_scenario(path)
    assert fitted.platforms["jd"].trust_prior == pytest.approx(
        fit["best_params"]["platforms.jd.trust_prior"], rel=1e-3
    )
    assert fitted.platforms["taobao"] == load_scenario("china-2019").platforms["taobao"]
    assert isinstance(CalibrationSpec.model_json_schema(), dict)


def test_every_trial_runs_the_model_the_spec_names(tmp_path, monkeypatch):
    import livemarket.calibration as cal

    seen = []

    def fake_runs(specs, client=None):
        seen.extend(specs)
        return [{"shelf_share_jd": 20.0, "shelf_share_pinduoduo": 14.0} for _ in specs]

    monkeypatch.setattr(cal, "submit_runs", fake_runs)
    spec = load_spec(_spec(tmp_path, model="sweep_strategies:FeeRatchet"))
    calibrate(spec, client=None, log=lambda *_: None)
    assert len(seen) == 3 and {s.model for s in seen} == {"sweep_strategies:FeeRatchet"}
