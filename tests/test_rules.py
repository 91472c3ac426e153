"""Each rule on tiny inputs with exact expected values."""

import math

import numpy as np
import pytest

from livemarket.config import BehaviourConfig
from livemarket.core import rules
from livemarket.core.context import WeightedGroups
from livemarket.core.sampling import choose_from_cumulative, running_sums

BEH = BehaviourConfig()


def test_beta_trust_and_forgetting_formulas():
    assert rules.beta_trust(3.0, 1.0) == 0.75
    # forgetting pulls toward the prior: prior + (1 - f) (x - prior)
    assert rules.beta_forget(10.0, 2.0, 0.25) == pytest.approx(2.0 + 0.75 * 8.0)
    assert rules.beta_forget(2.0, 2.0, 0.5) == 2.0


def test_logit_matches_closed_form_and_respects_unavailable():
    u = np.array([0.0, 1.0, -np.inf, 2.0])
    p = rules.logit_probabilities(u)
    denom = 1 + math.e + math.e**2
    assert p == pytest.approx([1 / denom, math.e / denom, 0.0, math.e**2 / denom])
    assert rules.logsum(u) == pytest.approx(math.log(denom))


def test_choose_index_inverse_cdf():
    p = np.array([[0.2, 0.3, 0.5]] * 4)
    assert rules.choose_index(p, np.array([0.0, 0.19, 0.2, 0.99])).tolist() == [0, 0, 1, 2]
    # zero-probability options are never chosen
    assert rules.choose_index(np.array([0.5, 0.0, 0.5]), 0.5) == 2


def test_choose_index_of_short_rows_equals_the_running_sums_of_numpy():
    """Short rows summed a column at a time: numpy's ``cumsum`` along the rows bit for bit, and the same choices."""
    rng = np.random.default_rng(5)
    for k in range(1, 10):
        p = rng.random((500, k)) ** 3
        running = np.cumsum(p, axis=-1)
        assert np.array_equal(running_sums(p), running), k
        u = rng.random(500)
        u[:k] = running[np.arange(k), np.arange(k)] / running[np.arange(k), -1]  # on a running sum (rounded)
        assert np.array_equal(rules.choose_index(p, u), choose_from_cumulative(running, u)), k


def test_consider_probability_is_logistic_and_capped():
    z = BEH.consider_intercept + BEH.consider_match * 1 + BEH.consider_trust * 0.5 + BEH.consider_impulsivity * 0.2
    assert rules.consider_probability(1.0, 0.5, 0.2, BEH) == pytest.approx(1 / (1 + math.exp(-z)))
    assert rules.consider_probability(1.0, 1.0, 1.0, BEH, demand_multiplier=100.0) == 1.0


def test_visit_probability():
    assert rules.visit_probability(50.0, 0.2, 0.1) == pytest.approx(1 - math.exp(-1.0))
    assert rules.visit_probability(0.0, 0.2, 0.1) == 0.0


#: Round coefficients, so the expected values below are worked out by hand, not re-typed from the code.
ROUND = BehaviourConfig(bad_base=0.01, bad_quality=0.2, bad_logistics=0.1, bad_delay=0.05,
                        selection_care_effect=0.5, return_bad=0.6, return_impulse=0.2,
                        return_protection_lift=0.5)  # fmt: skip


def test_bad_outcome_probability_by_hand():
    # quality 0.9, logistics 0.6, delayed: 0.01 + 0.2 x 0.1 + 0.1 x 0.4 + 0.05 = 0.12
    assert rules.bad_outcome_probability(0.9, 0.6, 1.0, 0.0, ROUND) == pytest.approx(0.12)
    assert rules.bad_outcome_probability(0.9, 0.6, 0.0, 0.0, ROUND) == pytest.approx(0.07)  # on time
    assert rules.bad_outcome_probability(0.9, 0.6, 1.0, 1.0, ROUND) == pytest.approx(0.06)  # vetted: halved
    assert rules.bad_outcome_probability(1.0, 1.0, 0.0, 0.0, ROUND) == pytest.approx(0.01)  # the base rate
    worst = BehaviourConfig(bad_base=0.5, bad_quality=0.5, bad_logistics=0.5, bad_delay=0.5)
    assert rules.bad_outcome_probability(0.0, 0.0, 1.0, 0.0, worst) == 1.0  # a probability, capped


def test_return_probability_by_hand():
    # base 0.1, a bad order (0.6), an impulse buy in a live room (0.2 x 0.5): 0.8
    assert rules.return_probability(0.1, True, 0.5, True, 0.0, ROUND) == pytest.approx(0.8)
    assert rules.return_probability(0.1, False, 0.5, False, 0.0, ROUND) == pytest.approx(0.1)  # shelf: no impulse
    # protection 0.8 eases returns: (0.1 + 0.1) x (1 + 0.5 x 0.8) = 0.28
    assert rules.return_probability(0.1, False, 0.5, True, 0.8, ROUND) == pytest.approx(0.28)
    assert rules.return_probability(0.1, True, 0.5, True, 1.0, ROUND) == 1.0  # 0.8 x 1.5, capped


