"""Where a result came from: package versions and the git commit, for run.json and manifests."""

from __future__ import annotations

import platform
import subprocess
from importlib.metadata import PackageNotFoundError
from importlib.metadata import version as _package_version
from pathlib import Path

__all__ = ["git_commit", "version", "versions"]

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
    from livemarket.sweeps.version import model_version

    return model_version()
