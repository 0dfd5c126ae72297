"""The job lifecycle as a worker drives it: claims, retries with backoff, the dead state,
timeouts, cancellation, recovery of lost jobs. Jobs run here on the test's own thread
through the same functions a worker child process calls."""

import contextlib
import itertools
import signal
import sys
import threading
import time
from datetime import timedelta

import pytest
from django.db import connection, transaction
from django.tasks import task
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from rest_framework import serializers

from activity.models import ActivityLog
from jobs import backoff, execution, registry, runtime, services
from jobs.models import Job, JobStatus
from jobs.registry import job_type
from jobs.tasks import diagnostic

pytestmark = pytest.mark.django_db
WORKER = "test-host:1:0"


class NoPayload(serializers.Serializer):
    pass


@job_type(
    "tests_always_fails",
    payload=NoPayload,
    result=None,
    max_attempts=3,
    backoff_base=0.4,
    backoff_cap=0.6,
)
@task
def always_fails() -> None:
    raise ValueError("the source file is unreadable")


@job_type("tests_slow", payload=NoPayload, result=None, timeout_seconds=1)
@task
def slow() -> None:
    # A handler that swallows errors still cannot outlive its timeout.
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        with contextlib.suppress(Exception):
            time.sleep(0.05)


def enqueue(name: str, **options) -> Job:
    return services.enqueue(registry.get(name), {}, **options)


def run_next() -> Job | None:
    job = services.claim(worker_id=WORKER, queues=["default"])
    if job is not None:
        execution.run_claimed(job)
        job.refresh_from_db()
    return job


def actions(job: Job) -> list[str]:
    rows = ActivityLog.objects.filter(resource_type="job", resource_id=str(job.pk)).order_by("id")
    return list(rows.values_list("action", flat=True))


def test_backoff_doubles_from_base_up_to_the_cap_with_jitter():
    for attempt in range(1, 12):
        ceiling = min(300.0, 5.0 * 2 ** (attempt - 1))
        delays = [backoff.retry_delay(attempt, base=5.0, cap=300.0) for _ in range(50)]
        assert all(ceiling / 2 <= d <= ceiling for d in delays)
        assert len(set(delays)) > 1  # jittered
    assert backoff.retry_delay(20, base=5.0, cap=300.0) <= 300.0


def test_a_successful_job_records_start_and_completion():
    job = services.enqueue(registry.get("diagnostic"), {"seconds": 0, "steps": 2})
    ran = run_next()
    assert ran.pk == job.pk
    assert ran.status == JobStatus.COMPLETED
    assert ran.attempts == 1
    assert ran.progress == 100
    assert ran.result == {"attempt": 1, "seconds": 0, "steps": 2}
    assert ran.started_at is not None and ran.finished_at >= ran.started_at
    assert actions(job) == ["create", "start", "complete"]
    complete = ActivityLog.objects.get(resource_id=str(job.pk), action="complete")
    assert complete.source == "job"
    assert complete.request_id == f"job:{job.pk}"
    assert complete.actor_label == f"worker {WORKER}"


def test_failed_attempts_wait_out_their_backoff_then_the_job_dies(caplog):
    job = enqueue("tests_always_fails")

    failed_at = timezone.now()
    run_next()
    job.refresh_from_db()
    assert job.status == JobStatus.RETRY_SCHEDULED
    wait = (job.run_after - failed_at).total_seconds()
    assert 0.2 - 0.05 <= wait <= 0.4 + 0.05  # base 0.4 s, equal jitter: [0.2, 0.4]
    # Not due yet: no worker may take it early.
    assert services.claim(worker_id=WORKER, queues=["default"]) is None

    for attempt in (2, 3):
        while timezone.now() < job.run_after:
            time.sleep(0.02)
        started = timezone.now()
        ran = run_next()
        assert ran.attempts == attempt
        assert started >= job.run_after
        job.refresh_from_db()

    assert job.status == JobStatus.FAILED
    assert job.finished_at is not None
    assert [e["attempt"] for e in job.errors] == [1, 2, 3]
    assert {e["type"] for e in job.errors} == {"builtins.ValueError"}
    assert "the source file is unreadable" in job.errors[-1]["traceback"]
    assert actions(job) == ["create", "start", "retry", "start", "retry", "start", "fail"]
    # The operator's line: what failed, why, and what to do.
    dead = [r for r in caplog.records if r.levelname == "ERROR" and str(job.pk) in r.getMessage()]
    assert dead and "failed for good after 3 attempts" in dead[0].getMessage()
    assert f"/api/v1/jobs/{job.pk}/retry/" in dead[0].getMessage()


