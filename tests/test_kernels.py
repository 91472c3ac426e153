"""The compiled kernels and the numpy path give the same outputs, bit for bit."""

import numpy as np
import pytest

from livemarket import LiveCommerceModel
from livemarket.agents import consumers
from livemarket.config import BehaviourConfig
from livemarket.core import rules
from livemarket.core.sampling import WeightedGroups

kernels = pytest.importorskip("livemarket.agents.kernels")

CASES = [
    ("china-2019", 1500, ["platforms.taobao.traffic_bought={douyin=0.1}", "streamers.scandal_hazard_per_day=0.02"]),
    ("minimal", 1200, ["platforms.mall.traffic_bought={video=0.2}", "streamers.scandal_hazard_per_day=0.02"]),
]


def _run(monkeypatch, path: str, scenario: str, n: int, overrides: list[str]):
    monkeypatch.setenv("LIVEMARKET_KERNELS", path)
    model = LiveCommerceModel(scenario, consumers=n, rng=9, overrides=overrides)
    assert (model.consumers._kernels is not None) == (path == "on")
    return model, model.run(25)


@pytest.mark.parametrize(("scenario", "consumers_n", "overrides"), CASES)
def test_kernel_path_equals_numpy_path(monkeypatch, scenario, consumers_n, overrides):
    m_np, numpy_path = _run(monkeypatch, "off", scenario, consumers_n, overrides)
    m_k, kernel_path = _run(monkeypatch, "on", scenario, consumers_n, overrides)
    assert numpy_path["value"].sum() > 0 and m_np.streamers.banned_until_step.max() > 0  # scandals happened
    assert kernel_path.equals(numpy_path)
    a, b = m_np.consumers.snapshot(), m_k.consumers.snapshot()
    for field in ("trust_a", "trust_b", "follow_a", "follow_b", "minutes", "installed", "wallets", "adopter"):
        assert np.array_equal(getattr(a, field), getattr(b, field)), field


def test_planned_needs_in_threads_equal_numpy_path(monkeypatch):
    """Planned needs, word of mouth, outcomes, last order days split over three threads (parts of 16): the numpy run."""
    import threading

    scenario, n, overrides = CASES[0]
    _, numpy_path = _run(monkeypatch, "off", scenario, n, overrides)
    started = []

    class Spy(threading.Thread):
        def start(self):
            started.append(self)
            super().start()

    monkeypatch.setattr(kernels, "MIN_ROWS_PER_THREAD", 16)
    monkeypatch.setattr(kernels.threading, "Thread", Spy)
    monkeypatch.setenv("LIVEMARKET_THREADS", "3")
    _, kernel_path = _run(monkeypatch, "on", scenario, n, overrides)
    assert len(started) >= 4 * 25  # two helper threads for each kernel, every day
    assert kernel_path.equals(numpy_path)


def test_an_error_in_a_kernel_thread_reaches_the_caller(monkeypatch):
    monkeypatch.setenv("LIVEMARKET_THREADS", "2")

    def kernel(lo, hi, out):
        out[lo:hi] = 1
        if lo > 0:
            raise IndexError("part two failed")

    out = np.zeros(2 * kernels.MIN_ROWS_PER_THREAD, np.int8)
    with pytest.raises(IndexError, match="part two failed"):
        kernels.in_parts(kernel, len(out), out)
    assert out.all()  # both parts ran


@pytest.mark.parametrize("threads", ["1", "2"])
def test_beside_gives_the_result_and_the_error_of_its_step(monkeypatch, threads):
    """With two threads the step runs on another thread (without: at once); its result or error reaches wait()."""
    import threading

    monkeypatch.setenv("LIVEMARKET_THREADS", threads)
    wait = kernels.beside(lambda a, b: (a + b, threading.get_ident()), 2, 3)
    total, ident = wait()
    assert total == 5 and (ident != threading.get_ident()) == (threads == "2")

    def failing():
        raise KeyError("settlement failed")

    with pytest.raises(KeyError, match="settlement failed"):  # at once with one thread, from wait() with two
        kernels.beside(failing)()


