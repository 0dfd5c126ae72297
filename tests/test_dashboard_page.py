"""`/dashboard/`: behind the login for staff and everyone else, and made only of the service's
own files. What it does in a browser is in test_dashboard_browser.py."""

import re
from pathlib import Path

import pytest
from django.contrib.staticfiles import finders

pytestmark = pytest.mark.django_db

MODULE_IMPORT = re.compile(r'^import .* from "\./([\w-]+\.js)";$', re.MULTILINE)


def dashboard_files() -> Path:
    return Path(finders.find("realtime/dashboard/main.js")).parent


def test_visitors_who_are_not_signed_in_are_sent_to_the_login_page(client):
    response = client.get("/dashboard/")

    assert response.status_code == 302
    assert response["Location"] == "/api-auth/login/?next=/dashboard/"


@pytest.mark.parametrize("account", ["user", "staff_user"])
def test_staff_and_other_users_get_the_page_with_who_they_are(client, request, account):
    signed_in = request.getfixturevalue(account)
    client.force_login(signed_in)

    response = client.get("/dashboard/")

    assert response.status_code == 200
    body = response.content.decode()
    assert f'data-user-id="{signed_in.pk}"' in body
    assert f'data-staff="{str(signed_in.is_staff).lower()}"' in body
    assert f"<strong>{signed_in.username}</strong>" in body
    assert re.search(r'<meta name="csrf-token" content="\w+">', body)


def test_the_filters_offer_the_logged_actions_resource_types_and_job_statuses(client, user):
    client.force_login(user)
    body = client.get("/dashboard/").content.decode()

    for value in ("update", "upload", "requeue", "job_processor", "composition", "retry_scheduled"):
        assert f'<option value="{value}">' in body
    assert '<option value="running,pending,retry_scheduled">' in body


def test_the_page_loads_nothing_from_other_hosts(client, user):
    client.force_login(user)
    body = client.get("/dashboard/").content.decode()
    references = re.findall(r'(?:src|href|action)="([^"]*)"', body)

    assert "/static/realtime/dashboard/main.js" in references
    assert "/static/realtime/dashboard/dashboard.css" in references
    assert not [ref for ref in references if re.match(r"(https?:)?//", ref)]
    for path in dashboard_files().iterdir():
        assert not re.search(r"https?://|//[\w.-]+\.\w+/", path.read_text()), path.name


def test_every_module_the_page_imports_is_there_and_every_module_there_is_imported():
    """The modules import each other by path with no build step, so a misnamed import would
    only show as a broken page; and a module nothing imports is dead code."""
    folder = dashboard_files()
    reached, pending = set(), ["main.js"]
    while pending:
        name = pending.pop()
        reached.add(name)
        imported = MODULE_IMPORT.findall((folder / name).read_text())
        assert all((folder / module).exists() for module in imported), (name, imported)
        pending.extend(set(imported) - reached)

    assert reached == {path.name for path in folder.glob("*.js")}
