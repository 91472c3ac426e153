import json

import polars as pl
from typer.testing import CliRunner

from livemarket.cli import app

runner = CliRunner()


def test_run_writes_results_and_metadata(tmp_path):
    out = tmp_path / "run"
    result = runner.invoke(app, ["run", "minimal", "--days", "12", "--consumers", "300", "--seed", "4",
                                 "--out", str(out), "--no-progress", "--set", "platforms.video.ad_load=0.2"])
    assert result.exit_code == 0, result.output
    assert "video" in result.output and "share" in result.output
    table = pl.read_parquet(out / "results.parquet")
    assert table["step"].max() == 11
    meta = json.loads((out / "run.json").read_text())
    assert meta["seed"] == 4 and meta["consumers"] == 300 and meta["days"] == 12
    assert meta["parameters"]["platforms"]["video"]["ad_load"] == 0.2
    assert {"livemarket", "mesa", "numpy", "python"} <= set(meta["versions"])
