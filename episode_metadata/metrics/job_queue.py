"""The job queue as the database holds it, read at each scrape.

Every process that serves metrics reports the same deployment-wide figures, so any one of
them answers for the queue, whichever workers are up. Two indexed queries a scrape:
completed and cancelled jobs, which only accumulate, are left out; the workers' counters
(`job_attempts`) give their rates.
"""

import logging
from collections.abc import Iterator

from django.db import DatabaseError
from prometheus_client.core import GaugeMetricFamily, Metric

from jobs import registry, selectors
from jobs.models import WAITING, Job, JobStatus

logger = logging.getLogger(__name__)

LIVE_STATUSES = (*WAITING, JobStatus.RUNNING)


def _families() -> tuple[
    GaugeMetricFamily, GaugeMetricFamily, GaugeMetricFamily, GaugeMetricFamily
]:
    jobs = GaugeMetricFamily(
        "episodes_jobs",
        "Jobs waiting or running, by job type and status (pending, retry_scheduled, running).",
        labels=["job_type", "status"],
    )
    dead = GaugeMetricFamily(
        "episodes_jobs_dead",
        "Jobs that failed for good (status failed) and wait for someone to retry them, "
        "by job type.",
        labels=["job_type"],
    )
    depth = GaugeMetricFamily(
        "episodes_jobs_queue_depth",
        "Jobs due to run now (pending or retry_scheduled, run_after passed), by queue.",
        labels=["queue"],
    )
    oldest = GaugeMetricFamily(
        "episodes_jobs_oldest_due_age_seconds",
        "How long the job due longest has waited for a worker, by queue; 0 when none is due.",
        labels=["queue"],
    )
    return jobs, dead, depth, oldest


class JobQueueCollector:
    def describe(self) -> Iterator[Metric]:
        """The names, for the registry to check against others' without a query."""
        return iter(_families())

    def collect(self) -> Iterator[Metric]:
        jobs, dead, depth, oldest = _families()
        try:
            counts = selectors.job_counts(
                "job_type",
                "status",
                jobs=Job.objects.filter(status__in=(*LIVE_STATUSES, JobStatus.FAILED)),
            )
            backlog = selectors.due_backlog()
        except DatabaseError as exc:
            logger.warning("could not read the job queue for metrics (%s)", exc)
            return
        _add_statuses(jobs, dead, counts)
        _add_backlog(depth, oldest, backlog)
        yield from (jobs, dead, depth, oldest)


def _add_statuses(jobs: GaugeMetricFamily, dead: GaugeMetricFamily, counts: list[dict]) -> None:
    # Every registered type appears, at 0 when it has no such jobs, so alerts see a value.
    found = {(row["job_type"], row["status"]): row["count"] for row in counts}
    types = {declared.name for declared in registry.all_types()} | {t for t, _ in found}
    for job_type in sorted(types):
        for status in LIVE_STATUSES:
            jobs.add_metric([job_type, status], found.get((job_type, status), 0))
        dead.add_metric([job_type], found.get((job_type, JobStatus.FAILED), 0))


def _add_backlog(depth: GaugeMetricFamily, oldest: GaugeMetricFamily, backlog: list[dict]) -> None:
    found = {row["queue_name"]: row for row in backlog}
    queues = {declared.task.queue_name for declared in registry.all_types()} | set(found)
    for queue in sorted(queues):
        row = found.get(queue)
        depth.add_metric([queue], row["depth"] if row else 0)
        oldest.add_metric([queue], max(row["waited"].total_seconds(), 0.0) if row else 0.0)
