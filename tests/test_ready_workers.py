"""The worker table that readiness counts: rows the job supervisor registers, renews and
marks stopped, their cleanup, the admin's read-only view, and a real worker process."""

import os
import signal
import socket
from datetime import timedelta

import pytest
from django.utils import timezone

from jobs import selectors, workers
from jobs.models import Worker
from tests.conftest import PASSWORD
from tests.service_database import ServiceDatabase
from tests.service_process import start_worker, stop


def heartbeat(interval: float = 0.0, name: str = "host:1") -> workers.Heartbeat:
    return workers.Heartbeat(
        name=name, queues=["default", "exports"], concurrency=3, interval=interval
    )


def age(worker: Worker, **delta) -> None:
    """Move a worker's times back, as if it had started and last beaten that long ago."""
    earlier = timezone.now() - timedelta(**delta)
    Worker.objects.filter(pk=worker.pk).update(started_at=earlier, heartbeat_at=earlier)


# A beat closes unusable connections first, as the supervisor's loop does everywhere: that
# would close the one a test transaction runs on.
@pytest.mark.django_db(transaction=True)
class TestHeartbeat:
    def test_start_registers_this_process(self):
        heartbeat().start()

        worker = Worker.objects.get()
        assert worker.name == "host:1"
        assert (worker.hostname, worker.pid) == (socket.gethostname(), os.getpid())
        assert worker.queues == ["default", "exports"]
        assert worker.concurrency == 3
        assert worker.stopped_at is None
        assert worker.heartbeat_at == worker.started_at

    def test_a_due_beat_renews_the_heartbeat(self):
        beating = heartbeat(interval=0)
        beating.start()
        age(Worker.objects.get(), minutes=5)

        beating.beat_if_due()

        worker = Worker.objects.get()
        assert timezone.now() - worker.heartbeat_at < timedelta(seconds=5)
        assert timezone.now() - worker.started_at > timedelta(minutes=4)

    def test_a_beat_before_its_interval_writes_nothing(self):
        beating = heartbeat(interval=3600)
        beating.start()
        age(Worker.objects.get(), minutes=5)

        beating.beat_if_due()

        assert timezone.now() - Worker.objects.get().heartbeat_at > timedelta(minutes=4)

    def test_stop_marks_the_worker_stopped(self):
        beating = heartbeat()
        beating.start()

        beating.stop()

        worker = Worker.objects.get()
        assert worker.stopped_at is not None
        assert worker.heartbeat_at == worker.stopped_at
        assert not selectors.live_workers(fresh_within=30).exists()

    def test_a_worker_whose_row_went_registers_again(self):
        beating = heartbeat(interval=0)
        beating.start()
        Worker.objects.all().delete()

        beating.beat_if_due()

        assert Worker.objects.get().name == "host:1"

    def test_a_restart_under_the_same_name_takes_the_row(self):
        first = heartbeat()
        first.start()
        first.stop()

        heartbeat().start()

        worker = Worker.objects.get()
        assert worker.stopped_at is None
        assert selectors.live_workers(fresh_within=30).get() == worker

    def test_starting_deletes_workers_gone_for_a_day(self):
        stopped_long_ago = Worker.objects.create(
            name="old:1",
            hostname="old",
            pid=1,
            concurrency=1,
            started_at=timezone.now(),
            heartbeat_at=timezone.now(),
            stopped_at=timezone.now(),
        )
        silent_long_ago = Worker.objects.create(
            name="old:2",
            hostname="old",
            pid=2,
            concurrency=1,
            started_at=timezone.now(),
            heartbeat_at=timezone.now(),
        )
        recently_stopped = Worker.objects.create(
            name="old:3",
            hostname="old",
            pid=3,
            concurrency=1,
            started_at=timezone.now(),
            heartbeat_at=timezone.now(),
            stopped_at=timezone.now(),
        )
        age(stopped_long_ago, hours=25)
        age(silent_long_ago, hours=25)
        age(recently_stopped, hours=23)

        heartbeat().start()

        assert set(Worker.objects.values_list("name", flat=True)) == {"old:3", "host:1"}


@pytest.mark.django_db
def test_the_admin_shows_workers_and_lets_nobody_change_them(client, django_user_model, settings):
    settings.JOBS_LEASE_SECONDS = 30
    django_user_model.objects.create_superuser("boss", "boss@example.com", PASSWORD)
    client.login(username="boss", password=PASSWORD)
    heartbeat(name="live:1").start()
    stopped = heartbeat(name="stopped:2")
    stopped.start()
    stopped.stop()
    heartbeat(name="silent:3").start()
    age(Worker.objects.get(name="silent:3"), minutes=2)

    listing = client.get("/admin/jobs/worker/").content.decode()

    assert "live:1" in listing and "stopped:2" in listing and "silent:3" in listing
    assert listing.count("alive") == 1
    assert "silent (presumed dead)" in listing
    assert "/admin/jobs/worker/add/" not in listing
    worker = Worker.objects.get(name="live:1")
    assert client.get(f"/admin/jobs/worker/{worker.pk}/change/").status_code == 200
    changed = client.post(f"/admin/jobs/worker/{worker.pk}/change/", {"concurrency": 9})
    assert changed.status_code == 403
    assert (
        client.post(f"/admin/jobs/worker/{worker.pk}/delete/", {"post": "yes"}).status_code == 403
    )


@pytest.mark.server
def test_a_worker_process_registers_beats_and_says_when_it_stops(tmp_path):
    service = ServiceDatabase(tmp_path / "var", JOBS_LEASE_SECONDS="1.5")
    try:
        process = start_worker(service.env, "--concurrency", "1", "--queues", "default,exports")
        try:
            name = f"{socket.gethostname()}:{process.pid}"
            query = "SELECT heartbeat_at, stopped_at FROM jobs_worker WHERE name = %s"
            first_beat, stopped = service.wait_for(lambda: service.rows(query, (name,)))[0]
            assert stopped is None
            service.wait_for(
                lambda: service.rows(query, (name,))[0][0] != first_beat, what="a second heartbeat"
            )
        finally:
            assert stop(process, signal.SIGTERM) == 0

        ((_, stopped),) = service.rows(query, (name,))
        assert stopped is not None
        queues, concurrency = service.rows(
            "SELECT queues, concurrency FROM jobs_worker WHERE name = %s", (name,)
        )[0]
        assert "exports" in str(queues) and concurrency == 1
    finally:
        service.drop()
