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


def test_bad_input_is_one_clear_error_with_exit_code_2(tmp_path):
    cases = {
        ("run", "minimal", "--set", "platforms.video.feed_mode=2"): "platforms.video.feed_mode",
        ("run", "minimal", "--set", "policies=[{platform='tmall', step=1, set={link_ban=true}}]"): "unknown platform 'tmall'",
        ("run", "no-such-scenario"): "accepted",
        ("run", "minimal", "--consumers", "-5"): "consumers",
        ("run", str(tmp_path / "missing.toml")): "does not exist",
    }
    for args, expected in cases.items():
        result = runner.invoke(app, [*args, "--out", str(tmp_path / "x")])
        assert result.exit_code == 2, (args, result.output)
        assert expected in result.output, (args, result.output)
        assert "Traceback" not in result.output
    assert not (tmp_path / "x").exists()  # nothing ran


def test_malformed_toml_file(tmp_path):
    bad = tmp_path / "bad.toml"
    bad.write_text("name = 'x\nconsumers = 3")
    result = runner.invoke(app, ["run", str(bad)])
    assert result.exit_code == 2 and "malformed TOML" in result.output
