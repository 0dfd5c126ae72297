"""Puts what the job runtime reports (`jobs.events`) on the event stream."""

from typing import Any

from jobs.events import Progress
from realtime import broadcast
from realtime.webhooks import dispatcher


def progress(progress: Progress) -> None:
    data = {
        "job_id": progress.job_id,
        "job_type": progress.job_type,
        "progress": progress.percent,
        "message": progress.message,
    }
    # Who may see it is decided as for the job's rows (realtime.job_topics).
    about = {
        "resource_type": "job",
        "episode_id": progress.episode_id,
        "summary": {"created_by_id": progress.created_by_id},
    }
    broadcast.publish_ephemeral(f"job:{progress.job_id}", "job_progress", data, about)
    broadcast.publish_ephemeral("jobs", "job_progress", data, about)


def activity_committed() -> None:
    broadcast.announce_activity()
    dispatcher.nudge()


def event_relayed(event: dict[str, Any]) -> None:
    broadcast.publish_ephemeral(event["topic"], event["event"], event["data"], event.get("about"))
