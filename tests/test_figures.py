"""Paper figures: style, save helper, figure functions, `livemarket figures` on runs and sweeps."""

import itertools
import json
import re

import matplotlib as mpl
import numpy as np
import polars as pl
import pytest
from PIL import Image
from scipy import stats
from typer.testing import CliRunner

from livemarket import LiveCommerceModel
from livemarket import figures as F
from livemarket.cli import app
from livemarket.figures.data import band, per_run
from livemarket.figures.graph import sample_nodes
from livemarket.figures.sweepdata import runs_table
from livemarket.figures.sweeps import sensitivity_indices

RUN_FIGURES = {
    "gmv_shares", "live_commerce", "funnel", "channel_mix", "market_indicators", "trust", "graph_loyalty",
    "graph_trust", "trust_distribution", "policy_video_mall_step10",
}  # fmt: skip
OKABE_ITO = {"#0072b2", "#d55e00", "#009e73", "#cc79a7", "#e69f00", "#56b4e9", "#000000", "#f0e442"}


def fonts_embedded(pdf: bytes) -> bool:
    """Every font of the PDF is an embedded TrueType font (no Type 3, no unembedded font)."""
    descriptors = len(re.findall(rb"/Type\s*/FontDescriptor", pdf))
    return (
        b"/Type3" not in pdf
        and descriptors > 0
        and pdf.count(b"/FontFile2") == descriptors
        and set(re.findall(rb"/Subtype\s*/(\w+)", pdf))
        <= {b"Type0", b"CIDFontType2", b"TrueType", b"Image", b"Form", b"XML"}
    )


def check_written(folder, names, formats=("png",)):
    assert {p.suffix for p in folder.iterdir()} == {f".{fmt}" for fmt in formats}
    for name in names:
        for fmt in formats:
            path = folder / f"{name}.{fmt}"
            assert path.is_file() and path.stat().st_size > 1000, path
        if "pdf" in formats:
            assert fonts_embedded((folder / f"{name}.pdf").read_bytes()), (
                f"{name}.pdf: fonts not embedded as TrueType"
            )
        width_px = Image.open(folder / f"{name}.png").size[0]
        assert width_px in (round(F.SINGLE_COLUMN_IN * 300), round(F.DOUBLE_COLUMN_IN * 300)), (
            name,
            width_px,
        )


# ---------------------------------------------------------------- style and save
def test_style_file_is_shipped_and_journal_ready():
    assert F.STYLE_PATH.is_file()
    before = dict(mpl.rcParams)
    with F.paper_style():
        rc = mpl.rcParams
        assert rc["pdf.fonttype"] == 42 and rc["ps.fonttype"] == 42
        assert rc["savefig.dpi"] == 300
        cycle = {mpl.colors.to_hex(c["color"]) for c in rc["axes.prop_cycle"]}
    assert cycle == OKABE_ITO
    assert mpl.rcParams["savefig.dpi"] == before["savefig.dpi"]  # restored after the context


def test_save_writes_pdf_svg_png_at_column_width(tmp_path):
    fig, ax = F.figure("single")
    ax.plot([0, 1], [0, 1], label="line")
    ax.set_xlabel("x (units)")
    assert [p.suffix for p in F.save(fig, tmp_path / "default", close=False)] == [".pdf", ".png"]  # SVG on request
    paths = F.save(fig, tmp_path / "demo", ("pdf", "svg", "png"))
    assert [p.suffix for p in paths] == [".pdf", ".svg", ".png"]
    assert fonts_embedded(paths[0].read_bytes())
    png = Image.open(paths[2])
    assert png.size[0] == 1050 and round(png.info["dpi"][0]) == 300
    assert b"<svg" in paths[1].read_bytes()[:500]


# ---------------------------------------------------------------- numbers behind the figures
def tiny_runs(metric="m"):
    rows = []
    for rep, offset in enumerate([0.0, 2.0]):
        for step in range(3):
            rows.append({"run_id": f"r{rep}", "step": step, "platform": "a", "channel": "all",
                         "metric": metric, "value": step + offset, "value_scaled": None})  # fmt: skip
    return pl.DataFrame(rows).with_columns(
        date=pl.date(2020, 1, 1) + pl.duration(days=pl.col("step"))
    )


def test_band_is_mean_with_t_interval_over_replicates():
    out = band(tiny_runs(), "m", smooth_days=1).sort("step")
    assert out["mean"].to_list() == [1.0, 2.0, 3.0]
    half = stats.t.ppf(0.975, 1) * np.std([0.0, 2.0], ddof=1) / np.sqrt(2)
    np.testing.assert_allclose(out["hi"] - out["mean"], half)
    assert out["n"].to_list() == [2, 2, 2]
    assert out["lo"].min() == 0.0  # never below zero for a metric whose values are not


