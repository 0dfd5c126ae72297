"""The jobs API: enqueueing with validated payloads, the list and its filters, a job's detail,
cancel and retry, downloading output files, and the registered job types."""

import csv
import io
import json
import uuid
from datetime import UTC, datetime, timedelta

import pytest
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.db import connection
from django.tasks import task
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from rest_framework import serializers

from activity.models import ActivityLog
from episodes.models import Episode
from jobs import execution, registry, services
from jobs.models import Job, JobStatus
from jobs.registry import job_type
from jobs.results import OutputFileSerializer
from tests.conftest import bearer_client, with_role

pytestmark = pytest.mark.django_db

LIST = "/api/v1/jobs/"
TYPES = "/api/v1/job-types/"
WORKER = "test-host:1:0"
REPORT = "tests_api_report"


def detail(pk) -> str:
    return f"{LIST}{pk}/"


class ReportPayload(serializers.Serializer):
    name = serializers.CharField(max_length=40, help_text="the files' base name")
    rows = serializers.IntegerField(min_value=1, max_value=50, default=3)
    # DRF's metaclass takes declared fields off the class: this does not replace Field.fail.
    fail = serializers.BooleanField(default=False)  # type: ignore[assignment]


class ReportResult(serializers.Serializer):
    count = serializers.IntegerField()
    files = serializers.ListField(child=OutputFileSerializer())


@job_type(REPORT, payload=ReportPayload, result=ReportResult, max_attempts=2, timeout_seconds=60)
@task(queue_name="reports")
def report(*, name: str, rows: int = 3, fail: bool = False) -> dict:
    """Writes a small report as JSON and CSV files."""
    if fail:
        raise RuntimeError("the report source is gone")
    data = [{"row": i, "square": i * i} for i in range(rows)]
    text = io.StringIO()
    writer = csv.DictWriter(text, fieldnames=["row", "square"])
    writer.writeheader()
    writer.writerows(data)
    files = []
    for file_format, content, content_type in [
        ("json", json.dumps(data), "application/json"),
        ("csv", text.getvalue(), "text/csv"),
    ]:
        path = default_storage.save(f"reports/{name}.{file_format}", ContentFile(content))
        files.append(
            {
                "format": file_format,
                "path": path,
                "size": default_storage.size(path),
                "content_type": content_type,
            }
        )
    return {"count": rows, "files": files}


class Window(serializers.Serializer):
    start = serializers.DateField()
    days = serializers.IntegerField(min_value=1)


class KindsPayload(serializers.Serializer):
    mode = serializers.ChoiceField(choices=["full", "quick"], default="quick")
    tags = serializers.MultipleChoiceField(choices=["a", "b"], required=False)
    ids = serializers.ListField(child=serializers.UUIDField(), min_length=2, max_length=5)
    labels = serializers.ListField(child=serializers.CharField(allow_blank=True), allow_empty=False)
    window = Window(required=False)
    notify = serializers.EmailField(required=False, allow_null=True)
    ratio = serializers.FloatField(min_value=0.5)
    options = serializers.DictField(child=serializers.IntegerField(), required=False)
    extra = serializers.JSONField(required=False)
    echo = serializers.CharField(read_only=True)


@job_type("tests_api_kinds", payload=KindsPayload, result=None)
@task
def kinds(**payload) -> None:
    """Takes a payload of every kind of field."""


@pytest.fixture(autouse=True)
def media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    return tmp_path


@pytest.fixture
def other_api(django_user_model):
    """Someone else on the team, who may start jobs but not stop anyone else's."""
    other = django_user_model.objects.create_user(username="other", password="x")
    return bearer_client(with_role(other, "editor"))


def enqueue(name: str = REPORT, payload: dict | None = None, **options) -> Job:
    declared = registry.get(name)
    checked = declared.payload(data=payload if payload is not None else {"name": "weekly"})
    checked.is_valid(raise_exception=True)
    return services.enqueue(declared, checked.validated_data, **options)


def claim(job: Job) -> Job:
    claimed = services.claim(worker_id=WORKER, queues=[job.queue_name])
    assert claimed is not None and claimed.pk == job.pk
    return claimed


def run(job: Job) -> Job:
    execution.run_claimed(claim(job))
    job.refresh_from_db()
    return job


