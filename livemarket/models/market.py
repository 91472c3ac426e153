"""The market: a ``mesa.Model`` of platforms, brands, streamers and consumers, one step a day.

Example:
    >>> from livemarket import LiveCommerceModel
    >>> model = LiveCommerceModel("minimal", consumers=500, rng=1)
    >>> table = model.run(days=5)
    >>> {"gmv_rmb", "adopter_share"} <= set(table["metric"])
    True
"""

from __future__ import annotations

import datetime as dt
from functools import partial
from pathlib import Path

import mesa
import numpy as np
import polars as pl
from tqdm.auto import tqdm

from livemarket.agents.brand import Brand
from livemarket.agents.consumers import ConsumerColumns
from livemarket.agents.platform import Platform
from livemarket.agents.population import init_consumer_state
from livemarket.agents.streamer import Streamer, enter_and_exit
from livemarket.batch import default_seed
from livemarket.config import ConfigError, ScenarioConfig, load_scenario
from livemarket.core import rules
from livemarket.core.ahead import Deferred, UniformsAhead, now
from livemarket.core.context import DayContext, Orders, Outcomes, WeightedGroups
from livemarket.core.sampling import GroupLayout
from livemarket.models import graphs, supply
from livemarket.models.detail import DetailRecorder, check_detail
from livemarket.models.metrics import Recorder
from livemarket.models.policies import Calendar, first_day
from livemarket.models.settlement import Ledger, book_platforms, settle_orders

__all__ = ["LiveCommerceModel"]

ENGINES = ("columns", "reference")
#: Processes of the day, each with its own random stream per day (see ``LiveCommerceModel.streams``).
PROCESSES = ("scandals", "brands", "market", "live", "shop", "fulfil", "learn", "video")  # append only


class _DayStreams(dict):
    """A day's streams by process name, each spawned when first asked for (monthly processes skip most days)."""

    def __init__(self, entropy: int, day: int):
        super().__init__()
        self.entropy, self.day = entropy, day

    def __missing__(self, name: str) -> np.random.Generator:
        if name not in PROCESSES:
            raise KeyError(f"no random stream {name!r}: processes are {PROCESSES}")
        seed = np.random.SeedSequence(self.entropy, spawn_key=(self.day, PROCESSES.index(name)))
        self[name] = stream = np.random.default_rng(seed)
        return stream


def _last_market(model, metric: str) -> float:
    return model.recorder.last(metric)


def _last_share(model, platform: int) -> float:
    return model.recorder.last_share(platform)


