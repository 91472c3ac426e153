"""The consumer rules as formulas, written once for scalars and arrays alike.

Both consumer engines (the column engine and the per-consumer reference) call these
functions, so the two differ only in how they walk the population, never in the rule.
Every function is a plain numpy expression: pass floats or arrays. Where a formula sums
terms, the order of the terms is part of the rule (floating point is not associative, and
the baselines pin the last bits).
"""

from __future__ import annotations

import numpy as np

# samplers live in their own module; re-exported here, where callers first found them
from livemarket.core.sampling import bernoulli_candidates, choose_from_cumulative, choose_index

__all__ = [
    "CHANNELS",
    "adoption_hazard",
    "bad_outcome_probability",
    "bernoulli_candidates",
    "beta_forget",
    "beta_trust",
    "choose_from_cumulative",
    "choose_index",
    "churn_hazard",
    "consider_probability",
    "evidence_weights",
    "install_hazard",
    "interest_match",
    "is_content",
    "is_link",
    "is_live_room",
    "is_video",
    "link_utility",
    "live_common_utility",
    "logit_choice",
    "logit_probabilities",
    "logsum",
    "minutes_target",
    "new_link_friction",
    "own_shop_utility",
    "perceived_trust",
    "platform_utility",
    "price_utility",
    "rescale_commission",
    "return_probability",
    "scandal_evidence",
    "search_utility",
    "shelf_utility",
    "surplus_rmb",
    "video_view_probability",
    "visit_probability",
    "word_of_mouth_evidence",
]

#: Sales channels, in the order used by every table.
#: A product video's three ways to buy mirror the live room's: VIDEO_OWN - LIVE_OWN is the offset.
CHANNELS = (
    "live_own_shop", "live_outbound_link", "live_later_search", "planned_search", "splash_ad",
    "video_own_shop", "video_outbound_link", "video_later_search",
)  # fmt: skip
LIVE_OWN, LIVE_LINK, LIVE_SEARCH, PLANNED, SPLASH, VIDEO_OWN, VIDEO_LINK, VIDEO_SEARCH = range(len(CHANNELS))


def is_live_room(channel):
    """Orders a live room sent (own shop, outbound link, later search)."""
    return np.asarray(channel) <= LIVE_SEARCH


def is_video(channel):
    """Orders a product video sent (own shop, outbound link, later search)."""
    return np.asarray(channel) >= VIDEO_OWN


def is_content(channel):
    """Orders content sent: a live room or a product video."""
    return is_live_room(channel) | is_video(channel)


def is_link(channel):
    """Orders through an outbound link (the content platform's link fee applies)."""
    return (np.asarray(channel) == LIVE_LINK) | (np.asarray(channel) == VIDEO_LINK)


def beta_trust(a, b):
    """Trust as the mean of Beta(a, b) evidence: a / (a + b), in [0, 1] for a, b > 0."""
    return a / (a + b)


def beta_forget(x, prior, forgetting_per_day: float):
    """Pull evidence ``x`` toward ``prior`` by the daily forgetting rate."""
    return prior + (1.0 - forgetting_per_day) * (x - prior)


def visit_probability(minutes, live_share, visits_per_minute):
    """Chance of entering at least one live room today: 1 - exp(-minutes * live_share * rate)."""
    return 1.0 - np.exp(-np.asarray(minutes) * live_share * visits_per_minute)


def video_view_probability(minutes, live_share, feed_mode, views_per_minute):
    """Chance of seeing at least one product video today.

    1 - exp(-minutes * (1 - live_share) * feed_mode * rate): the feed minutes outside live rooms,
    of which the interest-recommended share carries product videos.
    """
    return 1.0 - np.exp(-np.asarray(minutes) * (1.0 - live_share) * feed_mode * views_per_minute)


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


def logit_choice(utilities, uniform, compiled=None):
    """The option picked (as :func:`choose_index` of :func:`logit_probabilities`) and the :func:`logsum`.

    One pass of ``exp`` serves both; the results equal those of the three functions bit for bit.
    ``compiled``: a module with compiled equivalents of the steps around ``exp`` and ``log``
    (``logit_steps``; see :mod:`livemarket.agents.kernels`), used for 2-D
    utilities of fewer than 8 options (numpy sums such rows term by term, as they do).
    """
    u = np.asarray(utilities, dtype=np.float64)
    if u.ndim == 2 and 0 < u.shape[1] < 8:
        if compiled is not None:
            top, choice, total = compiled.logit_steps(u, np.ascontiguousarray(uniform))
            return choice, top + np.log(total)
        return _logit_by_columns(u, np.asarray(uniform))  # numpy's short-row reductions are slow
    top = u.max(axis=-1, keepdims=True)
    e = np.exp(u - top)
    total = e.sum(axis=-1, keepdims=True)
    return choose_index(e / total, uniform), top[..., 0] + np.log(total[..., 0])


