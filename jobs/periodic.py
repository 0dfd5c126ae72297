"""Housekeeping declared in code with its period, run by the job workers: no cron needed.

Each app declares its own tasks, one line each, from its `AppConfig.ready()` (or a module
that calls this from there, such as `jobs/housekeeping.py`):

    periodic.register("prune_activity", every=timedelta(days=1), run=prune_old_activity)

`run` takes no arguments and returns how many things it cleaned, or None when it has no
count (a task turned off by its setting, say). `jobs.scheduler` runs each task at most once
per period across every worker.
"""

from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta


@dataclass(frozen=True)
class Task:
    name: str
    every: timedelta
    run: Callable[[], int | None]


_tasks: dict[str, Task] = {}


def register(name: str, every: timedelta, run: Callable[[], int | None]) -> Task:
    """Declare a task; a second declaration under one name is a mistake, not an override."""
    if not name or len(name) > 64:
        raise ValueError(f"a periodic task's name takes 1 to 64 characters, got {name!r}")
    if every <= timedelta(0):
        raise ValueError(f"periodic task {name!r} needs a positive period, got {every}")
    if name in _tasks:
        raise ValueError(f"periodic task {name!r} is registered already")
    task = _tasks[name] = Task(name=name, every=every, run=run)
    return task


def tasks() -> list[Task]:
    return sorted(_tasks.values(), key=lambda task: task.name)
