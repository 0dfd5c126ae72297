"""Reads of jobs and job types, as the API and the admin show them."""

from typing import Any

from django.db.models import QuerySet

from jobs import registry
from jobs.models import Job


def job_list() -> QuerySet[Job]:
    """Every job, with its creator joined: each row names who enqueued it."""
    return Job.objects.select_related("created_by")


def job_types() -> list[registry.JobType]:
    return registry.all_types()


def listed_files(job: Job) -> list[Any]:
    """The `files` a finished job's handler listed in its result, as it listed them.

    Handlers report files as `{"files": [{"format", "path", "size", "content_type"}], ...}`;
    a result without such a list (or that is not an object at all) lists none.
    """
    files = job.result.get("files") if isinstance(job.result, dict) else None
    return files if isinstance(files, list) else []


def is_output_file(entry: Any) -> bool:
    """Whether a listed entry names a stored file that can be downloaded by its format."""
    if not isinstance(entry, dict):
        return False
    file_format, path = entry.get("format"), entry.get("path")
    # The format is a segment of the download URL.
    valid_format = isinstance(file_format, str) and file_format and "/" not in file_format
    return bool(valid_format) and isinstance(path, str) and bool(path)


def output_file(job: Job, file_format: str) -> dict[str, Any] | None:
    for entry in listed_files(job):
        if is_output_file(entry) and entry["format"] == file_format:
            return entry
    return None
