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
    result = CliRunner().invoke(
        app, ["run", str(scenario), "--days", "3", "--consumers", "200", "--out", str(out), "--no-progress"]
    )
    assert result.exit_code == 0, result.output
    written = {p.relative_to(tmp_path) for p in tmp_path.rglob("*") if p.is_file()}
    assert written == {Path("in/s.toml"), Path("out/results.parquet"), Path("out/run.json"), Path("out/state.npz")}


def _files(folder: Path) -> set[Path]:
    return {p.relative_to(folder) for p in folder.rglob("*") if p.is_file()}


def test_sweep_writes_only_inside_its_output_folder(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # a default results/ folder would show up here
    body = 'scenario = "minimal"\ndays = 3\nconsumers = 200\nreplicates = 2\n'
    factor = '[factors.ban]\npath = "platforms.video.link_ban"\nvalues = [false, true]\n'
    bad = {
        "name": f'name = "../../escape"\n{body}metrics = ["hhi"]\n{factor}',
        "metric": f'name = "ok"\n{body}metrics = [{{metric = "hhi", name = "../../escape"}}]\n{factor}',
        "factor": f'name = "ok"\n{body}metrics = ["hhi"]\n[factors."../escape"]\npath = "days"\nvalues = [3]\n',
    }
    for kind, text in bad.items():
        (tmp_path / f"{kind}.toml").write_text(text)
    before = _files(tmp_path)
    for kind in bad:
        result = CliRunner().invoke(app, ["sweep", f"{kind}.toml", "--workers", "0", "--no-progress"])
        assert result.exit_code == 2 and "escape" in result.output, result.output
    assert _files(tmp_path) == before  # refused before anything is written
    (tmp_path / "good.toml").write_text(f'name = "good"\n{body}metrics = ["hhi"]\n{factor}')
    before = _files(tmp_path)
    result = CliRunner().invoke(app, ["sweep", "good.toml", "--out", "out", "--workers", "0", "--no-progress"])
    assert result.exit_code == 0, result.output
    assert {p for p in _files(tmp_path) - before if p.parts[0] != "out"} == set()
    assert {p.name for p in _files(tmp_path / "out")} >= {"manifest.json", "status.jsonl", "chunk-000000.parquet"}


def test_figures_write_only_inside_their_output_folder(tmp_path):
    # a run whose platform is named like a path: its policy figure is named after it
    scenario = tmp_path / "in" / "s.toml"
    scenario.parent.mkdir()
    text = (PACKAGE / "scenarios" / "minimal.toml").read_text()
    name = '"../../../escape"'
    text = text.replace("{ video = ", f"{{ {name} = ").replace("[platforms.video]", f"[platforms.{name}]")
    scenario.write_text(text + f"\n[[policies]]\nplatform = {name}\ndate = 2019-01-02\nset = {{ ad_load = 0.2 }}\n")
    run = CliRunner().invoke(app, ["run", str(scenario), "--days", "3", "--consumers", "200", "--out",
                                   str(tmp_path / "run"), "--no-progress"])  # fmt: skip
    assert run.exit_code == 0, run.output
    before = _files(tmp_path)
    out = tmp_path / "deep" / "figs"
    result = CliRunner().invoke(app, ["figures", str(tmp_path / "run"), "--out", str(out), "--formats", "png",
                                      "--no-progress"])  # fmt: skip
    assert result.exit_code == 0, result.output
    new = _files(tmp_path) - before
    assert new and all(p.parts[:2] == ("deep", "figs") for p in new), sorted(new)
    assert [p.name for p in out.glob("policy_*escape_20190102.png")]
