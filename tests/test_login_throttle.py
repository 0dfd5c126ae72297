"""One login lockout for every door that checks a password, keyed on the address the server
trusts and on the username tried."""

import http.cookiejar
import json
import logging
import re
import urllib.error
import urllib.parse
import urllib.request
from datetime import timedelta

import pytest
from axes.models import AccessAttempt
from django.conf import settings
from django.core.management import call_command
from django.test import Client
from django.utils import timezone
from rest_framework.test import APIClient

from tests.conftest import PASSWORD
from tests.service_database import ServiceDatabase
from tests.service_process import Server, manage

LOGIN = "/api/v1/auth/login"
LIMIT = settings.AXES_FAILURE_LIMIT
COOL_OFF = settings.AXES_COOLOFF_TIME
DOORS = ["api", "admin", "api-auth"]
FORM_PATHS = {"admin": "/admin/login/", "api-auth": "/api-auth/login/"}


def attempt(door: str, username: str, password: str, address: str = "127.0.0.1"):
    """One sign-in through a door, as a client at `address` would make it."""
    if door == "api":
        api = APIClient(REMOTE_ADDR=address)
        return api.post(LOGIN, {"username": username, "password": password})
    client = Client(REMOTE_ADDR=address)
    return client.post(FORM_PATHS[door], {"username": username, "password": password})


def signed_in(door: str, response) -> bool:
    return response.status_code == (200 if door == "api" else 302)


def assert_refused(door: str, response) -> None:
    assert response.status_code == 429
    if door == "api":
        assert response.json()["detail"].startswith("Too many failed login attempts.")
        assert int(response["Retry-After"]) == COOL_OFF.total_seconds()
    else:
        assert "Too many failed login attempts. Try again in 15 minutes." in response.text


@pytest.mark.django_db
@pytest.mark.parametrize("door", DOORS)
def test_each_door_signs_a_staff_member_in(door, staff_user):
    assert signed_in(door, attempt(door, "producer", PASSWORD))


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("first", "second"), [(a, b) for a in DOORS for b in DOORS if a != b], ids=str
)
def test_the_doors_share_one_lockout(first, second, staff_user):
    for _ in range(LIMIT):
        assert not signed_in(first, attempt(first, "producer", "guess"))

    assert_refused(second, attempt(second, "producer", PASSWORD))


@pytest.mark.django_db
@pytest.mark.parametrize("door", ["admin", "api-auth"])
def test_a_form_shows_the_lockout_from_the_failure_that_reaches_the_limit(door, staff_user):
    for _ in range(LIMIT - 1):
        assert attempt(door, "producer", "guess").status_code == 200

    assert_refused(door, attempt(door, "producer", "guess"))


@pytest.mark.django_db
@pytest.mark.parametrize("door", DOORS)
def test_one_username_guessed_from_many_addresses_is_locked(door, staff_user):
    for number in range(LIMIT):
        attempt(door, "producer", "guess", address=f"198.51.100.{number}")

    assert_refused(door, attempt(door, "producer", PASSWORD, address="198.51.100.200"))


@pytest.mark.django_db
def test_a_forwarded_for_header_neither_dodges_nor_lifts_a_lockout(staff_user):
    def spoofed(number: int, username: str, password: str):
        client = APIClient(REMOTE_ADDR="127.0.0.1", HTTP_X_FORWARDED_FOR=f"203.0.113.{number}")
        return client.post(LOGIN, {"username": username, "password": password})

    for number in range(LIMIT):
        assert spoofed(number, f"someone-{number}", "guess").status_code == 401

    assert_refused("api", spoofed(99, "producer", PASSWORD))


