"""Job throughput with 1, 2 and 4 worker processes, and enqueue-to-start latency.

Throughput: a backlog of no-op jobs (`diagnostic` with nothing to do), drained by
`manage.py run_jobs --concurrency N`; jobs/s is the backlog over the time from the first
start to the last finish, as the job rows record them. Latency: jobs enqueued one at a
time through the API of `manage.py serve` (the server with its worker, as `make run`
starts it), each from `created_at` to `started_at`.
"""

import os
import signal
import statistics
import subprocess
import sys
import time

from django.db.models import Max, Min

from bench.http import post_json
from jobs import registry, services
from jobs.models import Job, JobStatus
from tests.service_process import ROOT, Server, manage_command

BACKLOG = 1000
LATENCY_JOBS = 100
LATENCY_SPACING_SECONDS = 0.05


def _drain(env: dict[str, str], workers: int) -> float:
    diagnostic = registry.get("diagnostic")
    backlog = Job.objects.filter(
        pk__in=[services.enqueue(diagnostic, {}).pk for _ in range(BACKLOG)]
    )
    worker = subprocess.Popen(
        [sys.executable, "manage.py", "run_jobs", "--concurrency", str(workers)],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        while backlog.filter(status=JobStatus.COMPLETED).count() < BACKLOG:
            if worker.poll() is not None:
                raise RuntimeError(f"run_jobs exited with {worker.returncode}")
            time.sleep(0.2)
    finally:
        os.killpg(worker.pid, signal.SIGTERM)
        worker.wait()
    span = backlog.aggregate(first=Min("started_at"), last=Max("finished_at"))
    return BACKLOG / (span["last"] - span["first"]).total_seconds()


def throughput(env: dict[str, str], worker_counts=(1, 2, 4)) -> list[str]:
    rates = {workers: _drain(env, workers) for workers in worker_counts}
    figures = ", ".join(f"{workers} workers {rate:.0f}" for workers, rate in rates.items())
    return [f"no-op jobs/s ({BACKLOG} queued): {figures} (target >= 300 with 4)"]


def latency(env: dict[str, str], token: str) -> list[str]:
    server = Server(env, command=manage_command("serve", "--concurrency", "2")).start()
    try:
        time.sleep(1.0)  # the worker processes start beside the server
        ids = []
        for _ in range(LATENCY_JOBS):
            job = post_json(
                server, "/api/v1/jobs/", token, {"job_type": "diagnostic", "payload": {}}
            )
            ids.append(job["id"])
            time.sleep(LATENCY_SPACING_SECONDS)
        while Job.objects.filter(pk__in=ids, started_at__isnull=True).exists():
            time.sleep(0.1)
    finally:
        server.stop()
    waits = sorted(
        (job.started_at - job.created_at).total_seconds() * 1000
        for job in Job.objects.filter(pk__in=ids)
    )
    p50 = statistics.median(waits)
    p99 = waits[min(len(waits) - 1, round(len(waits) * 0.99))]
    return [
        f"enqueue-to-start over the API ({LATENCY_JOBS} jobs): p50 {p50:.1f} ms, "
        f"p99 {p99:.1f} ms (target p50 < 50 ms on PostgreSQL)"
    ]
