"""Damaged sweep folders: every fault is repaired to an uninterrupted sweep's values, or refused by name.

Chunk files truncated, bit-flipped, duplicated, foreign; the manifest deleted, emptied,
edited; an input file changed between resumes. After the fault and one resume, every run
is present exactly once with values equal to the same sweep run without faults, or the
command refuses with a message that names the file. Everything runs in this process
(``workers=0``) on tiny runs.
"""

import json
import shutil
import warnings
from pathlib import Path

import polars as pl
import pytest
from test_sweeps_runner import VOLATILE
from typer.testing import CliRunner

from livemarket.cli import app
from livemarket.sweeps import store
from livemarket.sweeps.runner import SweepError, run_sweep
from livemarket.sweeps.spec import Experiment

N_RUNS, SIZE = 8, 3  # chunks 0, 1 (3 runs each) and 2 (2 runs)


def _spec(**kw) -> Experiment:
    base = dict(name="integrity", scenario="minimal", days=4, consumers=200, replicates=2, root_seed=7,
                factors={"ban": {"path": "platforms.video.link_ban", "values": [False, True]},
                         "ad": {"path": "platforms.video.ad_load", "values": [0.05, 0.3]}},
                metrics=["gmv_rmb:sum", "video.gmv_rmb:daily"])  # fmt: skip
    return Experiment(**(base | kw))


def _sweep(out, spec=None):
    return run_sweep(spec or _spec(), out, workers=0, progress=False, chunk_size=SIZE)


def _rows(out) -> pl.DataFrame:
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a folder read as complete must have no bad file left
        return store.results(out).drop(VOLATILE).sort("run_id")


@pytest.fixture(scope="module")
def reference(tmp_path_factory) -> tuple[Path, pl.DataFrame]:
    """A sweep run once without faults (copied for each test), and its rows."""
    out = tmp_path_factory.mktemp("reference") / "sweep"
    assert _sweep(out).complete
    return out, _rows(out)


@pytest.fixture
def folder(reference, tmp_path) -> Path:
    out = tmp_path / "sweep"
    shutil.copytree(reference[0], out)
    return out


def _chunk(out, i) -> Path:
    return store.chunk_path(out, i)


def _resumes_to_reference(out, reference, capsys, *expected: str) -> str:
    """One resume: complete, every run once, values equal to the reference; return its stderr."""
    report = _sweep(out)
    err = capsys.readouterr().err
    assert report.complete and report.ok == N_RUNS, str(report)
    check = store.verify(out)
    assert not check["missing"] and not check["duplicated"] and not check["unknown"] and not check["damaged"]
    assert _rows(out).equals(reference[1])
    for text in expected:
        assert text in err, err
    return err


# ------------------------------------------------------------------ chunk files
def test_truncated_chunk_is_quarantined_and_recomputed(folder, reference, capsys):
    path = _chunk(folder, 1)
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    with pytest.warns(UserWarning, match="chunk-000001.parquet is not read: unreadable"):
        assert store.results(folder).height == N_RUNS - SIZE  # read as missing, never as a traceback
    err = _resumes_to_reference(folder, reference, capsys, "runs/chunk-000001.parquet is not used: unreadable",
                                "moved to quarantine/chunk-000001.parquet.")  # fmt: skip
    assert len(err.strip().splitlines()) == 1  # one line for the one bad file
    assert len(list((folder / "quarantine").iterdir())) == 1


def test_bit_flipped_chunk_with_its_footer_intact_is_caught(folder, reference, capsys):
    path = _chunk(folder, 0)
    data = bytearray(path.read_bytes())
    footer = int.from_bytes(data[-8:-4], "little") + 8  # metadata length + length field + magic
    start = 4 + (len(data) - footer - 4) // 3  # 200 bytes inside the column data, footer untouched
    data[start : start + 200] = bytes(b ^ 0x5A for b in data[start : start + 200])
    path.write_bytes(bytes(data))
    _resumes_to_reference(folder, reference, capsys, "runs/chunk-000000.parquet is not used")


