"""Every notebook in notebooks/ runs top to bottom (small sizes: LIVEMARKET_QUICK=1)."""

import os
from pathlib import Path

import nbformat
import pytest

nbclient = pytest.importorskip("nbclient", reason="needs the dev extra (nbclient, ipykernel)")

NOTEBOOKS = sorted((Path(__file__).parent.parent / "notebooks").glob("*.ipynb"))


def test_the_notebooks_are_there():
    names = {p.stem.split("-", 1)[1] for p in NOTEBOOKS}
    assert {"quickstart", "douyin-link-ban", "interoperability-2024", "sensitivity-analysis",
            "write-your-own-strategy"} <= names  # fmt: skip


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_notebook_runs_without_error(path, monkeypatch):
    monkeypatch.setenv("LIVEMARKET_QUICK", "1")
    monkeypatch.setenv("MPLBACKEND", "module://matplotlib_inline.backend_inline")
    repo = str(path.parent.parent)  # the kernel imports this checkout's livemarket
    monkeypatch.setenv(
        "PYTHONPATH", os.pathsep.join(filter(None, [repo, os.environ.get("PYTHONPATH")]))
    )
    book = nbformat.read(path, as_version=4)
    assert not any(c.get("outputs") for c in book.cells if c.cell_type == "code"), (
        "commit notebooks without outputs"
    )
    client = nbclient.NotebookClient(
        book, timeout=300, kernel_name="python3", resources={"metadata": {"path": str(path.parent)}}
    )
    client.execute()  # raises CellExecutionError on the first failing cell
    images = sum(
        "image/png" in o.get("data", {})
        for c in book.cells
        if c.cell_type == "code"
        for o in c.outputs
    )
    assert images >= 2, f"{path.name}: expected figures in the outputs"
