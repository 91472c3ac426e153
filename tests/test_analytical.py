"""Analytical checks: the engine against closed-form results derived from the model description (docs/ODD.md).

Each expected value here is written out from the formula in docs/ODD.md, independently of
the engine code, so a wrong formula in the engine makes the test fail (see the validation
note in docs/calibration_report.md for a demonstration).
"""

import dataclasses
import math

import networkx as nx
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.sparse.csgraph import connected_components

from livemarket import LiveCommerceModel
from livemarket.agents.consumers import ConsumerColumns
from livemarket.core import rules
from livemarket.core.context import Orders, Outcomes
from livemarket.models import graphs

VIDEO, MALL = 0, 1  # platform indices of the minimal scenario
SMALL_GRAPH = ["graph.kind='watts_strogatz'", "graph.mean_degree=4"]  # tiny populations


def _with_state(model, **columns):
    """Rebuild the consumer engine from an edited copy of its state (its public constructor)."""
    state = model.consumers.snapshot()
    fresh = {f.name: np.array(getattr(state, f.name)) for f in dataclasses.fields(state)}
    for name, value in columns.items():
        fresh[name] = np.broadcast_to(
            np.asarray(value, dtype=fresh[name].dtype), fresh[name].shape
        ).copy()
    model.consumers = ConsumerColumns(model, type(state)(**fresh))
    return model.consumers


def _state(model):
    """A copy of the consumer state as explicit values."""
    state = model.consumers.snapshot()
    return type(state)(
        **{f.name: np.array(getattr(state, f.name)) for f in dataclasses.fields(state)}
    )


def _isolating_graph(tmp_path, n_edges_between=(0, 1)):
    """A graph file with a single edge, so the other consumers hear no word of mouth."""
    path = tmp_path / "one_edge.csv"
    path.write_text(f"source,target\n{n_edges_between[0]},{n_edges_between[1]}\n")
    return ["graph.kind='file'", f"graph.path='{path}'", "graph.allow_isolated=true"]


def _orders(model, consumer, platform, brand, edge=-1):
    n = len(consumer)
    full = lambda x: np.full(n, x, dtype=np.int64)  # noqa: E731
    brand = np.asarray(brand, np.int64)
    return Orders(
        consumer=np.asarray(consumer, np.int64), brand=brand, platform=np.asarray(platform, np.int64),
        source=full(-1), channel=full(rules.PLANNED), streamer=full(-1),
        edge=np.asarray(edge, np.int64) if np.ndim(edge) else full(edge),
        price_rmb=model.brands.price_rmb[brand], impulsivity=np.zeros(n), splash_views=np.zeros(2),
    )  # fmt: skip


def _outcomes(bad, protected=None):
    """Kept orders: a protected (covered) bad order is refunded and softened."""
    bad = np.asarray(bad, bool)
    protected = np.zeros_like(bad) if protected is None else np.asarray(protected, bool)
    return Outcomes(delayed=np.zeros_like(bad), bad=bad, returned=np.zeros_like(bad), covered=protected)


# ----------------------------------------------------------------------------- 1. channel choice
def _logit_shares(u):
    """Closed-form multinomial-logit shares with the outside option (utility 0) first."""
    e = [1.0] + [math.exp(x) for x in u]
    return [x / sum(e) for x in e]


def test_logit_probabilities_and_logsum_closed_form():
    u = [0.0, -0.3, 1.2, 0.4]
    expected = [math.exp(x) / sum(math.exp(y) for y in u) for y in [0] for x in u]
    np.testing.assert_allclose(rules.logit_probabilities(np.array(u)), expected, rtol=1e-12)
    assert rules.logsum(np.array(u)) == pytest.approx(
        math.log(sum(math.exp(x) for x in u)), rel=1e-12
    )
    # an unavailable option (-inf) gets share 0 and the others renormalise
    p = rules.logit_probabilities(np.array([0.0, -np.inf, 1.0]))
    np.testing.assert_allclose(p, [1 / (1 + math.e), 0.0, math.e / (1 + math.e)], rtol=1e-12)
    # the IIA property: ratios of shares depend only on utility differences
    q = rules.logit_probabilities(np.array([0.0, 0.5, 1.5, -2.0]))
    assert q[2] / q[1] == pytest.approx(math.exp(1.0), rel=1e-12)


