"""Job attempts as this process's job supervisor saw them end (its own worker processes').

Counted in the supervisor, which outlives the worker processes and is what gets scraped:
`manage.py serve` runs it in the server process, `manage.py run_jobs --metrics-port` serves
it on a port of its own.
"""

from prometheus_client import Counter, Histogram

from jobs.models import JobStatus

COMPLETIONS = Counter(
    "episodes_worker_job_completions",
    "Job attempts that succeeded, by job type.",
    ["job_type"],
)
FAILURES = Counter(
    "episodes_worker_job_failures",
    "Job attempts that failed (raised, timed out, or lost their worker process), by job type.",
    ["job_type"],
)
RETRIES = Counter(
    "episodes_worker_job_retries",
    "Failed job attempts followed by a scheduled retry, by job type.",
    ["job_type"],
)
DEAD_LETTERS = Counter(
    "episodes_worker_job_dead_letters",
    "Failed last attempts, which leave their job failed until someone retries it, by job type.",
    ["job_type"],
)
RUN_SECONDS = Histogram(
    "episodes_worker_job_run_seconds",
    "How long job attempts ran, whatever their outcome, by job type.",
    ["job_type"],
    buckets=(0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0, 900.0, 1800.0),
)


def attempt_finished(job_type: str, status: str | None, seconds: float | None = None) -> None:
    """Count an attempt by the status it left its job in (None: taken from this worker
    meanwhile, so another answers for it); `seconds` is None when the supervisor answered
    for a worker process that could not."""
    if seconds is not None:
        RUN_SECONDS.labels(job_type).observe(seconds)
    if status == JobStatus.COMPLETED:
        COMPLETIONS.labels(job_type).inc()
    elif status in (JobStatus.RETRY_SCHEDULED, JobStatus.FAILED):
        FAILURES.labels(job_type).inc()
        counter = RETRIES if status == JobStatus.RETRY_SCHEDULED else DEAD_LETTERS
        counter.labels(job_type).inc()