def test_max_attempts_per_job_overrides_the_type():
    job = enqueue("tests_always_fails", max_attempts=1)
    run_next()
    job.refresh_from_db()
    assert job.status == JobStatus.FAILED
    assert actions(job) == ["create", "start", "fail"]


def test_a_job_past_its_timeout_is_stopped_even_if_it_swallows_errors():
    job = enqueue("tests_slow", max_attempts=1)
    started = time.monotonic()
    run_next()
    elapsed = time.monotonic() - started
    job.refresh_from_db()
    assert elapsed < 3
    assert job.status == JobStatus.FAILED
    assert job.errors[0]["type"] == "jobs.runtime.JobTimeout"
    assert "timeout of 1 s" in job.errors[0]["message"]


def test_cancelling_a_waiting_job_takes_effect_at_once():
    job = enqueue("tests_always_fails")
    services.cancel(job)
    job.refresh_from_db()
    assert job.status == JobStatus.CANCELLED
    assert job.finished_at is not None
    assert services.claim(worker_id=WORKER, queues=["default"]) is None
    assert actions(job) == ["create", "cancel"]


def test_cancelling_a_finished_job_is_refused():
    job = services.enqueue(registry.get("diagnostic"), {})
    run_next()
    with pytest.raises(services.JobStateError, match="completed"):
        services.cancel(job)


@pytest.mark.django_db(transaction=True)
def test_a_running_job_stops_when_cancellation_is_requested():
    job = services.enqueue(registry.get("diagnostic"), {"seconds": 20, "steps": 200})

    def cancel_once_started() -> None:
        from django.db import connection

        try:
            while not Job.objects.filter(pk=job.pk, status=JobStatus.RUNNING).exists():
                time.sleep(0.05)
            services.cancel(job)
        finally:
            connection.close()

    canceller = threading.Thread(target=cancel_once_started)
    canceller.start()
    started = time.monotonic()
    run_next()
    canceller.join()
    job.refresh_from_db()
    assert time.monotonic() - started < 5
    assert job.status == JobStatus.CANCELLED
    assert 0 < job.progress < 100
    assert actions(job) == ["create", "start", "update", "cancel"]
    request = ActivityLog.objects.get(resource_id=str(job.pk), action="update")
    assert list(request.changes) == ["cancel_requested_at"]


def test_retry_puts_a_dead_job_back_with_fresh_attempts():
    job = enqueue("tests_always_fails", max_attempts=1)
    run_next()
    services.retry(job)
    job.refresh_from_db()
    assert job.status == JobStatus.PENDING
    assert job.attempts == 0
    assert job.finished_at is None
    assert len(job.errors) == 1  # history kept
    assert actions(job)[-1] == "requeue"
    ran = run_next()
    assert ran.pk == job.pk and ran.attempts == 1


def test_retry_refuses_jobs_that_have_not_ended():
    job = enqueue("tests_always_fails")
    with pytest.raises(services.JobStateError, match="pending"):
        services.retry(job)


def test_a_job_enqueued_in_a_rolled_back_transaction_never_exists():
    with pytest.raises(RuntimeError), transaction.atomic():
        diagnostic.enqueue()
        raise RuntimeError("the request failed after enqueueing")
    assert not Job.objects.exists()
    assert services.claim(worker_id=WORKER, queues=["default"]) is None


def test_enqueue_through_django_tasks_creates_a_job_and_reads_back_its_result():
    result = diagnostic.using(priority=5).enqueue(seconds=0, steps=1)
    job = Job.objects.get(pk=result.id)
    assert job.priority == 5
    assert job.payload == {"seconds": 0.0, "steps": 1, "fail_attempts": 0}
    run_next()
    result.refresh()
    assert result.status == "SUCCESSFUL"
    assert result.return_value["attempt"] == 1


def test_higher_priority_and_due_jobs_are_claimed_first():
    later = services.enqueue(
        registry.get("diagnostic"), {}, run_after=timezone.now() + timedelta(hours=1)
    )
    low = services.enqueue(registry.get("diagnostic"), {}, priority=-5)
    high = services.enqueue(registry.get("diagnostic"), {}, priority=10)
    order = [services.claim(worker_id=WORKER, queues=["default"]) for _ in range(3)]
    assert [j.pk if j else None for j in order] == [high.pk, low.pk, None]
    assert Job.objects.get(pk=later.pk).status == JobStatus.PENDING


