from django.core.management.base import BaseCommand, CommandParser

from episode_metadata.common import context
from episode_metadata.common.command_arguments import add_retention_arguments, days_ago
from episode_metadata.common.context import Source
from jobs import retention, selectors


class Command(BaseCommand):
    help = (
        "Delete failed and cancelled jobs that ended more than a number of days ago, in "
        "batches. Their history stays in the activity log, with the deletion."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        add_retention_arguments(parser, deletes="failed and cancelled jobs that ended")

    def handle(self, *args, older_than: int, dry_run: bool, **options) -> None:
        before = days_ago(older_than)
        if dry_run:
            count = selectors.purgeable_jobs(finished_before=before).count()
            self.stdout.write(f"Would delete {count} jobs that ended before {before.isoformat()}.")
            return
        actor = context.ActivityContext(
            source=Source.SYSTEM, actor_label="manage.py purge_dead_jobs"
        )
        with context.acting(actor):
            total = retention.purge(
                finished_before=before,
                on_batch=lambda done: self.stdout.write(f"Deleted {done} so far."),
            )
        self.stdout.write(
            self.style.SUCCESS(f"Deleted {total} jobs that ended before {before.isoformat()}.")
        )
