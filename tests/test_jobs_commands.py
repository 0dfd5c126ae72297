"""The operators' job commands: retry_dead_jobs, purge_dead_jobs and queue_stats."""

from datetime import timedelta
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.tasks import task
from django.utils import timezone
from rest_framework import serializers

from activity.models import ActivityLog
from jobs import registry, retention, selectors, services
from jobs.models import Job, JobStatus, Worker
from jobs.registry import job_type

pytestmark = pytest.mark.django_db


class NoPayload(serializers.Serializer):
    pass


@job_type("tests_commands_render", payload=NoPayload, result=None)
@task(queue_name="renders")
def render() -> None:
    """Runs on a queue of its own."""


def job(status: str = JobStatus.PENDING, *, name: str = "diagnostic", ago=timedelta(0)) -> Job:
    """A job in `status`, finished (if it is) or due (if waiting) `ago`."""
    created = services.enqueue(registry.get(name), {})
    when = timezone.now() - ago
    if status in (JobStatus.FAILED, JobStatus.CANCELLED, JobStatus.COMPLETED):
        Job.objects.filter(pk=created.pk).update(status=status, attempts=4, finished_at=when)
    else:
        Job.objects.filter(pk=created.pk).update(status=status, run_after=when)
    created.refresh_from_db()
    return created


def run(*args: str) -> str:
    out = StringIO()
    call_command(*args, stdout=out)
    return out.getvalue()


def actions_by(label: str) -> list[tuple[str, str]]:
    rows = ActivityLog.objects.filter(actor_label=label).order_by("id")
    return list(rows.values_list("action", "resource_id"))


# retry_dead_jobs


def test_retry_puts_failed_jobs_back_with_fresh_attempts_and_logs_each():
    failed = [job(JobStatus.FAILED), job(JobStatus.FAILED, name="tests_commands_render")]
    cancelled = job(JobStatus.CANCELLED)
    completed = job(JobStatus.COMPLETED)

    output = run("retry_dead_jobs")

    assert "Retried 2 failed jobs." in output
    for retried in failed:
        retried.refresh_from_db()
        assert (retried.status, retried.attempts, retried.finished_at) == ("pending", 0, None)
    assert Job.objects.get(pk=cancelled.pk).status == JobStatus.CANCELLED
    assert Job.objects.get(pk=completed.pk).status == JobStatus.COMPLETED
    assert sorted(actions_by("manage.py retry_dead_jobs")) == sorted(
        ("requeue", str(retried.pk)) for retried in failed
    )


def test_retry_filters_by_type_queue_and_age():
    recent_diagnostic = job(JobStatus.FAILED, ago=timedelta(hours=1))
    old_diagnostic = job(JobStatus.FAILED, ago=timedelta(hours=30))
    recent_render = job(JobStatus.FAILED, name="tests_commands_render", ago=timedelta(hours=1))

    run("retry_dead_jobs", "--job-type", "diagnostic", "--failed-within", "24")
    run("retry_dead_jobs", "--queue", "nowhere")

    assert Job.objects.get(pk=recent_diagnostic.pk).status == JobStatus.PENDING
    assert Job.objects.get(pk=old_diagnostic.pk).status == JobStatus.FAILED
    assert Job.objects.get(pk=recent_render.pk).status == JobStatus.FAILED

    run("retry_dead_jobs", "--queue", "renders")

    assert Job.objects.get(pk=recent_render.pk).status == JobStatus.PENDING
    assert Job.objects.get(pk=old_diagnostic.pk).status == JobStatus.FAILED


def test_retry_dry_run_changes_nothing_and_says_what_it_would_retry():
    job(JobStatus.FAILED)
    job(JobStatus.FAILED)
    job(JobStatus.FAILED, name="tests_commands_render")

    output = run("retry_dead_jobs", "--dry-run")

    assert "2  diagnostic (queue default)" in output
    assert "1  tests_commands_render (queue renders)" in output
    assert "Would retry 3 failed jobs." in output
    assert Job.objects.filter(status=JobStatus.FAILED).count() == 3
    assert not actions_by("manage.py retry_dead_jobs")


def test_retry_goes_in_batches_and_never_retries_a_job_twice():
    jobs = [job(JobStatus.FAILED, ago=timedelta(minutes=5 - n)) for n in range(5)]
    totals = []

    def fail_again(total: int) -> None:
        """Each retried job fails again at once, as it would with its cause unfixed."""
        totals.append(total)
        Job.objects.filter(status=JobStatus.PENDING).update(
            status=JobStatus.FAILED, finished_at=timezone.now()
        )

    retried = services.retry_dead(selectors.dead_jobs(), batch_size=2, on_batch=fail_again)

    assert retried == 5
    assert totals == [2, 4, 5]
    requeued = ActivityLog.objects.filter(action="requeue").values_list("resource_id", flat=True)
    assert sorted(requeued) == sorted(str(each.pk) for each in jobs)


