import sys

import pytest
from django.contrib.auth.models import Group
from django.core.cache import cache
from knox.models import AuthToken
from rest_framework.test import APIClient

PASSWORD = "correct-horse-battery-staple"


@pytest.fixture(scope="session", autouse=True)
def _release_test_database(django_db_setup, django_db_blocker):
    """Each async test runs its own event loop and hub, whose log reader leaves a pooled
    PostgreSQL session behind; end them so the test database can be dropped."""
    yield
    from django.db import connection

    if connection.vendor != "postgresql":
        return
    with django_db_blocker.unblock(), connection.cursor() as cursor:
        cursor.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
            "WHERE datname = current_database() AND pid <> pg_backend_pid()"
        )


@pytest.fixture(autouse=True)
def _fast_password_hashing(settings):
    """Production hashing is deliberately slow; tests create many users."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture(autouse=True)
def _clear_cache():
    """Throttle and login-failure counters live in the cache; each test starts from zero."""
    cache.clear()
    yield
    cache.clear()


def with_role(user, role: str):
    """Put `user` in a role's group (episodes/roles.py; new users start with none) as the
    upgrade's migration does, with no `grant` in the activity log: the role is where a test
    starts, not what it checks."""
    user.groups.through.objects.create(user=user, group=Group.objects.get(name=role))
    return user


@pytest.fixture
def user(django_user_model):
    """A non-staff user who may do all a non-staff user can: an approver."""
    created = django_user_model.objects.create_user(
        username="editor", email="editor@example.com", password=PASSWORD
    )
    return with_role(created, "approver")


@pytest.fixture
def staff_user(django_user_model):
    return django_user_model.objects.create_user(
        username="producer", email="producer@example.com", password=PASSWORD, is_staff=True
    )


def bearer_client(user) -> APIClient:
    _, token = AuthToken.objects.create(user=user)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")
    return client


@pytest.fixture
def api(user) -> APIClient:
    """A client authenticated as an ordinary (non-staff) user with a real bearer token."""
    return bearer_client(user)


@pytest.fixture
def staff_api(staff_user) -> APIClient:
    return bearer_client(staff_user)


@pytest.fixture
def anon() -> APIClient:
    return APIClient()


@pytest.fixture(autouse=True)
def _fresh_broadcast_state():
    """A failed publish pauses publishing for a few seconds; no test inherits that pause."""
    from realtime import broadcast

    broadcast._broken_until = 0.0
    yield
    broadcast._broken_until = 0.0


@pytest.fixture(autouse=True)
def _server_frames_keep_the_contract(monkeypatch):
    """Every frame the server sends in a test, checked against the AsyncAPI document when the
    test ends (tests/asyncapi.py): the document cannot fall behind the code."""
    from tests import asyncapi

    frames = asyncapi.record(monkeypatch)
    yield
    frames.check()


def pytest_terminal_summary(terminalreporter):
    """How many cases the API fuzz suite ran per operation, and how many server frames were
    checked against the AsyncAPI document, when they were."""
    fuzzing = sys.modules.get("tests.fuzzing")
    for line in fuzzing.summary_lines() if fuzzing else []:
        terminalreporter.write_line(line)
    asyncapi = sys.modules.get("tests.asyncapi")
    for line in asyncapi.summary_lines() if asyncapi else []:
        terminalreporter.write_line(line)
