from datetime import timedelta

from django.core.management.base import BaseCommand, CommandParser
from django.db.models import QuerySet
from django.utils import timezone

from episode_metadata.common import context
from episode_metadata.common.command_arguments import positive_hours
from episode_metadata.common.context import Source
from jobs import selectors, services
from jobs.models import Job


class Command(BaseCommand):
    help = (
        "Put failed (dead) jobs back in the queue with a fresh set of attempts, in batches, "
        "each logged and announced as a retry by hand. Fix the cause of the failures first."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--job-type", metavar="TYPE", help="Only jobs of this type.")
        parser.add_argument("--queue", metavar="QUEUE", help="Only jobs of this queue.")
        parser.add_argument(
            "--failed-within",
            type=positive_hours,
            metavar="HOURS",
            help="Only jobs that failed in the last HOURS hours (say, since an outage began).",
        )
        parser.add_argument(
            "--dry-run", action="store_true", help="Report what would be retried; retry nothing."
        )

    def handle(self, *args, failed_within: float | None, dry_run: bool, **options) -> None:
        dead = selectors.dead_jobs(
            job_type=options["job_type"],
            queue_name=options["queue"],
            failed_since=timezone.now() - timedelta(hours=failed_within) if failed_within else None,
        )
        if dry_run:
            self._describe(dead)
            return
        actor = context.ActivityContext(
            source=Source.SYSTEM, actor_label="manage.py retry_dead_jobs"
        )
        with context.acting(actor):
            total = services.retry_dead(
                dead, on_batch=lambda done: self.stdout.write(f"Retried {done} so far.")
            )
        self.stdout.write(self.style.SUCCESS(f"Retried {total} failed jobs."))

    def _describe(self, dead: QuerySet[Job]) -> None:
        total = 0
        for group in selectors.job_counts("queue_name", "job_type", jobs=dead):
            total += group["count"]
            self.stdout.write(
                f"  {group['count']:>8}  {group['job_type']} (queue {group['queue_name']})"
            )
        self.stdout.write(f"Would retry {total} failed jobs.")