def _logit_by_columns(u: np.ndarray, uniform: np.ndarray):
    """:func:`logit_choice` of (rows, k < 8) utilities as whole-column steps: the same operations, the same bits.

    A row's maximum, its sum (term by term, as numpy sums rows of fewer than 8) and its running
    sum of shares are taken a column at a time over all rows at once, on the options laid out
    as (k, rows): every step is one contiguous loop (numpy broadcasts short rows slowly).
    """
    by_option = np.ascontiguousarray(u.T)
    k = len(by_option)
    top = by_option[0].copy()
    for j in range(1, k):
        np.maximum(top, by_option[j], out=top)
    e = np.exp(by_option - top)
    total = e[0].copy()
    for j in range(1, k):
        total += e[j]
    share = e / total
    running = [share[0]]
    for j in range(1, k):
        running.append(running[-1] + share[j])
    x = uniform * running[-1]
    count = np.zeros(len(u), np.int64)
    for r in running:
        count += r <= x
    return np.minimum(count, k - 1), top + np.log(total)


def logsum(utilities):
    """Expected maximum utility (the logit log-sum), the basis of consumer surplus."""
    u = np.asarray(utilities, dtype=np.float64)
    top = u.max(axis=-1)
    return top + np.log(np.exp(u - top[..., None]).sum(axis=-1))


def bad_outcome_probability(quality, logistics_quality, delayed, selection_care, beh):
    """Chance an order goes wrong: low quality, poor logistics, delay; vetting helps."""
    p = (
        beh.bad_base
        + beh.bad_quality * (1.0 - quality)
        + beh.bad_logistics * (1.0 - logistics_quality)
        + beh.bad_delay * delayed
    )
    return np.minimum(np.maximum(p * (1.0 - beh.selection_care_effect * selection_care), 0.0), 1.0)  # clip, jitable


def new_link_friction(days_open, beh):
    """Extra utility cost of a link reopened ``days_open`` days ago: merchants re-list, habits return."""
    return beh.relink_friction * np.exp(-np.asarray(days_open, dtype=float) / beh.relink_days)


def perceived_trust(trust, protection, beh):
    """Trust a shopper acts on: the platform's guarantee covers part of the remaining risk."""
    return 1.0 - (1.0 - trust) * (1.0 - beh.protection_assurance * protection)


def return_probability(category_return_rate, bad, impulsivity, from_content, protection, beh):
    """Chance an order is returned.

    Category base rate, bad outcomes and impulse buys from content (live rooms, product videos),
    all made easier by the platform's protection (return-shipping insurance, no-reason returns).
    """
    p = category_return_rate + beh.return_bad * bad + beh.return_impulse * impulsivity * from_content
    return np.minimum(np.maximum(p * (1.0 + beh.return_protection_lift * protection), 0.0), 1.0)  # clip, jitable


def minutes_target(minutes_per_day, ad_load, live_share, beh):
    """Long-run minutes a user spends: falls linearly with ad load and excess live selling."""
    excess_live = np.maximum(0.0, live_share - beh.live_share_tolerance)
    factor = 1.0 - beh.minutes_ad_elasticity * ad_load - beh.minutes_live_elasticity * excess_live
    return minutes_per_day * np.maximum(0.0, factor)


def churn_hazard(trust, beh):
    """Daily chance of uninstalling an app: a base rate plus more as trust falls below a threshold."""
    shortfall = np.maximum(0.0, beh.churn_trust_threshold - trust) / beh.churn_trust_threshold
    return beh.churn_base_per_day + beh.churn_trust_per_day * shortfall


# ---------------------------------------------------------------- channel utilities
def price_utility(price_rmb, price_sensitivity):
    """Disutility of a price: ``price_sensitivity`` is utility per 100 RMB."""
    return price_rmb * price_sensitivity / 100.0


