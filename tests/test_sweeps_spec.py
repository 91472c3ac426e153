"""Experiment specs: validation, designs, overrides, identities (fast, no simulation)."""

import datetime as dt

import pytest

from livemarket import ConfigError
from livemarket.sweeps.catalog import BUILTIN_DIR
from livemarket.sweeps.spec import Experiment, load_experiment, toml_value

EXPERIMENTS = BUILTIN_DIR


def _spec(**kw) -> Experiment:
    base = dict(name="t", scenario="minimal", days=5, consumers=100, metrics=["gmv_rmb:sum"])
    return Experiment(**(base | kw))


def test_grid_points_overrides_and_run_ids():
    exp = _spec(
        replicates=3,
        factors={
            "ban": {"path": "platforms.video.link_ban", "values": [False, True]},
            "policy": {"levels": {"none": [], "fee": ["platforms.video.ext_link_fee=${fee}"]}},
            "fee": {"values": [0.1, 0.3]},
        },
    )
    points = exp.points()
    assert len(points) == 8 and points[0] == {"ban": False, "policy": "none", "fee": 0.1}
    assert exp.point_overrides(points[3]) == ["platforms.video.link_ban=false", "platforms.video.ext_link_fee=0.3"]
    plan = exp.plan()
    assert len(plan.runs) == 24 and len({r.run_id for r in plan.runs}) == 24
    assert plan.runs[5].spawn_key == (1, 2)
    # identity depends on what the run is, not on anything else
    assert [r.run_id for r in exp.plan().runs] == [r.run_id for r in plan.runs]
    other = _spec(replicates=3, days=6, factors=exp.model_dump()["factors"])
    assert plan.runs[0].run_id != other.plan().runs[0].run_id


def test_common_random_numbers_share_seeds_across_points():
    exp = _spec(replicates=2, common_random_numbers=True,
                factors={"ban": {"path": "platforms.video.link_ban", "values": [False, True]}})
    keys = [r.spawn_key for r in exp.plan().runs]
    assert keys == [(0, 0), (0, 1), (0, 0), (0, 1)]


@pytest.mark.parametrize(("design", "n"), [("lhs", 8), ("sobol", 8 * 4), ("morris", 8 * 3)])
def test_sampled_designs_are_seeded_and_crossed_with_grid_factors(design, n):
    factors = {"ad": {"path": "platforms.video.ad_load", "range": [0.05, 0.3]},
               "fee": {"path": "platforms.video.ext_link_fee", "range": [0.0, 0.2]},
               "ban": {"path": "platforms.video.link_ban", "values": [False, True]}}  # fmt: skip
    exp = _spec(design=design, samples=8, factors=factors)
    points = exp.points()
    assert len(points) == 2 * n
    assert all(0.05 <= p["ad"] <= 0.3 and 0.0 <= p["fee"] <= 0.2 for p in points)
    assert [p["sample"] for p in points[:3]] == [0, 1, 2]
    assert points == _spec(design=design, samples=8, factors=factors).points()
    assert points != _spec(design=design, samples=8, factors=factors, root_seed=5).points()


def test_metric_shorthand_and_windows():
    exp = _spec(metrics=["hhi", "video.gmv_share:last", "video.live_own_shop.gmv_rmb:daily", "*.returns:sum",
                         {"metric": "gmv_rmb", "agg": "sum", "window": [dt.date(2019, 1, 2), dt.date(2019, 1, 4)],
                          "name": "gmv_early"}])  # fmt: skip
    names = [m.name for m in exp.metrics]
    assert names == [
        "hhi_mean", "video_gmv_share_last", "video_live_own_shop_gmv_rmb_daily", "any_returns_sum", "gmv_early"
    ]


def test_bad_override_value_is_caught_before_running():
    exp = _spec(factors={"ad": {"path": "platforms.video.ad_load", "values": [0.1, 1.5]}})
    with pytest.raises(ConfigError, match="ad_load"):
        exp.plan()


def test_fingerprint_ignores_header_and_quick_applies_sizes():
    exp = _spec(question="q", quick={"replicates": 1, "days": 3, "overrides": ["platforms.video.ad_load=0.2"]})
    assert exp.fingerprint() == exp.model_copy(update={"question": "other"}).fingerprint()
    quick = exp.effective(quick=True)
    assert (quick.days, quick.replicates, quick.overrides) == (3, 1, ["platforms.video.ad_load=0.2"])
    assert quick.fingerprint() != exp.effective().fingerprint()
    with pytest.raises(ConfigError, match="no \\[quick\\]"):
        _spec().effective(quick=True)


def test_toml_value_round_trips_through_tomllib():
    import tomllib

    for v in [True, 3, 0.1, "a'b\"c", dt.date(2020, 10, 9), [1, "x"], {"douyin": 0.2, "a-b": [True]}]:
        assert tomllib.loads(f"v = {toml_value(v)}")["v"] == v


def test_every_named_experiment_is_valid_and_has_a_quick_size():
    files = sorted(EXPERIMENTS.glob("*.toml"))
    assert len(files) == 12
    for f in files:
        exp = load_experiment(f)
        assert exp.question and exp.strategy and exp.expected and exp.expect, f.name
        header = f.read_text().splitlines()[:3]
        assert header[0].startswith("# Question:"), f.name
        quick = exp.effective(quick=True)
        assert quick.plan(), f.name


def test_named_experiments_are_the_packages_and_the_working_folders(tmp_path, monkeypatch):
    from livemarket.sweeps.catalog import builtin_experiments, experiment_files, find_experiment

    assert len(builtin_experiments()) == 12
    monkeypatch.chdir(tmp_path)
    (tmp_path / "experiments").mkdir()
    spec = 'scenario = "minimal"\ndays = 3\nconsumers = 200\nmetrics = ["gmv_rmb:sum"]\n'
    for stem in ("01-douyin-link-ban", "99-mine"):
        (tmp_path / "experiments" / f"{stem}.toml").write_text(spec)
    files = experiment_files()
    assert len(files) == 13 and find_experiment("mine") == tmp_path / "experiments" / "99-mine.toml"
    assert find_experiment("douyin-link-ban").parent == tmp_path / "experiments"  # the local one wins
    assert find_experiment("ad-load-user-time").parent.name == "experiments" and "livemarket" in str(
        find_experiment("ad-load-user-time"))  # fmt: skip
    with pytest.raises(ConfigError, match=r"no experiment 'nope'; accepted: a .toml path or one of .*mine"):
        find_experiment("nope")
