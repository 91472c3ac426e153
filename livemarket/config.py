"""Scenario configuration: TOML files validated by pydantic before any model is built.

A scenario is one TOML document. Every table maps onto a pydantic model with
``extra="forbid"``, so a misspelt key, a wrong type or an out-of-range value is one
:class:`ConfigError` that names the field and what it accepts.

Example:
    >>> cfg = load_scenario("minimal", overrides=["platforms.video.link_ban=true"])
    >>> cfg.platforms["video"].link_ban
    True
"""

from __future__ import annotations

import datetime as dt
import tomllib
from importlib import resources
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from livemarket.sizing import MAX_DAYS, check_memory
from livemarket.suggest import describe_errors, did_you_mean
from livemarket.trends import check_trends

__all__ = ["ConfigError", "PlatformConfig", "ScenarioConfig", "apply_overrides", "builtin_scenarios",
           "load_scenario", "read_toml_file", "scenario_from_dict"]  # fmt: skip

Probability = Annotated[float, Field(ge=0.0, le=1.0)]
NonNegative = Annotated[float, Field(ge=0.0)]
Positive = Annotated[float, Field(gt=0.0)]


class ConfigError(ValueError):
    """A scenario or experiment file that cannot be used, with every problem named."""


class _Strict(BaseModel):
    # strict: TOML true/false or "0.5" is not a number (pydantic would read them as 1/0 and 0.5);
    # allow_inf_nan=False: TOML nan and inf are refused in every float field, by name
    model_config = ConfigDict(extra="forbid", validate_assignment=True, strict=True, allow_inf_nan=False)


class PlatformConfig(_Strict):
    """One platform's strategy and market parameters (all changeable by dated policies)."""

    kind: Literal["content", "shelf"]
    feed_mode: Probability = 0.5  # rho: 0 follow feed ("trust"), 1 interest recommendation
    ad_load: Probability = 0.1  # share of feed time that is advertising
    live_share: Probability = 0.1  # share of feed that is live selling
    own_shop: bool = True  # closed loop: live rooms sell from the platform's own shop
    outbound_links: list[str] = []  # shelf platforms live rooms may link to
    link_ban: bool = False  # when true, no outbound links whatever outbound_links says
    ext_link_fee: Probability = 0.0  # share of order value charged on outbound-link orders
    take_rate: Probability = 0.05  # commission on orders paid on this platform
    own_wallet: str = ""  # the platform's own payment wallet ("" for none)
    accepted_wallets: list[str] = []  # wallets the checkout accepts
    logistics_quality: Probability = 0.7  # share of deliveries that go well, own network
    logistics_partners: list[str] = []  # platforms whose logistics this one may use
    protection: Probability = 0.3  # pi: chance a bad outcome is refunded by the platform
    users_share: Probability = 0.5  # share of consumers with the app installed at start
    minutes_per_day: NonNegative = 30.0  # minutes a user spends per day at zero ad load
    trust_prior: Probability = 0.6  # prior mean trust of consumers in this platform
    promotion: Annotated[float, Field(ge=0.0, le=0.1)] = 0.0002  # Bass p, hazard per day
    traffic_bought: dict[str, Probability] = {}  # content platform -> daily splash reach
    ad_price_rmb_per_minute: NonNegative = 0.01  # ad revenue per ad minute shown
    splash_price_rmb_per_view: NonNegative = 0.05  # charged to the buyer of splash traffic
    restore_links_below_growth: float | None = None  # adaptive rule threshold (monthly)
    commission: Probability | None = None  # mean commission of hired streamers homed here (unset: global)
    self_broadcast: Probability | None = None  # self-broadcast intensity of brand accounts homed here (unset: global)
    install_pull: Annotated[float, Field(ge=0.0, le=0.1)] = 0.0  # extra daily install hazard (content pull, promotion)
    category_weights: list[NonNegative] = []  # category mix of streamers homed here, at set-up (empty: uniform)

    @property
    def effective_outbound(self) -> list[str]:
        """Platforms live rooms may link to today (empty under a link ban)."""
        return [] if self.link_ban else list(self.outbound_links)


