"""Periodic housekeeping: once a period across workers, failures recorded and retried, shown in
the metrics and the admin, and each declared task cleaning what it should."""

import logging
from datetime import timedelta
from itertools import pairwise

import pytest
from django.contrib.messages import get_messages
from django.test import Client
from django.utils import timezone
from knox.models import AuthToken
from prometheus_client.parser import text_string_to_metric_families

from activity.models import ActivityLog, Notification
from episode_metadata.common.idempotency.models import IdempotencyKey
from episodes import services as episode_services
from jobs import periodic, registry, scheduler
from jobs import services as job_services
from jobs.models import Job, JobStatus, PeriodicTask
from realtime.models import Presence, WebSocketTicket
from realtime.presence import services as presence
from tests.periodic_app import TICK_SECONDS
from tests.service_database import ServiceDatabase
from tests.service_process import start_worker, stop

CHANGELIST = "/admin/jobs/periodictask/"


# --- Across worker processes -------------------------------------------------------------------


def ticks(service: ServiceDatabase) -> list[float]:
    rows = service.rows("SELECT name FROM auth_group WHERE name LIKE 'tick %%'")
    return sorted(float(name.split()[1]) for (name,) in rows)


@pytest.mark.server
def test_three_workers_run_a_task_once_a_period(tmp_path):
    service = ServiceDatabase(
        tmp_path / "var", DJANGO_SETTINGS_MODULE="tests.periodic_settings", JOBS_POLL_SECONDS="0.2"
    )
    try:
        workers = [start_worker(service.env, "--concurrency", "1") for _ in range(3)]
        try:
            service.wait_for(lambda: len(ticks(service)) >= 3, timeout=40, what="three runs")
        finally:
            for worker in workers:
                worker.terminate()  # all at once; `stop` then waits for each
            for worker in workers:
                stop(worker)
        runs = ticks(service)
        (recorded,) = service.rows(
            "SELECT runs, failures FROM jobs_periodictask WHERE name = 'tick'"
        )
        claimants = service.rows("SELECT count(*) FROM jobs_worker")
    finally:
        service.drop()

    # A period is claimed from its start, so runs come at least one period apart.
    assert min(later - earlier for earlier, later in pairwise(runs)) >= TICK_SECONDS * 0.95
    assert recorded == (len(runs), 0)
    assert claimants == [(3,)]


# --- Claims, failures, metrics, the admin ------------------------------------------------------


@pytest.fixture
def declared(monkeypatch):
    """Only the tasks a test declares."""
    monkeypatch.setattr(periodic, "_tasks", {})


def period_passes(name: str) -> None:
    PeriodicTask.objects.filter(name=name).update(next_due_at=timezone.now())


@pytest.mark.django_db
def test_a_failing_task_is_recorded_logged_and_runs_again_next_period(declared, caplog):
    outcomes: list[Exception | int] = [RuntimeError("disk full"), 3]

    def flaky() -> int:
        outcome = outcomes.pop(0)
        if isinstance(outcome, Exception):
            raise outcome
        return outcome

    periodic.register("flaky", every=timedelta(hours=1), run=flaky)
    scheduler.sync(periodic.tasks())

    assert scheduler.run_due(worker="one") == 1
    failed = PeriodicTask.objects.get(name="flaky")
    assert (failed.runs, failed.failures, failed.cleaned) == (1, 1, 0)
    assert failed.last_error == "RuntimeError: disk full"
    assert failed.last_success_at is None and failed.last_failure_at is not None
    assert failed.claimed_by == "one"
    assert failed.next_due_at > timezone.now() + timedelta(minutes=59)
    assert "periodic task flaky failed after" in caplog.text
    assert "disk full" in caplog.text

    assert scheduler.run_due(worker="two") == 0  # its period is taken
    period_passes("flaky")
    assert scheduler.run_due(worker="two") == 1

    retried = PeriodicTask.objects.get(name="flaky")
    assert (retried.runs, retried.failures, retried.cleaned, retried.last_count) == (2, 1, 3, 3)
    assert retried.last_success_at is not None and retried.claimed_by == "two"


@pytest.mark.django_db
def test_only_one_claim_wins_a_period(declared):
    task = periodic.register("once", every=timedelta(minutes=5), run=lambda: 0)
    scheduler.sync([task])

    assert [scheduler.claim(task, worker=name) for name in ("a", "b", "c")] == [True, False, False]


@pytest.mark.django_db
def test_a_changed_period_applies_to_the_next_due_time(declared):
    daily = periodic.register("daily", every=timedelta(days=1), run=lambda: 0)
    scheduler.sync([daily])
    assert scheduler.claim(daily, worker="a")

    scheduler.sync([periodic.Task("daily", every=timedelta(minutes=1), run=daily.run)])

    row = PeriodicTask.objects.get(name="daily")
    assert row.every == timedelta(minutes=1)
    assert row.next_due_at <= timezone.now() + timedelta(minutes=1)


