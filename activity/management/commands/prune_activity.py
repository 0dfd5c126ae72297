import argparse
from datetime import timedelta

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils import timezone

from activity import retention


def positive_int(raw: str) -> int:
    try:
        value = int(raw)
    except ValueError:
        raise argparse.ArgumentTypeError(f"'{raw}' is not a whole number of days.") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1 day, not {value}.")
    return value


class Command(BaseCommand):
    help = "Delete activity older than a number of days, in batches, and record how far it went."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--older-than",
            type=positive_int,
            required=True,
            metavar="DAYS",
            help="Delete activity recorded more than DAYS days ago.",
        )
        parser.add_argument(
            "--dry-run", action="store_true", help="Report what would be deleted; delete nothing."
        )

    def handle(self, *args, older_than: int, dry_run: bool, **options) -> None:
        try:
            before = timezone.now() - timedelta(days=older_than)
        except OverflowError:
            raise CommandError(
                f"--older-than {older_than} reaches back before the year 1."
            ) from None
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