@pytest.fixture(scope="module")
def channel_case():
    """20,000 identical adopters on the minimal scenario; one streamer live on video, one product."""
    n = 20_000
    model = LiveCommerceModel(
        "minimal", consumers=n, rng=3,
        overrides=["consumer.follows_per_consumer=0.001", "consumer.needs_per_day=0.0",
                   "platforms.video.feed_mode=1.0", "graph.kind='watts_strogatz'", "graph.mean_degree=4"],
    )  # fmt: skip
    beh = model.config.behaviour
    # a hired streamer nobody follows, so its public reputation is the streamer trust
    streamer = int(np.nonzero((model.streamers.followers == 0) & (model.streamers.brand < 0))[0][0])
    brand = 0
    cat = int(model.streamers.category[streamer])
    model.brands.own_shop[brand] = [True, False]  # sells inside the video live room
    model.brands.listed[brand] = [False, True]  # and on the mall shelf (link and later search)
    interest = np.zeros((n, model.config.categories.count))
    interest[:, cat] = 1.0  # interest match = 1
    columns = dict(
        interest=interest, installed=True, adopter=True, minutes=[30.0, 10.0], price_sensitivity=0.8,
        impulsivity=0.4, trust_a=[2.0, 3.0], trust_b=[2.0, 1.0],  # trust in video 0.5, in mall 0.75
    )  # fmt: skip
    _with_state(model, wallets=[True, False], **columns)  # mallpay only: video accepts it too
    live = np.zeros(len(model.streamers.platform), bool)
    live[streamer] = True
    product = np.where(live, brand, -1)
    ctx = model._context(1.0, live, product)
    orders = model.consumers.shop(ctx, np.random.default_rng(11))
    return model, ctx, orders, dict(n=n, streamer=streamer, brand=brand, beh=beh, columns=columns)


def _expected_channel_probabilities(model, c, wallet_video=True, wallet_mall=True):
    """P(visit), P(consider) and the logit shares (none, own, link, search), written from docs/ODD.md (section 7)."""
    beh = c["beh"]
    t_streamer = float(model.streamers.reputation[c["streamer"]])
    t_brand = float(model.brands.reputation[c["brand"]])
    price = float(model.brands.price_rmb[c["brand"]]) * 0.8 / 100.0
    live_share = model.platforms["video"].config.live_share
    p_visit = 1.0 - math.exp(-30.0 * live_share * beh.live_visits_per_minute)
    z = (
        beh.consider_intercept
        + beh.consider_match
        + beh.consider_trust * t_streamer
        + beh.consider_impulsivity * 0.4
    )
    p_consider = 1.0 / (1.0 + math.exp(-z))
    # trust acted on: the platform's guarantee covers a share of the remaining risk (ODD)
    pi = {name: model.platforms[name].config.protection for name in ("video", "mall")}
    acted_video = 1.0 - (1.0 - 0.5) * (1.0 - beh.protection_assurance * pi["video"])
    acted_mall = 1.0 - (1.0 - 0.75) * (1.0 - beh.protection_assurance * pi["mall"])
    plat_video = beh.util_trust_platform * acted_video - beh.wallet_friction * (not wallet_video)
    plat_mall = beh.util_trust_platform * acted_mall - beh.wallet_friction * (not wallet_mall)
    common = (
        beh.util_trust_streamer * t_streamer
        + beh.util_trust_brand * t_brand
        + beh.util_match
        + beh.util_impulsivity * 0.4
        - price
    )
    u = [
        beh.util_own_shop + common + plat_video,  # buy in the room from video's own shop
        beh.util_link + common + plat_mall - beh.jump_friction,  # follow the outbound link to mall
        beh.util_search + beh.util_trust_brand * t_brand + beh.util_match - price + plat_mall - beh.search_friction,
    ]  # fmt: skip
    return p_visit, p_consider, u


