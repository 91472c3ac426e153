"""Unit, plausible range and source of every configuration field (one entry per field)."""

from __future__ import annotations

__all__ = ["NOTES"]

SF = "SEED_FACTS"
CAL = "calibrated (docs/calibration_report.md)"
ASM = "assumption (no data; sweep it)"
BASS = "Bass (1969) Manage. Sci. 15:215"
BETA = "Beta reputation: Jøsang & Ismail (2002) 15th Bled eConf."
LOGIT = "conditional logit: McFadden (1974); Train (2009) Discrete Choice Methods"
PANDORA = "Huang, Reiley & Riabov (2018) Pandora ad-load field experiment (SEED_FACTS)"
NEGBIAS = "negativity bias: Baumeister et al. (2001) Rev. Gen. Psychol. 5:323"

#: path -> (unit, plausible range, source). One entry per configuration field.
NOTES: dict[str, tuple[str, str, str]] = {
    # scenario
    "name": ("text", "—", "label"),
    "start_date": ("date", "—", f"{SF}: 2019 market structure"),
    "days": ("days", "30–3650", "experiment design"),
    "consumers": ("agents", "1k–1M", "design (default 10,000; sweeps 1k–100k)"),
    "seed": ("integer", "any", "reproducibility"),
    "internet_users": ("persons", "—", f"{SF}: 940M internet users in China"),
    "categories": ("table", "—", "see Categories"),
    "consumer": ("table", "—", "see Consumers"),
    "behaviour": ("table", "—", "see Behaviour"),
    "brands": ("table", "—", "see Brands"),
    "streamers": ("table", "—", "see Streamers"),
    "graph": ("table", "—", "see Social graph"),
    "platforms": ("table", "—", "see Platforms"),
    "policies": ("list", "—", f"{SF}: cooperation and competition moves"),
    "festivals": ("list", "—", f"{SF}: 618 and Double 11 (festival sales 742.8B RMB, 2024)"),
    "scandals": ("list", "—", f"{SF}: head-streamer exits (Viya 2021-12)"),
    "supply_shocks": ("list", "—", f"{SF}: Douyin factory overload, late shipping"),
    "trends": (
        "dated knots per field",
        "a field's own range; demand > 0",
        "NBS online retail (trends.market.demand); live selling's growth 2019-2021 fitted "
        "(calibration/china-2019-2024.toml); else experiment design",
    ),
    # platforms
    "platforms.<name>.kind": (
        "content / shelf",
        "—",
        f"{SF}: content (Douyin, Kuaishou) vs shelf platforms",
    ),
    "platforms.<name>.feed_mode": (
        "share",
        "0–1",
        f"{SF}: Douyin interest e-commerce (high), Kuaishou trust e-commerce (low)",
    ),
    "platforms.<name>.ad_load": (
        "share of feed time",
        "0–0.3",
        f"{SF}: ad load vs user time; {ASM}",
    ),
    "platforms.<name>.live_share": (
        "share of feed",
        "0–0.45",
        f"{SF}: live selling competes for user time; china-2019: {CAL}",
    ),
    "platforms.<name>.own_shop": (
        "on/off",
        "—",
        f"{SF}: closed loop (own shops, payment, waybills)",
    ),
    "platforms.<name>.outbound_links": (
        "platform list",
        "—",
        f"{SF}: links to Taobao/JD/Pinduoduo; link bans",
    ),
    "platforms.<name>.link_ban": (
        "on/off",
        "—",
        f"{SF}: Douyin 2020-10-09; Kuaishou 2021-11/2022-03",
    ),
    "platforms.<name>.ext_link_fee": (
        "share of order value",
        "0–0.2",
        f"{SF}: Douyin 20% on third-party links from 2020-08",
    ),
    "platforms.<name>.take_rate": (
        "share of order value",
        "0.01–0.1",
        f"{SF}: Douyin 5% in own shops; shelf commissions ~2–6%",
    ),
    "platforms.<name>.own_wallet": (
        "wallet name",
        "—",
        f"{SF}: Alipay, WeChat Pay, JD Pay, Douyin Pay",
    ),
    "platforms.<name>.accepted_wallets": (
        "wallet list",
        "—",
        f"{SF}: Taobao Alipay-only until 2024-09-27; JD dropped Alipay 2011",
    ),
    "platforms.<name>.logistics_quality": (
        "share of deliveries going well",
        "0.4–0.98",
        f"{SF}: JD Logistics best; Douyin rough logistics; {ASM}",
    ),
    "platforms.<name>.logistics_partners": (
        "platform list",
        "—",
        f"{SF}: JD Logistics serves Tmall merchants 2024-10-16",
    ),
    "platforms.<name>.protection": (
        "probability",
        "0–1",
        f"{SF}: Kuaishou trust cards, fake-one-pay-ten; {ASM}",
    ),
    "platforms.<name>.users_share": (
        "share of consumers",
        "0.2–0.9",
        f"{SF}: Douyin 518M, Kuaishou 443M of 940M; shelf: company 2019 annual reports; {CAL}",
    ),
    "platforms.<name>.minutes_per_day": (
        "minutes/day",
        "5–120",
        f"{SF}: ~80 minutes a day on short video",
    ),
    "platforms.<name>.trust_prior": (
        "probability (Beta mean)",
        "0.2–0.9",
        f"{CAL} (shelf platforms); {ASM} (content)",
    ),
    "platforms.<name>.promotion": (
        "hazard/day",
        "0–0.001",
        f"{BASS} innovation p; hand-set small (adoption fitted via bass_q)",
    ),
    "platforms.<name>.traffic_bought": (
        "daily reach share",
        "0–0.3",
        f"{SF}: Tmall buys Douyin splash ads (Double 11 2024)",
    ),
    "platforms.<name>.ad_price_rmb_per_minute": ("RMB per ad minute", "0.001–0.05", ASM),
    "platforms.<name>.splash_price_rmb_per_view": ("RMB per view", "0.01–0.5", ASM),
    "platforms.<name>.restore_links_below_growth": (
        "growth rate (monthly)",
        "-0.5–0.5 or unset",
        f"{SF}: Kuaishou restored links 2022-10 after weak own-shop growth",
    ),
    # consumers
    "consumer.tier_shares": ("shares (sum 1)", "—", "design: city tiers 0.15/0.15/0.20/0.50"),
    "consumer.interest_concentration": ("Dirichlet alpha", "0.1–2", ASM),
    "consumer.wallets": (
        "share holding each wallet",
        "0–1",
        f"{SF}: Alipay/WeChat Pay ubiquitous, own wallets small; {ASM}",
    ),
    "consumer.price_sensitivity_mean": ("utility per 100 RMB", "0.3–3", f"{LOGIT}; {ASM}"),
    "consumer.impulsivity_mean": ("share (0–1)", "0.1–0.6", ASM),
    "consumer.follows_per_consumer": ("follow edges (Poisson mean)", "2–30", ASM),
    "consumer.adopter_share": (
        "share of consumers",
        "0.1–0.3",
        f"{CAL}: CNNIC live-commerce users 29.3% (2020-03), 39.2% (2020-12)",
    ),
    "consumer.bass_q": (
        "hazard/day per adopting neighbour share",
        "0–0.005",
        f"{BASS} imitation q; {CAL}",
    ),
    "consumer.needs_per_day": (
        "needs/consumer/day",
        "0.05–0.4",
        f"{CAL}: 2019 market GMV (PDD 1.01T = 12.8%, {SF})",
    ),
    "consumer.live_substitution": (
        "share of live orders",
        "0–1",
        "calibrated in china-2019-2024 (docs/calibration_timeline_substitution.md): the five platforms' "
        f"GMV growth 2020 and 2021 against NBS online retail ({SF}); 0 in china-2019 (no timeline)",
    ),
    # behaviour
    "behaviour.live_visits_per_minute": (
        "visits per live-feed minute",
        "0.001–0.05",
        "hand-set 0.005 in china-2019 (collinear with live_share, which is fitted)",
    ),
    "behaviour.video_views_per_minute": (
        "product-video views per interest-feed minute",
        "0–0.01",
        "calibrated in china-2019-2024 (docs/calibration_timeline_video.md): Douyin's e-commerce GMV 2020 "
        f"and 2021 ({SF}), which its live rooms alone miss; 0 in china-2019",
    ),
    "behaviour.consider_intercept": ("log-odds", "-4–0", ASM),
    "behaviour.consider_match": (
        "log-odds per unit match",
        "0–4",
        f"{SF}: interest e-commerce matches content to interests; {ASM}",
    ),
    "behaviour.consider_trust": (
        "log-odds per unit trust",
        "0–4",
        f"{SF}: trust e-commerce; {ASM}",
    ),
    "behaviour.consider_impulsivity": ("log-odds per unit impulsivity", "0–4", ASM),
    "behaviour.util_own_shop": ("utils", "-2–2", f"{LOGIT}; {ASM}"),
    "behaviour.util_link": ("utils", "-2–1", f"{LOGIT}; {ASM}"),
    "behaviour.util_search": ("utils", "-3–0", f"{LOGIT}; {ASM}"),
    "behaviour.util_planned": ("utils", "0–3", f"{LOGIT}; {ASM}"),
    "behaviour.util_trust_streamer": ("utils per unit trust", "0–3", f"{LOGIT}; {ASM}"),
    "behaviour.util_trust_platform": ("utils per unit trust", "0–3", f"{LOGIT}; {ASM}"),
    "behaviour.util_trust_brand": ("utils per unit trust", "0–3", f"{LOGIT}; {ASM}"),
    "behaviour.util_match": ("utils per unit match", "0–3", f"{LOGIT}; {ASM}"),
    "behaviour.util_impulsivity": ("utils per unit impulsivity", "0–3", f"{LOGIT}; {ASM}"),
    "behaviour.jump_friction": ("utils", "0–2", f"{SF}: a jump between apps costs friction; {ASM}"),
    "behaviour.search_friction": ("utils", "0–2", ASM),
    "behaviour.wallet_friction": (
        "utils",
        "0–3",
        f"{SF}: payment interoperability (WeChat Pay in Taobao); {ASM}",
    ),
    "behaviour.relink_friction": (
        "utils",
        "0–3",
        f"{SF}: Kuaishou restored Taobao/JD links in 2022-10; recovery speed unknown; {ASM}",
    ),
    "behaviour.relink_days": ("days", "10–180", ASM),
    "behaviour.splash_consider": ("probability", "0–0.2", ASM),
    "behaviour.evidence_good": ("Beta pseudo-count", "0.5–2", BETA),
    "behaviour.evidence_bad": ("Beta pseudo-count", "1–5", f"{BETA}; {NEGBIAS}"),
    "behaviour.protection_soften": (
        "share of weight removed",
        "0–1",
        f"{SF}: refund guarantees soften bad outcomes; {ASM}",
    ),
    "behaviour.protection_assurance": (
        "share of perceived risk removed",
        "0–1",
        f"{SF}: trust cards, fake-one-pay-ten advertised to shoppers; {ASM}",
    ),
    "behaviour.word_of_mouth": ("evidence per neighbour outcome", "0–0.5", ASM),
    "behaviour.forgetting_per_day": (
        "rate/day",
        "0.001–0.05",
        f"{BETA} (forgetting factor); {ASM}",
    ),
    "behaviour.prior_strength": ("Beta pseudo-counts a+b", "1–20", BETA),
    "behaviour.trust_prior_streamer": (
        "probability (Beta mean)",
        "0.3–0.8",
        f"{SF}: trust in streamers collapsing by 2024; {ASM}",
    ),
    "behaviour.trust_prior_brand": ("probability (Beta mean)", "0.3–0.8", ASM),
    "behaviour.scandal_evidence": (
        "Beta pseudo-count",
        "0–30",
        f"{SF}: top streamers penalised; {ASM}",
    ),
    "behaviour.scandal_platform_evidence": ("Beta pseudo-count", "0–10", ASM),
    "behaviour.scandal_spillover": (
        "share of scandal evidence",
        "0–1",
        f"{SF}: trust in streamers collapsing after scandals; {ASM}",
    ),
    "behaviour.scandal_ban_days": (
        "days",
        "0–365",
        f"{SF}: streamers penalised before Double 11; {ASM}",
    ),
    "behaviour.bad_base": ("probability", "0–0.1", ASM),
    "behaviour.bad_quality": ("probability per unit (1-quality)", "0–0.4", ASM),
    "behaviour.bad_logistics": (
        "probability per unit (1-logistics)",
        "0–0.4",
        f"{SF}: rough logistics damage reputations; {ASM}",
    ),
    "behaviour.bad_delay": ("probability", "0–0.5", f"{SF}: late shipping; {ASM}"),
    "behaviour.selection_care_effect": ("share of risk removed", "0–1", ASM),
    "behaviour.return_bad": ("probability", "0.3–1", ASM),
    "behaviour.return_impulse": (
        "probability per unit impulsivity",
        "0–0.5",
        f"{SF}: returns 50-60% live vs ~30% shelf (apparel); {ASM}",
    ),
    "behaviour.return_protection_lift": (
        "relative increase per unit protection",
        "0–2",
        f"{SF}: return-shipping insurance, trust cards; {ASM}",
    ),
    "behaviour.minutes_adjust_per_day": (
        "rate/day",
        "0.005–0.05",
        f"{PANDORA}: long-run ~3x one-month effect",
    ),
    "behaviour.minutes_ad_elasticity": (
        "share of minutes per unit ad load",
        "0.5–2",
        f"{PANDORA}: linear in ad load",
    ),
    "behaviour.minutes_live_elasticity": (
        "share of minutes per unit excess live",
        "0–2",
        f"{SF}: too much selling degrades content; {ASM}",
    ),
    "behaviour.live_share_tolerance": ("share of feed", "0–0.3", ASM),
    "behaviour.churn_base_per_day": ("hazard/day", "0–0.001", ASM),
    "behaviour.churn_trust_per_day": ("hazard/day at trust 0", "0–0.02", ASM),
    "behaviour.churn_trust_threshold": ("trust", "0.2–0.6", ASM),
    "behaviour.install_per_day": (
        "hazard/day",
        "0–0.001",
        "hand-set 0.0001 in china-2019 (penetration near 2019–2020 user figures)",
    ),
    "behaviour.install_social": (
        "hazard/day per neighbour usage share",
        "0–0.003",
        f"{BASS}-style contagion; {CAL}",
    ),
    # categories
    "categories.count": ("categories", "1–64", "design: K = 8"),
    "categories.price_rmb": (
        "RMB per order",
        "20–1000",
        f"{SF}: AOV Taobao ~120, Douyin ~100, Kuaishou ~70; {ASM}",
    ),
    "categories.return_rate": (
        "probability",
        "0–0.6",
        f"{SF}: apparel returns ~30% ordinary e-commerce",
    ),
    # brands
    "brands.count": ("brands", "50–5000", ASM),
    "brands.quality_mean": ("share (0–1)", "0.4–0.9", ASM),
    "brands.quality_sd": ("share", "0–0.3", ASM),
    "brands.capacity_orders_per_day": (
        "orders/day per 10,000 consumers",
        "1–100",
        f"{SF}: factory overload on Douyin; {ASM}",
    ),
    "brands.listing_probability": (
        "probability per shelf platform",
        "0–1",
        f"{SF}: JD accused Alibaba of forcing merchants to pick one (2015); {ASM}",
    ),
    "brands.own_shop_probability": (
        "probability per content platform",
        "0–1",
        f"{SF}: closed loop, own shops; {ASM}",
    ),
    "brands.self_broadcast": (
        "intensity (0–1)",
        "0–1",
        f"{SF}: merchants that broadcast themselves pay less",
    ),
    "brands.self_broadcast_cost_rmb_per_day": (
        "RMB/day",
        "0–20",
        f"own-account receipts ~1 RMB per broadcast day at 10,000 consumers (china-2019); {ASM}",
    ),
    "brands.learning_rate": (
        "step per month",
        "0–0.5",
        "reinforcement learning (Roth & Erev 1995 Games Econ. Behav. 8:164); assumption",
    ),
    # streamers
    "streamers.count": ("streamers", "0–10,000", ASM),
    "streamers.platform_shares": (
        "shares (sum 1)",
        "—",
        f"{SF}: Taobao Live dominant in 2019 (hand-set 0.5 Taobao)",
    ),
    "streamers.popularity_alpha": ("Pareto shape", "0.8–2", "design: Pareto alpha about 1.1"),
    "streamers.live_probability": ("probability/day", "0.1–1", ASM),
    "streamers.commission": (
        "share of order value",
        "0.05–0.4",
        f"{SF}: hired streamers cost more than self-broadcast; {ASM}",
    ),
    "streamers.selection_care_mean": ("share (0–1)", "0–1", ASM),
    "streamers.scandal_hazard_per_day": (
        "hazard/day",
        "0–0.001",
        f"{SF}: head-streamer exits; {ASM}",
    ),
    "streamers.brands_carried": ("brands", "1–20", ASM),
    "streamers.entry_pool": ("streamers", "0–2× count", ASM + "; SEED_FACTS: streamers flock to growing platforms"),
    "streamers.entry_per_month": ("share of active streamers per month", "0–0.2", ASM),
    "streamers.entry_income_rmb": ("RMB/month at 10,000 consumers", "50–2,000", ASM),
    "streamers.exit_income_rmb": ("RMB/month at 10,000 consumers", "0–50", ASM),
    "streamers.exit_per_month": ("probability per month", "0–0.3", ASM),
    "streamers.follow_on_purchase": (
        "probability per sale", "0–0.3", ASM + "; SEED_FACTS: self-broadcasting merchants build a follower base"
    ),
    # platforms (dynamic market)
    "platforms.<name>.commission": ("share of order value", "0.05–0.4", ASM + " (per-platform lever)"),
    "platforms.<name>.self_broadcast": ("intensity 0–1", "0.1–0.8", ASM + " (per-platform lever)"),
    "platforms.<name>.install_pull": (
        "hazard/day", "0–0.002", ASM + "; SEED_FACTS: Douyin daily users 300M → 600M 2020–2021"
    ),
    "platforms.<name>.category_weights": (
        "relative weights", "—", ASM + "; SEED_FACTS: AOV Taobao ~120 > Douyin ~100 > Kuaishou ~70"
    ),
    # brands (dynamic market)
    "brands.channel_review": (
        "probability per month", "0–1", ASM + "; SEED_FACTS: 20% link fee vs 5% own shop (2020-08)"
    ),
    "brands.shop_switch_cost_rmb": ("RMB at 10,000 consumers", "0–200", ASM),
    "brands.unit_cost_share": ("share of base price", "0.4–0.8", ASM),
    "brands.price_pass_through": ("share", "0–1", ASM + "; pass-through of fees: Weyl & Fabinger (2013) JPE 121:528"),
    # behaviour (welfare accounting only)
    "behaviour.bad_outcome_loss_share": ("share of price", "0.2–1", ASM + " (welfare output only)"),
    "behaviour.return_hassle_share": ("share of price", "0–0.3", ASM + " (welfare output only)"),
    # graph
    "graph.kind": (
        "generator",
        "—",
        "SBM by tier (Holland et al. 1983); Watts & Strogatz (1998); Barabási & Albert (1999); Holme & Kim (2002)",
    ),
    "graph.mean_degree": ("edges per consumer", "4–50", "design: about 12"),
    "graph.homophily": ("share", "0–1", f"design; {ASM}"),
    "graph.rewire_prob": ("probability", "0–1", "Watts & Strogatz (1998) Nature 393:440"),
    "graph.triad_prob": ("probability", "0–1", "Holme & Kim (2002) Phys. Rev. E 65:026107"),
    "graph.path": ("file path", "—", "real edge lists / GraphML"),
    "graph.allow_isolated": ("flag", "—", "an explicit choice: consumers beyond an edge list's ids have no tie"),
    # calendar
    "policies[].platform": ("platform name", "—", f"{SF}"),
    "policies[].date": ("date", "—", f"{SF}: e.g. 2020-10-09 Douyin link ban"),
    "policies[].step": ("step (day index)", "≥ 0", "experiment design"),
    "policies[].set": ("platform fields", "—", "any PlatformConfig field"),
    "festivals[].name": ("text", "—", f"{SF}"),
    "festivals[].month": ("month", "1–12", f"{SF}: 618 (June), Double 11 (November)"),
    "festivals[].first_day": ("day of month", "1–31", f"{SF}"),
    "festivals[].last_day": ("day of month", "1–31", f"{SF}"),
    "festivals[].demand_multiplier": ("multiplier", "1–4", ASM),
    "scandals[].date": ("date", "—", f"{SF}: e.g. Viya 2021-12"),
    "scandals[].streamer_rank": ("rank by popularity", "≥ 0", "experiment design"),
    "supply_shocks[].start": ("date", "—", "experiment design"),
    "supply_shocks[].end": ("date", "—", "experiment design"),
    "supply_shocks[].capacity_factor": ("multiplier", "0–1", f"{SF}: factory overload; {ASM}"),
    "supply_shocks[].category": ("category index", "0–K-1 or unset", "experiment design"),
}
