"""The model an experiment runs: ``"package.module:Class"``, the built-in model or a subclass of it.

A researcher's strategy is usually a subclass of :class:`~livemarket.models.market.LiveCommerceModel`
in their own module (a rule that reads the market and sets parameters). A spec names it
(``model = "mystrategies:FeeRatchet"``); the driver and every worker import it by that name,
so the module must be importable on each of them (installed, or on ``PYTHONPATH``).

The keyword arguments a subclass adds to the constructor (``FeeRatchet(cap=0.1)``) are set
like scenario parameters, with the prefix ``model.``: an override ``"model.cap=0.1"`` or a
factor with ``path = "model.cap"``. :func:`split_overrides` takes them apart.

Example:
    >>> load_model_class(DEFAULT_MODEL).__name__
    'LiveCommerceModel'
    >>> load_model_class("livemarket.config:ScenarioConfig")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    livemarket.config.ConfigError: model: 'livemarket.config:ScenarioConfig' is not a subclass of ...
"""

from __future__ import annotations

import functools
import hashlib
import importlib
import inspect
import re
from pathlib import Path
from typing import Any

from livemarket.config import ConfigError

__all__ = ["DEFAULT_MODEL", "MODEL_PREFIX", "check_keywords", "check_model_ref", "load_model_class",
           "model_keywords", "model_source_sha256", "split_overrides"]

DEFAULT_MODEL = "livemarket.models.market:LiveCommerceModel"
MODEL_PREFIX = "model."  # overrides and factor paths that set a keyword of the model class
_REF = re.compile(r"^[A-Za-z_]\w*(\.[A-Za-z_]\w*)*:[A-Za-z_]\w*(\.[A-Za-z_]\w*)*$")


def check_model_ref(ref: str, field: str = "model") -> str:
    """Return ``ref`` if it reads ``package.module:Class``; else raise :class:`ConfigError` naming ``field``."""
    if not isinstance(ref, str) or not _REF.match(ref):
        raise ConfigError(f"{field}: {ref!r} is not 'package.module:Class' (e.g. {DEFAULT_MODEL!r})")
    return ref


@functools.cache
def load_model_class(ref: str, field: str = "model") -> type:
    """Import the model class ``"package.module:Class"`` and check it is a LiveCommerceModel.

    Raises:
        ConfigError: the text is malformed, the module or class cannot be imported, or the
            class is not a subclass of ``LiveCommerceModel``; the message names ``field``.
    """
    from livemarket.models.market import LiveCommerceModel

    module_name, _, qualname = check_model_ref(ref, field).partition(":")
    try:
        obj = importlib.import_module(module_name)
    except Exception as err:  # noqa: BLE001 - any failure to import is the spec's problem, said so
        raise ConfigError(
            f"{field}: cannot import module {module_name!r} of {ref!r} ({type(err).__name__}: {err}); "
            "it must be importable on the driver and on every worker (installed, or on PYTHONPATH)"
        ) from None
    for part in qualname.split("."):
        if not hasattr(obj, part):
            raise ConfigError(f"{field}: module {module_name!r} has no {qualname!r} (from {ref!r})")
        obj = getattr(obj, part)
    if not (isinstance(obj, type) and issubclass(obj, LiveCommerceModel)):
        raise ConfigError(f"{field}: {ref!r} is not a subclass of livemarket.models.market.LiveCommerceModel")
    return obj


def model_source_sha256(ref: str) -> str | None:
    """Hash of the source of a user's model class (None for the built-in model).

    The source is the module that defines the class or, when that module is part of a
    package, every ``.py`` file of its top-level package (helpers included). It enters the
    runs' identity: a sweep whose model source changed is another sweep. The built-in model
    is covered by :func:`livemarket.provenance.model_version`.
    """
    if ref == DEFAULT_MODEL:
        return None
    cls = load_model_class(ref)
    digest = hashlib.sha256()
    top = importlib.import_module(cls.__module__.partition(".")[0])
    try:
        if hasattr(top, "__path__"):  # a package: all of it
            root = Path(next(iter(top.__path__)))
            for f in sorted(root.rglob("*.py")):
                digest.update(f.relative_to(root).as_posix().encode() + b"\0" + f.read_bytes())
        else:
            digest.update(Path(inspect.getsourcefile(inspect.getmodule(cls)) or "").read_bytes())
    except (TypeError, OSError, StopIteration):  # defined without a file (a notebook cell): its name only
        digest.update(ref.encode())
    return digest.hexdigest()


def split_overrides(overrides: list[str]) -> tuple[list[str], dict[str, Any]]:
    """Split overrides into the scenario's and the model constructor's (``model.<keyword>=<TOML value>``).

    Example:
        >>> split_overrides(["platforms.video.ad_load=0.2", "model.cap=0.1"])
        (['platforms.video.ad_load=0.2'], {'cap': 0.1})
    """
    from livemarket.config import _parse_value

    scenario, keywords = [], {}
    for item in overrides:
        path, _, value = item.partition("=")
        if path.strip().startswith(MODEL_PREFIX):
            keywords[path.strip().removeprefix(MODEL_PREFIX)] = _parse_value(value.strip())
        else:
            scenario.append(item)
    return scenario, keywords


def model_keywords(ref: str) -> tuple[str, ...]:
    """The keyword arguments a model class adds to ``LiveCommerceModel``'s (the ones a spec may set)."""
    from livemarket.models.market import LiveCommerceModel

    own = set(inspect.signature(LiveCommerceModel.__init__).parameters)
    params = inspect.signature(load_model_class(ref).__init__).parameters.values()
    return tuple(p.name for p in params if p.name not in own and p.kind in (p.KEYWORD_ONLY, p.POSITIONAL_OR_KEYWORD))


def check_keywords(ref: str, keywords: dict[str, Any], where: str = "model") -> None:
    """Raise :class:`ConfigError` for a keyword the model class does not take (naming the accepted ones)."""
    accepted = model_keywords(ref)
    for name in keywords:
        if name not in accepted:
            raise ConfigError(
                f"{where}: {MODEL_PREFIX}{name}: {ref} takes no keyword {name!r}; accepted: "
                + (", ".join(f"{MODEL_PREFIX}{k}" for k in accepted) or "none (its constructor adds no keywords)")
            )
