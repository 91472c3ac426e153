"""Writing fitted values into a scenario's TOML text, keeping its comments and layout."""

from __future__ import annotations

import math
import re
import tomllib
from pathlib import Path
from typing import Any

from livemarket.config import ConfigError, load_scenario

__all__ = ["lookup", "set_toml_value", "toml_literal", "write_scenario"]


def lookup(data: dict, dotted: str) -> Any:
    """The value at a dotted path of a raw TOML dict (None when absent)."""
    node: Any = data
    for k in dotted.split("."):
        if not isinstance(node, dict) or k not in node:
            return None
        node = node[k]
    return node


def toml_literal(v: float) -> str:
    """Format a float as a TOML literal with 4 significant digits (``0.0123``, ``1.5e-05``)."""
    text = f"{float(v):.4g}"
    return text if any(c in text for c in ".en") else text + ".0"


def set_toml_value(text: str, dotted: str, value: float) -> str:
    """Set ``dotted`` to ``value`` in TOML source text, keeping comments and layout.

    Handles keys of a ``[table]`` (``platforms.jd.trust_prior``), keys of an inline table
    inside a table (``brands.listing_probability.jd``) and top-level keys. The result is
    parsed back and checked.
    """
    keys = dotted.split(".")
    literal = toml_literal(value)
    lines = text.splitlines(keepends=True)
    headers = [
        (i, m.group(1).strip())
        for i, line in enumerate(lines)
        if (m := re.match(r"^\s*\[([^\[\]]+)\]\s*(#.*)?$", line))
    ]
    out = None
    for cut in range(len(keys) - 1, -1, -1):
        table, rest = ".".join(keys[:cut]), keys[cut:]
        if len(rest) > 2:
            continue
        if table:
            where = [i for i, h in headers if h == table]
            if not where:
                continue
            lo = where[0] + 1
        else:
            lo = 0
        hi = next((i for i, _ in headers if i >= lo), len(lines))
        for j in range(lo, hi):
            m = re.match(
                rf"^(\s*{re.escape(rest[0])}\s*=\s*)(.*?)(\s*(#.*)?)$", lines[j].rstrip("\n")
            )
            if not m:
                continue
            if len(rest) == 1:
                lines[j] = f"{m.group(1)}{literal}{m.group(3)}\n"
            else:
                inner = m.group(2)
                pat = rf"(\b{re.escape(rest[1])}\s*=\s*)([^,}}]+)"
                if re.search(pat, inner):
                    inner = re.sub(pat, lambda mm: f"{mm.group(1)}{literal} ", inner, count=1)
                    inner = re.sub(r"\s+([,}])", r" \1", inner).replace(" ,", ",")
                else:
                    inner = inner.rstrip().rstrip("}").rstrip() + f", {rest[1]} = {literal} }}"
                lines[j] = f"{m.group(1)}{inner}{m.group(3)}\n"
            out = "".join(lines)
            break
        if out is None and len(rest) == 1 and table:
            lines.insert(lo, f"{rest[0]} = {literal}\n")
            out = "".join(lines)
        if out is not None:
            break
    if out is None:
        raise ConfigError(f"cannot place {dotted!r} in the scenario text")
    got = lookup(tomllib.loads(out), dotted)
    if got is None or not math.isclose(float(got), float(literal), rel_tol=1e-12):
        raise ConfigError(f"writing {dotted!r} failed (read back {got!r})")
    return out


def write_scenario(scenario: str, params: dict[str, float], path: str | Path, note: str) -> Path:
    """Write the scenario (a built-in name or a .toml path) with fitted values substituted and a header note."""
    from importlib import resources

    source = Path(scenario)
    if source.suffix == ".toml":
        text = source.read_text(encoding="utf-8")
    else:
        text = (resources.files("livemarket") / "scenarios" / f"{scenario}.toml").read_text()
    for name, value in params.items():
        text = set_toml_value(text, name, value)
    text = f"# {note}\n" + text
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    load_scenario(path)  # must validate
    return path
