"""A run's last-day state, saved beside its results so that figures need not replay the run.

``livemarket run`` writes ``state.npz`` (numpy only, no plotting imports): the social graph
(CSR arrays), each consumer's installed apps, minutes and trust in every platform, and the
day. :func:`read_state` gives it back as an object with the parts of a
:class:`livemarket.LiveCommerceModel` that the graph and trust figures read
(``social_graph``, ``platform_list``, ``consumers.snapshot()``, ``consumers.platform_trust()``,
``config.consumers``, ``day``), so ``livemarket figures`` draws them in a blink; a run
folder without it (or with one of another run) is replayed as before.
"""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import numpy as np

__all__ = ["MAX_CONSUMERS", "STATE_FILE", "read_state", "write_state"]

STATE_FILE = "state.npz"
#: Largest population whose state is saved (about 100 bytes per consumer).
MAX_CONSUMERS = 200_000


def write_state(model, folder: str | Path) -> Path | None:
    """Save the model's current state into ``folder`` (nothing for populations over :data:`MAX_CONSUMERS`)."""
    if model.config.consumers > MAX_CONSUMERS:
        return None
    s = model.consumers.snapshot()
    path = Path(folder) / STATE_FILE
    tmp = path.with_suffix(".tmp.npz")
    graph = model.social_graph
    np.savez_compressed(
        tmp, run_id=np.array(model.run_id), day=np.array(model.day),
        names=np.array([p.name for p in model.platform_list]), indptr=graph.indptr, indices=graph.indices,
        installed=s.installed, minutes=s.minutes, trust=model.consumers.platform_trust(),
    )  # fmt: skip
    tmp.replace(path)
    return path


class _Consumers:
    def __init__(self, installed: np.ndarray, minutes: np.ndarray, trust: np.ndarray):
        self._state = SimpleNamespace(installed=installed, minutes=minutes)
        self._trust = trust

    def snapshot(self) -> SimpleNamespace:
        return self._state

    def platform_trust(self) -> np.ndarray:
        return self._trust


def read_state(folder: str | Path, run_id: str | None = None, day: int | None = None):
    """The saved state of a run folder, or ``None`` if it has none (or one of another run or day)."""
    path = Path(folder) / STATE_FILE
    if not path.is_file():
        return None
    try:
        with np.load(path, allow_pickle=False) as z:
            data = {k: z[k] for k in z.files}
    except (OSError, ValueError, KeyError):
        return None
    if (run_id is not None and str(data["run_id"]) != run_id) or (day is not None and int(data["day"]) != day):
        return None
    installed = data["installed"]
    graph = SimpleNamespace(n=len(installed), indptr=data["indptr"], indices=data["indices"])
    return SimpleNamespace(
        social_graph=graph, platform_list=[SimpleNamespace(name=str(n)) for n in data["names"]],
        consumers=_Consumers(installed, data["minutes"], data["trust"]),
        config=SimpleNamespace(consumers=len(installed)), day=int(data["day"]),
    )  # fmt: skip
