"""The job types a worker can run: Django tasks, each declared with its payload, its result
and its limits.

    @job_type("episodes_export", payload=ExportPayload, result=ExportResult, timeout_seconds=1800)
    @task
    def episodes_export(**payload): ...

The payload serializer validates what a client sends; the result serializer describes what the
handler returns (None: it returns nothing), so the API schema types both for each job type.

Each app keeps its handlers in a `tasks` module, which the jobs app imports at startup.
"""

import inspect
from dataclasses import dataclass

from django.tasks import Task
from rest_framework import serializers

DEFAULT_MAX_ATTEMPTS = 4  # one try and three retries
DEFAULT_TIMEOUT_SECONDS = 15 * 60
BACKOFF_BASE_SECONDS = 5.0
BACKOFF_CAP_SECONDS = 300.0


@dataclass(frozen=True)
class JobType:
    name: str
    task: Task
    payload: type[serializers.Serializer]
    result: type[serializers.Serializer] | None
    max_attempts: int = DEFAULT_MAX_ATTEMPTS
    timeout_seconds: int = DEFAULT_TIMEOUT_SECONDS
    backoff_base: float = BACKOFF_BASE_SECONDS
    backoff_cap: float = BACKOFF_CAP_SECONDS
    # Housekeeping the service starts on a user's behalf (reading an upload's metadata):
    # its creator hears of it only if it fails.
    quiet: bool = False
    # The service's own plumbing (sending a webhook): enqueued by the service alone, never
    # through the API, and left out of what clients are offered.
    internal: bool = False

    @property
    def description(self) -> str:
        return inspect.getdoc(self.task.func) or ""


_by_name: dict[str, JobType] = {}
_by_path: dict[str, JobType] = {}


def job_type(
    name: str,
    *,
    payload: type[serializers.Serializer],
    result: type[serializers.Serializer] | None,
    **limits,
):
    """Register a task as a job type; returns the task unchanged."""

    def register(task: Task) -> Task:
        if not isinstance(task, Task):
            raise TypeError(f"@job_type({name!r}) goes above @task.")
        existing = _by_name.get(name)
        if existing is not None and existing.task.module_path != task.module_path:
            raise ValueError(
                f"Job type {name!r} is already registered by {existing.task.module_path}."
            )
        declared = JobType(name=name, task=task, payload=payload, result=result, **limits)
        _by_name[name] = declared
        _by_path[task.module_path] = declared
        return task

    return register


def get(name: str) -> JobType | None:
    return _by_name.get(name)


def for_task(task: Task) -> JobType | None:
    return _by_path.get(task.module_path)


def all_types() -> list[JobType]:
    return sorted(_by_name.values(), key=lambda declared: declared.name)


def creatable_types() -> list[JobType]:
    """The types a client may enqueue: all but the internal ones."""
    return [declared for declared in all_types() if not declared.internal]
