"""Interactive explorer: a SolaraViz page with strategy sliders and live plots.

Serve it with ``livemarket explore`` (or ``solara run livemarket.explore:page``); in
JupyterLab, end a cell with ``Page()``. Needs the ``viz`` extra (``mesa[viz]``).

The sidebar holds Mesa's controls (Reset, play/pause, Step) and the main strategies of one
content platform (Douyin in ``china-2019``) and one shelf platform (Taobao): link ban,
outbound-link fee, consumer protection, ad load, feed mode, payment interoperability.
Move a slider, then press Reset: the market is rebuilt with the new strategy and simulated
for the warm-up days, so the plots show its first months at once; play continues the run.

The page shows GMV shares by platform, trust in each platform (median and P10-P90 over
time, and today's distribution), and a sample of the social graph coloured by each
consumer's main platform (300 consumers, laid out once per model with a fixed seed).
"""

from __future__ import annotations

import os

import solara
from mesa.visualization import Slider, SolaraViz
from mesa.visualization.utils import update_counter

from livemarket.config import load_scenario
from livemarket.figures import figure, panel_title
from livemarket.figures.data import nice
from livemarket.figures.graph import graph_layout, graph_sample, sample_nodes, trust_distribution
from livemarket.figures.runs import timeseries
from livemarket.models.market import LiveCommerceModel

__all__ = ["ExplorerModel", "Page", "Plots", "model_params", "page"]

SCENARIO = "china-2019"
#: Population and warm-up when the page opens (small with LIVEMARKET_QUICK=1, for tests).
QUICK = os.environ.get("LIVEMARKET_QUICK", "") not in ("", "0")
CONSUMERS, WARMUP_DAYS = (500, 20) if QUICK else (2000, 60)


def _platforms(scenario: str) -> tuple[str, str]:
    """Return the first content platform and the first shelf platform of a scenario."""
    cfg = load_scenario(scenario)
    content = next(n for n, p in cfg.platforms.items() if p.kind == "content")
    shelf = next(n for n, p in cfg.platforms.items() if p.kind == "shelf")
    return content, shelf


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
        link_ban: bool = False,
        link_fee: float = 0.06,
        protection: float = 0.3,
        ad_load: float = 0.12,
        feed_mode: float = 0.9,
        payment_interop: bool = False,
    ):
        content, shelf = _platforms(scenario_name)
        base = load_scenario(scenario_name)
        wallets = sorted(
            set(base.consumer.wallets) | {p.own_wallet for p in base.platforms.values()} - {""}
        )
        overrides = [
            f"platforms.{content}.link_ban={str(bool(link_ban)).lower()}",
            f"platforms.{content}.ext_link_fee={link_fee}",
            f"platforms.{content}.protection={protection}",
            f"platforms.{content}.ad_load={ad_load}",
            f"platforms.{content}.feed_mode={feed_mode}",
        ]
        if payment_interop:
            overrides.append(f"platforms.{shelf}.accepted_wallets={wallets}")
        super().__init__(
            scenario_name, consumers=consumers, overrides=overrides, rng=seed, run_id="explorer"
        )
        self.content, self.shelf = content, shelf
        for _ in range(warmup_days):
            self.step()
        nodes = sample_nodes(self.social_graph, 300, seed=0)
        self.graph_layout = (nodes, *graph_layout(self.social_graph, nodes, seed=0))


def model_params(scenario: str = SCENARIO) -> dict:
    """Return the sidebar inputs: Mesa user parameters named as :class:`ExplorerModel` arguments."""
    content, shelf = (nice(p) for p in _platforms(scenario))
    return {
        "scenario_name": scenario,
        "consumers": Slider("Consumers", CONSUMERS, 500, 10_000, 500),
        "seed": Slider("Seed", 1, 0, 20, 1),
        "warmup_days": Slider("Warm-up days", WARMUP_DAYS, 0, 360, 10),
        "link_ban": {"type": "Checkbox", "value": False, "label": f"{content}: ban outbound links"},
        "link_fee": Slider(f"{content}: outbound-link fee", 0.06, 0.0, 0.3, 0.02),
        "protection": Slider(f"{content}: consumer protection", 0.3, 0.0, 1.0, 0.05),
        "ad_load": Slider(f"{content}: ad load", 0.12, 0.0, 0.4, 0.02),
        "feed_mode": Slider(f"{content}: feed (0 follow, 1 interest)", 0.9, 0.0, 1.0, 0.1),
        "payment_interop": {
            "type": "Checkbox",
            "value": False,
            "label": f"{shelf}: accept every wallet",
        },
    }


def _show(fig):
    return solara.FigureMatplotlib(fig, format="png", dpi=110)


def SharesPlot(model: ExplorerModel):
    """GMV share of each platform (7-day mean) since the start."""
    fig, ax = figure(6.0, 3.0)
    if model.recorder.market:
        lines = timeseries(model.results(), "gmv_share", ax)
        fig.legend(handles=list(lines.values()), loc="outside upper center", ncols=len(lines))
        ax.set_ylim(0, None)
    panel_title(ax, "", f"GMV share by platform, day {model.day + 1} ({model.date:%Y-%m-%d})")
    return _show(fig)


def TrustPlot(model: ExplorerModel):
    """Median trust per platform over time and today's distribution among users."""
    fig, (left, right) = figure(6.0, 3.0, ncols=2, width_ratios=[1.4, 1])
    if model.recorder.market:
        timeseries(model.results(), "trust_p50", left, smooth_days=1)
        left.set_ylim(0, 1)
        left.set_ylabel("Median trust (0–1)")
    trust_distribution(model, ax=right)
    right.set_title("")
    panel_title(left, "", "Trust in platforms")
    panel_title(right, "", "Today, users")
    return _show(fig)


def GraphPlot(model: ExplorerModel):
    """Draw a 300-consumer sample of the social graph coloured by main platform."""
    fig, ax = figure(5.0, 4.4)
    graph_sample(model, ax=ax, layout=model.graph_layout)
    return _show(fig)


def Summary(model: ExplorerModel):
    """Key numbers of the latest day (plain HTML: solara's Markdown would load mermaid.js)."""
    r = model.recorder
    hint = "<p>Move a slider, then press <b>Reset</b> to rebuild the market with that strategy.</p>"
    if not r.market:
        return solara.HTML(
            tag="div", unsafe_innerHTML="<p>Press Step or play to simulate.</p>" + hint
        )
    scale = model.config.population_scale
    text = (
        f"<p><b>Day {model.day + 1}</b> ({model.date:%Y-%m-%d}): market GMV "
        f"{r.last('gmv_rmb') * scale / 1e9:.2f} bn RMB/day (scaled to the market), HHI {r.last('hhi'):.3f}, "
        f"consumer surplus {r.last('consumer_surplus_rmb') * scale / 1e9:.2f} bn RMB/day, "
        f"live-shopping adopters {100 * r.last('adopter_share'):.0f}%.</p>"
    )
    return solara.HTML(
        tag="div", unsafe_innerHTML=text + hint, style="padding: 1em; font-size: 15px"
    )


@solara.component
def Plots(model: ExplorerModel):
    """Show the plots, redrawn after every step (Mesa's update counter) and after Reset."""
    update_counter.get()
    with solara.Columns([1, 1]):
        SharesPlot(model)
        TrustPlot(model)
    with solara.Columns([1, 1]):
        GraphPlot(model)
        Summary(model)


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
