"""Optimisations must not change results: daily metrics equal the recorded baseline."""

import importlib.util
from pathlib import Path

import numpy as np
import polars as pl
import pytest

from livemarket import LiveCommerceModel

DATA = Path(__file__).parent / "data"
_spec = importlib.util.spec_from_file_location("make_baseline", DATA / "make_baseline.py")
baseline = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(baseline)


@pytest.mark.parametrize("name", sorted(baseline.CASES))
def test_daily_metrics_equal_recorded_baseline(name):
    expected = pl.read_csv(DATA / f"baseline_{name}.csv", try_parse_dates=True)
    table = LiveCommerceModel(baseline.frozen_config(name)).run(baseline.CASES[name]["days"])
    got = table.drop("run_id", "value_scaled")
    assert got.select("step", "platform", "channel", "metric").equals(
        expected.select("step", "platform", "channel", "metric")
    )
    np.testing.assert_allclose(got["value"].to_numpy(), expected["value"].to_numpy(), rtol=1e-9, atol=1e-9)