def test_settlement_beside_learning_books_what_the_serial_day_books(monkeypatch):
    """Kernels with settlement on a second thread, and the numpy path (serial): the same ledgers, bit for bit."""
    scenario, n, overrides = CASES[0]
    monkeypatch.setenv("LIVEMARKET_THREADS", "2")
    ran_beside = []
    real = kernels.beside
    monkeypatch.setattr(kernels, "beside", lambda fn, *args: ran_beside.append(fn.__name__) or real(fn, *args))
    m_np, numpy_path = _run(monkeypatch, "off", scenario, n, overrides)
    assert not ran_beside
    m_k, kernel_path = _run(monkeypatch, "on", scenario, n, overrides)
    assert ran_beside.count("_settle") == 25  # and the recorder's flag tables, the planned needs' draws:
    assert ran_beside.count("sums") == ran_beside.count("_planned_draws") == 25
    assert kernel_path.equals(numpy_path)
    for table, fields in ((m_np.brands, ("receipts_by_platform_rmb", "fees_rmb", "sales_rmb", "cost_self_rmb",
                                         "content_value_by_source_rmb", "receipts_self_rmb", "receipts_hired_rmb")),
                          (m_np.streamers, ("gmv_rmb", "month_gmv_rmb", "month_income_rmb"))):  # fmt: skip
        other = m_k.brands if table is m_np.brands else m_k.streamers
        for field in fields:
            assert np.array_equal(getattr(table, field), getattr(other, field)), field
    for p_np, p_k in zip(m_np.platform_list, m_k.platform_list, strict=True):
        assert p_np.revenue_rmb == p_k.revenue_rmb and sum(p_np.revenue_rmb.values()) > 0
    assert np.array_equal(m_np.ledger.revenue_rmb, m_k.ledger.revenue_rmb) and m_k.ledger.revenue_rmb[2].sum() > 0


@pytest.mark.parametrize("value", ["0", "two", "-1", "1.5"])
def test_bad_thread_count_is_refused_by_name(monkeypatch, value):
    monkeypatch.setenv("LIVEMARKET_THREADS", value)
    with pytest.raises(ValueError, match="LIVEMARKET_THREADS.*accepted a whole number"):
        kernels.thread_count()


def test_population_threshold_picks_the_path(monkeypatch):
    monkeypatch.delenv("LIVEMARKET_KERNELS", raising=False)
    monkeypatch.setattr(consumers, "KERNELS_FROM_CONSUMERS", 1000)
    assert LiveCommerceModel("minimal", consumers=999, rng=1).consumers._kernels is None
    assert LiveCommerceModel("minimal", consumers=1000, rng=1).consumers._kernels is kernels
    monkeypatch.setenv("LIVEMARKET_KERNELS", "sometimes")
    with pytest.raises(ValueError, match="LIVEMARKET_KERNELS"):
        LiveCommerceModel("minimal", consumers=200, rng=1)


