"""``livemarket run`` writes its folder atomically: an earlier run in ``--out`` is replaced whole or kept whole.

A driver killed while writing (SIGKILL from inside the writer), a full disk (polars'
``ComputeError`` as polars raises it): ``--out`` then holds exactly the earlier run, byte for
byte; the next run clears what the killed one left and replaces it whole.
"""

import os
import subprocess
import sys
from pathlib import Path

import polars as pl
import pytest
from typer.testing import CliRunner

from livemarket.cli import app

ROOT = Path(__file__).resolve().parents[1]
ARGS = ["run", "minimal", "--days", "3", "--consumers", "200", "--no-progress"]

#: a driver whose writer kills its own process half-way: results.parquet (or run.json) half written
KILLED_WHILE_WRITING = """
import os, signal, sys
from pathlib import Path
import polars as pl
from livemarket.cli import app

target = sys.argv[1]
original_parquet, original_text = pl.DataFrame.write_parquet, Path.write_text

def write_parquet(self, file, *args, **kwargs):
    if target == "results.parquet":
        Path(file).write_bytes(b"PAR1 half a file")
        os.kill(os.getpid(), signal.SIGKILL)
    return original_parquet(self, file, *args, **kwargs)

def write_text(self, text, *args, **kwargs):
    if self.name == target:
        with open(self, "w") as f:
            f.write(text[: len(text) // 2])
        os.kill(os.getpid(), signal.SIGKILL)
    return original_text(self, text, *args, **kwargs)

pl.DataFrame.write_parquet, Path.write_text = write_parquet, write_text
app(sys.argv[2:])
"""


def _snapshot(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir())}


@pytest.fixture
def earlier(tmp_path) -> Path:
    """A folder holding an earlier run (seed 1)."""
    out = tmp_path / "run"
    result = CliRunner().invoke(app, [*ARGS, "--seed", "1", "--out", str(out)])
    assert result.exit_code == 0, result.output
    return out


@pytest.mark.parametrize("target", ["results.parquet", "run.json"])
def test_run_killed_while_writing_keeps_the_earlier_run_whole(earlier, tmp_path, target):
    before = _snapshot(earlier)
    script = tmp_path / "killed.py"
    script.write_text(KILLED_WHILE_WRITING)
    env = os.environ | {"PYTHONPATH": str(ROOT)}
    killed = subprocess.run([sys.executable, str(script), target, *ARGS, "--seed", "2", "--out", str(earlier)],
                            env=env, capture_output=True, text=True, timeout=120)  # fmt: skip
    assert killed.returncode == -9, killed.stderr
    assert _snapshot(earlier) == before  # the earlier pair, byte for byte: no new file beside an old run.json
    left = [p for p in tmp_path.iterdir() if p.name.startswith(".run.tmp-")]
    assert len(left) == 1  # what the killed run wrote, never read as a run
    again = CliRunner().invoke(app, [*ARGS, "--seed", "2", "--out", str(earlier)])
    assert again.exit_code == 0, again.output
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".run.")]  # stale folder cleared
    assert sorted(p.name for p in earlier.iterdir()) == ["results.parquet", "run.json", "state.npz"]
    assert '"seed": 2' in (earlier / "run.json").read_text()
    assert pl.read_parquet(earlier / "results.parquet")["run_id"].unique().to_list() == ["minimal-seed2"]


def test_disk_full_while_writing_a_run_is_one_line_and_keeps_the_earlier_run(earlier, tmp_path, monkeypatch):
    before = _snapshot(earlier)

    def no_space(self, file, *args, **kwargs):
        Path(file).write_bytes(b"PAR1 half")
        raise pl.exceptions.ComputeError("parquet: No space left on device (os error 28)")

    monkeypatch.setattr(pl.DataFrame, "write_parquet", no_space)
    result = CliRunner().invoke(app, [*ARGS, "--seed", "2", "--out", str(earlier)])
    assert result.exit_code == 1 and "Traceback" not in result.output, result.output
    assert result.stderr.strip().splitlines() == [
        f"error: {earlier} could not be written (ComputeError: parquet: No space left on device (os error 28)); "
        "the earlier run in it is kept whole"]  # fmt: skip
    assert _snapshot(earlier) == before and sorted(p.name for p in tmp_path.iterdir()) == ["run"]


def test_out_problems_are_found_before_the_simulation(tmp_path, monkeypatch):
    from livemarket.models.market import LiveCommerceModel

    def never(self, *args, **kwargs):
        raise AssertionError("the simulation ran")

    monkeypatch.setattr(LiveCommerceModel, "run", never)
    (tmp_path / "file").write_text("x")
    (tmp_path / "notes").mkdir()
    (tmp_path / "notes" / "paper.tex").write_text("x")
    cases = {"file": "is a file", "notes": "holds files that are not a run's (paper.tex)",
             "file/below": "file is not a folder this user can write in",
             "/proc/livemarket/run": "cannot write beside it"}  # fmt: skip
    for name, message in cases.items():
        result = CliRunner().invoke(app, [*ARGS, "--out", str(tmp_path / name)])
        assert result.exit_code == 2 and message in result.output and "Traceback" not in result.output, result.output
    assert (tmp_path / "notes" / "paper.tex").read_text() == "x"