def test_workers_take_only_their_queues():
    job = services.enqueue(registry.get("diagnostic"), {}, queue_name="exports")
    assert services.claim(worker_id=WORKER, queues=["default"]) is None
    assert services.claim(worker_id=WORKER, queues=["exports"]).pk == job.pk


def test_a_job_whose_worker_stopped_heartbeating_is_recovered_once():
    job = services.enqueue(registry.get("diagnostic"), {})
    claimed = services.claim(worker_id=WORKER, queues=["default"])
    Job.objects.filter(pk=job.pk).update(heartbeat_at=timezone.now() - timedelta(seconds=60))

    assert services.recover_lost(lease_seconds=30) == 1
    job.refresh_from_db()
    assert job.status == JobStatus.RETRY_SCHEDULED
    assert job.attempts == 1  # the lost attempt counts
    assert job.errors[0]["type"] == "WorkerLost"
    assert services.recover_lost(lease_seconds=30) == 0
    # The lost worker coming back to life must not complete it a second time.
    assert services.complete(claimed, {"late": True}) is None
    job.refresh_from_db()
    assert job.status == JobStatus.RETRY_SCHEDULED and job.result is None
    assert actions(job) == ["create", "start", "retry"]


def test_a_heartbeating_job_is_left_alone():
    services.enqueue(registry.get("diagnostic"), {})
    claimed = services.claim(worker_id=WORKER, queues=["default"])
    assert services.heartbeat(claimed) is True
    assert services.recover_lost(lease_seconds=30) == 0


def test_a_stopping_worker_hands_back_its_job_without_counting_the_attempt():
    job = services.enqueue(registry.get("diagnostic"), {})
    claimed = services.claim(worker_id=WORKER, queues=["default"])
    assert services.release(claimed) is True
    job.refresh_from_db()
    assert job.status == JobStatus.PENDING
    assert job.attempts == 0
    assert actions(job) == ["create", "start", "retry"]


def test_progress_is_saved_while_the_job_runs():
    job = services.enqueue(registry.get("diagnostic"), {})
    claimed = services.claim(worker_id=WORKER, queues=["default"])
    with runtime.running(claimed) as state:
        runtime.report_progress(30, "three of ten")
        runtime.report_progress(40, "four of ten")
        job.refresh_from_db()
        assert job.progress == 0  # noted only; the heartbeat thread sends it
        state.flush()
    job.refresh_from_db()
    assert (job.progress, job.progress_message) == (40, "four of ten")
    # Progress is not an audit event: no activity row for it.
    assert actions(job) == ["create", "start"]


def test_an_unknown_job_type_fails_its_attempt_instead_of_crashing_the_worker():
    job = Job.objects.create(job_type="no_such_type", max_attempts=1)
    run_next()
    job.refresh_from_db()
    assert job.status == JobStatus.FAILED
    assert "no handler is registered" in job.errors[0]["message"]


def test_each_transition_goes_out_as_its_named_event():
    from realtime import events

    job = enqueue("tests_always_fails", max_attempts=2)
    run_next()
    while timezone.now() < Job.objects.get(pk=job.pk).run_after:
        time.sleep(0.02)
    run_next()
    services.retry(job)
    services.cancel(job)
    rows = ActivityLog.objects.filter(resource_id=str(job.pk)).order_by("id")
    assert [events.event_name(row) for row in rows] == [
        "job_created",
        "job_started",
        "job_retry",
        "job_started",
        "job_failed",
        "job_retried",
        "job_cancelled",
    ]
    failed = next(row for row in rows if row.action == "fail")
    assert events.event_data(failed)["job"]["last_error"].startswith("builtins.ValueError")


def test_a_starting_worker_announces_itself_on_the_jobs_topic():
    from jobs.supervisor import Supervisor
    from realtime import events, topics

    Supervisor(concurrency=3, queues=["default", "exports"])._announce_start()

    row = ActivityLog.objects.get(resource_type="job_processor")
    assert events.event_name(row) == "job_processor_started"
    assert "jobs" in topics.topics_of(row.resource_type, row.resource_id, row.episode_id)
    announced = events.event_data(row)["job_processor"]
    assert announced["concurrency"] == 3 and announced["queues"] == ["default", "exports"]


