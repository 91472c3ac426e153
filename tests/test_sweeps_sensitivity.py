"""Sensitivity analysis: Sobol and Morris indices with confidence intervals, through the CLI."""

import polars as pl
from typer.testing import CliRunner

from livemarket.cli import app

SPEC = """
name = "sa"
scenario = "minimal"
days = 12
consumers = 300
design = "{design}"
samples = {samples}
root_seed = 5
metrics = ["video.minutes_per_user:last", "gmv_rmb:sum"]

[factors.ad_load]
path = "platforms.video.ad_load"
range = [0.0, 0.6]

[factors.fee]
path = "platforms.video.ext_link_fee"
range = [0.0, 0.3]
"""


def _run(tmp_path, design, samples):
    spec = tmp_path / f"{design}.toml"
    spec.write_text(SPEC.format(design=design, samples=samples))
    out = tmp_path / design
    result = CliRunner().invoke(app, ["sensitivity", str(spec), "--out", str(out), "--workers", "0", "--no-progress",
                                      "--metrics", "video_minutes_per_user_last,gmv_rmb_sum"])  # fmt: skip
    assert result.exit_code == 0, result.output
    table = pl.read_parquet(out / "sensitivity.parquet")
    assert (out / "sensitivity.csv").is_file()
    return table.filter(pl.col("metric") == "video_minutes_per_user_last")


def test_sobol_first_order_and_total_indices(tmp_path):
    table = _run(tmp_path, "sobol", 16)
    assert set(table["index"]) == {"S1", "ST"} and set(table["factor"]) == {"ad_load", "fee"}
    assert {"value", "conf", "ci_low", "ci_high"} <= set(table.columns)
    st = dict(table.filter(pl.col("index") == "ST").select("factor", "value").iter_rows())
    # minutes fall with ad load; the outbound-link fee does not touch user time
    assert st["ad_load"] > 0.8 and abs(st["fee"]) < 0.05
    assert (table["conf"] >= 0).all()


def test_morris_screening(tmp_path):
    table = _run(tmp_path, "morris", 6)
    mu_star = dict(table.filter(pl.col("index") == "mu_star").select("factor", "value").iter_rows())
    assert mu_star["ad_load"] > 10 * max(mu_star["fee"], 1e-9)
