"""The per-consumer reference: one ``mesa.Agent`` per consumer, the rules read one person at a time.

This is the readable statement of the consumer rules and the test oracle of the column
engine (:mod:`livemarket.agents.consumers`): on the same seed both request the same random
numbers in the same order and must produce the same trajectory. It is slow (pure Python
per consumer) and meant for small populations.
"""

from __future__ import annotations

import dataclasses
import math

import mesa
import numpy as np

from livemarket.agents.population import ConsumerState, sample_shares, stat_sample
from livemarket.core import rules
from livemarket.core.context import DayContext, Orders, Outcomes

__all__ = ["ConsumerAgent", "ReferenceConsumers"]


class ConsumerAgent(mesa.Agent):
    """One consumer: apps, wallets, interests, trust in platforms and in followed streamers."""

    def __init__(self, model: mesa.Model, row: int, s: ConsumerState, neighbours: list[int]):
        super().__init__(model)
        self.row = row
        self.interest = s.interest[row].copy()
        self.installed = s.installed[row].tolist()
        self.minutes = s.minutes[row].tolist()
        self.wallets = s.wallets[row].tolist()
        self.price_sensitivity = float(s.price_sensitivity[row])
        self.impulsivity = float(s.impulsivity[row])
        self.adopter = bool(s.adopter[row])
        self.trust_a = s.trust_a[row].tolist()
        self.trust_b = s.trust_b[row].tolist()
        first, last = s.follow_indptr[row], s.follow_indptr[row + 1]
        self.first_edge = int(first)
        self.follows = s.follow_streamer[first:last].tolist()  # sorted streamer ids
        self.follow_a = s.follow_a[first:last].tolist()
        self.follow_b = s.follow_b[first:last].tolist()
        self.live_orders, self.needs_met_live = int(s.live_orders[row]), int(s.needs_met_live[row])
        self.neighbours = neighbours

    # ------------------------------------------------------------ small helpers
    def trust_in(self, p: int) -> float:
        """Trust in platform ``p``."""
        return rules.beta_trust(self.trust_a[p], self.trust_b[p])

    def wallet_ok(self, p: int, ctx: DayContext) -> bool:
        """Holds a wallet the checkout of ``p`` accepts."""
        return any(h and a for h, a in zip(self.wallets, ctx.accepts[p], strict=True))

    def edge_to(self, streamer: int) -> int:
        """Local index of the follow edge to ``streamer``, -1 if not followed."""
        return self.follows.index(streamer) if streamer in self.follows else -1

    def _pick(self, groups, key: int, u: float) -> int:
        return int(groups.pick(np.array([key]), np.array([u]))[0])

    def _platform_terms(self, q: int, ctx: DayContext) -> float:
        beh = self.model.config.behaviour
        return float(rules.platform_utility(self.trust_in(q), ctx.protection[q], self.wallet_ok(q, ctx), beh))

    def _choose(self, utilities: list[float], u: float) -> tuple[int, float]:
        choice = int(rules.choose_index(rules.logit_probabilities(utilities), u))
        return choice, float(rules.surplus_rmb(utilities, self.price_sensitivity))

    # ------------------------------------------------------------ shopping
    def live_room(self, p: int, d, ctx: DayContext):
        """Visit a live room on ``p``.

        Returns None if no room is seen, (None, None) if buying is not considered, else
        (order fields or None, surplus).
        """
        k = ctx.n_categories
        if d[0] < ctx.feed_mode[p]:  # interest recommendation
            cat = int(rules.choose_index(self.interest, d[1]))
            streamer = self._pick(ctx.rooms, p * k + cat, d[2])
            edge = self.edge_to(streamer) if streamer >= 0 else -1
        else:  # follow feed: a followed streamer on air
            on_air = [j for j, st in enumerate(self.follows) if ctx.live[st] and ctx.streamer_platform[st] == p]
            if not on_air:
                return None
            edge = on_air[min(math.floor(d[2] * len(on_air)), len(on_air) - 1)]
            streamer = self.follows[edge]
        if streamer < 0:
            return None
        return self._room_choice(p, streamer, edge, d[3], d[4], ctx)

    def product_video(self, p: int, d, ctx: DayContext):
        """See a product video on ``p``'s interest feed: None without one, else as :meth:`live_room`."""
        cat = int(rules.choose_index(self.interest, d[0]))
        streamer = self._pick(ctx.rooms, p * ctx.n_categories + cat, d[1])
        if streamer < 0:
            return None
        edge = self.edge_to(streamer)
        return self._room_choice(p, streamer, edge, d[2], d[3], ctx, rules.VIDEO_OWN - rules.LIVE_OWN)

    def _room_choice(self, p: int, streamer: int, edge: int, u_consider, u_choice, ctx: DayContext, offset: int = 0):
        """Consideration, then own shop | outbound link | later search; channels shifted by ``offset``."""
        beh = self.model.config.behaviour
        match = rules.interest_match(self.interest[ctx.streamer_category[streamer]], self.interest.max())
        t_s = rules.beta_trust(self.follow_a[edge], self.follow_b[edge]) if edge >= 0 else ctx.streamer_trust[streamer]
        if not u_consider < rules.consider_probability(match, t_s, self.impulsivity, beh, ctx.demand_multiplier):
            return None, None
        b = int(ctx.product[streamer])
        price = rules.price_utility(ctx.price_rmb[b], self.price_sensitivity)
        common = rules.live_common_utility(t_s, ctx.brand_trust[b], match, self.impulsivity, price, beh)
        n_p = len(ctx.is_shelf)
        in_room = ctx.sells_in_room[b, p]
        own = rules.own_shop_utility(common, self._platform_terms(p, ctx), beh) if in_room else -math.inf
        links, searches = [], []
        for q in range(n_p):
            plat = self._platform_terms(q, ctx)
            ok_link = ctx.link_allowed[p, q] and ctx.listed[b, q]
            markup = ctx.link_markup[p] * price  # the link fee passed into the checkout price
            link = rules.link_utility(common, plat, ctx.link_friction[p, q], beh, markup)
            links.append(link if ok_link else -math.inf)
            ok_search = ctx.listed[b, q] and self.installed[q] and q != p
            search = rules.search_utility(ctx.brand_trust[b], match, price, plat, beh)
            searches.append(search if ok_search else -math.inf)
        choice, surplus = self._choose([0.0, own, *links, *searches], u_choice)
        if choice == 0:
            return None, surplus
        if choice == 1:
            pay, channel = p, rules.LIVE_OWN
        else:
            pay = (choice - 2) % n_p
            channel = rules.LIVE_LINK if choice < 2 + n_p else rules.LIVE_SEARCH
        global_edge = self.first_edge + edge if edge >= 0 else -1
        return (b, pay, p, offset + channel, streamer, global_edge), surplus

    def shelf_purchase(self, q_options: list[int], cat_u: float, brand_u: float, choice_u: float,
                       ctx: DayContext, friction: float, require_installed: bool):  # fmt: skip
        """Buy for a need by searching shelf platforms ``q_options``: (brand, platform) or None."""
        beh, k = self.model.config.behaviour, ctx.n_categories
        cat = int(rules.choose_index(self.interest, cat_u))
        brands, utils = [], [0.0]
        for q in q_options:
            b = self._pick(ctx.shelf_brands, q * k + cat, brand_u)
            brands.append(b)
            ok = b >= 0 and ctx.is_shelf[q] and (self.installed[q] or not require_installed)
            price = rules.price_utility(ctx.price_rmb[max(b, 0)], self.price_sensitivity)
            util = rules.shelf_utility(ctx.brand_trust[max(b, 0)], price, self._platform_terms(q, ctx), beh, friction)
            utils.append(util if ok else -math.inf)
        choice, surplus = self._choose(utils, choice_u)
        if choice == 0:
            return None, surplus
        return (brands[choice - 1], q_options[choice - 1]), surplus


