"""The dynamic market (docs/ODD.md, "The dynamic market"): each mechanism on a tiny case whose answer is known."""

import numpy as np
import polars as pl
import pytest

from livemarket import LiveCommerceModel
from livemarket.config import ConfigError, load_scenario
from livemarket.core import rules

#: every new mechanism switched on at once
DYNAMIC = [
    "brands.channel_review=1.0", "brands.price_pass_through=0.5", "streamers.entry_pool=300",
    "streamers.entry_per_month=0.1", "streamers.exit_income_rmb=2.0", "streamers.exit_per_month=0.2",
    "streamers.follow_on_purchase=0.5", "platforms.douyin.install_pull=0.002", "platforms.kuaishou.commission=0.3",
    "consumer.live_substitution=0.6", "behaviour.video_views_per_minute=0.002",
]  # fmt: skip


def _series(table: pl.DataFrame, metric: str, platform: str = "all") -> np.ndarray:
    rows = table.filter(pl.col("metric") == metric, pl.col("platform") == platform, pl.col("channel") == "all")
    return rows.sort("step")["value"].to_numpy()


def test_reference_engine_reproduces_columns_with_every_mechanism_on():
    kw = dict(consumers=400, rng=5, overrides=DYNAMIC)
    columns = LiveCommerceModel("china-2019", **kw).run(65)  # two monthly reviews
    reference = LiveCommerceModel("china-2019", consumer_engine="reference", **kw).run(65)
    np.testing.assert_allclose(reference["value"].to_numpy(), columns["value"].to_numpy(), rtol=1e-9, atol=1e-9)
    assert _series(columns, "followers", "douyin")[-1] > _series(columns, "followers", "douyin")[0]
    assert _series(columns, "price_index")[-1] > 1.0


def _brand_with_ledger(overrides, live_value_rmb=1000.0):
    model = LiveCommerceModel("china-2019", consumers=10_000, rng=1, overrides=["brands.count=20", *overrides])
    brand = model.agents_by_type[next(c for c in model.agents_by_type if c.__name__ == "Brand")][0]
    t, r, douyin = model.brands, brand.row, model.platforms["douyin"].index
    t.listed[r, :] = False
    t.listed[r, model.platforms["taobao"].index] = True
    t.own_shop[r, :] = False
    t.content_value_by_source_rmb[r, douyin] = live_value_rmb
    return model, brand, douyin


def test_shop_gain_is_demand_times_the_margin_gap():
    # own shop 1 - 0.05; link to Taobao 1 - fee - 0.05
    for fee, gap in ((0.06, 0.06), (0.2, 0.2)):
        _, brand, douyin = _brand_with_ledger([f"platforms.douyin.ext_link_fee={fee}"])
        assert brand.shop_gains_rmb()[douyin] == pytest.approx(1000.0 * gap)
    _, brand, douyin = _brand_with_ledger(["platforms.douyin.link_ban=true"])  # no link: the shop is the only way
    assert brand.shop_gains_rmb()[douyin] == pytest.approx(1000.0 * 0.95)


def test_a_20pct_link_fee_opens_a_shop_that_a_6pct_fee_does_not():
    # switching cost 100: gain 60 (6% fee) stays, gain 200 (20% fee) opens
    for fee, opens in ((0.06, False), (0.2, True)):
        model, brand, douyin = _brand_with_ledger(
            [f"platforms.douyin.ext_link_fee={fee}", "brands.shop_switch_cost_rmb=100"]
        )
        brand.review_shops()
        assert bool(model.brands.own_shop[brand.row, douyin]) is opens
    model, brand, douyin = _brand_with_ledger(["brands.shop_switch_cost_rmb=100"], live_value_rmb=-3000.0)
    model.brands.own_shop[brand.row, douyin] = True  # a shop losing to the link by more than the cost closes
    brand.review_shops()
    assert not model.brands.own_shop[brand.row, douyin]


