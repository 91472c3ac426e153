"""Speed and memory of the column engine: the table of issue 5, the reference ratio, the scaling fit.

Each case runs in a fresh process (so peak memory is its own; populations from
``consumers.KERNELS_FROM_CONSUMERS`` run the compiled kernels) and prints one line:
consumers, edges, seconds, seconds per step, agent-steps per second, peak RSS, and for the
reference comparison the ratio of per-step times. Each run adds a section, with the commit and
the machine's load, at the top of ``benchmarks/results.md``.

Usage:
    python benchmarks/run.py            # 10k, 100k, 1M consumers x 365 days + timeline at 1M + reference + fit
    python benchmarks/run.py --big      # also 10M consumers x 30 days (about 20 GB of RAM)
    python benchmarks/run.py --quick    # small sizes, to check the script itself
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
TARGETS = {10_000: (1.5, 400), 100_000: (8.0, 1024), 1_000_000: (60.0, 4096), 10_000_000: (None, 20480)}


def run_case(consumers: int, days: int, engine: str, scenario: str) -> dict:
    """One simulation in this process; returns its measurements."""
    from livemarket import LiveCommerceModel

    start = time.perf_counter()
    model = LiveCommerceModel(scenario, consumers=consumers, rng=1, consumer_engine=engine)
    built = time.perf_counter()
    model.run(days)
    done = time.perf_counter()
    return {
        "consumers": consumers, "days": days, "engine": engine,
        "edges": int(model.social_graph.num_edges),
        "follows": int(model.streamers.followers.sum()),
        "build_s": built - start, "run_s": done - built, "total_s": done - start,
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }  # fmt: skip


def graph_case(consumers: int) -> dict:
    """Time to build the default social graph (SBM by city tier) straight into arrays."""
    from livemarket.models.graphs import build_social_graph

    rng = np.random.default_rng(1)
    tiers = rng.choice(4, size=consumers, p=[0.15, 0.15, 0.2, 0.5])
    start = time.perf_counter()
    g = build_social_graph("sbm", consumers, rng, tiers=tiers, mean_degree=12.0, homophily=0.8)
    return {"consumers": consumers, "edges": int(g.num_edges), "graph_s": time.perf_counter() - start,
            "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}  # fmt: skip


def _child(*args: str) -> dict:
    out = subprocess.run([sys.executable, __file__, "--child", *args], capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def _line(r: dict) -> str:
    per_step = r["run_s"] / r["days"]
    rate = r["consumers"] * r["days"] / r["run_s"]
    return (
        f"{r['engine']:<9} {r['consumers']:>11,} {r['edges']:>12,} {r['total_s']:>9.2f} {r['build_s']:>8.2f} "
        f"{per_step * 1e3:>9.2f} {rate:>14,.0f} {r['peak_rss_mb']:>9.0f}"
    )


HEADER = (
    f"{'engine':<9} {'consumers':>11} {'edges':>12} {'total s':>9} {'build s':>8} "
    f"{'ms/step':>9} {'agent-steps/s':>14} {'peak MB':>9}"
)


def machine() -> str:
    """One line describing this machine."""
    cpu = "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem_gb = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    return f"{cpu}, {os.cpu_count()} cores, {mem_gb:.0f} GiB, Python {platform.python_version()}, {platform.system()}"


def main() -> None:
    """Run every case and write benchmarks/results.md."""
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--big", action="store_true", help="also run 10M consumers for 30 days")
    ap.add_argument("--quick", action="store_true", help="tiny sizes (checks the script)")
    ap.add_argument("--child", nargs="+", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        kind, *rest = args.child
        result = graph_case(int(rest[0])) if kind == "graph" else run_case(int(rest[0]), int(rest[1]), kind, rest[2])
        print(json.dumps(result))
        return

    days, ref_days = (30, 10) if args.quick else (365, 60)
    sizes = [2_000, 20_000] if args.quick else [10_000, 100_000, 1_000_000]
    cases = [(n, days) for n in sizes] + ([(10_000_000, 30)] if args.big else [])
    load = " / ".join(f"{x:.2f}" for x in os.getloadavg())
    from livemarket.agents.consumers import KERNELS_FROM_CONSUMERS
    from livemarket.agents.kernels import thread_count

    first = f"{KERNELS_FROM_CONSUMERS:,}"
    threads = f"kernel threads: {thread_count()} (LIVEMARKET_THREADS), kernels from {first} consumers"
    lines = [f"machine: {machine()}", f"load average at the start: {load} (1/5/15 min)", threads,
             "scenario: china-2019, default brands and streamers", "", HEADER]  # fmt: skip
    print("\n".join(lines), flush=True)
    results = []
    for n, d in cases:
        r = _child("columns", str(n), str(d), "china-2019")
        results.append(r)
        target = TARGETS.get(n)
        note = ""
        if target and target[0] is not None:
            ok = r["total_s"] <= target[0] and r["peak_rss_mb"] <= target[1]
            note = f"  target <= {target[0]} s, <= {target[1]} MB: {'met' if ok else 'NOT met'}"
        elif target:
            note = f"  target <= {target[1]} MB: {'met' if r['peak_rss_mb'] <= target[1] else 'NOT met'}"
        lines.append(_line(r) + note)
        print(lines[-1], flush=True)

    # the timeline scenario (every dynamic mechanism and product videos on), its first year
    n_tl = sizes[-1]
    tl = _child("columns", str(n_tl), str(days), "china-2019-2024")
    lines += ["", f"timeline: china-2019-2024 from 2019-01-01, {n_tl:,} consumers x {days} days:", HEADER, _line(tl)]
    print("\n".join(lines[-4:]), flush=True)

    n_ref = sizes[0]
    # interleaved (columns, reference, columns): a noisy hour shows as the spread of the two ratios
    before = _child("columns", str(n_ref), str(ref_days), "china-2019")
    ref = _child("reference", str(n_ref), str(ref_days), "china-2019")
    after = _child("columns", str(n_ref), str(ref_days), "china-2019")
    low, high = sorted(ref["run_s"] / col["run_s"] for col in (before, after))
    lines += ["", f"reference comparison, {n_ref:,} consumers x {ref_days} days (same scenario and seed),"
              " columns run before and after the reference:", _line(before), _line(ref), _line(after),
              f"column engine is {low:,.0f}-{high:,.0f}x faster per step (target >= 100x)"]  # fmt: skip
    print("\n".join(lines[-5:]), flush=True)

    # time per step against consumers + edges: slope of the log-log fit (1 = linear)
    size = np.array([r["consumers"] + r["edges"] for r in results], dtype=float)
    per_step = np.array([r["run_s"] / r["days"] for r in results])
    slope, _ = np.polyfit(np.log(size), np.log(per_step), 1)
    lines += [
        "",
        f"scaling: time per step ~ (consumers + edges)^{slope:.2f} over {len(results)} sizes"
        " (<= 1: no worse than linear)",
    ]
    g = _child("graph", str(1_000_000 if not args.quick else 50_000))
    lines += [
        f"graph construction (SBM, {g['consumers']:,} consumers, {g['edges']:,} edges): "
        f"{g['graph_s']:.2f} s (target < 5 s)"
    ]
    print("\n".join(lines[-2:]), flush=True)
    if not args.quick:
        _record(lines)


def _commit() -> str:
    """The checked-out commit, marked when the package has uncommitted changes."""
    try:
        git = lambda *a: subprocess.run(["git", *a], capture_output=True, text=True, cwd=HERE).stdout.strip()  # noqa: E731
        out, dirty = git("rev-parse", "--short", "HEAD"), git("status", "--porcelain", "../livemarket")
        return out + (" (uncommitted changes)" if dirty else "")
    except OSError:
        return "unknown"


def _record(lines: list[str]) -> None:
    """Put this run's figures at the top of benchmarks/results.md, keeping the earlier days below."""
    path = HERE / "results.md"
    old = path.read_text() if path.exists() else "# Benchmark results\n"
    head, _, rest = old.partition("\n## ")
    load = " / ".join(f"{x:.2f}" for x in os.getloadavg())
    section = (
        f"## {time.strftime('%Y-%m-%d %H:%M', time.gmtime())} UTC, commit {_commit()}, `make bench-engine`\n\n"
        f"Load average at the end: {load} (1/5/15 min; the machine has {os.cpu_count()} cores).\n\n"
        "```\n" + "\n".join(lines) + "\n```\n"
    )
    path.write_text(head.rstrip() + "\n\n" + section + ("\n## " + rest if rest else ""))


if __name__ == "__main__":
    main()