def test_guided_pick_in_kernel_equals_weighted_groups_pick():
    """Random groups (empty, weightless, tied weights): the planned-need kernel picks as WeightedGroups does."""
    rng = np.random.default_rng(4)
    beh = kernels.behaviour_tuple(BehaviourConfig())
    for trial in range(60):
        n_items, n_k = int(rng.integers(0, 50)), int(rng.integers(1, 5))
        w = rng.random(n_items) * (rng.random(n_items) < 0.6)
        w[: n_items // 4] = np.round(w[: n_items // 4], 1)  # ties in the running weights
        g = WeightedGroups(rng.integers(0, n_k, n_items), w, n_k, labels=rng.integers(0, 99, n_items))
        m = 400
        d = rng.random((m, 3))
        d[:4, 1] = [0.0, 1.0 - 2**-53, 0.5, 1e-300]
        nn = np.zeros(m, np.int64)
        interest_cum = np.array([[1.0]], np.float32)  # one category: key = platform
        shelf = np.array([0], np.int64)
        yes, one, none = np.ones((1, 1), bool), np.ones(1), np.zeros((1, 1))
        brand, u = np.empty((m, 1), np.int64), np.empty((m, 2))
        kernels.planned_utilities(
            0, m, brand, u, nn, d, interest_cum, shelf, 1, g.cum, g.base, g.total, g.start, g.end, g.items,
            g.guide(), yes, np.ones(100), np.ones(100), one, none, none, one, one, 1.0, np.zeros(1), yes, beh,
        )  # fmt: skip
        assert np.array_equal(brand[:, 0], g.pick(np.zeros(m, np.int64), d[:, 1])), trial
        kernels.planned_utilities(  # the app not installed: no pick, no option
            0, m, brand, u, nn, d, interest_cum, shelf, 1, g.cum, g.base, g.total, g.start, g.end, g.items,
            g.guide(), ~yes, np.ones(100), np.ones(100), one, none, none, one, one, 1.0, np.zeros(1), yes, beh,
        )  # fmt: skip
        assert (brand[:, 0] == -1).all() and (u[:, 1] == -np.inf).all(), trial


@pytest.mark.filterwarnings("ignore:invalid value:RuntimeWarning")  # the row with no option
@pytest.mark.parametrize("options", [2, 5, 7, 9])
def test_logit_choice_equals_probabilities_choice_and_logsum(options, monkeypatch):
    monkeypatch.setenv("LIVEMARKET_THREADS", "2")  # logit_steps runs these 25,000 rows in two parts
    rng = np.random.default_rng(options)
    u = rng.normal(scale=5.0, size=(25_000, options))
    u[rng.random(u.shape) < 0.3] = -np.inf
    u[:, 0] = 0.0
    u[1], u[2, 1:] = -np.inf, -np.inf  # no option at all (nan log-sum); only the first
    u[12_500, 1:] = -np.inf  # the first row of the second part
    x = rng.random(len(u))
    expected = rules.choose_index(rules.logit_probabilities(u), x), rules.logsum(u)
    for compiled in (None, kernels):
        choice, logsum = rules.logit_choice(u, x, compiled)
        assert np.array_equal(choice, expected[0]) and np.array_equal(logsum, expected[1], equal_nan=True)


def test_last_order_days_in_parts_read_every_cell_before_writing_it(monkeypatch):
    """Orders in three parts, a cell ordered twice (across parts): each order reads the day before today, as numpy."""
    from livemarket.models.metrics import Recorder

    monkeypatch.setattr(kernels, "MIN_ROWS_PER_THREAD", 2)
    monkeypatch.setenv("LIVEMARKET_THREADS", "3")
    rng = np.random.default_rng(4)
    consumer, platform = rng.integers(0, 5, 12), rng.integers(0, 3, 12)
    consumer[[1, 10]], platform[[1, 10]] = 2, 1  # the same cell in the first part and the last
    for compiled in (None, kernels):
        recorder = Recorder.__new__(Recorder)
        recorder.names, recorder.model = ["a", "b", "c"], type("M", (), {"kernels": compiled, "day": 9})()
        recorder.last_order_step = (np.arange(15, dtype=np.int32) - 20).reshape(5, 3)  # cell c last ordered on c - 20
        orders = type("O", (), {"consumer": consumer, "platform": platform})()
        before = recorder._last_order_steps(orders)
        cell = consumer * 3 + platform
        assert np.array_equal(before, cell - 20) and before[10] == 7 - 20
        after = recorder.last_order_step.reshape(-1)
        assert (after[cell] == 9).all() and np.array_equal(after[np.setdiff1d(np.arange(15), cell)] + 20,
                                                           np.setdiff1d(np.arange(15), cell))  # fmt: skip


def test_fulfilment_delays_as_a_full_sort_would():
    """Sorting only brands over capacity delays the same orders as ranking every order by brand and draw."""
    from livemarket.models.market import _over_capacity

    rng = np.random.default_rng(0)
    for trial in range(200):
        n_brands, n = int(rng.integers(1, 40)), int(rng.integers(0, 300))
        brand, u = rng.integers(0, n_brands, n), rng.random(n)
        if trial % 3 == 0:
            u = np.round(u, 1)  # ties: broken by order, as lexsort does
        capacity = np.floor(rng.random(n_brands) * 12)
        order = np.lexsort((u, brand))
        rank = np.empty(n, np.int64)
        rank[order] = np.arange(n) - np.searchsorted(brand[order], brand[order], side="left")
        assert np.array_equal(_over_capacity(brand, u, capacity), rank >= capacity[brand]), trial
