"""A sweep folder on disk: manifest, one Parquet file per chunk, and reading it back.

Layout of a sweep folder::

    manifest.json              design, spec, versions, git commit, chunk size, input files'
                               checksums, and its own checksum (written once, atomically)
    status.jsonl               one JSON line per event, for headless cluster jobs
    runs/chunk-000042.parquet  one row per run of chunk 42 (failed runs too, with traceback)
    quarantine/                damaged or foreign files moved aside (never read again)

A chunk file is written under a temporary name and renamed into place, so a file either
holds its whole chunk or does not exist. Which runs form a chunk is fixed by the manifest,
so a chunk computed twice (a retried task, an orphaned worker) lands on the same name with
the same runs: no run can appear twice.

Each chunk file carries, in its Parquet key-value metadata, which sweep and chunk it is
(the spec's fingerprint, chunk index and size, model version), its row count and a SHA-256
of its rows. Every reader checks each file it counts (:func:`audit`): name, readable,
same sweep, same chunk, columns of the manifest's schema, exactly the chunk's run ids in
order, checksum. A file that fails is never read as results; a resume moves it into
``quarantine/`` (one line saying why) and computes its runs again (:func:`repair`). A
missing or damaged manifest is rebuilt by the runner from the chunk files and the spec
(:func:`chunk_identities`), never re-chunked.

Example:
    >>> frame = results("results/sweeps/demo")  # doctest: +SKIP
    >>> frame.columns[:4]  # doctest: +SKIP
    ['run_id', 'chunk', 'point', 'replicate']
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import re
import uuid
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

from livemarket.config import ConfigError
from livemarket.sweeps.guards import input_changes
from livemarket.sweeps.summaries import column_dtype, factor_cell, schema, summarize  # noqa: F401 - re-exported

__all__ = [
    "Audit",
    "SweepFolderError",
    "audit",
    "chunk_identities",
    "chunk_path",
    "daily",
    "done_chunks",
    "failures",
    "frame_sha256",
    "load_manifest",
    "quarantine",
    "read_manifest",
    "repair",
    "results",
    "scan",
    "schema",
    "summarize",
    "verify",
    "write_chunk",
    "write_json_atomic",
    "write_manifest",
]

MANIFEST = "manifest.json"
STATUS = "status.jsonl"
RUNS = "runs"
QUARANTINE = "quarantine"
FORMAT = 2  # 2: chunk files carry their identity and checksum, the manifest its checksum
CHUNK_KEY = "livemarket_chunk"  # Parquet key-value metadata of a chunk file
_CHUNK_NAME = re.compile(r"^chunk-(\d{6})\.parquet$")


# ---------------------------------------------------------------------- writing
def chunk_path(out: Path, chunk: int) -> Path:
    """Final path of a chunk's Parquet file."""
    return Path(out) / RUNS / f"chunk-{chunk:06d}.parquet"


def frame_sha256(frame: pl.DataFrame) -> str:
    """SHA-256 of a frame's column names, types and every cell (numbers by their exact bytes).

    Independent of the Parquet encoding and of the polars version: numeric columns are
    hashed as little-endian values with their null mask, lists as lengths and values,
    other columns as their JSON text.
    """
    h = hashlib.sha256()
    for column in frame.iter_columns():
        h.update(f"{column.name}\x00{column.dtype}\x00{column.len()}\x00".encode())
        _feed(h, column)
    return h.hexdigest()


def _feed(h, column: pl.Series) -> None:
    if isinstance(column.dtype, pl.List):
        h.update(column.list.len().fill_null(-1).cast(pl.Int64).to_numpy().astype("<i8").tobytes())
        _feed(h, column.explode())
    elif column.dtype.is_numeric() or column.dtype in (pl.Boolean, pl.Date):
        values = column.to_physical().fill_null(0).to_numpy()
        h.update(column.is_null().to_numpy().tobytes())
        h.update(np.ascontiguousarray(values, dtype=values.dtype.newbyteorder("<")).tobytes())
    else:
        h.update(json.dumps(column.to_list(), default=str).encode())


