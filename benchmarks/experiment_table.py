"""Run experiments and their placebos at the quick size; print their rows of livemarket/experiments/README.md.

    python benchmarks/experiment_table.py 01-douyin-link-ban 03-interoperability-2024 --workers 2
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

from livemarket.sweeps import store
from livemarket.sweeps.catalog import builtin_experiments
from livemarket.sweeps.checks import check_expectations
from livemarket.sweeps.placebo import placebo_results, run_placebo
from livemarket.sweeps.runner import run_sweep
from livemarket.sweeps.spec import load_experiment


def rows(name: str, workers: int) -> list[str]:
    """The README rows of one experiment's quick run."""
    path = next(p for p in builtin_experiments() if p.stem == name or load_experiment(p).name == name)
    spec = load_experiment(path).effective(quick=True)
    with tempfile.TemporaryDirectory() as out:
        run_sweep(spec, Path(out), workers=workers, progress=False)
        run_placebo(spec, Path(out), workers=workers, progress=False)
        table = check_expectations(spec, store.results(Path(out)), placebo_results(Path(out)))
    lines = []
    for i, r in enumerate(table.iter_rows(named=True)):
        verdict = "PASS" if r["shown"] else ("WEAK" if r["passed"] else "FAIL")
        result = row_result(r)
        lines.append(f"| {spec.name if i == 0 else ''} | {r['label']} | {result} | {verdict} |")
    return lines


def row_result(r: dict) -> str:
    """control -> treatment (relative, placebo-calibrated z, paired z)."""
    return (f"{r['control']:.4g} -> {r['treatment']:.4g} ({100 * r['relative']:+.1f}%, z={r['z']:.1f}; "
            f"paired {r['z_paired']:.1f})")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("experiments", nargs="+")
    ap.add_argument("--workers", type=int, default=2)
    args = ap.parse_args()
    for name in args.experiments:
        print("\n".join(rows(name, args.workers)), flush=True)


if __name__ == "__main__":
    main()