def failed_job(user, **options) -> Job:
    payload = {"name": "broken", "fail": True}
    return run(enqueue(payload=payload, user=user, max_attempts=1, **options))


def job_actions(job_id) -> list[str]:
    rows = ActivityLog.objects.filter(resource_type="job", resource_id=str(job_id)).order_by("id")
    return list(rows.values_list("action", flat=True))


def ids(response) -> list[str]:
    assert response.status_code == 200, response.content
    return [row["id"] for row in response.json()["results"]]


# --- Access -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("get", LIST),
        ("post", LIST),
        ("get", "{job}"),
        ("post", "{job}cancel/"),
        ("post", "{job}retry/"),
        ("get", "{job}files/json/"),
        ("get", TYPES),
    ],
)
def test_anonymous_gets_401(anon, user, method, path):
    job = enqueue(user=user)

    response = getattr(anon, method)(path.format(job=detail(job.pk)))

    assert response.status_code == 401
    job.refresh_from_db()
    assert job.status == JobStatus.PENDING


def test_every_user_reads_every_job_on_an_episode(other_api, user):
    job = enqueue(user=user, episode_id=Episode.objects.create(title="Pilot").pk)

    assert ids(other_api.get(LIST)) == [str(job.pk)]
    assert other_api.get(detail(job.pk)).json()["id"] == str(job.pk)


@pytest.mark.parametrize(
    ("method", "path"), [("put", "{job}"), ("patch", "{job}"), ("delete", "{job}"), ("put", LIST)]
)
def test_jobs_are_not_edited_or_deleted_through_the_api(api, user, method, path):
    job = enqueue(user=user)

    response = getattr(api, method)(path.format(job=detail(job.pk)), {"priority": 50})

    assert response.status_code == 405
    job.refresh_from_db()
    assert job.priority == 0


# --- Create -----------------------------------------------------------------------------------


def test_create_enqueues_the_job_and_returns_its_detail(api, user):
    response = api.post(
        LIST,
        {"job_type": REPORT, "payload": {"name": "weekly", "rows": 5}, "priority": 7},
    )

    assert response.status_code == 201, response.content
    body = response.json()
    job = Job.objects.get(pk=body["id"])
    assert job.job_type == REPORT
    assert job.status == JobStatus.PENDING
    assert job.created_by == user
    assert job.priority == 7
    assert job.payload == {"name": "weekly", "rows": 5, "fail": False}
    assert body["job_type"] == REPORT
    assert body["queue_name"] == "reports"
    assert body["status"] == "pending"
    assert body["payload"] == {"name": "weekly", "rows": 5, "fail": False}
    assert body["priority"] == 7
    assert body["max_attempts"] == 2
    assert body["timeout_seconds"] == 60
    assert body["attempts"] == 0
    assert body["errors"] == []
    assert body["result"] is None
    assert body["created_by"] == {"id": user.id, "username": "editor"}
    assert body["episode"] is None
    assert body["next_run_at"] == body["run_after"]
    # A worker can take it: it is in the queue its type runs on.
    assert claim(job).pk == job.pk


def test_create_takes_the_types_defaults_for_what_is_left_out(api):
    response = api.post(LIST, {"job_type": "diagnostic"})

    assert response.status_code == 201, response.content
    body = response.json()
    assert body["payload"] == {"seconds": 0.0, "steps": 1, "fail_attempts": 0}
    assert body["priority"] == 0
    assert body["max_attempts"] == 4
    assert body["timeout_seconds"] == 900
    assert body["queue_name"] == "default"


def test_create_with_max_attempts_overrides_the_type(api):
    response = api.post(LIST, {"job_type": "diagnostic", "max_attempts": 20})

    assert response.status_code == 201, response.content
    assert Job.objects.get(pk=response.json()["id"]).max_attempts == 20


def test_create_links_a_live_episode(api):
    episode = Episode.objects.create(title="Pilot")

    response = api.post(
        LIST, {"job_type": REPORT, "payload": {"name": "x"}, "episode": str(episode.pk)}
    )

    assert response.status_code == 201, response.content
    assert response.json()["episode"] == str(episode.pk)
    assert Job.objects.get(pk=response.json()["id"]).episode_id == episode.pk