def test_band_stays_inside_the_metric_range():
    out = band(tiny_runs("hhi"), "hhi", smooth_days=1)
    assert out["hi"].max() == 1.0 and out["lo"].min() == 0.0


def test_per_run_averages_the_last_days():
    runs = per_run(tiny_runs(), "m", last_days=2).sort("run_id")
    assert runs["y"].to_list() == [1.5, 3.5]


def test_sensitivity_index_is_one_for_the_factor_that_decides():
    runs = pl.DataFrame(
        {"a": [0, 0, 1, 1] * 3, "b": [0, 1] * 6, "y": [1.0, 1.0, 5.0, 5.0] * 3}
    ).with_columns(
        platform=pl.lit("all"),
        metric=pl.lit("m"),
        outcome=pl.lit("m"),
        label=pl.lit("M (u)"),
        note=pl.lit(""),
    )
    s = sensitivity_indices(runs, ["a", "b"], metrics=["m"], n_boot=20)
    assert s.filter(pl.col("factor") == "a")["S1"].item() == pytest.approx(1.0)
    assert s.filter(pl.col("factor") == "b")["S1"].item() == pytest.approx(0.0)


def test_graph_sample_is_connected_neighbourhood_and_seeded():
    model = LiveCommerceModel("minimal", consumers=800, rng=3)
    a, b = (
        sample_nodes(model.social_graph, 120, seed=5),
        sample_nodes(model.social_graph, 120, seed=5),
    )
    assert len(a) == 120 == len(set(a.tolist())) and np.array_equal(a, b)
    g = model.social_graph.to_networkx().subgraph(a.tolist())
    assert max(len(c) for c in __import__("networkx").connected_components(g)) > 60


# ---------------------------------------------------------------- livemarket figures
@pytest.fixture(scope="module")
def run_folder(tmp_path_factory):
    out = tmp_path_factory.mktemp("run")
    result = CliRunner().invoke(app, ["run", "minimal", "--days", "30", "--consumers", "500", "--out", str(out),
                                      "--set", "policies=[{platform='video', step=10, set={link_ban=true}},"
                                      "{platform='mall', step=10, set={protection=0.6}}]",  # one figure per date
                                      "--no-progress"])  # fmt: skip
    assert result.exit_code == 0, result.output
    return out


def test_figures_command_on_a_run_writes_the_full_set_as_png(run_folder):
    result = CliRunner().invoke(
        app, ["figures", str(run_folder), "--out", str(run_folder / "figs"), "--no-progress"]
    )
    assert result.exit_code == 0, result.output
    written = {p.stem for p in (run_folder / "figs").iterdir()}
    assert written == RUN_FIGURES
    check_written(run_folder / "figs", RUN_FIGURES)


def test_figures_command_fails_clearly(tmp_path):
    result = CliRunner().invoke(app, ["figures", str(tmp_path / "missing")])
    assert result.exit_code == 2 and "does not exist" in result.output


def tidy_sweep(days=25, consumers=300, replicates=2) -> pl.DataFrame:
    """A 2 x 2 grid sweep of the minimal scenario in the tidy shape (point, replicate, factors)."""
    frames = []
    levels = list(itertools.product([False, True], [0.2, 0.8]))
    for point, (ban, protection) in enumerate(levels):
        for rep in range(replicates):
            rng = np.random.default_rng(np.random.SeedSequence(11, spawn_key=(point, rep)))
            over = [
                f"platforms.video.link_ban={str(ban).lower()}",
                f"platforms.video.protection={protection}",
            ]
            model = LiveCommerceModel(
                "minimal", consumers=consumers, overrides=over, rng=rng, run_id=f"p{point}-r{rep}"
            )
            frames.append(model.run(days).with_columns(point=pl.lit(point), replicate=pl.lit(rep),
                                                       link_ban=pl.lit(ban),
                                                       protection=pl.lit(protection)))  # fmt: skip
    return pl.concat(frames)


@pytest.fixture(scope="module")
def sweep_frame():
    return tidy_sweep()


