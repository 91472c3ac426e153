"""The consumer population: its state in columns, the initial draw, and the samples statistics are taken over.

Both consumer engines start from :func:`init_consumer_state` (same draws) and report
distribution statistics over the rows of :func:`stat_sample`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from livemarket.draws import beta_with_mean

__all__ = ["ConsumerState", "init_consumer_state", "sample_shares", "stat_sample"]

_TRUST_SAMPLE = 5_000  # consumers (and follow edges) over which trust statistics are taken


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
    trust_a: np.ndarray  # (N, P) platform trust evidence, good (drawn: the prior, a read-only broadcast view)
    trust_b: np.ndarray  # (N, P) platform trust evidence, bad
    follow_indptr: np.ndarray  # CSR rows: consumer -> follow edges, sorted by (platform, streamer)
    follow_streamer: np.ndarray  # (E,) streamer of each follow edge
    follow_a: np.ndarray  # (E,) streamer trust evidence, good (drawn: the prior, a read-only broadcast view)
    follow_b: np.ndarray  # (E,) streamer trust evidence, bad
    live_orders: np.ndarray  # int32: orders placed from live rooms so far
    needs_met_live: np.ndarray  # int32: planned purchases those orders replaced (substitution)

    @property
    def n(self) -> int:
        """Number of consumers."""
        return len(self.tier)


def stat_sample(size: int, cap: int = _TRUST_SAMPLE) -> np.ndarray:
    """Evenly spaced rows over which distribution statistics are taken (all rows up to ``cap``)."""
    return np.unique(np.linspace(0, size - 1, min(size, cap)).astype(np.int64)) if size else np.zeros(0, np.int64)


def init_consumer_state(model, rng: np.random.Generator) -> ConsumerState:
    """Draw the initial population from the scenario (same draws for both engines)."""
    cfg, n = model.config, model.config.consumers
    cc, k, p = cfg.consumer, cfg.categories.count, len(model.platform_list)
    tier = rng.choice(len(cc.tier_shares), size=n, p=cc.tier_shares).astype(np.int8)
    interest = rng.dirichlet(np.full(k, cc.interest_concentration), size=n).astype(np.float32)
    users = np.array([pl.config.users_share for pl in model.platform_list])
    installed = rng.random((n, p)) < users
    holds = np.array([cc.wallets.get(w, 0.0) for w in model.wallet_names])
    wallets = rng.random((n, len(holds))) < holds
    price_sensitivity = rng.gamma(4.0, cc.price_sensitivity_mean / 4.0, size=n)
    impulsivity = beta_with_mean(rng, cc.impulsivity_mean, 4.0, n)
    adopter = rng.random(n) < cc.adopter_share
    prior_a, prior_b = model.trust_prior_evidence()
    indptr, follows = model.build_follows(installed, rng)
    # streamer ids are sorted by home platform, so each consumer's sorted follow list
    # is grouped by platform: one segment per (consumer, platform)
    s_a, s_b = model.streamer_prior_evidence()
    return ConsumerState(
        tier=tier, interest=interest, installed=installed, minutes=installed * model.minutes_target_today(),
        wallets=wallets, price_sensitivity=price_sensitivity, impulsivity=impulsivity, adopter=adopter,
        trust_a=np.broadcast_to(prior_a, (n, p)), trust_b=np.broadcast_to(prior_b, (n, p)), follow_indptr=indptr,
        follow_streamer=follows, follow_a=np.broadcast_to(np.float64(s_a), follows.shape),
        follow_b=np.broadcast_to(np.float64(s_b), follows.shape),
        live_orders=np.zeros(n, np.int32), needs_met_live=np.zeros(n, np.int32),
    )  # fmt: skip


def sample_shares(installed: np.ndarray, wallets: np.ndarray, accepts: np.ndarray) -> dict:
    """Per-platform shares over sampled consumers: users who multi-home, consumers able to pay there."""
    users = installed.sum(axis=0)
    multi = (installed & (installed.sum(axis=1) >= 2)[:, None]).sum(axis=0)
    can_pay = ((wallets.astype(np.int8) @ accepts.T.astype(np.int8)) > 0).mean(axis=0) if len(wallets) else 0.0
    return {"multihoming_share": multi / np.maximum(users, 1), "wallet_ok_share": can_pay}