def test_the_notifier_is_nudged_at_once_after_a_quiet_spell_and_at_most_twice_a_second_in_a_burst():
    from jobs.supervisor import Nudges

    nudges = Nudges(interval=0.5)
    assert not nudges.due(now=100.0)  # nothing committed
    assert nudges.wait_seconds(now=100.0, longest=1.0) == 1.0

    nudges.pending = True
    assert nudges.due(now=100.0)  # the first commit in a while: at once
    assert not nudges.due(now=100.1)  # once per batch of commits

    nudges.pending = True  # a burst goes on
    assert not nudges.due(now=100.2)
    assert nudges.wait_seconds(now=100.2, longest=1.0) == pytest.approx(0.3)
    assert nudges.due(now=100.5)  # its commits, together, half a second after the last nudge

    assert not nudges.due(now=101.5)  # the burst is over: no nudge without a commit
    nudges.pending = True
    assert nudges.due(now=101.5)


class Hung(Exception):
    pass


def test_a_sigterm_arriving_inside_stop_stops_the_worker_instead_of_hanging_it():
    """`run_jobs` and `serve` call `stop` from their SIGTERM handler, and a second SIGTERM
    (a killpg after a kill, an impatient operator) can land while the first is inside it:
    delivered here at each call `stop` makes, the handler runs again from there."""
    from jobs.supervisor import Supervisor

    def on_alarm(*_):
        raise Hung("stop() waited on itself")

    previous = {sig: signal.getsignal(sig) for sig in (signal.SIGTERM, signal.SIGALRM)}
    signal.signal(signal.SIGALRM, on_alarm)
    try:
        for call in itertools.count(1):
            supervisor = Supervisor()
            signal.signal(signal.SIGTERM, lambda *_, s=supervisor: s.stop())
            calls = 0

            def interrupt(frame, event, arg, at=call):
                nonlocal calls
                if event in ("call", "c_call"):
                    calls += 1
                    if calls == at:
                        signal.raise_signal(signal.SIGTERM)

            signal.setitimer(signal.ITIMER_REAL, 5)
            sys.setprofile(interrupt)
            try:
                supervisor.stop()
            finally:
                sys.setprofile(None)
                signal.setitimer(signal.ITIMER_REAL, 0)
            assert supervisor._stopping
            if calls < call:
                break
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    assert call > 3  # it was interrupted inside `wake` too


@pytest.mark.django_db(transaction=True)
def test_a_worker_answers_and_claims_its_next_job_in_one_commit():
    first = services.enqueue(registry.get("diagnostic"), {}, priority=1)
    second = services.enqueue(registry.get("diagnostic"), {})
    job = services.claim(worker_id=WORKER, queues=["default"])
    outcome = execution.run(job)
    next_job_at_commit = []

    def answer() -> str | None:
        next_job = Job.objects.filter(pk=second.pk).values_list("status", flat=True)
        transaction.on_commit(lambda: next_job_at_commit.append(next_job.get()))
        return execution.answer(job, outcome)

    with CaptureQueriesContext(connection) as captured:
        status, claimed = services.answer_then_claim(answer, worker_id=WORKER, queues=["default"])
    queries = captured.captured_queries

    assert (job.pk, status) == (first.pk, JobStatus.COMPLETED)
    assert claimed.pk == second.pk
    assert next_job_at_commit == [JobStatus.RUNNING]  # the answer's commit was the claim's
    assert sum('INSERT INTO "activity_activitylog"' in q["sql"] for q in queries) == 1
    assert actions(first) == ["create", "start", "complete"]
    assert actions(second) == ["create", "start"]


def test_a_workers_activity_rows_hold_what_it_wrote_and_nothing_it_did_not():
    """The claim and the answer write a few fields with one UPDATE each: their rows list those
    fields' changes, not a value changed in memory that no statement wrote."""
    enqueue("diagnostic")
    job = services.claim(worker_id=WORKER, queues=["default"])
    job.priority = 7  # in memory only
    assert services.complete(job, {"ok": True}) == JobStatus.COMPLETED

    rows = ActivityLog.objects.filter(resource_type="job", resource_id=str(job.pk))
    started, completed = rows.exclude(action="create").order_by("id")
    assert set(started.changes) == {"status", "attempts", "worker_id", "started_at"}
    assert set(completed.changes) == {"status", "result", "finished_at"}
    assert completed.changes["status"] == [JobStatus.RUNNING, JobStatus.COMPLETED]
    assert Job.objects.get(pk=job.pk).priority == 0

    job.priority = 0  # back as stored: a later save records no priority change either
    job.save()
    assert not rows.filter(action="update").exists()


