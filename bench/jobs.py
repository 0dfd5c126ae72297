"""Job throughput with 1, 2 and 4 worker processes, and enqueue-to-start latency.

Throughput: a backlog of no-op jobs (`diagnostic` with nothing to do), enqueued in one
transaction to a running `manage.py run_jobs --concurrency N`, then the same backlog to the
bare claim/complete loop of `bench.bare_jobs` in N processes; jobs/s is the backlog over the
time from the first start to the last finish, as the job rows record them. Latency: jobs
enqueued one at a time through the API, each from `created_at` to `started_at`, and from
`finished_at` to its `job_completed` event reaching a WebSocket client.
"""

import contextlib
import json
import statistics
import threading
import time
from datetime import datetime

from django.db import connection, transaction
from django.db.models import Max, Min, QuerySet
from psycopg.conninfo import make_conninfo
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import connect

from bench import bare_jobs, cpu
from bench.http import post_json
from bench.servers import server_pid
from jobs import registry, services
from jobs.models import Job, JobStatus
from tests.service_process import Server, manage_command, start_worker, stop, uvicorn

BACKLOG = 2000
TARGET_JOBS_PER_SECOND = 500  # with 4 workers, on PostgreSQL
TARGET_BARE_RATIO = 0.4
TARGET_SCALING = 1.6  # 2 workers against 1
TARGET_START_MS = 100  # enqueue-to-start with a separate run_jobs
LATENCY_JOBS = 100
LATENCY_SPACING_SECONDS = 0.05


def _backlog() -> QuerySet[Job]:
    """Enqueue the backlog in one transaction: it becomes visible, and wakes workers, at once."""
    diagnostic = registry.get("diagnostic")
    if diagnostic is None:
        raise RuntimeError("the diagnostic job type is not registered")
    with transaction.atomic():
        ids = [services.enqueue(diagnostic, {}).pk for _ in range(BACKLOG)]
    return Job.objects.filter(pk__in=ids)


def _rate(backlog: QuerySet[Job]) -> float:
    span = backlog.aggregate(first=Min("started_at"), last=Max("finished_at"))
    return BACKLOG / (span["last"] - span["first"]).total_seconds()


def _drain(env: dict[str, str], workers: int) -> float:
    worker = start_worker(env, "--concurrency", str(workers), quiet=True)
    try:
        _wait_until_set_up(worker.pid, workers)
        backlog = _backlog()
        while backlog.filter(status=JobStatus.COMPLETED).count() < BACKLOG:
            if worker.poll() is not None:
                raise RuntimeError(f"run_jobs exited with {worker.returncode}")
            time.sleep(0.2)
    finally:
        stop(worker)
    return _rate(backlog)


def _wait_until_set_up(pid: int, workers: int) -> None:
    """Until the supervisor and its children have set Django up and gone idle: a child still
    importing when the backlog arrives would spend the drain's CPU on its start-up."""
    deadline = time.monotonic() + 60
    while len(cpu.descendants(pid)) < workers:
        if time.monotonic() > deadline:
            raise RuntimeError(f"run_jobs did not start its {workers} children")
        time.sleep(0.1)
    for process in [pid, *cpu.descendants(pid)]:
        cpu.wait_until_idle(process, timeout=60)


def _drain_bare(processes: int) -> float:
    backlog = _backlog()
    database = connection.settings_dict
    conninfo = make_conninfo(
        dbname=database["NAME"],
        user=database["USER"],
        password=database["PASSWORD"],
        host=database["HOST"],
        port=database["PORT"],
    )
    bare_jobs.drain(conninfo, processes)
    return _rate(backlog)


def _verdict(met: bool) -> str:
    return "met" if met else "NOT met"


