"""The timeline: trends (config, interpolation, bad input), its facts and moments, the Gauss-Newton MSM, validate."""

import datetime as dt
import math

import numpy as np
import pytest
from typer.testing import CliRunner

from livemarket import msm
from livemarket.cli import app
from livemarket.config import ConfigError, load_scenario
from livemarket.models.market import LiveCommerceModel
from livemarket.models.policies import Calendar
from livemarket.validation.targets import Target
from livemarket.validation.timeline import TIMELINE_TARGETS

TREND = ["trends.douyin.live_share.2019-01-11=0.3", "trends.douyin.live_share.2019-01-21=0.1"]


def test_a_trend_runs_linearly_through_its_knots_and_stays_after_the_last():
    cfg = load_scenario("china-2019", TREND, consumers=300, days=30)
    model = LiveCommerceModel(cfg)
    base = cfg.platforms["douyin"].live_share
    seen = []
    for _ in range(30):
        model.step()
        seen.append(model.platforms["douyin"].config.live_share)
    expected = np.interp(np.arange(30), [0, 10, 20], [base, 0.3, 0.1])
    assert np.allclose(seen, expected, rtol=0, atol=1e-15)
    assert seen[-1] == 0.1


def test_the_market_demand_trend_multiplies_the_festivals():
    cfg = load_scenario("china-2019", ["trends.market.demand.2019-11-11=2.0"], consumers=300, days=400)
    cal = Calendar(cfg)
    day = (dt.date(2019, 11, 11) - dt.date(2019, 1, 1)).days
    festival = Calendar(load_scenario("china-2019", consumers=300, days=400)).demand_multiplier(dt.date(2019, 11, 11))
    assert cal.demand_multiplier(dt.date(2019, 11, 11)) == pytest.approx(2.0 * festival)
    assert cal.demand_multiplier(dt.date(2019, 1, 1)) == 1.0
    assert cal.demand_multiplier(dt.date(2019, 3, 1)) == pytest.approx(1 + 59 / day)


@pytest.mark.parametrize(
    ("override", "names"),
    [
        ("trends.douyn.live_share.2019-06-01=0.2", ["douyin", "did you mean"]),
        ("trends.douyin.minutes.2019-06-01=0.2", ["cannot trend", "live_share"]),
        ("trends.douyin.live_share.June=0.2", ["not a date", "YYYY-MM-DD"]),
        ("trends.douyin.live_share.2018-06-01=0.2", ["after start_date"]),
        ("trends.douyin.live_share.2019-06-01=1.5", ["trends.douyin.live_share.2019-06-01", "1"]),
        ("trends.market.demand.2019-06-01=0", ["demand must be > 0"]),
        ("trends.market.live_share.2019-06-01=0.3", ["cannot trend", "demand"]),
        ("trends.douyin.link_ban.2019-06-01=1.0", ["cannot trend"]),
    ],
)
def test_bad_trends_name_the_field_and_what_is_accepted(override, names):
    with pytest.raises(ConfigError) as err:
        load_scenario("china-2019", [override], consumers=300)
    for n in names:
        assert n in str(err.value)


def test_a_policy_may_not_set_a_trending_field():
    with pytest.raises(ConfigError, match="a policy may not also set it"):
        load_scenario(
            "china-2019", ["trends.douyin.live_share.2019-06-01=0.1"], consumers=300,
            policies=[{"platform": "douyin", "date": dt.date(2019, 3, 1), "set": {"live_share": 0.2}}],
        )  # fmt: skip


def test_every_in_sample_fact_is_measured_on_a_short_timeline_run():
    from livemarket.validation.runs import RunSpec, run_moments

    m = run_moments(RunSpec("china-2019-2024", (), 600, 1096, False, 1, targets="timeline"))
    missing = [t.key for t in TIMELINE_TARGETS if t.in_sample and t.kind != "info" and not math.isfinite(m[t.key])]
    assert missing == []
    assert m["path:douyin_gmv_bn:2020"] == pytest.approx(m["douyin_gmv_2020_bn"])
    assert math.isnan(m["festival_618_2024"])  # 2024 not reached


