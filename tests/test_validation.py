"""Stylized-fact moments on a hand-built results table, target verdicts, summary, CLI errors."""

import datetime as dt
import math

import numpy as np
import polars as pl
import pytest
from typer.testing import CliRunner

from livemarket import validation as v
from livemarket.cli import app

PLATFORMS = ("douyin", "kuaishou", "taobao", "jd", "pinduoduo")


def _frame() -> pl.DataFrame:
    """2019-01-01 .. 2021-06-30 with constant daily values; live GMV doubles in 2020, flat in 2021."""
    days = [dt.date(2019, 1, 1) + dt.timedelta(d) for d in range(912)]
    gmv = {"douyin": 1.0, "kuaishou": 1.0, "taobao": 5.0, "jd": 3.0, "pinduoduo": 2.0}
    orders = {"douyin": 0.01, "kuaishou": 0.02, "taobao": 0.04, "jd": 0.03, "pinduoduo": 0.05}
    live = {"taobao": 0.6, "kuaishou": 0.3, "douyin": 0.1, "jd": 0.0, "pinduoduo": 0.0}
    rows = []
    for step, day in enumerate(days):
        growth = 2.0 if day.year >= 2020 else 1.0
        for p in PLATFORMS:
            rows += [
                (step, day, p, "all", "gmv_rmb", gmv[p], gmv[p] * 1e6),
                (step, day, p, "all", "orders", orders[p], None),
                (step, day, p, "all", "live_room_gmv_rmb", live[p] * growth * 0.6, None),
            ]
        rows += [
            (step, day, "taobao", "live_own_shop", "orders", 10.0, None),
            (step, day, "taobao", "live_own_shop", "returns", 4.0, None),
            (step, day, "jd", "planned_search", "orders", 10.0, None),
            (step, day, "jd", "planned_search", "returns", 2.0, None),
            (step, day, "all", "all", "adopter_share", 0.2 + 0.0002 * step, None),
            (step, day, "all", "all", "streamer_top1_share", 0.25, None),
        ]
    return pl.DataFrame(
        rows,
        schema=["step", "date", "platform", "channel", "metric", "value", "value_scaled"],
        orient="row",
    )


def test_moments_on_a_hand_built_table():
    m = v.moments(_frame(), streamer_gmv=None)
    assert m["shelf_share_taobao"] == pytest.approx(50.0)
    assert m["shelf_share_jd"] == pytest.approx(30.0)
    assert m["shelf_share_pinduoduo"] == pytest.approx(20.0)
    assert m["market_gmv_2019_bn"] == pytest.approx(365 * 12e6 / 1e9)
    assert m["live_share_of_gmv_2019"] == pytest.approx(100 * 0.6 / 12)
    assert (
        m["live_share_2019_taobao"],
        m["live_share_2019_kuaishou"],
        m["live_share_2019_douyin"],
    ) == pytest.approx((60, 30, 10))
    assert m["live_share_q4_2020_douyin"] == pytest.approx(10)
    day = (dt.date(2020, 3, 31) - dt.date(2019, 1, 1)).days
    assert m["adopters_2020_03"] == pytest.approx(100 * (0.2 + 0.0002 * day))
    assert m["aov_taobao"] == pytest.approx(125.0) and m["aov_douyin"] == pytest.approx(100.0)
    assert m["aov_kuaishou"] == pytest.approx(50.0)
    assert m["aov_order_margin"] == pytest.approx(25.0)
    assert m["streamer_top1_share"] == pytest.approx(25.0)
    assert math.isnan(m["streamer_tail_index"])
    assert m["growth_live_h1_2020"] == pytest.approx(100.0) and m[
        "growth_live_h2_2020"
    ] == pytest.approx(100.0)
    assert m["growth_live_h1_2021"] == pytest.approx(0.0)
    assert m["growth_deceleration"] == pytest.approx(100.0)
    assert m["return_rate_live"] == pytest.approx(40.0) and m["return_rate_shelf"] == pytest.approx(
        20.0
    )
    assert m["return_ratio"] == pytest.approx(2.0)
    assert set(m) == {t.key for t in v.TARGETS}