def test_create_with_an_unknown_type_lists_the_valid_ones(api):
    response = api.post(LIST, {"job_type": "transcode", "payload": {}})

    assert response.status_code == 400
    [message] = response.json()["job_type"]
    assert '"transcode"' in message
    assert "diagnostic" in message and REPORT in message
    assert not Job.objects.exists()


def test_create_without_a_type_is_400(api):
    response = api.post(LIST, {"payload": {"name": "x"}})

    assert response.status_code == 400
    assert "job_type" in response.json()


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({}, "name"),
        ({"name": "x", "rows": 51}, "rows"),
        ({"name": "x", "rows": "many"}, "rows"),
        ({"name": "x" * 41}, "name"),
        ({"name": "x", "row": 5}, "row"),
    ],
)
def test_create_with_a_bad_payload_is_400_under_payload(api, payload, field):
    response = api.post(LIST, {"job_type": REPORT, "payload": payload})

    assert response.status_code == 400
    assert list(response.json()) == ["payload"]
    assert field in response.json()["payload"]
    assert not Job.objects.exists()


def test_create_with_a_payload_that_is_not_an_object_is_400(api):
    response = api.post(LIST, {"job_type": REPORT, "payload": ["weekly"]})

    assert response.status_code == 400
    assert "payload" in response.json()


@pytest.mark.parametrize("kind", ["unknown", "malformed", "deleted"])
def test_create_with_a_bad_episode_is_400(api, kind):
    deleted = Episode.objects.create(title="Gone", deleted_at=timezone.now())
    value = {"unknown": str(uuid.uuid4()), "malformed": "not-a-uuid", "deleted": str(deleted.pk)}

    response = api.post(
        LIST, {"job_type": REPORT, "payload": {"name": "x"}, "episode": value[kind]}
    )

    assert response.status_code == 400
    assert "episode" in response.json()
    assert not Job.objects.exists()


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("priority", 101),
        ("priority", -101),
        ("priority", "high"),
        ("max_attempts", 0),
        ("max_attempts", 21),
    ],
)
def test_create_with_limits_out_of_range_is_400(api, field, value):
    response = api.post(LIST, {"job_type": "diagnostic", field: value})

    assert response.status_code == 400
    assert field in response.json()
    assert not Job.objects.exists()


def test_create_is_recorded_in_the_activity_log(api, user):
    response = api.post(LIST, {"job_type": REPORT, "payload": {"name": "weekly"}})

    job_id = response.json()["id"]
    entry = ActivityLog.objects.get(resource_type="job", resource_id=job_id)
    assert entry.action == "create"
    assert entry.actor == user
    assert entry.source == "api"
    assert entry.request_id == response["X-Request-ID"]
    assert entry.changes["job_type"] == REPORT


# --- Detail -----------------------------------------------------------------------------------


def test_detail_of_a_finished_job_has_what_a_dashboard_needs(api, user):
    episode = Episode.objects.create(title="Pilot")
    job = run(enqueue(payload={"name": "weekly", "rows": 2}, user=user, episode_id=episode.pk))

    body = api.get(detail(job.pk)).json()

    assert set(body) == {
        "id",
        "job_type",
        "queue_name",
        "status",
        "payload",
        "result",
        "attempts",
        "max_attempts",
        "errors",
        "priority",
        "run_after",
        "next_run_at",
        "progress",
        "progress_message",
        "episode",
        "created_by",
        "worker_id",
        "heartbeat_at",
        "cancel_requested_at",
        "timeout_seconds",
        "created_at",
        "started_at",
        "finished_at",
    }
    assert body["status"] == "completed"
    assert body["attempts"] == 1
    assert body["progress"] == 100
    assert body["worker_id"] == WORKER
    assert body["episode"] == str(episode.pk)
    assert body["started_at"] and body["finished_at"] and body["created_at"]
    assert body["next_run_at"] is None
    assert body["heartbeat_at"] is None
    assert body["result"]["count"] == 2
    json_file, csv_file = body["result"]["files"]
    assert json_file["format"] == "json"
    assert json_file["content_type"] == "application/json"
    assert json_file["size"] == default_storage.size(json_file["path"])
    # The handler named no URLs; the API adds them.
    assert json_file["url"] == f"/api/v1/jobs/{job.pk}/files/json/"
    assert csv_file["url"] == f"/api/v1/jobs/{job.pk}/files/csv/"
    assert "url" not in job.result["files"][0]


