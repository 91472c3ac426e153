"""The model an experiment runs: ``"package.module:Class"``, the built-in model or a subclass of it.

A researcher's strategy is usually a subclass of :class:`~livemarket.models.market.LiveCommerceModel`
in their own module (a rule that reads the market and sets parameters). A spec names it
(``model = "mystrategies:FeeRatchet"``); the driver and every worker import it by that name,
so the module must be importable on each of them (installed, or on ``PYTHONPATH``).

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

from livemarket.config import ConfigError

__all__ = ["DEFAULT_MODEL", "check_model_ref", "load_model_class", "model_source_sha256"]

DEFAULT_MODEL = "livemarket.models.market:LiveCommerceModel"
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
    """Hash of the source file that defines a user's model class (None for the built-in model).

    It enters the runs' identity: a sweep whose model source changed is another sweep. The
    built-in model is covered by :func:`livemarket.sweeps.version.model_version`.
    """
    if ref == DEFAULT_MODEL:
        return None
    cls = load_model_class(ref)
    try:
        source = inspect.getsourcefile(inspect.getmodule(cls)) or ""
        data = open(source, "rb").read()
    except (TypeError, OSError):  # defined without a file (a notebook cell): its qualified name only
        data = ref.encode()
    return hashlib.sha256(data).hexdigest()
