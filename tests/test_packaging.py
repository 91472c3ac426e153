"""What a plain ``pip install .`` gives: the experiments and the ODD generator ship in the wheel."""

import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from livemarket import provenance

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    """The package's wheel, built from a copy of the source (the checkout gets no build/ folder)."""
    src = tmp_path_factory.mktemp("src")
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(ROOT / name, src / name)
    shutil.copytree(ROOT / "livemarket", src / "livemarket", ignore=shutil.ignore_patterns("__pycache__"))
    out = tmp_path_factory.mktemp("dist")
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(out), str(src)],
                   check=True, capture_output=True)  # fmt: skip
    return next(out.glob("livemarket-*.whl"))


def test_the_wheel_holds_the_twelve_experiments_and_the_odd_generator(wheel):
    names = zipfile.ZipFile(wheel).namelist()
    assert len([n for n in names if n.startswith("livemarket/experiments/") and n.endswith(".toml")]) == 12
    assert {"livemarket/odd/__init__.py", "livemarket/config.py", "livemarket/scenarios/china-2019.toml"} <= set(names)


def test_the_installed_wheel_lists_and_loads_the_experiments_from_another_folder(wheel, tmp_path):
    site, elsewhere = tmp_path / "site", tmp_path / "elsewhere"
    zipfile.ZipFile(wheel).extractall(site)
    elsewhere.mkdir()
    script = ("import livemarket, sys; from livemarket.cli import app; from livemarket.sweeps import load_experiment;"
              "from livemarket import odd;"
              "print(livemarket.__file__); print(load_experiment('douyin-link-ban').effective(quick=True).name);"
              "odd.render(); app(['experiments'])")  # fmt: skip
    env = {"PYTHONPATH": str(site), "PATH": "/usr/bin:/bin"}
    done = subprocess.run([sys.executable, "-c", script], cwd=elsewhere, env=env, capture_output=True, text=True)
    lines = done.stdout.splitlines()
    assert lines[0].startswith(str(site)), done.stdout + done.stderr  # the wheel's copy, not the checkout
    assert lines[1] == "douyin-link-ban"
    listed = [line for line in lines if line[:2].isdigit()]
    assert len(listed) == 12 and "INVALID" not in done.stdout, done.stdout


def test_no_commit_is_claimed_outside_a_checkout_of_the_package(tmp_path):
    git = dict(cwd=tmp_path, check=True, capture_output=True)
    subprocess.run(["git", "init", "-q"], **git)
    (tmp_path / "tracked").mkdir()
    (tmp_path / "tracked" / "a.py").write_text("x = 1\n")
    (tmp_path / "site-packages" / "livemarket").mkdir(parents=True)  # an installed copy in someone's repository
    subprocess.run(["git", "add", "tracked"], **git)
    subprocess.run(["git", "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "c"], **git)
    assert len(provenance.git_commit(tmp_path / "tracked")) == 40
    assert provenance.git_commit(tmp_path / "site-packages" / "livemarket") is None
    assert provenance.git_commit(tmp_path.parent) is None  # not a repository at all
    assert provenance.version().startswith("0.") and "+" in provenance.version()
