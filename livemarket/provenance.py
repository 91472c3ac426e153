"""Where a result came from: package versions and the git commit, for run.json and manifests."""

from __future__ import annotations

import functools
import hashlib
import platform
import subprocess
from importlib.metadata import PackageNotFoundError
from importlib.metadata import version as _package_version
from pathlib import Path

__all__ = ["git_commit", "model_version", "version", "versions"]

_PACKAGES = ("livemarket", "mesa", "numpy", "scipy", "networkx", "polars", "pydantic")


def versions() -> dict[str, str]:
    """Python and key package versions."""
    out = {"python": platform.python_version()}
    for name in _PACKAGES:
        try:
            out[name] = _package_version(name)
        except PackageNotFoundError:
            out[name] = "not installed"
    return out


def git_commit(path: str | Path | None = None) -> str | None:
    """Commit of the git checkout holding this package (with ``-dirty`` if modified), or None.

    None when the package is not a tracked file of a checkout: an installed wheel (even in a
    virtual environment inside some other repository) has no commit; :func:`version` says
    which release it is.
    """
    where = Path(path) if path else Path(__file__).resolve().parent
    git = dict(cwd=where, capture_output=True, text=True, timeout=5, check=True)
    try:
        subprocess.run(["git", "ls-files", "--error-unmatch", "--", "."], **git)  # this folder is tracked
        sha = subprocess.run(["git", "rev-parse", "HEAD"], **git).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no", "--", "."], **git).stdout
    except (OSError, subprocess.SubprocessError):
        return None
    return f"{sha}-dirty" if dirty.strip() else sha


def version() -> str:
    """The installed livemarket and its model source: ``"<package version>+<12 hex digits>"``.

    Recorded beside the git commit, so a run from an installed wheel says what it ran.
    """
    return model_version()


#: What the model is: a change here changes every run's identity (the sweep tool, CLI and docs do not)
_MODEL_PARTS = ("config.py", "sizing.py", "draws.py", "core", "agents", "models", "scenarios")


@functools.cache
def model_version() -> str:
    """``"<package version>+<12 hex digits of the model source hash>"`` (cached per process).

    A run is the same run only if the model code is the same: the package version plus a hash
    of the model's source (config, sizes, draws, core rules, agents, models, built-in
    scenarios), so results of two model versions are never mixed in one sweep folder.
    """
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
