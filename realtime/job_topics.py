"""The topics that carry jobs. The queue knows nothing of the stream, so the stream registers
them itself: `jobs` follows every job and processor, `job:<uuid>` one job's own rows."""

from realtime import topics


def register_job_topics() -> None:
    topics.register_collection("jobs", {"job", "job_processor"})
    topics.register_resource("job", field="resource_id", resource_type="job")