def test_figures_command_on_a_tidy_sweep_writes_the_full_set(sweep_frame, tmp_path):
    sweep_frame.write_parquet(tmp_path / "runs.parquet")
    result = CliRunner().invoke(app, ["figures", str(tmp_path), "--formats", "png,pdf", "--no-progress"])
    assert result.exit_code == 0, result.output
    names = {"compare_link_ban", "compare_protection", "series_link_ban", "series_protection",
             "heatmap_link_ban__protection", "sensitivity"}  # fmt: skip
    assert {p.stem for p in (tmp_path / "figures").iterdir()} == names
    check_written(tmp_path / "figures", names, formats=("png", "pdf"))


def store_folder(path, frame: pl.DataFrame, with_indices: bool):
    """The layout of a livemarket.sweeps folder: manifest.json and runs/chunk-*.parquet."""
    metrics = [
        {"metric": "gmv_share", "platform": "video", "channel": "all", "agg": "mean", "window": None,
         "scaled": False, "name": "video_gmv_share_mean"},
        {"metric": "gmv_share", "platform": "mall", "channel": "all", "agg": "mean", "window": None,
         "scaled": False, "name": "mall_gmv_share_mean"},
        {"metric": "gmv_rmb", "platform": "all", "channel": "all", "agg": "sum", "window": None,
         "scaled": True, "name": "gmv_rmb_sum"},
        {"metric": "gmv_share", "platform": "video", "channel": "all", "agg": "daily", "window": None,
         "scaled": False, "name": "video_gmv_share_daily"},
    ]  # fmt: skip
    keys = ["run_id", "point", "replicate", "link_ban", "protection"]
    wide = (
        frame.filter(pl.col("channel") == "all")
        .group_by(keys, maintain_order=True)
        .agg(
            video_gmv_share_mean=pl.col("value")
            .filter(pl.col("metric") == "gmv_share", pl.col("platform") == "video")
            .mean(),
            mall_gmv_share_mean=pl.col("value")
            .filter(pl.col("metric") == "gmv_share", pl.col("platform") == "mall")
            .mean(),
            gmv_rmb_sum=pl.col("value_scaled")
            .filter(pl.col("metric") == "gmv_rmb", pl.col("platform") == "all")
            .sum(),
            video_gmv_share_daily=pl.col("value").filter(
                pl.col("metric") == "gmv_share", pl.col("platform") == "video"
            ),
        )
        .with_columns(status=pl.lit("ok"), chunk=pl.lit(0))
    )
    (path / "runs").mkdir(parents=True)
    wide.write_parquet(path / "runs" / "chunk-000000.parquet")
    spec = {"name": "demo", "scenario": "minimal", "overrides": [], "metrics": metrics,
            "factors": {"link_ban": {"values": [False, True]}, "protection": {"values": [0.2, 0.8]}}}  # fmt: skip
    (path / "manifest.json").write_text(json.dumps({"format": 1, "spec": spec}))
    if with_indices:  # the tidy table of livemarket.sweeps.sensitivity.write
        pl.DataFrame({"metric": ["gmv_rmb_sum"] * 4, "factor": ["link_ban", "link_ban", "protection", "protection"],
                      "index": ["S1", "ST"] * 2, "value": [0.6, 0.7, 0.1, 0.2], "conf": [0.1] * 4}
                     ).write_parquet(path / "sensitivity.parquet")  # fmt: skip


@pytest.mark.parametrize("with_indices", [False, True])
def test_figures_on_a_sweep_folder_of_the_sweeps_package(sweep_frame, tmp_path, with_indices):
    store_folder(tmp_path, sweep_frame, with_indices)
    res = F.load_results(tmp_path)
    assert res.kind == "sweep" and res.factors == ["link_ban", "protection"]
    runs = runs_table(res, ["gmv_rmb_sum"])
    assert runs["label"][0] == "GMV (bn RMB)" and runs["note"][0] == "total over the run"
    written = F.draw_standard(res, tmp_path / "figures", formats=("png",), progress=False)
    assert {p.stem for p in written} == {"compare_link_ban", "compare_protection",
                                         "series_link_ban", "series_protection",
                                         "heatmap_link_ban__protection", "sensitivity"}  # fmt: skip


def test_before_after_with_counterfactual_and_strategy_comparison(sweep_frame):
    policy = sweep_frame.filter(pl.col("link_ban"), pl.col("protection") == 0.2).drop("point")
    base = sweep_frame.filter(~pl.col("link_ban"), pl.col("protection") == 0.2).drop("point")
    fig = F.before_after(
        policy, 12, metrics=["gmv_rmb", "gmv_share:all"], window_days=10, baseline=base, event="ban"
    )
    assert len(fig.axes) == 4 and fig.get_figwidth() == F.DOUBLE_COLUMN_IN
    labelled = [ax.get_ylabel() for ax in fig.axes]
    assert all("(" in text for text in labelled)  # every axis says its unit
    fig = F.strategy_comparison(sweep_frame, "link_ban", metrics=["gmv_share"], last_days=10)
    assert fig.get_figwidth() == F.SINGLE_COLUMN_IN


