"""The consumer rules as formulas, written once for scalars and arrays alike.

Both consumer engines (the column engine and the per-consumer reference) call these
functions, so the two differ only in how they walk the population, never in the rule.
Every function is a plain numpy expression: pass floats or arrays.
"""

from __future__ import annotations

import numpy as np

__all__ = [
    "CHANNELS",
    "bad_outcome_probability",
    "bernoulli_candidates",
    "beta_forget",
    "beta_trust",
    "choose_from_cumulative",
    "choose_index",
    "churn_hazard",
    "consider_probability",
    "install_hazard",
    "logit_probabilities",
    "logsum",
    "minutes_target",
    "new_link_friction",
    "perceived_trust",
    "rescale_commission",
    "return_probability",
    "visit_probability",
]

#: Sales channels, in the order used by every table.
CHANNELS = ("live_own_shop", "live_outbound_link", "live_later_search", "planned_search", "splash_ad")
LIVE_OWN, LIVE_LINK, LIVE_SEARCH, PLANNED, SPLASH = range(len(CHANNELS))


def beta_trust(a, b):
    """Trust as the mean of Beta(a, b) evidence: a / (a + b), in [0, 1] for a, b > 0."""
    return a / (a + b)


def beta_forget(x, prior, forgetting_per_day: float):
    """Pull evidence ``x`` toward ``prior`` by the daily forgetting rate."""
    return prior + (1.0 - forgetting_per_day) * (x - prior)


def visit_probability(minutes, live_share, visits_per_minute):
    """Chance of entering at least one live room today: 1 - exp(-minutes * live_share * rate)."""
    return 1.0 - np.exp(-np.asarray(minutes) * live_share * visits_per_minute)


def consider_probability(match, trust_streamer, impulsivity, beh, demand_multiplier: float = 1.0):
    """Chance a live-room viewer considers buying: logistic in match, trust, impulsivity."""
    z = (
        beh.consider_intercept
        + beh.consider_match * match
        + beh.consider_trust * trust_streamer
        + beh.consider_impulsivity * impulsivity
    )
    return np.minimum(1.0, demand_multiplier / (1.0 + np.exp(-z)))


def logit_probabilities(utilities):
    """Multinomial-logit choice shares over the last axis; ``-inf`` marks unavailable options."""
    u = np.asarray(utilities, dtype=np.float64)
    top = u.max(axis=-1, keepdims=True)
    e = np.exp(u - top)
    return e / e.sum(axis=-1, keepdims=True)


def logsum(utilities):
    """Expected maximum utility (the logit log-sum), the basis of consumer surplus."""
    u = np.asarray(utilities, dtype=np.float64)
    top = u.max(axis=-1)
    return top + np.log(np.exp(u - top[..., None]).sum(axis=-1))


def choose_index(probabilities, uniform):
    """Index of the option picked by inverse-CDF sampling with one uniform draw per row."""
    return choose_from_cumulative(np.cumsum(probabilities, axis=-1), uniform)


def choose_from_cumulative(cumulative, uniform):
    """:func:`choose_index` given the running sums of the probabilities (reusable across days)."""
    u = np.asarray(uniform)[..., None] * cumulative[..., -1:]
    return np.minimum((cumulative <= u).sum(axis=-1), np.shape(cumulative)[-1] - 1)


def bad_outcome_probability(quality, logistics_quality, delayed, selection_care, beh):
    """Chance an order goes wrong: low quality, poor logistics, delay; vetting helps."""
    p = (
        beh.bad_base
        + beh.bad_quality * (1.0 - quality)
        + beh.bad_logistics * (1.0 - logistics_quality)
        + beh.bad_delay * delayed
    )
    return np.clip(p * (1.0 - beh.selection_care_effect * selection_care), 0.0, 1.0)


def new_link_friction(days_open, beh):
    """Extra utility cost of a link reopened ``days_open`` days ago: merchants re-list, habits return."""
    return beh.relink_friction * np.exp(-np.asarray(days_open, dtype=float) / beh.relink_days)