def test_tracebacks_are_in_the_detail_and_left_out_of_the_list(api, user):
    job = failed_job(user)

    one = api.get(detail(job.pk)).json()
    [listed] = api.get(LIST).json()["results"]

    [error] = one["errors"]
    assert error["attempt"] == 1
    assert error["type"] == "builtins.RuntimeError"
    assert error["message"] == "the report source is gone"
    assert error["at"]
    assert "Traceback" in error["traceback"]
    assert listed["errors"] == [{k: v for k, v in error.items() if k != "traceback"}]


def test_next_run_at_is_when_a_waiting_job_may_next_run(api, user):
    job = enqueue(payload={"name": "x", "fail": True}, user=user, max_attempts=2)
    pending = api.get(detail(job.pk)).json()
    assert pending["next_run_at"] == pending["run_after"]

    claimed = claim(job)
    running = api.get(detail(job.pk)).json()
    assert running["status"] == "running" and running["next_run_at"] is None
    assert running["heartbeat_at"] and running["worker_id"] == WORKER

    execution.run_claimed(claimed)
    later = api.get(detail(job.pk)).json()
    assert later["status"] == "retry_scheduled"
    assert later["next_run_at"] == later["run_after"]
    assert datetime.fromisoformat(later["next_run_at"]) > datetime.fromisoformat(
        pending["run_after"]
    )


def test_detail_of_an_unknown_job_is_404(api):
    assert api.get(detail(uuid.uuid4())).status_code == 404


def test_malformed_id_is_400_with_id_key(api):
    response = api.get(detail("not-a-uuid"))

    assert response.status_code == 400
    assert "id" in response.json()


# --- List, filters and ordering ----------------------------------------------------------------


def test_list_is_paginated_newest_first(api, user):
    jobs = [enqueue(user=user) for _ in range(3)]

    response = api.get(LIST, {"page_size": 2})

    assert response.status_code == 200
    body = response.json()
    assert body["count"] == 3
    assert body["previous"] is None and "page=2" in body["next"]
    assert [row["id"] for row in body["results"]] == [str(jobs[2].pk), str(jobs[1].pk)]
    assert ids(api.get(LIST, {"page_size": 2, "page": 2})) == [str(jobs[0].pk)]


def test_list_with_a_bad_page_size_is_400(api):
    response = api.get(LIST, {"page_size": "lots"})

    assert response.status_code == 400
    assert "page_size" in response.json()


def by_status(user) -> dict[str, Job]:
    running = enqueue(user=user)
    claim(running)
    pending = enqueue(user=user)
    cancelled = enqueue(user=user)
    services.cancel(cancelled)
    return {"pending": pending, "running": running, "cancelled": cancelled}


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({"status": "pending"}, {"pending"}),
        ({"status": ["pending", "running"]}, {"pending", "running"}),
        ({"status": "running,cancelled"}, {"running", "cancelled"}),
    ],
)
def test_status_filter_takes_one_or_several(api, user, params, expected):
    jobs = by_status(user)

    assert set(ids(api.get(LIST, params))) == {str(jobs[name].pk) for name in expected}


def test_the_status_filter_adds_no_distinct(api, user):
    # DISTINCT over whole rows would sort every match before the first page could be read.
    enqueue(user=user)

    with CaptureQueriesContext(connection) as queries:
        listed = api.get(LIST, {"status": "pending,running"})

    assert listed.json()["count"] == 1
    job_queries = [query["sql"] for query in queries if '"jobs_job"' in query["sql"]]
    assert job_queries and not any("DISTINCT" in sql.upper() for sql in job_queries)


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"status": "lost"}, "status"),
        ({"status": "pending,lost"}, "status"),
        ({"job_type": "x" * 65}, "job_type"),
        ({"episode": "not-a-uuid"}, "episode"),
        ({"created_by": "editor"}, "created_by"),
        ({"created_by": "1.5"}, "created_by"),
        # The range's two parameters answer under its name, as the episode list's do.
        ({"created_after": "yesterday"}, "created"),
        ({"created_before": "2024-13-01T00:00:00Z"}, "created"),
        ({"ordering": "worker_id"}, "ordering"),
        ({"ordering": "priority,-bogus"}, "ordering"),
    ],
)
def test_bad_filter_values_are_400_with_the_field(api, params, field):
    response = api.get(LIST, params)

    assert response.status_code == 400
    assert field in response.json()


