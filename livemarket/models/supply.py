"""The supply side at set-up: brands and streamers drawn from the scenario (docs/ODD.md, section 2).

Both are few (hundreds to thousands) and held as column tables that the Mesa agents view
(:class:`~livemarket.agents.brand.BrandTable`, :class:`~livemarket.agents.streamer.StreamerTable`).
"""

from __future__ import annotations

import numpy as np

from livemarket.agents.brand import BrandTable
from livemarket.agents.streamer import StreamerTable
from livemarket.core import rules
from livemarket.core.sampling import WeightedGroups
from livemarket.draws import beta_with_mean
from livemarket.models import graphs

__all__ = ["init_brands", "init_streamers"]


def init_brands(model) -> BrandTable:
    """Brands drawn from the scenario: category, quality, price, capacity, listings, shops, self-broadcast."""
    cfg, rng = model.config, model.rng
    n, k, p = cfg.brands.count, cfg.categories.count, len(model.platform_list)
    category = rng.integers(k, size=n)
    quality = np.clip(rng.normal(cfg.brands.quality_mean, cfg.brands.quality_sd, n), 0.05, 1.0)
    price = np.array(cfg.categories.price_rmb)[category] * rng.lognormal(0.0, 0.3, n)
    scale = cfg.consumers / 10_000
    capacity = cfg.brands.capacity_orders_per_day * scale * rng.lognormal(-0.125, 0.5, n)
    names = [pl_.name for pl_ in model.platform_list]
    list_p = np.array([cfg.brands.listing_probability.get(x, 0.0) for x in names])
    shop_p = np.array([cfg.brands.own_shop_probability.get(x, 0.0) for x in names])
    listed = rng.random((n, p)) < list_p
    if model.shelf_indices:
        best = int(np.argmax(list_p))
        listed[~listed.any(axis=1), best] = True
    own_shop = rng.random((n, p)) < shop_p
    home = np.where(own_shop.any(axis=1), np.argmax(own_shop, axis=1), -1)
    intensity = np.array([
        cfg.brands.self_broadcast if q.config.self_broadcast is None else q.config.self_broadcast
        for q in model.platform_list
    ])  # fmt: skip
    return BrandTable(
        category=category, quality=quality, price_rmb=price, capacity_orders_per_day=capacity,
        listed=listed, own_shop=own_shop,
        self_broadcast=np.where(home >= 0, intensity[np.maximum(home, 0)], 0.0), home_platform=home,
        rep_a=np.full(n, cfg.behaviour.trust_prior_brand * cfg.behaviour.prior_strength),
        rep_b=np.full(n, (1 - cfg.behaviour.trust_prior_brand) * cfg.behaviour.prior_strength),
        receipts_self_rmb=np.zeros(n), receipts_hired_rmb=np.zeros(n), cost_self_rmb=np.zeros(n),
        receipts_by_platform_rmb=np.zeros((n, p)), base_price_rmb=price.copy(), fees_rmb=np.zeros(n),
        sales_rmb=np.zeros(n), content_value_by_source_rmb=np.zeros((n, p)),
    )  # fmt: skip

def init_streamers(model) -> StreamerTable:
    """Hired streamers (the entry pool included, dormant) and one own account per brand, sorted by home platform."""
    cfg, rng, b = model.config.streamers, model.rng, model.brands
    names = [p.name for p in model.platform_list]
    h, n_b, carried_k = cfg.count + cfg.entry_pool, len(b.category), cfg.brands_carried
    shares = np.array([cfg.platform_shares.get(x, 0.0) for x in names])
    platform = rng.choice(len(names), size=h, p=shares) if h else np.zeros(0, int)
    category = _streamer_categories(model, platform, rng)
    popularity = graphs.pareto_popularity(h + n_b, cfg.popularity_alpha, rng)
    popularity[h:] *= 0.3  # brand accounts start small
    brand_groups = WeightedGroups(b.category, np.ones(n_b), model.config.categories.count)
    carried = brand_groups.pick(np.repeat(category, carried_k), rng.random(h * carried_k))
    carried = carried.reshape(h, carried_k)
    own = np.arange(n_b)
    prior = model.config.behaviour.prior_strength * 5
    mean = model.config.behaviour.trust_prior_streamer
    n = h + n_b
    table = StreamerTable(
        platform=np.concatenate([platform, np.maximum(b.home_platform, 0)]).astype(np.int64),
        category=np.concatenate([category, b.category]),
        popularity=popularity,
        commission=np.concatenate([_platform_commission(model, platform, beta_with_mean(rng, cfg.commission, 16, h)),
                                   np.zeros(n_b)]),
        selection_care=np.concatenate([beta_with_mean(rng, cfg.selection_care_mean, 8, h), np.ones(n_b)]),
        scandal_hazard_per_day=np.concatenate([np.full(h, cfg.scandal_hazard_per_day), np.zeros(n_b)]),
        live_probability=np.concatenate([np.full(h, cfg.live_probability), np.zeros(n_b)]),
        brand=np.concatenate([np.full(h, -1), own]),
        carried=np.vstack([carried, np.repeat(own[:, None], carried_k, axis=1)]).astype(np.int64),
        rep_a=np.full(n, mean * prior), rep_b=np.full(n, (1 - mean) * prior),
        banned_until_step=np.zeros(n, np.int64), followers=np.zeros(n, np.int64), gmv_rmb=np.zeros(n),
        month_gmv_rmb=np.zeros(n), month_income_rmb=np.zeros(n),
        active=np.concatenate([np.arange(h) < cfg.count, np.ones(n_b, bool)]),
        entry_step=np.concatenate([np.where(np.arange(h) < cfg.count, 0, -1), np.zeros(n_b, np.int64)]),
    )  # fmt: skip
    return table.reordered(np.argsort(table.platform, kind="stable"))

def _streamer_categories(model, platform: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Category focus of hired streamers: uniform, or each home platform's ``category_weights``."""
    k = model.config.categories.count
    weights = [p.config.category_weights for p in model.platform_list]
    if not any(weights):
        return rng.integers(k, size=len(platform))
    mix = np.array([np.asarray(w, float) / sum(w) if w else np.full(k, 1.0 / k) for w in weights])
    return rules.choose_index(mix[platform], rng.random(len(platform)))

def _platform_commission(model, platform: np.ndarray, draws: np.ndarray) -> np.ndarray:
    """Hired streamers' commissions: draws around the global mean, moved to the home platform's mean."""
    base = model.config.streamers.commission
    out = draws.copy()
    for p in model.platform_list:
        mean, home = p.config.commission, platform == p.index
        if mean is not None:
            out[home] = rules.rescale_commission(draws[home], base, mean)
    return out
