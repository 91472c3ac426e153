"""Paper figures: one style file, one save helper, figure functions over tidy results.

Every figure function takes the polars results of a run (:meth:`LiveCommerceModel.run`)
or of a sweep (the same tidy columns plus ``point``, ``replicate`` and one column per
factor) and returns a :class:`matplotlib.figure.Figure` drawn in the paper style at a
journal column width. :func:`save` writes it as PDF (TrueType fonts embedded) and PNG
(300 dpi), and SVG on request.

Example:
    >>> from livemarket import LiveCommerceModel
    >>> from livemarket import figures
    >>> table = LiveCommerceModel("minimal", consumers=300, rng=1).run(20)
    >>> fig = figures.gmv_shares(table)
    >>> [p.suffix for p in figures.save(fig, tmp_path / "gmv")]  # doctest: +SKIP
    ['.pdf', '.png']

"""

from __future__ import annotations

__all__ = [
    "CHANNEL_COLORS",
    "DOUBLE_COLUMN_IN",
    "FORMATS",
    "PLATFORM_COLORS",
    "SINGLE_COLUMN_IN",
    "STYLE_PATH",
    "before_after",
    "channel_mix",
    "color_of",
    "draw_standard",
    "figure",
    "funnel",
    "gmv_shares",
    "graph_sample",
    "live_commerce",
    "load_results",
    "market_indicators",
    "palette",
    "panel_title",
    "paper_style",
    "save",
    "sensitivity_bars",
    "sensitivity_indices",
    "strategy_comparison",
    "sweep_heatmap",
    "styled",
    "sweep_timeseries",
    "timeseries",
    "trust_bands",
    "trust_distribution",
]

# Figure functions.
from livemarket.figures.funnel import funnel
from livemarket.figures.graph import graph_sample, trust_distribution
from livemarket.figures.live import live_commerce
from livemarket.figures.load import load_results
from livemarket.figures.policy import before_after
from livemarket.figures.runs import (
    channel_mix,
    gmv_shares,
    market_indicators,
    timeseries,
    trust_bands,
)
from livemarket.figures.standard import draw_standard
from livemarket.figures.style import (  # noqa: F401 - the style helpers, re-exported
    CHANNEL_COLORS,
    DOUBLE_COLUMN_IN,
    FORMATS,
    MARKET_COLOR,
    OTHER_COLORS,
    PLATFORM_COLORS,
    SINGLE_COLUMN_IN,
    STYLE_PATH,
    color_of,
    figure,
    palette,
    panel_title,
    paper_style,
    save,
    styled,
)
from livemarket.figures.sweeps import (
    sensitivity_bars,
    sensitivity_indices,
    strategy_comparison,
    sweep_heatmap,
    sweep_timeseries,
)
