"""The model end to end: reproducibility, accounting, invariants, reference equivalence, Mesa tools."""

import mesa
import numpy as np
import polars as pl
import pytest

from livemarket import LiveCommerceModel
from livemarket.agents.brand import Brand
from livemarket.agents.platform import Platform
from livemarket.agents.streamer import Streamer


def _market(df: pl.DataFrame, metric: str) -> np.ndarray:
    return df.filter(pl.col("platform") == "all", pl.col("metric") == metric).sort("step")["value"].to_numpy()


def test_table_is_tidy_and_complete(minimal_run):
    _, df = minimal_run
    assert df.columns == ["run_id", "step", "date", "platform", "channel", "metric", "value", "value_scaled"]
    assert df["step"].n_unique() == 40
    assert df.select(pl.col("value").is_nan().any() | pl.col("value").is_infinite().any()).item() is False
    assert set(df["platform"].unique()) == {"video", "mall", "all"}
    assert set(df["channel"].unique()) == {
        "live_own_shop", "live_outbound_link", "live_later_search", "planned_search", "splash_ad",
        "video_own_shop", "video_outbound_link", "video_later_search", "all",
    }  # fmt: skip
    for metric in ("hhi", "consumer_surplus_rmb", "streamer_gini", "streamer_top1_share", "multihoming_rate",
                   "self_broadcast_share", "return_rate", "adopter_share"):
        assert len(_market(df, metric)) == 40, metric
    # money is also reported scaled to the real population; shares are not scaled
    gmv = df.filter(pl.col("metric") == "gmv_rmb", pl.col("platform") == "all")
    scale = 940e6 / 600
    assert np.allclose(gmv["value_scaled"].to_numpy(), gmv["value"].to_numpy() * scale)
    assert df.filter(pl.col("metric") == "hhi")["value_scaled"].null_count() == 40


def test_accounting_closes_every_day(minimal_run):
    _, df = minimal_run
    gmv = _market(df, "gmv_rmb")
    paid = sum(
        _market(df, m) for m in ("brand_receipts_rmb", "streamer_receipts_rmb", "platform_receipts_rmb", "refunds_rmb")
    )
    assert gmv.sum() > 0
    np.testing.assert_allclose(gmv, paid, rtol=1e-9, atol=1e-6)
    # the channel table adds up to the market total, day by day
    by_channel = (
        df.filter(pl.col("metric") == "gmv_rmb", pl.col("channel") != "all", pl.col("platform") != "all")
        .group_by("step").agg(pl.col("value").sum()).sort("step")["value"].to_numpy()
    )
    np.testing.assert_allclose(by_channel, gmv, rtol=1e-9)
    net = _market(df, "gmv_net_rmb")
    np.testing.assert_allclose(net, gmv - _market(df, "refunds_rmb"), rtol=1e-9, atol=1e-6)


def test_recorded_trust_is_the_consumers_trust_and_orders_move_it_both_ways(minimal_run):
    model, df = minimal_run
    last = df.filter(pl.col("step") == df["step"].max(), pl.col("channel") == "all")
    trust = model.consumers.platform_trust()  # (N, P): 600 consumers, every one in the statistics
    prior_a, prior_b = model.trust_prior_evidence()
    for p in model.platform_list:
        value = lambda m, name=p.name: last.filter(pl.col("platform") == name, pl.col("metric") == m)["value"].item()  # noqa: E731
        x = trust[:, p.index]
        assert value("trust_mean") == pytest.approx(x.mean(), rel=1e-12)
        assert [value(f"trust_p{q}") for q in (10, 50, 90)] == pytest.approx(np.quantile(x, [0.1, 0.5, 0.9]))
        # good orders raised some consumers' trust above the prior, bad ones lowered others' below it
        prior = prior_a[p.index] / (prior_a[p.index] + prior_b[p.index])
        assert (x > prior + 1e-6).any() and (x < prior - 1e-6).any(), p.name


def test_same_seed_identical_other_seed_different():
    a = LiveCommerceModel("minimal", consumers=400, rng=11).run(15)
    b = LiveCommerceModel("minimal", consumers=400, rng=11).run(15)
    c = LiveCommerceModel("minimal", consumers=400, rng=12).run(15)
    assert a.equals(b)
    assert not a["value"].equals(c["value"])


@pytest.mark.parametrize(
    ("scenario", "consumers", "overrides"),
    [
        ("minimal", 800, ["platforms.mall.traffic_bought={video=0.2}", "streamers.scandal_hazard_per_day=0.01"]),
        ("china-2019", 500, ["platforms.taobao.traffic_bought={douyin=0.1}", "platforms.kuaishou.link_ban=true"]),
    ],
)
def test_reference_agents_reproduce_column_engine(scenario, consumers, overrides):
    kw = dict(consumers=consumers, rng=5, overrides=overrides)
    columns = LiveCommerceModel(scenario, **kw).run(30)
    reference_model = LiveCommerceModel(scenario, consumer_engine="reference", **kw)
    reference = reference_model.run(30)
    assert len(reference_model.agents_by_type[reference_model.consumers.agents[0].__class__]) == consumers
    assert _market(columns, "orders").sum() > 100
    np.testing.assert_allclose(reference["value"].to_numpy(), columns["value"].to_numpy(), rtol=1e-9, atol=1e-9)