def _assert_counts(orders, n, p_visit, p_consider, u):
    shares = _logit_shares(u)
    counts = [
        np.sum(orders.channel == k) for k in (rules.LIVE_OWN, rules.LIVE_LINK, rules.LIVE_SEARCH)
    ]
    assert len(orders) == sum(counts)  # no planned needs, no splash ads
    expected = [n * p_visit * p_consider * s for s in shares[1:]]
    for count, mean in zip(counts, expected, strict=True):
        p = mean / n
        assert abs(count - mean) < 4.5 * math.sqrt(n * p * (1 - p)), (counts, expected)


def test_channel_choice_reproduces_closed_form_logit_shares(channel_case):
    model, ctx, orders, c = channel_case
    n = c["n"]
    p_visit, p_consider, u = _expected_channel_probabilities(model, c)
    _assert_counts(orders, n, p_visit, p_consider, u)
    # where each order is paid: own shop on video, link and later search on mall
    assert set(orders.platform[orders.channel == rules.LIVE_OWN]) == {VIDEO}
    assert set(orders.platform[orders.channel != rules.LIVE_OWN]) == {MALL}
    # consumer surplus is the log-sum in RMB (Small & Rosen): E[max U] * 100 / price sensitivity
    per_chooser = math.log(1.0 + sum(math.exp(x) for x in u)) * 100 / 0.8
    n_considered = orders.surplus_rmb / per_chooser
    assert n_considered == pytest.approx(
        round(n_considered), abs=1e-6
    )  # a whole number of choosers
    assert abs(n_considered - n * p_visit * p_consider) < 4.5 * math.sqrt(n * p_visit * p_consider)


def test_missing_wallet_friction_enters_the_utility(channel_case):
    model, ctx, _, c = channel_case
    engine = model.consumers
    # videopay only: mall's checkout (mallpay only) does not accept it
    orders = _with_state(model, wallets=[False, True], **c["columns"]).shop(
        ctx, np.random.default_rng(12)
    )
    model.consumers = engine
    p_visit, p_consider, u = _expected_channel_probabilities(model, c, wallet_mall=False)
    _assert_counts(orders, c["n"], p_visit, p_consider, u)


# ----------------------------------------------------------------------------- 2. trust updates
def test_beta_evidence_closed_forms():
    a, b, f = 7.0, 3.0, 0.05
    assert rules.beta_trust(a, b) == pytest.approx(0.7)
    # t days of forgetting without evidence: prior + (1 - f)^t (x0 - prior)
    x, prior = 10.0, 2.0
    for _ in range(25):
        x = rules.beta_forget(x, prior, f)
    assert x == pytest.approx(prior + (1 - f) ** 25 * (10.0 - prior), rel=1e-12)
    # constant daily evidence g: fixed point x* = prior + (1 - f) g / f
    x, g = prior, 1.5
    for _ in range(2000):
        x = rules.beta_forget(x + g, prior, f)
    assert x == pytest.approx(prior + (1 - f) * g / f, rel=1e-9)


def test_engine_trust_after_outcomes_matches_beta_evidence(tmp_path):
    model = LiveCommerceModel("minimal", consumers=50, rng=5, overrides=_isolating_graph(tmp_path))
    eng, beh = model.consumers, model.config.behaviour
    ctx = model._context(1.0, *model._go_live())
    before = _state(model)
    a0, b0 = before.trust_a, before.trust_b
    pa, pb = model.trust_prior_evidence()
    f = beh.forgetting_per_day
    # consumer 3: two good orders at mall; consumer 4: a bad one at video (protected), a bad one at mall
    orders = _orders(model, [3, 3, 4, 4], [MALL, MALL, VIDEO, MALL], [0, 1, 2, 3])
    eng.learn(
        ctx, orders, _outcomes([False, False, True, True], [False, False, True, False]), model.rng
    )
    good, bad = beh.evidence_good, beh.evidence_bad
    exp_a, exp_b = a0.copy(), b0.copy()
    exp_a[3, MALL] += 2 * good
    exp_b[4, VIDEO] += bad * (1 - beh.protection_soften)
    exp_b[4, MALL] += bad
    after = _state(model)
    np.testing.assert_allclose(after.trust_a, pa + (1 - f) * (exp_a - pa), rtol=1e-12)
    np.testing.assert_allclose(after.trust_b, pb + (1 - f) * (exp_b - pb), rtol=1e-12)
    a = pa[MALL] + (1 - f) * (a0[3, MALL] + 2 * good - pa[MALL])
    b = pb[MALL] + (1 - f) * (b0[3, MALL] - pb[MALL])
    assert eng.platform_trust()[3, MALL] == pytest.approx(a / (a + b), rel=1e-12)


