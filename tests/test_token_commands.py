"""rotate_tokens: revoking API tokens of one user, of everyone, the old ones or the expired
ones; and what becomes of expired tokens otherwise."""

from datetime import timedelta
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.utils import timezone
from knox.models import AuthToken
from rest_framework.test import APIClient

from episode_metadata.auth import selectors, services
from episode_metadata.common.authentication import BearerTokenAuthentication

pytestmark = pytest.mark.django_db


@pytest.fixture
def people(django_user_model):
    return {
        name: django_user_model.objects.create_user(username=name, password="x" * 12)
        for name in ("alice", "bob")
    }


def token(user, *, days_old: int = 0, expired: bool = False) -> str:
    instance, raw = AuthToken.objects.create(user=user)
    created = timezone.now() - timedelta(days=days_old)
    expiry = timezone.now() - timedelta(seconds=1) if expired else instance.expiry
    AuthToken.objects.filter(pk=instance.pk).update(created=created, expiry=expiry)
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

    with pytest.raises(CommandError, match="--user, --all, --older-than or --expired"):
        run()
    with pytest.raises(CommandError, match="no user 'carol'"):
        run("--user", "carol")
    with pytest.raises(CommandError):
        run("--user", "alice", "--all")
    assert AuthToken.objects.count() == 1


def test_revokes_expired_tokens_and_keeps_live_ones(people):
    token(people["alice"], expired=True)
    token(people["bob"], expired=True)
    live = token(people["alice"])

    assert "Revoked 2 API tokens." in run("--expired")
    assert AuthToken.objects.count() == 1
    assert works(live)


def test_an_expired_token_is_refused_and_kept_until_revoked(people):
    expired = token(people["alice"], expired=True)

    assert not works(expired)
    assert AuthToken.objects.filter(user=people["alice"]).count() == 1


def test_a_request_reads_only_the_token_it_presents(people, django_assert_num_queries):
    """Other tokens of the user, expired ones too, cost nothing and stay where they are."""
    for _ in range(3):
        token(people["alice"], expired=True)
    live = token(people["alice"])

    with django_assert_num_queries(1):
        user, _ = BearerTokenAuthentication().authenticate_credentials(live.encode())

    assert user == people["alice"]
    assert AuthToken.objects.filter(user=people["alice"]).count() == 4


def test_logging_in_clears_the_users_expired_tokens(people):
    token(people["alice"], expired=True)
    kept = token(people["bob"], expired=True)

    response = APIClient().post(
        "/api/v1/auth/login", {"username": "alice", "password": "x" * 12}, format="json"
    )

    assert response.status_code == 200
    assert AuthToken.objects.filter(user=people["alice"]).count() == 1
    assert not works(kept)
    assert AuthToken.objects.filter(user=people["bob"]).count() == 1
