"""Creates the first admin account, so a fresh install is usable at once without a fixed password."""

import os
import secrets

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError


class Command(BaseCommand):
    help = (
        "Create an admin account if no superuser exists yet. Takes DJANGO_SUPERUSER_USERNAME and "
        "DJANGO_SUPERUSER_PASSWORD from the environment; otherwise uses 'admin' and prints a "
        "generated password once."
    )

    def handle(self, *args, **options) -> None:
        User = get_user_model()
        if User.objects.filter(is_superuser=True).exists():
            return
        username = os.environ.get("DJANGO_SUPERUSER_USERNAME") or "admin"
        if User.objects.filter(username=username).exists():
            raise CommandError(
                f"User '{username}' exists but is not a superuser; pick another name."
            )
        given_password = os.environ.get("DJANGO_SUPERUSER_PASSWORD")
        password = given_password or secrets.token_urlsafe(16)
        User.objects.create_superuser(username=username, email="", password=password)
        self.stdout.write(self.style.SUCCESS(f"Created admin account '{username}'."))
        if not given_password:
            self.stdout.write(
                f"  username: {username}\n  password: {password}\n"
                "  This password is shown only once: keep it now."
            )
