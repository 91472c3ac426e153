"""Sizes before work: the longest run accepted and whether a population fits in this machine's memory."""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from livemarket.config import ScenarioConfig

__all__ = ["MAX_DAYS", "check_memory", "machine_memory_bytes", "memory_estimate_bytes"]

MAX_DAYS = 36_600  # 100 years: start_date + days stays a date, and no run is meant to be longer


def memory_estimate_bytes(config: ScenarioConfig) -> int:
    """Bytes a model of this scenario needs.

    docs/PERFORMANCE.md's per-consumer model, doubled for building the social graph, plus
    about 2 KB per brand and streamer (Mesa agents).
    """
    k, p, w = config.categories.count, len(config.platforms), len(config.consumer.wallets)
    per_consumer = (48 + 8 * k + 34 * p + w + 4 * config.graph.mean_degree
                    + 28 * config.consumer.follows_per_consumer)  # 34 per platform: 30 of state, 4 of repeat orders
    streamers = config.streamers.count + config.streamers.entry_pool
    return int(2 * config.consumers * per_consumer + 2048 * (config.brands.count + streamers))


def machine_memory_bytes() -> int | None:
    """Physical memory of this machine (None if unknown)."""
    try:
        return os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError, AttributeError):  # pragma: no cover - not POSIX
        return None


def check_memory(config: ScenarioConfig) -> None:
    """Refuse a scenario that would not fit in this machine's memory, with the estimate."""
    need, have = memory_estimate_bytes(config), machine_memory_bytes()
    if have and need > have:
        sizes = f"consumers={config.consumers:,}, brands.count={config.brands.count:,}, " \
                f"streamers.count={config.streamers.count:,}"  # fmt: skip
        raise ValueError(
            f"consumers: {sizes} need about {need / 2**30:,.1f} GiB of memory (docs/PERFORMANCE.md) but this "
            f"machine has {have / 2**30:,.1f} GiB; accepted: a population whose estimate fits in memory"
        )
