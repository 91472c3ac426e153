"""The named experiments: the twelve shipped in the package, and any in ``./experiments``.

A name is a spec's file stem (``01-douyin-link-ban``), the stem without its number
(``douyin-link-ban``) or a path to a ``.toml`` file. The built-in specs live in
``livemarket/experiments/`` (inside the wheel); a folder ``experiments/`` in the working
directory adds its own specs, and one of the same stem takes the built-in one's place.

Example:
    >>> len(builtin_experiments())
    12
    >>> find_experiment("douyin-link-ban").name
    '01-douyin-link-ban.toml'
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path

from livemarket.config import ConfigError

__all__ = ["BUILTIN_DIR", "builtin_experiments", "experiment_files", "find_experiment"]

#: Where the built-in experiment specs are (a folder of the installed package).
BUILTIN_DIR = Path(str(resources.files("livemarket") / "experiments"))


def builtin_experiments() -> list[Path]:
    """The experiment specs shipped with the package, in name order."""
    return sorted(BUILTIN_DIR.glob("*.toml"))


def experiment_files() -> list[Path]:
    """Every named experiment: the built-in ones, then ``./experiments/*.toml`` (same stem: the local one)."""
    local = Path.cwd() / "experiments"
    found = {f.stem: f for f in builtin_experiments()}
    if local.is_dir() and local.resolve() != BUILTIN_DIR.resolve():
        found |= {f.stem: f for f in sorted(local.glob("*.toml"))}
    return sorted(found.values(), key=lambda f: f.stem)


def find_experiment(name: str | Path) -> Path:
    """A spec path from a path, a file stem (``01-douyin-link-ban``) or its short name (``douyin-link-ban``).

    Raises:
        ConfigError: no such file or name (the message lists the accepted names).
    """
    path = Path(name)
    if path.suffix == ".toml" or path.is_file():
        return path
    files = experiment_files()
    for f in files:
        if str(name) in (f.stem, f.stem.split("-", 1)[-1]) or f.stem.startswith(f"{name}-"):
            return f
    from livemarket.suggest import did_you_mean

    names = ", ".join(f.stem.split("-", 1)[-1] for f in files)
    every = [n for f in files for n in (f.stem, f.stem.split("-", 1)[-1])]
    raise ConfigError(f"no experiment {str(name)!r}; accepted: a .toml path or one of {names} "
                      f"(see `livemarket experiments`){did_you_mean(str(name), every)}")  # fmt: skip