def test_continuous_factors_are_binned_for_comparison_and_heat_map():
    from scipy.stats import qmc

    frames = []
    for point, (a, b) in enumerate(qmc.LatinHypercube(d=2, seed=1).random(12)):
        over = [f"platforms.video.ad_load={0.02 + 0.3 * a:.4f}", f"platforms.video.protection={b:.4f}"]
        model = LiveCommerceModel("minimal", consumers=200, overrides=over, rng=point, run_id=f"p{point}")
        frames.append(model.run(8).with_columns(point=pl.lit(point), replicate=pl.lit(0),
                                                ad_load=pl.lit(0.02 + 0.3 * a), protection=pl.lit(b)))  # fmt: skip
    sweep = pl.concat(frames)
    fig = F.sweep_heatmap(sweep, "ad_load", "protection", metric="hhi", last_days=5)
    labels = [t.get_text() for t in fig.axes[0].get_xticklabels()]
    assert len(labels) == 5 and all("–" in t for t in labels)  # five quantile bins, not 12 columns
    fig = F.strategy_comparison(sweep, "protection", metrics=["gmv_share"], last_days=5)
    assert len(fig.axes[0].get_xticklabels()) == 5


def test_graph_figures_from_the_saved_state_are_those_of_the_replay(run_folder, tmp_path):
    from livemarket.figures.standard import REPLAYED, _run_jobs, saved_state

    res = F.load_results(run_folder)
    assert saved_state(res) is not None  # livemarket run saved its last day
    saved = {name: draw() for name, draw in _run_jobs(res) if name in REPLAYED}
    stale = F.load_results(run_folder)
    stale.path = tmp_path  # no state.npz there: the model is replayed
    assert saved_state(stale) is None
    replayed = {name: draw() for name, draw in _run_jobs(stale) if name in REPLAYED}
    for name in REPLAYED:
        a, b = (F.save(fig, tmp_path / f"{name}-{k}", ("png",))[0].read_bytes() for k, fig in
                enumerate((saved[name], replayed[name])))  # fmt: skip
        assert a == b, name


def test_figures_drawn_in_two_processes_equal_those_drawn_in_one(run_folder, tmp_path):
    from livemarket.figures import workers

    one = F.draw_standard(run_folder, tmp_path / "one", formats=("png",), progress=False, parallel=False)
    calls = []
    two = workers.in_two_processes(lambda k: calls.append(k) or [one[k]])  # the fork reports its half
    assert two == [one[0], one[1]] and calls == [0]  # the fork's call happened in the fork
    if workers.can_fork():
        both = F.draw_standard(run_folder, tmp_path / "two", formats=("png",), progress=False)
        assert sorted(p.name for p in both) == sorted(p.name for p in one)
        assert all((tmp_path / "two" / p.name).read_bytes() == p.read_bytes() for p in one)


def test_figures_refuse_an_unknown_factor_by_name(tmp_path):
    from typer.testing import CliRunner

    from livemarket.cli import app
    from livemarket.sweeps.runner import run_sweep
    from livemarket.sweeps.spec import Experiment

    spec = Experiment(name="f", scenario="minimal", days=3, consumers=200, replicates=2, root_seed=1,
                      factors={"ban": {"path": "platforms.video.link_ban", "values": [False, True]}},
                      metrics=["gmv_rmb:sum"])  # fmt: skip
    run_sweep(spec, tmp_path / "sweep", workers=0, progress=False)
    result = CliRunner().invoke(app, ["figures", str(tmp_path / "sweep"), "--factors", "bann",
                                      "--out", str(tmp_path / "fig")])  # fmt: skip
    assert result.exit_code == 2, result.output
    assert "--factors: ['bann'] are not columns of this sweep; accepted: ['ban']; did you mean 'ban'?" in result.output


def test_every_sales_channel_has_a_name_and_its_own_colour():
    from livemarket.core.rules import CHANNELS
    from livemarket.figures.data import CHANNEL_NAMES
    from livemarket.figures.style import CHANNEL_COLORS

    assert set(CHANNEL_NAMES) == set(CHANNEL_COLORS) == set(CHANNELS)
    assert len(set(CHANNEL_COLORS.values())) == len(CHANNELS)
