"""Figures a reader can trust at a glance: one colour per platform, no text over text, nothing cut off."""

import json

import matplotlib.colors as mcolors
import polars as pl
import pytest

from livemarket import LiveCommerceModel
from livemarket import figures as F
from livemarket.config import ScenarioConfig, load_scenario
from livemarket.figures.data import nice
from livemarket.figures.layout import layout_problems
from livemarket.figures.load import Results
from livemarket.figures.standard import _run_jobs, _sweep_jobs


def legend_colours(fig) -> dict[str, str]:
    """Legend label (its first word: the platform) -> colour of its line, over every legend of a figure."""
    out = {}
    for legend in [*fig.legends, *(ax.get_legend() for ax in fig.axes if ax.get_legend())]:
        for handle, text in zip(legend.legend_handles, legend.get_texts(), strict=True):
            colour = handle.get_color() if hasattr(handle, "get_color") else handle.get_facecolor()
            out[text.get_text().split(" ")[0]] = mcolors.to_hex(colour)
    return out


def config(platforms: int, consumers: int = 400) -> ScenarioConfig:
    """china-2019 (5 platforms), minimal (2), or china-2019 with two more made-up platforms (7)."""
    base = load_scenario("minimal" if platforms == 2 else "china-2019", consumers=consumers)
    data = base.model_dump(mode="json")
    if platforms == 7:
        data["platforms"]["xigua"] = dict(data["platforms"]["douyin"])
        data["platforms"]["suning"] = dict(data["platforms"]["jd"])
    first = next(iter(data["platforms"]))
    day = 12 if platforms == 2 else "2019-01-13"  # a dated policy, so the before/after figure is drawn
    data["policies"] = [{"platform": first, ("step" if platforms == 2 else "date"): day, "set": {"link_ban": True}}]
    return ScenarioConfig.model_validate(data)


@pytest.fixture(scope="module")
def china():
    # Douyin's live share raised so its rooms sell in a month of 500 consumers (every platform has a legend entry)
    return LiveCommerceModel("china-2019", consumers=500, rng=3, overrides=["platforms.douyin.live_share=0.05"]).run(30)


def test_one_colour_per_platform_in_every_figure(china):
    shares = legend_colours(F.gmv_shares(china, platforms=["douyin", "taobao", "jd"]))
    live = legend_colours(F.live_commerce(china, platforms=["kuaishou", "taobao", "douyin"]))
    before = legend_colours(F.before_after(china, 15, platforms=["pinduoduo", "taobao"], window_days=10))
    for name in ("Douyin", "Taobao/Tmall"):
        assert shares[name] == live[name] == F.PLATFORM_COLORS[name.split("/")[0].lower()].lower()
    assert before["Taobao/Tmall"] == shares["Taobao/Tmall"] and before["Pinduoduo"] != shares["Taobao/Tmall"]
    assert len(set(shares.values())) == len(shares)  # no two platforms of one figure share a colour
    assert len(set(F.PLATFORM_COLORS.values())) == 5 and F.color_of("all") == "#000000"


def test_made_up_platforms_keep_their_colour_across_subsets():
    frame = LiveCommerceModel("minimal", consumers=300, rng=1).run(15)
    one = legend_colours(F.gmv_shares(frame, platforms=["mall"]))
    both = legend_colours(F.gmv_shares(frame, platforms=["video", "mall"]))
    assert one["Mall"] == both["Mall"] != both["Video"]
    assert F.palette(["mall"]) == {"mall": F.color_of("mall")}


@pytest.mark.parametrize("platforms", [2, 5, 7])
def test_every_standard_run_figure_is_laid_out_without_overlap(platforms):
    cfg = config(platforms)
    model = LiveCommerceModel(cfg, run_id="layout")
    frame = model.run(30)
    res = Results(frame=frame, kind="run", meta={"parameters": cfg.model_dump(mode="json")})
    jobs = dict(_run_jobs(res))
    assert {"gmv_shares", "live_commerce", "graph_loyalty"} <= set(jobs)
    assert any(name.startswith("policy_") for name in jobs)
    for name, draw in jobs.items():
        fig = draw()
        assert layout_problems(fig) == [], name
    labels = {t.get_text() for t in F.live_commerce(frame).axes[2].get_yticklabels()}
    assert labels <= {nice(p) for p in cfg.platforms}


