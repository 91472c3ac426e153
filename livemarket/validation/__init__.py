"""Stylized facts: calibration targets as data, moments from a run, the validation table and figure.

Every target names its source (``SEED_FACTS.md`` or a publication) and says whether the
calibration fits it (in-sample) or only reports it (out-of-sample). A *run* here is the
scenario (default ``china-2019``) from 2019-01-01 to 2021-06-30 with the documented 2020
history laid over it (:data:`HISTORY`); :func:`moments` turns one run into numbers,
:func:`summarise` turns replicates into a mean and a 95% interval per target, and
:func:`markdown_table` / :func:`figure` present them.

Example:
    >>> [t.key for t in TARGETS][:3]
    ['shelf_share_taobao', 'shelf_share_jd', 'shelf_share_pinduoduo']

"""

from livemarket.validation.cli import validate_command
from livemarket.validation.moments import hill_tail_index, moments
from livemarket.validation.report import figure, markdown_table, summarise
from livemarket.validation.runs import RunSpec, run_moments, run_replicates, validate
from livemarket.validation.targets import (
    DAYS,
    HISTORY,
    LIVE,
    LIVE_CHANNELS,
    SHELF,
    TARGETS,
    Target,
    loss,
    target_by_key,
)

__all__ = [
    "DAYS",
    "HISTORY",
    "LIVE",
    "LIVE_CHANNELS",
    "SHELF",
    "TARGETS",
    "RunSpec",
    "Target",
    "figure",
    "hill_tail_index",
    "loss",
    "markdown_table",
    "moments",
    "run_moments",
    "run_replicates",
    "summarise",
    "target_by_key",
    "validate",
    "validate_command",
]

