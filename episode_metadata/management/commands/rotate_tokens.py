from datetime import timedelta

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils import timezone

from activity.management.commands.prune_activity import positive_int
from episode_metadata.auth import selectors, services


class Command(BaseCommand):
    help = (
        "Revoke API tokens, in batches: one user's, everyone's, or those created more than a "
        "number of days ago. Their clients must log in again; browser sessions are untouched."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        whose = parser.add_mutually_exclusive_group()
        whose.add_argument("--user", metavar="USERNAME", help="Revoke this user's tokens.")
        whose.add_argument("--all", action="store_true", help="Revoke every user's tokens.")
        parser.add_argument(
            "--older-than",
            type=positive_int,
            metavar="DAYS",
            help="Only tokens created more than DAYS days ago (of --user, or of everyone).",
        )
        parser.add_argument(
            "--dry-run", action="store_true", help="Report what would be revoked; revoke nothing."
        )

    def handle(
        self, *args, user: str | None, older_than: int | None, dry_run: bool, **options
    ) -> None:
        if not (user or options["all"] or older_than):
            raise CommandError("Say whose tokens to revoke: --user, --all or --older-than.")
        if user and not selectors.user_exists(user):
            raise CommandError(f"There is no user {user!r}.")
        try:
            before = timezone.now() - timedelta(days=older_than) if older_than else None
        except OverflowError:
            raise CommandError(
                f"--older-than {older_than} reaches back before the year 1."
            ) from None
        tokens = selectors.tokens(username=user, created_before=before)
        if dry_run:
            self.stdout.write(f"Would revoke {tokens.count()} API tokens.")
            return
        total = services.revoke_tokens(
            tokens, on_batch=lambda done: self.stdout.write(f"Revoked {done} so far.")
        )
        self.stdout.write(self.style.SUCCESS(f"Revoked {total} API tokens."))
