"""`python -m bench.bare.seed`: migrates the bare app's database and copies the service's
episodes into it (a JSON list of rows on stdin, keyed by column); prints the token of the
user who owns them."""

import json
import os
import sys
from typing import Any

import django

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "bench.bare.settings")
django.setup()

from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.db.models import Field
from rest_framework.authtoken.models import Token

from bench.bare.models import Episode

OWNERS = ("created_by_id", "updated_by_id")
STAMPS = ("created_at", "updated_at")


def main() -> None:
    call_command("migrate", verbosity=0)
    user = get_user_model().objects.create_user("bench")
    rows = json.load(sys.stdin)
    episodes = [Episode(**_columns(row, user.pk)) for row in rows]
    Episode.objects.bulk_create(episodes)
    # auto_now_add and auto_now stamp every row with now: the service's times go back in.
    for episode, row in zip(episodes, rows, strict=True):
        for name in STAMPS:
            setattr(episode, name, _to_python(name, row[name]))
    Episode.objects.bulk_update(episodes, STAMPS, batch_size=500)
    print(Token.objects.create(user=user).key)


def _columns(row: dict, user_id: int) -> dict:
    """The row with its values as the model takes them; the owner is this database's user."""
    columns = {}
    for name, value in row.items():
        if name in OWNERS:
            columns[name] = user_id if value is not None else None
        else:
            columns[name] = _to_python(name, value)
    return columns


def _to_python(name: str, value: Any) -> Any:
    field = Episode._meta.get_field(name)
    assert isinstance(field, Field)  # a column: rows hold no reverse relations
    return field.to_python(value)


if __name__ == "__main__":
    main()
