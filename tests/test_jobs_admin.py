"""Jobs in the admin: the list, its filters and search, the change form that leaves the
worker's fields alone, and the bulk retry and cancel actions, recorded as admin activity."""

from datetime import timedelta

import pytest
from django.contrib.messages import get_messages
from django.db.models.signals import pre_save
from django.tasks import task
from django.utils import timezone
from rest_framework import serializers

from activity.models import ActivityLog
from jobs import registry, services
from jobs.models import Job, JobStatus
from jobs.registry import job_type
from tests.conftest import PASSWORD

pytestmark = pytest.mark.django_db

CHANGELIST = "/admin/jobs/job/"
WORKER = "test-host:1:0"


class NoPayload(serializers.Serializer):
    pass


@job_type("tests_admin_nightly", payload=NoPayload, result=None)
@task(queue_name="nightly")
def nightly() -> None:
    """Runs on a queue of its own."""


def change_url(job: Job) -> str:
    return f"{CHANGELIST}{job.pk}/change/"


@pytest.fixture
def boss(client, django_user_model):
    user = django_user_model.objects.create_superuser("boss", "boss@example.com", PASSWORD)
    client.login(username="boss", password=PASSWORD)
    return user


def enqueue(name: str = "diagnostic", **options) -> Job:
    return services.enqueue(registry.get(name), {}, **options)


def running(**options) -> Job:
    job = enqueue(**options)
    claimed = services.claim(worker_id=WORKER, queues=[job.queue_name])
    assert claimed is not None
    assert claimed.pk == job.pk
    return claimed


def finished(status: str, **options) -> Job:
    job = enqueue(**options)
    Job.objects.filter(pk=job.pk).update(status=status, finished_at=timezone.now())
    job.refresh_from_db()
    return job


def shown(response, job: Job) -> bool:
    """Whether the list links to the job (a searched id is on the page anyway, in the box)."""
    return change_url(job) in response.text


def messages_of(response) -> list[str]:
    return [str(message) for message in get_messages(response.wsgi_request)]


def act(client, action: str, jobs: list[Job]):
    return client.post(
        CHANGELIST,
        {"action": action, "_selected_action": [str(job.pk) for job in jobs]},
        follow=True,
    )


# --- The list ---------------------------------------------------------------------------------


def test_changelist_shows_the_columns(client, boss):
    job = running()
    services.save_progress(job, 40, "half way")

    response = client.get(CHANGELIST)

    assert response.status_code == 200
    for text in [str(job.pk), "diagnostic", "running", "default", "1/4", "40%", WORKER]:
        assert text in response.text, text


def test_filters_by_status_type_and_queue(client, boss):
    pending = enqueue()
    nightly_job = enqueue("tests_admin_nightly")
    cancelled = finished(JobStatus.CANCELLED)

    by_status = client.get(CHANGELIST, {"status__exact": "cancelled"})
    by_type = client.get(CHANGELIST, {"job_type": "tests_admin_nightly"})
    by_queue = client.get(CHANGELIST, {"queue_name": "default"})

    assert shown(by_status, cancelled) and not shown(by_status, pending)
    assert shown(by_type, nightly_job) and not shown(by_type, pending)
    assert shown(by_queue, pending) and shown(by_queue, cancelled)
    assert not shown(by_queue, nightly_job)
    # The filters offer what is registered.
    listing = client.get(CHANGELIST).text
    assert "?job_type=tests_admin_nightly" in listing
    assert "?queue_name=nightly" in listing


def test_filters_by_created_at(client, boss):
    old = enqueue()
    Job.objects.filter(pk=old.pk).update(created_at=timezone.now() - timedelta(days=30))
    new = enqueue()
    week_ago = timezone.now() - timedelta(days=7)

    listing = client.get(CHANGELIST)
    response = client.get(CHANGELIST, {"created_at__gte": str(week_ago)})

    assert "By created at" in listing.text and "Past 7 days" in listing.text
    assert shown(response, new) and not shown(response, old)


def test_search_by_id_and_job_type(client, boss):
    diagnostic = enqueue()
    nightly_job = enqueue("tests_admin_nightly")

    by_id = client.get(CHANGELIST, {"q": str(nightly_job.pk)})
    by_type = client.get(CHANGELIST, {"q": "nightly"})
    not_an_id = client.get(CHANGELIST, {"q": "no-such-job"})

    assert shown(by_id, nightly_job) and not shown(by_id, diagnostic)
    assert shown(by_type, nightly_job) and not shown(by_type, diagnostic)
    assert not_an_id.status_code == 200
    assert not shown(not_an_id, nightly_job) and not shown(not_an_id, diagnostic)


# --- The change form --------------------------------------------------------------------------


def test_jobs_are_not_added_in_the_admin(client, boss):
    assert client.get(f"{CHANGELIST}add/").status_code == 403


def test_the_change_form_shows_failed_attempts_with_tracebacks(client, boss):
    job = finished(JobStatus.FAILED)
    Job.objects.filter(pk=job.pk).update(
        errors=[
            {
                "at": "2026-01-01T00:00:00+00:00",
                "attempt": 1,
                "type": "builtins.ValueError",
                "message": "bad <input>",
                "traceback": "Traceback (most recent call last):\n  boom",
            }
        ]
    )

    response = client.get(change_url(job))

    assert response.status_code == 200
    assert "builtins.ValueError: bad &lt;input&gt;" in response.text
    assert "<pre>Traceback (most recent call last):\n  boom</pre>" in response.text