def test_timeline_targets_are_unique_and_split_by_period():
    keys = [t.key for t in TIMELINE_TARGETS]
    assert len(keys) == len(set(keys))
    out = {t.key for t in TIMELINE_TARGETS if not t.in_sample}
    assert {"douyin_growth_2023_04", "festival_618_2024", "trust_fall_2024", "market_growth_2024"} <= out
    assert "douyin_gmv_2020_bn" not in out


# ------------------------------------------------------------------ the Gauss-Newton MSM
def _problem(noise: float = 0.05):
    targets = [
        Target("a", "p", "a", "point", "", "s", True, value=10.0, tolerance=1.0),
        Target("b", "p", "b", "point", "", "s", True, value=3.0, tolerance=0.5),
        Target("c", "p", "c", "range", "", "s", True, low=1.0, high=3.0),
    ]

    def evaluate(vectors):
        out = []
        for v in vectors:
            reps = []
            for seed in range(4):  # common random numbers: the same seeds at every vector
                r = np.random.default_rng(seed)
                reps.append({"a": 5 * math.log(v["x"]) + v["y"] + r.normal(0, noise),
                             "b": 2 * v["y"] + r.normal(0, noise), "c": 1.0 + 0 * v["z"]})  # fmt: skip
            out.append(reps)
        return out

    params = {"x": msm.Parameter(0.1, 100.0, True), "y": msm.Parameter(-5.0, 5.0), "z": msm.Parameter(0.0, 1.0)}
    return evaluate, params, targets


def test_gauss_newton_recovers_the_parameters_and_flags_the_unidentified_one():
    evaluate, params, targets = _problem()
    fit = msm.fit(evaluate, params, {"x": 1.0, "y": 0.0, "z": 0.5}, targets, iterations=5, log=lambda s: None)
    b_noise = [np.random.default_rng(s).normal(0, 0.05, 2)[1] for s in range(4)]  # the second draw of each seed
    truth_y = (3.0 - np.mean(b_noise)) / 2
    assert fit.params["y"] == pytest.approx(truth_y, abs=0.02)
    assert 5 * math.log(fit.params["x"]) + fit.params["y"] == pytest.approx(10.0, abs=0.05)
    ident = {r["parameter"]: r for r in msm.identification(fit, params, targets)}
    assert ident["x"]["identified"] and ident["y"]["identified"] and not ident["z"]["identified"]
    draws = msm.bootstrap(fit, params, targets, draws=500)
    lo, hi = np.quantile(draws["y"], [0.025, 0.975])
    assert lo < fit.params["y"] < hi and hi - lo < 1.0  # b's tolerance 0.5 -> sd 0.25/2 on y
    assert np.quantile(draws["z"], 0.975) - np.quantile(draws["z"], 0.025) > 0.8  # the whole range


def test_gauss_newton_refuses_threshold_targets():
    with pytest.raises(ValueError, match="only point and range"):
        msm.residuals({}, [Target("d", "p", "d", "above", "", "s", True, low=0.0)])


# ------------------------------------------------------------------ validate on the timeline
def test_validate_timeline_prints_both_tables_and_writes_the_paths_figure(tmp_path):
    args = ["validate", "china-2019-2024", "--consumers", "300", "--replicates", "2", "--days", "800"]
    result = CliRunner().invoke(app, [*args, "--targets", "timeline", "--out", str(tmp_path)])
    assert result.exit_code == 0, result.output
    assert "## In sample, 2019-2021" in result.output and "## Out of sample, 2022-2024" in result.output
    assert "Douyin GMV, 2020 (scaled)" in result.output and "not modelled" in result.output
    assert (tmp_path / "timeline.png").stat().st_size > 10_000
    assert (tmp_path / "validation.md").read_text().count("| Fact |") == 2



def test_a_days_events_for_one_platform_act_together():
    """A ban lifted on its own day (an arm undoing a timeline event) is no ban at all: no new-link friction."""
    ban = {"platform": "video", "date": dt.date(2019, 1, 5), "set": {"link_ban": True}}
    lift = {"platform": "video", "date": dt.date(2019, 1, 5), "set": {"link_ban": False}}
    plain = LiveCommerceModel(load_scenario("minimal", consumers=400, days=20)).run()
    undone = LiveCommerceModel(load_scenario("minimal", consumers=400, days=20, policies=[ban, lift])).run()
    assert plain.equals(undone)
