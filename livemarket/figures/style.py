"""The paper style and the helpers every figure uses: sizes, colours, panel titles, saving.

One platform -> colour map for the whole package (the five real platforms fixed, others from
the same colour-blind-safe cycle in a stable order); :func:`styled` draws in the style file;
:func:`save` writes PDF (TrueType fonts embedded) and PNG (300 dpi), and SVG on request.
"""

from __future__ import annotations

import contextlib
import functools
import sys
import textwrap
from collections.abc import Callable, Iterator, Sequence
from importlib import resources
from pathlib import Path

import matplotlib as mpl
from matplotlib.figure import Figure
from matplotlib.font_manager import FontProperties

__all__ = [
    "CHANNEL_COLORS", "DOUBLE_COLUMN_IN", "FORMATS", "MARKET_COLOR", "OTHER_COLORS", "PLATFORM_COLORS",
    "SINGLE_COLUMN_IN", "STYLE_PATH", "color_of", "figure", "palette", "panel_title", "paper_style", "save", "styled",
]  # fmt: skip

#: Text width of a single journal column and of a full page (two columns), inches.
SINGLE_COLUMN_IN = 3.5
DOUBLE_COLUMN_IN = 7.2
#: File formats written by :func:`save` (SVG, which repeats the PDF's vector drawing, on request).
FORMATS = ("pdf", "png")
#: The style file shipped in the package.
STYLE_PATH = Path(str(resources.files("livemarket.figures") / "style.mplstyle"))


@functools.cache
def _style() -> dict:
    """Read and validate the style file once, into typed values.

    Validating here (not in ``rcParams.update``) matters under solara's server, whose
    per-session rcParams store values without matplotlib's validators.
    """
    raw = mpl.rc_params_from_file(str(STYLE_PATH), use_default_template=False)
    return {key: mpl.rcsetup._validators[key](value) for key, value in dict(raw).items()}


@contextlib.contextmanager
def paper_style() -> Iterator[None]:
    """Context in which matplotlib draws with the paper style (restored on exit)."""
    with mpl.rc_context(_style()):
        yield


def styled[F: Callable](func: F) -> F:
    """Run the decorated figure function inside :func:`paper_style` (artists read rcParams)."""

    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        with paper_style():
            return func(*args, **kwargs)

    return wrapper  # type: ignore[return-value]


def figure(width: str | float = "single", height_in: float | None = None, **subplots) -> tuple:
    """Make a new figure in the paper style at a column width, with ``plt.subplots`` axes.

    The figure is not registered with pyplot: notebooks show it once (when returned) and
    long scripts do not accumulate open figures.

    Args:
        width: ``"single"`` (3.5 in), ``"double"`` (7.2 in) or a width in inches.
        height_in: height in inches (default: 0.68 of the width, at most 4.5 in).
        **subplots: passed to :meth:`matplotlib.figure.Figure.subplots` (``nrows``, ``sharex`` ...).

    Returns:
        ``(fig, axes)`` as from ``plt.subplots``.

    """
    w = {"single": SINGLE_COLUMN_IN, "double": DOUBLE_COLUMN_IN}.get(width, width)
    h = height_in if height_in is not None else min(0.68 * float(w), 4.5)
    with paper_style():
        fig = Figure(figsize=(float(w), h), layout="constrained")
        axes = fig.subplots(**subplots)
    return fig, axes


#: Colour of each real platform in every figure, the explorer and the notebooks (Okabe-Ito).
PLATFORM_COLORS = {
    "douyin": "#0072B2", "kuaishou": "#E69F00", "taobao": "#D55E00", "jd": "#009E73",
    "pinduoduo": "#CC79A7",
}  # fmt: skip
#: Colour of each sales channel (:data:`livemarket.core.rules.CHANNELS`).
CHANNEL_COLORS = {
    "live_own_shop": "#0072B2", "live_outbound_link": "#D55E00", "live_later_search": "#E69F00",
    "planned_search": "#999999", "splash_ad": "#CC79A7",  # planned search: the grey non-live baseline
    "video_own_shop": "#56B4E9", "video_outbound_link": "#009E73", "video_later_search": "#F0E442",
}  # fmt: skip
#: Colour of the "all" aggregate (the market).
MARKET_COLOR = "#000000"
_OTHERS: dict[str, str] = {}


