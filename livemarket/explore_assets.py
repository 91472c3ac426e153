"""Front-end files of the explorer for machines without the public CDN.

Solara's server proxies its browser code from a CDN (jsDelivr) and keeps a copy in
``solara.settings.assets.proxy_cache_dir``. Where that CDN cannot be reached but the npm
registry can (closed networks, this project's CI), :func:`ensure_assets` fills the same
cache with ``npm pack`` from the npm registry: the files the page asks for are then served
locally, exactly as a CDN visit would have cached them.
"""

from __future__ import annotations

import shutil
import subprocess
import tarfile
import tempfile
from pathlib import Path

__all__ = ["ASSETS", "ensure_assets"]

#: npm packages (name@version) that the explorer page loads through solara's CDN proxy.
ASSETS = (
    "@widgetti/solara-vuetify3-app@5.2.0",
    "font-awesome@4.5.0",
    "requirejs@2.3.6",
    "@widgetti/vue-grid-layout@2.3.13-alpha.2",
)


def ensure_assets(packages=ASSETS, cache_dir: Path | None = None) -> list[str]:
    """Put each package into solara's CDN cache unless it is there; return those added.

    Does nothing (and returns ``[]``) when npm is not installed.
    """
    if cache_dir is None:
        import solara.server.settings as settings

        cache_dir = Path(settings.assets.proxy_cache_dir)
    npm = shutil.which("npm")
    missing = [p for p in packages if not (Path(cache_dir) / p).is_dir()]
    if not missing or npm is None:
        return []
    with tempfile.TemporaryDirectory() as tmp:
        subprocess.run(
            [npm, "pack", "--silent", *missing],
            cwd=tmp,
            check=True,
            capture_output=True,
            timeout=600,
        )
        for spec, tgz in zip(
            missing, sorted(Path(tmp).glob("*.tgz"), key=lambda p: _order(p, missing)), strict=True
        ):
            target = Path(cache_dir) / spec
            with tarfile.open(tgz) as tar, tempfile.TemporaryDirectory(dir=tmp) as unpacked:
                tar.extractall(unpacked, filter="data")
                target.parent.mkdir(parents=True, exist_ok=True)
                shutil.copytree(Path(unpacked) / "package", target, dirs_exist_ok=True)
    return missing


def _order(tgz: Path, specs: list[str]) -> int:
    """Index of the spec a tarball came from (npm names ``@scope/name@v`` as ``scope-name-v.tgz``)."""
    for i, spec in enumerate(specs):
        name, _, version = spec.rpartition("@")
        if tgz.name == f"{name.lstrip('@').replace('/', '-')}-{version}.tgz":
            return i
    raise ValueError(f"unexpected npm tarball {tgz.name}")