class ReferenceConsumers:
    """Engine over :class:`ConsumerAgent` objects, with the column engine's interface."""

    def __init__(self, model, state: ConsumerState):
        self.model = model
        self.beh = model.config.behaviour
        g = model.social_graph
        self.agents = [
            ConsumerAgent(model, i, state, g.indices[g.indptr[i] : g.indptr[i + 1]].tolist())
            for i in range(state.n)
        ]
        self.template = state
        self.prior_a, self.prior_b = model.trust_prior_evidence()
        self.streamer_prior = model.streamer_prior_evidence()

    def stats(self) -> dict:
        """End-of-day aggregates, defined as in the column engine (same sample rows and edges)."""
        a, n_p = self.agents, len(self.prior_a)
        rows = stat_sample(len(a))
        edges = stat_sample(len(self.template.follow_streamer))
        edge_owner = np.searchsorted(self.template.follow_indptr, edges, side="right") - 1
        follow_trust = [
            rules.beta_trust(a[o].follow_a[e - a[o].first_edge], a[o].follow_b[e - a[o].first_edge])
            for e, o in zip(edges, edge_owner, strict=True)
        ]
        return {
            "users": np.array([sum(ag.installed[p] for ag in a) for p in range(n_p)]),
            "minutes_sum": np.array([sum(ag.minutes[p] for ag in a) for p in range(n_p)]),
            "trust": np.array([[a[i].trust_in(p) for p in range(n_p)] for i in stat_sample(len(a))]),
            "follow_trust": np.array(follow_trust),
            "follow_platform": self.model.streamers.platform[self.template.follow_streamer[edges]],
            "adopter_share": float(np.mean([ag.adopter for ag in a])),
            "multihoming_rate": float(np.mean([sum(ag.installed) >= 2 for ag in a])),
            **sample_shares(
                np.array([a[i].installed for i in rows], bool).reshape(len(rows), n_p),
                np.array([a[i].wallets for i in rows], bool).reshape(len(rows), -1), self.model.wallet_accepts(),
            ),
        }

    def add_follows(self, consumer: np.ndarray, streamer: np.ndarray) -> np.ndarray:
        """New follow edges at the prior trust, as in the column engine; returns the streamers newly followed."""
        sa, sb = self.streamer_prior
        added = []
        for c, st in sorted(set(zip(np.asarray(consumer).tolist(), np.asarray(streamer).tolist(), strict=True))):
            ag = self.agents[c]
            if st in ag.follows:
                continue
            j = int(np.searchsorted(ag.follows, st))
            ag.follows.insert(j, st)
            ag.follow_a.insert(j, sa)
            ag.follow_b.insert(j, sb)
            added.append(st)
        counts = [len(ag.follows) for ag in self.agents]
        indptr = np.concatenate([[0], np.cumsum(counts)]).astype(np.int64)
        for ag, first in zip(self.agents, indptr[:-1], strict=True):
            ag.first_edge = int(first)
        follows = np.array([s for ag in self.agents for s in ag.follows], dtype=self.template.follow_streamer.dtype)
        self.template = dataclasses.replace(self.template, follow_indptr=indptr, follow_streamer=follows)
        return np.array(added, np.int64)

    def snapshot(self) -> ConsumerState:
        """Gather the agents' state into columns (for metrics and comparisons)."""
        a = self.agents
        cat = lambda f: np.array([x for ag in a for x in f(ag)], dtype=np.float64)  # noqa: E731
        return ConsumerState(
            tier=self.template.tier, interest=self.template.interest,
            installed=np.array([ag.installed for ag in a], bool), minutes=np.array([ag.minutes for ag in a]),
            wallets=np.array([ag.wallets for ag in a], bool),
            price_sensitivity=self.template.price_sensitivity, impulsivity=self.template.impulsivity,
            adopter=np.array([ag.adopter for ag in a], bool),
            trust_a=np.array([ag.trust_a for ag in a]), trust_b=np.array([ag.trust_b for ag in a]),
            follow_indptr=self.template.follow_indptr, follow_streamer=self.template.follow_streamer,
            follow_a=cat(lambda ag: ag.follow_a), follow_b=cat(lambda ag: ag.follow_b),
            live_orders=np.array([ag.live_orders for ag in a], np.int32),
            needs_met_live=np.array([ag.needs_met_live for ag in a], np.int32),
        )  # fmt: skip

    def shop(self, ctx: DayContext, rng: np.random.Generator, video_rng: np.random.Generator | None = None) -> Orders:
        """Same draws, same order as the column engine; rules applied agent by agent."""
        beh, n_p, rows, surplus = self.beh, len(ctx.is_shelf), [], 0.0
        add = lambda n, b, pay, src, ch, st, e: rows.append((n, b, pay, src, ch, st, e))  # noqa: E731
        p_max = float(np.max(rules.visit_probability(ctx.minutes_cap, ctx.live_share, beh.live_visits_per_minute)))
        visits, adopters = [], [ag for ag in self.agents if ag.adopter]
        for cell, u in zip(*rules.bernoulli_candidates(len(adopters) * n_p, p_max, rng), strict=True):
            ag, p = adopters[cell // n_p], int(cell % n_p)
            chance = rules.visit_probability(ag.minutes[p], ctx.live_share[p], beh.live_visits_per_minute)
            if ag.installed[p] and u * p_max < chance:
                visits.append((ag, p))
        funnel = np.zeros((4, n_p))
        for (ag, p), d in zip(visits, rng.random((len(visits), 5)), strict=True):
            funnel[0, p] += 1
            result = ag.live_room(p, d, ctx)
            if result is not None and result[1] is not None:  # considered
                order, cs = result
                funnel[1, p] += 1
                surplus += cs
                if order is not None:
                    add(ag.row, *order)
                    ag.live_orders += 1
        funnel[2:], video_surplus = self._product_videos(ctx, rng if video_rng is None else video_rng, add)
        surplus += video_surplus
        shelves = list(range(n_p))
        need_rate = self.model.config.consumer.needs_per_day * ctx.demand_multiplier
        needers = [self.agents[i] for i in rules.bernoulli_candidates(len(self.agents), need_rate, rng)[0]]
        substitution, replaced = self.model.config.consumer.live_substitution, 0
        for ag, d in zip(needers, rng.random((len(needers), 3)), strict=True):
            order, cs = ag.shelf_purchase(shelves, d[0], d[1], d[2], ctx, 0.0, True)
            covered = rules.live_orders_cover_need(ag.live_orders, ag.needs_met_live, substitution)
            if order is not None and substitution > 0 and covered:
                ag.needs_met_live += 1  # an earlier live order made this purchase already
                replaced += 1
                continue
            surplus += cs
            if order is not None:
                add(ag.row, order[0], order[1], -1, rules.PLANNED, -1, -1)
        views = np.zeros(n_p)
        for q, p, reach in ctx.splash:
            drawn = rules.bernoulli_candidates(len(self.agents), reach, rng)[0]
            seen = [self.agents[i] for i in drawn if self.agents[i].installed[p]]
            views[p] += len(seen)
            for ag, d in zip(seen, rng.random((len(seen), 4)), strict=True):
                if d[0] < beh.splash_consider * ctx.demand_multiplier:
                    order, cs = ag.shelf_purchase([q], d[1], d[2], d[3], ctx, beh.jump_friction, False)
                    surplus += cs
                    if order is not None:
                        add(ag.row, order[0], q, p, rules.SPLASH, -1, -1)
        cols = np.array(rows, dtype=np.int64).reshape(-1, 7)
        n, b = cols[:, 0], cols[:, 1]
        return Orders(
            consumer=n, brand=b, platform=cols[:, 2], source=cols[:, 3], channel=cols[:, 4],
            streamer=cols[:, 5], edge=cols[:, 6],
            price_rmb=ctx.price_rmb[b].astype(np.float64)
            * (1.0 + ctx.link_markup[np.maximum(cols[:, 3], 0)] * rules.is_link(cols[:, 4])),
            impulsivity=np.array([self.agents[i].impulsivity for i in n], dtype=np.float64),
            surplus_rmb=surplus, splash_views=views, funnel=funnel, planned_replaced=replaced,
        )  # fmt: skip

    def _product_videos(self, ctx: DayContext, rng: np.random.Generator, add) -> tuple[np.ndarray, float]:
        """Product-video orders (via ``add``); returns (2, P) views and considerations, and the surplus."""
        n_p = len(ctx.is_shelf)
        rate = self.beh.video_views_per_minute * ~ctx.is_shelf
        funnel, surplus = np.zeros((2, n_p)), 0.0
        p_max = float(np.max(rules.video_view_probability(ctx.minutes_cap, ctx.live_share, ctx.feed_mode, rate)))
        if p_max <= 0.0:
            return funnel, surplus
        views, adopters = [], [ag for ag in self.agents if ag.adopter]
        for cell, u in zip(*rules.bernoulli_candidates(len(adopters) * n_p, p_max, rng), strict=True):
            ag, p = adopters[cell // n_p], int(cell % n_p)
            minutes = ag.minutes[p] if ag.installed[p] else 0.0
            if u * p_max < rules.video_view_probability(minutes, ctx.live_share[p], ctx.feed_mode[p], rate[p]):
                views.append((ag, p))
        for (ag, p), d in zip(views, rng.random((len(views), 4)), strict=True):
            result = ag.product_video(p, d, ctx)
            if result is None:
                continue
            funnel[0, p] += 1
            if result[1] is not None:  # considered
                funnel[1, p] += 1
                order, cs = result
                surplus += cs
                if order is not None:
                    add(ag.row, *order)
                    ag.live_orders += 1
        return funnel, surplus

    def learn(self, ctx: DayContext, orders: Orders, out: Outcomes, rng: np.random.Generator, meanwhile=None) -> dict:
        """Outcomes, word of mouth, scandals, forgetting, then adoption, minutes, churn, installs.

        ``meanwhile()``, work that touches no consumer (as in the column engine), runs first.
        """
        if meanwhile is not None:
            meanwhile()
        beh, agents, n_p = self.beh, self.agents, len(ctx.is_shelf)
        own_good = [[0.0] * n_p for _ in agents]
        own_bad = [[0.0] * n_p for _ in agents]
        lacking = []
        for i in range(len(orders)):
            ag, q, bad = agents[orders.consumer[i]], orders.platform[i], bool(out.bad[i])
            good_w, bad_w = (float(x) for x in rules.evidence_weights(bad, bool(out.covered[i]), beh))
            own_good[ag.row][q] += good_w
            own_bad[ag.row][q] += bad_w
            if orders.edge[i] >= 0:
                j = orders.edge[i] - ag.first_edge
                ag.follow_a[j] += good_w
                ag.follow_b[j] += bad_w
            if not ag.wallet_ok(q, ctx):
                lacking.append((ag, ctx.primary_wallet[q]))
        for ag in agents:
            for p in range(n_p):
                heard_good = sum(own_good[nb][p] for nb in ag.neighbours)
                heard_bad = sum(own_bad[nb][p] for nb in ag.neighbours)
                ag.trust_a[p] += own_good[ag.row][p] + rules.word_of_mouth_evidence(heard_good, beh)
                ag.trust_b[p] += own_bad[ag.row][p] + rules.word_of_mouth_evidence(heard_bad, beh)
        for ag, w in lacking:
            ag.wallets[w] = True
        for streamer in ctx.scandals:
            home = ctx.streamer_platform[streamer]
            on_edge, on_platform, spillover = rules.scandal_evidence(ctx.protection[home], beh)
            for ag in agents:
                j = ag.edge_to(streamer)
                if j >= 0:
                    ag.follow_b[j] += on_edge
                    ag.trust_b[home] += on_platform
                    for k, other in enumerate(ag.follows):
                        if other != streamer and ctx.streamer_platform[other] == home:
                            ag.follow_b[k] += spillover
        f, (sa, sb) = beh.forgetting_per_day, self.streamer_prior
        for ag in agents:
            ag.trust_a = [rules.beta_forget(x, self.prior_a[p], f) for p, x in enumerate(ag.trust_a)]
            ag.trust_b = [rules.beta_forget(x, self.prior_b[p], f) for p, x in enumerate(ag.trust_b)]
            ag.follow_a = [rules.beta_forget(x, sa, f) for x in ag.follow_a]
            ag.follow_b = [rules.beta_forget(x, sb, f) for x in ag.follow_b]

        # adoption, churn and installs: everyone decides from yesterday's adoption and installs
        q_bass = self.model.config.consumer.bass_q
        share = lambda ag, f: sum(f(agents[nb]) for nb in ag.neighbours) / max(len(ag.neighbours), 1)  # noqa: E731
        adopt, churn, join = set(), set(), set()
        p_max = min(1.0, float(ctx.promotion.sum()) + q_bass)
        others = [ag for ag in agents if not ag.adopter]
        for i, u in zip(*rules.bernoulli_candidates(len(others), p_max, rng), strict=True):
            ag = others[i]
            promo = sum(ctx.promotion[p] for p in range(n_p) if ag.installed[p])
            if u * p_max < rules.adoption_hazard(promo, share(ag, lambda x: x.adopter), q_bass):
                adopt.add(ag.row)
        p_max = beh.churn_base_per_day + beh.churn_trust_per_day
        for cell, u in zip(*rules.bernoulli_candidates(len(agents) * n_p, p_max, rng), strict=True):
            ag, p = agents[cell // n_p], int(cell % n_p)
            if ag.installed[p] and u * p_max < rules.churn_hazard(ag.trust_in(p), beh):
                churn.add((ag.row, p))
        pull = ctx.install_pull
        p_max = rules.install_hazard(1.0, float(pull.max()), beh)
        for cell, u in zip(*rules.bernoulli_candidates(len(agents) * n_p, p_max, rng), strict=True):
            ag, p = agents[cell // n_p], int(cell % n_p)
            use = share(ag, lambda x, p=p: x.installed[p])
            if not ag.installed[p] and u * p_max < rules.install_hazard(use, pull[p], beh):
                join.add((ag.row, p))
        churned, joined = np.zeros(n_p, np.int64), np.zeros(n_p, np.int64)
        for ag in agents:
            ag.adopter = ag.adopter or ag.row in adopt
            for p in range(n_p):
                target = ctx.minutes_target[p] if ag.installed[p] else 0.0
                ag.minutes[p] += beh.minutes_adjust_per_day * (target - ag.minutes[p])
                if (ag.row, p) in churn:
                    ag.installed[p], ag.minutes[p] = False, 0.0
                    churned[p] += 1
                if (ag.row, p) in join:
                    ag.installed[p] = True
                    joined[p] += 1
        return {"adopted": len(adopt), "churned": churned, "joined": joined}
