"""Liveness (/health) and readiness (/ready): each readiness check on its own, and the
endpoint together. Outages of real servers: tests/test_ready_outages.py."""

from datetime import timedelta

import pytest
from channels.layers import get_channel_layer
from django.utils import timezone
from redis.exceptions import ConnectionError as RedisConnectionError

from episode_metadata import health
from jobs import registry, services
from jobs.models import Job, JobStatus, Worker

UNREACHABLE_REDIS = {
    "default": {
        "BACKEND": "channels_redis.pubsub.RedisPubSubChannelLayer",
        "CONFIG": {"hosts": ["redis://127.0.0.1:1/0"]},
    }
}


def worker(name: str = "host:1", *, silent_for: float = 0, stopped: bool = False) -> Worker:
    heartbeat = timezone.now() - timedelta(seconds=silent_for)
    return Worker.objects.create(
        name=name,
        hostname="host",
        pid=1,
        queues=["default"],
        concurrency=2,
        started_at=heartbeat - timedelta(hours=1),
        heartbeat_at=heartbeat,
        stopped_at=heartbeat if stopped else None,
    )


def due_job(*, waiting_for: float, status: str = JobStatus.PENDING) -> Job:
    job = services.enqueue(registry.get("diagnostic"), {})
    run_after = timezone.now() - timedelta(seconds=waiting_for)
    Job.objects.filter(pk=job.pk).update(status=status, run_after=run_after)
    return job


# Liveness: no database (this module's tests without the django_db mark may not touch it).


def test_health_answers_without_the_database_or_the_channel_layer(anon, settings):
    settings.CHANNEL_LAYERS = UNREACHABLE_REDIS

    response = anon.get("/health")

    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


def test_health_rejects_writes(anon):
    assert anon.post("/health").status_code == 405


def test_ping_needs_no_auth(anon):
    response = anon.get("/ping")

    assert response.status_code == 200
    assert response.json() == {"pong": True}


def test_probes_are_answered_over_plain_http_when_https_is_enforced(anon, settings):
    settings.SECURE_SSL_REDIRECT = True

    assert anon.get("/health").status_code == 200
    assert anon.get("/ping").status_code == 200
    assert anon.get("/api/v1/episodes/").status_code == 301


# The readiness checks, one by one.


@pytest.mark.django_db
def test_database_check():
    assert health.check_database() == {"status": "ok"}


async def test_channel_layer_check_round_trips_and_lets_go_of_its_channel():
    assert await health.check_channel_layer() == {"status": "ok"}
    assert not health._probe_layer().channels
    assert not get_channel_layer().channels


async def test_channel_layer_check_fails_when_the_layer_is_unreachable(settings):
    settings.CHANNEL_LAYERS = UNREACHABLE_REDIS

    with pytest.raises(RedisConnectionError):
        await health.check_channel_layer()


@pytest.mark.django_db
def test_workers_check_needs_a_worker_with_a_fresh_heartbeat(settings):
    settings.JOBS_LEASE_SECONDS = 30
    assert health.check_workers() == {"status": "failing", "alive": 0}

    worker("host:1", silent_for=31)
    worker("host:2", stopped=True)
    assert health.check_workers() == {"status": "failing", "alive": 0}

    worker("host:3", silent_for=5)
    worker("host:4", silent_for=0)
    assert health.check_workers() == {"status": "ok", "alive": 2}


@pytest.mark.django_db
def test_queue_check_fails_once_a_due_job_waited_past_the_limit(settings):
    settings.READY_MAX_QUEUE_AGE_SECONDS = 300
    assert health.check_queue() == {"status": "ok", "oldest_due_seconds": 0, "max_seconds": 300}

    due_job(waiting_for=120)
    due_job(waiting_for=-3600)  # not due for an hour
    assert health.check_queue()["status"] == "ok"
    assert 120 <= health.check_queue()["oldest_due_seconds"] < 130

    due_job(waiting_for=400, status=JobStatus.RETRY_SCHEDULED)
    answer = health.check_queue()
    assert answer["status"] == "failing"
    assert 400 <= answer["oldest_due_seconds"] < 410


@pytest.mark.django_db
def test_queue_check_ignores_jobs_that_are_not_waiting(settings):
    settings.READY_MAX_QUEUE_AGE_SECONDS = 300
    for status in (JobStatus.COMPLETED, JobStatus.FAILED, JobStatus.CANCELLED):
        due_job(waiting_for=3600, status=status)

    assert health.check_queue()["status"] == "ok"


# /ready: the checks run on threads of their own, which see committed rows only.


@pytest.mark.django_db(transaction=True)
def test_ready_is_200_with_each_check_detailed(anon):
    worker()

    response = anon.get("/ready")

    assert response.status_code == 200
    assert response.json() == {
        "status": "ok",
        "checks": {
            "database": {"status": "ok"},
            "channel_layer": {"status": "ok"},
            "workers": {"status": "ok", "alive": 1},
            "queue": {"status": "ok", "oldest_due_seconds": 0, "max_seconds": 300.0},
        },
    }


@pytest.mark.django_db(transaction=True)
def test_ready_is_503_without_live_workers(anon):
    worker(stopped=True)

    response = anon.get("/ready")

    assert response.status_code == 503
    body = response.json()
    assert body["status"] == "failing"
    assert body["checks"]["workers"] == {"status": "failing", "alive": 0}
    assert body["checks"]["database"] == {"status": "ok"}


@pytest.mark.django_db(transaction=True)
def test_ready_is_503_with_a_backlog(anon, settings):
    settings.READY_MAX_QUEUE_AGE_SECONDS = 60
    worker()
    due_job(waiting_for=90)

    response = anon.get("/ready")

    assert response.status_code == 503
    assert response.json()["checks"]["queue"]["status"] == "failing"


@pytest.mark.django_db(transaction=True)
def test_ready_is_503_naming_the_channel_layer_when_it_is_down(anon, settings):
    settings.CHANNEL_LAYERS = UNREACHABLE_REDIS
    worker()

    response = anon.get("/ready")

    assert response.status_code == 503
    checks = response.json()["checks"]
    assert checks["channel_layer"] == {"status": "failing", "error": "ConnectionError"}
    assert checks["database"] == {"status": "ok"}


def test_ready_rejects_writes(anon):
    assert anon.post("/ready").status_code == 405