def write_chunk(out: Path, chunk: int, frame: pl.DataFrame, identity: dict[str, Any] | None = None) -> Path:
    """Write a chunk's rows to a temporary file, flush it to disk, rename it into place.

    ``identity`` (fingerprint, chunk_size, model_version) is stored in the file's metadata
    with the chunk index, the row count and :func:`frame_sha256`. On any error (disk full)
    the temporary file is removed and the error raised: the chunk then has no file, and its
    runs are not done.
    """
    final = chunk_path(out, chunk)
    final.parent.mkdir(parents=True, exist_ok=True)
    tmp = final.with_name(f".{final.name}.{uuid.uuid4().hex}.tmp")
    info = (identity or {}) | {"format": FORMAT, "chunk": chunk, "rows": frame.height, "sha256": frame_sha256(frame)}
    try:
        frame.write_parquet(tmp, statistics=False, metadata={CHUNK_KEY: json.dumps(info)})
        with open(tmp, "rb") as f:
            os.fsync(f.fileno())
        os.replace(tmp, final)
    finally:
        tmp.unlink(missing_ok=True)
    return final


def write_json_atomic(path: Path, data: dict[str, Any]) -> None:
    """Write JSON through a temporary file, flushed, and an atomic rename (no temporary file left on error)."""
    tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex}.tmp")
    try:
        with open(tmp, "w") as f:
            f.write(json.dumps(data, indent=1, default=str))
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def _manifest_sha256(manifest: dict[str, Any]) -> str:
    body = {k: v for k, v in manifest.items() if k != "sha256"}
    return hashlib.sha256(json.dumps(body, sort_keys=True, default=str).encode()).hexdigest()


def write_manifest(out: Path, manifest: dict[str, Any]) -> dict[str, Any]:
    """Write the manifest with its own checksum (an edited manifest is then seen as damaged)."""
    manifest = json.loads(json.dumps(manifest, default=str))  # what will be read back
    manifest["sha256"] = _manifest_sha256(manifest)
    write_json_atomic(Path(out) / MANIFEST, manifest)
    return manifest


def quarantine(out: Path, path: Path) -> Path:
    """Move a damaged or foreign file into ``quarantine/`` (renamed so no reader globs it); return where."""
    folder = Path(out) / QUARANTINE
    folder.mkdir(exist_ok=True)
    stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%S")
    target = folder / f"{path.name}.{stamp}-{uuid.uuid4().hex[:6]}.bad"
    os.replace(path, target)
    return target


def remove_temporary(out: Path) -> int:
    """Delete temporary files left by killed writers; return how many."""
    n = 0
    for f in [*Path(out).glob(f"{RUNS}/.*.tmp"), *Path(out).glob(".*.tmp")]:
        f.unlink(missing_ok=True)
        n += 1
    return n


# ---------------------------------------------------------------------- reading
class SweepFolderError(ConfigError):
    """A sweep folder that cannot be read as it is (damaged manifest); the message says how to recover."""


_NEEDED = ("fingerprint", "model_version", "chunk_size", "chunks", "run_ids", "schema", "spec")


