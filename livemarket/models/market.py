"""The market: a ``mesa.Model`` of platforms, brands, streamers and consumers, one step a day.

Example:
    >>> from livemarket import LiveCommerceModel
    >>> model = LiveCommerceModel("minimal", consumers=500, rng=1)
    >>> table = model.run(days=5)
    >>> sorted(table["metric"].unique())[:2]
    ['adopter_share', 'brand_receipts_rmb']
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import mesa
import numpy as np
import polars as pl
from tqdm.auto import tqdm

from livemarket.agents.brand import Brand, BrandTable
from livemarket.agents.consumers import ConsumerColumns, init_consumer_state
from livemarket.agents.platform import Platform
from livemarket.agents.streamer import Streamer, StreamerTable
from livemarket.batch import default_seed
from livemarket.config import ConfigError, ScenarioConfig, load_scenario
from livemarket.draws import beta_with_mean
from livemarket.models import graphs, rules
from livemarket.models.day import DayContext, Orders, Outcomes, WeightedGroups
from livemarket.models.metrics import Recorder
from livemarket.models.policies import Calendar

__all__ = ["LiveCommerceModel"]

ENGINES = ("columns", "reference")


class LiveCommerceModel(mesa.Model):
    """Live-stream commerce market (MODEL_SPEC.md). One step is one day.

    Args:
        scenario: a :class:`ScenarioConfig`, a built-in scenario name or a TOML path.
        consumers: population size (overrides the scenario's).
        overrides: ``dotted.path=value`` strings applied to the scenario.
        rng: seed or generator; defaults to the scenario's ``seed``.
        consumer_engine: ``"columns"`` (fast) or ``"reference"`` (one agent per consumer).
        run_id: label written into every output row.
    """

    def __init__(
        self,
        scenario: ScenarioConfig | str | Path = "china-2019",
        *,
        consumers: int | None = None,
        overrides: list[str] | None = None,
        rng=None,
        consumer_engine: str = "columns",
        run_id: str = "run",
    ):
        if isinstance(scenario, ScenarioConfig):
            config = scenario if consumers is None else scenario.model_copy(update={"consumers": consumers})
            if overrides:
                raise ValueError("overrides apply to scenario names or files, not to a config object")
        else:
            config = load_scenario(scenario, overrides, consumers=consumers)
        if consumer_engine not in ENGINES:
            raise ValueError(f"consumer_engine {consumer_engine!r}: accepted {ENGINES}")
        super().__init__(rng=default_seed(config.seed) if rng is None else rng)  # batch_run: one per iteration
        self.config = config
        self.run_id = run_id
        self.start_date = config.start_date
        self.calendar = Calendar(config)
        self.scandals_today: list[int] = []

        self.platform_list = [Platform(self, n, i, c) for i, (n, c) in enumerate(config.platforms.items())]
        self.platforms = {p.name: p for p in self.platform_list}
        self.shelf_indices = [p.index for p in self.platform_list if p.is_shelf]
        self.wallet_names = sorted(
            set(config.consumer.wallets) | {p.config.own_wallet for p in self.platform_list} - {""}
        )
        self.brands = self._init_brands()
        self.streamers = self._init_streamers()
        for row in range(len(self.brands.category)):
            Brand(self, row)
        self.streamer_agents = [Streamer(self, row) for row in range(len(self.streamers.platform))]

        self.minutes_cap = self.minutes_target_today()
        state = init_consumer_state(self, self.rng)
        self.streamers.followers[:] = np.bincount(state.follow_streamer, minlength=len(self.streamers.platform))
        g = config.graph
        try:
            self.social_graph = graphs.build_social_graph(
                g.kind, config.consumers, self.rng, tiers=state.tier, mean_degree=g.mean_degree,
                homophily=g.homophily, rewire_prob=g.rewire_prob, triad_prob=g.triad_prob, path=g.path,
            )  # fmt: skip
        except ValueError as err:  # a graph that does not fit the population
            raise ConfigError(f"graph ({g.kind}, {config.consumers} consumers): {err}") from None
        if consumer_engine == "reference":
            from livemarket.agents.reference import ReferenceConsumers

            self.consumers = ReferenceConsumers(self, state)
        else:
            self.consumers = ConsumerColumns(self, state)
        self.recorder = Recorder(self)
        self.datacollector = mesa.DataCollector(
            model_reporters={
                "gmv_rmb": lambda m: m.recorder.last("gmv_rmb"),
                "hhi": lambda m: m.recorder.last("hhi"),
                "consumer_surplus_rmb": lambda m: m.recorder.last("consumer_surplus_rmb"),
                **{f"share_{p.name}": (lambda m, i=p.index: m.recorder.last_share(i)) for p in self.platform_list},
            }
        )

    # ------------------------------------------------------------------ set-up
    def trust_prior_evidence(self) -> tuple[np.ndarray, np.ndarray]:
        """Prior (a, b) of consumers' trust in each platform."""
        mean = np.array([p.config.trust_prior for p in self.platform_list])
        k = self.config.behaviour.prior_strength
        return mean * k, (1 - mean) * k

    def streamer_prior_evidence(self) -> tuple[float, float]:
        """Prior (a, b) of trust along a new follow edge."""
        k, mean = self.config.behaviour.prior_strength, self.config.behaviour.trust_prior_streamer
        return mean * k, (1 - mean) * k

    def minutes_target_today(self) -> np.ndarray:
        """Long-run minutes per day on each platform under today's ad load and live share."""
        c = [p.config for p in self.platform_list]
        return rules.minutes_target(
            np.array([x.minutes_per_day for x in c]), np.array([x.ad_load for x in c]),
            np.array([x.live_share for x in c]), self.config.behaviour,
        )  # fmt: skip

    def build_follows(self, installed: np.ndarray, rng: np.random.Generator):
        """Follow graph consumer -> streamer, heavy-tailed by streamer popularity."""
        t = self.streamers
        return graphs.build_follow_graph(
            installed.shape[0], t.platform, t.popularity, installed,
            self.config.consumer.follows_per_consumer, rng,
        )  # fmt: skip

    def _init_brands(self) -> BrandTable:
        cfg, rng = self.config, self.rng
        n, k, p = cfg.brands.count, cfg.categories.count, len(self.platform_list)
        category = rng.integers(k, size=n)
        quality = np.clip(rng.normal(cfg.brands.quality_mean, cfg.brands.quality_sd, n), 0.05, 1.0)
        price = np.array(cfg.categories.price_rmb)[category] * rng.lognormal(0.0, 0.3, n)
        scale = cfg.consumers / 10_000
        capacity = cfg.brands.capacity_orders_per_day * scale * rng.lognormal(-0.125, 0.5, n)
        names = [pl_.name for pl_ in self.platform_list]
        list_p = np.array([cfg.brands.listing_probability.get(x, 0.0) for x in names])
        shop_p = np.array([cfg.brands.own_shop_probability.get(x, 0.0) for x in names])
        listed = rng.random((n, p)) < list_p
        if self.shelf_indices:
            best = int(np.argmax(list_p))
            listed[~listed.any(axis=1), best] = True
        own_shop = rng.random((n, p)) < shop_p
        home = np.where(own_shop.any(axis=1), np.argmax(own_shop, axis=1), -1)
        return BrandTable(
            category=category, quality=quality, price_rmb=price, capacity_orders_per_day=capacity,
            listed=listed, own_shop=own_shop,
            self_broadcast=np.where(home >= 0, cfg.brands.self_broadcast, 0.0), home_platform=home,
            rep_a=np.full(n, cfg.behaviour.trust_prior_brand * cfg.behaviour.prior_strength),
            rep_b=np.full(n, (1 - cfg.behaviour.trust_prior_brand) * cfg.behaviour.prior_strength),
            receipts_self_rmb=np.zeros(n), receipts_hired_rmb=np.zeros(n), cost_self_rmb=np.zeros(n),
            receipts_by_platform_rmb=np.zeros((n, p)),
        )  # fmt: skip

    def _init_streamers(self) -> StreamerTable:
        cfg, rng, b = self.config.streamers, self.rng, self.brands
        names = [p.name for p in self.platform_list]
        h, n_b, carried_k = cfg.count, len(b.category), cfg.brands_carried
        shares = np.array([cfg.platform_shares.get(x, 0.0) for x in names])
        platform = rng.choice(len(names), size=h, p=shares) if h else np.zeros(0, int)
        category = rng.integers(self.config.categories.count, size=h)
        popularity = graphs.pareto_popularity(h + n_b, cfg.popularity_alpha, rng)
        popularity[h:] *= 0.3  # brand accounts start small
        brand_groups = WeightedGroups(b.category, np.ones(n_b), self.config.categories.count)
        carried = brand_groups.pick(np.repeat(category, carried_k), rng.random(h * carried_k))
        carried = carried.reshape(h, carried_k)
        own = np.arange(n_b)
        prior = self.config.behaviour.prior_strength * 5
        mean = self.config.behaviour.trust_prior_streamer
        n = h + n_b
        table = StreamerTable(
            platform=np.concatenate([platform, np.maximum(b.home_platform, 0)]).astype(np.int64),
            category=np.concatenate([category, b.category]),
            popularity=popularity,
            commission=np.concatenate([beta_with_mean(rng, cfg.commission, 16, h), np.zeros(n_b)]),
            selection_care=np.concatenate([beta_with_mean(rng, cfg.selection_care_mean, 8, h), np.ones(n_b)]),
            scandal_hazard_per_day=np.concatenate([np.full(h, cfg.scandal_hazard_per_day), np.zeros(n_b)]),
            live_probability=np.concatenate([np.full(h, cfg.live_probability), np.zeros(n_b)]),
            brand=np.concatenate([np.full(h, -1), own]),
            carried=np.vstack([carried, np.repeat(own[:, None], carried_k, axis=1)]).astype(np.int64),
            rep_a=np.full(n, mean * prior), rep_b=np.full(n, (1 - mean) * prior),
            banned_until_step=np.zeros(n, np.int64), followers=np.zeros(n, np.int64), gmv_rmb=np.zeros(n),
        )  # fmt: skip
        return table.reordered(np.argsort(table.platform, kind="stable"))

    # ------------------------------------------------------------------ the day
    @property
    def day(self) -> int:
        """Days completed before the current one (0 on the first day)."""
        return self.steps - 1

    @property
    def date(self) -> dt.date:
        """Calendar date of the current step."""
        return self.start_date + dt.timedelta(days=max(self.day, 0))

    def step(self) -> None:
        """One day, in the order of MODEL_SPEC.md."""
        # 1. calendar: policies, festivals, scandals
        self.scandals_today = []
        for name, changes in self.calendar.policies_on(self.day, self.date):
            self.platforms[name].apply_policy(changes)
        demand = self.calendar.demand_multiplier(self.date)
        self._draw_scandals()
        # 2-3. monthly adaptive platform rules and brand learning; streamers go live
        if self.day > 0 and self.day % 30 == 0:
            self.agents_by_type[Platform].do("review_month")
            self.agents_by_type[Brand].shuffle_do("review_month")
            self.brands.reset_month()
        live, product = self._go_live()
        # 4. consumers
        ctx = self._context(demand, live, product)
        orders = self.consumers.shop(ctx, self.rng)
        # 5. fulfilment; 6-7. trust, minutes, churn
        outcomes = self._fulfil(orders)
        self._update_reputations(orders, outcomes)
        flows = self.consumers.learn(ctx, orders, outcomes, self.rng)
        # 8. record
        self.recorder.record(ctx, orders, outcomes, flows, live)
        self.datacollector.collect(self)

    def _draw_scandals(self) -> None:
        t = self.streamers
        on_air = t.banned_until_step <= self.day
        hit = set(np.nonzero(on_air & (self.rng.random(len(t.platform)) < t.scandal_hazard_per_day))[0].tolist())
        hit |= set(self.calendar.scandal_ranks_on(self.date, t.popularity, t.is_hired))
        for row in sorted(hit):
            self.streamer_agents[row].suffer_scandal()

    def _go_live(self) -> tuple[np.ndarray, np.ndarray]:
        t, b = self.streamers, self.brands
        u = self.rng.random((len(t.platform), 2))
        chance = np.where(t.is_hired, t.live_probability, b.self_broadcast[np.maximum(t.brand, 0)])
        chance = np.where(t.brand >= 0, chance * (b.home_platform[np.maximum(t.brand, 0)] >= 0), chance)
        # brands that broadcast themselves supply hired streamers less; -1: no brand in category
        weight = np.where(t.carried >= 0, 1.0 - b.self_broadcast[t.carried] + 1e-9, 0.0)
        product = t.carried[np.arange(len(u)), rules.choose_index(weight, u[:, 1])]
        live = (u[:, 0] < chance) & (t.banned_until_step <= self.day) & (product >= 0)
        return live, np.where(live, product, -1)

    def _context(self, demand: float, live: np.ndarray, product: np.ndarray) -> DayContext:
        cfgs = [p.config for p in self.platform_list]
        arr = lambda f: np.array([f(c) for c in cfgs])  # noqa: E731
        n_p, k = len(cfgs), self.config.categories.count
        idx = {p.name: p.index for p in self.platform_list}
        link = np.zeros((n_p, n_p), bool)
        link_friction = np.zeros((n_p, n_p))
        for i, c in enumerate(cfgs):
            link[i, [idx[q] for q in c.effective_outbound if q != self.platform_list[i].name]] = True
            for q, opened in self.platform_list[i].links_opened_step.items():
                link_friction[i, idx[q]] = rules.new_link_friction(self.day - opened, self.config.behaviour)
        accepts = np.array([[w in c.accepted_wallets for w in self.wallet_names] for c in cfgs])
        primary = arr(lambda c: self.wallet_names.index((c.accepted_wallets or [c.own_wallet])[0])
                      if (c.accepted_wallets or c.own_wallet) else 0)  # fmt: skip
        is_shelf = arr(lambda c: c.kind == "shelf")
        target = self.minutes_target_today()
        self.minutes_cap = np.maximum(self.minutes_cap, target)
        b, t = self.brands, self.streamers
        own_shop = arr(lambda c: c.own_shop)
        sells = np.where(is_shelf, b.listed, b.own_shop & own_shop)
        listed = b.listed & is_shelf
        rep_s = t.reputation
        splash = [
            (idx[q.name], idx[p], r) for q in self.platform_list for p, r in q.config.traffic_bought.items() if r > 0
        ]
        return DayContext(
            step=self.day, demand_multiplier=demand, is_shelf=is_shelf,
            feed_mode=arr(lambda c: c.feed_mode), ad_load=arr(lambda c: c.ad_load),
            live_share=arr(lambda c: c.live_share), promotion=arr(lambda c: c.promotion),
            protection=arr(lambda c: c.protection), minutes_target=target,
            minutes_cap=self.minutes_cap.copy(), link_allowed=link, link_friction=link_friction,
            accepts=accepts, primary_wallet=primary, sells_in_room=sells,
            listed=listed, price_rmb=b.price_rmb, brand_trust=b.reputation, brand_category=b.category,
            streamer_trust=rep_s, streamer_category=t.category, streamer_platform=t.platform,
            live=live, product=product,
            rooms=WeightedGroups(t.platform * k + t.category, live * t.popularity * rep_s, n_p * k),
            shelf_brands=WeightedGroups(
                (np.arange(n_p) * k + b.category[:, None]).ravel(),
                (listed * b.reputation[:, None]).ravel(), n_p * k,
                labels=np.repeat(np.arange(len(b.category)), n_p),
            ),
            splash=splash, scandals=list(self.scandals_today), n_categories=k,
        )  # fmt: skip

    def logistics_quality(self) -> np.ndarray:
        """Effective logistics quality: the best of own and partners' networks (interoperability)."""
        own = {p.name: p.config.logistics_quality for p in self.platform_list}
        return np.array(
            [max([own[p.name]] + [own[q] for q in p.config.logistics_partners]) for p in self.platform_list]
        )

    def _fulfil(self, orders: Orders) -> Outcomes:
        """Capacity-limited shipping, bad outcomes, returns and protection refunds."""
        b, beh, n = self.brands, self.config.behaviour, len(orders)
        u = self.rng.random((n, 4))
        capacity = np.floor(b.capacity_orders_per_day * self.calendar.capacity_factor(self.date, b.category))
        order = np.lexsort((u[:, 0], orders.brand))
        first = np.searchsorted(orders.brand[order], orders.brand[order], side="left")
        rank = np.empty(n, np.int64)
        rank[order] = np.arange(n) - first
        delayed = rank >= capacity[orders.brand]
        care = np.where(orders.streamer >= 0, self.streamers.selection_care[np.maximum(orders.streamer, 0)], 0.0)
        p_bad = rules.bad_outcome_probability(
            b.quality[orders.brand], self.logistics_quality()[orders.platform], delayed, care, beh
        )
        bad = u[:, 1] < p_bad
        is_live = orders.channel <= rules.LIVE_SEARCH
        rate = np.array(self.config.categories.return_rate)[b.category[orders.brand]]
        protection = np.array([p.config.protection for p in self.platform_list])
        returned = u[:, 2] < rules.return_probability(
            rate, bad, orders.impulsivity, is_live, protection[orders.platform], beh
        )
        covered = bad & (u[:, 3] < protection[orders.platform])
        return Outcomes(delayed=delayed, bad=bad, returned=returned, covered=covered)

    def _update_reputations(self, orders: Orders, out: Outcomes) -> None:
        """Public reputation of brands and streamers: pooled evidence, then forgetting."""
        beh, w = self.config.behaviour, 10_000 / self.config.consumers
        for table, who in ((self.brands, orders.brand), (self.streamers, orders.streamer)):
            m = who >= 0
            size = len(table.rep_a)
            table.rep_a += w * beh.evidence_good * np.bincount(who[m], ~out.bad[m], size)
            table.rep_b += w * beh.evidence_bad * np.bincount(who[m], out.bad[m], size)
        for table, mean in ((self.brands, beh.trust_prior_brand), (self.streamers, beh.trust_prior_streamer)):
            k = beh.prior_strength * (1 if table is self.brands else 5)
            table.rep_a[:] = rules.beta_forget(table.rep_a, mean * k, beh.forgetting_per_day)
            table.rep_b[:] = rules.beta_forget(table.rep_b, (1 - mean) * k, beh.forgetting_per_day)

    # ------------------------------------------------------------------ running
    def own_shop_gmv_windows(self, platform: int, days: int = 30) -> tuple[float, float]:
        """Own-shop GMV of a platform over the last ``days`` and the ``days`` before."""
        return self.recorder.window_sums("gmv_rmb", platform, rules.LIVE_OWN, days)

    def run(self, days: int | None = None, progress: bool = False) -> pl.DataFrame:
        """Advance ``days`` days (default: the scenario's) and return the tidy results table."""
        for _ in tqdm(range(self.config.days if days is None else days), disable=not progress, desc="days"):
            self.step()
        return self.results()

    def results(self) -> pl.DataFrame:
        """All recorded days as a tidy long table.

        Columns: run_id, step, date, platform, channel, metric, value, value_scaled.
        """
        return self.recorder.table()

    def write_parquet(self, path: str | Path) -> Path:
        """Write the results table to a Parquet file and return its path."""
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        self.results().write_parquet(path)
        return path