@pytest.mark.django_db
def test_the_request_rate_limit_keys_on_the_connecting_address(anon):
    rate = int(settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"]["login"].split("/")[0])
    for number in range(rate):
        response = anon.post(LOGIN, {}, HTTP_X_FORWARDED_FOR=f"203.0.113.{number}")
        assert response.status_code == 400

    response = anon.post(LOGIN, {}, HTTP_X_FORWARDED_FOR="203.0.113.250")

    assert response.status_code == 429
    assert int(response["Retry-After"]) > 0


@pytest.mark.django_db
@pytest.mark.parametrize("door", DOORS)
def test_each_failure_is_logged_once_without_the_password(door, staff_user, caplog):
    secret_guess = "my-secret-guess-7731"
    with caplog.at_level(logging.DEBUG):
        attempt(door, "producer", secret_guess, address="192.0.2.10")

    lines = [r for r in caplog.records if "'producer' from 192.0.2.10" in r.getMessage()]
    assert [(r.levelno, r.exc_info) for r in lines] == [(logging.WARNING, None)]
    assert FORM_PATHS.get(door, LOGIN) in lines[0].getMessage()
    assert secret_guess not in caplog.text
    assert not AccessAttempt.objects.filter(post_data__contains=secret_guess).exists()


@pytest.mark.django_db
def test_signing_in_to_ones_own_account_keeps_the_count_at_another(user, staff_user):
    for _ in range(LIMIT - 1):
        attempt("api", "producer", "guess", address="192.0.2.20")
    assert signed_in("api", attempt("api", "editor", PASSWORD, address="192.0.2.20"))
    attempt("api", "producer", "guess", address="192.0.2.20")

    assert_refused("api", attempt("api", "producer", PASSWORD, address="192.0.2.21"))


@pytest.mark.django_db
def test_a_lockout_ends_after_the_cool_off_without_attempts(staff_user):
    for _ in range(LIMIT):
        attempt("api", "producer", "guess")

    AccessAttempt.objects.update(attempt_time=timezone.now() - COOL_OFF + timedelta(minutes=1))
    assert_refused("api", attempt("api", "producer", PASSWORD))
    AccessAttempt.objects.update(attempt_time=timezone.now() - COOL_OFF - timedelta(seconds=1))
    assert signed_in("api", attempt("api", "producer", PASSWORD))


@pytest.mark.django_db
def test_staff_see_and_lift_lockouts(staff_user, admin_client):
    for _ in range(LIMIT):
        attempt("admin", "producer", "guess", address="192.0.2.30")

    listed = admin_client.get("/admin/axes/accessattempt/")
    assert listed.status_code == 200
    assert "192.0.2.30" in listed.text
    call_command("axes_reset")

    assert signed_in("admin", attempt("admin", "producer", PASSWORD, address="192.0.2.30"))


def post_login(server: Server, username: str, password: str, forwarded_for: str | None = None):
    headers = {"Content-Type": "application/json"}
    if forwarded_for is not None:
        headers["X-Forwarded-For"] = forwarded_for
    request = urllib.request.Request(
        f"{server.http}{LOGIN}",
        data=json.dumps({"username": username, "password": password}).encode(),
        headers=headers,
    )
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, response.headers
    except urllib.error.HTTPError as error:
        return error.code, error.headers


def post_admin_form(server: Server, username: str, password: str) -> tuple[int, str]:
    """The admin's sign-in form as a browser fills it in: the page first, for its CSRF token."""
    opener = urllib.request.build_opener(
        urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar())
    )
    with opener.open(f"{server.http}/admin/login/", timeout=30) as page:
        token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.read().decode())
    form = {"csrfmiddlewaretoken": token[1], "username": username, "password": password}
    try:
        with opener.open(
            f"{server.http}/admin/login/", urllib.parse.urlencode(form).encode(), timeout=30
        ) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode()


@pytest.fixture
def service(tmp_path):
    service = ServiceDatabase(tmp_path)
    service.env.pop("FORWARDED_ALLOW_IPS", None)
    manage(
        service.env,
        "shell",
        "-c",
        "from django.contrib.auth import get_user_model\n"
        f"get_user_model().objects.create_user('producer', password={PASSWORD!r}, is_staff=True)",
    )
    yield service
    service.drop()


@pytest.mark.server
def test_the_server_believes_no_forwarded_address_by_default(service):
    server = Server(service.env).start()
    try:
        failures = [
            post_login(server, f"someone-{n}", "guess", f"203.0.113.{n}")[0] for n in range(LIMIT)
        ]
        status, headers = post_login(server, "producer", PASSWORD, "203.0.113.99")
    finally:
        server.stop()

    assert failures == [401] * LIMIT
    assert status == 429
    assert int(headers["Retry-After"]) == COOL_OFF.total_seconds()


@pytest.mark.server
def test_the_server_keys_on_the_address_a_configured_proxy_forwards(service):
    server = Server({**service.env, "FORWARDED_ALLOW_IPS": "127.0.0.1"}).start()
    try:
        for number in range(LIMIT):
            post_login(server, f"someone-{number}", "guess", "203.0.113.7")
        locked, _ = post_login(server, "producer", PASSWORD, "203.0.113.7")
        other, _ = post_login(server, "producer", PASSWORD, "203.0.113.8")
    finally:
        server.stop()

    assert (locked, other) == (429, 200)


@pytest.mark.server
def test_the_server_refuses_the_admin_form_after_failures_at_the_api(service):
    server = Server(service.env).start()
    try:
        for _ in range(LIMIT):
            post_login(server, "producer", "guess")
        status, page = post_admin_form(server, "producer", PASSWORD)
    finally:
        server.stop()

    assert status == 429
    assert "Too many failed login attempts. Try again in 15 minutes." in page
