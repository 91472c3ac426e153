"""Command line of the figures and the explorer: ``livemarket figures``, ``livemarket explore``.

Kept apart from :mod:`livemarket.cli` so that the main command starts without importing
matplotlib or solara; both commands import them when they run.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Annotated

import typer

__all__ = ["explore", "figures"]


def figures(
    results: Annotated[
        Path, typer.Argument(help="Run folder (results.parquet, run.json) or sweep folder.")
    ],
    out: Annotated[
        Path | None, typer.Option(help="Output folder (default RESULTS/figures).")
    ] = None,
    formats: Annotated[
        str, typer.Option(help="Comma-separated: png (default), pdf (vector, for a paper), svg.")
    ] = "png",
    factors: Annotated[
        str | None, typer.Option(help="Sweep factor columns, comma-separated (default: found).")
    ] = None,
    progress: Annotated[bool, typer.Option(help="Show a progress bar.")] = True,
) -> None:
    """Draw the standard figures of a run or a sweep. PNG; --formats png,pdf adds the PDF."""
    from livemarket.figures.standard import draw_standard

    if not results.exists():
        typer.secho(f"error: {results} does not exist", fg=typer.colors.RED, err=True)
        raise typer.Exit(code=2)
    out = out or results / "figures"
    try:
        written = draw_standard(results, out, formats=tuple(formats.split(",")),
                                factors=factors.split(",") if factors else None, progress=progress)  # fmt: skip
    except (FileNotFoundError, ValueError) as err:
        typer.secho(f"error: {err}", fg=typer.colors.RED, err=True)
        raise typer.Exit(code=2) from None
    names = sorted({p.stem for p in written})
    typer.echo(
        f"{len(names)} figures x {len(formats.split(','))} formats -> {out}/: {', '.join(names)}"
    )


def explore(
    port: Annotated[int, typer.Option(help="Port (0: a free one).")] = 8765,
    host: Annotated[str, typer.Option(help="Host to listen on.")] = "localhost",
    open_browser: Annotated[
        bool, typer.Option("--open/--no-open", help="Open a browser tab.")
    ] = True,
) -> None:
    """Serve the interactive explorer (SolaraViz). On http://HOST:PORT."""
    try:
        import solara  # noqa: F401
    except ImportError:
        typer.secho(
            "error: the explorer needs the viz extra: pip install 'livemarket[viz]'",
            fg=typer.colors.RED,
            err=True,
        )
        raise typer.Exit(code=2) from None
    from livemarket.explore_assets import ensure_assets

    try:  # without the public CDN, the page's browser code comes from the npm registry
        ensure_assets()
    except (OSError, subprocess.SubprocessError) as err:
        typer.secho(
            f"warning: could not prefetch the page's browser files with npm ({err})", err=True
        )
    cmd = [sys.executable, "-m", "solara", "run", "livemarket.explore:page", "--host", host, "--port", str(port),
           "--open" if open_browser else "--no-open"]  # fmt: skip
    raise typer.Exit(code=subprocess.call(cmd))
