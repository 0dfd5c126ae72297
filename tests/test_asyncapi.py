"""The AsyncAPI document of `/ws/events/`: valid for the AsyncAPI CLI, served to anyone, and
the check that holds every server frame of the suite to it (tests/asyncapi.py) catches a
frame that breaks it."""

import io
import json
import os
import subprocess
from datetime import timedelta
from pathlib import Path

import pytest
import yaml
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import transaction
from django.utils import timezone
from PIL import Image

from activity.models import ActivityLog
from episode_metadata.common.context import ActivityContext, acting
from episodes import services
from episodes.files import services as file_services
from episodes.models import EpisodeFile
from jobs import registry, retention
from jobs import services as jobs
from jobs.supervisor import Supervisor
from realtime import events, topics
from realtime.asyncapi import DOCUMENT
from tests import asyncapi
from tests.conftest import bearer_client
from tests.service_process import ROOT

# .ci/run installs the version .ci/asyncapi/package.json pins and names it in ASYNCAPI_CLI.
CLI = Path(
    os.environ.get("ASYNCAPI_CLI", ROOT / ".ci" / "asyncapi" / "node_modules" / ".bin" / "asyncapi")
)


def require_cli() -> None:
    if CLI.exists():
        return
    reason = f"the AsyncAPI CLI is not installed at {CLI} (.ci/run installs it; or npm install --prefix .ci/asyncapi)"
    if os.environ.get("CI"):
        pytest.fail(reason)
    pytest.skip(reason)


def test_the_asyncapi_cli_finds_the_document_valid(tmp_path):
    require_cli()
    # Its usage statistics stay off, and in the test's own directory.
    analytics = tmp_path / "analytics.json"
    analytics.write_text(json.dumps({"analyticsEnabled": "false", "infoMessageShown": "true"}))
    env = {
        **os.environ,
        "ASYNCAPI_METRICS_CONFIG_PATH": str(analytics),
        "SUPPRESS_NO_CONFIG_WARNING": "1",
    }
    checked = subprocess.run(
        [str(CLI), "validate", str(DOCUMENT), "--fail-severity", "warn"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert checked.returncode == 0, checked.stdout + checked.stderr


def test_the_document_is_served_to_anyone(anon):
    response = anon.get("/api/asyncapi.yaml")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("application/yaml")
    served = yaml.safe_load(response.content)
    assert served == yaml.safe_load(DOCUMENT.read_text())
    assert served["asyncapi"].startswith("3.")
    assert served["channels"]["events"]["address"] == "/ws/events/"


@pytest.fixture
def episode_created(user) -> ActivityLog:
    with acting(ActivityContext(source="api", get_user=lambda: user)), transaction.atomic():
        services.create_episode(user=user, data={"title": "Pilot", "air_date": "2026-12-01"})
    return ActivityLog.objects.get(resource_type="episode", action="create")


@pytest.mark.django_db
def test_a_durable_frame_keeps_the_contract(episode_created):
    assert asyncapi.problem(events.durable_frame(episode_created, "episodes")) is None


@pytest.mark.django_db
def test_a_renamed_field_breaks_the_contract(episode_created):
    frame = json.loads(events.durable_frame(episode_created, "episodes"))
    frame["data"]["request"] = frame["data"].pop("request_id")
    why = asyncapi.problem(json.dumps(frame))
    assert why is not None
    assert "episode_created" in why
    assert "'request' was unexpected" in why


@pytest.mark.django_db
def test_a_summary_of_the_wrong_type_breaks_the_contract(episode_created):
    frame = json.loads(events.durable_frame(episode_created, "episodes"))
    frame["data"]["episode"]["air_date"] = "1 December"
    assert "air_date" in asyncapi.problem(json.dumps(frame))


def test_an_event_the_document_does_not_name_breaks_the_contract():
    # Not made by `events.envelope`, which would hold this test to the contract too.
    frame = {"id": None, "event": "episode_renamed", "topic": None, "data": {}, "timestamp": ""}
    assert "no server message" in asyncapi.problem(json.dumps(frame))


def test_every_client_message_and_server_event_has_a_payload_schema():
    document = asyncapi.document()
    messages = document["components"]["messages"]
    assert {"subscribe", "unsubscribe", "ping"} <= set(messages)
    assert set(asyncapi.validators()) == set(messages) - {"subscribe", "unsubscribe", "ping"}
    for name, message in messages.items():
        assert message["name"] == name
        assert message["payload"], name


def png() -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (16, 16), (0, 200, 0)).save(buffer, format="PNG")
    return buffer.getvalue()


def live_a_job() -> None:
    """Every turn of a job's life: two failed attempts, a cancel asked while it ran, put back
    by hand, cancelled while waiting, pruned."""
    job = jobs.enqueue(registry.get("diagnostic"), {}, max_attempts=2)
    for _ in range(2):
        claimed = jobs.claim(worker_id="test:1", queues=["default"])
        assert claimed is not None
        job = claimed
        jobs.cancel(job)
        jobs.fail_attempt(job, jobs.error_entry(RuntimeError("no"), attempt=job.attempts))
        job.refresh_from_db()
        job.run_after = timezone.now()
        job.save(update_fields=["run_after"])
    jobs.cancel(jobs.retry(job))
    retention.purge(finished_before=timezone.now() + timedelta(seconds=1))


def live_a_file(user, settings, tmp_path) -> None:
    """Uploaded, read, downloaded, deleted and restored (as the admin does)."""
    settings.MEDIA_ROOT = tmp_path / "media"
    episode = services.create_episode(user=user, data={"title": "Pilot"})
    part = SimpleUploadedFile("cover.png", png(), content_type="image/png")
    response = bearer_client(user).post(
        f"/api/v1/episodes/{episode.pk}/files/", {"file": part}, format="multipart"
    )
    assert response.status_code == 201, response.content
    stored = EpisodeFile.objects.get(pk=response.json()["id"])
    file_services.save_metadata(stored, {"width": 16, "height": 16})
    file_services.record_download(stored)
    file_services.delete_file(stored, user=user)
    stored.refresh_from_db()
    stored.deleted_at = None
    stored.save()


@pytest.mark.django_db(transaction=True)
def test_the_lifecycles_of_jobs_workers_and_files_keep_the_contract(staff_user, settings, tmp_path):
    """Few of these events reach a socket in the realtime tests: each row's frame is made
    here as the hub makes it, and held to the contract when the test ends."""
    with acting(ActivityContext(source="api", get_user=lambda: staff_user)):
        live_a_job()
        live_a_file(staff_user, settings, tmp_path)
    Supervisor(concurrency=2, queues=["default", "exports"])._announce_start()
    made = set()
    for row in ActivityLog.objects.order_by("id"):
        topic = topics.topics_of(row.resource_type, row.resource_id, row.episode_id)[0]
        made.add(json.loads(events.durable_frame(row, topic))["event"])
    assert made >= {
        "job_created",
        "job_started",
        "job_updated",
        "job_retry",
        "job_failed",
        "job_retried",
        "job_cancelled",
        "job_deleted",
        "job_processor_started",
        "file_uploaded",
        "file_updated",
        "file_downloaded",
        "file_deleted",
        "file_restored",
    }
