"""Who hears about jobs: a job's outcome concerns whoever started it."""

from activity.models import Action, ActivityLog, NotificationType, Priority
from activity.notifications.rules import Planned, links_to, register, summary_of
from jobs import registry
from jobs.models import Job


def _job_creator(entry: ActivityLog) -> set[int]:
    creator = Job.objects.filter(pk=entry.resource_id).values_list("created_by_id", flat=True)
    return {user_id for user_id in creator if user_id is not None}


def _has_no_creator(entry: ActivityLog) -> bool:
    """Jobs nobody started (scheduled, system ones) tell nobody: the row's summary says so
    without a query, and a job never gains a creator. One that had one is looked up, since
    the user may have been deleted since."""
    summary = summary_of(entry)
    return "created_by_id" in summary and summary["created_by_id"] is None


def _job_completed(entry: ActivityLog) -> Planned | None:
    job_type = summary_of(entry).get("job_type", "job")
    declared = registry.get(job_type)
    if _has_no_creator(entry) or (declared is not None and declared.quiet):
        return None
    return Planned(
        type=NotificationType.JOB_COMPLETED,
        title=f"{job_type} finished",
        message=f"Your {job_type} job completed.",
        recipients=_job_creator(entry),
        priority=Priority.LOW,
        data=links_to(entry),
    )


def _job_failed(entry: ActivityLog) -> Planned | None:
    if _has_no_creator(entry):
        return None
    summary = summary_of(entry)
    job_type = summary.get("job_type", "job")
    attempts = summary.get("attempts")
    return Planned(
        type=NotificationType.JOB_FAILED,
        title=f"{job_type} failed",
        message=f"Your {job_type} job failed after {attempts} attempts: "
        f"{summary.get('last_error') or 'no error recorded'}",
        recipients=_job_creator(entry),
        priority=Priority.HIGH,
        data=links_to(entry),
    )


def register_rules() -> None:
    register("job", Action.COMPLETE, _job_completed, readable_with="jobs.view_job")
    register("job", Action.FAIL, _job_failed, readable_with="jobs.view_job")
