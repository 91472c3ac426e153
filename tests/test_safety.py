"""Loading inputs never runs code from them; outputs stay inside the chosen folder."""

import re
from pathlib import Path

from typer.testing import CliRunner

from livemarket.cli import app
from livemarket.config import load_scenario

PACKAGE = Path(__file__).resolve().parents[1] / "livemarket"


def test_scenario_strings_are_data_not_code(tmp_path):
    marker = tmp_path / "executed"
    scenario = tmp_path / "s.toml"
    base = (PACKAGE / "scenarios" / "minimal.toml").read_text()
    base = base.replace('name = "minimal"', f'name = "__import__(\'os\').system(\'touch {marker}\')"')
    scenario.write_text(base)
    cfg = load_scenario(scenario, ["platforms.video.own_wallet=__import__('os').getcwd()"])
    assert cfg.name.startswith("__import__") and cfg.platforms["video"].own_wallet.startswith("__import__")
    assert not marker.exists()


def test_package_loads_no_file_with_eval_exec_or_pickle():
    pattern = re.compile(r"\b(eval|exec)\s*\(|\bpickle\.loads?\(|\bmarshal\.loads?\(|yaml\.load\(")
    offenders = [
        f"{p.relative_to(PACKAGE)}:{i}"
        for p in PACKAGE.rglob("*.py")
        for i, line in enumerate(p.read_text().splitlines(), 1)
        if pattern.search(line)
    ]
    assert offenders == []


def test_run_writes_only_inside_its_output_folder(tmp_path):
    scenario = tmp_path / "in" / "s.toml"
    scenario.parent.mkdir()
    base = (PACKAGE / "scenarios" / "minimal.toml").read_text().replace('name = "minimal"', 'name = "../../escape"')
    scenario.write_text(base)
    out = tmp_path / "out"
    result = CliRunner().invoke(app, ["run", str(scenario), "--days", "3", "--consumers", "200", "--out", str(out), "--no-progress"])
    assert result.exit_code == 0, result.output
    written = {p.relative_to(tmp_path) for p in tmp_path.rglob("*") if p.is_file()}
    assert written == {Path("in/s.toml"), Path("out/results.parquet"), Path("out/run.json")}
