from django.core.management.base import BaseCommand, CommandParser

from activity.notifications import services
from episode_metadata.common.command_arguments import positive_int


class Command(BaseCommand):
    help = "Delete expired notifications, and read ones older than a number of days, in batches."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--read-older-than",
            type=positive_int,
            default=30,
            metavar="DAYS",
            help="Also delete notifications read and created more than DAYS days ago "
            "(default 30). Unread ones are kept until they expire.",
        )
        parser.add_argument(
            "--dry-run", action="store_true", help="Report what would be deleted; delete nothing."
        )

    def handle(self, *args, read_older_than: int, dry_run: bool, **options) -> None:
        if dry_run:
            count = services.prunable(read_older_than_days=read_older_than).count()
            self.stdout.write(f"Would delete {count} notifications.")
            return
        total = services.prune(
            read_older_than_days=read_older_than,
            progress=lambda deleted: self.stdout.write(f"Deleted {deleted} so far."),
        )
        self.stdout.write(self.style.SUCCESS(f"Deleted {total} notifications."))