def perceived_trust(trust, protection, beh):
    """Trust a shopper acts on: the platform's guarantee covers part of the remaining risk."""
    return 1.0 - (1.0 - trust) * (1.0 - beh.protection_assurance * protection)


def return_probability(category_return_rate, bad, impulsivity, is_live, protection, beh):
    """Chance an order is returned.

    Category base rate, bad outcomes and impulse buys in live rooms, all made easier by the
    platform's protection (return-shipping insurance, no-reason returns).
    """
    p = category_return_rate + beh.return_bad * bad + beh.return_impulse * impulsivity * is_live
    return np.clip(p * (1.0 + beh.return_protection_lift * protection), 0.0, 1.0)


def minutes_target(minutes_per_day, ad_load, live_share, beh):
    """Long-run minutes a user spends: falls linearly with ad load and excess live selling."""
    excess_live = np.maximum(0.0, live_share - beh.live_share_tolerance)
    factor = 1.0 - beh.minutes_ad_elasticity * ad_load - beh.minutes_live_elasticity * excess_live
    return minutes_per_day * np.maximum(0.0, factor)


def install_hazard(neighbour_use, pull, beh):
    """Daily chance a non-user installs an app: a base rate, the platform's pull, and social influence."""
    return beh.install_per_day + pull + beh.install_social * neighbour_use


def churn_hazard(trust, beh):
    """Daily chance of uninstalling an app: a base rate plus more as trust falls below a threshold."""
    shortfall = np.maximum(0.0, beh.churn_trust_threshold - trust) / beh.churn_trust_threshold
    return beh.churn_base_per_day + beh.churn_trust_per_day * shortfall


def bernoulli_candidates(size: int, p_max: float, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Thinning for many independent events of chance ``p_i <= p_max`` among ``size`` cells.

    Draws the cells where a Bernoulli(``p_max``) trial succeeds (geometric gaps, so the cost
    grows with the number of successes, not with ``size``) and one uniform ``u`` per such cell.
    Cell ``i`` then has its event when ``u * p_max < p_i``: exactly chance ``p_i``, as with one
    uniform per cell, at a fraction ``p_max`` of the draws. Cells come in increasing order.

    Returns:
        (cells, u): int64 cell indices in increasing order and their uniforms.
    """
    if size <= 0 or p_max <= 0.0:
        return np.zeros(0, np.int64), np.zeros(0)
    if p_max >= 1.0:
        return np.arange(size, dtype=np.int64), rng.random(size)
    expected = size * p_max
    batch = int(expected + 6.0 * np.sqrt(expected) + 16)
    cells = np.cumsum(_geometric_gaps(p_max, batch, size, rng)) - 1
    while cells[-1] < size:
        cells = np.concatenate([cells, cells[-1] + np.cumsum(_geometric_gaps(p_max, batch, size, rng))])
    cells = cells[cells < size]
    return cells, rng.random(len(cells))


def _geometric_gaps(p: float, count: int, cap: int, rng: np.random.Generator) -> np.ndarray:
    """Geometric(p) trials to the next success, by inversion, capped at ``cap + 1`` (no overflow)."""
    with np.errstate(over="ignore"):  # p near zero: gaps beyond any cap
        gaps = np.ceil(rng.standard_exponential(count) / -np.log1p(-p))
    return np.minimum(np.maximum(gaps, 1.0), cap + 1.0).astype(np.int64)


def rescale_commission(commission: np.ndarray, old_mean: float, new_mean: float) -> np.ndarray:
    """Commissions drawn around ``old_mean`` moved to ``new_mean`` (proportionally; all equal if old is 0 or 1)."""
    if 0.0 < old_mean < 1.0:
        return np.clip(commission * (new_mean / old_mean), 0.0, 1.0)
    return np.full(len(commission), new_mean)