def test_reprice_passes_the_fee_burden_into_price():
    model = LiveCommerceModel("minimal", consumers=200, rng=1)
    b = model.brands
    b.base_price_rmb[:] = b.price_rmb[:] = 100.0
    b.fees_rmb[:], b.sales_rmb[:] = 10.0, 100.0
    b.sales_rmb[0] = 0.0  # sold nothing: keeps its price
    b.reprice(1.0)
    np.testing.assert_allclose(b.price_rmb[1:], 100.0 / 0.9)  # full pass-through keeps the base receipt
    assert b.price_rmb[0] == 100.0
    b.reprice(0.5)
    np.testing.assert_allclose(b.price_rmb[1:], 100.0 * (1 + 0.5 * 0.1 / 0.9))


def test_streamers_enter_where_live_gmv_per_head_is_high_and_leave_when_income_is_low():
    common = ["streamers.entry_pool=400", "streamers.entry_per_month=0.5"]
    grow = LiveCommerceModel("minimal", consumers=800, rng=3, overrides=[*common, "streamers.entry_income_rmb=0.01"])
    table = grow.run(95)
    active = _series(table, "hired_streamers_active", "video")
    assert active[-1] > active[0] and (np.diff(active) >= 0).all()
    rare = LiveCommerceModel("minimal", consumers=800, rng=3, overrides=[*common, "streamers.entry_income_rmb=1e12"])
    active = _series(rare.run(95), "hired_streamers_active", "video")
    assert active[-1] == active[0]  # GMV per head far below the half-rate income: (almost) nobody enters
    shrink = LiveCommerceModel("minimal", consumers=800, rng=3,
                               overrides=["streamers.exit_income_rmb=1e9", "streamers.exit_per_month=1.0"])  # fmt: skip
    active = _series(shrink.run(35), "hired_streamers_active", "video")
    assert active[0] > 0 and active[-1] == 0  # everyone earns less than 1e9: all leave at the first review


def test_followers_grow_from_purchases_and_edges_stay_sorted():
    model = LiveCommerceModel("minimal", consumers=600, rng=2, overrides=["streamers.follow_on_purchase=1.0"])
    before = model.consumers.f_streamer.size
    table = model.run(31)
    c = model.consumers
    assert c.f_streamer.size > before
    assert _series(table, "followers", "video")[-1] == c.f_streamer.size  # all streamers live on video
    owner = np.repeat(np.arange(c.n), np.diff(c.f_ptr))
    keys = owner * c.n_streamers + c.f_streamer
    assert (np.diff(keys) > 0).all()  # sorted, unique per consumer
    assert model.streamers.followers.sum() == c.f_streamer.size


