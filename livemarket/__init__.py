"""livemarket: agent-based market research for live-stream e-commerce, built on Mesa.

``LiveCommerceModel`` is imported on first use, so that commands which only read results
(``livemarket figures``) start without importing Mesa and the model.
"""

from importlib.metadata import PackageNotFoundError, version

from livemarket.config import ConfigError, ScenarioConfig, builtin_scenarios, load_scenario

try:
    __version__ = version("livemarket")
except PackageNotFoundError:  # pragma: no cover - running from a source tree
    __version__ = "0.0.0"

__all__ = [
    "ConfigError",
    "LiveCommerceModel",
    "ScenarioConfig",
    "__version__",
    "builtin_scenarios",
    "load_scenario",
]


def __getattr__(name: str):
    if name == "LiveCommerceModel":
        from livemarket.models.market import LiveCommerceModel

        return LiveCommerceModel
    raise AttributeError(f"module 'livemarket' has no attribute {name!r}")