def test_job_type_filter(api, user):
    report_job = enqueue(user=user)
    enqueue("diagnostic", {}, user=user)

    assert ids(api.get(LIST, {"job_type": REPORT})) == [str(report_job.pk)]
    assert ids(api.get(LIST, {"job_type": "transcode"})) == []


def test_episode_filter(api, user):
    episode = Episode.objects.create(title="Pilot")
    linked = enqueue(user=user, episode_id=episode.pk)
    enqueue(user=user)

    assert ids(api.get(LIST, {"episode": str(episode.pk)})) == [str(linked.pk)]
    assert ids(api.get(LIST, {"episode": str(uuid.uuid4())})) == []


def test_created_by_filter(api, user, staff_user):
    mine = enqueue(user=user)
    enqueue(user=staff_user)

    assert ids(api.get(LIST, {"created_by": user.id})) == [str(mine.pk)]


def test_created_range_filter(api, user):
    old, middle, new = (enqueue(user=user) for _ in range(3))
    for job, day in [(old, 1), (middle, 2), (new, 3)]:
        Job.objects.filter(pk=job.pk).update(created_at=datetime(2024, 1, day, 12, tzinfo=UTC))

    params = {"created_after": "2024-01-02T00:00:00Z", "created_before": "2024-01-02T23:59:59Z"}
    assert ids(api.get(LIST, params)) == [str(middle.pk)]
    assert ids(api.get(LIST, {"created_after": "2024-01-02T00:00:00Z"})) == [
        str(new.pk),
        str(middle.pk),
    ]


def test_ordering_by_priority_and_created_at(api, user):
    low = enqueue(user=user, priority=-5)
    high = enqueue(user=user, priority=50)
    middle = enqueue(user=user, priority=0)

    assert ids(api.get(LIST, {"ordering": "priority"})) == [str(j.pk) for j in (low, middle, high)]
    assert ids(api.get(LIST, {"ordering": "-priority"})) == [str(j.pk) for j in (high, middle, low)]
    assert ids(api.get(LIST, {"ordering": "created_at"})) == [
        str(j.pk) for j in (low, high, middle)
    ]
    assert ids(api.get(LIST, {"ordering": "-created_at"})) == [
        str(j.pk) for j in (middle, high, low)
    ]


def test_ordering_by_status(api, user):
    jobs = by_status(user)

    assert ids(api.get(LIST, {"ordering": "status"})) == [
        str(jobs[name].pk) for name in ("cancelled", "pending", "running")
    ]


def test_ordering_by_finished_at_puts_unfinished_jobs_last_both_ways(api, user):
    unfinished = enqueue(user=user)
    early, late = enqueue(user=user), enqueue(user=user)
    now = timezone.now()
    Job.objects.filter(pk=early.pk).update(status="completed", finished_at=now - timedelta(hours=1))
    Job.objects.filter(pk=late.pk).update(status="completed", finished_at=now)

    assert ids(api.get(LIST, {"ordering": "finished_at"})) == [
        str(j.pk) for j in (early, late, unfinished)
    ]
    assert ids(api.get(LIST, {"ordering": "-finished_at"})) == [
        str(j.pk) for j in (late, early, unfinished)
    ]


# --- Cancel and retry -------------------------------------------------------------------------


def test_the_creator_cancels_a_waiting_job(api, user):
    job = enqueue(user=user)

    response = api.post(f"{detail(job.pk)}cancel/")

    assert response.status_code == 200, response.content
    assert response.json()["status"] == "cancelled"
    assert response.json()["finished_at"]
    assert response.json()["next_run_at"] is None
    job.refresh_from_db()
    assert job.status == JobStatus.CANCELLED
    assert job_actions(job.pk) == ["create", "cancel"]
    entry = ActivityLog.objects.get(resource_id=str(job.pk), action="cancel")
    assert entry.actor == user
    assert entry.source == "api"
    assert entry.request_id == response["X-Request-ID"]


