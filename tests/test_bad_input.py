"""Bad input, tried systematically: each case is ONE clear error, and nothing is written.

On the command line: exit code 2, no traceback, one ``error:`` line that names the field
(dotted path) or the file and line, and what is accepted. Through the Python API: a
:class:`ConfigError` (``GraphInputError`` is one) with such a message. Every case runs in
an empty folder that must hold nothing new afterwards (no output folder, no figures).

``CASES`` is the table: ``(id, command-line args or api(...), expected substrings)``.
Arguments that are files (``File``, ``Folder``, ``Missing``) are made in the case's folder
first. ``test_every_probability_field_refuses_values_outside_0_1`` covers each
probability-like field of the scenario config, found from the pydantic models.
"""

from __future__ import annotations

import datetime as dt
import io
import re
from collections.abc import Callable
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl
import pytest
from annotated_types import Ge, Le
from typer.testing import CliRunner

from livemarket import ConfigError, load_scenario
from livemarket.calibration import load_spec
from livemarket.cli import app
from livemarket.config import (
    BehaviourConfig,
    BrandsConfig,
    ConsumersConfig,
    GraphConfig,
    PlatformConfig,
    StreamersConfig,
)
from livemarket.models.graphs import build_social_graph
from livemarket.sweeps.spec import Experiment, load_experiment


# ----------------------------------------------------------------------------- inputs
@dataclass(frozen=True)
class File:
    """A file made in the case's folder (text or bytes)."""

    name: str
    content: str | bytes = ""

    def make(self, root: Path) -> str:
        path = root / self.name
        path.parent.mkdir(parents=True, exist_ok=True)
        (path.write_bytes if isinstance(self.content, bytes) else path.write_text)(self.content)
        return self.name


@dataclass(frozen=True)
class Folder:
    """A folder made in the case's folder, with files in it."""

    name: str
    files: tuple[File, ...] = ()

    def make(self, root: Path) -> str:
        (root / self.name).mkdir()
        for f in self.files:
            File(f"{self.name}/{f.name}", f.content).make(root)
        return self.name


@dataclass(frozen=True)
class Missing:
    """A path that does not exist."""

    name: str

    def make(self, root: Path) -> str:
        return self.name


class api:  # noqa: N801 - reads as a call in the table
    """A Python API call: ``fn(*args, **kwargs)``, file arguments made first."""

    def __init__(self, fn: Callable, *args: Any, **kwargs: Any):
        self.fn, self.args, self.kwargs = fn, args, kwargs

    def prepare(self, root: Path) -> Callable[[], Any]:
        """Make the file arguments in ``root``; return the call."""
        args = [_make(a, root) for a in self.args]
        kwargs = {k: _make(v, root) for k, v in self.kwargs.items()}
        return lambda: self.fn(*args, **kwargs)


@dataclass(frozen=True)
class Joined:
    """An argument made of a text and a file's path, e.g. ``graph.path=g.csv``."""

    prefix: str
    file: File | Folder | Missing

    def make(self, root: Path) -> str:
        return self.prefix + self.file.make(root)


def _make(value: Any, root: Path) -> Any:
    return value.make(root) if isinstance(value, File | Folder | Missing | Joined) else value


MINIMAL = (resources.files("livemarket") / "scenarios" / "minimal.toml").read_text()
HEAD = 'scenario = "minimal"\ndays = 5\nconsumers = 100\n'
SPEC = HEAD + 'metrics = ["gmv_rmb:sum"]\n'
FACTOR = '[factors.x]\npath = "platforms.video.ad_load"\n'
CAL = 'scenario = "minimal"\nin_sample = ["shelf_share_taobao"]\n'
PARAM = '[parameters]\n"platforms.video.ad_load" = '
BINARY = b"\x00\xff\xfe\x89PNG\r\n\x1a\n"
EDGES = "accepted: two integer consumer ids in 0..4"
GRAPHML = "accepted: undirected GraphML with exactly 5 nodes whose ids are '0'..'4'"
RUN_OUTPUT = "accepted: a run folder of `livemarket run`"


def _parquet(columns: dict) -> bytes:
    buf = io.BytesIO()
    pl.DataFrame(columns).write_parquet(buf)
    return buf.getvalue()


RESULTS = File("results.parquet", _parquet({
    "run_id": ["r"], "step": [0], "date": [dt.date(2019, 1, 1)], "platform": ["all"],
    "channel": ["all"], "metric": ["gmv_rmb"], "value": [1.0], "value_scaled": [1.0],
}))  # fmt: skip
OTHER_TABLE = File("x.parquet", _parquet({"a": [1, 2], "b": ["x", "y"]}))


def spec(text: str, name: str = "spec.toml") -> File:
    """A sweep spec file: the base spec plus ``text``."""
    return File(name, SPEC + text)


def cal(text: str) -> File:
    """A calibration spec file: the base spec plus ``text``."""
    return File("cal.toml", CAL + text)


def graphml(body: str, name: str = "g.graphml", directed: bool = False) -> File:
    kind = "directed" if directed else "undirected"
    xmlns = "http://graphml.graphdrawing.org/xmlns"
    head = f'<?xml version="1.0"?><graphml xmlns="{xmlns}"><graph edgedefault="{kind}">'
    return File(name, head + body + "</graph></graphml>")


def nodes(n: int) -> str:
    return "".join(f'<node id="{i}"/>' for i in range(n))


def edge(u, v) -> str:
    return f'<edge source="{u}" target="{v}"/>'


def read_graph(path: str, n: int = 5):
    """The graph loader, as the model calls it for ``graph.kind = "file"``."""
    return build_social_graph("file", n, np.random.default_rng(0), path=path)


def run_set(*overrides: str) -> list[str]:
    """``livemarket run minimal --set ...`` for each override."""
    return ["run", "minimal", *(a for o in overrides for a in ("--set", o))]


def graph_run(path) -> list:
    return ["run", "minimal", "--consumers", "5", "--set", "graph.kind=file", "--set",
            Joined("graph.path=", path)]  # fmt: skip


def sweep(file) -> list:
    return ["sweep", file, "--workers", "0", "--no-progress"]


def window(text: str) -> list:
    """``livemarket sweep`` of a spec keeping the HHI over ``window``."""
    return sweep(File("spec.toml", HEAD + f'[[metrics]]\nmetric = "hhi"\nwindow = {text}\n'))


