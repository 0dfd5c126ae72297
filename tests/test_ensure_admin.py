from io import StringIO

import pytest
from django.contrib.auth import authenticate
from django.core.management import CommandError, call_command

pytestmark = pytest.mark.django_db


def run() -> str:
    out = StringIO()
    call_command("ensure_admin", stdout=out)
    return out.getvalue()


def test_first_run_creates_admin_with_a_generated_password(monkeypatch, django_user_model):
    monkeypatch.delenv("DJANGO_SUPERUSER_USERNAME", raising=False)
    monkeypatch.delenv("DJANGO_SUPERUSER_PASSWORD", raising=False)

    output = run()

    password = output.split("password: ")[1].split()[0]
    assert len(password) >= 16
    assert authenticate(username="admin", password=password).is_superuser


def test_generated_passwords_differ(monkeypatch, django_user_model):
    monkeypatch.delenv("DJANGO_SUPERUSER_PASSWORD", raising=False)
    first = run().split("password: ")[1].split()[0]
    django_user_model.objects.all().delete()
    second = run().split("password: ")[1].split()[0]

    assert first != second


def test_credentials_from_environment_are_used_and_not_printed(monkeypatch):
    monkeypatch.setenv("DJANGO_SUPERUSER_USERNAME", "chief")
    monkeypatch.setenv("DJANGO_SUPERUSER_PASSWORD", "from-the-environment-42")

    output = run()

    assert "chief" in output
    assert "from-the-environment-42" not in output
    assert authenticate(username="chief", password="from-the-environment-42") is not None


def test_later_runs_create_and_print_nothing(monkeypatch, django_user_model):
    monkeypatch.delenv("DJANGO_SUPERUSER_PASSWORD", raising=False)
    run()

    assert run() == ""
    assert django_user_model.objects.filter(is_superuser=True).count() == 1


def test_refuses_to_reuse_an_ordinary_users_name(monkeypatch, django_user_model):
    monkeypatch.delenv("DJANGO_SUPERUSER_USERNAME", raising=False)
    django_user_model.objects.create_user("admin", password="x")

    with pytest.raises(CommandError, match="not a superuser"):
        run()