def test_cancelling_a_running_job_asks_it_to_stop(api, user):
    job = enqueue(user=user)
    claim(job)

    response = api.post(f"{detail(job.pk)}cancel/")

    assert response.status_code == 200, response.content
    assert response.json()["status"] == "running"
    assert response.json()["cancel_requested_at"]
    job.refresh_from_db()
    assert job.cancel_requested_at is not None


def test_cancelling_a_finished_job_is_409(api, user):
    job = run(enqueue(user=user))

    response = api.post(f"{detail(job.pk)}cancel/")

    assert response.status_code == 409
    assert response.json() == {
        "detail": "The job is completed; only waiting or running jobs can be cancelled."
    }
    job.refresh_from_db()
    assert job.status == JobStatus.COMPLETED


def test_the_creator_retries_a_failed_job(api, user):
    job = failed_job(user)

    response = api.post(f"{detail(job.pk)}retry/")

    assert response.status_code == 200, response.content
    body = response.json()
    assert body["status"] == "pending"
    assert body["attempts"] == 0
    assert body["finished_at"] is None
    assert len(body["errors"]) == 1  # the history of the failed run stays
    job.refresh_from_db()
    assert job.status == JobStatus.PENDING
    assert job_actions(job.pk)[-1] == "requeue"
    entry = ActivityLog.objects.get(resource_id=str(job.pk), action="requeue")
    assert entry.actor == user
    assert entry.source == "api"


def test_retrying_a_waiting_job_is_409(api, user):
    job = enqueue(user=user)

    response = api.post(f"{detail(job.pk)}retry/")

    assert response.status_code == 409
    assert response.json() == {
        "detail": "The job is pending; only failed or cancelled jobs can be retried."
    }


@pytest.mark.parametrize("make_job", ["pending", "failed"])
@pytest.mark.parametrize("action", ["cancel", "retry"])
def test_others_cannot_cancel_or_retry_a_job(other_api, user, action, make_job):
    on_an_episode = {"episode_id": Episode.objects.create(title="Pilot").pk}
    job = (
        enqueue(user=user, **on_an_episode)
        if make_job == "pending"
        else failed_job(user, **on_an_episode)
    )
    before = job_actions(job.pk)

    response = other_api.post(f"{detail(job.pk)}{action}/")

    assert response.status_code == 403
    assert response.json() == {
        "detail": "Only the job's creator can do this, or someone with the permission "
        "jobs.change_job."
    }
    assert Job.objects.get(pk=job.pk).status == job.status
    assert job_actions(job.pk) == before


def test_staff_cancel_and_retry_anyones_job(staff_api, user, staff_user):
    job = enqueue(user=user)

    cancelled = staff_api.post(f"{detail(job.pk)}cancel/")
    retried = staff_api.post(f"{detail(job.pk)}retry/")

    assert cancelled.status_code == 200 and cancelled.json()["status"] == "cancelled"
    assert retried.status_code == 200 and retried.json()["status"] == "pending"
    assert job_actions(job.pk) == ["create", "cancel", "requeue"]
    assert ActivityLog.objects.get(resource_id=str(job.pk), action="requeue").actor == staff_user


def test_a_job_nobody_created_is_for_staff_to_stop(api, staff_api):
    job = enqueue()  # on no episode either: nobody but staff sees it

    assert api.post(f"{detail(job.pk)}cancel/").status_code == 404
    assert staff_api.post(f"{detail(job.pk)}cancel/").status_code == 200


@pytest.mark.parametrize("action", ["cancel", "retry"])
def test_cancel_and_retry_of_bad_or_unknown_ids(api, action):
    malformed = api.post(f"{detail('not-a-uuid')}{action}/")

    assert malformed.status_code == 400
    assert "id" in malformed.json()
    assert api.post(f"{detail(uuid.uuid4())}{action}/").status_code == 404


# --- Output files -----------------------------------------------------------------------------


