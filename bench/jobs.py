"""Job throughput with 1, 2 and 4 worker processes, and enqueue-to-start latency.

Throughput: a backlog of no-op jobs (`diagnostic` with nothing to do), enqueued in one
transaction to a running `manage.py run_jobs --concurrency N`; jobs/s is the backlog over
the time from the first start to the last finish, as the job rows record them. Latency: jobs enqueued one at a
time through the API, each from `created_at` to `started_at`, and from `finished_at` to
its `job_completed` event reaching a WebSocket client.
"""

import contextlib
import json
import statistics
import threading
import time

from django.db import transaction
from django.db.models import Max, Min
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import connect

from bench.http import post_json
from jobs import registry, services
from jobs.models import Job, JobStatus
from tests.service_process import Server, manage_command, start_worker, stop, uvicorn

BACKLOG = 2000
# Worker processes set Django up before they take jobs; the drain is timed once they have.
WORKER_START_SECONDS = 3.0
LATENCY_JOBS = 100
LATENCY_SPACING_SECONDS = 0.05


def _drain(env: dict[str, str], workers: int) -> float:
    worker = start_worker(env, "--concurrency", str(workers), quiet=True)
    try:
        time.sleep(WORKER_START_SECONDS)
        # One transaction: the whole backlog becomes visible, and wakes the workers, at once.
        with transaction.atomic():
            diagnostic = registry.get("diagnostic")
            ids = [services.enqueue(diagnostic, {}).pk for _ in range(BACKLOG)]
        backlog = Job.objects.filter(pk__in=ids)
        while backlog.filter(status=JobStatus.COMPLETED).count() < BACKLOG:
            if worker.poll() is not None:
                raise RuntimeError(f"run_jobs exited with {worker.returncode}")
            time.sleep(0.2)
    finally:
        stop(worker)
    span = backlog.aggregate(first=Min("started_at"), last=Max("finished_at"))
    return BACKLOG / (span["last"] - span["first"]).total_seconds()


def throughput(env: dict[str, str], worker_counts=(1, 2, 4)) -> list[str]:
    rates = {workers: _drain(env, workers) for workers in worker_counts}
    figures = ", ".join(f"{workers} workers {rate:.0f}" for workers, rate in rates.items())
    return [f"no-op jobs/s ({BACKLOG} queued): {figures} (target >= 300 with 4)"]


class _Dashboard:
    """A WebSocket client on `jobs`, noting when each job's completion reaches it."""

    def __init__(self, server: Server, token: str) -> None:
        self.completed_at: dict[str, float] = {}
        self._socket = connect(f"{server.ws}/ws/events/?token={token}")
        self._socket.send(json.dumps({"type": "subscribe", "topics": ["jobs"]}))
        self._socket.recv(timeout=5)
        self._thread = threading.Thread(target=self._listen, daemon=True)
        self._thread.start()

    def _listen(self) -> None:
        with contextlib.suppress(ConnectionClosed):
            for raw in self._socket:
                frame = json.loads(raw)
                if frame["event"] == "job_completed":
                    self.completed_at[frame["data"]["resource_id"]] = time.time()

    def close(self) -> None:
        self._socket.close()


def _percentiles(values: list[float]) -> str:
    values = sorted(values)
    p99 = values[min(len(values) - 1, round(len(values) * 0.99))]
    return f"p50 {statistics.median(values):.1f} ms, p99 {p99:.1f} ms"


def _enqueue_one_by_one(server: Server, token: str, dashboard: _Dashboard) -> list[str]:
    ids = []
    for _ in range(LATENCY_JOBS):
        body = {"job_type": "diagnostic", "payload": {}}
        ids.append(post_json(server, "/api/v1/jobs/", token, body)["id"])
        time.sleep(LATENCY_SPACING_SECONDS)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and not set(ids) <= set(dashboard.completed_at):
        time.sleep(0.1)
    return ids


def _measure(env: dict[str, str], token: str, *, worker_in_server: bool) -> list[str]:
    command = manage_command("serve", "--concurrency", "2") if worker_in_server else uvicorn
    server = Server(env, command=command).start()
    worker = None if worker_in_server else start_worker(env, "--concurrency", "2", quiet=True)
    try:
        time.sleep(2.0)  # the worker processes start
        dashboard = _Dashboard(server, token)
        ids = _enqueue_one_by_one(server, token, dashboard)
        dashboard.close()
    finally:
        server.stop()
        if worker is not None:
            stop(worker)
    jobs = list(Job.objects.filter(pk__in=ids))
    waits = [(job.started_at - job.created_at).total_seconds() * 1000 for job in jobs]
    shown = [
        (dashboard.completed_at[str(job.pk)] - job.finished_at.timestamp()) * 1000
        for job in jobs
        if str(job.pk) in dashboard.completed_at
    ]
    setup = "worker inside the server (serve)" if worker_in_server else "separate run_jobs"
    return [
        f"{setup}: enqueue-to-start {_percentiles(waits)} (target p50 < 50 ms on PostgreSQL); "
        f"completion-to-dashboard {_percentiles(shown)} ({len(shown)}/{len(ids)} seen)"
    ]


def latency(env: dict[str, str], token: str) -> list[str]:
    """Jobs enqueued one at a time through the API, as `make run` serves it and with a
    worker process of its own: what each costs the live events is why `serve` exists."""
    return _measure(env, token, worker_in_server=True) + _measure(
        env, token, worker_in_server=False
    )
