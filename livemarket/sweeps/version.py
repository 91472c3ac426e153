"""The model version that enters every run's identity.

A run is the same run only if the model code is the same: the version is the package
version plus a hash of the model's source (config, draws, agents, models, built-in
scenarios). Editing the sweep tool, the CLI or the docs does not change it; editing a rule
does, so results of two model versions are never mixed in one sweep folder.
"""

from __future__ import annotations

import functools
import hashlib
from pathlib import Path

__all__ = ["model_version"]

_MODEL_PARTS = ("config.py", "draws.py", "agents", "models", "scenarios")


@functools.cache
def model_version() -> str:
    """``"<package version>+<12 hex digits of the model source hash>"`` (cached per process)."""
    import livemarket

    root = Path(livemarket.__file__).resolve().parent
    digest = hashlib.sha256()
    for part in _MODEL_PARTS:
        where = root / part
        files = sorted(where.rglob("*")) if where.is_dir() else [where]
        for f in files:
            if f.is_file() and f.suffix in (".py", ".toml"):
                digest.update(f.relative_to(root).as_posix().encode())
                digest.update(f.read_bytes())
    return f"{livemarket.__version__}+{digest.hexdigest()[:12]}"