def test_a_finished_jobs_files_download_as_attachments(api, user):
    job = run(enqueue(payload={"name": "weekly", "rows": 3}, user=user))

    as_json = api.get(f"{detail(job.pk)}files/json/")
    as_csv = api.get(f"{detail(job.pk)}files/csv")

    assert as_json.status_code == 200
    assert as_json["Content-Type"] == "application/json"
    assert as_json["Content-Disposition"] == 'attachment; filename="weekly.json"'
    assert json.loads(b"".join(as_json.streaming_content)) == [
        {"row": 0, "square": 0},
        {"row": 1, "square": 1},
        {"row": 2, "square": 4},
    ]
    assert as_csv.status_code == 200
    assert as_csv["Content-Type"] == "text/csv"
    assert as_csv["Content-Disposition"] == 'attachment; filename="weekly.csv"'
    assert b"".join(as_csv.streaming_content).decode().splitlines() == [
        "row,square",
        "0,0",
        "1,1",
        "2,4",
    ]


def test_a_file_downloads_whatever_the_client_accepts(api, user):
    job = run(enqueue(user=user))

    response = api.get(f"{detail(job.pk)}files/csv/", HTTP_ACCEPT="text/csv")

    assert response.status_code == 200
    assert response["Content-Type"] == "text/csv"


def test_a_format_the_job_did_not_write_is_404(api, user):
    job = run(enqueue(user=user))

    response = api.get(f"{detail(job.pk)}files/xlsx/")

    assert response.status_code == 404
    assert response.json() == {"detail": 'This job has no "xlsx" file.'}


def test_a_file_gone_from_storage_is_404(api, user):
    job = run(enqueue(user=user))
    default_storage.delete(job.result["files"][0]["path"])

    response = api.get(f"{detail(job.pk)}files/json/")

    assert response.status_code == 404
    assert response.json() == {"detail": 'The "json" file of this job is no longer stored.'}


def test_a_job_without_output_has_no_files(api, user):
    job = enqueue(user=user)

    response = api.get(f"{detail(job.pk)}files/json/")

    assert response.status_code == 404
    assert response.json()["detail"] == 'This job has no "json" file.'


def test_download_with_a_malformed_or_unknown_id(api):
    malformed = api.get(f"{detail('not-a-uuid')}files/json/")

    assert malformed.status_code == 400
    assert "id" in malformed.json()
    assert api.get(f"{detail(uuid.uuid4())}files/json/").status_code == 404


def test_entries_that_name_no_stored_file_are_shown_as_they_are(api, user):
    job = enqueue(user=user)
    listed = [{"format": "json"}, "notes.txt", {"format": "csv", "path": "reports/x.csv"}]
    Job.objects.filter(pk=job.pk).update(
        status="completed", finished_at=timezone.now(), result={"files": listed}
    )

    body = api.get(detail(job.pk)).json()

    assert body["result"]["files"] == [
        {"format": "json"},
        "notes.txt",
        {"format": "csv", "path": "reports/x.csv", "url": f"/api/v1/jobs/{job.pk}/files/csv/"},
    ]
    assert api.get(f"{detail(job.pk)}files/json/").status_code == 404


# --- Job types --------------------------------------------------------------------------------


def job_types(client) -> dict[str, dict]:
    response = client.get(TYPES, {"page_size": 100})
    assert response.status_code == 200, response.content
    return {row["name"]: row for row in response.json()["results"]}


def test_job_types_lists_every_registered_type_in_pages(api):
    response = api.get(TYPES, {"page_size": 1})

    body = response.json()
    assert body["count"] == len(registry.creatable_types())
    assert len(body["results"]) == 1 and body["next"]
    assert set(job_types(api)) == {declared.name for declared in registry.creatable_types()}


def test_job_types_need_a_login(anon):
    assert anon.get(TYPES).status_code == 401


def test_a_job_type_lists_the_shape_of_its_result(api):
    listed = job_types(api)

    export = listed["episodes_export"]["result_schema"]

    assert export["required"] == ["count", "files"]
    assert export["properties"]["files"]["items"]["required"] == [
        "format",
        "path",
        "size",
        "content_type",
    ]
    assert listed["tests_api_kinds"]["result_schema"] is None


