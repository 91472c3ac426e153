"""Save and branch: a restored run continues bit for bit; bad checkpoints are refused by name."""

import json

import pytest

from livemarket import LiveCommerceModel
from livemarket.config import ConfigError, load_scenario
from livemarket.models.checkpoint import CheckpointError, read_header

DYNAMIC = ["brands.channel_review=1.0", "streamers.follow_on_purchase=0.3", "streamers.entry_pool=50",
           "streamers.entry_per_month=0.2", "brands.price_pass_through=0.5"]  # fmt: skip


def test_saved_and_restored_run_is_bit_identical_to_an_uninterrupted_one(tmp_path):
    whole = LiveCommerceModel("china-2019", consumers=800, rng=4, overrides=DYNAMIC).run(70)
    first = LiveCommerceModel("china-2019", consumers=800, rng=4, overrides=DYNAMIC)
    first.run(35)
    path = first.save(tmp_path / "day35.ckpt")
    assert read_header(path)["step"] == 35
    restored = LiveCommerceModel.load(path, scenario="china-2019")
    assert (restored.steps, restored.time) == (35, 35.0)
    assert restored.run(35).equals(whole)
    again = LiveCommerceModel("china-2019", consumers=800, rng=4, overrides=DYNAMIC)
    again.run(70)
    assert restored.datacollector.get_model_vars_dataframe().equals(again.datacollector.get_model_vars_dataframe())
    assert path.read_bytes().find(b"pickle") == -1 and b"__state__" in path.read_bytes()  # data, not code


def test_branches_share_the_state_up_to_their_date(tmp_path):
    root = LiveCommerceModel("china-2019", consumers=600, rng=2)
    root.run(20)
    path = root.save(tmp_path / "root.ckpt")
    ban = LiveCommerceModel.load(path)
    ban.schedule(policies=[{"platform": "douyin", "step": 20, "set": {"link_ban": True}}])
    none = LiveCommerceModel.load(path)
    a, b = ban.run(10), none.run(10)
    before = lambda t: t.filter(t["step"] < 20)  # noqa: E731
    assert before(a).equals(before(b))  # the same history up to the branch date
    outbound = lambda t: t.filter((t["metric"] == "outbound_link_gmv_rmb") & (t["platform"] == "douyin")  # noqa: E731
                                  & (t["step"] >= 20))["value"].sum()  # fmt: skip
    assert outbound(a) == 0 < outbound(b)
    with pytest.raises(ConfigError, match="before today"):
        none.schedule(policies=[{"platform": "douyin", "step": 3, "set": {"link_ban": True}}])
    with pytest.raises(ConfigError, match="weibo"):
        none.schedule(policies=[{"platform": "weibo", "step": 40, "set": {"link_ban": True}}])


def test_a_branch_schedules_supply_shocks_and_scandals_from_today(tmp_path):
    ample = load_scenario("china-2019", ["brands.capacity_orders_per_day=500"], consumers=600)  # none late
    root = LiveCommerceModel(ample, rng=2)
    root.run(20)
    path = root.save(tmp_path / "root.ckpt")
    shocked, calm = LiveCommerceModel.load(path), LiveCommerceModel.load(path)
    shocked.schedule(supply_shocks=[{"start": "2019-01-21", "end": "2019-01-31", "capacity_factor": 0.0}],
                     scandals=[{"date": "2019-01-22", "streamer_rank": 0}])  # fmt: skip
    a, b = shocked.run(10), calm.run(10)
    delayed = lambda t: t.filter(t["metric"] == "orders_delayed")["value"].sum()  # noqa: E731
    assert delayed(a) > 0 == delayed(b)  # no capacity: every order of the shock waits
    assert len(shocked.config.scandals) == len(calm.config.scandals) + 1
    with pytest.raises(ConfigError, match="supply_shocks: an event on 2019-01-05 is before today"):
        calm.schedule(supply_shocks=[{"start": "2019-01-05", "end": "2019-01-31", "capacity_factor": 0.5}])
    with pytest.raises(ConfigError, match="scandals"):
        calm.schedule(scandals=[{"date": "2019-01-02", "streamer_rank": 0}])
    with pytest.raises(ConfigError, match=r"2019-01-30 is before today \(2019-01-31"):  # the last day run is past
        calm.schedule(scandals=[{"date": "2019-01-30", "streamer_rank": 0}])
    calm.schedule(scandals=[{"date": "2019-01-31", "streamer_rank": 0}])  # the next day to run is not