def test_agents_by_type_lists_the_three_agent_classes():
    model = LiveCommerceModel("minimal", consumers=200, rng=1)
    assert set(model.agents_by_type) == {Platform, Brand, Streamer}
    assert len(model.agents_by_type[Platform]) == 2
    assert len(model.agents_by_type[Brand]) == 30
    assert len(model.agents_by_type[Streamer]) == 40 + 30  # hired + one own account per brand
    s = model.agents_by_type[Streamer][0]
    assert 0.0 <= s.reputation <= 1.0 and s.followers >= 0


def test_mesa_batch_run_with_datacollector():
    rows = mesa.batch_run(
        LiveCommerceModel,
        parameters={"scenario": "minimal", "consumers": [200, 300]},
        max_steps=5,
        number_processes=1,
        data_collection_period=1,
        display_progress=False,
        rng=[3],
    )
    assert {r["consumers"] for r in rows} == {200, 300}
    assert {"gmv_rmb", "hhi", "share_video", "share_mall"} <= set(rows[0])
    assert max(r["Step"] for r in rows) == 5
    frame = LiveCommerceModel("minimal", consumers=200, rng=3)
    frame.run(3)
    assert len(frame.datacollector.get_model_vars_dataframe()) == 3


def test_parquet_round_trip(tmp_path, minimal_run):
    model, df = minimal_run
    path = model.write_parquet(tmp_path / "out" / "results.parquet")
    assert pl.read_parquet(path).equals(df)


def test_snapshot_reports_the_population_as_drawn():
    model = LiveCommerceModel("minimal", consumers=300, rng=4)
    snap = model.consumers.snapshot()
    assert set(np.unique(snap.tier)) <= {0, 1, 2, 3} and len(np.unique(snap.tier)) > 1
    ref = LiveCommerceModel("minimal", consumers=300, rng=4, consumer_engine="reference").consumers.snapshot()
    assert np.array_equal(snap.tier, ref.tier) and np.array_equal(snap.installed, ref.installed)


def test_day_streams_spawn_on_first_use_as_their_seed_says():
    model = LiveCommerceModel("minimal", consumers=200, rng=5)
    streams = model.day_streams(7)
    assert len(streams) == 0  # nothing spawned until asked for
    seed = np.random.SeedSequence(model.stream_entropy, spawn_key=(7, 3))  # "live" is the fourth process
    assert np.array_equal(streams["live"].random(4), np.random.default_rng(seed).random(4))
    assert streams["live"] is streams["live"] and list(streams) == ["live"]
    with pytest.raises(KeyError, match="no random stream 'lve'"):
        streams["lve"]


def test_kept_group_layout_follows_changed_keys():
    from livemarket.core.sampling import GroupLayout

    model = LiveCommerceModel("minimal", consumers=200, rng=5)
    keys = np.array([3, 1, 2, 1])
    first = model._group_layout("rooms", keys, 4)
    assert model._group_layout("rooms", keys.copy(), 4) is first  # equal keys: the kept layout
    keys[0] = 0  # a caller's array changing in place must not reuse the old layout
    changed, fresh = model._group_layout("rooms", keys, 4), GroupLayout.of(keys, 4)
    assert all(np.array_equal(a, b) for a, b in zip(changed, fresh, strict=True))
    labelled = model._group_layout("shelf", keys, 4, labels_repeat=2)  # cells of a (2, 2) table: rows label them
    assert labelled.items.tolist() == (np.arange(4) // 2)[np.argsort(keys, kind="stable")].tolist()


def test_metric_stack_follows_the_registry_and_refuses_unregistered_names():
    from livemarket.models import metrics

    names = metrics.PLATFORM_METRICS
    values = {k: np.arange(3.0) + i for i, k in enumerate(names)}
    stacked = metrics._stack("platform", values, names)
    assert stacked.shape == (3, len(names)) and stacked.flags.c_contiguous
    assert np.array_equal(stacked[:, 1], values[names[1]])
    with pytest.raises(RuntimeError, match=r"missing \['gmv_rmb'\], not registered \['gmv'\]"):
        metrics._stack("platform", {("gmv" if k == "gmv_rmb" else k): v for k, v in values.items()}, names)


def test_results_before_any_day_are_an_empty_table_with_the_full_schema():
    model = LiveCommerceModel("minimal", consumers=200, rng=5, run_id="r1")
    empty = model.results()
    model.run(2)
    table = model.results()
    assert empty.height == 0 and empty.schema == table.schema
    assert table["run_id"].unique().to_list() == ["r1"] and table.null_count()["platform"].item() == 0