def test_a_job_type_shows_its_limits_queue_and_description(api):
    listed = job_types(api)

    report_type = listed[REPORT]
    assert report_type["description"] == "Writes a small report as JSON and CSV files."
    assert report_type["max_attempts"] == 2
    assert report_type["timeout_seconds"] == 60
    assert report_type["queue"] == "reports"
    diagnostic = listed["diagnostic"]
    assert diagnostic["description"].startswith("Exercises a deployment's workers")
    assert (diagnostic["max_attempts"], diagnostic["queue"]) == (4, "default")


def test_payload_schema_describes_each_field(api):
    listed = job_types(api)

    assert listed[REPORT]["payload_schema"] == {
        "type": "object",
        "properties": {
            "name": {
                "type": "string",
                "minLength": 1,
                "maxLength": 40,
                "description": "the files' base name",
            },
            "rows": {"type": "integer", "minimum": 1, "maximum": 50, "default": 3},
            "fail": {"type": "boolean", "default": False},
        },
        "required": ["name"],
    }
    seconds = listed["diagnostic"]["payload_schema"]["properties"]["seconds"]
    assert seconds == {"type": "number", "minimum": 0, "maximum": 3600, "default": 0}
    assert "required" not in listed["diagnostic"]["payload_schema"]


def test_payload_schema_covers_every_kind_of_field(api):
    schema = job_types(api)["tests_api_kinds"]["payload_schema"]

    assert schema["required"] == ["ids", "labels", "ratio"]
    properties = schema["properties"]
    assert set(properties) == {
        "mode",
        "tags",
        "ids",
        "labels",
        "window",
        "notify",
        "ratio",
        "options",
        "extra",
    }
    assert properties["mode"] == {"enum": ["full", "quick"], "default": "quick"}
    assert properties["tags"] == {
        "type": "array",
        "items": {"enum": ["a", "b"]},
        "uniqueItems": True,
    }
    assert properties["ids"] == {
        "type": "array",
        "items": {"type": "string", "format": "uuid"},
        "minItems": 2,
        "maxItems": 5,
    }
    assert properties["labels"] == {"type": "array", "items": {"type": "string"}, "minItems": 1}
    assert properties["window"] == {
        "type": "object",
        "properties": {
            "start": {"type": "string", "format": "date"},
            "days": {"type": "integer", "minimum": 1},
        },
        "required": ["start", "days"],
    }
    assert properties["notify"] == {"type": ["string", "null"], "format": "email", "minLength": 1}
    assert properties["ratio"] == {"type": "number", "minimum": 0.5}
    assert properties["options"] == {"type": "object", "additionalProperties": {"type": "integer"}}
    assert properties["extra"] == {}


# --- OpenAPI ----------------------------------------------------------------------------------


def test_schema_describes_the_jobs_endpoints(api):
    schema = api.get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json").json()
    paths = schema["paths"]

    assert {"get", "post"} <= set(paths["/api/v1/jobs/"])
    assert {p["name"] for p in paths["/api/v1/jobs/"]["get"]["parameters"]} >= {
        "status",
        "job_type",
        "episode",
        "created_by",
        "created_after",
        "created_before",
        "ordering",
        "page",
        "page_size",
    }
    assert set(paths["/api/v1/jobs/{id}/"]) == {"get"}
    for action in ("cancel", "retry"):
        responses = paths[f"/api/v1/jobs/{{id}}/{action}/"]["post"]["responses"]
        assert {"200", "403", "404", "409"} <= set(responses)
    download = paths["/api/v1/jobs/{id}/files/{file_format}/"]["get"]["responses"]["200"]
    assert "*/*" in download["content"]
    assert "/api/v1/job-types/" in paths
    assert "JobStatusEnum" in schema["components"]["schemas"]


@pytest.mark.parametrize(
    ("job_type", "payload"),
    [("file_metadata", {}), ("thumbnail_render", {"version": 1})],
)
@pytest.mark.parametrize("value", [False, 0, 7])
def test_a_uuid_in_a_payload_is_a_string_not_a_number(api, job_type, payload, value):
    field = "file_id" if job_type == "file_metadata" else "composition_id"
    response = api.post(LIST, {"job_type": job_type, "payload": {**payload, field: value}})

    assert response.status_code == 400
    assert field in response.json()["payload"]
    assert not Job.objects.exists()
