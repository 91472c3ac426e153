"""Save a running model and restore it: the full state, so a restored run continues bit for bit.

A checkpoint is one file: a JSON header line (format, state version, livemarket version,
scenario, the fingerprint of the configuration, the day reached, the SHA-256 of the payload)
and a NumPy ``.npz`` payload holding the state as plain arrays plus one JSON document. It is
data only: loading never runs code from the file (no pickle). To restore, the model is built
again from its configuration and its set-up seed (the same draws give the same population,
graphs, brands and streamers), then every part that changes during a run is overwritten:
the brand and streamer tables, the consumer engine's arrays, the platforms' strategies and
ledgers, the recorder, the random generators. The day's random streams depend only on the
run's seed, the day and the process, so the restored model draws what the uninterrupted one
would have drawn.

:func:`load` refuses a file that is not a checkpoint, was damaged, was written by another
state version or (when asked) belongs to another scenario, with one :class:`CheckpointError`.
The column engine is saved; the per-consumer reference engine is not (it is a test oracle).
A subclass keeps its own changing attributes by naming them in ``checkpoint_attributes``.

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

import dataclasses
import hashlib
import io
import json
import os
from pathlib import Path

import numpy as np

from livemarket.config import ConfigError, PlatformConfig, ScenarioConfig

__all__ = ["FORMAT", "STATE_VERSION", "CheckpointError", "config_fingerprint", "load", "read_header", "save"]

FORMAT = "livemarket-checkpoint/2"
#: bumped when the model's state layout changes: older checkpoints are refused
STATE_VERSION = 2
#: attributes of the consumer engine that are references or caches, not state
_ENGINE_SKIP = ("model", "beh", "_kernels", "_beh_tuple", "_sample_priors")
_MODEL_ATTRIBUTES = ("steps", "running", "minutes_cap", "scandals_today", "unfollowed_sales", "run_id")


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


class _Encoder:
    """Turns nested state into JSON-able values, putting arrays aside (by name) for the ``.npz``."""

    def __init__(self):
        self.arrays: dict[str, np.ndarray] = {}

    def __call__(self, obj, name: str):
        if isinstance(obj, np.ndarray):
            self.arrays[name] = obj
            return {"__nd__": name}
        if isinstance(obj, np.generic):
            return obj.item()
        if obj is None or isinstance(obj, bool | int | float | str):
            return obj
        if isinstance(obj, list | tuple):
            same = obj and all(isinstance(x, np.ndarray) and x.shape == obj[0].shape for x in obj)
            if same and len(obj) > 1:  # a day-by-day list of arrays: one stacked array
                self.arrays[name] = np.stack(obj)
                return {"__stack__": name}
            return {"__seq__": [self(x, f"{name}.{i}") for i, x in enumerate(obj)], "tuple": isinstance(obj, tuple)}
        if isinstance(obj, dict):
            pairs = enumerate(obj.items())
            return {"__map__": [[self(k, f"{name}.k{i}"), self(v, f"{name}.{i}")] for i, (k, v) in pairs]}
        if isinstance(obj, PlatformConfig):
            return {"__platform__": obj.model_dump(mode="json")}
        raise CheckpointError(f"cannot save {name}: a {type(obj).__name__} is not plain state")


def _decode(obj, arrays):
    if isinstance(obj, dict):
        if "__nd__" in obj:
            return arrays[obj["__nd__"]]
        if "__stack__" in obj:
            return list(arrays[obj["__stack__"]])
        if "__seq__" in obj:
            items = [_decode(x, arrays) for x in obj["__seq__"]]
            return tuple(items) if obj["tuple"] else items
        if "__map__" in obj:
            return {_key(_decode(k, arrays)): _decode(v, arrays) for k, v in obj["__map__"]}
        if "__platform__" in obj:
            return PlatformConfig.model_validate(obj["__platform__"])
    return obj


def _key(k):
    return tuple(k) if isinstance(k, list) else k


def _state(model) -> tuple[dict, dict[str, np.ndarray]]:
    from livemarket.agents.consumers import ConsumerColumns

    if not isinstance(model.consumers, ConsumerColumns):
        raise CheckpointError("save: only the column engine is saved (consumer_engine='columns')")
    enc = _Encoder()
    rec = model.recorder
    extra = tuple(getattr(model, "checkpoint_attributes", ()))
    state = {
        "class": f"{type(model).__module__}:{type(model).__qualname__}",
        "setup_rng": model._rng, "setup_seed_is_int": bool(model._setup_seed_is_int), "setup_seed": model._seed,
        "config": model.config.model_dump(mode="json"), "detail_names": list(model.detail.names),
        "model": {k: enc(getattr(model, k), f"model.{k}") for k in (*_MODEL_ATTRIBUTES, *extra)},
        "time": float(model.time), "rng": model.rng.bit_generator.state,
        "random": enc(model.random.getstate(), "random"),
        "brands": {f.name: enc(getattr(model.brands, f.name), f"brands.{f.name}")
                   for f in dataclasses.fields(model.brands)},
        "streamers": {f.name: enc(getattr(model.streamers, f.name), f"streamers.{f.name}")
                      for f in dataclasses.fields(model.streamers)},
        "platforms": [{k: enc(getattr(p, k), f"platform{p.index}.{k}") for k in
                       ("config", "revenue_rmb", "link_ban_since_step", "links_restored_step", "links_opened_step")}
                      for p in model.platform_list],
        "consumers": {k: enc(v, f"consumers.{k}") for k, v in vars(model.consumers).items() if k not in _ENGINE_SKIP},
        "recorder": {k: enc(getattr(rec, k), f"recorder.{k}") for k in
                     ("by_channel", "by_platform", "market", "head_streamer", "last_order_step")},
        "detail": enc(model.detail.days, "detail"),
        "datacollector": enc(model.datacollector.model_vars, "datacollector"),
    }  # fmt: skip
    return state, enc.arrays


def save(model, path: str | Path) -> Path:
    """Write ``model`` to ``path`` atomically (a temporary file renamed into place); return the path."""
    path = Path(path)
    state, arrays = _state(model)
    buffer = io.BytesIO()
    np.savez(buffer, __state__=np.frombuffer(json.dumps(state).encode(), np.uint8), **arrays)
    payload = buffer.getvalue()
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
    if not isinstance(header, dict) or not str(header.get("format", "")).startswith("livemarket-checkpoint/"):
        raise CheckpointError(f"{path}: not a livemarket checkpoint (expected a first line with format {FORMAT!r})")
    return header


def load(path: str | Path, scenario: str | None = None, model_class=None, **keywords):
    """Restore a model saved by :func:`save` (``scenario``, a name, must match the saved one if given).

    ``model_class`` (``LiveCommerceModel`` or a subclass; :meth:`LiveCommerceModel.load` passes
    itself) is built again with ``keywords`` (a subclass's own constructor keywords), then restored.
    """
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
    with np.load(io.BytesIO(payload), allow_pickle=False) as npz:
        arrays = {k: npz[k] for k in npz.files}
    state = json.loads(arrays.pop("__state__").tobytes())
    if model_class is None:
        raise CheckpointError("load: give the model class to build (LiveCommerceModel.load does)")
    return _restore(model_class, state, arrays, keywords)


def _restore(model_class, state: dict, arrays: dict, keywords: dict):
    config = ScenarioConfig.model_validate(state["config"])
    if state["setup_seed_is_int"]:
        rng = state["setup_seed"]
    else:
        rng = np.random.default_rng()
        rng.bit_generator.state = state["setup_rng"]
    model = model_class(config, rng=rng, detail=state["detail_names"], **keywords)
    user_step = model._user_step  # move Mesa's clock and its step schedule on, without stepping
    model._user_step = lambda: None
    if state["time"] > model.time:
        model._advance_time(state["time"])
    model._user_step = user_step
    d = lambda x: _decode(x, arrays)  # noqa: E731
    for k, v in state["model"].items():
        setattr(model, k, d(v))
    model.rng.bit_generator.state = state["rng"]
    version, internal, gauss = d(state["random"])
    model.random.setstate((version, tuple(internal), gauss))
    for table, fields in ((model.brands, state["brands"]), (model.streamers, state["streamers"])):
        for k, v in fields.items():
            setattr(table, k, d(v))
    for p, saved in zip(model.platform_list, state["platforms"], strict=True):
        for k, v in saved.items():
            setattr(p, k, d(v))
    for k, v in state["consumers"].items():
        setattr(model.consumers, k, d(v))
    for k, v in state["recorder"].items():
        setattr(model.recorder, k, d(v))
    model.detail.days = d(state["detail"])
    model.datacollector.model_vars = d(state["datacollector"])
    model.calendar.config = model.config
    return model