def test_a_task_is_declared_once_with_a_positive_period(declared):
    periodic.register("once", every=timedelta(hours=1), run=lambda: 0)

    with pytest.raises(ValueError, match="registered already"):
        periodic.register("once", every=timedelta(hours=1), run=lambda: 0)
    with pytest.raises(ValueError, match="positive period"):
        periodic.register("never", every=timedelta(0), run=lambda: 0)


@pytest.mark.django_db
def test_the_metrics_show_each_task(declared):
    periodic.register("cleaner", every=timedelta(minutes=10), run=lambda: 7)
    periodic.register("idle", every=timedelta(hours=1), run=lambda: 0)
    scheduler.sync([periodic.tasks()[0]])
    scheduler.run_due(worker="one")

    samples = {
        (sample.name, sample.labels["task"]): sample.value
        for family in text_string_to_metric_families(Client().get("/metrics").content.decode())
        for sample in family.samples
        if family.name.startswith("episodes_periodic_task")
    }

    row = PeriodicTask.objects.get(name="cleaner")
    assert row.last_success_at is not None and row.last_duration_seconds is not None
    assert {name: value for (name, task), value in samples.items() if task == "cleaner"} == {
        "episodes_periodic_task_period_seconds": 600.0,
        "episodes_periodic_task_last_success_timestamp_seconds": row.last_success_at.timestamp(),
        "episodes_periodic_task_last_duration_seconds": row.last_duration_seconds,
        "episodes_periodic_task_runs_total": 1.0,
        "episodes_periodic_task_failures_total": 0.0,
        "episodes_periodic_task_cleaned_total": 7.0,
    }
    # Declared, never run yet: shown at 0, so an alert has a value to look at.
    assert samples["episodes_periodic_task_runs_total", "idle"] == 0.0
    assert samples["episodes_periodic_task_last_success_timestamp_seconds", "idle"] == 0.0


@pytest.mark.django_db
def test_the_admin_lists_tasks_and_runs_one_now(declared, client, django_user_model):
    task = periodic.register("daily", every=timedelta(days=1), run=lambda: 0)
    scheduler.sync([task])
    assert scheduler.claim(task, worker="a")
    django_user_model.objects.create_superuser("boss", "boss@example.com", "x" * 12)
    client.login(username="boss", password="x" * 12)

    listed = client.get(CHANGELIST)
    assert listed.status_code == 200
    assert "daily" in listed.text and "1 day" in listed.text
    assert client.get(f"{CHANGELIST}add/").status_code == 403

    row = PeriodicTask.objects.get(name="daily")
    response = client.post(
        CHANGELIST, {"action": "run_now", "_selected_action": [row.pk]}, follow=True
    )

    assert [str(m) for m in get_messages(response.wsgi_request)] == [
        "1 task(s) due now: a job worker runs each within 5 seconds."
    ]
    assert scheduler.run_due(worker="b") == 1


# --- What each declared task cleans ------------------------------------------------------------


def run_declared(name: str) -> PeriodicTask:
    """Run a task the apps declare, as a worker would, and return its row."""
    task = next(task for task in periodic.tasks() if task.name == name)
    scheduler.sync([task])
    assert scheduler.claim(task, worker="test")
    scheduler.run(task)
    row = PeriodicTask.objects.get(name=name)
    assert row.failures == 0, row.last_error
    return row


def days_ago(days: float):
    return timezone.now() - timedelta(days=days)


@pytest.mark.django_db
def test_activity_retention_deletes_what_is_older_than_its_setting(settings):
    old = ActivityLog.objects.create(
        timestamp=days_ago(366), action="create", resource_type="episode", resource_id="1"
    )
    kept = ActivityLog.objects.create(
        timestamp=days_ago(364), action="create", resource_type="episode", resource_id="2"
    )

    assert run_declared("activity_retention").last_count == 1
    assert not ActivityLog.objects.filter(pk=old.pk).exists()
    assert ActivityLog.objects.filter(pk=kept.pk).exists()

    settings.ACTIVITY_RETENTION_DAYS = 0  # turned off
    ancient = ActivityLog.objects.create(
        timestamp=days_ago(5000), action="create", resource_type="episode", resource_id="3"
    )
    period_passes("activity_retention")
    assert run_declared("activity_retention").last_count is None
    assert ActivityLog.objects.filter(pk=ancient.pk).exists()


@pytest.mark.django_db
def test_notification_retention_deletes_expired_and_old_read_ones(django_user_model):
    person = django_user_model.objects.create_user(username="pat", password="x" * 12)
    now = timezone.now()
    Notification.objects.bulk_create(
        [
            Notification(recipient=person, type="announcement", title="expired",
                         expires_at=now - timedelta(minutes=1)),
            Notification(recipient=person, type="announcement", title="old read",
                         read_at=now, created_at=days_ago(91)),
            Notification(recipient=person, type="announcement", title="old unread",
                         created_at=days_ago(91)),
            Notification(recipient=person, type="announcement", title="recent read",
                         read_at=now, created_at=days_ago(89)),
        ]
    )  # fmt: skip

    assert run_declared("notification_retention").last_count == 2
    assert sorted(Notification.objects.values_list("title", flat=True)) == [
        "old unread",
        "recent read",
    ]