def sensitivity(*options: str) -> list:
    """``livemarket sensitivity`` of a valid Morris spec."""
    morris = spec('design = "morris"\nsamples = 2\n' + FACTOR + "range = [0.1, 0.3]\n")
    return ["sensitivity", morris, *options, "--workers", "0", "--no-progress"]


UNKNOWN = ["unknown field", "accepted:"]
FINITE = "Input should be a finite number"

# ----------------------------------------------------------------------------- the table
CASES: list[tuple[str, list | api, list[str]]] = [
    # --- files that cannot be read: scenarios, sweep specs, calibration specs
    ("scenario-malformed-toml", ["run", File("bad.toml", "name = 'x\nconsumers = 3")],
     ["bad.toml", "malformed TOML"]),
    ("scenario-empty-file", ["run", File("empty.toml")],
     ["empty.toml", "platforms: Field required"]),
    ("scenario-binary-file", ["run", File("bin.toml", BINARY)],
     ["bin.toml", "not a text file", "accepted: a UTF-8 TOML file"]),
    ("scenario-missing-file", ["run", Missing("missing.toml")], ["missing.toml", "does not exist"]),
    ("scenario-folder", ["run", Folder("dir.toml")],
     ["dir.toml", "is a folder", "accepted: a TOML file"]),
    ("scenario-unknown-name", ["run", "no-such-scenario"],
     ["no-such-scenario", "accepted", "china-2019", "ending in .toml"]),
    ("scenario-no-platforms-table", ["run", File("s.toml", "name = 'x'\ndays = 3\n")],
     ["s.toml", "platforms: Field required"]),
    ("spec-malformed-toml", sweep(spec("metrics = [\n")), ["spec.toml", "malformed TOML"]),
    ("spec-empty-file", sweep(File("spec.toml")), ["spec.toml", "metrics: Field required"]),
    ("spec-binary-file", sweep(File("spec.toml", BINARY)),
     ["spec.toml", "not a text file", "accepted: a UTF-8 TOML file"]),
    ("spec-missing-file", sweep(Missing("nope.toml")), ["nope.toml", "does not exist"]),
    ("spec-folder", sweep(Folder("d.toml")), ["d.toml", "is a folder", "accepted: a TOML file"]),
    ("spec-api-binary-file", api(load_experiment, File("spec.toml", BINARY)),
     ["spec.toml", "not a text file"]),
    ("calibrate-malformed-toml", ["calibrate", File("cal.toml", "in_sample = [")],
     ["cal.toml", "malformed TOML"]),
    ("calibrate-empty-file", ["calibrate", File("cal.toml")],
     ["cal.toml", "parameters: Field required", "in_sample: Field required"]),
    ("calibrate-binary-file", ["calibrate", File("cal.toml", BINARY)],
     ["cal.toml", "not a text file", "accepted: a UTF-8 TOML file"]),
    ("calibrate-missing-file", ["calibrate", Missing("cal.toml")], ["cal.toml", "does not exist"]),
    ("calibrate-folder", ["calibrate", Folder("cal.toml")], ["cal.toml", "is a folder"]),
    ("validate-binary-scenario", ["validate", File("bin.toml", BINARY)],
     ["bin.toml", "not a text file"]),
    ("validate-folder-scenario", ["validate", Folder("results")],
     ["'results'", "neither a .toml file nor a built-in", "accepted"]),
    # --- unknown keys
    ("unknown-top-level-key", run_set("foo=1"), ["foo", *UNKNOWN, "platforms", "consumers"]),
    ("unknown-platform-key", run_set("platforms.video.foo=1"),
     ["platforms.video.foo", *UNKNOWN, "ad_load"]),
    ("unknown-key-in-file",
     ["run", File("typo.toml", MINIMAL.replace("ad_load = 0.1\n", "ad_lod = 0.1\n", 1))],
     ["typo.toml", "platforms.video.ad_lod", *UNKNOWN, "ad_load"]),
    ("unknown-brands-key", run_set("brands.foo=1"),
     ["brands.foo", *UNKNOWN, "capacity_orders_per_day"]),
    ("unknown-consumer-key", run_set("consumer.foo=1"),
     ["consumer.foo", *UNKNOWN, "adopter_share"]),
    ("unknown-graph-key", run_set("graph.degree=3"), ["graph.degree", *UNKNOWN, "mean_degree"]),
    ("unknown-policy-key", run_set("policies=[{platform='video', step=1, foo=2, set={}}]"),
     ["policies.0.foo", *UNKNOWN, "date, platform, set, step"]),
    ("unknown-policy-set-field", run_set("policies=[{platform='video', step=1, set={foo=1}}]"),
     ["policies[0].set.foo", *UNKNOWN, "link_ban"]),
    ("unknown-spec-key", sweep(spec("replicas = 2\n")), ["replicas", *UNKNOWN, "replicates"]),
    ("unknown-factor-key", sweep(spec(FACTOR + "values = [0.1]\nstep = 1\n")),
     ["factors.x.step", *UNKNOWN, "values"]),
    ("unknown-metric-key",
     sweep(File("spec.toml", 'scenario = "minimal"\n[[metrics]]\nmetric = "hhi"\nfoo = 1\n')),
     ["metrics.0.foo", *UNKNOWN, "window"]),
    ("unknown-quick-key", sweep(spec("[quick]\nreplicas = 1\n")),
     ["quick.replicas", *UNKNOWN, "replicates"]),
    ("unknown-spec-key-api", api(Experiment, name="t", metrics=["hhi"], replicats=3),
     ["replicats", *UNKNOWN]),
    ("unknown-calibration-key",
     ["calibrate", cal('foo = 1\n' + PARAM + '{ low = 0.05, high = 0.2 }\n')],
     ["foo", *UNKNOWN, "in_sample", "trials"]),
    ("unknown-calibration-parameter-key",
     ["calibrate", cal(PARAM + '{ low = 0.05, high = 0.2, step = 1 }\n')],
     ["step", *UNKNOWN, "high, log, low"]),
    # --- wrong types
    ("string-for-integer", run_set("consumers='many'"), ["consumers", "valid integer"]),
    ("numeric-string-for-integer", run_set("consumers='500'"), ["consumers", "valid integer"]),
    ("numeric-string-for-number", run_set("platforms.video.ad_load='0.2'"),
     ["platforms.video.ad_load", "valid number"]),
    ("bool-for-number", run_set("platforms.video.ad_load=true"),
     ["platforms.video.ad_load", "valid number"]),
    ("bool-for-integer", run_set("days=true"), ["days", "valid integer"]),
    ("number-for-bool", run_set("platforms.video.link_ban=3"),
     ["platforms.video.link_ban", "valid boolean"]),
    ("word-for-bool", run_set("platforms.video.link_ban=maybe"),
     ["platforms.video.link_ban", "valid boolean"]),
    ("list-for-table", run_set("platforms=[1]"), ["platforms", "valid dictionary"]),
    ("list-for-section", run_set("brands=[1]"), ["brands", "valid dictionary"]),
    ("string-for-list", run_set("categories.price_rmb='cheap'"),
     ["categories.price_rmb", "valid list"]),
    ("not-a-date", run_set("start_date=notadate"), ["start_date", "valid date"]),
    ("impossible-date", run_set("start_date=2019-02-30"),
     ["start_date", "day value is outside expected range"]),
    ("policy-date-not-a-date",
     run_set("policies=[{platform='video', date='soon', set={link_ban=true}}]"),
     ["policies.0.date", "valid date"]),
    ("unknown-platform-kind", run_set("platforms.video.kind=tv"),
     ["platforms.video.kind", "'content' or 'shelf'"]),
    ("unknown-graph-kind", run_set("graph.kind=lattice"), ["graph.kind", "'sbm'", "'file'"]),
    ("cli-option-not-an-integer", ["run", "minimal", "--consumers", "abc"],
     ["--consumers", "valid integer"]),
    ("spec-string-for-integer", sweep(spec("replicates = 'two'\n")),
     ["replicates", "valid integer"]),
    ("spec-bool-for-integer", sweep(spec("replicates = true\n")), ["replicates", "valid integer"]),
    ("spec-list-for-table", sweep(spec("factors = [1, 2]\n")), ["factors", "valid dictionary"]),
    ("calibration-string-for-integer",
     ["calibrate", cal('trials = "many"\n' + PARAM + "{ low = 0.05, high = 0.2 }\n")],
     ["trials", "valid integer"]),
    # --- out of range
    ("negative-consumers", ["run", "minimal", "--consumers", "-5"],
     ["consumers", "greater than or equal to 2"]),
    ("zero-consumers", ["run", "minimal", "--consumers", "0"],
     ["consumers", "greater than or equal to 2"]),
    ("zero-days", ["run", "minimal", "--days", "0"], ["days", "greater than or equal to 1"]),
    ("negative-days", run_set("days=-3"), ["days", "greater than or equal to 1"]),
    ("negative-seed", ["run", "minimal", "--seed", "-1"], ["seed", "greater than or equal to 0"]),
    ("probability-above-1", run_set("platforms.video.feed_mode=2"),
     ["platforms.video.feed_mode", "less than or equal to 1"]),
    ("probability-below-0", run_set("platforms.video.take_rate=-0.1"),
     ["platforms.video.take_rate", "greater than or equal to 0"]),
    ("promotion-above-its-cap", run_set("platforms.video.promotion=0.5"),
     ["platforms.video.promotion", "less than or equal to 0.1"]),
    ("negative-price", run_set("categories.price_rmb=[-1.0, 60.0, 200.0]"),
     ["categories.price_rmb.0", "greater than 0"]),
    ("negative-cost", run_set("brands.self_broadcast_cost_rmb_per_day=-5"),
     ["brands.self_broadcast_cost_rmb_per_day", "greater than or equal to 0"]),
    ("negative-capacity", run_set("brands.capacity_orders_per_day=-1"),
     ["brands.capacity_orders_per_day", "greater than 0"]),
    ("negative-ad-price", run_set("platforms.video.ad_price_rmb_per_minute=-0.1"),
     ["platforms.video.ad_price_rmb_per_minute", "greater than or equal to 0"]),
    ("zero-brands", run_set("brands.count=0"), ["brands.count", "greater than or equal to 1"]),
    ("negative-streamers", run_set("streamers.count=-1"),
     ["streamers.count", "greater than or equal to 0"]),
    ("tier-shares-not-summing-to-1", run_set("consumer.tier_shares=[0.5, 0.6]"),
     ["consumer.tier_shares", "sum to 1"]),
    ("category-lists-of-wrong-length", run_set("categories.count=2"),
     ["categories.price_rmb", "needs 2 values"]),
    ("festival-month-13", run_set("festivals=[{name='x', month=13, first_day=1, last_day=2}]"),
     ["festivals.0.month", "less than or equal to 12"]),
    ("festival-days-reversed",
     run_set("festivals=[{name='x', month=11, first_day=12, last_day=2}]"),
     ["festivals.0", "first_day 12 is after last_day 2", "accepted: first_day <= last_day"]),
    ("supply-shock-ends-before-start",
     run_set("supply_shocks=[{start=2019-02-01, end=2019-01-01}]"),
     ["supply_shocks[0]", "before start"]),
    ("supply-shock-unknown-category",
     run_set("supply_shocks=[{start=2019-02-01, end=2019-03-01, category=7}]"),
     ["supply_shocks[0].category", "0..2"]),
    ("scandal-before-start", run_set("scandals=[{date=2018-06-01}]"),
     ["scandals[0].date", "before start_date"]),
    ("scandal-rank-beyond-streamers", run_set("scandals=[{date=2019-06-01, streamer_rank=40}]"),
     ["scandals[0].streamer_rank", "< streamers.count"]),
    # --- platforms and policies
    ("zero-platforms", run_set("platforms={}"), ["platforms", "at least one platform"]),
    ("override-names-unknown-platform", run_set("platforms.vidoe.ad_load=0.2"),
     ["platforms.vidoe", "not a platform of the scenario", "accepted: ['video', 'mall']"]),
    ("outbound-link-to-unknown-platform", run_set("platforms.video.outbound_links=['tmall']"),
     ["platforms.video.outbound_links", "'tmall'", "['mall'] accepted"]),
    ("link-ban-policy-on-unknown-platform",
     run_set("policies=[{platform='tmall', step=1, set={link_ban=true}}]"),
     ["policies[0].platform", "unknown platform 'tmall'", "accepted: ['mall', 'video']"]),
    ("policy-before-start-date",
     run_set("policies=[{platform='video', date=2018-12-31, set={link_ban=true}}]"),
     ["policies[0].date", "before start_date 2019-01-01"]),
    ("policy-with-date-and-step",
     run_set("policies=[{platform='video', date=2019-02-01, step=3, set={link_ban=true}}]"),
     ["policies.0", "exactly one of 'date' or 'step'"]),
    ("policy-sets-bad-value", run_set("policies=[{platform='video', step=1, set={ad_load=2.0}}]"),
     ["policies[0].set.ad_load", "less than or equal to 1"]),
    ("shares-on-unknown-platform", run_set("streamers.platform_shares={tmall=1.0}"),
     ["streamers.platform_shares", "'tmall'", "accepted"]),
    ("traffic-bought-by-content-platform", run_set("platforms.video.traffic_bought={video=0.1}"),
     ["platforms.video.traffic_bought", "only shelf platforms buy traffic"]),
    ("unknown-wallet", run_set("platforms.mall.accepted_wallets=['paypal']"),
     ["platforms.mall.accepted_wallets", "'paypal'", "accepted"]),
    # --- --set syntax
    ("override-without-equals", run_set("platforms.video.link_ban"),
     ["'platforms.video.link_ban'", "expected dotted.path=value"]),
    ("override-empty-path", run_set("=3"), ["'=3'", "empty name", "expected dotted.path=value"]),
    ("override-empty-segment", run_set("platforms..x=3"),
     ["'platforms..x=3'", "empty name", "expected dotted.path=value"]),
    ("override-into-a-number", run_set("consumers.x=3"),
     ["'consumers.x=3'", "'consumers' is not a table"]),
    ("override-unclosed-list", run_set("platforms.video.outbound_links=['mall'"),
     ["platforms.video.outbound_links", "valid list"]),
    ("override-api", api(load_scenario, "minimal", ["platforms.video.feed_mode=2"]),
     ["platforms.video.feed_mode", "less than or equal to 1"]),
    # --- graph files (the loader names the file, the line for edge lists, and what is accepted)
    ("graph-kind-file-without-path", run_set("graph.kind=file"),
     ["graph", "kind 'file' needs path", ".graphml"]),
    ("graph-file-missing", graph_run(Missing("g.csv")),
     ["g.csv", "does not exist", "accepted: a .graphml or edge-list file"]),
    ("graph-file-is-a-folder", graph_run(Folder("g.csv")), ["g.csv", "is a folder", "accepted"]),
    ("graph-file-bad-line", graph_run(File("g.csv", "0,1\n1,x\n")),
     ["g.csv", "line 2", "non-integer cell 'x'", EDGES]),
    ("edges-unknown-node", api(read_graph, File("g.csv", "0,1\n\n1,5\n")),
     ["g.csv", "line 3", "out of range", EDGES]),
    ("edges-negative-node", api(read_graph, File("g.csv", "0,-1\n")),
     ["g.csv", "line 1", "out of range", EDGES]),
    ("edges-self-loop", api(read_graph, File("g.csv", "0,1\n2,2\n3,3\n")),
     ["g.csv", "line 2", "self-loop", EDGES]),
    ("edges-duplicate", api(read_graph, File("g.csv", "0,1\n1,2\n# c\n1,0\n1,2\n")),
     ["g.csv", "line 4", "duplicate edge", "line 1"]),
    ("edges-non-numeric-cell", api(read_graph, File("g.csv", "0,1\n1,2\n2,x\n")),
     ["g.csv", "line 3", "non-integer cell 'x'", EDGES]),
    ("edges-float-cell", api(read_graph, File("g.txt", "0 1\n1.0 2\n")),
     ["g.txt", "line 2", "non-integer cell '1.0'", EDGES]),
    ("edges-empty-cell", api(read_graph, File("g.csv", "0,\n")),
     ["g.csv", "line 1", "non-integer cell ''", EDGES]),
    ("edges-three-columns", api(read_graph, File("g.tsv", "0\t1\n1\t2\t3\n")),
     ["g.tsv", "line 2", "expected 2 columns, found 3", EDGES]),
    ("edges-one-column", api(read_graph, File("g.csv", "0\n")),
     ["g.csv", "line 1", "expected 2 columns, found 1", EDGES]),
    ("edges-other-separator", api(read_graph, File("g.csv", "0;1\n")),
     ["g.csv", "line 1", "found 1", EDGES]),
    ("edges-other-header", api(read_graph, File("g.csv", "from,to\n0,1\n")),
     ["g.csv", "line 1", "non-integer cell 'from'", EDGES]),
    ("edges-late-header", api(read_graph, File("g.csv", "0,1\nsource,target\n")),
     ["g.csv", "line 2", "'source'", EDGES]),
    ("edges-empty-file", api(read_graph, File("g.csv")), ["g.csv", "file is empty", "0..4"]),
    ("edges-header-only", api(read_graph, File("g.csv", "source,target\n")),
     ["g.csv", "no edge lines", EDGES]),
    ("edges-comments-only", api(read_graph, File("g.csv", "# nothing\n\n")),
     ["g.csv", "no edge lines", EDGES]),
    ("edges-binary-file", api(read_graph, File("g.csv", BINARY)),
     ["g.csv", "not UTF-8 text", EDGES]),
    ("graph-unsupported-file-type", api(read_graph, File("g.json", "{}")),
     ["g.json", "unsupported file type '.json'", "accepted: .graphml"]),
    ("graphml-edge-to-undeclared-node", api(read_graph, graphml(nodes(4) + edge(0, 4))),
     ["g.graphml", "node '4'", "no <node>", GRAPHML]),
    ("graphml-edge-to-unknown-node", api(read_graph, graphml(nodes(5) + edge(0, 7))),
     ["g.graphml", "node '7'", "no <node>", GRAPHML]),
    ("graphml-fewer-nodes-than-consumers", api(read_graph, graphml(nodes(3) + edge(0, 1))),
     ["g.graphml", "expected 5 nodes, found 3", GRAPHML]),
    ("graphml-more-nodes-than-consumers", api(read_graph, graphml(nodes(6))),
     ["g.graphml", "expected 5 nodes, found 6", GRAPHML]),
    ("graphml-node-id-not-a-number", api(read_graph, graphml(nodes(4) + '<node id="n4"/>')),
     ["g.graphml", "'n4'", GRAPHML]),
    ("graphml-node-id-out-of-range", api(read_graph, graphml(nodes(4) + '<node id="7"/>')),
     ["g.graphml", "node id '7' is not one of '0'..'4'", GRAPHML]),
    ("graphml-self-loop", api(read_graph, graphml(nodes(5) + edge(2, 2))),
     ["g.graphml", "self-loop on node '2'", "not accepted"]),
    ("graphml-duplicate-edge", api(read_graph, graphml(nodes(5) + edge(2, 3) + edge(3, 2))),
     ["g.graphml", "duplicate edge", "once"]),
    ("graphml-directed", api(read_graph, graphml(nodes(5) + edge(0, 1), directed=True)),
     ["g.graphml", "directed", GRAPHML]),
    ("graphml-malformed-xml", api(read_graph, File("g.graphml", "<graphml><graph")),
     ["g.graphml", "cannot read GraphML", GRAPHML]),
    ("graphml-binary-file", api(read_graph, File("g.graphml", BINARY)),
     ["g.graphml", "cannot read GraphML", GRAPHML]),
    ("graphml-empty-file", api(read_graph, File("g.graphml")), ["g.graphml", "file is empty"]),
    # --- sweep specs
    ("spec-unknown-design", sweep(spec('design = "box"\n')),
     ["design", "'grid', 'lhs', 'sobol' or 'morris'"]),
    ("factor-values-and-range", sweep(spec(FACTOR + "values = [0.1]\nrange = [0.0, 0.2]\n")),
     ["factors.x", "exactly one of values, levels or range"]),
    ("factor-range-low-above-high",
     sweep(spec('design = "lhs"\n' + FACTOR + "range = [0.3, 0.1]\n")),
     ["factors.x", "range must be [low, high] with low < high"]),
    ("factor-values-empty", sweep(spec(FACTOR + "values = []\n")),
     ["factors.x", "values must not be empty"]),
    ("factor-reserved-name",
     api(Experiment, name="t", metrics=["hhi"], factors={"point": {"path": "days", "values": [3]}}),
     ["factors.point", "must be an identifier and not one of"]),
    ("grid-with-range-factor",
     api(Experiment, name="t", metrics=["hhi"], factors={"x": {"path": "a.b", "range": [0, 1]}}),
     ["design 'grid' needs values or levels"]),
    ("sampled-design-without-range", sweep(spec('design = "lhs"\n' + FACTOR + "values = [0.1]\n")),
     ["design 'lhs' needs at least one factor with a range"]),
    ("sobol-samples-not-power-of-2",
     sweep(spec('design = "sobol"\nsamples = 6\n' + FACTOR + "range = [0.1, 0.3]\n")),
     ["samples", "sobol needs a power of two", "got 6"]),
    ("spec-unknown-metric",
     sweep(File("spec.toml", 'scenario = "minimal"\nmetrics = ["nosuchmetric"]\n')),
     ["'nosuchmetric' is not a market metric", "accepted: gmv_rmb"]),
    ("spec-market-metric-per-platform", api(Experiment, name="t", metrics=["video.hhi"]),
     ["'hhi' is not a platform metric", "accepted"]),
    ("spec-unknown-channel", api(Experiment, name="t", metrics=["video.tv.gmv_rmb:sum"]),
     ["channel 'tv' is not a sales channel", "accepted: all, *, live_own_shop"]),
    ("spec-unknown-metric-platform",
     sweep(File("spec.toml", 'scenario = "minimal"\nmetrics = ["tmall.gmv_rmb:sum"]\n')),
     ["unknown platform 'tmall'", "accepted: ['all', '*', 'video', 'mall']"]),
    ("spec-unknown-agg",
     sweep(File("spec.toml", 'scenario = "minimal"\nmetrics = ["gmv_rmb:median"]\n')),
     ["metrics.0.agg", "'mean', 'sum'", "'daily'"]),
    ("spec-window-after-run", window("[10, 20]"),
     ["metric hhi_mean", "window [10, 20) is outside the run",
      "accepted: a window overlapping [0, 5)"]),
    ("spec-window-before-run", window("[2018-01-01, 2018-02-01]"),
     ["window [2018-01-01, 2018-02-01) is outside the run",
      "overlapping [2019-01-01, 2019-01-06)"]),
    ("spec-window-reversed",
     api(Experiment, name="t", metrics=[{"metric": "hhi", "window": [5, 2]}]),
     ["window must be [start, end) with start < end"]),
    ("spec-metric-columns-not-unique",
     api(Experiment, name="t", metrics=["gmv_rmb", {"metric": "hhi", "name": "gmv_rmb_mean"}]),
     ["metric column names must be unique"]),
    ("spec-placeholder-without-factor",
     api(Experiment, name="t", metrics=["hhi"], overrides=["platforms.video.ad_load=${nope}"]),
     ["no factor 'nope'"]),
    ("spec-expect-direction",
     api(Experiment, name="t", metrics=["hhi"], factors={"x": {"path": "days", "values": [3, 4]}},
         expect=[{"metric": "hhi_mean", "direction": "up", "factor": "x"}]),
     ["expect.0.direction", "'higher' or 'lower'"]),
    ("spec-zero-replicates", sweep(spec("replicates = 0\n")),
     ["replicates", "greater than or equal to 1"]),
    ("spec-zero-days",
     sweep(File("spec.toml", 'scenario = "minimal"\ndays = 0\nmetrics = ["hhi"]\n')),
     ["days", "greater than or equal to 1"]),
    ("spec-scenario-missing",
     sweep(File("spec.toml", 'scenario = "nope.toml"\nmetrics = ["hhi"]\n')),
     ["scenario: 'nope.toml' is neither a built-in scenario nor a .toml file", "accepted"]),
    ("spec-factor-value-out-of-range", sweep(spec(FACTOR + "values = [2.0]\n")),
     ["platforms.video.ad_load", "less than or equal to 1"]),
    ("spec-factor-unknown-path",
     sweep(spec('[factors.x]\npath = "platforms.video.nope"\nvalues = [0.1]\n')),
     ["platforms.video.nope", *UNKNOWN, "ad_load"]),
    ("spec-bad-override", sweep(spec('overrides = ["nonsense"]\n')),
     ["'nonsense'", "expected dotted.path=value"]),
    ("spec-quick-without-table", [*sweep(spec("")), "--quick"], ["no [quick] table"]),
    ("sweep-unknown-experiment-name", sweep("no-such-experiment"),
     ["no experiment 'no-such-experiment'", "livemarket experiments"]),
    ("sweep-scheduler-and-slurm", [*sweep(spec("")), "--scheduler", "tcp://x:1", "--slurm"],
     ["--scheduler or --slurm, not both"]),
    ("sensitivity-on-grid-spec",
     ["sensitivity", spec(FACTOR + "values = [0.1]\n"), "--workers", "0", "--no-progress"],
     ["sensitivity needs design = 'sobol' or 'morris'", "got 'grid'"]),
    ("sensitivity-unknown-metric", sensitivity("--metrics", "hhi"),
     ["'hhi' is not a scalar metric of the spec", "accepted: ['gmv_rmb_sum']"]),
    ("sensitivity-confidence-above-1", sensitivity("--conf-level", "1.5"),
     ["conf_level", "1.5", "accepted range (0, 1)"]),
    # --- calibration and validation
    ("calibration-unknown-target",
     ["calibrate", File("cal.toml", 'in_sample = ["x"]\n' + PARAM + "{low = 0.1, high = 0.2}\n")],
     ["in_sample", "unknown target(s) ['x']", "accepted:", "shelf_share_taobao"]),
    ("calibration-low-above-high", ["calibrate", cal(PARAM + "{ low = 0.3, high = 0.2 }\n")],
     ["low (0.3) must be below high (0.2)"]),
    ("calibration-log-with-zero-low",
     ["calibrate", cal(PARAM + "{ low = 0.0, high = 0.2, log = true }\n")],
     ["log = true needs low > 0"]),
    ("calibration-parameter-not-in-scenario",
     ["calibrate", cal('[parameters]\n"platforms.video.nope" = { low = 0.1, high = 0.2 }\n')],
     ["parameters.'platforms.video.nope'", "is not set in scenario 'minimal'"]),
    ("calibration-range-outside-field", ["calibrate", cal(PARAM + "{ low = 0.1, high = 1.5 }\n")],
     ["platforms.video.ad_load", "less than or equal to 1"]),
    ("calibration-too-few-consumers",
     ["calibrate", cal("consumers = 10\n" + PARAM + "{ low = 0.1, high = 0.2 }\n")],
     ["consumers", "greater than or equal to 50"]),
    ("calibration-storage-unknown-scheme",
     ["calibrate", cal('storage = "redis://localhost/study"\n' + PARAM + "{ low = 0.1, high = 0.2 }\n")],
     ["storage: 'redis://localhost/study' is not a database URL", "accepted: sqlite:///"]),
    ("calibration-storage-a-path", ["calibrate", cal('storage = "study.db"\n' + PARAM + "{ low = 0.1, high = 0.2 }\n")],
     ["storage: 'study.db' is not a database URL"]),
    ("calibration-api-unknown-key",
     api(load_spec, cal("trails = 3\n" + PARAM + "{ low = 0.1, high = 0.2 }\n")),
     ["trails", *UNKNOWN, "trials"]),
    ("validate-zero-replicates", ["validate", "china-2019", "--replicates", "0"],
     ["--replicates", "at least 1"]),
    ("validate-zero-days", ["validate", "china-2019", "--days", "0"],
     ["days", "greater than or equal to 1"]),
    ("validate-scenario-without-its-platforms", ["validate", "minimal", "--days", "3"],
     ["validate compares a scenario with the Chinese market", "needs the platforms ['douyin', 'jd',",
      "'minimal' has ['mall', 'video']", "accepted: china-2019"]),
    ("validate-negative-seed", ["validate", "china-2019", "--seed", "-1"], ["--seed -1", "accepted: 0 or more"]),
    ("validate-negative-workers", ["validate", "china-2019", "--workers", "-2"], ["--workers -2", "0 or more"]),
    ("validate-unknown-override", ["validate", "china-2019", "--set", "foo=1"], ["foo", *UNKNOWN]),
    # --- figures: given something that is not run output
    ("figures-missing-folder", ["figures", Missing("run")], ["run does not exist"]),
    ("figures-empty-folder", ["figures", Folder("run")], ["run: no Parquet files", RUN_OUTPUT]),
    ("figures-scenario-file", ["figures", File("minimal.toml", MINIMAL)],
     ["minimal.toml", "not a Parquet file", RUN_OUTPUT]),
    ("figures-garbage-results",
     ["figures", Folder("run", (File("results.parquet", b"not parquet"),))],
     ["results.parquet", "not a Parquet file", RUN_OUTPUT]),
    ("figures-table-without-results-columns", ["figures", Folder("run", (OTHER_TABLE,))],
     ["run: not a results table", "run_id", RUN_OUTPUT]),
    ("figures-malformed-run-json",
     ["figures", Folder("run", (RESULTS, File("run.json", "{not json")))],
     ["run.json", "malformed JSON", RUN_OUTPUT]),
    ("figures-run-json-not-an-object",
     ["figures", Folder("run", (RESULTS, File("run.json", "[1, 2]")))],
     ["run.json", "expected a JSON object, found list"]),
    ("figures-run-json-bad-parameters",
     ["figures", Folder("run", (RESULTS, File("run.json", '{"parameters": {"days": 0}}')))],
     ["run.json: parameters", "days", "greater than or equal to 1"]),
    ("figures-malformed-manifest",
     ["figures", Folder("sweep", (File("manifest.json", "{"), File("runs/x.txt", "x")))],
     ["manifest.json", "malformed JSON", RUN_OUTPUT]),
    ("figures-manifest-without-schema",
     ["figures", Folder("sweep", (File("manifest.json", "{}"), File("runs/x.txt", "x")))],
     ["sweep: not a readable sweep folder", "schema", RUN_OUTPUT]),
    ("figures-unknown-format", ["figures", Folder("run", (RESULTS,)), "--formats", "png,xyz"],
     ["formats: 'xyz' is not supported", "accepted:", "svg"]),
    # --- nan and inf: refused by name in every float
    ("nan-behaviour-coefficient", run_set("behaviour.consider_intercept=nan"),
     ["behaviour.consider_intercept", FINITE]),
    ("inf-internet-users", run_set("internet_users=inf"), ["internet_users", FINITE]),
    ("minus-inf-minutes", run_set("platforms.video.minutes_per_day=-inf"),
     ["platforms.video.minutes_per_day", FINITE]),
    ("nan-probability", run_set("platforms.video.ad_load=nan"), ["platforms.video.ad_load", FINITE]),
    ("nan-in-price-list", run_set("categories.price_rmb=[nan, 80.0, 60.0]"),
     ["categories.price_rmb.0", FINITE]),
    ("inf-in-wallet-table", run_set("consumer.wallets={alipay=inf}"), ["consumer.wallets.alipay", FINITE]),
    ("nan-in-policy-set", run_set("policies=[{platform='video', step=1, set={ad_load=nan}}]"),
     ["policies[0].set.ad_load", FINITE]),
    ("nan-festival-multiplier",
     run_set("festivals=[{name='x', month=11, first_day=1, last_day=2, demand_multiplier=nan}]"),
     ["festivals.0.demand_multiplier", FINITE]),
    ("inf-graph-degree", run_set("graph.mean_degree=inf"), ["graph.mean_degree", FINITE]),
    ("nan-restore-threshold", run_set("platforms.video.restore_links_below_growth=nan"),
     ["platforms.video.restore_links_below_growth", FINITE]),
    ("nan-spec-factor-value", sweep(spec(FACTOR + "values = [0.1, nan]\n")),
     ["platforms.video.ad_load", FINITE]),
    ("inf-spec-factor-range", sweep(spec('design = "lhs"\n' + FACTOR + "range = [0.1, inf]\n")),
     ["factors.x.range", FINITE]),
    ("nan-spec-time-limit", sweep(spec("run_time_limit_s = nan\n")), ["run_time_limit_s", FINITE]),
    ("inf-sweep-time-limit", [*sweep(spec("")), "--time-limit", "inf"],
     ["time limit must be more than 0 s", "accepted: a finite number"]),
    ("nan-calibration-bound", ["calibrate", cal(PARAM + "{ low = nan, high = 0.2 }\n")],
     ["low", FINITE]),
    # --- dates that exist, and fall inside the run where required
    ("festival-on-february-30", run_set("festivals=[{name='x', month=2, first_day=28, last_day=30}]"),
     ["festivals.0", "February has no day 30", "accepted: first_day and last_day in 1..29"]),
    ("festival-on-april-31", run_set("festivals=[{name='x', month=4, first_day=31, last_day=31}]"),
     ["festivals.0", "April has no day 31", "1..30"]),
    ("supply-shock-before-start", run_set("supply_shocks=[{start=2018-12-01, end=2019-02-01}]"),
     ["supply_shocks[0].start 2018-12-01 is before start_date 2019-01-01", "accepted: a start on or after"]),
    ("supply-shock-impossible-date", run_set("supply_shocks=[{start='2019-02-29', end=2019-03-01}]"),
     ["supply_shocks.0.start", "day value is outside expected range"]),
    ("scandal-impossible-date", run_set("scandals=[{date='2019-04-31'}]"),
     ["scandals.0.date", "day value is outside expected range"]),
    # --- a policy's set is a partial platform config, checked against the scenario
    ("policy-set-unknown-outbound-platform",
     run_set("policies=[{platform='video', step=1, set={outbound_links=['tmall']}}]"),
     ["policies[0].set.outbound_links", "unknown shelf platform 'tmall'", "['mall'] accepted"]),
    ("policy-set-unknown-logistics-partner",
     run_set("policies=[{platform='video', step=1, set={logistics_partners=['sf']}}]"),
     ["policies[0].set.logistics_partners", "unknown platform 'sf'", "accepted"]),
    ("policy-set-unknown-wallet",
     run_set("policies=[{platform='mall', step=1, set={accepted_wallets=['paypal']}}]"),
     ["policies[0].set.accepted_wallets", "unknown wallet 'paypal'", "accepted"]),
    ("policy-set-traffic-from-shelf-platform",
     run_set("policies=[{platform='mall', step=1, set={traffic_bought={mall=0.1}}}]"),
     ["policies[0].set.traffic_bought", "unknown content platform 'mall'", "['video'] accepted"]),
    ("policy-set-wrong-type", run_set("policies=[{platform='video', step=1, set={link_ban='yes'}}]"),
     ["policies[0].set.link_ban", "valid boolean"]),
    # --- sizes: bounded, and what would not fit in memory is refused with the estimate
    ("days-beyond-100-years", ["run", "minimal", "--days", "3000000"],
     ["days: at most 36,600 (100 years) accepted", "3,000,000"]),
    ("consumers-beyond-memory", ["run", "minimal", "--consumers", "1000000000000"],
     ["consumers: consumers=1,000,000,000,000", "GiB of memory", "this machine has",
      "accepted: a population whose estimate fits in memory"]),
    ("brands-beyond-memory", run_set("brands.count=1000000000000"),
     ["brands.count=1,000,000,000,000", "GiB of memory"]),
    ("spec-consumers-beyond-memory",
     sweep(File("spec.toml", SPEC.replace("consumers = 100", "consumers = 1000000000000"))),
     ["GiB of memory", "this machine has"]),
    ("sweep-too-many-runs", sweep(spec("replicates = 100000000\n")),
     ["100,000,000 runs", "accepted: at most 1,000,000 runs per sweep"]),
    ("sweep-too-many-points", sweep(spec('design = "lhs"\nsamples = 2000000\n' + FACTOR + "range = [0.1, 0.3]\n")),
     ["2,000,000 runs", "at most 1,000,000"]),
    ("sweep-negative-workers", ["sweep", spec(""), "--workers", "-1", "--no-progress"],
     ["--workers: -1 is not accepted", "accepted: 0 (no Dask) or more"]),
    ("sweep-negative-chunk-size", [*sweep(spec("")), "--chunk-size", "-3"],
     ["--chunk-size: -3 is not accepted", "accepted: 1 or more"]),
    ("sweep-zero-chunk-size", [*sweep(spec("")), "--chunk-size", "0"], ["--chunk-size: 0 is not accepted"]),
    ("sweep-slurm-zero-jobs", [*sweep(spec("")), "--slurm", "--jobs", "0"], ["--jobs: 0 is not accepted"]),
    ("sweep-slurm-zero-cores", [*sweep(spec("")), "--slurm", "--cores", "0"], ["--cores: 0 is not accepted"]),
    ("sweep-out-is-a-file", [*sweep(spec("")), "--out", File("out")], ["--out out: is a file", "accepted"]),
    ("sweep-out-holds-other-files", [*sweep(spec("")), "--out", Folder("out", (File("paper.tex", "x"),))],
     ["--out out: holds files that are not a sweep's (paper.tex)", "accepted: a new or empty folder"]),
    # --- graph files that do not cover the population
    ("edges-fewer-nodes-than-consumers", graph_run(File("g.csv", "0,1\n1,2\n")),
     ["g.csv", "the edges name consumers 0..2 only, so 2 of the 5 consumers", "graph.allow_isolated = true"]),
    ("edges-fewer-nodes-api", api(read_graph, File("g.csv", "0,1\n")),
     ["g.csv", "3 of the 5 consumers (ids 2..4) would have no tie", "accepted: an edge list over ids 0..4"]),
    # --- run --out that cannot hold a run, found before the simulation
    ("run-out-is-a-file", ["run", "minimal", "--days", "2", "--out", File("out")],
     ["--out out: is a file", "accepted: a new or empty folder"]),
    ("run-out-holds-other-files", ["run", "minimal", "--days", "2", "--out", Folder("out", (File("a.txt", "x"),))],
     ["--out out: holds files that are not a run's (a.txt)", "accepted"]),
    ("run-out-is-the-current-folder", ["run", "minimal", "--days", "2", "--out", "."],
     ["--out .: is the current folder or holds it", "accepted: a folder below it"]),
    ("run-out-below-a-file", ["run", "minimal", "--days", "2", "--out", Joined("", File("f", "x")), "--out", "f/run"],
     ["--out f/run", "is not a folder this user can write in"]),
]  # fmt: skip


