"""Interactive explorer: a SolaraViz page with strategy sliders and live plots.

Serve it with ``livemarket explore`` (or ``solara run livemarket.explore:page``); in
JupyterLab, end a cell with ``Page()``. Needs the ``viz`` extra (``mesa[viz]``).

The sidebar holds Mesa's controls (Reset, play/pause, Step) and the main strategies of one
content platform (Douyin in ``china-2019``) and one shelf platform (Taobao): link ban,
outbound-link fee, consumer protection, ad load, feed mode, payment interoperability.
Move a slider, then press Reset: the market is rebuilt with the new strategy and simulated
for the warm-up days, so the plots show its first months at once; play continues the run.

The market is ``china-2019`` with the late-2020 live mix (:data:`MARKET`). The page shows,
for the strategy set and for the baseline (the same market and seed with the scenario's own
strategies, dashed), GMV shares by platform (log scale, so the small
content platforms are not on the zero line) and the content platform's live-room sales by
channel (own shop, outbound link: a link ban shows at once); then trust in each platform
(median over time, and today's distribution), a sample of the social graph coloured by
each consumer's main platform (300 consumers, laid out once per model with a fixed seed),
and the strategy in force with its values beside the baseline's. Plots are drawn small
and at a high resolution, so their text reads at the size of the page's.
"""

from __future__ import annotations

import os

import solara
from matplotlib.lines import Line2D
from mesa.visualization import Slider, SolaraViz
from mesa.visualization.utils import update_counter

from livemarket.config import load_scenario
from livemarket.figures.data import band, nice
from livemarket.figures.graph import graph_layout, graph_sample, sample_nodes, trust_distribution
from livemarket.figures.runs import _date_axis, share_axis, timeseries
from livemarket.figures.style import figure, palette, panel_title, styled
from livemarket.models.market import LiveCommerceModel

__all__ = ["ExplorerModel", "LivePlot", "Page", "Plots", "SharesPlot", "model_params", "page"]

SCENARIO = "china-2019"
#: Fixed overrides of the explorer's market: china-2019 with the late-2020 live mix (live-GMV shares
#: Taobao 44-55%, Kuaishou 27-36%, Douyin 16-24%, atmallgroup), as experiments 01 and 11 use, so
#: that Douyin's rooms sell and a link ban shows; in the 2019 market Douyin sold ~4% of live GMV.
MARKET = {"china-2019": ["platforms.douyin.live_share=0.05", "platforms.kuaishou.live_share=0.12"]}
#: Population and warm-up when the page opens (small with LIVEMARKET_QUICK=1, for tests).
QUICK = os.environ.get("LIVEMARKET_QUICK", "") not in ("", "0")
CONSUMERS, WARMUP_DAYS = (500, 20) if QUICK else (2000, 60)


def _platforms(scenario: str) -> tuple[str, str]:
    """Return the first content platform and the first shelf platform of a scenario."""
    cfg = load_scenario(scenario)
    content = next(n for n, p in cfg.platforms.items() if p.kind == "content")
    shelf = next(n for n, p in cfg.platforms.items() if p.kind == "shelf")
    return content, shelf


#: The strategy sliders' starting values: the baseline's strategy.
DEFAULTS = {"link_ban": False, "link_fee": 0.06, "protection": 0.3, "ad_load": 0.12, "feed_mode": 0.9,
            "payment_interop": False}  # fmt: skip


def _overrides(scenario: str, link_ban, link_fee, protection, ad_load, feed_mode, payment_interop) -> list[str]:
    """Scenario overrides of a strategy of the sliders."""
    content, shelf = _platforms(scenario)
    base = load_scenario(scenario)
    out = [
        *MARKET.get(scenario, []),
        f"platforms.{content}.link_ban={str(bool(link_ban)).lower()}",
        f"platforms.{content}.ext_link_fee={link_fee}",
        f"platforms.{content}.protection={protection}",
        f"platforms.{content}.ad_load={ad_load}",
        f"platforms.{content}.feed_mode={feed_mode}",
    ]
    if payment_interop:
        wallets = sorted(set(base.consumer.wallets) | {p.own_wallet for p in base.platforms.values()} - {""})
        out.append(f"platforms.{shelf}.accepted_wallets={wallets}")
    return out


