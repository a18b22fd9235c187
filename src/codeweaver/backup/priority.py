"""Background priority for backup processes, so searches on the same machine come first."""

from __future__ import annotations

import multiprocessing
import os
from concurrent.futures import ProcessPoolExecutor

__all__ = ["background_process", "run_in_background_priority"]


def run_in_background_priority() -> str:
    """Lower this process's CPU priority: ``SCHED_IDLE`` where the OS has it (the process
    runs only on otherwise idle CPU time), else ``nice`` 10. Returns what was applied."""
    try:
        os.sched_setscheduler(0, os.SCHED_IDLE, os.sched_param(0))
        return "idle"
    except (AttributeError, OSError):
        pass
    try:
        os.nice(10)
        return "nice"
    except OSError:
        return "normal"


def background_process() -> ProcessPoolExecutor:
    """A one-worker pool whose fresh (spawned) process lowers its priority before it
    loads anything else."""
    return ProcessPoolExecutor(
        max_workers=1,
        mp_context=multiprocessing.get_context("spawn"),
        initializer=run_in_background_priority,
    )
