"""Checks of a drawn figure's layout: no two pieces of text overlap, none leaves the canvas.

Used by the tests on every standard figure, and handy when writing a new figure::

    >>> from livemarket.figures.layout import layout_problems
    >>> layout_problems(fig)  # doctest: +SKIP
    []
"""

from __future__ import annotations

import itertools

from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.text import Text

__all__ = ["layout_problems", "text_boxes"]


def _visible(artist) -> bool:
    axes = getattr(artist, "axes", None)
    return artist.get_visible() and (axes is None or axes.get_visible()) and bool(artist.get_text().strip())


def _axis_texts(ax) -> list[tuple[str, Text]]:
    out = []
    for name, axis in (("x", ax.xaxis), ("y", ax.yaxis)):
        if not (ax.axison and axis.get_visible()):  # ax.set_axis_off(): no ticks, no labels
            continue
        for tick in axis._update_ticks():  # the ticks inside the view, as drawn
            for label in (tick.label1, tick.label2):
                out.append((f"{name} tick" + (" slanted" if label.get_rotation() % 180 else ""), label))
        out += [(f"{name} label", axis.label), (f"{name} offset", axis.get_offset_text())]
    out += [("title", t) for t in (ax.title, ax._left_title, ax._right_title)]
    out += [("text", t) for t in ax.texts]
    return out


def _legend_texts(legend) -> list[tuple[str, Text]]:
    return [("legend", t) for t in legend.get_texts()] + [("legend title", legend.get_title())]


def text_boxes(fig) -> list[tuple[str, str, object]]:
    """Draw ``fig`` (Agg) and return ``(owner, kind and text, window extent)`` of every visible text."""
    canvas = FigureCanvasAgg(fig)
    canvas.draw()
    renderer = canvas.get_renderer()
    found: list[tuple[str, Text]] = []
    for i, ax in enumerate(fig.axes):
        if not ax.get_visible():
            continue
        found += [(f"axes {i} {kind}", t) for kind, t in _axis_texts(ax)]
        if ax.get_legend() is not None:
            found += [(f"axes {i} {kind}", t) for kind, t in _legend_texts(ax.get_legend())]
    for legend in fig.legends:
        found += [(f"figure {kind}", t) for kind, t in _legend_texts(legend)]
    found += [("figure text", t) for t in fig.texts]  # the suptitle is one of them
    seen: set[int] = set()
    unique = [(o, t) for o, t in found if not (id(t) in seen or seen.add(id(t)))]
    return [(owner, t.get_text(), t.get_window_extent(renderer)) for owner, t in unique if _visible(t)]


def layout_problems(fig, tolerance_px: float = 1.0) -> list[str]:
    """Texts that overlap another text or reach past the canvas, as readable lines (empty if none).

    Two tick labels of one axis are not compared when slanted (their upright boxes overlap
    while the glyphs do not).
    """
    boxes = text_boxes(fig)
    width, height = fig.bbox.width, fig.bbox.height
    problems = []
    for owner, text, b in boxes:
        if b.x0 < -tolerance_px or b.y0 < -tolerance_px or b.x1 > width + tolerance_px or b.y1 > height + tolerance_px:
            problems.append(f"{owner} {text!r} leaves the canvas ({b.x0:.0f}, {b.y0:.0f}, {b.x1:.0f}, {b.y1:.0f})")
    for (o1, t1, b1), (o2, t2, b2) in itertools.combinations(boxes, 2):
        if o1 == o2 and o1.endswith("tick slanted"):
            continue
        dx = min(b1.x1, b2.x1) - max(b1.x0, b2.x0)
        dy = min(b1.y1, b2.y1) - max(b1.y0, b2.y0)
        if dx > tolerance_px and dy > tolerance_px:
            problems.append(f"{o1} {t1!r} overlaps {o2} {t2!r}")
    return problems
