"""Consumers as one population held in columns: one row per consumer, rules over whole columns.

The daily rules (MODEL_SPEC "One day", step 4 and steps 6-7) are written once in
:mod:`livemarket.models.rules`; this module applies them to every consumer at once.
Everyone reads yesterday's state (synchronous update). The per-consumer reference in
:mod:`livemarket.agents.reference` applies the same rules one agent at a time and must
reproduce this engine's trajectory on the same seed.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

from livemarket.draws import beta_with_mean
from livemarket.models import rules
from livemarket.models.day import DayContext, Orders, Outcomes

__all__ = ["ConsumerColumns", "ConsumerState", "init_consumer_state"]


@dataclass
class ConsumerState:
    """Every consumer's state, one row per consumer (follow edges: one row per edge)."""

    tier: np.ndarray  # int8 city tier 0..3
    interest: np.ndarray  # (N, K) interest shares, rows sum to 1
    installed: np.ndarray  # bool (N, P) app installed (multi-homing)
    minutes: np.ndarray  # (N, P) minutes per day on each app
    wallets: np.ndarray  # bool (N, W) payment wallets held
    price_sensitivity: np.ndarray  # utility per 100 RMB
    impulsivity: np.ndarray  # in [0, 1]
    adopter: np.ndarray  # bool: live-shopping adopter
    trust_a: np.ndarray  # (N, P) platform trust evidence, good
    trust_b: np.ndarray  # (N, P) platform trust evidence, bad
    follow_indptr: np.ndarray  # CSR rows: consumer -> follow edges
    follow_streamer: np.ndarray  # (E,) streamer of each follow edge
    follow_a: np.ndarray  # (E,) streamer trust evidence, good
    follow_b: np.ndarray  # (E,) streamer trust evidence, bad

    @property
    def n(self) -> int:
        """Number of consumers."""
        return len(self.tier)

    def copy(self) -> ConsumerState:
        """A deep copy (each engine owns its state)."""
        return ConsumerState(**{k: v.copy() for k, v in self.__dict__.items()})


def init_consumer_state(model, rng: np.random.Generator) -> ConsumerState:
    """Draw the initial population from the scenario (same draws for both engines)."""
    cfg, n = model.config, model.config.consumers
    cc, k, p = cfg.consumer, cfg.categories.count, len(model.platform_list)
    tier = rng.choice(len(cc.tier_shares), size=n, p=cc.tier_shares).astype(np.int8)
    interest = rng.dirichlet(np.full(k, cc.interest_concentration), size=n)
    users = np.array([pl.config.users_share for pl in model.platform_list])
    installed = rng.random((n, p)) < users
    holds = np.array([cc.wallets.get(w, 0.0) for w in model.wallet_names])
    wallets = rng.random((n, len(holds))) < holds
    price_sensitivity = rng.gamma(4.0, cc.price_sensitivity_mean / 4.0, size=n)
    impulsivity = beta_with_mean(rng, cc.impulsivity_mean, 4.0, n)
    adopter = rng.random(n) < cc.adopter_share
    prior = model.trust_prior_evidence()
    trust_a = np.broadcast_to(prior[0], (n, p)).copy()
    trust_b = np.broadcast_to(prior[1], (n, p)).copy()
    indptr, follows = model.build_follows(installed, rng)
    s_a, s_b = model.streamer_prior_evidence()
    minutes = installed * model.minutes_target_today()
    return ConsumerState(
        tier=tier, interest=interest, installed=installed, minutes=minutes, wallets=wallets,
        price_sensitivity=price_sensitivity, impulsivity=impulsivity, adopter=adopter,
        trust_a=trust_a, trust_b=trust_b, follow_indptr=indptr, follow_streamer=follows,
        follow_a=np.full(len(follows), s_a), follow_b=np.full(len(follows), s_b),
    )  # fmt: skip


