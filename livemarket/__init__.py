"""livemarket: agent-based market research for live-stream e-commerce, built on Mesa."""

from importlib.metadata import PackageNotFoundError, version

from livemarket.config import ConfigError, ScenarioConfig, builtin_scenarios, load_scenario
from livemarket.models.market import LiveCommerceModel

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