@contextlib.contextmanager
def claims_refused():
    """A database that refuses every claim, as a broken one would."""
    from django.db import connection

    if connection.vendor == "postgresql":
        create = [
            "CREATE FUNCTION tests_refuse_claim() RETURNS trigger AS $$ "
            "BEGIN RAISE EXCEPTION 'claims refused'; END; $$ LANGUAGE plpgsql",
            "CREATE TRIGGER tests_refuse_claim BEFORE UPDATE ON jobs_job FOR EACH ROW "
            "WHEN (NEW.status = 'running') EXECUTE FUNCTION tests_refuse_claim()",
        ]
        drop = [
            "DROP TRIGGER tests_refuse_claim ON jobs_job",
            "DROP FUNCTION tests_refuse_claim()",
        ]
    else:
        create = [
            "CREATE TRIGGER tests_refuse_claim BEFORE UPDATE ON jobs_job "
            "WHEN NEW.status = 'running' BEGIN SELECT RAISE(ABORT, 'claims refused'); END"
        ]
        drop = ["DROP TRIGGER tests_refuse_claim"]
    with connection.cursor() as cursor:
        for statement in create:
            cursor.execute(statement)
    try:
        yield
    finally:
        with connection.cursor() as cursor:
            for statement in drop:
                cursor.execute(statement)


@pytest.mark.django_db(transaction=True)
def test_an_answer_commits_even_when_the_next_claim_fails(caplog):
    first = services.enqueue(registry.get("diagnostic"), {}, priority=1)
    second = services.enqueue(registry.get("diagnostic"), {})
    job = services.claim(worker_id=WORKER, queues=["default"])
    outcome = execution.run(job)

    with claims_refused():
        status, claimed = services.answer_then_claim(
            lambda: execution.answer(job, outcome), worker_id=WORKER, queues=["default"]
        )

    assert (status, claimed) == (JobStatus.COMPLETED, None)
    assert Job.objects.get(pk=first.pk).status == JobStatus.COMPLETED
    assert actions(first) == ["create", "start", "complete"]
    assert Job.objects.get(pk=second.pk).status == JobStatus.PENDING
    assert "could not claim a job" in caplog.text
    assert services.claim(worker_id=WORKER, queues=["default"]).pk == second.pk


@pytest.mark.django_db(transaction=True)
def test_a_stop_request_during_a_job_is_honoured_before_the_next_claim():
    from multiprocessing import Pipe

    from jobs import child

    first = services.enqueue(registry.get("diagnostic"), {}, priority=1)
    second = services.enqueue(registry.get("diagnostic"), {})
    supervisor_end, child_end = Pipe()
    supervisor_end.send("stop")  # as if sent while the first job ran

    child._loop(child_end, child._Pipe(child_end), WORKER, ["default"], poll_seconds=30)

    told = []
    while supervisor_end.poll():
        told.append(supervisor_end.recv()[1:])
    assert [kind for kind, *_ in told] == ["busy", "finished"]
    assert told[0][1][0] == told[1][1] == str(first.pk)
    assert told[1][-1] is None  # no next job: it stopped before claiming one
    assert Job.objects.get(pk=first.pk).status == JobStatus.COMPLETED
    assert Job.objects.get(pk=second.pk).status == JobStatus.PENDING


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("answering", [False, True], ids=["alone", "with-an-answer"])
def test_a_claim_leaves_the_job_in_memory_as_its_row_is_and_logs_what_changed(answering):
    job = enqueue("tests_always_fails")
    first_start = services.claim(worker_id="earlier-worker", queues=["default"]).started_at
    Job.objects.filter(pk=job.pk).update(
        status=JobStatus.RETRY_SCHEDULED, run_after=timezone.now(), progress=40
    )

    if answering:
        _, claimed = services.answer_then_claim(lambda: None, worker_id=WORKER, queues=["default"])
    else:
        claimed = services.claim(worker_id=WORKER, queues=["default"])

    stored = Job.objects.get(pk=job.pk)
    fields = [f.attname for f in Job._meta.concrete_fields]
    assert {f: getattr(claimed, f) for f in fields} == {f: getattr(stored, f) for f in fields}
    assert (stored.status, stored.attempts, stored.worker_id) == ("running", 2, WORKER)
    assert stored.started_at == first_start  # the first attempt's start is kept
    assert stored.progress == 0
    start = ActivityLog.objects.filter(resource_id=str(job.pk), action="start").latest("id")
    assert start.changes["status"] == ["retry_scheduled", "running"]
    assert start.changes["attempts"] == [1, 2]
    assert start.changes["worker_id"] == ["earlier-worker", WORKER]
