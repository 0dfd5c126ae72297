from django.core.management.base import BaseCommand, CommandParser

from activity import retention
from episode_metadata.common.command_arguments import add_retention_arguments, days_ago


class Command(BaseCommand):
    help = "Delete activity older than a number of days, in batches, and record how far it went."

    def add_arguments(self, parser: CommandParser) -> None:
        add_retention_arguments(parser, deletes="activity recorded")

    def handle(self, *args, older_than: int, dry_run: bool, **options) -> None:
        before = days_ago(older_than)
        if dry_run:
            count, through_id = retention.prunable_summary(before=before)
            self.stdout.write(
                f"Would delete {count} activity rows from before {before.isoformat()}"
                + (f" (through #{through_id})." if count else ".")
            )
            return
        total = retention.prune(before=before, on_batch=self._report_batch)
        self.stdout.write(
            self.style.SUCCESS(f"Deleted {total} activity rows from before {before.isoformat()}.")
        )

    def _report_batch(self, batch: retention.Batch) -> None:
        self.stdout.write(f"Deleted {batch.deleted} rows through #{batch.through_id}.")
