"""The topics that carry jobs. The queue knows nothing of the stream, so the stream registers
them itself: `jobs` follows every job and processor, `job:<uuid>` one job's own rows.

A job is seen by staff, and, with the permission to view jobs, by its creator and by whoever
may read the episode it is on (the app that owns episodes names that permission at start-up),
as the job API has it. Its events carry its creator (`created_by_id` in the summary) and
episode, so each socket's share is decided without a query.
"""

from jobs.models import Job
from realtime import access, topics
from realtime.access import Access
from realtime.topics import About

VIEW_JOB = "jobs.view_job"

# The permission that lets a user read an episode, and so see the jobs on it; none until the
# app that owns episodes says.
_episode_readers: str | None = None


def register_job_topics() -> None:
    topics.register_collection("jobs", {"job", "job_processor"}, readable=topics.requires(VIEW_JOB))
    topics.register_resource("job", field="resource_id", resource_type="job", readable=_job_gate)
    topics.register_rows("job", visible=job_visible)
    topics.register_rows("job_processor", permission=VIEW_JOB)


def read_jobs_on_episodes_with(permission: str) -> None:
    """Whoever holds `permission` may read every episode, and so sees the jobs on them."""
    global _episode_readers
    _episode_readers = access.watch(permission)


def may_see(who: Access, created_by_id: int | None, episode_id: object) -> bool:
    if who.staff:
        return True
    if not who.has(VIEW_JOB):
        return False
    if created_by_id is not None and created_by_id == who.user_id:
        return True
    return episode_id is not None and _episode_readers is not None and who.has(_episode_readers)


def job_visible(who: Access, about: About) -> bool:
    return may_see(who, about.summary.get("created_by_id"), about.episode_id)


def _job_gate(who: Access, ident: str) -> str | None:
    if who.staff:
        return None
    if not who.has(VIEW_JOB):
        return f"you do not have the permission {VIEW_JOB}"
    job = Job.objects.filter(pk=ident).values("created_by_id", "episode_id").first()
    if job is None or not may_see(who, job["created_by_id"], job["episode_id"]):
        readers = f" ({_episode_readers})" if _episode_readers else ""
        return f"it is not a job of yours or on an episode you may read{readers}"
    return None