def test_retry_reports_progress():
    for _ in range(3):
        job(JobStatus.FAILED)

    assert "Retried 3 so far." in run("retry_dead_jobs")


@pytest.mark.parametrize("hours", ["0", "-1", "soon"])
def test_retry_failed_within_must_be_a_positive_number_of_hours(hours):
    with pytest.raises(CommandError, match="hours"):
        run("retry_dead_jobs", "--failed-within", hours)


# purge_dead_jobs


def test_purge_deletes_old_failed_and_cancelled_jobs_only():
    old_failed = job(JobStatus.FAILED, ago=timedelta(days=40))
    old_cancelled = job(JobStatus.CANCELLED, ago=timedelta(days=40))
    kept = [
        job(JobStatus.FAILED, ago=timedelta(days=20)),
        job(JobStatus.COMPLETED, ago=timedelta(days=40)),
        job(JobStatus.PENDING, ago=timedelta(days=40)),
    ]

    output = run("purge_dead_jobs", "--older-than", "30")

    assert "Deleted 2 jobs that ended before" in output
    assert set(Job.objects.values_list("pk", flat=True)) == {each.pk for each in kept}
    assert sorted(actions_by("manage.py purge_dead_jobs")) == sorted(
        [("delete", str(old_failed.pk)), ("delete", str(old_cancelled.pk))]
    )


def test_purge_dry_run_deletes_nothing():
    job(JobStatus.FAILED, ago=timedelta(days=40))

    output = run("purge_dead_jobs", "--older-than", "30", "--dry-run")

    assert "Would delete 1 jobs that ended before" in output
    assert Job.objects.count() == 1


def test_purge_goes_in_batches_reporting_each():
    for _ in range(5):
        job(JobStatus.FAILED, ago=timedelta(days=40))
    totals = []

    deleted = retention.purge(
        finished_before=timezone.now() - timedelta(days=30), batch_size=2, on_batch=totals.append
    )

    assert deleted == 5
    assert totals == [2, 4, 5]
    assert not Job.objects.exists()


def test_purge_needs_a_positive_age():
    with pytest.raises(CommandError):
        run("purge_dead_jobs")
    with pytest.raises(CommandError):
        run("purge_dead_jobs", "--older-than", "0")


# queue_stats


def test_queue_stats_counts_by_queue_type_and_status_with_waits_and_workers(settings):
    settings.JOBS_LEASE_SECONDS = 30
    job(JobStatus.PENDING, ago=timedelta(seconds=90))
    job(JobStatus.PENDING)
    job(JobStatus.FAILED)
    job(JobStatus.RETRY_SCHEDULED, name="tests_commands_render", ago=timedelta(seconds=-600))
    now = timezone.now()
    Worker.objects.create(
        name="host:7",
        hostname="host",
        pid=7,
        queues=["default", "renders"],
        concurrency=4,
        started_at=now - timedelta(hours=2),
        heartbeat_at=now,
    )
    Worker.objects.create(
        name="host:8",
        hostname="host",
        pid=8,
        queues=["default"],
        concurrency=1,
        started_at=now,
        heartbeat_at=now,
        stopped_at=now,
    )

    lines = run("queue_stats").splitlines()

    header = lines[0].split()
    assert header[:3] == ["queue", "job", "type"]
    assert header[3:] == JobStatus.values
    default = next(line for line in lines if line.startswith("default ")).split()
    assert default[:2] == ["default", "diagnostic"]
    assert dict(zip(JobStatus.values, map(int, default[2:]), strict=True)) == {
        "pending": 2,
        "running": 0,
        "retry_scheduled": 0,
        "completed": 0,
        "failed": 1,
        "cancelled": 0,
    }
    renders = next(line for line in lines if line.startswith("renders ")).split()
    assert renders[2:] == ["0", "0", "1", "0", "0", "0"]
    wait = next(line for line in lines if line.strip().startswith("default: "))
    assert 90 <= int(wait.split()[1]) < 100
    assert not any(line.strip().startswith("renders: ") for line in lines)  # not due yet
    assert "Job workers alive: 1" in lines
    (worker,) = [line for line in lines if "host:" in line]
    assert "host:7: 4 processes on queues default,renders" in worker


def test_queue_stats_of_an_empty_queue():
    output = run("queue_stats")

    assert "No jobs." in output
    assert "No job is waiting for a worker." in output
    assert "Job workers alive: 0" in output


def test_retry_takes_failed_jobs_without_an_end_time_too():
    """Rows changed by hand (in the admin or SQL) may lack one."""
    failed = job(JobStatus.FAILED)
    Job.objects.filter(pk=failed.pk).update(finished_at=None)

    assert "Retried 1 failed jobs." in run("retry_dead_jobs")
    assert Job.objects.get(pk=failed.pk).status == JobStatus.PENDING