@pytest.mark.parametrize("engine", ["columns", "reference"])
def test_protection_softens_covered_bad_orders_returned_or_kept(tmp_path, engine):
    """A covered bad order weighs (1 - soften) in platform and follow-edge trust, returned or not."""
    model = LiveCommerceModel("minimal", consumers=50, rng=5, overrides=_isolating_graph(tmp_path),
                              consumer_engine=engine)  # fmt: skip
    eng, beh = model.consumers, model.config.behaviour
    ctx = model._context(1.0, *model._go_live())
    before = _state(model)
    c = next(i for i in range(2, 50) if before.follow_indptr[i + 1] > before.follow_indptr[i])
    edge = int(before.follow_indptr[c])
    pa, pb = model.trust_prior_evidence()
    f, bad, soften = beh.forgetting_per_day, beh.evidence_bad, beh.protection_soften
    # three bad orders of consumer c at mall, all returned: covered (on c's first follow edge), covered, not covered
    orders = _orders(model, [c, c, c], [MALL] * 3, [0, 1, 2], edge=[edge, -1, -1])
    yes, no = np.ones(3, bool), np.zeros(3, bool)
    covered = np.array([True, True, False])
    eng.learn(ctx, orders, Outcomes(delayed=no, bad=yes, returned=yes, covered=covered), model.rng)
    after = _state(model)
    b = before.trust_b[c, MALL] + bad * (2 * (1 - soften) + 1)
    assert after.trust_b[c, MALL] == pytest.approx(pb[MALL] + (1 - f) * (b - pb[MALL]), rel=1e-12)
    fb_prior = model.streamer_prior_evidence()[1]
    edge_b = before.follow_b[edge] + bad * (1 - soften)  # the follow edge that sold the first order
    assert after.follow_b[edge] == pytest.approx(fb_prior + (1 - f) * (edge_b - fb_prior), rel=1e-12)


def test_engine_trust_converges_to_the_evidence_fixed_point(tmp_path):
    model = LiveCommerceModel(
        "minimal", consumers=20, rng=6, overrides=_isolating_graph(tmp_path, (1, 2))
    )
    eng, beh = model.consumers, model.config.behaviour
    ctx = model._context(1.0, *model._go_live())
    pa, pb = model.trust_prior_evidence()
    f = beh.forgetting_per_day
    orders = _orders(model, [0, 0, 0], [MALL] * 3, [0, 1, 2])
    out = _outcomes([False, False, True])  # two good, one bad a day
    for _ in range(3000):
        eng.learn(ctx, orders, out, model.rng)
    a_star = pa[MALL] + (1 - f) * 2 * beh.evidence_good / f
    b_star = pb[MALL] + (1 - f) * beh.evidence_bad / f
    after = _state(model)
    assert after.trust_a[0, MALL] == pytest.approx(a_star, rel=1e-9)
    assert after.trust_b[0, MALL] == pytest.approx(b_star, rel=1e-9)
    assert eng.platform_trust()[0, MALL] == pytest.approx(a_star / (a_star + b_star), rel=1e-9)