@pytest.mark.django_db
def test_dead_jobs_go_once_their_retention_is_over():
    def dead(days: float) -> Job:
        job = job_services.enqueue(registry.get("diagnostic"), {})
        Job.objects.filter(pk=job.pk).update(status=JobStatus.FAILED, finished_at=days_ago(days))
        return job

    dead(31)
    kept = dead(29)
    completed = job_services.enqueue(registry.get("diagnostic"), {})

    row = run_declared("dead_jobs")

    assert row.last_count == 1
    assert set(Job.objects.values_list("pk", flat=True)) == {kept.pk, completed.pk}
    deletion = ActivityLog.objects.filter(resource_type="job", action="delete").get()
    assert deletion.actor_label == "periodic task dead_jobs"


@pytest.mark.django_db
def test_expired_tokens_are_deleted_and_live_ones_kept(django_user_model):
    person = django_user_model.objects.create_user(username="pat", password="x" * 12)
    expired, _ = AuthToken.objects.create(user=person)
    live, _ = AuthToken.objects.create(user=person)
    AuthToken.objects.filter(pk=expired.pk).update(expiry=timezone.now() - timedelta(seconds=1))

    assert run_declared("expired_tokens").last_count == 1
    assert list(AuthToken.objects.values_list("pk", flat=True)) == [live.pk]


@pytest.mark.django_db
def test_stale_presence_is_swept_with_its_departure(django_user_model):
    person = django_user_model.objects.create_user(username="pat", password="x" * 12)
    episode = episode_services.create_episode(user=person, data={"title": "Pilot"})
    lapsed = timezone.now() - timedelta(seconds=presence.TTL_SECONDS + 1)
    presence.record(episode_id=episode.pk, user_id=person.pk, connection="gone", now=lapsed)
    presence.record(episode_id=episode.pk, user_id=person.pk, connection="here")

    assert run_declared("stale_presence").last_count == 0  # still viewing: no departure
    assert list(Presence.objects.values_list("connection", flat=True)) == ["here"]

    Presence.objects.update(expires_at=timezone.now())
    period_passes("stale_presence")
    assert run_declared("stale_presence").last_count == 1
    assert not Presence.objects.exists()


@pytest.mark.django_db
def test_expired_websocket_tickets_are_deleted_and_live_ones_kept(django_user_model):
    person = django_user_model.objects.create_user(username="pat", password="x" * 12)
    now = timezone.now()
    WebSocketTicket.objects.create(digest="0" * 64, user=person, expires_at=now)
    WebSocketTicket.objects.create(digest="1" * 64, user=person, expires_at=now + timedelta(1))

    assert run_declared("expired_websocket_tickets").last_count == 1
    assert list(WebSocketTicket.objects.values_list("digest", flat=True)) == ["1" * 64]


@pytest.mark.django_db
def test_expired_idempotency_keys_are_deleted_and_fresh_ones_kept(django_user_model):
    person = django_user_model.objects.create_user(username="pat", password="x" * 12)
    for key, hours in (("old", 25), ("fresh", 23)):
        IdempotencyKey.objects.create(
            user=person,
            key=key,
            fingerprint="0" * 64,
            response_status=201,
            created_at=timezone.now() - timedelta(hours=hours),
        )

    assert run_declared("expired_idempotency_keys").last_count == 1
    assert list(IdempotencyKey.objects.values_list("key", flat=True)) == ["fresh"]


@pytest.mark.django_db
def test_lost_jobs_go_back_to_the_queue_and_live_ones_keep_running():
    def running(heartbeat_seconds_ago: float) -> Job:
        job = job_services.enqueue(registry.get("diagnostic"), {})
        Job.objects.filter(pk=job.pk).update(
            status=JobStatus.RUNNING,
            attempts=1,
            worker_id="gone:1",
            heartbeat_at=timezone.now() - timedelta(seconds=heartbeat_seconds_ago),
        )
        return job

    lost, alive = running(31), running(5)

    assert run_declared("lost_jobs").last_count == 1
    assert Job.objects.get(pk=lost.pk).status == JobStatus.RETRY_SCHEDULED
    assert Job.objects.get(pk=alive.pk).status == JobStatus.RUNNING


@pytest.mark.django_db
def test_a_run_that_cleaned_nothing_is_logged_only_at_debug(declared, caplog):
    counts = [0, 4]
    periodic.register("sweep", every=timedelta(hours=1), run=lambda: counts.pop(0))
    scheduler.sync(periodic.tasks())
    caplog.set_level(logging.DEBUG, logger="jobs.scheduler")

    for _ in counts[:]:
        scheduler.mark_due(["sweep"])
        assert scheduler.run_due(worker="one") == 1

    levels = {r.getMessage().rpartition(": ")[2]: r.levelname for r in caplog.records}
    assert levels == {"0 cleaned": "DEBUG", "4 cleaned": "INFO"}