class ConsumersConfig(_Strict):
    """Consumer population: heterogeneity and behavioural coefficients."""

    tier_shares: list[Probability] = [0.15, 0.15, 0.20, 0.50]
    interest_concentration: Positive = 0.5  # Dirichlet alpha over categories
    wallets: dict[str, Probability] = {"alipay": 0.7, "wechat_pay": 0.9}
    price_sensitivity_mean: Positive = 1.0  # utility per 100 RMB
    impulsivity_mean: Probability = 0.3
    follows_per_consumer: NonNegative = 6.0
    adopter_share: Probability = 0.2  # live-shopping adopters at start
    bass_q: Annotated[float, Field(ge=0.0, le=1.0)] = 0.001  # imitation, hazard per day at full neighbour adoption
    needs_per_day: Probability = 0.02  # planned needs (search purchases) per day
    live_substitution: Probability = 0.0  # share of live orders that replace a later planned purchase


class BehaviourConfig(_Strict):
    """Coefficients of the consumer rules (logit utilities in utils, hazards per day)."""

    live_visits_per_minute: NonNegative = 0.02  # live-room visits per live-feed minute
    video_views_per_minute: NonNegative = 0.0  # product videos per interest-feed minute on content platforms
    consider_intercept: float = -2.0
    consider_match: float = 2.0
    consider_trust: float = 1.5
    consider_impulsivity: float = 1.5
    util_own_shop: float = 0.0
    util_link: float = -0.2
    util_search: float = -0.8
    util_planned: float = 1.5  # planned need met by searching a shelf platform
    util_trust_streamer: float = 1.5
    util_trust_platform: float = 1.5
    util_trust_brand: float = 1.0
    util_match: float = 1.0
    util_impulsivity: float = 1.0
    jump_friction: NonNegative = 0.6
    relink_friction: NonNegative = 1.0  # extra jump friction of a link opened during the run ...
    relink_days: Positive = 60.0  # ... fading with this time constant (days)
    search_friction: NonNegative = 0.5
    wallet_friction: NonNegative = 1.0
    splash_consider: Probability = 0.05
    evidence_good: Positive = 1.0
    evidence_bad: Positive = 3.0
    protection_soften: Probability = 0.7  # share of a protection-covered bad outcome's trust weight removed
    protection_assurance: Probability = 0.3  # share of perceived risk a full guarantee removes at choice
    word_of_mouth: NonNegative = 0.1  # evidence passed per neighbour outcome
    forgetting_per_day: Probability = 0.01
    prior_strength: Positive = 4.0  # a + b of every prior
    trust_prior_streamer: Probability = 0.6  # prior mean trust in a followed streamer
    trust_prior_brand: Probability = 0.6  # prior mean public trust in a brand
    scandal_evidence: NonNegative = 10.0
    scandal_platform_evidence: NonNegative = 2.0
    scandal_spillover: Probability = 0.3  # share of scandal evidence on the followers' other streamers there
    scandal_ban_days: int = Field(default=30, ge=0)
    bad_base: Probability = 0.03
    bad_quality: Probability = 0.15
    bad_logistics: Probability = 0.15
    bad_delay: Probability = 0.25
    selection_care_effect: Probability = 0.5
    return_bad: Probability = 0.8
    return_impulse: Probability = 0.15
    return_protection_lift: NonNegative = 0.5  # returns x (1 + lift x protection): protection eases returns
    minutes_adjust_per_day: Probability = 0.0134  # lag: one month ~ 1/3 of long run
    minutes_ad_elasticity: NonNegative = 1.0  # minutes fall linearly with ad load
    minutes_live_elasticity: NonNegative = 0.5  # ... and with live share above tolerance
    live_share_tolerance: Probability = 0.15
    churn_base_per_day: Probability = 0.0003
    churn_trust_per_day: Probability = 0.01  # extra hazard at trust 0, linear to threshold
    churn_trust_threshold: Probability = 0.4
    install_per_day: Probability = 0.0005
    install_social: Probability = 0.002  # extra hazard per unit neighbour usage share
    bad_outcome_loss_share: Probability = 0.5  # share of the price a buyer loses on a bad order kept unrefunded
    return_hassle_share: Probability = 0.1  # cost of returning an order, share of its price