class ConsumerColumns:
    """The column engine: the consumer rules applied to all consumers at once."""

    def __init__(self, model, state: ConsumerState):
        self.model = model
        self.beh = model.config.behaviour
        self.s = state
        self.adjacency: sp.csr_array = model.social_graph.adjacency()
        self.degree = np.asarray(self.adjacency.sum(axis=1)).ravel()
        n_streamers = len(model.streamers.platform)
        self.follow_row = np.repeat(np.arange(state.n), np.diff(state.follow_indptr))
        self.follow_key = self.follow_row * n_streamers + state.follow_streamer
        self.follow_platform = model.streamers.platform[state.follow_streamer]
        self.prior_a, self.prior_b = model.trust_prior_evidence()
        self.streamer_prior = model.streamer_prior_evidence()

    # ----------------------------------------------------------------- views
    def snapshot(self) -> ConsumerState:
        """The current state (the live arrays; do not modify)."""
        return self.s

    def platform_trust(self) -> np.ndarray:
        """(N, P) trust in each platform."""
        return rules.beta_trust(self.s.trust_a, self.s.trust_b)

    def follow_trust(self) -> np.ndarray:
        """(E,) trust along each follow edge."""
        return rules.beta_trust(self.s.follow_a, self.s.follow_b)

    def _wallet_ok(self, ctx: DayContext) -> np.ndarray:
        return (self.s.wallets.astype(np.int8) @ ctx.accepts.T.astype(np.int8)) > 0

    # ----------------------------------------------------------------- shop
    def shop(self, ctx: DayContext, rng: np.random.Generator) -> Orders:
        """Attention, exposure, consideration, channel choice, planned needs, splash ads."""
        s, beh = self.s, self.beh
        trust = self.platform_trust()
        wallet_ok = self._wallet_ok(ctx)
        parts, surplus = [], 0.0

        # a-b. attention and exposure to live rooms
        p_visit = rules.visit_probability(s.minutes, ctx.live_share, beh.live_visits_per_minute)
        p_visit = p_visit * (s.installed & s.adopter[:, None])
        vn, vp = np.nonzero(rng.random(p_visit.shape) < p_visit)
        d = rng.random((len(vn), 5))
        by_interest = d[:, 0] < ctx.feed_mode[vp]
        cat = rules.choose_index(s.interest[vn], d[:, 1])
        room = ctx.rooms.pick(vp * ctx.n_categories + cat, d[:, 2])
        followed, follow_edge = self._pick_followed(vn, vp, d[:, 2], ctx)
        streamer = np.where(by_interest, room, followed)
        seen = streamer >= 0
        vn, vp, streamer, d = vn[seen], vp[seen], streamer[seen], d[seen]
        edge = np.where(by_interest[seen], self._edge_of(vn, streamer), follow_edge[seen])

        # c. consideration
        match = self._match(vn, ctx.streamer_category[streamer])
        t_streamer = np.where(
            edge >= 0, rules.beta_trust(s.follow_a[edge], s.follow_b[edge]), ctx.streamer_trust[streamer]
        )
        imp = s.impulsivity[vn]
        p_cons = rules.consider_probability(match, t_streamer, imp, beh, ctx.demand_multiplier)
        c = d[:, 3] < p_cons
        vn, vp, streamer, edge, match, t_streamer, imp, d = (
            x[c] for x in (vn, vp, streamer, edge, match, t_streamer, imp, d)
        )

        # d. channel choice: none | own shop | outbound link to q | later search on q
        b = ctx.product[streamer]
        n_p = len(ctx.is_shelf)
        price = ctx.price_rmb[b] * s.price_sensitivity[vn] / 100.0
        common = (
            beh.util_trust_streamer * t_streamer + beh.util_trust_brand * ctx.brand_trust[b]
            + beh.util_match * match + beh.util_impulsivity * imp - price
        )  # fmt: skip
        plat = beh.util_trust_platform * trust[vn] - beh.wallet_friction * ~wallet_ok[vn]
        own = beh.util_own_shop + common + plat[np.arange(len(vn)), vp]
        link = beh.util_link + common[:, None] + plat - beh.jump_friction
        search = (
            beh.util_search + beh.util_trust_brand * ctx.brand_trust[b] + beh.util_match * match
            - price
        )[:, None] + plat - beh.search_friction  # fmt: skip
        u = np.full((len(vn), 2 + 2 * n_p), -np.inf)
        u[:, 0] = 0.0
        u[:, 1] = np.where(ctx.sells_in_room[b, vp], own, -np.inf)
        u[:, 2 : 2 + n_p] = np.where(ctx.link_allowed[vp] & ctx.listed[b], link, -np.inf)
        ok_search = ctx.listed[b] & s.installed[vn] & (np.arange(n_p) != vp[:, None])
        u[:, 2 + n_p :] = np.where(ok_search, search, -np.inf)
        choice = rules.choose_index(rules.logit_probabilities(u), d[:, 4])
        surplus += float(np.sum(rules.logsum(u) * 100.0 / s.price_sensitivity[vn]))
        buy = choice > 0
        ch = choice[buy]
        pay = np.where(ch == 1, vp[buy], (ch - 2) % n_p)
        channel = np.where(ch == 1, rules.LIVE_OWN, np.where(ch < 2 + n_p, rules.LIVE_LINK, rules.LIVE_SEARCH))
        parts.append(self._fragment(vn[buy], b[buy], pay, vp[buy], channel, streamer[buy], edge[buy], ctx))

        # planned needs: search on shelf platforms
        need = rng.random(s.n) < self.model.config.consumer.needs_per_day * ctx.demand_multiplier
        nn = np.nonzero(need)[0]
        d = rng.random((len(nn), 3))
        cat = rules.choose_index(s.interest[nn], d[:, 0])
        brand = np.stack([ctx.shelf_brands.pick(q * ctx.n_categories + cat, d[:, 1]) for q in range(n_p)], 1)
        ok = (brand >= 0) & s.installed[nn] & ctx.is_shelf
        bb = np.maximum(brand, 0)
        util = (
            beh.util_planned + beh.util_trust_brand * ctx.brand_trust[bb]
            - ctx.price_rmb[bb] * s.price_sensitivity[nn, None] / 100.0
            + beh.util_trust_platform * trust[nn] - beh.wallet_friction * ~wallet_ok[nn]
        )  # fmt: skip
        u = np.column_stack([np.zeros(len(nn)), np.where(ok, util, -np.inf)])
        choice = rules.choose_index(rules.logit_probabilities(u), d[:, 2])
        surplus += float(np.sum(rules.logsum(u) * 100.0 / s.price_sensitivity[nn]))
        buy = choice > 0
        q = choice[buy] - 1
        parts.append(self._fragment(nn[buy], brand[buy, q], q, np.full(len(q), -1), rules.PLANNED, -1, -1, ctx))

        # splash ads bought by shelf platform q on content platform p
        views = np.zeros(n_p)
        for q, p, reach in ctx.splash:
            sn = np.nonzero(s.installed[:, p] & (rng.random(s.n) < reach))[0]
            views[p] += len(sn)
            d = rng.random((len(sn), 4))
            keep = d[:, 0] < beh.splash_consider * ctx.demand_multiplier
            sn, d = sn[keep], d[keep]
            cat = rules.choose_index(s.interest[sn], d[:, 1])
            brand = ctx.shelf_brands.pick(q * ctx.n_categories + cat, d[:, 2])
            bb = np.maximum(brand, 0)
            util = (
                beh.util_planned + beh.util_trust_brand * ctx.brand_trust[bb] - beh.jump_friction
                - ctx.price_rmb[bb] * s.price_sensitivity[sn] / 100.0
                + beh.util_trust_platform * trust[sn, q] - beh.wallet_friction * ~wallet_ok[sn, q]
            )  # fmt: skip
            u = np.column_stack([np.zeros(len(sn)), np.where(brand >= 0, util, -np.inf)])
            choice = rules.choose_index(rules.logit_probabilities(u), d[:, 3])
            surplus += float(np.sum(rules.logsum(u) * 100.0 / s.price_sensitivity[sn]))
            buy = choice > 0
            parts.append(self._fragment(sn[buy], brand[buy], q, p, rules.SPLASH, -1, -1, ctx))
        return Orders.concat(parts, surplus, views)

    def _fragment(self, n, brand, pay, source, channel, streamer, edge, ctx) -> dict:
        size = len(n)
        full = lambda x: np.broadcast_to(np.asarray(x), (size,))  # noqa: E731
        return dict(
            consumer=n, brand=brand, platform=full(pay), source=full(source), channel=full(channel),
            streamer=full(streamer), edge=full(edge), price_rmb=ctx.price_rmb[brand],
            impulsivity=self.s.impulsivity[n],
        )  # fmt: skip

    def _match(self, n: np.ndarray, category: np.ndarray) -> np.ndarray:
        """Interest match in [0, 1]: interest in the category over the consumer's top interest."""
        return self.s.interest[n, category] / self.s.interest[n].max(axis=1)

    def _edge_of(self, n: np.ndarray, streamer: np.ndarray) -> np.ndarray:
        """Follow edge index for (consumer, streamer), -1 where the consumer does not follow."""
        key = n * len(self.model.streamers.platform) + streamer
        pos = np.minimum(np.searchsorted(self.follow_key, key), max(len(self.follow_key) - 1, 0))
        hit = (len(self.follow_key) > 0) & (self.follow_key[pos] == key) & (streamer >= 0)
        return np.where(hit, pos, -1)

    def _pick_followed(self, vn, vp, uniform, ctx: DayContext):
        """A followed streamer on air on platform vp, uniformly among those (-1 if none)."""
        live_edges = np.nonzero(ctx.live[self.s.follow_streamer])[0]  # CSR order
        n_p = len(ctx.is_shelf)
        key = self.follow_row[live_edges] * n_p + self.follow_platform[live_edges]
        order = np.argsort(key, kind="stable")
        key, live_edges = key[order], live_edges[order]
        want = vn * n_p + vp
        lo = np.searchsorted(key, want, side="left")
        count = np.searchsorted(key, want, side="right") - lo
        if len(live_edges) == 0:
            none = np.full(len(vn), -1)
            return none, none
        pick = np.minimum(lo + np.floor(uniform * count).astype(np.int64), len(live_edges) - 1)
        edge = np.where(count > 0, live_edges[pick], -1)
        return np.where(edge >= 0, self.s.follow_streamer[np.maximum(edge, 0)], -1), edge

    # ----------------------------------------------------------------- learn
    def learn(self, ctx: DayContext, orders: Orders, out: Outcomes, rng: np.random.Generator) -> dict:
        """Trust from outcomes, word of mouth, scandals, forgetting; adoption, minutes, churn."""
        s, beh = self.s, self.beh
        n, p_all = s.n, len(ctx.is_shelf)
        good_w = beh.evidence_good * ~out.bad
        bad_w = beh.evidence_bad * out.bad * (1.0 - beh.protection_soften * out.protected)
        cell = orders.consumer * p_all + orders.platform
        own_good = np.bincount(cell, good_w, n * p_all).reshape(n, p_all)
        own_bad = np.bincount(cell, bad_w, n * p_all).reshape(n, p_all)
        s.trust_a += own_good + beh.word_of_mouth * (self.adjacency @ own_good)
        s.trust_b += own_bad + beh.word_of_mouth * (self.adjacency @ own_bad)
        e = orders.edge >= 0
        np.add.at(s.follow_a, orders.edge[e], good_w[e])
        np.add.at(s.follow_b, orders.edge[e], beh.evidence_bad * out.bad[e])
        lacking = ~self._wallet_ok(ctx)[orders.consumer, orders.platform]
        s.wallets[orders.consumer[lacking], ctx.primary_wallet[orders.platform[lacking]]] = True

        for streamer in ctx.scandals:
            hit = np.nonzero(s.follow_streamer == streamer)[0]
            s.follow_b[hit] += beh.scandal_evidence
            home = ctx.streamer_platform[streamer]
            s.trust_b[self.follow_row[hit], home] += beh.scandal_platform_evidence * (1 - ctx.protection[home])

        s.trust_a[:] = rules.beta_forget(s.trust_a, self.prior_a, beh.forgetting_per_day)
        s.trust_b[:] = rules.beta_forget(s.trust_b, self.prior_b, beh.forgetting_per_day)
        s.follow_a[:] = rules.beta_forget(s.follow_a, self.streamer_prior[0], beh.forgetting_per_day)
        s.follow_b[:] = rules.beta_forget(s.follow_b, self.streamer_prior[1], beh.forgetting_per_day)

        # e. Bass adoption; 7. minutes, churn and installs (all from yesterday's state)
        deg = np.maximum(self.degree, 1.0)
        adopt_share = (self.adjacency @ s.adopter.astype(np.float64)) / deg
        use_share = (self.adjacency @ s.installed.astype(np.float64)) / deg[:, None]
        u = rng.random((n, 1 + 2 * p_all))
        promo = s.installed @ ctx.promotion
        adopt = ~s.adopter & (u[:, 0] < promo + self.model.config.consumer.bass_q * adopt_share)
        trust = self.platform_trust()
        churn_hazard = beh.churn_base_per_day + beh.churn_trust_per_day * np.maximum(
            0.0, beh.churn_trust_threshold - trust
        ) / beh.churn_trust_threshold
        churn = s.installed & (u[:, 1 : 1 + p_all] < churn_hazard)
        join = ~s.installed & (u[:, 1 + p_all :] < beh.install_per_day + beh.install_social * use_share)
        s.adopter |= adopt
        s.minutes += beh.minutes_adjust_per_day * (s.installed * ctx.minutes_target - s.minutes)
        s.installed &= ~churn
        s.installed |= join
        s.minutes[churn] = 0.0
        return {"adopted": int(adopt.sum()), "churned": churn.sum(axis=0), "joined": join.sum(axis=0)}
