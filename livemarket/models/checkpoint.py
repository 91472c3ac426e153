"""Save a running model and restore it: the full state, so a restored run continues bit for bit.

A checkpoint is one file: a JSON header line (format, livemarket version, scenario, the
fingerprint of the configuration, the day reached, the SHA-256 of the payload) and the pickled
model. The day's random streams depend only on the run's seed, the day and the process (see
``LiveCommerceModel.day_streams``), so the restored model draws exactly what the uninterrupted
one would have drawn. :func:`load` refuses a file that is not a checkpoint, was damaged, was
written by another model version or (when asked) belongs to another scenario, with one
:class:`CheckpointError` naming the problem. Pickle runs code when loaded: load only
checkpoints you made.

Example:
    >>> import tempfile, pathlib
    >>> from livemarket import LiveCommerceModel
    >>> m = LiveCommerceModel("minimal", consumers=300, rng=1)
    >>> _ = m.run(3)
    >>> path = m.save(pathlib.Path(tempfile.mkdtemp()) / "day3.ckpt")
    >>> LiveCommerceModel.load(path).steps
    3
"""

from __future__ import annotations

import hashlib
import json
import os
import pickle
from pathlib import Path

from livemarket.config import ConfigError

__all__ = ["FORMAT", "CheckpointError", "config_fingerprint", "load", "read_header", "save"]

FORMAT = "livemarket-checkpoint/1"
#: bumped when the model's state layout changes: older checkpoints are refused
STATE_VERSION = 1


class CheckpointError(ConfigError):
    """A checkpoint file that cannot be used (damaged, foreign, or from another model version)."""


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("livemarket")
    except PackageNotFoundError:  # pragma: no cover - running from a source tree without install
        return "unknown"


def config_fingerprint(config) -> str:
    """SHA-256 of the configuration's JSON (every default written out)."""
    text = json.dumps(config.model_dump(mode="json"), sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()


def save(model, path: str | Path) -> Path:
    """Write ``model`` to ``path`` atomically (a temporary file renamed into place); return the path."""
    path = Path(path)
    payload = pickle.dumps(model, protocol=pickle.HIGHEST_PROTOCOL)
    header = {
        "format": FORMAT, "state_version": STATE_VERSION, "livemarket": _version(),
        "scenario": model.config.name, "config_sha256": config_fingerprint(model.config),
        "step": int(model.steps), "date": model.date.isoformat(), "payload_sha256": hashlib.sha256(payload).hexdigest(),
        "payload_bytes": len(payload),
    }  # fmt: skip
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    try:
        with open(tmp, "wb") as f:
            f.write(json.dumps(header).encode() + b"\n")
            f.write(payload)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    return path


def read_header(path: str | Path) -> dict:
    """The checkpoint's header; a CheckpointError if the file is missing or not a checkpoint."""
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"checkpoint {path} does not exist")
    with open(path, "rb") as f:
        line = f.readline(65536)
    try:
        header = json.loads(line)
    except (UnicodeDecodeError, json.JSONDecodeError):
        header = None
    if not isinstance(header, dict) or header.get("format") != FORMAT:
        raise CheckpointError(f"{path}: not a livemarket checkpoint (expected a first line with format {FORMAT!r})")
    return header


def load(path: str | Path, scenario: str | None = None):
    """Restore a model saved by :func:`save`; ``scenario`` (a name) must match the saved one if given."""
    path = Path(path)
    header = read_header(path)
    if header.get("state_version") != STATE_VERSION:
        raise CheckpointError(
            f"{path}: written by model state version {header.get('state_version')} (livemarket "
            f"{header.get('livemarket')}); this is version {STATE_VERSION} (livemarket {_version()}): re-run to make it"
        )
    if scenario is not None and header.get("scenario") != scenario:
        raise CheckpointError(f"{path}: a checkpoint of scenario {header.get('scenario')!r}, not {scenario!r}")
    with open(path, "rb") as f:
        f.readline(65536)
        payload = f.read()
    if len(payload) != header.get("payload_bytes") or hashlib.sha256(payload).hexdigest() != header.get(
        "payload_sha256"
    ):
        raise CheckpointError(f"{path}: damaged (size or checksum of the saved state differs from its header)")
    model = pickle.loads(payload)
    if config_fingerprint(model.config) != header.get("config_sha256"):  # pragma: no cover - checksum guards this
        raise CheckpointError(f"{path}: the saved configuration does not match its header")
    return model
