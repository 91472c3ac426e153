"""Random-number helpers: one place that turns seeds into generators and shapes common draws."""

from __future__ import annotations

import numpy as np

__all__ = ["beta_with_mean", "run_seed_sequence"]


def run_seed_sequence(root: int, point: int = 0, replicate: int = 0) -> np.random.SeedSequence:
    """Seed of one run: depends on what the run is (design point, replicate), not on run order."""
    return np.random.SeedSequence(root, spawn_key=(point, replicate))


def beta_with_mean(rng: np.random.Generator, mean: float, concentration: float, size: int) -> np.ndarray:
    """Beta draws with the given mean and a + b = ``concentration``; exact 0 or 1 at the ends."""
    if mean <= 0.0 or mean >= 1.0:
        return np.full(size, float(min(max(mean, 0.0), 1.0)))
    return rng.beta(mean * concentration, (1.0 - mean) * concentration, size)
