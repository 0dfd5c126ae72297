"""Job workers as real processes: graceful stop, a SIGKILLed worker's job recovered by
another, many workers sharing a queue, and live events from a worker inside the server."""

import asyncio
import json
import signal

import pytest
import websockets

from tests.service_database import ON_POSTGRES, ServiceDatabase
from tests.service_process import (
    Server,
    create_token,
    manage,
    manage_command,
    start_worker,
    stop,
)

pytestmark = pytest.mark.server


@pytest.fixture
def service(tmp_path):
    database = ServiceDatabase(tmp_path / "var", JOBS_LEASE_SECONDS="2", JOBS_POLL_SECONDS="0.2")
    yield database
    database.drop()


def enqueue(service: ServiceDatabase, count: int = 1, **payload) -> list[str]:
    code = (
        "from jobs.tasks import diagnostic\n"
        f"for _ in range({count}):\n"
        f"    print('JOB', diagnostic.enqueue(**{payload!r}).id)\n"
    )
    output = manage(service.env, "shell", "-c", code)
    return [line.split()[1] for line in output.splitlines() if line.startswith("JOB")]


def job(service: ServiceDatabase, job_id: str) -> dict:
    columns = ("status", "attempts", "worker_id", "progress", "errors")
    query = "SELECT status, attempts, worker_id, progress, errors FROM jobs_job WHERE id = %s"
    row = service.rows(query, (uuid_param(job_id),))
    values = dict(zip(columns, row[0], strict=True))
    if isinstance(values["errors"], str):
        values["errors"] = json.loads(values["errors"])
    return values


def job_activity(service: ServiceDatabase, job_id: str) -> list[tuple[str, str]]:
    return service.rows(
        "SELECT action, actor_label FROM activity_activitylog "
        "WHERE resource_type = 'job' AND resource_id = %s ORDER BY id",
        (job_id,),
    )


def uuid_param(job_id: str) -> str:
    # SQLite stores UUIDs as 32 hex characters; PostgreSQL compares them as uuid.
    return job_id if ON_POSTGRES else job_id.replace("-", "")


def test_sigterm_lets_short_jobs_finish_and_hands_back_the_rest(service):
    quick = enqueue(service, 3)
    worker = start_worker(service.env, "--concurrency", "2", "--grace", "1")
    try:
        service.wait_for(
            lambda: all(job(service, i)["status"] == "completed" for i in quick), what="quick jobs"
        )
        (long,) = enqueue(service, seconds=60, steps=60)
        service.wait_for(lambda: job(service, long)["progress"] > 0, what="the long job to run")
    finally:
        code = stop(worker, signal.SIGTERM, timeout=20)

    assert code == 0
    handed_back = job(service, long)
    assert handed_back["status"] == "pending"
    assert handed_back["attempts"] == 0  # an interrupted attempt is not a failed one
    assert [a for a, _ in job_activity(service, long)] == ["create", "start", "retry"]
    started = service.rows(
        "SELECT metadata FROM activity_activitylog WHERE resource_type = 'job_processor'"
    )
    summary = (started[0][0] if ON_POSTGRES else json.loads(started[0][0]))["summary"]
    assert summary["concurrency"] == 2 and summary["queues"] == ["default"]


def test_a_job_of_a_sigkilled_worker_is_completed_by_another(service):
    (job_id,) = enqueue(service, seconds=3, steps=6)
    doomed = start_worker(service.env, "--concurrency", "1")
    try:
        service.wait_for(lambda: job(service, job_id)["progress"] > 0, what="the job to start")
        doomed.send_signal(signal.SIGKILL)  # the supervisor only: its child must follow
        doomed.wait(timeout=10)
        first_worker = job(service, job_id)["worker_id"]
    finally:
        stop(doomed, signal.SIGKILL)

    rescuer = start_worker(service.env, "--concurrency", "1")
    try:
        service.wait_for(
            lambda: job(service, job_id)["status"] == "completed", timeout=40, what="recovery"
        )
    finally:
        stop(rescuer)

    done = job(service, job_id)
    assert done["attempts"] == 2
    assert done["worker_id"] != first_worker
    assert [e["type"] for e in done["errors"]] == ["WorkerLost"]
    story = job_activity(service, job_id)
    assert [action for action, _ in story] == ["create", "start", "retry", "start", "complete"]
    assert story[1][1] == f"worker {first_worker}"
    assert story[3][1] == f"worker {done['worker_id']}"


@pytest.mark.skipif(not ON_POSTGRES, reason="needs DATABASE_URL (PostgreSQL)")
def test_two_workers_run_200_jobs_each_exactly_once(service):
    # Each job lasts 50 ms, so that the first worker alone would need at least 5 s: no-op
    # jobs could all be done before the second worker's processes had set Django up.
    ids = enqueue(service, 200, seconds=0.05)
    workers = [start_worker(service.env, "--concurrency", "2") for _ in range(2)]
    try:
        service.wait_for(
            lambda: (
                service.rows("SELECT count(*) FROM jobs_job WHERE status = 'completed'")[0][0]
                == 200
            ),
            timeout=90,
            what="200 completed jobs",
        )
    finally:
        for worker in workers:
            stop(worker)

    assert service.rows("SELECT count(*), min(attempts), max(attempts) FROM jobs_job") == [
        (200, 1, 1)
    ]
    per_job = service.rows(
        "SELECT resource_id, "
        "count(*) FILTER (WHERE action = 'start'), count(*) FILTER (WHERE action = 'complete') "
        "FROM activity_activitylog WHERE resource_type = 'job' GROUP BY resource_id"
    )
    assert len(per_job) == 200 and {(s, c) for _, s, c in per_job} == {(1, 1)}
    assert {r for r, _, _ in per_job} == set(ids)
    supervisors = service.rows("SELECT count(DISTINCT split_part(worker_id, ':', 2)) FROM jobs_job")
    assert supervisors == [(2,)]  # both workers took a share


async def test_a_worker_inside_the_server_reports_live_to_its_websocket_clients(service):
    token = create_token(service.env)
    # The job is the system's, on no episode: only staff see it.
    manage(service.env, "grant", "staff", "e2e")
    server = Server(service.env, command=manage_command("serve", "--concurrency", "1")).start()
    try:
        async with websockets.connect(f"{server.ws}/ws/events/?token={token}") as ws:
            await ws.send(json.dumps({"type": "subscribe", "topics": ["jobs"]}))
            assert json.loads(await asyncio.wait_for(ws.recv(), 5))["event"] == "subscribed"
            (job_id,) = await asyncio.to_thread(enqueue, service, seconds=1, steps=4)
            seen = []
            while not seen or seen[-1]["event"] != "job_completed":
                frame = json.loads(await asyncio.wait_for(ws.recv(), 10))
                # The worker's own arrival may come at any point of a slow start.
                if not frame["event"].startswith("job_processor_"):
                    seen.append(frame)
    finally:
        server.stop()

    names = [frame["event"] for frame in seen]
    assert names[0] == "job_created" and names[1] == "job_started"
    progress = [f["data"]["progress"] for f in seen if f["event"] == "job_progress"]
    assert progress and progress == sorted(progress) and 0 < progress[-1] <= 100
    assert all(f["id"] is None for f in seen if f["event"] == "job_progress")  # ephemeral
    assert {f["data"].get("job_id") or f["data"]["resource_id"] for f in seen} == {job_id}