def test_new_follow_edges_are_inserted_where_they_sort_keeping_old_evidence():
    c = LiveCommerceModel("china-2019", consumers=400, rng=3).consumers
    rng = np.random.default_rng(0)
    c.fa, c.fb = rng.random(len(c.fa)), rng.random(len(c.fb))

    def edges():
        owner = np.repeat(np.arange(c.n), np.diff(c.f_ptr))
        return dict(zip((owner * c.n_streamers + c.f_streamer).tolist(), zip(c.fa, c.fb, strict=True), strict=True))

    before = edges()
    consumer, streamer = rng.integers(0, c.n, 300), rng.integers(0, c.n_streamers, 300)
    added = c.add_follows(consumer, streamer)
    after = edges()
    wanted = set((consumer * c.n_streamers + streamer).tolist())
    assert set(after) == set(before) | wanted and len(added) == len(wanted - set(before)) > 0
    assert list(after) == sorted(after)  # the layout: by consumer, then streamer
    assert all(after[k] == before[k] for k in before) and all(after[k] == (0.0, 0.0) for k in wanted - set(before))
    assert np.array_equal(c.f_ptr, np.searchsorted(np.array(list(after)) // c.n_streamers, np.arange(c.n + 1)))
    lo, hi = c.f_ptr[np.flatnonzero(np.diff(c.f_ptr) >= 2)[0] + np.arange(2)]
    c.f_streamer[lo:hi] = c.f_streamer[lo:hi][::-1]  # edges out of order
    with pytest.raises(ValueError, match="sorted by consumer, then streamer"):
        c.add_follows(np.array([1]), np.array([0]))


def test_install_pull_adds_its_hazard():
    base = ["behaviour.install_per_day=0.0", "behaviour.install_social=0.0", "behaviour.churn_base_per_day=0.0",
            "behaviour.churn_trust_per_day=0.0"]  # fmt: skip
    model = LiveCommerceModel("minimal", consumers=4000, rng=1, overrides=[*base, "platforms.video.install_pull=0.01"])
    table = model.run(20)
    users = _series(table, "users", "video")
    non_users = 4000 - users[0]
    expected = non_users * (1 - (1 - 0.01) ** 20)
    assert abs((users[-1] - users[0]) - expected) < 4 * np.sqrt(expected)
    still = LiveCommerceModel("minimal", consumers=4000, rng=1, overrides=base).run(20)
    assert np.ptp(_series(still, "users", "video")) == 0


def test_per_platform_commission_and_a_dated_change():
    model = LiveCommerceModel("china-2019", consumers=500, rng=1, overrides=[
        "platforms.kuaishou.commission=0.3",
        "policies=[{platform='kuaishou', step=2, set={commission=0.15}},"
        " {platform='douyin', step=2, set={self_broadcast=0.9}}]",
    ])  # fmt: skip
    t, ks = model.streamers, model.platforms["kuaishou"].index
    hired_ks = t.is_hired & (t.platform == ks)
    others = t.is_hired & (t.platform != ks)
    assert t.commission[hired_ks].mean() == pytest.approx(0.3, abs=0.03)
    assert t.commission[others].mean() == pytest.approx(0.2, abs=0.02)
    before = t.commission[others].copy()
    model.run(3)
    assert t.commission[hired_ks].mean() == pytest.approx(0.15, abs=0.015)
    np.testing.assert_array_equal(t.commission[others], before)
    douyin = model.brands.home_platform == model.platforms["douyin"].index
    assert douyin.any() and (model.brands.self_broadcast[douyin] == 0.9).all()


def test_category_weights_set_the_streamers_mix():
    weights = "[0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 0.0, 0.0]"
    model = LiveCommerceModel(
        "china-2019", consumers=300, rng=1, overrides=[f"platforms.kuaishou.category_weights={weights}"]
    )
    t, ks = model.streamers, model.platforms["kuaishou"].index
    assert (t.category[t.is_hired & (t.platform == ks)] == 2).all()
    assert len(set(t.category[t.is_hired & (t.platform != ks)])) > 3
    with pytest.raises(ConfigError, match="category_weights: needs 8"):
        load_scenario("china-2019", ["platforms.kuaishou.category_weights=[1.0, 2.0]"])


def test_accounting_and_welfare_identities_hold_with_dynamics_on():
    table = LiveCommerceModel("china-2019", consumers=600, rng=4, overrides=DYNAMIC).run(40)
    m = lambda name: _series(table, name)  # noqa: E731
    np.testing.assert_allclose(
        m("gmv_rmb"),
        m("brand_receipts_rmb") + m("streamer_receipts_rmb") + m("platform_receipts_rmb") + m("refunds_rmb"),
        rtol=1e-9,
    )  # fmt: skip
    np.testing.assert_allclose(
        m("total_welfare_rmb"),
        m("experienced_surplus_rmb")
        + m("producer_surplus_rmb")
        + m("platform_profit_rmb")
        + m("streamer_receipts_rmb"),
        rtol=1e-9,
    )
    assert (m("experienced_surplus_rmb") <= m("consumer_surplus_rmb")).all()
    visits, considered = _series(table, "live_visits", "kuaishou"), _series(table, "live_considerations", "kuaishou")
    assert (considered <= visits).all() and visits.sum() > 0


def test_live_orders_cover_rounded_share_of_later_planned_purchases():
    cover = rules.live_orders_cover_need
    # k live orders stand for round(k x s) planned purchases; half rounds up
    assert [bool(cover(k, 0, 0.5)) for k in (0, 1, 2)] == [False, True, True]
    assert [bool(cover(k, 1, 0.5)) for k in (1, 2, 3)] == [False, False, True]
    assert not cover(3, 0, 0.1) and cover(5, 0, 0.1) and not cover(10, 1, 0.1)
    assert not cover(1000, 0, 0.0)


def _planned_orders(table: pl.DataFrame) -> float:
    planned = (pl.col("metric") == "orders") & (pl.col("channel") == "planned_search") & (pl.col("platform") != "all")
    return table.filter(planned)["value"].sum()


def test_substitution_removes_one_planned_purchase_per_live_order_spent():
    kw = dict(consumers=4000, rng=3)
    plain = LiveCommerceModel("china-2019", **kw)
    full = LiveCommerceModel("china-2019", overrides=["consumer.live_substitution=1"], **kw)
    a, b = plain.run(1), full.run(1)  # day 1: the same draws and choices until a purchase is found made
    spent = full.consumers.snapshot().needs_met_live
    assert spent.sum() > 0 and plain.consumers.snapshot().needs_met_live.sum() == 0
    assert _planned_orders(a) - _planned_orders(b) == spent.sum() == _series(b, "planned_replaced").sum()
    a, b = plain.run(59), full.run(59)
    live, spent = full.consumers.snapshot().live_orders, full.consumers.snapshot().needs_met_live
    assert (spent <= live).all() and spent.sum() > 0.5 * live.sum()  # at s = 1 most live orders replace one
    assert _planned_orders(b) < _planned_orders(a)
    assert _series(b, "planned_replaced").sum() == spent.sum()  # recorded every day: the whole run


def _total(table: pl.DataFrame, metric: str, channel: str = "all") -> float:
    rows = table.filter(pl.col("metric") == metric, pl.col("platform") != "all", pl.col("channel") == channel)
    return float(rows["value"].sum())


def test_product_videos_add_orders_on_content_platforms_and_leave_other_draws_alone():
    kw = dict(consumers=4000, rng=4)
    plain = LiveCommerceModel("china-2019", **kw).run(1)  # day 1: the same state before shopping
    video = LiveCommerceModel("china-2019", overrides=["behaviour.video_views_per_minute=0.005"], **kw).run(1)
    sold = {p: _series(video, "video_gmv_rmb", p)[0] for p in ("douyin", "kuaishou", "taobao", "jd", "pinduoduo")}
    assert sold["douyin"] > 0 and sold["kuaishou"] > 0 and sold["taobao"] == sold["jd"] == sold["pinduoduo"] == 0
    assert _series(video, "video_views", "taobao")[0] == 0 < _series(video, "video_views", "douyin")[0]
    # videos draw from their own stream: live rooms, planned needs and splash ads are untouched
    for metric, channel in (("live_room_gmv_rmb", "all"), ("gmv_rmb", "planned_search"), ("gmv_rmb", "splash_ad")):
        assert _total(video, metric, channel) == pytest.approx(_total(plain, metric, channel), rel=1e-12)
    video_gmv = sum(_total(video, "gmv_rmb", f"video_{c}") for c in ("own_shop", "outbound_link", "later_search"))
    assert video_gmv == pytest.approx(sum(sold.values()), rel=1e-12) and video_gmv > 0
    assert _total(video, "gmv_rmb") == pytest.approx(_total(plain, "gmv_rmb") + video_gmv, rel=1e-12)
    # a video's outbound link pays the content platform's link fee, as a live room's does
    video_links = _total(video, "outbound_link_gmv_rmb") - _total(plain, "outbound_link_gmv_rmb")
    assert video_links == pytest.approx(_total(video, "gmv_rmb", "video_outbound_link"), rel=1e-9) and video_links > 0
    assert _total(video, "revenue_link_fees_rmb") > _total(plain, "revenue_link_fees_rmb")


@pytest.mark.parametrize(
    ("override", "field"),
    [
        ("behaviour.video_views_per_minute=-0.1", "video_views_per_minute"),
        ("consumer.live_substitution=1.5", "live_substitution"),
        ("brands.price_pass_through=1.5", "price_pass_through"),
        ("streamers.entry_per_month=-0.1", "entry_per_month"),
        ("platforms.weibo.commission=0.2", "weibo"),
        ("platforms.douyin.install_pull=-1", "install_pull"),
    ],
)
def test_bad_dynamic_parameters_are_refused_by_name(override, field):
    with pytest.raises(ConfigError, match=field):
        load_scenario("china-2019", [override])


def test_rescale_commission_is_proportional_or_flat():
    np.testing.assert_allclose(rules.rescale_commission(np.array([0.1, 0.3]), 0.2, 0.4), [0.2, 0.6])
    np.testing.assert_allclose(rules.rescale_commission(np.array([0.0, 0.0]), 0.0, 0.25), [0.25, 0.25])


def test_detail_tables_on_request():
    model = LiveCommerceModel("minimal", consumers=400, rng=3)
    table = model.run(5, detail=["brands", "streamers", "tiers"])
    tables = model.detail_tables()
    assert set(tables) == {"brands", "streamers", "tiers"}
    gmv = table.filter(pl.col("metric") == "gmv_rmb", pl.col("platform") == "all")["value"].sum()
    for name in ("brands", "tiers"):
        t = tables[name]
        assert t.filter(pl.col("metric") == "gmv_rmb")["value"].sum() == pytest.approx(gmv)
    tiers = tables["tiers"].filter(pl.col("metric") == "consumers", pl.col("step") == 0)["value"].sum()
    assert tiers == 400
    assert LiveCommerceModel("minimal", consumers=200, rng=3).detail_tables() == {}
    with pytest.raises(ConfigError, match=r"unknown table\(s\) \['brand'\].*accepted: \['brands'"):
        LiveCommerceModel("minimal", consumers=200, rng=3, detail=["brand"])


def test_cli_detail_flag_writes_tables_and_refuses_unknown_names(tmp_path):
    from typer.testing import CliRunner

    from livemarket.cli import app

    out = tmp_path / "run"
    ok = CliRunner().invoke(app, ["run", "minimal", "--consumers", "300", "--days", "3", "--out", str(out),
                                  "--no-progress", "--detail", "streamers"])  # fmt: skip
    assert ok.exit_code == 0, ok.output
    assert pl.read_parquet(out / "detail_streamers.parquet")["entity"].unique().to_list() == ["streamer"]
    bad = CliRunner().invoke(app, ["run", "minimal", "--out", str(tmp_path / "x"), "--detail", "tier"])
    assert bad.exit_code == 2 and "accepted" in bad.output
    assert not (tmp_path / "x").exists()


#: the entry mechanisms on (hand-set, not calibrated): shops on margins, streamer entry, follows, Douyin's pull
GROWTH = [
    "brands.channel_review=0.5", "streamers.entry_pool=600", "streamers.entry_per_month=0.05",
    "streamers.entry_income_rmb=50", "streamers.follow_on_purchase=0.2", "platforms.douyin.install_pull=0.0005",
]  # fmt: skip


def test_with_entry_on_douyin_gains_shops_streamers_users_and_live_share_over_two_years():
    # Douyin live share raised to the late-2020 mix (as in experiments 01 and 11) so its rooms sell daily
    overrides = [*GROWTH, "platforms.douyin.live_share=0.05"]
    model = LiveCommerceModel("china-2019", consumers=1500, rng=1, overrides=overrides)
    table = model.run(731)  # 2019-2020
    for metric in ("brand_shops", "hired_streamers_active", "users", "live_gmv_share"):
        series = _series(table, metric, "douyin")
        assert series[-90:].mean() > series[:90].mean(), metric
    still = LiveCommerceModel("china-2019", consumers=1500, rng=1).run(120)
    assert np.ptp(_series(still, "brand_shops", "douyin")) == 0  # off by default: nothing enters
    assert np.ptp(_series(still, "hired_streamers_active", "douyin")) == 0


def test_link_fee_passed_into_the_checkout_price_of_link_orders():
    model = LiveCommerceModel("china-2019", consumers=3000, rng=2, overrides=[
        "brands.price_pass_through=1.0", "platforms.douyin.ext_link_fee=0.2", "platforms.douyin.live_share=0.1",
        "platforms.kuaishou.live_share=0.2", "behaviour.video_views_per_minute=0.002",
    ])  # fmt: skip
    seen = []
    shop = model.consumers.shop
    model.consumers.shop = lambda ctx, rng, video_rng: seen.append(shop(ctx, rng, video_rng)) or seen[-1]
    model.run(10)
    orders = Orders_concat(seen)
    douyin, kuaishou = model.platforms["douyin"].index, model.platforms["kuaishou"].index
    base = model.brands.price_rmb[orders.brand]  # no monthly review in 10 days: list prices
    link = rules.is_link(orders.channel)  # from live rooms and from product videos
    from_douyin, from_kuaishou = link & (orders.source == douyin), link & (orders.source == kuaishou)
    assert from_douyin.sum() > 10 and from_kuaishou.sum() > 10
    assert (from_douyin & (orders.channel == rules.VIDEO_LINK)).sum() > 10
    np.testing.assert_allclose(orders.price_rmb[from_douyin], base[from_douyin] * 1.25)  # f / (1 - f) = 0.25
    np.testing.assert_allclose(orders.price_rmb[from_kuaishou], base[from_kuaishou] * (1 + 0.05 / 0.95))
    np.testing.assert_array_equal(orders.price_rmb[~link], base[~link])


def Orders_concat(days):  # noqa: N802 - one frame of several days' orders
    from livemarket.core.context import Orders

    keys = ("consumer", "brand", "platform", "source", "channel", "streamer", "edge", "price_rmb", "impulsivity")
    return Orders(**{k: np.concatenate([getattr(d, k) for d in days]) for k in keys})


def test_timeline_scenario_holds_every_dated_event_of_the_seed_facts():
    from livemarket.config import builtin_scenarios

    assert "china-2019-2024" in builtin_scenarios()
    cfg = load_scenario("china-2019-2024")
    assert (cfg.start_date.isoformat(), cfg.days) == ("2019-01-01", 2192)
    events = {(p.platform, p.date.isoformat()): p.set for p in cfg.policies}
    assert events[("douyin", "2020-08-01")] == {"ext_link_fee": 0.2}
    assert events[("douyin", "2020-10-09")] == {"link_ban": True}
    assert events[("kuaishou", "2022-03-01")] == {"outbound_links": ["pinduoduo"]}
    assert events[("kuaishou", "2022-10-01")]["outbound_links"] == ["taobao", "jd", "pinduoduo"]
    assert events[("taobao", "2024-09-27")] == {"accepted_wallets": ["alipay", "wechat_pay"]}
    assert events[("taobao", "2024-10-16")] == {"logistics_partners": ["jd"]}
    assert events[("taobao", "2024-10-14")] == {"traffic_bought": {"douyin": 0.02}}
    model = LiveCommerceModel("china-2019-2024", consumers=400, rng=1)
    assert model.run(3)["date"].max().isoformat() == "2019-01-03"


def test_compiled_kernels_equal_numpy_with_every_mechanism_on(monkeypatch):
    pytest.importorskip("livemarket.agents.kernels")
    overrides = [*DYNAMIC, "platforms.taobao.traffic_bought={douyin=0.1}", "streamers.scandal_hazard_per_day=0.01"]
    runs = {}
    for path in ("off", "on"):
        monkeypatch.setenv("LIVEMARKET_KERNELS", path)
        runs[path] = LiveCommerceModel("china-2019", consumers=800, rng=5, overrides=overrides).run(65)
    assert runs["on"].equals(runs["off"])  # follows added at two monthly reviews, scandals on grown edges
