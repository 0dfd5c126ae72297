"""Job wake-ups between processes: a worker apart from the process that enqueues starts the
job at once, not at its next poll (every 30 s here, so only a wake-up explains a quick
start), through NOTIFY on PostgreSQL and through the sockets beside the database file on
SQLite."""

import datetime
import os
import signal
import socket
from pathlib import Path

import pytest

from tests.service_database import ON_POSTGRES, ServiceDatabase
from tests.service_process import start_worker, stop
from tests.test_jobs_processes import enqueue, job, uuid_param

pytestmark = pytest.mark.server

QUICK_SECONDS = 5.0  # far under the poll, with room for a loaded machine

sqlite_only = pytest.mark.skipif(ON_POSTGRES, reason="the sockets are SQLite's wake-ups")


@pytest.fixture
def service(tmp_path):
    database = ServiceDatabase(tmp_path / "var", JOBS_POLL_SECONDS="30")
    yield database
    database.drop()


def wake_directory(service: ServiceDatabase) -> Path:
    return service.var_dir / "db.sqlite3-wake"


def sockets(service: ServiceDatabase) -> list[str]:
    directory = wake_directory(service)
    return sorted(p.name for p in directory.iterdir()) if directory.exists() else []


def start_delay(service: ServiceDatabase, job_id: str) -> float | None:
    """Seconds from the job's creation to its start, None until it starts."""
    ((created, started),) = service.rows(
        "SELECT created_at, started_at FROM jobs_job WHERE id = %s", (uuid_param(job_id),)
    )
    if started is None:
        return None
    if isinstance(started, str):
        created, started = map(datetime.datetime.fromisoformat, (created, started))
    return (started - created).total_seconds()


def wait_until_done(service: ServiceDatabase, job_id: str) -> None:
    service.wait_for(lambda: job(service, job_id)["status"] == "completed", what="the job")


def test_a_separate_worker_starts_a_job_enqueued_elsewhere_at_once(service):
    worker = start_worker(service.env, "--concurrency", "1")
    try:
        # Once the first job is done, the worker's child has looked for more and sleeps.
        wait_until_done(service, enqueue(service)[0])
        (job_id,) = enqueue(service)
        delay = service.wait_for(lambda: start_delay(service, job_id), what="the job to start")
    finally:
        stop(worker)

    assert delay < QUICK_SECONDS


@pytest.mark.skipif(ON_POSTGRES, reason="NOTIFY reaches the supervisor a thread hop later")
def test_a_wake_up_arriving_while_the_child_reports_idle_is_not_lost(service):
    """The child finishes a job, looks for another, finds none and sleeps; a job enqueued
    then reaches the supervisor before the child's report that it is idle. The supervisor,
    stopped meanwhile, reads both at once (on SQLite, where the wake-up is already in its
    socket; on PostgreSQL its listening thread reads the NOTIFY only after the report)."""
    worker = start_worker(service.env, "--concurrency", "1")
    try:
        (first,) = enqueue(service, seconds=2, steps=4)
        service.wait_for(lambda: job(service, first)["progress"] > 0, what="the job to run")
        os.kill(worker.pid, signal.SIGSTOP)  # the supervisor only: its child runs on
        try:
            wait_until_done(service, first)
            (job_id,) = enqueue(service)
        finally:
            os.kill(worker.pid, signal.SIGCONT)
        delay = service.wait_for(lambda: start_delay(service, job_id), what="the job to start")
    finally:
        stop(worker)

    assert delay < QUICK_SECONDS


@sqlite_only
def test_a_worker_removes_its_socket_when_it_stops(service):
    worker = start_worker(service.env, "--concurrency", "1")
    try:
        (bound,) = service.wait_for(lambda: sockets(service), what="the worker's socket")
    finally:
        code = stop(worker)

    assert code == 0
    assert bound.startswith(f"{worker.pid}-") and bound.endswith(".sock")
    assert sockets(service) == []


@sqlite_only
def test_sockets_left_by_dead_workers_are_removed_and_do_not_fail_enqueues(service):
    wake_directory(service).mkdir()
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as dead:
        dead.bind(str(wake_directory(service) / "1.sock"))  # closed without removing it

    (job_id,) = enqueue(service)

    assert job(service, job_id)["status"] == "pending"
    assert sockets(service) == []


@sqlite_only
def test_a_worker_whose_socket_path_is_too_long_says_so_once_and_polls(tmp_path, capfd):
    service = ServiceDatabase(tmp_path / ("long" * 25) / "var", JOBS_POLL_SECONDS="0.5")
    worker = start_worker(service.env, "--concurrency", "1")
    try:
        wait_until_done(service, enqueue(service)[0])
    finally:
        stop(worker)

    said = [line for line in capfd.readouterr().err.splitlines() if "wake-ups" in line]
    assert len(said) == 1 and "AF_UNIX path too long" in said[0]
    assert sockets(service) == []
