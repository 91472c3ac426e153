"""Drawing figures in two processes: a fork of this one draws half of them.

Forking copies the imported modules for free (a fresh process would spend seconds
importing them again). It is done only where it is safe: on Linux, with at least two
processors free to this process, and before any thread pool of polars (or another Python
thread) has started, since a fork copies only the thread that forks. Anywhere else the
figures are drawn one after the other, as they would be without this module.
"""

from __future__ import annotations

import json
import os
import sys
import threading
import warnings
from collections.abc import Callable
from pathlib import Path

__all__ = ["can_fork", "in_two_processes"]

_BUSY = ("polars-", "tokio", "async-exec", "rayon")


def can_fork() -> bool:
    """Whether a fork of this process is safe and useful now (see the module docstring)."""
    if sys.platform != "linux" or not hasattr(os, "fork") or threading.active_count() > 1:
        return False
    try:
        if len(os.sched_getaffinity(0)) < 2:
            return False
        names = [Path(f"/proc/self/task/{t}/comm").read_text().strip() for t in os.listdir("/proc/self/task")]
    except OSError:
        return False
    return not any(n.startswith(_BUSY) and n != "polars-ooc-clea" for n in names)


def in_two_processes(part: Callable[[int], list[Path]]) -> list[Path]:
    """Run ``part(1)`` in a fork and ``part(0)`` here; return both lists of files written.

    If the fork fails, ``part(1)`` is run here afterwards, so that an error is raised here, once.
    """
    sys.stdout.flush()
    sys.stderr.flush()
    read, write = os.pipe()
    with warnings.catch_warnings():  # Python warns of any OS thread; the ones left (allocator, BLAS) are idle
        warnings.simplefilter("ignore", DeprecationWarning)
        pid = os.fork()
    if pid == 0:  # the fork: draw, report the files, leave without running this process's exit handlers
        code = 1
        try:
            os.close(read)
            with os.fdopen(write, "w") as pipe:
                json.dump([str(p) for p in part(1)], pipe)
            code = 0
        except BaseException:  # noqa: BLE001, S110  (the parent redoes this half and reports the error)
            pass
        finally:
            os._exit(code)
    os.close(write)
    try:
        mine = part(0)
    finally:
        with os.fdopen(read) as pipe:
            text = pipe.read()
        _, status = os.waitpid(pid, 0)
    if os.waitstatus_to_exitcode(status) == 0 and text:
        return mine + [Path(p) for p in json.loads(text)]
    return mine + part(1)