def test_hill_estimator_recovers_a_pareto_index():
    x = np.random.default_rng(1).pareto(1.5, 200_000) + 1.0
    assert v.hill_tail_index(x, top=0.05) == pytest.approx(1.5, rel=0.05)


def test_target_verdicts_and_distances():
    point = v.Target("a", "p", "l", "point", "%", "s", True, value=50.0, tolerance=3.0)
    assert point.passes(52.9) and not point.passes(53.1)
    assert point.distance(56.0) == pytest.approx(2.0)
    rng = v.Target("b", "p", "l", "range", "%", "s", False, low=10.0, high=20.0)
    assert rng.passes(15) and not rng.passes(21)
    assert rng.distance(15) == 0.0 and rng.distance(25) == pytest.approx(1.0)
    above = v.Target("c", "p", "l", "above", "x", "s", False, low=1.0, tolerance=0.5)
    assert above.passes(1.1) and not above.passes(0.9) and above.distance(0.5) == pytest.approx(1.0)
    assert v.Target("d", "p", "l", "info", "x", "s", False).passes(3.0) is None
    assert point.passes(float("nan")) is None and point.distance(float("nan")) == 10.0


def test_normalised_shelf_targets_and_sources():
    shares = [v.target_by_key(f"shelf_share_{p}").value for p in ("taobao", "jd", "pinduoduo")]
    assert sum(shares) == pytest.approx(100, abs=0.05)
    assert shares[0] == pytest.approx(100 * 50.1 / 89.41, abs=0.01)
    assert all(t.source for t in v.TARGETS)
    with pytest.raises(KeyError, match="accepted"):
        v.target_by_key("nope")


def test_summary_interval_and_table():
    runs = [{t.key: 1.0 for t in v.TARGETS} | {"shelf_share_taobao": x} for x in (54.0, 56.0, 58.0)]
    s = v.summarise(runs)
    row = s.filter(pl.col("key") == "shelf_share_taobao").row(0, named=True)
    half = 4.302653 * 2.0 / math.sqrt(3)  # t(0.975, 2) * sd / sqrt(n)
    assert row["mean"] == pytest.approx(56.0) and row["high"] - row["mean"] == pytest.approx(
        half, rel=1e-5
    )
    assert row["passed"] is True
    table = v.markdown_table(s)
    assert table.splitlines()[0].startswith("| Pattern | Measure")
    assert len(table.splitlines()) == len(v.TARGETS) + 2
    assert v.loss({"shelf_share_taobao": 56.03 + 6}, ["shelf_share_taobao"]) == pytest.approx(
        4.0, rel=0.01
    )


def test_run_spec_lays_the_2020_history_over_the_scenario():
    cfg = v.RunSpec(consumers=300, days=50, seed=3).config()
    assert [(p.platform, p.date, p.set) for p in cfg.policies][-1] == (
        "douyin",
        dt.date(2020, 10, 9),
        {"link_ban": True},
    )
    assert cfg.days == 50 and cfg.seed == 3 and cfg.consumers == 300
    assert v.RunSpec(history=False, days=50).config().policies == []


def test_one_short_replicate_end_to_end():
    m = v.run_moments(v.RunSpec(consumers=300, days=40, seed=1))
    assert sum(m[f"shelf_share_{p}"] for p in ("taobao", "jd", "pinduoduo")) == pytest.approx(100)
    assert 0 < m["market_gmv_2019_bn"] and math.isnan(
        m["adopters_2020_03"]
    )  # not reached in 40 days


SMALL = ["--days", "5", "--consumers", "200", "--replicates", "1", "--out", "/nonexistent/never-written"]


@pytest.mark.parametrize(
    "args",
    [
        ["validate", "nosuch"],
        ["validate", "--set", "consumer.bass_q=7"],
        ["validate", "--replicates", "0"],
        ["validate", "--model", "no_such_module_xyz:Model", *SMALL],
        ["validate", "--model", "sweep_strategies:FeeRatchet", "--set", "model.caps=1", *SMALL],
    ],
)
def test_validate_command_errors_exit_2(args):
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 2
    assert "error" in result.output.lower()