#: Colours of other names, in this order: the style's cycle, the one colour the real platforms
#: leave free first, pale yellow (hard to see on white) last.
OTHER_COLORS = ("#56B4E9", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#0072B2", "#F0E442")


def color_of(name: str) -> str:
    """Return the one colour of a platform, channel or other name, the same in every figure.

    The five real platforms and the channels have fixed colours; ``"all"`` is black; any
    other name (the platforms of a made-up scenario) takes the next of :data:`OTHER_COLORS`
    in the order names are first seen, and keeps it (so every figure of one session agrees,
    and a scenario's platforms, listed in its order, get the same colours in every session).
    """
    name = str(name)
    if name == "all":
        return MARKET_COLOR
    if name in PLATFORM_COLORS:
        return PLATFORM_COLORS[name]
    if name in CHANNEL_COLORS:
        return CHANNEL_COLORS[name]
    if name not in _OTHERS:
        _OTHERS[name] = OTHER_COLORS[len(_OTHERS) % len(OTHER_COLORS)]
    return _OTHERS[name]


def palette(names: Sequence[str]) -> dict[str, str]:
    """Colour of each name (see :func:`color_of`): one colour per platform across every figure."""
    return {name: color_of(name) for name in names}


def panel_title(ax, letter: str, text: str = "") -> None:
    """Bold panel letter and a short plain description, left-aligned above the axes.

    A description too long for the panel's width is wrapped onto more lines.
    """
    width_in = ax.get_position().width * ax.figure.get_figwidth() * 1.15  # the layout widens panels a bit
    with paper_style():
        size = FontProperties(size=mpl.rcParams["axes.titlesize"]).get_size_in_points()
    room = max(12, int(width_in * 72 / (0.6 * size)) - (4 if letter else 0))
    if len(text) > room:
        text = textwrap.fill(text, room)
    old = getattr(ax, "_panel_text", None)
    if old is not None:  # titled again (a figure that reuses a panel)
        old.remove()
        ax._panel_text = None
    if not letter:
        ax.set_title(text, loc="left")
        return
    # the bold letter is the title; the description is written after it (plain text: no mathtext to parse).
    # A wrapped description: the letter stays beside its first line (the title gets blank lines under it).
    lines = text.split("\n")
    title = ax.set_title(letter + "\n" * (len(lines) - 1), loc="left", fontweight="bold")
    if text:
        ax._panel_text = ax.annotate("\n".join("  " + line for line in lines), xy=(1, 0), xycoords=title,
                                     va="bottom", ha="left", fontsize=title.get_fontsize())  # fmt: skip


def save(fig, path: str | Path, formats: Sequence[str] = FORMATS, close: bool = True) -> list[Path]:
    """Write a figure as PDF and PNG (and SVG if asked) next to each other and return the paths.

    The PDF embeds its fonts as TrueType (Type 42) and the PNG is 300 dpi; the figure keeps
    its exact width (no tight bounding box), so it drops into a journal column unscaled.
    Metadata dates are left out so that the same figure gives the same bytes.

    Args:
        fig: the figure to write.
        path: file path without extension (an extension, if given, is replaced).
        formats: which of ``pdf``, ``png``, ``svg`` to write.
        close: close the figure if pyplot manages it (frees memory in long scripts).

    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    meta = {
        "pdf": {"Creator": "livemarket", "Producer": None, "CreationDate": None},
        "svg": {"Creator": "livemarket", "Date": None},
        "png": {"Software": "livemarket"},
    }
    written = []
    engine = fig.get_layout_engine()
    with paper_style():
        try:
            for i, fmt in enumerate(formats):
                target = path.with_suffix(f".{fmt}")
                # PNG: zlib's fastest level, a third of the encoding time for a fifth more bytes
                extra = {"pil_kwargs": {"compress_level": 1}} if fmt == "png" else {}
                fig.savefig(target, format=fmt, dpi=300, metadata=meta.get(fmt), **extra)
                written.append(target)
                if (
                    i == 0 and engine is not None
                ):  # the layout is done: keep it for the other formats
                    fig.set_layout_engine("none")
        finally:
            if engine is not None:
                fig.set_layout_engine(engine)
    pyplot = sys.modules.get("matplotlib.pyplot")  # a figure pyplot manages was made through pyplot
    if close and pyplot is not None:
        pyplot.close(fig)
    return written
