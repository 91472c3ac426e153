"""Do the timeline's in-sample moments stop moving with the population? (issue 15's size check)

Runs china-2019-2024 over its in-sample years (2019-2021) at several populations with the same
replicate seeds, and prints each fitted moment's mean and 95% interval by size, and the largest
move between the two largest sizes in units of the target's tolerance. Writes the table to
``docs/validation/size_check.md``.

    python benchmarks/size_check.py --sizes 5000,10000,20000,40000 --replicates 2 --workers 2
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from livemarket.draws import run_seed_sequence
from livemarket.msm import aim
from livemarket.validation.report import fmt_number, mean_interval
from livemarket.validation.runs import RunSpec, run_replicates
from livemarket.validation.timeline import TIMELINE_TARGETS


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--scenario", default="china-2019-2024")
    ap.add_argument("--sizes", default="5000,10000,20000,40000")
    ap.add_argument("--replicates", type=int, default=2)
    ap.add_argument("--days", type=int, default=1096)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--out", default="docs/validation/size_check.md")
    args = ap.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    seeds = [int(run_seed_sequence(7, 0, r).generate_state(1)[0]) for r in range(args.replicates)]
    started = time.time()
    specs = [RunSpec(args.scenario, (), n, args.days, False, s, targets="timeline") for n in sizes for s in seeds]
    runs = run_replicates(specs, workers=args.workers)
    by_size = {n: runs[i * len(seeds) : (i + 1) * len(seeds)] for i, n in enumerate(sizes)}
    fitted = [t for t in TIMELINE_TARGETS if t.in_sample and t.kind in ("point", "range")]
    lines = [
        f"# Size check: {args.scenario}, 2019-01-01 + {args.days} days, {args.replicates} replicates per size",
        "",
        "Mean [95% interval of the mean] of each fitted moment by population; the last column is the move",
        f"between {sizes[-2]:,} and {sizes[-1]:,} consumers in tolerances of the target.",
        "",
        "| Moment | Target | " + " | ".join(f"{n:,}" for n in sizes) + " | move (tol.) |",
        "|---|---|" + "---|" * len(sizes) + "---|",
    ]
    for t in fitted:
        cells = [mean_interval([r[t.key] for r in by_size[n]]) for n in sizes]
        move = (cells[-1][0] - cells[-2][0]) / aim(t)[1]
        row = " | ".join(f"{fmt_number(c[0])} [{fmt_number(c[1])}, {fmt_number(c[2])}]" for c in cells)
        lines.append(f"| {t.label} ({t.unit}) | {t.target_text} | {row} | {move:+.2f} |")
    lines += ["", f"{len(specs)} runs in {time.time() - started:.0f} s on {args.workers} workers."]
    text = "\n".join(lines)
    print(text)
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(text + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
