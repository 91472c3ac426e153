"""Shopping from content: live rooms and product videos, for the column engine.

A live-room visit and a product-video view end in the same rule (consideration, then own shop,
outbound link or later search); only how the viewer got there differs. Mixed into
:class:`livemarket.agents.consumers.ConsumerColumns`, whose columns these methods read.
"""

from __future__ import annotations

import numpy as np

from livemarket.core import rules
from livemarket.core.context import DayContext
from livemarket.core.sampling import concat_ranges

__all__ = ["ContentShopping"]


class ContentShopping:
    """Live-room and product-video orders over whole columns (see ConsumerColumns for the state)."""

    def _video_orders(self, ctx: DayContext, rng: np.random.Generator, wallet_ok, shelf, adopters) -> tuple:
        """Product videos in content platforms' interest feeds (``adopters``: the adopters' rows, ascending).

        Returns (orders, surplus, funnel rows: views, considerations).
        """
        rate = self.beh.video_views_per_minute * ~ctx.is_shelf
        funnel = np.zeros((2, self.n_p))
        p_max = float(np.max(rules.video_view_probability(ctx.minutes_cap, ctx.live_share, ctx.feed_mode, rate)))
        if p_max <= 0.0:
            return self._fragment(*(np.zeros(0, np.int64) for _ in range(7)), ctx), 0.0, funnel
        cells, u = rules.bernoulli_candidates(len(adopters) * self.n_p, p_max, rng)
        vn, vp = adopters[cells // self.n_p], cells % self.n_p
        p_view = rules.video_view_probability(self._minutes_at(vn, vp), ctx.live_share[vp], ctx.feed_mode[vp], rate[vp])
        view = u * p_max < p_view
        vn, vp = vn[view], vp[view]
        d = rng.random((len(vn), 4))
        cat = rules.choose_from_cumulative(self.interest_cum.take(vn, axis=0), d[:, 0])
        streamer = ctx.rooms.pick(vp * ctx.n_categories + cat, d[:, 1])  # a video by a streamer selling today
        seen = streamer >= 0
        vn, vp, streamer, d = vn[seen], vp[seen], streamer[seen], d[seen]
        funnel[0] = np.bincount(vp, minlength=self.n_p)
        edge = self._edge_of(vn, streamer)
        part, surplus, considered = self._room_orders(
            vn, vp, streamer, edge, d[:, 2], d[:, 3], ctx, wallet_ok, shelf, rules.VIDEO_OWN - rules.LIVE_OWN
        )
        funnel[1] = np.bincount(considered, minlength=self.n_p)
        return part, surplus, funnel

    def _room_orders(self, vn, vp, streamer, edge, u_consider, u_choice, ctx, wallet_ok, shelf, offset=0):
        """Consideration, then own shop | outbound link to q | later search on q: (orders, surplus, considered).

        A live room (``offset`` 0) and a product video (``offset`` VIDEO_OWN - LIVE_OWN) share the rule.
        """
        beh = self.beh
        match = self._match(vn, ctx.streamer_category[streamer])
        known = edge >= 0
        t_streamer = ctx.streamer_trust[streamer]
        t_streamer[known] = self._follow_trust_at(edge[known])
        imp = self.impulsivity[vn]
        c = u_consider < rules.consider_probability(match, t_streamer, imp, beh, ctx.demand_multiplier)
        vn, vp, streamer, edge, match, t_streamer, imp, u_choice = (
            x[c] for x in (vn, vp, streamer, edge, match, t_streamer, imp, u_choice)
        )
        b = ctx.product[streamer]
        price = rules.price_utility(ctx.price_rmb[b], self.price_sensitivity[vn])
        common = rules.live_common_utility(t_streamer, ctx.brand_trust[b], match, imp, price, beh)
        plat = self._platform_terms(vn, wallet_ok, ctx)
        own = rules.own_shop_utility(common, plat[np.arange(len(vn)), vp], beh)
        n_q = len(shelf)
        markup = (ctx.link_markup[vp] * price)[:, None]  # the link fee passed into the checkout price
        friction = ctx.link_friction.take(vp, axis=0)[:, shelf]
        link = rules.link_utility(common[:, None], plat[:, shelf], friction, beh, markup)
        search = rules.search_utility(ctx.brand_trust[b][:, None], match[:, None], price[:, None], plat[:, shelf], beh)
        listed = ctx.listed.take(b, axis=0)[:, shelf]
        u = np.full((len(vn), 2 + 2 * n_q), -np.inf)
        u[:, 0] = 0.0
        u[:, 1] = np.where(ctx.sells_in_room[b, vp], own, -np.inf)
        u[:, 2 : 2 + n_q] = np.where(ctx.link_allowed.take(vp, axis=0)[:, shelf] & listed, link, -np.inf)
        ok_search = listed & self.installed.take(vn, axis=0)[:, shelf] & (shelf != vp[:, None])
        u[:, 2 + n_q :] = np.where(ok_search, search, -np.inf)
        choice, logsum = rules.logit_choice(u, u_choice, self._kernels)  # one exp for the choice and the log-sum
        surplus = float(np.sum(rules.surplus_rmb(u, self.price_sensitivity[vn], logsum)))
        buy = choice > 0
        ch = choice[buy]
        pay = np.where(ch == 1, vp[buy], shelf[(ch - 2) % max(n_q, 1)] if n_q else -1)
        channel = offset + np.where(ch == 1, rules.LIVE_OWN, np.where(ch < 2 + n_q, rules.LIVE_LINK, rules.LIVE_SEARCH))
        part = self._fragment(vn[buy], b[buy], pay, vp[buy], channel, streamer[buy], edge[buy], ctx)
        part["price_rmb"] = part["price_rmb"] * (1.0 + ctx.link_markup[vp[buy]] * rules.is_link(channel))
        one = self.live_orders.dtype.type(1)  # the array's type: np.add.at's fast path (a Python 1: 20x slower)
        np.add.at(self.live_orders, vn[buy], one)  # each may replace a later planned purchase
        return part, surplus, vp

    def _match(self, n: np.ndarray, category: np.ndarray) -> np.ndarray:
        """Interest match in [0, 1]: interest in the category over the consumer's top interest."""
        return rules.interest_match(self.interest[n, category], self.interest_top[n])

    def _edge_of(self, n: np.ndarray, streamer: np.ndarray) -> np.ndarray:
        """Follow edge index for (consumer, streamer), -1 where the consumer does not follow."""
        if len(self.f_streamer) == 0:
            return np.full(len(n), -1)
        if self._kernels is not None:
            return self._kernels.edge_of(n, streamer, self.streamer_platform, self.n_p, self.seg_ptr, self.f_streamer)
        if self.f_key is None:  # sorted by construction: by consumer, platform, streamer
            owner = np.repeat(np.arange(self.n, dtype=np.int64), np.diff(self.f_ptr))
            self.f_key = (owner * self.n_p + self.streamer_platform[self.f_streamer]) * self.n_streamers
            self.f_key += self.f_streamer
        s = np.maximum(streamer, 0)
        key = (n * self.n_p + self.streamer_platform[s]) * self.n_streamers + s
        pos = np.minimum(np.searchsorted(self.f_key, key), len(self.f_key) - 1)
        return np.where((self.f_key[pos] == key) & (streamer >= 0), pos, -1)

    def _pick_followed(self, vn, vp, uniform, ctx: DayContext):
        """A followed streamer on air on platform vp, uniformly among those (-1 if none)."""
        if len(self.f_streamer) == 0:
            none = np.full(len(vn), -1)
            return none, none
        if self._kernels is not None:
            return self._kernels.pick_followed(vn, vp, uniform, self.n_p, self.seg_ptr, self.f_streamer, ctx.live)
        cell = vn * self.n_p + vp
        start = self.seg_ptr[cell]
        idx, owner = concat_ranges(start, self.seg_ptr[cell + 1] - start)
        on_air = ctx.live[self.f_streamer[idx]]
        count = np.bincount(owner, on_air, minlength=len(vn)).astype(np.int64)
        want = np.floor(uniform * count).astype(np.int64)  # k-th followed room on air
        rank = np.cumsum(on_air) - 1  # running count of on-air edges, minus one
        first = np.concatenate([[0], np.cumsum(count)])[:-1]  # on-air edges before each owner
        chosen = on_air & (rank - first[owner] == want[owner])
        edge = np.full(len(vn), -1)
        edge[owner[chosen]] = idx[chosen]
        return np.where(edge >= 0, self.f_streamer[np.maximum(edge, 0)], -1), edge
