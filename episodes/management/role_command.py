"""What `manage.py grant` and `manage.py revoke` share: both check everything they were given
before changing anything, then report one line per user."""

from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from episode_metadata.common import context
from episode_metadata.common.context import Source
from episodes import grants


def change_roles(command: BaseCommand, role: str, usernames: list[str], *, granted: bool) -> None:
    verb = "grant" if granted else "revoke"
    try:
        grants.check_role(role)
        users = grants.users_named(usernames)
        actor = context.ActivityContext(source=Source.SYSTEM, actor_label=f"manage.py {verb}")
        with context.acting(actor), transaction.atomic():
            changed = [grants.set_role(user, role, granted=granted) for user in users]
    except (grants.UnknownRole, grants.UnknownUsers) as exc:
        raise CommandError(str(exc)) from None
    for user, done in zip(users, changed, strict=True):
        name = user.get_username()
        if done and granted:
            command.stdout.write(command.style.SUCCESS(f"Granted {role} to {name}."))
        elif done:
            command.stdout.write(command.style.SUCCESS(f"Revoked {role} from {name}."))
        elif granted:
            command.stdout.write(f"{name} already has {role}; unchanged.")
        else:
            command.stdout.write(f"{name} does not have {role}; unchanged.")