def interest_match(interest_in_category, top_interest):
    """Interest match in [0, 1]: interest in the category over the consumer's top interest."""
    return interest_in_category / top_interest


def platform_utility(trust, protection, wallet_ok, beh):
    """Utility of paying on a platform: perceived trust in it, minus friction without a wallet it accepts."""
    trust_term = beh.util_trust_platform * perceived_trust(trust, protection, beh)
    return trust_term - beh.wallet_friction * np.logical_not(wallet_ok)


def live_common_utility(trust_streamer, brand_trust, match, impulsivity, price, beh):
    """The part of a live-room product's utility shared by every channel that follows the room."""
    return (
        beh.util_trust_streamer * trust_streamer + beh.util_trust_brand * brand_trust
        + beh.util_match * match + beh.util_impulsivity * impulsivity - price
    )  # fmt: skip


def own_shop_utility(common, platform, beh):
    """Buying inside the live room (the room's platform ``platform`` utility)."""
    return beh.util_own_shop + common + platform


def link_utility(common, platform, link_friction, beh, markup=0.0):
    """Following the room's outbound link to a shelf platform.

    Jump friction, any new-link friction, and ``markup``: the link fee passed into the checkout
    price, in utility (markup share x price utility).
    """
    return beh.util_link + common + platform - beh.jump_friction - link_friction - markup


def search_utility(brand_trust, match, price, platform, beh):
    """Searching the product later on another shelf platform (no streamer or impulse terms)."""
    return (
        beh.util_search + beh.util_trust_brand * brand_trust + beh.util_match * match - price
        + platform - beh.search_friction
    )  # fmt: skip


def shelf_utility(brand_trust, price, platform, beh, friction=0.0):
    """A planned purchase (or a splash ad's, with ``friction``) of a brand found on a shelf platform."""
    return beh.util_planned + beh.util_trust_brand * brand_trust - friction - price + platform


def surplus_rmb(utilities, price_sensitivity, logsum_utility=None):
    """Consumer surplus of one choice in RMB: the logit log-sum over utility per RMB.

    ``logsum_utility``: the log-sum when already computed (by :func:`logit_choice`); then
    ``utilities`` is not read.
    """
    total = logsum(utilities) if logsum_utility is None else logsum_utility
    return total * 100.0 / price_sensitivity


def live_orders_cover_need(live_orders, needs_met, substitution: float):
    """Substitution: k live orders stand for round(k x substitution) planned purchases.

    True where some are still unspent: today's planned purchase was made already, in a live room.
    """
    return needs_met < np.floor(live_orders * substitution + 0.5)


# ---------------------------------------------------------------- evidence
def evidence_weights(bad, covered, beh):
    """(good, bad) trust evidence of one outcome; platform protection softens a covered bad one."""
    good = beh.evidence_good * np.logical_not(bad)
    return good, beh.evidence_bad * bad * (1.0 - beh.protection_soften * covered)


def word_of_mouth_evidence(evidence, beh):
    """The share of a buyer's evidence each neighbour hears."""
    return beh.word_of_mouth * evidence


def scandal_evidence(protection, beh):
    """(edge, platform, spillover) bad evidence a scandal adds for each follower of the streamer.

    On the follow edge to the streamer; on the streamer's home platform (softened by its
    protection); on each of the follower's other follow edges on that platform.
    """
    on_platform = beh.scandal_platform_evidence * (1 - protection)
    return beh.scandal_evidence, on_platform, beh.scandal_spillover * beh.scandal_evidence


# ---------------------------------------------------------------- hazards
def adoption_hazard(promotion, adopter_share, bass_q):
    """Bass adoption: platform promotion on the apps one has (p) plus imitation of neighbours (q)."""
    return promotion + bass_q * adopter_share


def install_hazard(neighbour_use, pull, beh):
    """Daily chance a non-user installs an app: a base rate, the platform's pull, and social influence."""
    return beh.install_per_day + pull + beh.install_social * neighbour_use


def rescale_commission(commission: np.ndarray, old_mean: float, new_mean: float) -> np.ndarray:
    """Commissions drawn around ``old_mean`` moved to ``new_mean`` (proportionally; all equal if old is 0 or 1)."""
    if 0.0 < old_mean < 1.0:
        return np.clip(commission * (new_mean / old_mean), 0.0, 1.0)
    return np.full(len(commission), new_mean)