class CategoriesConfig(_Strict):
    """Product categories: prices and return rates."""

    count: int = Field(default=8, ge=1, le=64)
    price_rmb: list[Positive] = [120.0, 80.0, 60.0, 200.0, 300.0, 90.0, 40.0, 150.0]
    return_rate: list[Probability] = [0.35, 0.10, 0.08, 0.12, 0.10, 0.15, 0.06, 0.10]

    @model_validator(mode="after")
    def _lengths(self) -> CategoriesConfig:
        for name in ("price_rmb", "return_rate"):
            if len(getattr(self, name)) != self.count:
                raise ValueError(f"categories.{name} needs {self.count} values (one per category)")
        return self


class BrandsConfig(_Strict):
    """Brands: supply side."""

    count: int = Field(default=400, ge=1)
    quality_mean: Probability = 0.7
    quality_sd: NonNegative = 0.15
    capacity_orders_per_day: Positive = 40.0  # mean at 10,000 consumers; scaled with N
    listing_probability: dict[str, Probability] = {}  # shelf platform -> share listed
    own_shop_probability: dict[str, Probability] = {}  # content platform -> share with shop
    self_broadcast: Probability = 0.3  # initial self-broadcast intensity
    self_broadcast_cost_rmb_per_day: NonNegative = 1.0  # at 10,000 consumers; scaled with N
    learning_rate: Probability = 0.2  # monthly step toward the better channel
    channel_review: Probability = 0.0  # monthly chance a brand re-chooses its content shops on margins (0: off)
    shop_switch_cost_rmb: NonNegative = 20.0  # cost of opening or closing a shop, RMB at 10,000 consumers
    unit_cost_share: Probability = 0.6  # production cost as a share of the brand's base price
    price_pass_through: Probability = 0.0  # share of the brand's fee and commission burden passed into price


class StreamersConfig(_Strict):
    """Hired streamers (brand accounts are added per brand on its home content platform)."""

    count: int = Field(default=1000, ge=0)
    platform_shares: dict[str, Probability] = {}  # home platform -> share of streamers
    popularity_alpha: Positive = 1.1
    live_probability: Probability = 0.5  # chance of going live on a day
    commission: Probability = 0.2
    selection_care_mean: Probability = 0.5
    scandal_hazard_per_day: Probability = 0.0002
    brands_carried: int = Field(default=5, ge=1)
    entry_pool: int = Field(default=0, ge=0)  # dormant hired streamers who may enter later (by platform_shares)
    entry_per_month: NonNegative = 0.0  # top monthly entry rate, share of a platform's active hired streamers
    entry_income_rmb: Positive = 200.0  # monthly live GMV per streamer (10,000 consumers) at half the top rate
    exit_income_rmb: NonNegative = 0.0  # monthly commission (10,000 consumers) below which a streamer may leave
    exit_per_month: Probability = 0.0  # chance per month that a low-income streamer leaves
    follow_on_purchase: Probability = 0.0  # chance a buyer follows the unfollowed streamer who sold (monthly batch)


class GraphConfig(_Strict):
    """Social graph between consumers."""

    kind: Literal["sbm", "watts_strogatz", "barabasi_albert", "holme_kim", "complete", "file"] = (
        "sbm"
    )
    mean_degree: Positive = 12.0
    homophily: Probability = 0.8
    rewire_prob: Probability = 0.1
    triad_prob: Probability = 0.5
    path: str | None = None
    allow_isolated: bool = False  # kind 'file': accept an edge list naming fewer nodes than consumers

    @model_validator(mode="after")
    def _file(self) -> GraphConfig:
        if self.kind == "file" and not self.path:
            raise ValueError(
                "kind 'file' needs path: a .graphml, .csv, .tsv, .txt or .edges file"
            )
        return self