def change_form_data(job: Job, **changes) -> dict:
    data = {
        "queue_name": job.queue_name,
        "priority": job.priority,
        "run_after_0": job.run_after.strftime("%Y-%m-%d"),
        "run_after_1": job.run_after.strftime("%H:%M:%S"),
        "max_attempts": job.max_attempts,
        "timeout_seconds": job.timeout_seconds,
        "episode": "",
        # Fields the form does not offer are ignored if posted.
        "status": "completed",
        "attempts": 9,
        "worker_id": "forged",
    }
    return {**data, **changes}


def test_the_change_form_edits_scheduling_but_not_the_workers_fields(client, boss):
    job = running()
    # The form's time has whole seconds; a run_after with more would show as changed too.
    Job.objects.filter(pk=job.pk).update(run_after=job.run_after.replace(microsecond=0))
    job.refresh_from_db()

    response = client.post(change_url(job), change_form_data(job, priority=60))

    assert response.status_code == 302, response.content[:2000]
    job.refresh_from_db()
    assert job.priority == 60
    assert (job.status, job.attempts, job.worker_id) == (JobStatus.RUNNING, 1, WORKER)
    update = ActivityLog.objects.get(resource_id=str(job.pk), action="update")
    assert update.changes == {"priority": [0, 60]}
    assert update.source == "admin"
    assert update.actor == boss


def test_saving_the_form_keeps_what_the_worker_recorded_meanwhile(client, boss):
    job = running()

    def worker_finishes_first(sender, instance, **kwargs):
        # The worker completes the job after the admin loaded it, before the admin's save.
        Job.objects.filter(pk=instance.pk).update(
            status=JobStatus.COMPLETED, finished_at=timezone.now(), progress=100
        )

    pre_save.connect(worker_finishes_first, sender=Job, dispatch_uid="test-worker-first")
    try:
        response = client.post(change_url(job), change_form_data(job, priority=60))
    finally:
        pre_save.disconnect(sender=Job, dispatch_uid="test-worker-first")

    assert response.status_code == 302
    job.refresh_from_db()
    assert job.priority == 60
    assert job.status == JobStatus.COMPLETED
    assert job.progress == 100


def test_the_change_form_checks_the_limits(client, boss):
    job = enqueue()

    response = client.post(change_url(job), change_form_data(job, priority=500))

    assert response.status_code == 200
    job.refresh_from_db()
    assert job.priority == 0


# --- Actions ----------------------------------------------------------------------------------


def test_retry_selected_requeues_failed_and_cancelled_jobs_and_skips_the_rest(client, boss, user):
    failed = finished(JobStatus.FAILED, user=user)
    cancelled = finished(JobStatus.CANCELLED, user=user)
    pending = enqueue(user=user)

    response = act(client, "retry_selected", [failed, cancelled, pending])

    assert response.status_code == 200
    assert messages_of(response) == [
        "Retried 2 jobs.",
        "Skipped 1 job: only failed or cancelled jobs can be retried.",
    ]
    for job in (failed, cancelled, pending):
        job.refresh_from_db()
        assert job.status == JobStatus.PENDING
    requeued = ActivityLog.objects.filter(resource_type="job", action="requeue")
    assert sorted(requeued.values_list("resource_id", flat=True)) == sorted(
        [str(failed.pk), str(cancelled.pk)]
    )
    for entry in requeued:
        assert entry.source == "admin"
        assert entry.actor == boss
    assert not ActivityLog.objects.filter(resource_id=str(pending.pk), action="requeue").exists()


def test_cancel_selected_cancels_waiting_jobs_stops_running_ones_and_skips_finished_ones(
    client, boss
):
    busy = running()
    pending = enqueue()
    completed = finished(JobStatus.COMPLETED)

    response = act(client, "cancel_selected", [pending, busy, completed])

    assert messages_of(response) == [
        "Cancelled 1 job.",
        "Asked 1 running job to stop.",
        "Skipped 1 job: only waiting or running jobs can be cancelled.",
    ]
    pending.refresh_from_db()
    busy.refresh_from_db()
    completed.refresh_from_db()
    assert pending.status == JobStatus.CANCELLED
    assert busy.status == JobStatus.RUNNING and busy.cancel_requested_at is not None
    assert completed.status == JobStatus.COMPLETED
    cancel = ActivityLog.objects.get(resource_id=str(pending.pk), action="cancel")
    assert (cancel.source, cancel.actor) == ("admin", boss)
    stop = ActivityLog.objects.get(resource_id=str(busy.pk), action="update")
    assert list(stop.changes) == ["cancel_requested_at"]
    assert stop.source == "admin"


def test_an_action_that_applies_to_none_says_only_what_it_skipped(client, boss):
    job = enqueue()

    response = act(client, "retry_selected", [job])

    assert messages_of(response) == ["Skipped 1 job: only failed or cancelled jobs can be retried."]