def load_manifest(out: str | Path) -> tuple[dict[str, Any] | None, str | None]:
    """``(manifest, None)``, ``(None, None)`` when there is none, or ``(None, why)`` when it is damaged.

    Damaged: unreadable, not JSON, not an object, keys missing, or (format 2) a checksum
    that does not match its content (edited by hand).
    """
    path = Path(out) / MANIFEST
    if not path.exists():
        return None, None
    try:
        data = json.loads(path.read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as err:
        return None, f"unreadable ({_one_line(err)})"
    if not isinstance(data, dict):
        return None, f"not a JSON object ({type(data).__name__})"
    missing = [k for k in _NEEDED if k not in data]
    if missing:
        return None, f"keys missing: {', '.join(missing)}"
    if data.get("format", 1) >= 2 and data.get("sha256") != _manifest_sha256(data):
        return None, "its checksum does not match its content: edited or damaged"
    return data, None


def read_manifest(out: str | Path) -> dict[str, Any] | None:
    """The sweep's manifest, or None when the folder holds no sweep yet.

    Raises:
        SweepFolderError: the manifest is damaged (re-running the sweep command rebuilds it).
    """
    manifest, problem = load_manifest(out)
    if problem:
        raise SweepFolderError(
            f"{Path(out) / MANIFEST} is damaged: {problem}; re-run the sweep command on this folder "
            "to rebuild it from the chunk files and the spec"
        )
    return manifest


def _lenient_manifest(out: str | Path) -> dict[str, Any] | None:
    """The manifest as JSON, even if incomplete (sweep folders written by hand, old formats)."""
    path = Path(out) / MANIFEST
    try:
        data = json.loads(path.read_text()) if path.is_file() else None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as err:
        raise SweepFolderError(
            f"{path} is damaged ({_one_line(err)}); re-run the sweep command on this folder to rebuild it"
        ) from None
    return data if isinstance(data, dict) else None


def _one_line(err: BaseException) -> str:
    text = str(err).strip().splitlines()
    return f"{type(err).__name__}: {text[0] if text else ''}".rstrip(": ")


# ---------------------------------------------------------------------- checking chunk files
@dataclass
class Audit:
    """The chunk files of a folder: the good ones by chunk index, the others with why."""

    good: dict[int, Path] = field(default_factory=dict)
    bad: list[tuple[Path, str]] = field(default_factory=list)


def chunk_info(path: Path) -> dict[str, Any] | None:
    """The identity a chunk file carries in its metadata (None for files without it)."""
    meta = pl.read_parquet_metadata(path)
    return json.loads(meta[CHUNK_KEY]) if CHUNK_KEY in meta else None


_VERDICTS: dict[tuple, str | None] = {}  # (file's stat, what it is checked against) -> verdict, in this process


def _check(path: Path, index: int, manifest: dict[str, Any]) -> str | None:
    """Why a chunk file cannot be counted as chunk ``index`` of this sweep (None: it can).

    A verdict is remembered while the file's inode, size and modification time stay the
    same, so reading a big sweep again does not hash every file again.
    """
    try:
        st = path.stat()
    except OSError as err:
        return f"unreadable ({_one_line(err)})"
    size = manifest.get("chunk_size")
    ids = manifest.get("run_ids", [])[index * size : (index + 1) * size] if isinstance(size, int) else None
    against = json.dumps([manifest.get("format"), manifest.get("fingerprint"), manifest.get("schema"), ids])
    key = (str(path), st.st_ino, st.st_size, st.st_mtime_ns, index, against)
    if key not in _VERDICTS:
        if len(_VERDICTS) > 100_000:
            _VERDICTS.clear()
        _VERDICTS[key] = _verdict(path, index, manifest)
    return _VERDICTS[key]


def _verdict(path: Path, index: int, manifest: dict[str, Any]) -> str | None:
    try:
        info = chunk_info(path)
        frame = pl.read_parquet(path)
    except Exception as err:  # truncated, bit-flipped footer, not Parquet: polars raises several kinds
        return f"unreadable ({_one_line(err)})"
    strict = manifest.get("format", 1) >= 2
    if info is None:
        if strict:
            return "it carries no checksum (not written by this sweep)"
    else:
        if "fingerprint" in manifest and info.get("fingerprint") != manifest["fingerprint"]:
            return f"it belongs to another sweep (spec fingerprint {str(info.get('fingerprint'))[:12]})"
        if info.get("chunk") != index:
            return f"it holds chunk {info.get('chunk')}, not chunk {index}"
        if info.get("rows") != frame.height or info.get("sha256") != frame_sha256(frame):
            return "its checksum does not match its content (damaged)"
    if "schema" in manifest:
        have = {k: str(v) for k, v in frame.schema.items()}
        if have != manifest["schema"]:
            diff = sorted(set(have.items()) ^ set(manifest["schema"].items()))
            return f"its columns differ from the sweep's ({', '.join(f'{k}: {v}' for k, v in diff[:3])})"
    if "run_ids" in manifest and "chunk_size" in manifest:
        size = manifest["chunk_size"]
        expected = manifest["run_ids"][index * size : (index + 1) * size]
        if frame["run_id"].to_list() != expected:
            return f"its runs are not chunk {index}'s ({frame.height} rows, {len(expected)} expected)"
    elif frame["run_id"].n_unique() != frame.height:
        return "it holds a run twice"
    return None


def audit(out: str | Path, manifest: dict[str, Any] | None = None) -> Audit:
    """Check every ``*.parquet`` file in ``runs/`` against the manifest (read-only)."""
    manifest = _lenient_manifest(out) if manifest is None else manifest
    manifest = manifest or {}
    result = Audit()
    chunks = manifest.get("chunks")
    for path in sorted((Path(out) / RUNS).glob("*.parquet")):
        m = _CHUNK_NAME.match(path.name)
        if m is None:
            result.bad.append((path, "its name is not chunk-NNNNNN.parquet"))
            continue
        index = int(m.group(1))
        if chunks is not None and index >= chunks:
            result.bad.append((path, f"the sweep has chunks 0..{chunks - 1} only"))
            continue
        why = _check(path, index, manifest)
        if why is None:
            result.good[index] = path
        else:
            result.bad.append((path, why))
    return result


def repair(out: str | Path, manifest: dict[str, Any]) -> tuple[set[int], list[str]]:
    """Audit the chunk files and move the bad ones into ``quarantine/``.

    Returns:
        The good chunks, and one line per file moved.
    """
    found = audit(out, manifest)
    lines = []
    for path, why in found.bad:
        target = quarantine(Path(out), path)
        lines.append(f"{RUNS}/{path.name} is not used: {why}; moved to {QUARANTINE}/{target.name}, "
                     "its runs are computed again")  # fmt: skip
    return set(found.good), lines


def chunk_identities(out: str | Path) -> list[tuple[Path, dict[str, Any] | None, int]]:
    """``(path, identity, rows)`` of every readable chunk-named file (to rebuild a lost manifest)."""
    rows = []
    for path in sorted((Path(out) / RUNS).glob("chunk-*.parquet")):
        if _CHUNK_NAME.match(path.name):
            try:
                rows.append((path, chunk_info(path), pl.scan_parquet(path).select(pl.len()).collect().item()))
            except Exception:  # unreadable: the audit after the rebuild quarantines it
                continue
    return rows


def done_chunks(out: str | Path) -> set[int]:
    """Indices of chunks whose file is in place (not checked: see :func:`audit`)."""
    return {int(m.group(1)) for f in (Path(out) / RUNS).glob("chunk-*.parquet") if (m := _CHUNK_NAME.match(f.name))}


def _good_files(out: str | Path, warn: bool = True) -> tuple[list[Path], dict[str, Any] | None]:
    manifest, problem = load_manifest(out)
    if problem:  # a damaged manifest of this format is not used; incomplete ones of older formats are
        manifest = _lenient_manifest(out)
        if manifest is None or manifest.get("format", 1) >= 2:
            read_manifest(out)  # raises, saying how to recover
    found = audit(out, manifest)
    if warn and found.bad:
        warnings.warn(
            "; ".join(f"{RUNS}/{p.name} is not read: {why}" for p, why in found.bad)
            + f" (in {out}; re-run the sweep command to compute those runs again)",
            stacklevel=3,
        )  # fmt: skip
    return [found.good[i] for i in sorted(found.good)], manifest


def scan(out: str | Path) -> pl.LazyFrame:
    """Lazy scan of every run row (ok and failed) of the sweep's good chunk files (see :func:`audit`)."""
    files, manifest = _good_files(out)
    if not files:
        if manifest is None:
            raise FileNotFoundError(f"{out} holds no sweep (no {MANIFEST})")
        return pl.LazyFrame(schema={k: column_dtype(v) for k, v in manifest["schema"].items()})
    return pl.scan_parquet(files)


def results(out: str | Path, include_failed: bool = False) -> pl.DataFrame:
    """All finished runs as one frame: one row per run, factors and metrics as columns.

    Only chunk files that pass :func:`audit` are read (a warning names the others), so
    no run appears twice and no run of another sweep appears.
    """
    lf = scan(out)
    if not include_failed:
        lf = lf.filter(pl.col("status") == "ok").drop("error", "traceback", strict=False)
    return lf.unique("run_id", keep="first", maintain_order=True).sort("point", "replicate").collect()


def failures(out: str | Path) -> pl.DataFrame:
    """Failed runs with their error and traceback."""
    return scan(out).filter(pl.col("status") != "ok").sort("point", "replicate").collect()


def daily(out: str | Path, metrics: list[str] | None = None) -> pl.DataFrame:
    """The ``daily`` metrics as a tidy long frame: run, factors, step, metric, value."""
    manifest = read_manifest(out) or {}
    series = [m["name"] for m in manifest.get("spec", {}).get("metrics", []) if m["agg"] == "daily"]
    series = [m for m in series if metrics is None or m in metrics]
    keep = ["run_id", "point", "replicate", *manifest.get("spec", {}).get("factors", {})]
    frame = results(out).select(*keep, *series)
    long = frame.unpivot(index=keep, on=series, variable_name="metric", value_name="value")
    return long.with_columns(step=pl.int_ranges(0, pl.col("value").list.len())).explode("value", "step")


def verify(out: str | Path) -> dict[str, Any]:
    """Check a sweep folder against its manifest: runs missing, runs present more than once."""
    manifest = read_manifest(out)
    if manifest is None:
        raise FileNotFoundError(f"{out} holds no sweep (no {MANIFEST})")
    expected = set(manifest["run_ids"])
    found = audit(out, manifest)
    files = [found.good[i] for i in sorted(found.good)]
    lf = pl.scan_parquet(files) if files else pl.LazyFrame(schema={"run_id": pl.String, "status": pl.String})
    counts = lf.group_by("run_id").agg(pl.len().alias("n"), pl.col("status").first()).collect()
    present = set(counts["run_id"])
    return {
        "runs": len(expected),
        "ok": int((counts["status"] == "ok").sum()),
        "failed": int((counts["status"] != "ok").sum()),
        "missing": sorted(expected - present),
        "duplicated": sorted(counts.filter(pl.col("n") > 1)["run_id"]),
        "unknown": sorted(present - expected),
        "damaged": sorted(f"{RUNS}/{p.name}" for p, _ in found.bad),
        "temporary_files": len(list(Path(out).glob(f"{RUNS}/.*.tmp"))),
    }


# ---------------------------------------------------------------------- a lost manifest
def recover_manifest(
    out: Path, build, fingerprint: str, model_version: str, inputs: dict[str, str | None] | None = None
) -> tuple[dict[str, Any] | None, list[str]]:
    """The folder's manifest; rebuilt from its chunk files when missing or damaged; None for a new sweep.

    ``build(chunk_size)`` returns the manifest of this spec with that chunking. The chunk
    size is taken from the chunk files (what they say, or their row count for files
    without an identity), never chosen anew: a folder holding chunk files is never
    re-chunked. The rebuilt manifest is checked like any other by the audit that follows.

    Raises:
        SweepFolderError: the chunk files were written by another spec or model, or with
            other input files (``inputs``: path -> sha256 now).
    """
    manifest, problem = load_manifest(out)
    if manifest is not None:
        return manifest, []
    lines = []
    if problem:
        moved = quarantine(out, out / MANIFEST)
        lines.append(f"{MANIFEST} is damaged ({problem}): moved to {QUARANTINE}/{moved.name}")
    chunks = chunk_identities(out)
    if not chunks:
        return None, lines
    infos = [info for _, info, _ in chunks if info is not None]
    mine = [i for i in infos if i.get("fingerprint") == fingerprint and i.get("model_version") == model_version]
    if infos and not mine:
        other = infos[0]
        raise SweepFolderError(
            f"{out / MANIFEST} is {'damaged' if problem else 'missing'} and the {len(chunks)} chunk files in "
            f"{out / RUNS} were written by another spec or model (spec fingerprint "
            f"{str(other.get('fingerprint'))[:12]}, model {other.get('model_version')}; this is {fingerprint[:12]}, "
            f"model {model_version}): run the spec that wrote them, restore the manifest"
            f"{f' from {QUARANTINE}/' if problem else ''}, or use a new --out folder"
        )
    changed = input_changes(mine[0]["inputs"], inputs) if mine and inputs is not None and "inputs" in mine[0] else []
    if changed:
        raise SweepFolderError(
            f"{out / MANIFEST} is {'damaged' if problem else 'missing'} and the chunk files in {out / RUNS} were "
            f"written with other input files ({'; '.join(changed)}): restore them, or use a new --out folder"
        )
    sizes = [i["chunk_size"] for i in mine if isinstance(i.get("chunk_size"), int) and i["chunk_size"] >= 1]
    size = max(set(sizes), key=sizes.count) if sizes else max(rows for _, _, rows in chunks)
    manifest = write_manifest(out, build(size) | {"rebuilt": f"from {len(chunks)} chunk files and the spec"})
    lines.append(f"{MANIFEST} was {'damaged' if problem else 'missing'}: rebuilt from {len(chunks)} chunk files "
                 f"and the spec ({size} runs per chunk, as they were written)")  # fmt: skip
    return manifest, lines
