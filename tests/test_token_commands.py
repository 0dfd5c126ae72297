"""rotate_tokens: revoking API tokens of one user, of everyone, or the old ones."""

from datetime import timedelta
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.utils import timezone
from knox.models import AuthToken
from rest_framework.test import APIClient

from episode_metadata.auth import selectors, services

pytestmark = pytest.mark.django_db


@pytest.fixture
def people(django_user_model):
    return {
        name: django_user_model.objects.create_user(username=name, password="x" * 12)
        for name in ("alice", "bob")
    }


def token(user, *, days_old: int = 0) -> str:
    instance, raw = AuthToken.objects.create(user=user)
    created = timezone.now() - timedelta(days=days_old)
    AuthToken.objects.filter(pk=instance.pk).update(created=created)
    return raw


def works(raw: str) -> bool:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {raw}")
    status = client.get("/api/v1/auth/me").status_code
    assert status in (200, 401)
    return status == 200


def run(*args: str) -> str:
    out = StringIO()
    call_command("rotate_tokens", *args, stdout=out)
    return out.getvalue()


def test_revokes_one_users_tokens_and_no_one_elses(people):
    alices = [token(people["alice"]), token(people["alice"])]
    bobs = token(people["bob"])

    output = run("--user", "alice")

    assert "Revoked 2 API tokens." in output
    assert not any(works(raw) for raw in alices)
    assert works(bobs)


def test_revokes_everyones_tokens(people):
    tokens = [token(people["alice"]), token(people["bob"])]

    assert "Revoked 2 API tokens." in run("--all")
    assert not any(works(raw) for raw in tokens)


def test_revokes_tokens_older_than_some_days(people):
    old = [token(people["alice"], days_old=100), token(people["bob"], days_old=91)]
    recent = token(people["alice"], days_old=10)

    assert "Revoked 2 API tokens." in run("--older-than", "90")
    assert not any(works(raw) for raw in old)
    assert works(recent)


def test_one_users_old_tokens(people):
    old_alice = token(people["alice"], days_old=100)
    recent_alice = token(people["alice"])
    old_bob = token(people["bob"], days_old=100)

    run("--user", "alice", "--older-than", "30")

    assert [works(raw) for raw in (old_alice, recent_alice, old_bob)] == [False, True, True]


def test_dry_run_revokes_nothing(people):
    raw = token(people["alice"])

    assert "Would revoke 1 API tokens." in run("--all", "--dry-run")
    assert works(raw)


def test_goes_in_batches_reporting_each(people):
    for _ in range(5):
        token(people["alice"])
    totals = []

    revoked = services.revoke_tokens(selectors.tokens(), batch_size=2, on_batch=totals.append)

    assert revoked == 5
    assert totals == [2, 4, 5]
    assert "Revoked 0 API tokens." in run("--all")


def test_must_be_told_whose_tokens(people):
    token(people["alice"])

    with pytest.raises(CommandError, match="--user, --all or --older-than"):
        run()
    with pytest.raises(CommandError, match="no user 'carol'"):
        run("--user", "carol")
    with pytest.raises(CommandError):
        run("--user", "alice", "--all")
    assert AuthToken.objects.count() == 1