class ExplorerModel(LiveCommerceModel):
    """The market with its main strategies as keyword parameters (what the sliders set).

    The scenario argument is called ``scenario_name``: Mesa 3.5's SolaraViz passes a Mesa
    ``Scenario`` object as ``scenario`` to models whose constructor takes one.

    Args:
        scenario_name: built-in scenario or TOML path.
        consumers: population size.
        seed: random seed.
        warmup_days: days simulated when the model is built.
        link_ban: the content platform's live rooms carry no outbound links.
        link_fee: share of order value the content platform charges on outbound-link orders.
        protection: the content platform's consumer protection (0-1).
        ad_load: the content platform's ad load (share of feed time).
        feed_mode: the content platform's feed, 0 follow feed to 1 interest recommendation.
        payment_interop: the shelf platform's checkout accepts every wallet.

    """

    def __init__(
        self,
        scenario_name: str = SCENARIO,
        consumers: int = CONSUMERS,
        seed: int = 1,
        warmup_days: int = WARMUP_DAYS,
        link_ban: bool = DEFAULTS["link_ban"],
        link_fee: float = DEFAULTS["link_fee"],
        protection: float = DEFAULTS["protection"],
        ad_load: float = DEFAULTS["ad_load"],
        feed_mode: float = DEFAULTS["feed_mode"],
        payment_interop: bool = DEFAULTS["payment_interop"],
    ):
        content, shelf = _platforms(scenario_name)
        self.strategy = {"link_ban": bool(link_ban), "link_fee": link_fee, "protection": protection, "ad_load": ad_load,
                         "feed_mode": feed_mode, "payment_interop": bool(payment_interop)}  # fmt: skip
        super().__init__(scenario_name, consumers=consumers, overrides=_overrides(scenario_name, **self.strategy),
                         rng=seed, run_id="explorer")  # fmt: skip
        self.content, self.shelf = content, shelf
        # the baseline: the same market and seed with the sliders' defaults, stepped alongside
        self.baseline = LiveCommerceModel(scenario_name, consumers=consumers, rng=seed, run_id="baseline",
                                          overrides=_overrides(scenario_name, **DEFAULTS))  # fmt: skip
        for _ in range(warmup_days):
            self.step()
        nodes = sample_nodes(self.social_graph, 300, seed=0)
        self.graph_layout = (nodes, *graph_layout(self.social_graph, nodes, seed=0))

    def step(self) -> None:
        """One day of the market and of its baseline."""
        super().step()
        self.baseline.step()


def model_params(scenario: str = SCENARIO) -> dict:
    """Return the sidebar inputs: Mesa user parameters named as :class:`ExplorerModel` arguments."""
    content, shelf = (nice(p) for p in _platforms(scenario))
    return {
        "scenario_name": scenario,
        "consumers": Slider("Consumers", CONSUMERS, 500, 10_000, 500),
        "seed": Slider("Seed", 1, 0, 20, 1),
        "warmup_days": Slider("Warm-up days", WARMUP_DAYS, 0, 360, 10),
        "link_ban": {"type": "Checkbox", "value": DEFAULTS["link_ban"], "label": f"{content}: ban outbound links"},
        "link_fee": Slider(f"{content}: outbound-link fee", DEFAULTS["link_fee"], 0.0, 0.3, 0.02),
        "protection": Slider(f"{content}: consumer protection", DEFAULTS["protection"], 0.0, 1.0, 0.05),
        "ad_load": Slider(f"{content}: ad load", DEFAULTS["ad_load"], 0.0, 0.4, 0.02),
        "feed_mode": Slider(f"{content}: feed (0 follow, 1 interest)", DEFAULTS["feed_mode"], 0.0, 1.0, 0.1),
        "payment_interop": {
            "type": "Checkbox",
            "value": False,
            "label": f"{shelf}: accept every wallet",
        },
    }


#: Plots are drawn this many inches wide at :data:`DPI`: small figures at a high resolution,
#: so that their 7-8 pt text shows at about the page's 14-16 px.
WIDTH_IN, DPI = 4.4, 160


def _show(fig):
    return solara.FigureMatplotlib(fig, format="png", dpi=DPI)


def _baseline_handles(label: str = "this strategy") -> list:
    return [Line2D([], [], color="0.2", label=label), Line2D([], [], color="0.2", ls="--", label="baseline")]


@styled  # legends and titles made here take the paper style too
def SharesPlot(model: ExplorerModel):
    """GMV share of each platform (7-day mean) since the start, beside the baseline's (dashed)."""
    fig, ax = figure(WIDTH_IN, 2.6)
    if model.recorder.market:
        lines = timeseries(model.results(), "gmv_share", ax, log=True)
        base = timeseries(model.baseline.results(), "gmv_share", ax, log=True)
        for line in base.values():
            line.set_linestyle("--")
            line.set_label("_baseline")
        share_axis(ax)
        fig.legend(handles=list(lines.values()) + _baseline_handles(), loc="outside upper center", ncols=4)
    panel_title(ax, "", f"GMV share by platform, day {model.day + 1} ({model.date:%Y-%m-%d}), log scale")
    return _show(fig)


@styled  # legends and titles made here take the paper style too
def LivePlot(model: ExplorerModel):
    """The content platform's live-room sales by channel: own shop and outbound links, beside the baseline."""
    fig, ax = figure(WIDTH_IN, 2.6)
    content = model.content
    if model.recorder.market:
        colors = palette(("live_own_shop", "live_outbound_link"))
        for m, dashes in ((model, "-"), (model.baseline, "--")):
            frame = m.results()
            for metric, channel, key in (("gmv_rmb", "live_own_shop", "live_own_shop"),
                                         ("outbound_link_gmv_rmb", "all", "live_outbound_link")):  # fmt: skip
                d = band(frame, metric, platform=content, channel=channel)
                ax.plot(d["date"].to_numpy(), d["mean"].to_numpy() * 1e3, color=colors[key], ls=dashes)
        ax.set_ylim(bottom=0)
        ax.set_ylabel("GMV (M RMB/day)")
        _date_axis(ax)
        handles = [Line2D([], [], color=c, label=nice(k)) for k, c in colors.items()] + _baseline_handles()
        fig.legend(handles=handles, loc="outside upper center", ncols=2)
    panel_title(ax, "", f"{nice(content)} live rooms: sales by channel (7-day mean)")
    return _show(fig)