# ----------------------------------------------------------------------------- 3. word of mouth
def test_word_of_mouth_on_a_hand_built_graph(tmp_path):
    # star centred on 0 with leaves 1, 2, 3; a triangle 3-4-5; 6 isolated
    path = tmp_path / "g.csv"
    path.write_text("source,target\n0,1\n0,2\n0,3\n3,4\n4,5\n3,5\n")
    model = LiveCommerceModel(
        "minimal", consumers=7, rng=2,
        overrides=["graph.kind='file'", f"graph.path='{path}'", "graph.allow_isolated=true"],
    )
    eng, beh = model.consumers, model.config.behaviour
    ctx = model._context(1.0, *model._go_live())
    before = _state(model)
    a0, b0 = before.trust_a, before.trust_b
    pa, pb = model.trust_prior_evidence()
    f, w = beh.forgetting_per_day, beh.word_of_mouth
    # consumer 0: one good order at video; consumer 4: one bad order at mall; consumer 3: one good at mall
    orders = _orders(model, [0, 4, 3], [VIDEO, MALL, MALL], [0, 1, 2])
    eng.learn(ctx, orders, _outcomes([False, True, False]), model.rng)
    g, b = beh.evidence_good, beh.evidence_bad
    da, db = np.zeros((7, 2)), np.zeros((7, 2))
    da[0, VIDEO] += g
    da[[1, 2, 3], VIDEO] += w * g  # the leaves hear the centre
    db[4, MALL] += b
    db[[3, 5], MALL] += w * b  # 4's triangle neighbours
    da[3, MALL] += g
    da[[0, 4, 5], MALL] += w * g  # 3's neighbours: the centre and the triangle
    after = _state(model)
    np.testing.assert_allclose(after.trust_a, pa + (1 - f) * (a0 + da - pa), rtol=1e-12)
    np.testing.assert_allclose(after.trust_b, pb + (1 - f) * (b0 + db - pb), rtol=1e-12)
    # 6 is isolated and 1, 2 are two hops from 3 and 4: nothing but forgetting on mall
    for i in (1, 2, 6):
        assert after.trust_b[i, MALL] == pytest.approx(
            pb[MALL] + (1 - f) * (b0[i, MALL] - pb[MALL])
        )


# ----------------------------------------------------------------------------- 4. fulfilment
@settings(max_examples=25, deadline=None)
@given(
    demand=st.lists(st.integers(0, 30), min_size=1, max_size=6),
    capacity=st.lists(st.floats(0.0, 40.0), min_size=6, max_size=6),
)
def test_delivered_on_time_equals_min_of_demand_and_capacity(fulfil_model, demand, capacity):
    model = fulfil_model
    k = len(demand)
    model.brands.capacity_orders_per_day[:] = 0.0
    model.brands.capacity_orders_per_day[:k] = capacity[:k]
    brand = np.repeat(np.arange(k), demand)
    model.rng.shuffle(brand)
    out = model._fulfil(
        _orders(model, np.arange(len(brand)) % 50, np.full(len(brand), MALL), brand)
    )
    for j in range(k):
        assert (~out.delayed[brand == j]).sum() == min(demand[j], math.floor(capacity[j]))


@pytest.fixture(scope="module")
def fulfil_model():
    return LiveCommerceModel("minimal", consumers=50, rng=8, overrides=["graph.mean_degree=4"])  # a graph fits 50


def test_supply_shock_scales_capacity_in_its_window():
    shock = "supply_shocks=[{start=2019-01-01, end=2019-01-05, capacity_factor=0.5}]"
    model = LiveCommerceModel("minimal", consumers=50, rng=8, overrides=[shock, "graph.mean_degree=4"])
    model.brands.capacity_orders_per_day[:] = 0.0
    model.brands.capacity_orders_per_day[0] = 9.0
    model.steps = 1  # day 0, inside the shock: floor(9 * 0.5) = 4 on time
    out = model._fulfil(_orders(model, np.arange(20), np.full(20, MALL), np.zeros(20)))
    assert (~out.delayed).sum() == 4
    model.steps = 10  # after the shock: 9 on time
    out = model._fulfil(_orders(model, np.arange(20), np.full(20, MALL), np.zeros(20)))
    assert (~out.delayed).sum() == 9


# ----------------------------------------------------------------------------- 5. consensus
def _averaging_limit(adjacency, x0: np.ndarray, steps: int) -> np.ndarray:
    """Repeated neighbour averaging x <- D^-1 A x, the operator of the Bass neighbour share."""
    deg = np.asarray(adjacency.sum(axis=1)).ravel()
    x = x0.astype(np.float64)
    for _ in range(steps):
        x = (adjacency @ x) / deg
    return x