def throughput(env: dict[str, str], worker_counts=(1, 2, 4)) -> list[str]:
    """`run_jobs` against the bare loop at each process count, alternating, then the targets."""
    ours, bare = {}, {}
    for workers in worker_counts:
        ours[workers] = _drain(env, workers)
        bare[workers] = _drain_bare(workers)
    ratios = {workers: ours[workers] / bare[workers] for workers in worker_counts}
    weakest = min(ratios, key=ratios.__getitem__)
    scaling = ours[2] / ours[1]
    return [
        f"no-op jobs/s ({BACKLOG} queued), run_jobs: {_by_count(ours, '.0f')}",
        f"bare claim/complete loop: {_by_count(bare, '.0f')}",
        f"run_jobs / bare: {_by_count(ratios, '.2f')}",
        f"target >= {TARGET_JOBS_PER_SECOND} jobs/s with 4 workers: "
        f"{_verdict(ours[4] >= TARGET_JOBS_PER_SECOND)} ({ours[4]:.0f})",
        f"target >= {TARGET_BARE_RATIO}x the bare loop at each count: "
        f"{_verdict(ratios[weakest] >= TARGET_BARE_RATIO)} "
        f"(lowest {ratios[weakest]:.2f} with {weakest})",
        f"target 2 workers >= {TARGET_SCALING}x 1: {_verdict(scaling >= TARGET_SCALING)} "
        f"({scaling:.2f}x)",
    ]


def _by_count(values: dict[int, float], spec: str) -> str:
    return ", ".join(f"{workers} workers {value:{spec}}" for workers, value in values.items())


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


def _p99(values: list[float]) -> float:
    return sorted(values)[min(len(values) - 1, round(len(values) * 0.99))]


def _percentiles(values: list[float]) -> str:
    return f"p50 {statistics.median(values):.1f} ms, p99 {_p99(values):.1f} ms"


def _separate_worker_target(waits: list[float]) -> str:
    """A separate worker must start a job soon after its commit: a wake-up, not a poll.
    PostgreSQL's NOTIFY holds it for nearly every job, SQLite's wake-up for the median."""
    if connection.vendor == "postgresql":
        measure, value = "p99", _p99(waits)
    else:
        measure, value = "p50", statistics.median(waits)
    met = value < TARGET_START_MS
    return f"target {measure} < {TARGET_START_MS} ms: {_verdict(met)} ({value:.1f} ms)"


def _reached(moment: datetime | None, job: Job) -> datetime:
    """A time every job measured must have: one left unstarted or unfinished spoils the run."""
    if moment is None:
        raise RuntimeError(f"job {job.pk} did not get there within the wait")
    return moment


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
        # Until the worker's processes have set Django up: a job enqueued while a child
        # still imports would count its start-up as the job's wait.
        _wait_until_set_up(worker.pid if worker is not None else server_pid(server), 2)
        dashboard = _Dashboard(server, token)
        ids = _enqueue_one_by_one(server, token, dashboard)
        dashboard.close()
    finally:
        server.stop()
        if worker is not None:
            stop(worker)
    jobs = list(Job.objects.filter(pk__in=ids))
    waits = [
        (_reached(job.started_at, job) - job.created_at).total_seconds() * 1000 for job in jobs
    ]
    shown = [
        (dashboard.completed_at[str(job.pk)] - _reached(job.finished_at, job).timestamp()) * 1000
        for job in jobs
        if str(job.pk) in dashboard.completed_at
    ]
    if worker_in_server:
        setup, target = "worker inside the server (serve)", "target p50 < 50 ms on PostgreSQL"
    else:
        setup, target = "separate run_jobs", _separate_worker_target(waits)
    return [
        f"{setup}: enqueue-to-start {_percentiles(waits)} ({target}); "
        f"completion-to-dashboard {_percentiles(shown)} ({len(shown)}/{len(ids)} seen)"
    ]


def latency(env: dict[str, str], token: str) -> list[str]:
    """Jobs enqueued one at a time through the API, as `make run` serves it and with a
    worker process of its own: what each costs the live events is why `serve` exists."""
    return _measure(env, token, worker_in_server=True) + _measure(
        env, token, worker_in_server=False
    )