class LiveCommerceModel(mesa.Model):
    """Live-stream commerce market (described in docs/ODD.md). One step is one day.

    Args:
        scenario: a :class:`ScenarioConfig`, a built-in scenario name or a TOML path.
        consumers: population size (overrides the scenario's).
        overrides: ``dotted.path=value`` strings applied to the scenario.
        rng: seed or generator; defaults to the scenario's ``seed``.
        consumer_engine: ``"columns"`` (fast) or ``"reference"`` (one agent per consumer).
        run_id: label written into every output row.
        detail: per-entity tables to record (``"brands"``, ``"streamers"``, ``"tiers"``); see
            :mod:`livemarket.models.detail`.
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
        detail: list[str] | None = None,
    ):
        if isinstance(scenario, ScenarioConfig):
            config = scenario if consumers is None else scenario.model_copy(update={"consumers": consumers})
            if overrides:
                raise ValueError("overrides apply to scenario names or files, not to a config object")
        else:
            config = load_scenario(scenario, overrides, consumers=consumers)
        if consumer_engine not in ENGINES:
            raise ValueError(f"consumer_engine {consumer_engine!r}: accepted {ENGINES}")
        try:
            detail = check_detail(detail)
        except ValueError as err:
            raise ConfigError(str(err)) from None
        rng = default_seed(config.seed) if rng is None else rng  # batch_run: one seed per iteration
        super().__init__(rng=rng)
        self._setup_seed_is_int = isinstance(rng, int | np.integer)  # how a checkpoint rebuilds the set-up
        # the day's processes draw from streams spawned from (this entropy, day, process): two runs
        # sharing a seed keep sharing every process's draws after a policy that does not touch it
        self.stream_entropy = int(self.rng.integers(2**63))
        self.streams: dict[str, np.random.Generator] = {}
        self._layouts_by_keys: dict[str, tuple[np.ndarray, GroupLayout]] = {}  # see _group_layout
        self.config = config
        self.run_id = run_id
        self.start_date = config.start_date
        self.calendar = Calendar(config)
        self.scandals_today: list[int] = []
        self.unfollowed_sales: list[np.ndarray] = []  # (2, n) consumer, streamer: live sales without a follow edge

        self.platform_list = [Platform(self, n, i, c) for i, (n, c) in enumerate(config.platforms.items())]
        self.platforms = {p.name: p for p in self.platform_list}
        self.shelf_indices = [p.index for p in self.platform_list if p.is_shelf]
        self.wallet_names = sorted(
            set(config.consumer.wallets) | {p.config.own_wallet for p in self.platform_list} - {""}
        )
        self.brands = supply.init_brands(self)
        self.streamers = supply.init_streamers(self)
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
                allow_isolated=g.allow_isolated,
            )  # fmt: skip
        except ValueError as err:  # a graph that does not fit the population
            raise ConfigError(f"graph ({g.kind}, {config.consumers} consumers): {err}") from None
        if consumer_engine == "reference":
            from livemarket.agents.reference import ReferenceConsumers

            self.consumers = ReferenceConsumers(self, state)
        else:
            self.consumers = ConsumerColumns(self, state)
        self.consumer_tier = state.tier
        self.recorder = Recorder(self)
        self.detail = DetailRecorder(self, detail)
        self.streams = self.day_streams(0)  # replaced at the start of every step
        self.datacollector = mesa.DataCollector(  # module-level reporters: the model pickles (save/load)
            model_reporters={
                **{name: partial(_last_market, metric=name) for name in ("gmv_rmb", "hhi", "consumer_surplus_rmb")},
                **{f"share_{p.name}": partial(_last_share, platform=p.index) for p in self.platform_list},
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
        """Follow graph consumer -> streamer, heavy-tailed by streamer popularity (dormant entrants unfollowed)."""
        t = self.streamers
        return graphs.build_follow_graph(installed.shape[0], t.platform, t.popularity * t.active, installed,
                                         self.config.consumer.follows_per_consumer, rng)  # fmt: skip

    # ------------------------------------------------------------------ the day
    @property
    def day(self) -> int:
        """Days completed before the current one (0 on the first day)."""
        return self.steps - 1

    @property
    def kernels(self):
        """The compiled kernels this run's consumer engine uses (:mod:`livemarket.agents.kernels`), or None."""
        return getattr(self.consumers, "_kernels", None)

    @property
    def date(self) -> dt.date:
        """Calendar date of the current step."""
        return self.start_date + dt.timedelta(days=max(self.day, 0))

    def day_streams(self, day: int) -> dict[str, np.random.Generator]:
        """The random stream of each process on ``day``: depends only on the run's seed, the day and the process."""
        return _DayStreams(self.stream_entropy, day)

    def step(self) -> None:
        """One day, in the order of docs/ODD.md, section 3."""
        self.streams = self.day_streams(self.day)
        # 1. calendar: policies, festivals, scandals
        self.scandals_today = []
        today: dict[str, dict] = {}  # a platform's events of one day act together; a later one wins a field
        for name, changes in (*self.calendar.policies_on(self.day, self.date), *self.calendar.trends_on(self.date)):
            today.setdefault(name, {}).update(changes)
        for name, changes in today.items():
            self.platforms[name].apply_policy(changes)
        demand = self.calendar.demand_multiplier(self.date)
        self._draw_scandals()
        # 2-3. monthly adaptive platform rules and brand learning; streamers go live
        if self.day > 0 and self.day % 30 == 0:
            self.agents_by_type[Platform].do("review_month")
            self.agents_by_type[Brand].shuffle_do("review_month")
            self._review_market_month()
        live, product = self._go_live()
        # 4. consumers
        ctx = self._context(demand, live, product)
        beside = self.kernels.beside if self.kernels is not None else None  # a second thread, with the kernels
        # fulfilment's uniforms, for yesterday's orders and a twentieth more: drawn beside shopping
        expected = np.nan_to_num(self.recorder.last("orders")) * 1.05
        ahead = UniformsAhead(self.streams["fulfil"], 4 * int(expected), beside)
        orders = self.consumers.shop(ctx, self.streams["shop"], self.streams["video"])
        # 5. fulfilment; 6-7. trust, minutes, churn
        outcomes = self._fulfil(orders, ahead)
        # settlement and reputations touch no consumer: beside learning once word of mouth (on both cores) is
        # done; then the platforms' books with the day's ad revenue
        settling = Deferred(beside or now, self._settle, orders, outcomes, ctx, live)
        flows = self.consumers.learn(ctx, orders, outcomes, self.streams["learn"], meanwhile=settling.start)
        stats = self.consumers.stats()
        self.ledger = book_platforms(self, ctx, settling.result(), stats["minutes_sum"])
        if self.config.streamers.follow_on_purchase > 0:  # buyers may follow the streamer who sold (monthly)
            new = (orders.streamer >= 0) & (orders.edge < 0)
            self.unfollowed_sales.append(np.stack([orders.consumer[new], orders.streamer[new]]))
        # 8. record
        self.recorder.record(ctx, orders, outcomes, self.ledger, stats, flows, live)
        self.detail.record(orders)
        self.datacollector.collect(self)

    def _review_market_month(self) -> None:
        """Monthly market dynamics (each off unless configured): prices, streamer entry and exit, new follows."""
        cfg = self.config
        if cfg.brands.price_pass_through > 0:
            self.brands.reprice(cfg.brands.price_pass_through)
        enter_and_exit(self)
        pairs, self.unfollowed_sales = self.unfollowed_sales, []
        if cfg.streamers.follow_on_purchase > 0 and pairs:
            consumer, streamer = np.concatenate(pairs, axis=1)
            keep = self.streams["market"].random(len(consumer)) < cfg.streamers.follow_on_purchase
            added = self.consumers.add_follows(consumer[keep], streamer[keep])
            self.streamers.followers += np.bincount(added, minlength=len(self.streamers.platform))
        self.brands.reset_month()
        self.streamers.reset_month()

    def _draw_scandals(self) -> None:
        t = self.streamers
        on_air = (t.banned_until_step <= self.day) & t.active
        draws = self.streams["scandals"].random(len(t.platform))
        hit = set(np.nonzero(on_air & (draws < t.scandal_hazard_per_day))[0].tolist())
        hit |= set(self.calendar.scandal_ranks_on(self.date, t.popularity, t.is_hired & t.active))
        for row in sorted(hit):
            self.streamer_agents[row].suffer_scandal()

    def _go_live(self) -> tuple[np.ndarray, np.ndarray]:
        t, b = self.streamers, self.brands
        u = self.streams["live"].random((len(t.platform), 2))
        chance = np.where(t.is_hired, t.live_probability, b.self_broadcast[np.maximum(t.brand, 0)])
        chance = np.where(t.brand >= 0, chance * (b.home_platform[np.maximum(t.brand, 0)] >= 0), chance)
        # brands that broadcast themselves supply hired streamers less; -1: no brand in category
        weight = np.where(t.carried >= 0, 1.0 - b.self_broadcast[t.carried] + 1e-9, 0.0)
        product = t.carried.reshape(-1)[np.arange(len(u)) * t.carried.shape[1] + rules.choose_index(weight, u[:, 1])]
        live = (u[:, 0] < chance) & (t.banned_until_step <= self.day) & (product >= 0) & t.active
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
        accepts = self.wallet_accepts()
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
        room_keys, shelf_keys = t.platform * k + t.category, (np.arange(n_p) * k + b.category[:, None]).ravel()
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
            rooms=WeightedGroups(
                room_keys, live * t.popularity * rep_s, n_p * k, layout=self._group_layout("rooms", room_keys, n_p * k)
            ),
            shelf_brands=WeightedGroups(  # items: (brand, platform) cells, labelled by brand
                shelf_keys, (listed * b.reputation[:, None]).ravel(), n_p * k,
                layout=self._group_layout("shelf", shelf_keys, n_p * k, labels_repeat=n_p),
            ),
            splash=splash, scandals=list(self.scandals_today), n_categories=k,
            install_pull=arr(lambda c: c.install_pull), link_markup=self.link_markup(),
        )  # fmt: skip

    def _group_layout(self, name: str, keys: np.ndarray, n_keys: int, labels_repeat: int = 0) -> GroupLayout:
        """``GroupLayout.of(keys, n_keys, labels)``, kept while the keys stay the same (streamers entering change them).

        ``labels_repeat`` r > 0: item i is labelled i // r (cells of a row-major (items, r) table); else unlabelled.
        """
        cached = self._layouts_by_keys.get(name)
        if cached is None or not np.array_equal(cached[0], keys):
            labels = np.arange(len(keys)) // labels_repeat if labels_repeat else None
            cached = self._layouts_by_keys[name] = (keys.copy(), GroupLayout.of(keys, n_keys, labels))
        return cached[1]

    def link_markup(self) -> np.ndarray:
        """(P,) markup on outbound-link orders from each platform's rooms: ``s f / (1 - f)`` (pass-through s, fee f)."""
        s = self.config.brands.price_pass_through
        fee = np.array([p.config.ext_link_fee for p in self.platform_list])
        return s * fee / np.maximum(1.0 - fee, 1e-9) if s > 0 else np.zeros(len(fee))

    def wallet_accepts(self) -> np.ndarray:
        """Bool (P, W): wallets each platform's checkout accepts today."""
        return np.array([[w in p.config.accepted_wallets for w in self.wallet_names] for p in self.platform_list])

    def logistics_quality(self) -> np.ndarray:
        """Effective logistics quality: the best of own and partners' networks (interoperability)."""
        own = {p.name: p.config.logistics_quality for p in self.platform_list}
        return np.array(
            [max([own[p.name]] + [own[q] for q in p.config.logistics_partners]) for p in self.platform_list]
        )

    def _fulfil(self, orders: Orders, uniforms: UniformsAhead | None = None) -> Outcomes:
        """Capacity-limited shipping, bad outcomes, returns and protection refunds."""
        b, beh, n = self.brands, self.config.behaviour, len(orders)
        u = (uniforms or UniformsAhead(self.streams["fulfil"], 0)).take(4 * n).reshape(n, 4)  # = random((n, 4))
        capacity = np.floor(b.capacity_orders_per_day * self.calendar.capacity_factor(self.date, b.category))
        kernels = self.kernels  # the compiled path ranks brand by brand
        delayed = (kernels.over_capacity if kernels else _over_capacity)(orders.brand, u[:, 0], capacity)
        rate = np.array(self.config.categories.return_rate)[b.category]  # by brand
        protection = np.array([p.config.protection for p in self.platform_list])
        if kernels is not None:
            bad, returned, covered = kernels.order_outcomes(
                u, delayed, orders.brand, orders.platform, orders.streamer, rules.is_content(orders.channel),
                orders.impulsivity, b.quality, self.logistics_quality(), self.streamers.selection_care, rate,
                protection, kernels.behaviour_tuple(beh),
            )  # fmt: skip
            return Outcomes(delayed=delayed, bad=bad, returned=returned, covered=covered)
        care = np.where(orders.streamer >= 0, self.streamers.selection_care[np.maximum(orders.streamer, 0)], 0.0)
        p_bad = rules.bad_outcome_probability(
            b.quality[orders.brand], self.logistics_quality()[orders.platform], delayed, care, beh
        )
        bad = u[:, 1] < p_bad
        from_content = rules.is_content(orders.channel)  # impulse returns: live rooms and product videos
        shield = protection[orders.platform]
        returned = u[:, 2] < rules.return_probability(rate[orders.brand], bad, orders.impulsivity, from_content,
                                                      shield, beh)  # fmt: skip
        covered = bad & (u[:, 3] < shield)
        return Outcomes(delayed=delayed, bad=bad, returned=returned, covered=covered)

    def _settle(self, orders: Orders, out: Outcomes, ctx: DayContext, live: np.ndarray) -> Ledger:
        """The orders into brand and streamer ledgers (:func:`settle_orders`), then into reputations."""
        ledger = settle_orders(self, ctx, orders, out, live)
        self._update_reputations(orders, out)
        return ledger

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
        """Own-shop GMV (live rooms and product videos) of a platform over the last ``days`` and the ``days`` before."""
        return self.recorder.window_sums("gmv_rmb", platform, (rules.LIVE_OWN, rules.VIDEO_OWN), days)

    def run(self, days: int | None = None, progress: bool = False, detail: list[str] | None = None) -> pl.DataFrame:
        """Advance ``days`` days (default: the scenario's) and return the tidy results table.

        ``detail`` adds per-entity tables from now on (read them with :meth:`detail_tables`).
        """
        if detail:
            try:
                self.detail.request(detail)
            except ValueError as err:
                raise ConfigError(str(err)) from None
        for _ in tqdm(range(self.config.days if days is None else days), disable=not progress, desc="days"):
            self.step()
        return self.results()

    def results(self) -> pl.DataFrame:
        """All recorded days as a tidy long table.

        Columns: run_id, step, date, platform, channel, metric, value, value_scaled.
        """
        return self.recorder.table()

    def detail_tables(self) -> dict[str, pl.DataFrame]:
        """Per-entity tables requested with ``detail`` (tidy: run_id, step, date, entity, id, metric, value)."""
        return self.detail.tables()

    def save(self, path: str | Path) -> Path:
        """Write the full state (random streams included) to a checkpoint file; see :mod:`.checkpoint`."""
        from livemarket.models import checkpoint

        return checkpoint.save(self, path)

    @classmethod
    def load(cls, path: str | Path, scenario: str | None = None, **keywords) -> LiveCommerceModel:
        """Restore a model saved with :meth:`save`; it continues exactly as the saved run would have.

        ``keywords`` are a subclass's own constructor keywords (the model is built again, then restored).
        """
        from livemarket.models import checkpoint

        return checkpoint.load(path, scenario, model_class=cls, **keywords)

    def schedule(self, *, policies: list[dict] = (), supply_shocks: list[dict] = (), scandals: list[dict] = ()) -> None:
        """Add dated events to a running model (branching): policy events, supply shocks, scandals.

        Each is validated like the scenario's own; an event dated before today is refused.
        """
        from livemarket.config import ScenarioConfig

        data = self.config.model_dump(mode="json")
        added = {"policies": list(policies), "supply_shocks": list(supply_shocks), "scandals": list(scandals)}
        for key, items in added.items():
            data[key] = [*data[key], *items]
        try:
            config = ScenarioConfig.model_validate(data)
        except ValueError as err:
            raise ConfigError(f"{', '.join(k for k, v in added.items() if v) or 'events'}: {err}") from None
        next_day = self.start_date + dt.timedelta(days=self.steps)  # the first day not yet run
        for key in added:
            for event in getattr(config, key)[len(getattr(self.config, key)):]:
                if (day := first_day(event, self.start_date)) < next_day:
                    raise ConfigError(f"{key}: an event on {day} is before today ({next_day}, the next day to run)")
        events = config.policies[len(self.config.policies):]
        self.config = self.calendar.config = config
        self.calendar.add(events)

    def write_parquet(self, path: str | Path) -> Path:
        """Write the results table to a Parquet file and return its path."""
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        self.results().write_parquet(path)
        return path


def _over_capacity(brand: np.ndarray, u: np.ndarray, capacity: np.ndarray) -> np.ndarray:
    """Orders shipped late: each brand ships its orders in the order of ``u`` up to its capacity.

    Only brands with more orders than capacity can delay, so only their orders are sorted.
    """
    delayed = np.zeros(len(brand), bool)
    over = np.flatnonzero((np.bincount(brand, minlength=len(capacity)) > capacity)[brand])
    if len(over):
        b = brand[over]
        order = np.argsort(u[over], kind="stable")  # then a stable sort by brand: the lexsort order
        small = np.int16 if len(capacity) < 2**15 else np.int64  # 16-bit keys sort by radix
        order = order[np.argsort(b[order].astype(small), kind="stable")]
        sorted_b, at = b[order], np.arange(len(over))
        run_starts = np.empty(len(over), bool)  # where each brand's run begins
        run_starts[0] = True
        np.not_equal(sorted_b[1:], sorted_b[:-1], out=run_starts[1:])
        rank = np.empty(len(over), np.int64)
        rank[order] = at - np.maximum.accumulate(np.where(run_starts, at, 0))  # position less its run's start
        delayed[over] = rank >= capacity[b]
    return delayed
