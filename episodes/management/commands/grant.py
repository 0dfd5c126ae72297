from django.core.management.base import BaseCommand, CommandParser

from episodes.management.role_command import change_roles


class Command(BaseCommand):
    help = (
        "Give users a role: viewer, editor, approver (groups) or staff. Each change is recorded "
        "in the activity log, and the users' open dashboards follow it at once."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("role", metavar="ROLE", help="viewer, editor, approver or staff")
        parser.add_argument("usernames", metavar="USER", nargs="+", help="a username")

    def handle(self, *args, role: str, usernames: list[str], **options) -> None:
        change_roles(self, role, usernames, granted=True)
