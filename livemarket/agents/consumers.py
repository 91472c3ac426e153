"""Consumers as one population held in columns: one row per consumer, rules over whole columns.

The daily rules (docs/ODD.md, section 3, steps 4 and 6-7) are written once in
:mod:`livemarket.core.rules`; this module applies them to every consumer at once.
Everyone reads yesterday's state (synchronous update). The per-consumer reference in
:mod:`livemarket.agents.reference` applies the same rules one agent at a time and
reproduces this engine's trajectory on the same seed.

Work per day grows with the events of the day (visits, orders, installs), not with the
population: rare events are drawn by thinning (:func:`rules.bernoulli_candidates`), word of
mouth is scattered from buyers to their neighbours, and forgetting and minutes relax
lazily: evidence is stored as ``prior + decay * offset`` and minutes as
``target + decay * offset``, so a day's forgetting is one multiplication of a scalar.
"""

from __future__ import annotations

import os

import numpy as np

from livemarket.agents.content import ContentShopping
from livemarket.agents.population import ConsumerState, stat_sample
from livemarket.core import rules
from livemarket.core.context import DayContext, Orders, Outcomes
from livemarket.core.sampling import concat_ranges

__all__ = ["ConsumerColumns"]

_RENORMALISE_BELOW = 1e-150  # fold the lazy decay into the offsets before it underflows
#: Populations from which the compiled kernels (:mod:`livemarket.agents.kernels`) run; the
#: environment variable ``LIVEMARKET_KERNELS`` = ``on`` or ``off`` forces either path.
KERNELS_FROM_CONSUMERS = 20_000


def _load_kernels(consumers: int):
    """The kernels module when the compiled path runs for this population, else None (the numpy path)."""
    forced = os.environ.get("LIVEMARKET_KERNELS", "auto").lower()
    if forced not in ("on", "off", "auto"):
        raise ValueError(f"LIVEMARKET_KERNELS={forced!r}: accepted on, off, auto")
    if forced == "off" or (forced == "auto" and consumers < KERNELS_FROM_CONSUMERS):
        return None
    from livemarket.agents import kernels

    kernels.thread_count()  # a bad LIVEMARKET_THREADS is refused before the run
    return kernels


def _row_counts(flags: np.ndarray) -> np.ndarray:
    """``np.count_nonzero(flags, axis=1)`` of a few long rows, a row at a time (several times faster)."""
    return np.array([np.count_nonzero(row) for row in flags], dtype=np.intp)