class PolicyEvent(_Strict):
    """A dated change of one platform's parameters, e.g. Douyin's link ban."""

    platform: str
    date: dt.date | None = Field(default=None, strict=False)
    step: int | None = Field(default=None, ge=0)
    set: dict[str, Any]

    @model_validator(mode="after")
    def _when(self) -> PolicyEvent:
        if (self.date is None) == (self.step is None):
            raise ValueError("give exactly one of 'date' or 'step'")
        return self


class Festival(_Strict):
    """A demand window (Double 11, 618): purchase propensity is multiplied."""

    name: str
    month: int = Field(ge=1, le=12)
    first_day: int = Field(ge=1, le=31)
    last_day: int = Field(ge=1, le=31)
    demand_multiplier: Positive = 2.0

    @model_validator(mode="after")
    def _days(self) -> Festival:
        days_in_month = (dt.date(2020 + self.month // 12, self.month % 12 + 1, 1) - dt.timedelta(days=1)).day
        if self.last_day > days_in_month:  # 2020: a leap year, so 29 February is a date
            raise ValueError(
                f"{dt.date(2020, self.month, 1):%B} has no day {self.last_day} "
                f"(accepted: first_day and last_day in 1..{days_in_month})"
            )
        if self.first_day > self.last_day:
            raise ValueError(
                f"first_day {self.first_day} is after last_day {self.last_day} "
                "(accepted: first_day <= last_day)"
            )
        return self


class Scandal(_Strict):
    """A scheduled scandal of the streamer ranked ``streamer_rank`` by followers."""

    date: dt.date = Field(strict=False)
    streamer_rank: int = Field(default=0, ge=0)


class SupplyShock(_Strict):
    """Brand capacity multiplied by ``capacity_factor`` between two dates."""

    start: dt.date = Field(strict=False)
    end: dt.date = Field(strict=False)
    capacity_factor: Probability = 0.5
    category: int | None = None


class ScenarioConfig(_Strict):
    """A whole scenario: population, platforms, agents, graph and calendar."""

    name: str = "custom"
    start_date: dt.date = Field(default=dt.date(2019, 1, 1), strict=False)
    days: int = Field(default=365, ge=1)
    consumers: int = Field(default=10_000, ge=2)
    seed: int = Field(default=0, ge=0)
    internet_users: Positive = 940e6  # real population represented
    categories: CategoriesConfig = CategoriesConfig()
    consumer: ConsumersConfig = ConsumersConfig()
    behaviour: BehaviourConfig = BehaviourConfig()
    brands: BrandsConfig = BrandsConfig()
    streamers: StreamersConfig = StreamersConfig()
    graph: GraphConfig = GraphConfig()
    platforms: dict[str, PlatformConfig]
    policies: list[PolicyEvent] = []
    festivals: list[Festival] = []
    scandals: list[Scandal] = []
    supply_shocks: list[SupplyShock] = []
    # trends.<platform>.<field> = { <ISO date> = value, ... }; trends.market.demand likewise: a path
    # interpolated linearly from (start_date, the configured value; demand 1.0) through the dated knots
    trends: dict[str, dict[str, dict[str, float]]] = {}

    @model_validator(mode="before")
    @classmethod
    def _platform_names(cls, data: Any) -> Any:
        platforms = data.get("platforms") if isinstance(data, dict) else None
        if isinstance(platforms, dict):  # an override naming no platform of the scenario
            named = [n for n, p in platforms.items() if isinstance(p, dict) and "kind" in p]
            for name, p in platforms.items():
                if isinstance(p, dict) and "kind" not in p and named:
                    raise ValueError(
                        f"platforms.{name}: not a platform of the scenario (accepted: {named}; "
                        f"to add a platform, give its kind = 'content' or 'shelf'){did_you_mean(name, named)}"
                    )
        return data

    @property
    def population_scale(self) -> float:
        """Real internet users represented by one simulated consumer."""
        return self.internet_users / self.consumers

    @model_validator(mode="after")
    def _cross_checks(self) -> ScenarioConfig:
        names = list(self.platforms)
        if not names:
            raise ValueError("platforms: at least one platform is required")
        shelf = {n for n, p in self.platforms.items() if p.kind == "shelf"}
        content = set(names) - shelf
        accepted = f"accepted: {sorted(names)}"

        def known(field: str, values, allowed: set[str], what: str) -> None:
            for v in values:
                if v not in allowed:
                    raise ValueError(f"{field}: unknown {what} {v!r} ({sorted(allowed)} accepted)"
                                     f"{did_you_mean(v, allowed)}")  # fmt: skip

        wallets = set(self.consumer.wallets) | {q.own_wallet for q in self.platforms.values()}

        def platform_refs(prefix: str, p: PlatformConfig) -> None:
            """Names a platform config uses: other platforms, wallets (also for a policy's ``set``)."""
            known(f"{prefix}.outbound_links", p.outbound_links, shelf, "shelf platform")
            known(f"{prefix}.logistics_partners", p.logistics_partners, set(names), "platform")
            known(f"{prefix}.traffic_bought", p.traffic_bought, content, "content platform")
            if p.traffic_bought and p.kind != "shelf":
                raise ValueError(f"{prefix}.traffic_bought: only shelf platforms buy traffic")
            known(f"{prefix}.accepted_wallets", p.accepted_wallets, wallets - {""}, "wallet")
            k = self.categories.count
            if p.category_weights and (len(p.category_weights) != k or sum(p.category_weights) <= 0):
                raise ValueError(
                    f"{prefix}.category_weights: needs {k} non-negative weights (one per category) "
                    f"with a positive sum, or none (got {p.category_weights})"
                )

        for n, p in self.platforms.items():
            platform_refs(f"platforms.{n}", p)
        if self.days > MAX_DAYS:
            raise ValueError(f"days: at most {MAX_DAYS:,} (100 years) accepted (got {self.days:,})")
        check_memory(self)
        known("brands.listing_probability", self.brands.listing_probability, shelf, "shelf platform")
        known("brands.own_shop_probability", self.brands.own_shop_probability, set(names), "platform")
        known("streamers.platform_shares", self.streamers.platform_shares, set(names), "platform")
        if len(self.consumer.tier_shares) < 1 or abs(sum(self.consumer.tier_shares) - 1) > 1e-6:
            raise ValueError("consumer.tier_shares must sum to 1")
        if self.streamers.count and abs(sum(self.streamers.platform_shares.values()) - 1) > 1e-6:
            raise ValueError("streamers.platform_shares must sum to 1 over platforms with live rooms")
        for i, ev in enumerate(self.policies):
            if ev.platform not in self.platforms:
                raise ValueError(f"policies[{i}].platform: unknown platform {ev.platform!r}; {accepted}"
                                 f"{did_you_mean(ev.platform, names)}")  # fmt: skip
            if ev.date is not None and not (self.start_date <= ev.date):
                raise ValueError(f"policies[{i}].date {ev.date} is before start_date {self.start_date}")
            merged = self.platforms[ev.platform].model_dump() | ev.set
            try:
                changed = PlatformConfig.model_validate(merged)
            except ValidationError as err:
                raise ValueError(describe_errors(err, PlatformConfig, f"policies[{i}].set")) from None
            platform_refs(f"policies[{i}].set", changed)
        check_trends(self, PlatformConfig)
        for i, s in enumerate(self.scandals):
            if s.date < self.start_date:
                raise ValueError(f"scandals[{i}].date {s.date} is before start_date {self.start_date}")
            if s.streamer_rank >= max(self.streamers.count, 1):
                raise ValueError(f"scandals[{i}].streamer_rank must be < streamers.count")
        for i, s in enumerate(self.supply_shocks):
            if s.end < s.start:
                raise ValueError(f"supply_shocks[{i}]: end {s.end} is before start {s.start}")
            if s.start < self.start_date:
                raise ValueError(f"supply_shocks[{i}].start {s.start} is before start_date {self.start_date} "
                                 "(accepted: a start on or after start_date)")  # fmt: skip
            if s.category is not None and not 0 <= s.category < self.categories.count:
                raise ValueError(f"supply_shocks[{i}].category: 0..{self.categories.count - 1}")
        return self


def builtin_scenarios() -> list[str]:
    """Names of the scenarios shipped with the package."""
    folder = resources.files("livemarket") / "scenarios"
    return sorted(p.name.removesuffix(".toml") for p in folder.iterdir() if p.name.endswith(".toml"))


def _read_toml(source: str | Path) -> dict[str, Any]:
    path = Path(source)
    if path.suffix != ".toml":
        if str(source) not in builtin_scenarios():
            raise ConfigError(
                f"scenario {str(source)!r} is neither a .toml file nor a built-in scenario "
                f"(accepted: {builtin_scenarios()} or a path ending in .toml)"
                f"{did_you_mean(source, builtin_scenarios())}"
            )
        text = (resources.files("livemarket") / "scenarios" / f"{source}.toml").read_text()
        return tomllib.loads(text)
    return read_toml_file(path, "scenario file")


def read_toml_file(path: str | Path, what: str = "file") -> dict[str, Any]:
    """Read a TOML file; a missing file, a folder, binary bytes or bad TOML is one ConfigError."""
    path = Path(path)
    if path.is_dir():
        raise ConfigError(f"{what} {path} is a folder; accepted: a TOML file")
    if not path.is_file():
        raise ConfigError(f"{what} {path} does not exist")
    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except UnicodeDecodeError as err:
        raise ConfigError(
            f"{path}: not a text file ({err.reason} at byte {err.start}); accepted: a UTF-8 TOML file"
        ) from None
    except tomllib.TOMLDecodeError as err:
        raise ConfigError(f"{path}: malformed TOML: {err}") from None


def _parse_value(text: str) -> Any:
    """Read an override value as TOML (true, 3, 0.5, ["a"], "x"); bare words stay strings."""
    try:
        return tomllib.loads(f"v = {text}")["v"]
    except tomllib.TOMLDecodeError:
        return text


def apply_overrides(data: dict[str, Any], overrides: list[str]) -> dict[str, Any]:
    """Apply ``dotted.path=value`` overrides to a raw scenario dict (returns a new dict); ``path+=[...]`` appends."""
    import copy

    data = copy.deepcopy(data)
    for item in overrides:
        if "=" not in item:
            raise ConfigError(f"override {item!r}: expected dotted.path=value")
        path, value = item.split("=", 1)
        append = path.strip().endswith("+")  # "policies+=[...]" adds to a list instead of replacing it
        keys = path.strip().removesuffix("+").split(".")
        if not all(k.strip() for k in keys):
            raise ConfigError(
                f"override {item!r}: empty name in the path {path.strip()!r}; "
                "expected dotted.path=value"
            )
        node = data
        for k in keys[:-1]:
            if not isinstance(node.setdefault(k, {}), dict):
                raise ConfigError(f"override {item!r}: {k!r} is not a table")
            node = node[k]
        parsed = _parse_value(value.strip())
        if append:
            if not isinstance(parsed, list) or not isinstance(node.get(keys[-1], []), list):
                raise ConfigError(f"override {item!r}: += adds a list to a list, e.g. policies+=[{{...}}]")
            parsed = [*node.get(keys[-1], []), *parsed]
        node[keys[-1]] = parsed
    return data


def scenario_from_dict(data: dict[str, Any], source: str = "scenario") -> ScenarioConfig:
    """Validate a raw dict; raise :class:`ConfigError` naming every bad field."""
    try:
        return ScenarioConfig.model_validate(data)
    except ValidationError as err:
        raise ConfigError(f"{source}: {describe_errors(err, ScenarioConfig)}") from None


def load_scenario(
    source: str | Path = "china-2019", overrides: list[str] | None = None, **fields: Any
) -> ScenarioConfig:
    """Load a built-in scenario by name or a TOML file, apply overrides, validate.

    Args:
        source: built-in name (see :func:`builtin_scenarios`) or path to a ``.toml`` file.
        overrides: ``dotted.path=value`` strings, e.g. ``platforms.douyin.link_ban=true``.
        **fields: top-level fields to replace (``consumers=2000``, ``days=30``).
    """
    data = _read_toml(source)
    data = apply_overrides(data, overrides or [])
    data.update({k: v for k, v in fields.items() if v is not None})
    return scenario_from_dict(data, str(source))
