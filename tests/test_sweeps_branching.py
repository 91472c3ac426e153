"""Warm starts: arms branch from one shared simulated state (start_from), refused when they cannot."""

import datetime as dt

import pytest

from livemarket.config import ConfigError
from livemarket.sweeps import store
from livemarket.sweeps.runner import run_sweep
from livemarket.sweeps.spec import Experiment

BAN = "policies=[{platform='video', date=2019-01-21, set={link_ban=true}}]"


def _spec(**kw) -> Experiment:
    metrics = [
        {"metric": "gmv_rmb", "agg": "sum", "window": ["2019-01-01", "2019-01-21"], "name": "gmv_before"},
        {"platform": "video", "metric": "outbound_link_gmv_rmb", "agg": "sum",
         "window": ["2019-01-21", "2019-02-10"], "name": "outbound_after"},
    ]  # fmt: skip
    base = dict(name="branch", scenario="minimal", days=40, consumers=400, replicates=2, root_seed=3,
                common_random_numbers=True, factors={"policy": {"levels": {"none": [], "ban": [BAN]}}},
                metrics=metrics)  # fmt: skip
    return Experiment(**(base | kw))


def test_arms_share_the_warm_state_and_equal_straight_runs(tmp_path):
    run_sweep(_spec(start_from="minimal@2019-01-21"), tmp_path / "warm", workers=0, progress=False)
    run_sweep(_spec(), tmp_path / "straight", workers=0, progress=False)
    warm, straight = store.results(tmp_path / "warm"), store.results(tmp_path / "straight")
    assert len(list((tmp_path / "warm" / "warm").glob("*.ckpt"))) == 2  # one shared state per replicate
    key = ["policy", "replicate"]
    w, s = warm.sort(key), straight.sort(key)
    # a branched arm whose change is a dated policy is the straight run, bit for bit
    assert w.select(*key, "gmv_before", "outbound_after").equals(s.select(*key, "gmv_before", "outbound_after"))
    for r in (0, 1):
        arms = w.filter(w["replicate"] == r)
        assert arms["gmv_before"].n_unique() == 1  # the same history up to the branch
        after = dict(zip(arms["policy"], arms["outbound_after"], strict=True))
        assert after["ban"] == 0 < after["none"]


def test_bad_start_from_is_refused_before_any_run(tmp_path):
    with pytest.raises(ValueError, match="accepted: '<scenario>@YYYY-MM-DD'"):
        _spec(start_from="2019-01-21")
    with pytest.raises(ValueError, match="experiment's scenario is 'minimal'"):
        _spec(start_from="china-2019@2019-01-21")
    with pytest.raises(ConfigError, match="outside the run"):
        run_sweep(_spec(start_from="minimal@2019-03-01"), tmp_path / "late", workers=0, progress=False)
    levels = {"none": [], "wom": ["behaviour.word_of_mouth=0.5"]}
    bad = _spec(start_from="minimal@2019-01-21", factors={"policy": {"levels": levels}})
    with pytest.raises(ConfigError, match="an arm changes 'behaviour'"):
        run_sweep(bad, tmp_path / "bad", workers=0, progress=False)
    assert not (tmp_path / "late").exists() and not (tmp_path / "bad").exists()
    early = {"none": [], "ban": ["policies=[{platform='video', date=2019-01-10, set={link_ban=true}}]"]}
    with pytest.raises(ConfigError, match="adds policies on 2019-01-10, before the branch date 2019-01-21"):
        run_sweep(_spec(start_from="minimal@2019-01-21", factors={"policy": {"levels": early}}),
                  tmp_path / "early", workers=0, progress=False)  # fmt: skip
    assert not (tmp_path / "early").exists()


def test_an_arm_adds_a_supply_shock_at_the_branch(tmp_path):
    shock = "supply_shocks=[{start=2019-01-21, end=2019-02-10, capacity_factor=0.0}]"
    metrics = [{"metric": "orders_delayed", "agg": "sum", "window": ["2019-01-21", "2019-02-10"], "name": "late"},
               {"metric": "gmv_rmb", "agg": "sum", "window": ["2019-01-01", "2019-01-21"], "name": "gmv_before"}]
    spec = _spec(start_from="minimal@2019-01-21", metrics=metrics,
                 factors={"supply": {"levels": {"none": [], "shock": [shock]}}})  # fmt: skip
    run_sweep(spec, tmp_path / "shock", workers=0, progress=False)
    rows = store.results(tmp_path / "shock")
    for r in (0, 1):
        arms = dict(zip(*rows.filter(rows["replicate"] == r).select("supply", "late"), strict=True))
        assert arms["shock"] > arms["none"]
        assert rows.filter(rows["replicate"] == r)["gmv_before"].n_unique() == 1


def test_the_head_streamer_is_ranked_again_at_the_branch_and_a_rank_0_scandal_hits_it(tmp_path, monkeypatch):
    """After the branch, head_streamer_gmv_rmb follows the head of that day, the streamer a rank-0 scandal hits."""
    from livemarket import LiveCommerceModel, load_scenario
    from livemarket.models.metrics import Recorder

    config = load_scenario("minimal", ["streamers.scandal_hazard_per_day=0.0"], consumers=400, days=40)
    model = LiveCommerceModel(config, rng=1)
    model.run(5)
    s = model.streamers
    hired = [int(r) for r in s.is_hired.nonzero()[0] if s.active[r] and r != model.recorder.head_streamer]
    s.popularity[hired[-1]] = s.popularity.max() + 1.0  # another streamer becomes the head
    model.recorder.rank_head_streamer()
    assert model.recorder.head_streamer == hired[-1]
    model.schedule(scandals=[{"date": config.start_date + dt.timedelta(days=model.steps), "streamer_rank": 0}])
    model.step()
    assert model.scandals_today == [hired[-1]]

    ranked = []  # the sweep re-ranks every branched run when it leaves the warm state
    original = Recorder.rank_head_streamer
    monkeypatch.setattr(Recorder, "rank_head_streamer", lambda self: ranked.append(self.model.steps) or original(self))
    spec = _spec(start_from="minimal@2019-01-21")
    run_sweep(spec, tmp_path / "warm", workers=0, progress=False)
    assert ranked.count(20) == 2 * spec.replicates  # both arms of each replicate, at the branch step