@styled  # legends and titles made here take the paper style too
def TrustPlot(model: ExplorerModel):
    """Median trust per platform over time and today's distribution among users."""
    fig, (left, right) = figure(WIDTH_IN, 2.4, ncols=2, width_ratios=[1.4, 1])
    if model.recorder.market:
        timeseries(model.results(), "trust_p50", left, smooth_days=1)
        left.set_ylim(0, 1)
        left.set_ylabel("Median trust (0–1)")
    trust_distribution(model, ax=right)
    right.set_title("")
    panel_title(left, "", "Trust in platforms")
    panel_title(right, "", "Today, users")
    return _show(fig)


@styled  # legends and titles made here take the paper style too
def GraphPlot(model: ExplorerModel):
    """Draw a 300-consumer sample of the social graph coloured by main platform."""
    fig, ax = figure(WIDTH_IN * 0.85, 3.9)
    graph_sample(model, ax=ax, layout=model.graph_layout)
    return _show(fig)


def _strategy_rows(model: ExplorerModel) -> list[tuple[str, str, str]]:
    """(setting, this run's value, the baseline's) for every strategy slider, as text."""
    content, shelf = nice(model.content), nice(model.shelf)
    names = {"link_ban": f"{content}: outbound-link ban", "link_fee": f"{content}: outbound-link fee",
             "protection": f"{content}: consumer protection", "ad_load": f"{content}: ad load",
             "feed_mode": f"{content}: feed (0 follow, 1 interest)",
             "payment_interop": f"{shelf}: accepts every wallet"}  # fmt: skip

    def text(v) -> str:
        return ("on" if v else "off") if isinstance(v, bool) else f"{v:.2f}"

    return [(names[k], text(model.strategy[k]), text(DEFAULTS[k])) for k in DEFAULTS]


def Summary(model: ExplorerModel):
    """Key numbers of the latest day and the strategy in force (plain HTML: solara's Markdown would load mermaid.js)."""
    r = model.recorder
    hint = "<p>Move a slider, then press <b>Reset</b> to rebuild the market with that strategy.</p>"
    rows = "".join(
        f"<tr><td>{name}</td><td><b>{mine}</b></td><td>{base}</td></tr>" for name, mine, base in _strategy_rows(model)
    )
    table = (f"<table style='border-spacing: 0.8em 0.2em'><tr><th align=left>Strategy</th><th>this run</th>"
             f"<th>baseline</th></tr>{rows}</table>")  # fmt: skip
    if not r.market:
        text = "<p>Press Step or play to simulate.</p>"
    else:
        scale = model.config.population_scale
        text = (
            f"<p><b>Day {model.day + 1}</b> ({model.date:%Y-%m-%d}): market GMV "
            f"{r.last('gmv_rmb') * scale / 1e9:.2f} bn RMB/day (baseline "
            f"{model.baseline.recorder.last('gmv_rmb') * scale / 1e9:.2f}), HHI {r.last('hhi'):.3f}, "
            f"consumer surplus {r.last('consumer_surplus_rmb') * scale / 1e9:.2f} bn RMB/day, "
            f"live-shopping adopters {100 * r.last('adopter_share'):.0f}%.</p>"
        )
    return solara.HTML(tag="div", unsafe_innerHTML=text + table + hint, style="padding: 1em; font-size: 16px")


@solara.component
def Plots(model: ExplorerModel):
    """Show the plots, redrawn after every step (Mesa's update counter) and after Reset."""
    update_counter.get()
    with solara.Columns([1, 1]):
        SharesPlot(model)
        LivePlot(model)
    with solara.Columns([1, 1]):
        TrustPlot(model)
        Summary(model)
    with solara.Columns([1, 1]):
        GraphPlot(model)


@solara.component
def Page():
    """Render the explorer page: Mesa's SolaraViz controls and sliders, then the plots.

    The plots are laid out here rather than passed to SolaraViz as components: its
    draggable grid loads a Vue 2 plugin that fails under the Vue 3 front end of
    ipyvue 3, leaving the grid empty. Both share one reactive model, so Reset and Step
    reach the plots.
    """
    initial = solara.use_memo(ExplorerModel, [])  # one model per browser session
    model = solara.use_reactive(initial)
    SolaraViz(
        model,
        components=[],
        model_params=model_params(),
        name="livemarket explorer",
        play_interval=300,
    )
    Plots(model.value)


page = Page
