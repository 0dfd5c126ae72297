"""The first minutes with the service: `/`, the favicon, the sign-in page, the demo show and
`make run` loading it."""

import io
import json
import logging
import os
import signal
import subprocess
import urllib.request

import pytest
from django.contrib.staticfiles import finders
from django.core.management import CommandError, call_command

from activity.models import ActivityLog
from episodes.grants import has_role
from episodes.models import Composition, Episode, EpisodeFile, EpisodeStatus
from jobs.models import Job, JobStatus
from tests.service_process import free_port
from tests.test_make_run import ROOT, wait_for_password

FAVICON = "/static/episode_metadata/favicon.svg"


@pytest.fixture(autouse=True)
def _media_root(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"


@pytest.mark.django_db
def test_the_front_door_sends_visitors_to_the_login_page_and_users_to_the_dashboard(client, user):
    response = client.get("/")
    assert response.status_code == 302
    assert response["Location"] == "/api-auth/login/?next=/dashboard/"

    client.force_login(user)
    response = client.get("/")
    assert response.status_code == 302
    assert response["Location"] == "/dashboard/"


@pytest.mark.django_db
def test_every_page_names_the_favicon_and_favicon_ico_finds_it(client, staff_user):
    assert finders.find("episode_metadata/favicon.svg")
    response = client.get("/favicon.ico")
    assert response.status_code == 302
    assert response["Location"] == FAVICON

    login = client.get("/api-auth/login/").content.decode()
    assert "<title>Sign in · Episode Metadata</title>" in login
    assert "<h1" in login and ">Episode Metadata</h1>" in login

    client.force_login(staff_user)
    for page in ("/api-auth/login/", "/dashboard/", "/admin/", "/api/docs/", "/api/v1/episodes/"):
        body = client.get(page, HTTP_ACCEPT="text/html").content.decode()
        assert f'<link rel="icon" href="{FAVICON}"' in body, page


@pytest.mark.django_db
def test_demo_data_fills_an_empty_database_with_a_show_worked_on_by_its_people(
    capsys, caplog, django_user_model
):
    with caplog.at_level(logging.ERROR, logger="jobs.services"):
        call_command("demo_data")

    assert set(Episode.objects.values_list("status", flat=True)) == set(EpisodeStatus.values)
    assert EpisodeFile.objects.filter(kind="image").exists()
    assert EpisodeFile.objects.filter(kind="script").exists()
    rendered = Composition.objects.get(status="published", is_primary=True)
    assert rendered.renders and rendered.rendered_version == rendered.version
    assert Job.objects.filter(status=JobStatus.COMPLETED, job_type="thumbnail_render").exists()
    assert Job.objects.filter(status=JobStatus.FAILED).count() == 1
    people = {user.username: user for user in django_user_model.objects.all()}
    assert has_role(people["alice"], "editor")
    assert has_role(people["carol"], "approver")
    assert has_role(people["bob"], "viewer")
    done = [("alice", "create"), ("alice", "upload"), ("carol", "approve"), ("bob", "download")]
    for name, action in done:
        assert ActivityLog.objects.filter(actor=people[name], action=action).exists(), (
            name,
            action,
        )
    # The render of a deleted still fails for good, and says so in sentences.
    [failed] = [r.getMessage() for r in caplog.records if "failed for good" in r.getMessage()]
    assert "is deleted. Fix the cause, then retry it" in failed
    assert ".." not in failed
    output = capsys.readouterr().out
    assert "Demo show 'Harbour Lights' loaded: 8 episodes" in output
    assert "password of each: " in output


@pytest.mark.django_db
def test_demo_data_refuses_a_database_with_episodes(user):
    Episode.objects.create(title="Our own pilot")

    with pytest.raises(CommandError, match="has episodes already"):
        call_command("demo_data")

    assert Episode.objects.count() == 1
    call_command("demo_data", "--if-empty")  # make run's call: nothing to say, nothing done
    assert Episode.objects.count() == 1


@pytest.mark.django_db
def test_make_runs_offer_is_never_answered_without_a_terminal(monkeypatch):
    monkeypatch.setattr("sys.stdin", io.StringIO("y\n"))

    call_command("demo_data", "--if-empty", "--ask")

    assert not Episode.objects.exists()


@pytest.mark.server
def test_make_run_with_demo_loads_the_show(tmp_path):
    port = free_port()
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in {"DATABASE_URL", "REDIS_URL", "SECRET_KEY", "MAKEFLAGS", "MAKELEVEL"}
    }
    env.update(VAR_DIR=str(tmp_path / "var"), PORT=str(port), DEMO="1", DEMO_PASSWORD="harbour")
    env.pop("DJANGO_SUPERUSER_PASSWORD", None)
    env.pop("DJANGO_SUPERUSER_USERNAME", None)
    process = subprocess.Popen(
        ["make", "--no-print-directory", "run"],
        cwd=ROOT,
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    try:
        wait_for_password(process, port)
        episodes = _api_get(port, "/api/v1/episodes/?page_size=50", "alice", "harbour")
    finally:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()

    assert episodes["count"] == 8


def _api_get(port: int, path: str, username: str, password: str) -> dict:
    base = f"http://127.0.0.1:{port}"
    login = urllib.request.Request(
        f"{base}/api/v1/auth/login",
        data=json.dumps({"username": username, "password": password}).encode(),
        headers={"Content-Type": "application/json"},
    )
    with urllib.request.urlopen(login, timeout=10) as response:
        token = json.load(response)["token"]
    read = urllib.request.Request(f"{base}{path}", headers={"Authorization": f"Bearer {token}"})
    with urllib.request.urlopen(read, timeout=10) as response:
        return json.load(response)