def _files(root: Path) -> set[Path]:
    return set(root.rglob("*"))


@pytest.mark.parametrize(("given", "expected"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_bad_input_is_one_clear_error(given, expected, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # default output folders (results/...) would land here
    if isinstance(given, api):
        call = given.prepare(tmp_path)
        before = _files(tmp_path)
        with pytest.raises(ConfigError) as info:
            call()
        output = str(info.value)
    else:
        args = [_make(a, tmp_path) for a in given]
        before = _files(tmp_path)
        result = CliRunner().invoke(app, args)
        output = result.output
        assert result.exit_code == 2, output
        assert "Traceback" not in output and isinstance(result.exception, SystemExit), output
        assert len(re.findall(r"\berror\b", output, re.IGNORECASE)) == 1, output  # one message
        assert _files(tmp_path) == before, "refused input wrote files"
    missing = [e for e in expected if e not in output]
    assert not missing, f"{missing} not in: {output}"
    assert _files(tmp_path) == before


def test_case_ids_are_unique():
    ids = [c[0] for c in CASES]
    assert len(ids) == len(set(ids))


def test_the_suite_counts_its_cases():
    probabilities = 2 * (len(_probability_fields()) + len(PROBABILITY_ITEMS))  # above and below each
    print(f"\nbad-input suite: {len(CASES)} named cases + {probabilities} probability bounds "
          f"= {len(CASES) + probabilities} bad inputs, each one clear error")  # fmt: skip
    assert len(CASES) >= 150


# ----------------------------------------------------------------------------- probabilities
def _probability_fields() -> list[str]:
    """Every scalar field in [0, 1] of the scenario config, as a dotted override path."""
    sections = {
        "platforms.video": PlatformConfig, "consumer": ConsumersConfig,
        "behaviour": BehaviourConfig, "brands": BrandsConfig, "streamers": StreamersConfig,
        "graph": GraphConfig,
    }  # fmt: skip
    paths = []
    for prefix, model in sections.items():
        for name, f in model.model_fields.items():
            ge = [m.ge for m in f.metadata if isinstance(m, Ge)]
            le = [m.le for m in f.metadata if isinstance(m, Le)]
            if ge == [0.0] and le == [1.0]:
                paths.append(f"{prefix}.{name}")
    return paths


#: Probabilities inside lists and tables: (path of the bad value in the message, override).
PROBABILITY_ITEMS = [
    ("categories.return_rate.1", "categories.return_rate=[0.3, {}, 0.1]"),
    ("consumer.tier_shares.0", "consumer.tier_shares=[{}, 0.5, 0.2, 0.3]"),
    ("consumer.wallets.mallpay", "consumer.wallets={{mallpay = {}, videopay = 0.3}}"),
    ("brands.listing_probability.mall", "brands.listing_probability={{mall = {}}}"),
    ("brands.own_shop_probability.video", "brands.own_shop_probability={{video = {}}}"),
    ("streamers.platform_shares.video", "streamers.platform_shares={{video = {}}}"),
    ("platforms.mall.traffic_bought.video", "platforms.mall.traffic_bought={{video = {}}}"),
    ("supply_shocks.0.capacity_factor",
     "supply_shocks=[{{start = 2019-02-01, end = 2019-03-01, capacity_factor = {}}}]"),
]


def test_probability_fields_are_found():
    fields = _probability_fields()
    assert len(fields) >= 40
    assert {"platforms.video.take_rate", "consumer.bass_q", "behaviour.return_bad"} <= set(fields)
    assert {"brands.quality_mean", "streamers.commission", "graph.rewire_prob"} <= set(fields)


@pytest.mark.parametrize(
    ("path", "override"),
    [(p, p + "={}") for p in _probability_fields()] + PROBABILITY_ITEMS,
    ids=[p for p in _probability_fields()] + [p for p, _ in PROBABILITY_ITEMS],
)
def test_every_probability_field_refuses_values_outside_0_1(path, override):
    above, below = ("1.5", "less than or equal to 1"), ("-0.5", "greater than or equal to 0")
    for value, accepted in (above, below):
        with pytest.raises(ConfigError) as info:
            load_scenario("minimal", [override.format(value)])
        assert path in str(info.value) and accepted in str(info.value), str(info.value)