def test_one_changed_value_is_caught_by_the_checksum(folder, reference, capsys):
    path = _chunk(folder, 2)
    frame = pl.read_parquet(path)
    meta = pl.read_parquet_metadata(path)[store.CHUNK_KEY]  # the footer's identity kept as it was
    frame = frame.with_columns(gmv_rmb_sum=pl.col("gmv_rmb_sum") * (1 + 1e-12))
    frame.write_parquet(path, metadata={store.CHUNK_KEY: meta})
    _resumes_to_reference(folder, reference, capsys, "chunk-000002.parquet is not used: its checksum does not match")


def test_duplicated_chunk_is_never_read_twice(folder, reference, capsys):
    shutil.copy(_chunk(folder, 0), folder / "runs" / "chunk-000000 (copy).parquet")
    shutil.copy(_chunk(folder, 0), _chunk(folder, 7))  # beyond the last chunk
    with pytest.warns(UserWarning, match="not read"):
        frame = store.results(folder)
    assert frame.height == N_RUNS and frame["run_id"].n_unique() == N_RUNS
    _resumes_to_reference(folder, reference, capsys, "chunk-000000 (copy).parquet is not used: its name is not",
                          "chunk-000007.parquet is not used: the sweep has chunks 0..2 only")  # fmt: skip


def test_chunk_replaced_by_another_chunk_or_another_sweeps_chunk(folder, reference, capsys, tmp_path):
    other = tmp_path / "other"
    _sweep(other, _spec(root_seed=8))  # same layout, other runs
    shutil.copy(_chunk(other, 2), _chunk(folder, 2))
    shutil.copy(_chunk(folder, 0), _chunk(folder, 1))
    with pytest.warns(UserWarning):
        frame = store.results(folder)
    assert set(frame["run_id"]) <= set(reference[1]["run_id"]) and frame.height == SIZE  # only chunk 0 is good
    _resumes_to_reference(folder, reference, capsys,
                          "chunk-000002.parquet is not used: it belongs to another sweep",
                          "chunk-000001.parquet is not used: it holds chunk 0, not chunk 1")  # fmt: skip


def test_chunk_without_identity_is_refused(folder, reference, capsys):
    path = _chunk(folder, 1)
    pl.read_parquet(path).write_parquet(path)  # same rows, no checksum: not written by this sweep
    _resumes_to_reference(folder, reference, capsys, "chunk-000001.parquet is not used: it carries no checksum")


# ------------------------------------------------------------------ the manifest
def _partial(folder) -> None:
    """A sweep stopped half-way: chunk 1 not written yet."""
    _chunk(folder, 1).unlink()


def test_deleted_manifest_is_rebuilt_with_the_same_chunking(folder, reference, capsys):
    _partial(folder)
    (folder / "manifest.json").unlink()
    _resumes_to_reference(folder, reference, capsys, "manifest.json was missing: rebuilt from 2 chunk files",
                          f"({SIZE} runs per chunk, as they were written)")  # fmt: skip
    manifest = json.loads((folder / "manifest.json").read_text())
    assert manifest["chunk_size"] == SIZE and manifest["rebuilt"]


@pytest.mark.parametrize(("damage", "why"), [
    (lambda m: "", "unreadable (JSONDecodeError"),
    (lambda m: "{not json", "unreadable (JSONDecodeError"),
    (lambda m: "[1, 2]", "not a JSON object (list)"),
    (lambda m: json.dumps({"format": 2}), "keys missing: fingerprint"),
    (lambda m: json.dumps(m | {"chunk_size": 2}), "its checksum does not match its content"),
    (lambda m: json.dumps(m | {"run_ids": m["run_ids"][1:]}), "its checksum does not match its content"),
    (lambda m: json.dumps(m | {"fingerprint": "0" * 64}), "its checksum does not match its content"),
], ids=["empty", "invalid-json", "not-an-object", "keys-missing", "chunk-size-edited", "run-id-removed",
        "fingerprint-edited"])  # fmt: skip
def test_damaged_manifest_is_moved_aside_and_rebuilt(folder, reference, capsys, damage, why):
    _partial(folder)
    manifest = json.loads((folder / "manifest.json").read_text())
    (folder / "manifest.json").write_text(damage(manifest))
    for read in (store.verify, store.results):
        with pytest.raises(store.SweepFolderError, match="is damaged.*re-run the sweep command"):
            read(folder)
    _resumes_to_reference(folder, reference, capsys, f"manifest.json is damaged ({why}",
                          "moved to quarantine/manifest.json.", "manifest.json was damaged: rebuilt")  # fmt: skip
    assert json.loads((folder / "manifest.json").read_text())["chunk_size"] == SIZE


