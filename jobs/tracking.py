"""How jobs appear in the activity log: each status change is the action it stands for, and
a job's rows are read by whoever may see the job."""

from activity import formatting, visibility
from activity.models import Action
from activity.tracking import track
from jobs import selectors
from jobs.models import Job, JobStatus

_ACTION_FOR_STATUS = {
    JobStatus.RUNNING: Action.START,
    JobStatus.COMPLETED: Action.COMPLETE,
    JobStatus.FAILED: Action.FAIL,
    JobStatus.CANCELLED: Action.CANCEL,
    JobStatus.RETRY_SCHEDULED: Action.RETRY,
}


def action_for(changes: dict[str, list]) -> str | None:
    if "status" not in changes:
        return None
    before, after = changes["status"]
    if after == JobStatus.PENDING:
        # Back in the queue: by hand after it ended, or from a worker that stopped.
        return Action.REQUEUE if before in (JobStatus.FAILED, JobStatus.CANCELLED) else Action.RETRY
    return _ACTION_FOR_STATUS.get(after)


def track_jobs() -> None:
    track(
        Job,
        resource_type="job",
        # Heartbeats and progress change constantly; progress travels as ephemeral events.
        exclude=frozenset({"heartbeat_at", "progress", "progress_message", "errors"}),
        episode=lambda job: job.episode_id,
        action_for=action_for,
        summary_fields=(
            "id",
            "job_type",
            "status",
            "attempts",
            "max_attempts",
            "progress",
            "run_after",
            "episode_id",
            # Who may see the job's events is decided from the events themselves.
            "created_by_id",
            "worker_id",
            "last_error",
        ),
    )
    formatting.register("job", Job)
    visibility.register("job", rows=selectors.job_activity)
    visibility.register("job_processor", permission=selectors.VIEW_JOB)