def test_minutes_fall_linearly_with_ad_load():
    base = rules.minutes_target(60.0, 0.0, 0.0, BEH)
    assert base == 60.0
    assert rules.minutes_target(60.0, 0.2, 0.0, BEH) == pytest.approx(60.0 * (1 - BEH.minutes_ad_elasticity * 0.2))
    excess = 0.35 - BEH.live_share_tolerance
    assert rules.minutes_target(60.0, 0.0, 0.35, BEH) == pytest.approx(60 * (1 - BEH.minutes_live_elasticity * excess))


def test_weighted_groups_pick_exact():
    g = WeightedGroups(keys=np.array([1, 0, 1, 1]), weights=np.array([1.0, 5.0, 0.0, 3.0]), n_keys=3)
    # group 1 holds items 0 (w=1), 2 (w=0), 3 (w=3): cumulative 1, 1, 4
    picks = g.pick(np.array([1, 1, 1, 0, 2]), np.array([0.1, 0.25, 0.26, 0.7, 0.5]))
    assert picks.tolist() == [0, 3, 3, 1, -1]
    labelled = WeightedGroups(np.array([0, 0]), np.array([1.0, 1.0]), 1, labels=np.array([7, 9]))
    assert labelled.pick(np.array([0, 0]), np.array([0.2, 0.8])).tolist() == [7, 9]
    # a uniform just below 1 rounds to the group's end: the pick stays in the group
    ones = WeightedGroups(keys=np.array([0, 1, 2]), weights=np.ones(3), n_keys=3)
    assert ones.pick(np.array([1, 0]), np.array([1.0 - 2**-53, 1.0 - 2**-53])).tolist() == [1, 0]


def test_weighted_groups_guided_pick_equals_binary_search():
    """Both searches (guided for many picks, binary for few) find what a binary search over the running weights finds.

    Skewed weights, ties, edges; a third of the trials pick fewer than half the items.
    """
    rng = np.random.default_rng(8)
    for trial in range(600):
        n_items, n_k = int(rng.integers(1, 80)), int(rng.integers(1, 8))
        w = rng.random(n_items) * (rng.random(n_items) < 0.6)
        w = w**8 if trial % 2 else np.round(w, 1)  # light items far from the guide; tied running weights
        g = WeightedGroups(rng.integers(0, n_k, n_items), w, n_k, labels=rng.integers(0, 99, n_items))
        m = 300 if trial % 3 else max(4, int(rng.integers(1, max(n_items // 2, 2))))
        key, u = rng.integers(0, n_k, m), rng.random(m)
        u[:4] = [0.0, 1.0 - 2**-53, 0.5, 1e-300]
        total = g.total[key]
        found = np.searchsorted(g.cum, g.base[key] + u * total, side="right")
        expected = np.where(total > 0, g.items[np.clip(found, g.start[key], g.last[key])], -1)
        assert np.array_equal(g.pick(key, u), expected), trial


def test_bernoulli_candidates_thinning_is_exact_in_distribution():
    rng = np.random.default_rng(3)
    p = np.linspace(0.0, 0.05, 200_000)
    hits = np.zeros(len(p))
    for _ in range(20):
        cells, u = rules.bernoulli_candidates(len(p), 0.05, rng)
        assert (np.diff(cells) > 0).all() and cells.max() < len(p)
        hits[cells[u * 0.05 < p[cells]]] += 1
    # expected events: sum of p per replicate; compare within 4 standard deviations
    expected, sd = 20 * p.sum(), np.sqrt(20 * (p * (1 - p)).sum())
    assert abs(hits.sum() - expected) < 4 * sd
    # the low half of the cells (smaller p) gets fewer events than the high half
    assert hits[:100_000].sum() < hits[100_000:].sum()


def test_bernoulli_candidates_edge_cases():
    rng = np.random.default_rng(0)
    assert len(rules.bernoulli_candidates(10**9, 1e-320, rng)[0]) == 0  # no overflow, no hang
    assert len(rules.bernoulli_candidates(0, 0.5, rng)[0]) == 0
    cells, u = rules.bernoulli_candidates(7, 1.0, rng)
    assert cells.tolist() == list(range(7)) and len(u) == 7


def test_protection_guarantee_raises_perceived_trust():
    assert rules.perceived_trust(0.6, 0.0, BEH) == pytest.approx(0.6)
    full = rules.perceived_trust(0.6, 1.0, BEH)
    assert full == pytest.approx(1 - 0.4 * (1 - BEH.protection_assurance))
    assert rules.perceived_trust(0.6, 0.5, BEH) < full <= 1.0