def test_lost_manifest_beside_another_specs_chunks_is_refused_by_name(folder):
    (folder / "manifest.json").unlink()
    before = sorted(p.name for p in (folder / "runs").iterdir())
    result = CliRunner().invoke(app, ["sweep", str(_spec_file(folder.parent, replicates=3)), "--out", str(folder),
                                      "--workers", "0", "--no-progress"])  # fmt: skip
    assert result.exit_code == 2 and "Traceback" not in result.output, result.output
    assert f"{folder / 'manifest.json'} is missing" in result.output and "another spec" in result.output
    assert "use a new --out folder" in result.output
    assert sorted(p.name for p in (folder / "runs").iterdir()) == before  # nothing moved, nothing re-chunked


def _spec_file(root: Path, replicates: int) -> Path:
    """The spec of :func:`_spec` as a file, with another replicate count."""
    path = root / "spec.toml"
    path.write_text(
        f'name = "integrity"\nscenario = "minimal"\ndays = 4\nconsumers = 200\nreplicates = {replicates}\n'
        'root_seed = 7\nmetrics = ["gmv_rmb:sum", "video.gmv_rmb:daily"]\n'
        '[factors.ban]\npath = "platforms.video.link_ban"\nvalues = [false, true]\n'
        '[factors.ad]\npath = "platforms.video.ad_load"\nvalues = [0.05, 0.3]\n'
    )
    return path


# ------------------------------------------------------------------ input files
def test_changed_graph_file_between_resumes_is_refused_by_name(tmp_path):
    graph = tmp_path / "g.csv"
    graph.write_text("\n".join(f"{i},{(i + 1) % 200}" for i in range(200)) + "\n")
    spec = _spec(overrides=["graph.kind=file", f"graph.path={json.dumps(str(graph))}"], replicates=1)
    out = tmp_path / "sweep"
    run_sweep(spec, out, workers=0, progress=False, chunk_size=1)
    _chunk(out, 3).unlink()  # partial
    graph.write_text(graph.read_text() + "0,2\n")
    with pytest.raises(SweepError, match=rf"{graph} changed \(sha256 [0-9a-f]{{12}} -> [0-9a-f]{{12}}\)"):
        run_sweep(spec, out, workers=0, progress=False)
    graph.unlink()
    with pytest.raises(SweepError, match=rf"{graph}: no longer exists"):
        run_sweep(spec, out, workers=0, progress=False)
    graph.write_text("0,199\n" + "\n".join(f"{i},{i + 1}" for i in range(199)) + "\n")  # another graph
    (out / "manifest.json").unlink()  # and no manifest to compare with: the chunk files say what they read
    with pytest.raises(store.SweepFolderError, match=rf"written with other input files \({graph} changed"):
        run_sweep(spec, out, workers=0, progress=False)


def test_graph_file_changed_during_a_sweep_stops_it_before_runs_mix(tmp_path, monkeypatch):
    from livemarket.models.market import LiveCommerceModel

    graph = tmp_path / "g.csv"
    graph.write_text("\n".join(f"{i},{(i + 1) % 200}" for i in range(200)) + "\n")
    spec = _spec(overrides=["graph.kind=file", f"graph.path={json.dumps(str(graph))}"], replicates=1)
    original, first = LiveCommerceModel.run, spec.plan().runs[0].run_id

    def run(self, *args, **kwargs):  # the file is replaced while the first chunk runs
        if self.run_id == first:
            graph.write_text(graph.read_text() + "0,2\n")
        return original(self, *args, **kwargs)

    monkeypatch.setattr(LiveCommerceModel, "run", run)
    with pytest.raises(SweepError, match=rf"{graph} changed .* since the sweep in .* started: runs would mix"):
        run_sweep(spec, tmp_path / "sweep", workers=0, progress=False, chunk_size=1)
    assert store.done_chunks(tmp_path / "sweep") == {0}  # the chunk run with the old file, nothing after it