class ConsumerColumns(ContentShopping):
    """The column engine: the consumer rules applied to all consumers at once."""

    def __init__(self, model, state: ConsumerState):
        self.model = model
        self.beh = model.config.behaviour
        self.n, self.n_p = state.n, state.installed.shape[1]
        self.tier, self.interest, self.impulsivity = state.tier, state.interest, state.impulsivity
        self.interest_cum = np.cumsum(state.interest, axis=1)  # for drawing a category of interest
        self.interest_top = np.ascontiguousarray(state.interest.T).max(axis=0)  # for interest match (row maxima)
        self.price_sensitivity = state.price_sensitivity
        self.installed, self.adopter, self.wallets = state.installed.copy(), state.adopter.copy(), state.wallets.copy()
        self.n_apps = self.installed.sum(axis=1).astype(np.int16)
        self.live_orders, self.needs_met_live = state.live_orders.copy(), state.needs_met_live.copy()
        self.users = self.installed.sum(axis=0)  # kept up to date on churn and install
        g = model.social_graph
        self.nb_ptr, self.nb = g.indptr, g.indices
        self.degree = np.diff(g.indptr)
        # lazy evidence: value = prior + decay * offset
        self.decay = 1.0
        self.prior_a, self.prior_b = model.trust_prior_evidence()
        self.ta, self.tb = state.trust_a - self.prior_a, state.trust_b - self.prior_b
        self.f_prior = model.streamer_prior_evidence()
        self.fa, self.fb = state.follow_a - self.f_prior[0], state.follow_b - self.f_prior[1]
        # lazy minutes: value = target + m_decay * offset on installed cells, offset 0 elsewhere
        self.target = model.minutes_target_today()
        self.m_decay = 1.0
        self.mz = state.minutes - self.target  # in place below: one (N, P) array, not two
        self.mz[~self.installed] = 0.0
        self.mz_sum = self.mz.sum(axis=0)  # kept up to date: minutes total without a pass
        # follow edges: segments per (consumer, platform); lookup keys per (consumer, streamer)
        self.f_ptr, self.f_streamer = state.follow_indptr, state.follow_streamer
        self.streamer_platform = model.streamers.platform
        self.n_streamers = len(model.streamers.platform)
        self._kernels = _load_kernels(self.n)
        if self._kernels is not None and not self._kernels.rows_sorted(self.nb_ptr, self.nb):
            raise ValueError("social graph: each consumer's neighbour list must be sorted and without repeats "
                             "(the SocialGraph invariant; SocialGraph.from_edges builds such lists)")  # fmt: skip
        self._index_follows()
        self.rows_sample, self.edges_sample = stat_sample(self.n), stat_sample(len(self.f_streamer))
        rows = len(self.rows_sample)  # priors tiled over the sample's rows: numpy broadcasts a (P,) row slowly
        self._sample_priors = np.tile(self.prior_a, (rows, 1)), np.tile(self.prior_b, (rows, 1))
        self._accepts: np.ndarray | None = None
        self._by_streamer: np.ndarray | None = None  # follow edges by streamer, for scandals
        self._beh_tuple = None if self._kernels is None else self._kernels.behaviour_tuple(self.beh)

    # ----------------------------------------------------------------- reading state
    def _trust_at(self, n, p) -> np.ndarray:
        cell = n * self.n_p + p  # flat gathers: faster than 2-D fancy indexing, same values
        a = self.prior_a[p] + self.decay * self.ta.reshape(-1)[cell]
        return a / (a + self.prior_b[p] + self.decay * self.tb.reshape(-1)[cell])

    def _minutes_at(self, n, p) -> np.ndarray:
        cell = n * self.n_p + p  # flat gathers, as in _trust_at
        lazy = self.target[p] + self.m_decay * self.mz.reshape(-1)[cell]
        return np.where(self.installed.reshape(-1)[cell], np.maximum(lazy, 0.0), 0.0)  # no -1e-15 from rounding

    def _follow_trust_at(self, e) -> np.ndarray:
        return rules.beta_trust(self.f_prior[0] + self.decay * self.fa[e], self.f_prior[1] + self.decay * self.fb[e])

    def platform_trust(self) -> np.ndarray:
        """(N, P) trust of every consumer in every platform."""
        return self._trust_at(np.arange(self.n)[:, None], np.arange(self.n_p)[None, :])

    def follow_trust(self) -> np.ndarray:
        """(E,) trust along each follow edge."""
        return self._follow_trust_at(slice(None))

    def snapshot(self) -> ConsumerState:
        """The full state as explicit values (a copy; costs a pass over the population)."""
        rows, cols = np.arange(self.n)[:, None], np.arange(self.n_p)[None, :]
        return ConsumerState(
            tier=self.tier, interest=self.interest, installed=self.installed.copy(),
            minutes=self._minutes_at(rows, cols), wallets=self.wallets.copy(),
            price_sensitivity=self.price_sensitivity, impulsivity=self.impulsivity, adopter=self.adopter.copy(),
            trust_a=self.prior_a + self.decay * self.ta, trust_b=self.prior_b + self.decay * self.tb,
            follow_indptr=self.f_ptr, follow_streamer=self.f_streamer,
            follow_a=self.f_prior[0] + self.decay * self.fa, follow_b=self.f_prior[1] + self.decay * self.fb,
            live_orders=self.live_orders.copy(), needs_met_live=self.needs_met_live.copy(),
        )  # fmt: skip

    def stats(self) -> dict:
        """End-of-day aggregates for the recorder (trust statistics over :func:`stat_sample` rows)."""
        users = self.users.copy()
        rows = self.rows_sample
        prior_a, prior_b = self._sample_priors
        a = prior_a + self.decay * self.ta.take(rows, axis=0)  # whole rows: the values of _trust_at
        trust = a / (a + prior_b + self.decay * self.tb.take(rows, axis=0))
        edges = self.edges_sample
        return {
            "users": users,
            "minutes_sum": users * self.target + self.m_decay * self.mz_sum,
            "trust": trust,
            "follow_trust": self._follow_trust_at(edges),
            "follow_platform": self.streamer_platform[self.f_streamer[edges]],
            "adopter_share": np.count_nonzero(self.adopter) / self.n,  # = the mean of the flags, exactly
            "multihoming_rate": np.count_nonzero(self.n_apps >= 2) / self.n,
            **self._sample_shares(rows),
        }

    def _sample_shares(self, rows: np.ndarray) -> dict:
        """:func:`sample_shares` over ``rows`` from the kept app counts and wallet acceptance (the same values)."""
        installed = np.ascontiguousarray(self.installed.take(rows, axis=0).T)  # (P, rows): fast counts by row
        users = _row_counts(installed)
        multi = _row_counts(installed & (self.n_apps.take(rows) >= 2))
        ok = np.ascontiguousarray(self._wallet_ok(self.model.wallet_accepts()).take(rows, axis=0).T)
        can_pay = _row_counts(ok) / len(rows) if len(rows) else 0.0  # the mean of the flags, exactly
        return {"multihoming_share": multi / np.maximum(users, 1), "wallet_ok_share": can_pay}

    def add_follows(self, consumer: np.ndarray, streamer: np.ndarray) -> np.ndarray:
        """New follow edges (consumer -> streamer) at the prior trust; returns the streamers newly followed.

        Pairs already followed and duplicates are dropped; the new edges are inserted where they
        sort in the edges' layout (by consumer, then streamer), old edges keeping their evidence.
        """
        s_count = self.n_streamers
        pairs = np.unique(np.asarray(consumer, np.int64) * s_count + np.asarray(streamer, np.int64))
        new = pairs[self._edge_of(*np.divmod(pairs, s_count)) < 0]  # what setdiff1d gave, without sorting every edge
        if len(new) == 0:
            return np.zeros(0, np.int64)
        owner = np.repeat(np.arange(self.n, dtype=np.int64), np.diff(self.f_ptr))
        old = owner * s_count + self.f_streamer
        new_owner, new_streamer = np.divmod(new, s_count)
        if not np.all(old[1:] > old[:-1]):
            raise ValueError("follow edges must be sorted by consumer, then streamer")
        at = np.searchsorted(old, new)  # each new edge goes where it sorts; old edges keep their order
        self.fa = np.insert(self.fa, at, 0.0)  # offsets: new edges start at the prior
        self.fb = np.insert(self.fb, at, 0.0)
        self.f_streamer = np.insert(self.f_streamer, at, new_streamer.astype(self.f_streamer.dtype))
        added = np.zeros(self.n + 1, np.int64)
        np.cumsum(np.bincount(new_owner, minlength=self.n), out=added[1:])
        self.f_ptr = (self.f_ptr + added).astype(self.f_ptr.dtype)
        self._index_follows()
        self.edges_sample = stat_sample(len(self.f_streamer))
        self._by_streamer = None  # the scandal index is rebuilt when next needed
        return new % s_count

    def _index_follows(self) -> None:
        """Follow-segment pointers per (consumer, platform), from the follow edges (grouped by consumer, platform)."""
        self.seg_ptr = np.zeros(self.n * self.n_p + 1, np.int32 if len(self.f_streamer) < 2**31 else np.int64)
        if self._kernels is not None:  # one pass over the edges, no full-size temporaries
            k = self._kernels
            grouped = k.count_segments(self.f_ptr, self.f_streamer, self.streamer_platform, self.n_p, self.seg_ptr)
        else:
            cell = np.repeat(np.arange(self.n, dtype=np.int64) * self.n_p, np.diff(self.f_ptr))
            cell += self.streamer_platform[self.f_streamer]
            grouped = not np.any(np.diff(cell) < 0)
            # cells are sorted, so the pointer of a cell counts the edges of the cells before it
            np.cumsum(np.bincount(cell, minlength=self.n * self.n_p), out=self.seg_ptr[1:])
        if not grouped:
            raise ValueError("follow edges must be grouped by consumer, then streamer platform")
        self.f_key = None  # sorted (consumer, streamer) keys, built when the numpy path first looks an edge up

    def _wallet_ok(self, accepts: np.ndarray) -> np.ndarray:
        """(N, P) holds a wallet the checkout accepts (``accepts``: (P, W)); recomputed only when acceptance changes."""
        if self._accepts is None or not np.array_equal(self._accepts, accepts):
            self._accepts = accepts.copy()
            self.wallet_ok = (self.wallets.astype(np.int8) @ accepts.T.astype(np.int8)) > 0
        return self.wallet_ok

    def _neighbour_mean(self, rows: np.ndarray, values) -> np.ndarray:
        """Mean over each row's neighbours of ``values(neighbour_ids, owner_index)``; 0 if isolated."""
        idx, owner = concat_ranges(self.nb_ptr[rows], self.degree[rows])
        sums = np.bincount(owner, values(self.nb[idx], owner), minlength=len(rows))
        return sums / np.maximum(self.degree[rows], 1)

    # ----------------------------------------------------------------- shop
    def shop(self, ctx: DayContext, rng: np.random.Generator, video_rng: np.random.Generator | None = None) -> Orders:
        """Live rooms, product videos (from ``video_rng``, default ``rng``), planned needs, splash ads."""
        beh, n_p = self.beh, self.n_p
        wallet_ok = self._wallet_ok(ctx.accepts)
        parts = []

        # a-b. attention and exposure to live rooms (adopters only)
        adopters = np.flatnonzero(self.adopter)
        p_max = float(np.max(rules.visit_probability(ctx.minutes_cap, ctx.live_share, beh.live_visits_per_minute)))
        cells, u = rules.bernoulli_candidates(len(adopters) * n_p, p_max, rng)
        vn, vp = adopters[cells // n_p], cells % n_p
        p_visit = rules.visit_probability(self._minutes_at(vn, vp), ctx.live_share[vp], beh.live_visits_per_minute)
        visit = u * p_max < p_visit
        vn, vp = vn[visit], vp[visit]
        funnel = np.zeros((4, n_p))  # live visits, considerations; video views, considerations
        funnel[0] = np.bincount(vp, minlength=n_p)  # live-room visits
        d = rng.random((len(vn), 5))
        # the planned needs draw next from rng (videos have a stream of their own): with the kernels, on a
        # second thread while the rooms are visited (the draws read and write nothing else)
        early = self._kernels is not None and video_rng is not None
        need_draws = self._kernels.beside(self._planned_draws, ctx, rng) if early else None
        by_interest = d[:, 0] < ctx.feed_mode[vp]
        cat = rules.choose_from_cumulative(self.interest_cum.take(vn, axis=0), d[:, 1])
        room = ctx.rooms.pick(vp * ctx.n_categories + cat, d[:, 2])
        followed, follow_edge = self._pick_followed(vn, vp, d[:, 2], ctx)
        streamer = np.where(by_interest, room, followed)
        seen = streamer >= 0
        vn, vp, streamer, d = vn[seen], vp[seen], streamer[seen], d[seen]
        edge = np.where(by_interest[seen], self._edge_of(vn, streamer), follow_edge[seen])

        shelf = np.flatnonzero(ctx.is_shelf)  # links and searches lead to shelf platforms only
        part, surplus, considered = self._room_orders(vn, vp, streamer, edge, d[:, 3], d[:, 4], ctx, wallet_ok, shelf)
        funnel[1] = np.bincount(considered, minlength=n_p)  # considerations
        parts.append(part)
        video_part, video_surplus, funnel[2:] = self._video_orders(ctx, rng if video_rng is None else video_rng,
                                                                   wallet_ok, shelf, adopters)  # fmt: skip
        parts.append(video_part)
        surplus += video_surplus

        # planned needs: search on shelf platforms
        nn, need_u = need_draws() if early else self._planned_draws(ctx, rng)
        part, planned_surplus, replaced = self._planned_needs(ctx, nn, need_u, wallet_ok, shelf)
        parts.append(part)
        surplus += planned_surplus

        # splash ads bought by shelf platform q on content platform p
        views = np.zeros(n_p)
        for q, p, reach in ctx.splash:
            sn, _ = rules.bernoulli_candidates(self.n, reach, rng)
            sn = sn[self.installed[sn, p]]
            views[p] += len(sn)
            d = rng.random((len(sn), 4))
            keep = d[:, 0] < beh.splash_consider * ctx.demand_multiplier
            sn, d = sn[keep], d[keep]
            cat = rules.choose_from_cumulative(self.interest_cum.take(sn, axis=0), d[:, 1])
            brand = ctx.shelf_brands.pick(q * ctx.n_categories + cat, d[:, 2])
            bb = np.maximum(brand, 0)
            price = rules.price_utility(ctx.price_rmb[bb], self.price_sensitivity[sn])
            plat = self._platform_terms(sn, wallet_ok, ctx, np.array([q]))[:, 0]
            util = rules.shelf_utility(ctx.brand_trust[bb], price, plat, beh, friction=beh.jump_friction)
            u = np.column_stack([np.zeros(len(sn)), np.where(brand >= 0, util, -np.inf)])
            choice, logsum = rules.logit_choice(u, d[:, 3], self._kernels)
            surplus += float(np.sum(rules.surplus_rmb(u, self.price_sensitivity[sn], logsum)))
            buy = choice > 0
            parts.append(self._fragment(sn[buy], brand[buy], q, p, rules.SPLASH, -1, -1, ctx))
        return Orders.concat(parts, surplus, views, funnel, replaced)

    def _planned_draws(self, ctx: DayContext, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
        """The consumers with a planned need today and three uniforms each (category, brands, choice)."""
        rate = self.model.config.consumer.needs_per_day * ctx.demand_multiplier
        nn, _ = rules.bernoulli_candidates(self.n, rate, rng)
        return nn, rng.random((len(nn), 3))

    def _planned_needs(self, ctx: DayContext, nn, d, wallet_ok, shelf) -> tuple[dict, float, int]:
        """Planned needs of ``nn`` (uniforms ``d``): a category, a brand on each shelf platform, a logit choice.

        Returns (orders, surplus, replaced).
        """
        cc = self.model.config.consumer
        if self._kernels is not None:
            g, k = ctx.shelf_brands, self._kernels
            brand, u = np.empty((len(nn), len(shelf)), np.int64), np.empty((len(nn), len(shelf) + 1))
            k.in_parts(
                k.planned_utilities, len(nn), brand, u, nn, d, self.interest_cum, shelf, ctx.n_categories, g.cum,
                g.base, g.total, g.start, g.end, g.items, g.guide(), self.installed, ctx.brand_trust, ctx.price_rmb,
                self.price_sensitivity, self.ta, self.tb, self.prior_a, self.prior_b, self.decay, ctx.protection,
                wallet_ok, self._beh_tuple,
            )  # fmt: skip
        else:
            cat = rules.choose_from_cumulative(self.interest_cum.take(nn, axis=0), d[:, 0])
            # a brand on each shelf platform the consumer uses (one uniform a need): the others cannot be chosen
            cells = np.flatnonzero(self.installed.take(nn, axis=0)[:, shelf])
            need, col = np.divmod(cells, max(len(shelf), 1))
            brand = np.full((len(nn), len(shelf)), -1)
            brand.reshape(-1)[cells] = ctx.shelf_brands.pick(shelf[col] * ctx.n_categories + cat[need], d[need, 1])
            ok = brand >= 0
            bb = np.maximum(brand, 0)
            price = rules.price_utility(ctx.price_rmb[bb], self.price_sensitivity[nn, None])
            plat = self._platform_terms(nn, wallet_ok, ctx, shelf)
            util = rules.shelf_utility(ctx.brand_trust[bb], price, plat, self.beh)
            u = np.column_stack([np.zeros(len(nn)), np.where(ok, util, -np.inf)])
        choice, logsum = rules.logit_choice(u, d[:, 2], self._kernels)
        per_need = rules.surplus_rmb(u, self.price_sensitivity[nn], logsum)
        buy = choice > 0
        if (s := cc.live_substitution) > 0:  # purchases an earlier live order has made already
            met = buy & rules.live_orders_cover_need(self.live_orders[nn], self.needs_met_live[nn], s)
            self.needs_met_live[nn[met]] += 1
            buy, per_need = buy & ~met, per_need[~met]
        surplus = float(np.sum(per_need))
        rows = np.flatnonzero(buy)
        col = choice[rows] - 1
        replaced = int(np.count_nonzero(choice)) - len(col)  # purchases live orders had made already
        bought = brand.reshape(-1)[rows * len(shelf) + col]  # brand[buy, col] by flat cells
        return self._fragment(nn[rows], bought, shelf[col], -1, rules.PLANNED, -1, -1, ctx), surplus, replaced

    def _platform_terms(self, n: np.ndarray, wallet_ok: np.ndarray, ctx: DayContext, cols=None) -> np.ndarray:
        """(len(n), len(cols)) utility from trust in platforms ``cols`` (default all) and wallet friction."""
        cols = np.arange(self.n_p) if cols is None else cols
        a = self.prior_a[cols] + self.decay * self.ta.take(n, axis=0)[:, cols]  # _trust_at's values, by rows
        trust = a / (a + self.prior_b[cols] + self.decay * self.tb.take(n, axis=0)[:, cols])
        return rules.platform_utility(trust, ctx.protection[cols], wallet_ok.take(n, axis=0)[:, cols], self.beh)

    def _fragment(self, n, brand, pay, source, channel, streamer, edge, ctx) -> dict:
        """Orders of consumers ``n`` for :meth:`Orders.concat`; pay ... edge: arrays, or one value for all."""
        return dict(
            consumer=n, brand=brand, platform=pay, source=source, channel=channel, streamer=streamer, edge=edge,
            price_rmb=ctx.price_rmb[brand], impulsivity=self.impulsivity[n],
        )  # fmt: skip

    # ----------------------------------------------------------------- learn
    def learn(self, ctx: DayContext, orders: Orders, out: Outcomes, rng: np.random.Generator, meanwhile=None) -> dict:
        """Trust from outcomes, word of mouth, scandals, forgetting; adoption, minutes, churn.

        ``meanwhile()``, if given, is called once the orders' evidence is in (word of mouth may use
        both cores until then): work that touches no consumer, to start beside the rest.
        """
        beh, n_p, d = self.beh, self.n_p, self.decay
        good_w, bad_w = rules.evidence_weights(out.bad, out.covered, beh)
        good_w, bad_w = good_w / d, bad_w / d
        self._add_evidence(orders, good_w, bad_w)
        if meanwhile is not None:
            meanwhile()
        wallet_ok = self._wallet_ok(ctx.accepts)
        lacking = ~wallet_ok.reshape(-1)[orders.consumer * n_p + orders.platform]  # flat cells, as in _trust_at
        buyers = orders.consumer[lacking]
        self.wallets[buyers, ctx.primary_wallet[orders.platform[lacking]]] = True
        wallet_ok[buyers] = (self.wallets.take(buyers, axis=0).astype(np.int8) @ ctx.accepts.T.astype(np.int8)) > 0

        for streamer in ctx.scandals:
            hit = self._edges_to(streamer)
            home = ctx.streamer_platform[streamer]
            on_edge, on_platform, spillover = rules.scandal_evidence(ctx.protection[home], beh)
            if self._kernels is not None:
                self._kernels.scandal(
                    self.fb, self.tb, hit, streamer, home, self.f_ptr, self.seg_ptr, self.f_streamer,
                    on_edge / d, on_platform / d, spillover / d,
                )  # fmt: skip
                continue
            self.fb[hit] += on_edge / d
            followers = np.searchsorted(self.f_ptr, hit, side="right") - 1
            self.tb[followers, home] += on_platform / d
            cell = followers * n_p + home  # the news also taints the followers' other streamers there
            others, _ = concat_ranges(self.seg_ptr[cell], self.seg_ptr[cell + 1] - self.seg_ptr[cell])
            others = others[self.f_streamer[others] != streamer]
            self.fb[others] += spillover / d
        self.decay *= 1.0 - beh.forgetting_per_day

        # e. Bass adoption; 7. churn and installs, all from yesterday's adoption and installs
        q_bass = self.model.config.consumer.bass_q
        p_max = min(1.0, float(ctx.promotion.sum()) + q_bass)
        others = np.flatnonzero(~self.adopter)
        cand, u = rules.bernoulli_candidates(len(others), p_max, rng)
        cand = others[cand]
        share = self._neighbour_mean(cand, lambda nb, _: self.adopter[nb])
        p_adopt = rules.adoption_hazard(self.installed.take(cand, axis=0) @ ctx.promotion, share, q_bass)
        adopt = cand[u * p_max < p_adopt]

        p_max = beh.churn_base_per_day + beh.churn_trust_per_day
        cells, u = rules.bernoulli_candidates(self.n * n_p, p_max, rng)
        users = self.installed.reshape(-1)[cells]  # only users churn: their hazards alone are needed
        cn, cp = np.divmod(cells[users], n_p)
        churn = u[users] * p_max < rules.churn_hazard(self._trust_at(cn, cp), beh)
        cn, cp = cn[churn], cp[churn]

        pull = ctx.install_pull
        p_max = rules.install_hazard(1.0, float(pull.max()), beh)
        cells, u = rules.bernoulli_candidates(self.n * n_p, p_max, rng)
        installed = self.installed.reshape(-1)
        non_users = ~installed[cells]  # only non-users install: their neighbours' use alone is needed
        jn, jp = np.divmod(cells[non_users], n_p)
        use = self._neighbour_mean(jn, lambda nb, owner: installed[nb.astype(np.intp) * n_p + jp[owner]])
        join = u[non_users] * p_max < rules.install_hazard(use, pull[jp], beh)
        jn, jp = jn[join], jp[join]

        self.adopter[adopt] = True
        self._relax_minutes(ctx.minutes_target)
        self.installed[cn, cp] = False
        self.mz_sum -= np.bincount(cp, self.mz[cn, cp], minlength=n_p)
        self.mz[cn, cp] = 0.0
        self.installed[jn, jp] = True
        self.mz[jn, jp] = -self.target[jp] / self.m_decay  # new users start at zero minutes
        self.mz_sum += np.bincount(jp, self.mz[jn, jp], minlength=n_p)
        self.users += np.bincount(jp, minlength=n_p) - np.bincount(cp, minlength=n_p)
        one = self.n_apps.dtype.type(1)  # a scalar of the array's type: np.add.at's fast path
        np.subtract.at(self.n_apps, cn, one)
        np.add.at(self.n_apps, jn, one)
        self._renormalise()
        return {
            "adopted": len(adopt),
            "churned": np.bincount(cp, minlength=n_p),
            "joined": np.bincount(jp, minlength=n_p),
        }

    def _add_evidence(self, orders: Orders, good_w: np.ndarray, bad_w: np.ndarray) -> None:
        """Outcome evidence (already divided by the decay) to buyers, their neighbours (word of mouth), follow edges."""
        ta, tb = self.ta.reshape(-1), self.tb.reshape(-1)  # flat views: fast unbuffered adds
        if self._kernels is not None:
            self._kernels.scatter_evidence(
                ta, tb, self.fa, self.fb, self.n_p, orders.consumer, orders.platform, orders.edge, good_w, bad_w,
                self.nb_ptr, self.nb, self._beh_tuple,
            )  # fmt: skip
            return
        beh, n_p = self.beh, self.n_p
        cell = orders.consumer * n_p + orders.platform
        np.add.at(ta, cell, good_w)
        np.add.at(tb, cell, bad_w)
        # word of mouth: each outcome is told to the buyer's neighbours (additions of 0.0 skipped, as the kernel does)
        for offsets, w in ((ta, good_w), (tb, bad_w)):
            told = np.flatnonzero(w != 0.0)
            buyer = orders.consumer[told]
            heard, owner = concat_ranges(self.nb_ptr[buyer], self.degree[buyer])
            cell = self.nb[heard].astype(np.int64) * n_p + orders.platform[told[owner]]
            np.add.at(offsets, cell, rules.word_of_mouth_evidence(w[told[owner]], beh))
        e = orders.edge >= 0
        np.add.at(self.fa, orders.edge[e], good_w[e])
        np.add.at(self.fb, orders.edge[e], bad_w[e])

    def _edges_to(self, streamer: int) -> np.ndarray:
        """Follow edges to ``streamer``, in increasing order (an index by streamer, built on first use)."""
        if self._by_streamer is None:
            index = np.int32 if len(self.f_streamer) < 2**31 else np.int64
            self._by_streamer_ptr = np.zeros(self.n_streamers + 1, np.int64)
            np.cumsum(np.bincount(self.f_streamer, minlength=self.n_streamers), out=self._by_streamer_ptr[1:])
            if self._kernels is not None:  # a counting sort: the stable argsort's order
                self._by_streamer = self._kernels.edges_by_key(self.f_streamer, self._by_streamer_ptr, index(0))
            else:
                small = np.int16 if self.n_streamers < 2**15 else np.int32  # 16-bit keys sort by radix
                self._by_streamer = np.argsort(self.f_streamer.astype(small), kind="stable").astype(index)
        return self._by_streamer[self._by_streamer_ptr[streamer] : self._by_streamer_ptr[streamer + 1]]

    def _relax_minutes(self, target: np.ndarray) -> None:
        """Minutes on installed apps move a share ``minutes_adjust_per_day`` toward today's target."""
        changed = target != self.target
        if changed.any():  # a policy moved the target: keep today's minutes, re-base offsets
            shift = (self.target - target) / self.m_decay
            self.mz[:, changed] += self.installed[:, changed] * shift[changed]
            self.mz_sum[changed] += self.users[changed] * shift[changed]
            self.target = target.copy()
        self.m_decay *= 1.0 - self.beh.minutes_adjust_per_day

    def _renormalise(self) -> None:
        if self.decay < _RENORMALISE_BELOW:
            for arr in (self.ta, self.tb, self.fa, self.fb):
                arr *= self.decay
            self.decay = 1.0
        if self.m_decay < _RENORMALISE_BELOW:
            self.mz *= self.m_decay
            self.mz_sum *= self.m_decay
            self.m_decay = 1.0
