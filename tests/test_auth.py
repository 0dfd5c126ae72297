import logging

import pytest
from django.conf import settings
from django.contrib.auth.models import Permission
from knox.models import AuthToken
from rest_framework.test import APIClient

from tests.conftest import PASSWORD, bearer_client

pytestmark = pytest.mark.django_db

LOGIN = "/api/v1/auth/login"
LIMIT = settings.AXES_FAILURE_LIMIT


def test_login_returns_token_and_user(anon, user):
    response = anon.post(LOGIN, {"username": "editor", "password": PASSWORD}, format="json")

    assert response.status_code == 200
    body = response.json()
    assert body["user"] == {
        "id": user.id,
        "username": "editor",
        "email": "editor@example.com",
        "is_staff": False,
    }
    assert AuthToken.objects.filter(user=user).count() == 1
    assert body["token"] not in {t.digest for t in AuthToken.objects.all()}  # stored hashed


def test_token_authenticates_as_bearer(anon, user):
    token = anon.post(LOGIN, {"username": "editor", "password": PASSWORD}).json()["token"]
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")

    response = client.get("/api/v1/auth/me")

    assert response.status_code == 200
    assert response.json()["username"] == "editor"


def test_wrong_password_is_401(anon, user):
    response = anon.post(LOGIN, {"username": "editor", "password": "nope"})

    assert response.status_code == 401
    assert response.json() == {"detail": "Invalid username or password."}


def test_inactive_user_cannot_log_in(anon, user):
    user.is_active = False
    user.save()

    assert anon.post(LOGIN, {"username": "editor", "password": PASSWORD}).status_code == 401


def test_missing_fields_are_400_with_field_messages(anon):
    response = anon.post(LOGIN, {}, format="json")

    assert response.status_code == 400
    assert set(response.json()) == {"username", "password"}


def test_logout_revokes_only_that_token(anon, user):
    first = anon.post(LOGIN, {"username": "editor", "password": PASSWORD}).json()["token"]
    second = anon.post(LOGIN, {"username": "editor", "password": PASSWORD}).json()["token"]
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {first}")

    assert client.post("/api/v1/auth/logout").status_code == 204
    assert client.get("/api/v1/auth/me").status_code == 401
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {second}")
    assert client.get("/api/v1/auth/me").status_code == 200


@pytest.mark.parametrize(
    "header",
    ["Bearer", "Bearer not-a-real-token", "Bearer a b", "Bearer \xff\xfe"],
)
def test_bad_bearer_headers_are_401_json(header):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=header)

    response = client.get("/api/v1/auth/me")

    assert response.status_code == 401
    assert "detail" in response.json()


@pytest.mark.parametrize("path", ["/api/v1/auth/me", "/api/v1/auth/logout", "/api/v1/episodes/"])
def test_api_requires_authentication(anon, path):
    response = anon.get(path) if path.endswith("me") or path.endswith("/") else anon.post(path)

    assert response.status_code == 401
    assert response["Content-Type"] == "application/json"
    assert response["WWW-Authenticate"] == "Bearer"


def test_session_authentication_works_for_browsable_api(client, user):
    assert client.login(username="editor", password=PASSWORD)

    response = client.get("/api/v1/auth/me", HTTP_ACCEPT="application/json")

    assert response.status_code == 200
    assert response.json()["username"] == "editor"


def test_session_writes_need_csrf(user):
    client = APIClient(enforce_csrf_checks=True)
    client.login(username="editor", password=PASSWORD)

    response = client.post("/api/v1/episodes/", {"title": "x"}, format="json")

    assert response.status_code == 403
    assert "CSRF" in response.json()["detail"]


def test_repeated_failures_are_throttled_with_429(anon, user):
    for _ in range(LIMIT):
        assert anon.post(LOGIN, {"username": "editor", "password": "guess"}).status_code == 401

    response = anon.post(LOGIN, {"username": "editor", "password": PASSWORD})

    assert response.status_code == 429
    assert int(response["Retry-After"]) > 0


def test_failures_are_counted_per_client(user):
    blocked = APIClient(REMOTE_ADDR="10.0.0.1")
    for number in range(LIMIT):
        blocked.post(LOGIN, {"username": f"someone-{number}", "password": "guess"})
    other = APIClient(REMOTE_ADDR="10.0.0.2")

    assert blocked.post(LOGIN, {"username": "editor", "password": PASSWORD}).status_code == 429
    assert other.post(LOGIN, {"username": "editor", "password": PASSWORD}).status_code == 200


def test_success_resets_the_failure_count(anon, user):
    for _ in range(LIMIT - 1):
        anon.post(LOGIN, {"username": "editor", "password": "guess"})
    assert anon.post(LOGIN, {"username": "editor", "password": PASSWORD}).status_code == 200

    for _ in range(LIMIT - 1):
        anon.post(LOGIN, {"username": "editor", "password": "guess"})
    assert anon.post(LOGIN, {"username": "editor", "password": PASSWORD}).status_code == 200


def test_passwords_are_never_logged(anon, user, caplog):
    secret_guess = "my-secret-guess-7731"
    with caplog.at_level(logging.DEBUG):
        anon.post(LOGIN, {"username": "editor", "password": secret_guess})
        anon.post(LOGIN, {"username": "editor", "password": PASSWORD})

    assert "login failure by 'editor' from 127.0.0.1" in caplog.text
    assert "login succeeded for 'editor'" in caplog.text
    assert secret_guess not in caplog.text
    assert PASSWORD not in caplog.text


def test_a_tokens_user_brings_their_own_and_their_roles_permissions(django_user_model):
    """Read with the token in one query, a user's permissions are those Django would find:
    their own, their groups', and none beyond."""
    user = django_user_model.objects.create_user("mixed-holder")
    user.user_permissions.add(Permission.objects.get(codename="add_episode"))
    user.groups.create(name="job readers").permissions.add(
        Permission.objects.get(codename="view_job")
    )
    client = bearer_client(user)

    held = client.get("/api/v1/auth/me").json()["permissions"]

    assert held == ["episodes.add_episode", "jobs.view_job"]
    assert client.get("/api/v1/jobs/").status_code == 200
    assert client.get("/api/v1/episodes/").status_code == 403


def test_a_token_whose_user_holds_nothing_is_refused_everything(django_user_model):
    client = bearer_client(django_user_model.objects.create_user("no-role"))

    assert client.get("/api/v1/auth/me").json()["permissions"] == []
    assert client.get("/api/v1/jobs/").status_code == 403
