from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils import timezone

from episode_metadata.auth import selectors, services
from episode_metadata.common.command_arguments import days_ago, positive_int


class Command(BaseCommand):
    help = (
        "Revoke API tokens, in batches: one user's, everyone's, those created more than a "
        "number of days ago, or those that have expired (housekeeping: expired tokens are "
        "refused, but kept until deleted). Their clients must log in again; browser sessions "
        "are untouched."
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
            "--expired",
            action="store_true",
            help="Only tokens that have expired (of --user, or of everyone).",
        )
        parser.add_argument(
            "--dry-run", action="store_true", help="Report what would be revoked; revoke nothing."
        )

    def handle(
        self,
        *args,
        user: str | None,
        older_than: int | None,
        expired: bool,
        dry_run: bool,
        **options,
    ) -> None:
        if not (user or options["all"] or older_than or expired):
            raise CommandError(
                "Say whose tokens to revoke: --user, --all, --older-than or --expired."
            )
        if user and not selectors.user_exists(user):
            raise CommandError(f"There is no user {user!r}.")
        before = days_ago(older_than) if older_than else None
        tokens = selectors.tokens(
            username=user, created_before=before, expired_by=timezone.now() if expired else None
        )
        if dry_run:
            self.stdout.write(f"Would revoke {tokens.count()} API tokens.")
            return
        total = services.revoke_tokens(
            tokens, on_batch=lambda done: self.stdout.write(f"Revoked {done} so far.")
        )
        self.stdout.write(self.style.SUCCESS(f"Revoked {total} API tokens."))