def test_layout_check_finds_overlap_and_text_off_the_canvas():
    fig, ax = F.figure("single")
    ax.set_title("a title long enough to run far past the right edge of a single column figure, surely")
    ax.text(0.5, 0.5, "here", transform=ax.transAxes)
    ax.text(0.5, 0.5, "here too", transform=ax.transAxes)
    problems = layout_problems(fig)
    assert any("leaves the canvas" in p for p in problems)
    assert any("'here' overlaps" in p for p in problems)


def test_share_text_never_rounds_a_small_share_to_zero():
    from livemarket.figures.runs import share_text

    assert share_text(55.23) == "55.2%" and share_text(0.0123) == "0.0123%" and share_text(0) == "0%"
    assert pl.Series([share_text(1e-5)]).str.contains("e-05").all()


def store_with_outcomes(path, frame: pl.DataFrame) -> None:
    """A livemarket.sweeps folder whose five outcomes are unscaled sums and platform GMV by channel."""
    outcomes = [("video", "all", "outbound_link_gmv_rmb"), ("video", "live_own_shop", "gmv_rmb"),
                ("mall", "live_outbound_link", "gmv_rmb"), ("video", "all", "live_room_gmv_rmb"),
                ("all", "all", "gmv_rmb")]  # fmt: skip
    metrics, aggs = [], {}
    for i, (platform, channel, metric) in enumerate(outcomes):
        name = f"m{i}"
        metrics.append({"metric": metric, "platform": platform, "channel": channel, "agg": "sum",
                        "window": None, "scaled": False, "name": name})  # fmt: skip
        aggs[name] = pl.col("value").filter(pl.col("metric") == metric, pl.col("platform") == platform,
                                            pl.col("channel") == channel).sum()  # fmt: skip
    keys = ["run_id", "point", "replicate", "link_ban", "protection"]
    wide = frame.group_by(keys, maintain_order=True).agg(**aggs).with_columns(status=pl.lit("ok"), chunk=pl.lit(0))
    (path / "runs").mkdir(parents=True)
    wide.write_parquet(path / "runs" / "chunk-000000.parquet")
    spec = {"name": "demo", "scenario": "minimal", "overrides": [], "consumers": 300, "metrics": metrics,
            "factors": {"link_ban": {"values": [False, True]}, "protection": {"values": [0.2, 0.8]}}}  # fmt: skip
    (path / "manifest.json").write_text(json.dumps({"format": 1, "spec": spec}))


def test_sweep_figures_are_laid_out_without_overlap_in_scaled_units(tmp_path):
    from test_figures import tidy_sweep

    frame = tidy_sweep(days=15, consumers=300, replicates=2)
    store_with_outcomes(tmp_path, frame)
    res = F.load_results(tmp_path)
    assert set(res.runs["label"]) >= {"GMV via outbound links (bn RMB)", "GMV (bn RMB)"}
    raw = frame.filter(pl.col("metric") == "gmv_rmb", pl.col("platform") == "all", pl.col("channel") == "all",
                       pl.col("run_id") == "p0-r0")["value"].sum()  # fmt: skip
    scaled = res.runs.filter(pl.col("column") == "m4", pl.col("run_id") == "p0-r0")["y"][0]
    assert scaled == pytest.approx(raw * load_scenario("minimal", consumers=300).population_scale / 1e9)
    jobs = dict(_sweep_jobs(res))
    assert {"compare_link_ban", "sensitivity"} <= set(jobs)
    for name, draw in jobs.items():
        fig = draw()
        assert layout_problems(fig) == [], name
        if name.startswith("compare"):  # y labels give the unit; the titles name the outcome
            assert {ax.get_ylabel() for ax in fig.axes if ax.get_visible()} == {"bn RMB"}



@pytest.mark.parametrize("days", [20, 75, 150, 400, 800, 850, 900, 950, 1096, 1300, 2200])
def test_date_axes_pick_ticks_without_a_warning(days):
    """Any run length gets date ticks without matplotlib's 'unable to pick an interval' fallback."""
    import datetime as dt
    import warnings

    import matplotlib.pyplot as plt

    from livemarket.figures.runs import _date_axis

    fig, ax = plt.subplots()
    _date_axis(ax)
    start = dt.date(2019, 1, 1)
    ax.plot([start, start + dt.timedelta(days=days)], [0.0, 1.0])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        fig.canvas.draw()
    assert 3 <= len(ax.get_xticks()) <= 7
    plt.close(fig)