def _saved(tmp_path):
    m = LiveCommerceModel("minimal", consumers=300, rng=1)
    m.run(2)
    return m.save(tmp_path / "m.ckpt")


def test_damaged_foreign_and_other_version_checkpoints_are_refused(tmp_path):
    path = _saved(tmp_path)
    with pytest.raises(CheckpointError, match="of scenario 'minimal', not 'china-2019'"):
        LiveCommerceModel.load(path, scenario="china-2019")
    blob = bytearray(path.read_bytes())
    blob[-100] ^= 0xFF
    (tmp_path / "flipped.ckpt").write_bytes(bytes(blob))
    with pytest.raises(CheckpointError, match="damaged"):
        LiveCommerceModel.load(tmp_path / "flipped.ckpt")
    (tmp_path / "short.ckpt").write_bytes(path.read_bytes()[:-10])
    with pytest.raises(CheckpointError, match="damaged"):
        LiveCommerceModel.load(tmp_path / "short.ckpt")
    header, _, payload = path.read_bytes().partition(b"\n")
    old = json.loads(header) | {"state_version": 0}
    (tmp_path / "old.ckpt").write_bytes(json.dumps(old).encode() + b"\n" + payload)
    with pytest.raises(CheckpointError, match="state version 0"):
        LiveCommerceModel.load(tmp_path / "old.ckpt")
    (tmp_path / "text.ckpt").write_text("hello\n")
    with pytest.raises(CheckpointError, match="not a livemarket checkpoint"):
        LiveCommerceModel.load(tmp_path / "text.ckpt")
    with pytest.raises(CheckpointError, match="does not exist"):
        LiveCommerceModel.load(tmp_path / "missing.ckpt")


def test_save_replaces_the_file_whole(tmp_path):
    path = _saved(tmp_path)
    m = LiveCommerceModel("minimal", consumers=300, rng=1)
    m.run(5)
    m.save(path)
    assert LiveCommerceModel.load(path).steps == 5
    assert [p.name for p in tmp_path.iterdir()] == ["m.ckpt"]  # no temporary left behind


def test_run_resume_continues_bit_identically_and_bad_states_exit_2(tmp_path):
    import polars as pl
    from typer.testing import CliRunner

    from livemarket.cli import app

    cli, base = CliRunner(), ["--consumers", "300", "--no-progress"]
    straight_run = cli.invoke(app, ["run", "minimal", "--days", "15", "--out", str(tmp_path / "straight"), *base])
    assert straight_run.exit_code == 0
    first = cli.invoke(app, ["run", "minimal", "--days", "10", "--out", str(tmp_path / "a"), *base,
                             "--save-state", str(tmp_path / "s.ckpt")])  # fmt: skip
    assert first.exit_code == 0, first.output
    second = cli.invoke(app, ["run", "minimal", "--resume", str(tmp_path / "s.ckpt"), "--days", "5",
                              "--out", str(tmp_path / "b"), "--no-progress"])  # fmt: skip
    assert second.exit_code == 0, second.output
    straight = pl.read_parquet(tmp_path / "straight" / "results.parquet")
    assert pl.read_parquet(tmp_path / "b" / "results.parquet").equals(straight)
    damaged = tmp_path / "d.ckpt"
    damaged.write_bytes((tmp_path / "s.ckpt").read_bytes()[:-10])
    for args, says in (
        (["run", "china-2019", "--resume", str(tmp_path / "s.ckpt")], "not 'china-2019'"),
        (["run", "minimal", "--resume", str(damaged)], "damaged"),
        (["run", "minimal", "--resume", str(tmp_path / "none.ckpt")], "does not exist"),
        (["run", "minimal", "--resume", str(tmp_path / "s.ckpt"), "--seed", "3"], "not accepted"),
    ):
        result = cli.invoke(app, [*args, "--days", "5", "--out", str(tmp_path / "b"), "--no-progress"])
        assert result.exit_code == 2 and says in result.output, result.output
        assert pl.read_parquet(tmp_path / "b" / "results.parquet").equals(straight)  # nothing overwritten
