"""Puts what the job runtime reports (`jobs.events`) on the event stream."""

from typing import Any

from jobs.events import Progress
from realtime import broadcast


def progress(progress: Progress) -> None:
    data = {
        "job_id": progress.job_id,
        "job_type": progress.job_type,
        "progress": progress.percent,
        "message": progress.message,
    }
    broadcast.publish_ephemeral(f"job:{progress.job_id}", "job_progress", data)
    broadcast.publish_ephemeral("jobs", "job_progress", data)


def activity_committed() -> None:
    broadcast.announce_activity()


def event_relayed(event: dict[str, Any]) -> None:
    broadcast.publish_ephemeral(event["topic"], event["event"], event["data"])
