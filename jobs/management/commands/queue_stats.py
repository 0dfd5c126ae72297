from collections import defaultdict
from datetime import timedelta

from django.conf import settings
from django.core.management.base import BaseCommand
from django.utils import timezone

from jobs import selectors
from jobs.models import JobStatus


def _seconds(age: timedelta) -> str:
    return f"{age.total_seconds():.0f} s"


class Command(BaseCommand):
    help = (
        "Show the job queues: jobs per queue and type by status, how long the job due "
        "longest has waited in each queue, and the job workers alive."
    )

    def handle(self, *args, **options) -> None:
        self._counts()
        self._waits()
        self._workers()

    def _counts(self) -> None:
        by_kind: dict[tuple[str, str], dict[str, int]] = defaultdict(dict)
        for row in selectors.job_counts("queue_name", "job_type", "status"):
            by_kind[row["queue_name"], row["job_type"]][row["status"]] = row["count"]
        if not by_kind:
            self.stdout.write("No jobs.")
            return
        queue_width = max(len("queue"), *(len(queue) for queue, _ in by_kind))
        type_width = max(len("job type"), *(len(job_type) for _, job_type in by_kind))
        header = f"{'queue':<{queue_width}}  {'job type':<{type_width}}"
        self.stdout.write(header + "".join(f"  {status:>15}" for status in JobStatus.values))
        for (queue, job_type), counts in by_kind.items():
            line = f"{queue:<{queue_width}}  {job_type:<{type_width}}"
            self.stdout.write(
                line + "".join(f"  {counts.get(status, 0):>15}" for status in JobStatus.values)
            )

    def _waits(self) -> None:
        waits = selectors.oldest_due_waits()
        if not waits:
            self.stdout.write("\nNo job is waiting for a worker.")
            return
        self.stdout.write("\nThe job due longest, per queue, has waited:")
        for queue, wait in waits.items():
            self.stdout.write(f"  {queue}: {_seconds(wait)}")

    def _workers(self) -> None:
        workers = list(selectors.live_workers(fresh_within=settings.JOBS_LEASE_SECONDS))
        self.stdout.write(f"\nJob workers alive: {len(workers)}")
        now = timezone.now()
        for worker in workers:
            self.stdout.write(
                f"  {worker.name}: {worker.concurrency} processes on queues "
                f"{','.join(worker.queues)}, up {_seconds(now - worker.started_at)}, "
                f"last heartbeat {_seconds(now - worker.heartbeat_at)} ago"
            )