@pytest.mark.parametrize(
    ("kind", "extra"),
    [
        ("watts_strogatz", {"rewire_prob": 0.2}),
        ("holme_kim", {"triad_prob": 0.5}),
        ("complete", {}),
    ],
)
def test_neighbour_averaging_reaches_degree_weighted_consensus(kind, extra):
    rng = np.random.default_rng(4)
    g = graphs.build_social_graph(kind, 300, rng, mean_degree=8, **extra)
    adj = g.adjacency()
    assert connected_components(adj, directed=False)[0] == 1
    assert (adj != adj.T).nnz == 0  # symmetric: an undirected graph
    x0 = rng.random(300)
    deg = np.asarray(adj.sum(axis=1)).ravel()
    x = _averaging_limit(adj, x0, 3000)
    # on a connected non-bipartite graph, x converges to the degree-weighted mean of x0
    np.testing.assert_allclose(x, np.sum(deg * x0) / deg.sum(), rtol=1e-8)


def test_model_graph_averaging_reaches_consensus():
    # the adjacency the engine reads (model.social_graph) is the networkx graph researchers see
    model = LiveCommerceModel(
        "minimal",
        consumers=400,
        rng=9,
        overrides=["graph.kind='watts_strogatz'", "graph.mean_degree=6"],
    )
    g = model.social_graph.to_networkx()
    assert nx.is_connected(g)
    adj = model.social_graph.adjacency()
    deg = np.asarray(adj.sum(axis=1)).ravel()
    x0 = _state(model).adopter.astype(float)
    manual = np.array([np.mean([x0[j] for j in g.neighbors(i)]) for i in range(400)])
    np.testing.assert_allclose((adj @ x0) / deg, manual, rtol=1e-12)
    x = _averaging_limit(adj, x0, 4000)
    np.testing.assert_allclose(x, np.sum(deg * x0) / deg.sum(), rtol=1e-8)


def test_bipartite_graph_needs_laziness_for_consensus():
    # on a bipartite graph plain averaging oscillates; the lazy walk (I + D^-1 A)/2 still converges
    g = graphs.SocialGraph.from_networkx(nx.cycle_graph(6))
    adj = g.adjacency()
    x0 = np.array([1.0, 0, 1, 0, 1, 0])
    assert np.allclose(_averaging_limit(adj, x0, 101), 1 - x0)  # flips forever
    deg = np.asarray(adj.sum(axis=1)).ravel()
    x = x0.copy()
    for _ in range(500):
        x = 0.5 * x + 0.5 * (adj @ x) / deg
    np.testing.assert_allclose(x, 0.5, rtol=1e-10)


def test_engine_bass_adoption_uses_the_neighbour_share(tmp_path):
    # 0-1-2-3 a clique of adopters; 4 sees only adopters; 5 only non-adopters; 8 one of each
    path = tmp_path / "g.csv"
    path.write_text("source,target\n0,1\n0,2\n0,3\n1,2\n1,3\n2,3\n4,0\n4,1\n5,6\n5,7\n8,0\n8,6\n")
    model = LiveCommerceModel(
        "minimal", consumers=9, rng=3,
        overrides=["graph.kind='file'", f"graph.path='{path}'", "consumer.bass_q=1.0",
                   "platforms.video.promotion=0.0", "platforms.mall.promotion=0.0"],
    )  # fmt: skip
    ctx = model._context(1.0, *model._go_live())
    start = np.array([1, 1, 1, 1, 0, 0, 0, 0, 0], bool)
    adopted8 = 0
    for _ in range(400):
        _with_state(model, adopter=start).learn(
            ctx, _orders(model, [], [], []), _outcomes([]), model.rng
        )
        adopter = _state(model).adopter
        assert adopter[4] and not adopter[5] and not adopter[6]  # hazard 1 and 0
        adopted8 += adopter[8]
    assert abs(adopted8 / 400 - 0.5) < 4.5 * math.sqrt(0.25 / 400)  # hazard = share = 1/2
