"""The production topology end to end: nginx in front of the servers, and the job workers, of
deploy/Procfile.cluster, prepared by deploy/prepare_cluster.py as `make cluster` prepares them,
on free ports and a throwaway database.

The cluster tests share one cluster and run in file order: later ones stop a server and kill
a worker."""

import asyncio
import contextlib
import http.client
import json
import os
import re
import shutil
import signal
import ssl
import subprocess
import sys
import urllib.request
import uuid
from pathlib import Path

import pytest
import websockets
from honcho.environ import parse, parse_procfile

from deploy.prepare_cluster import NGINX_PATH, PROCFILE, SERVER_PORT
from tests.service_database import ON_POSTGRES, REDIS, ServiceDatabase
from tests.service_process import (
    ROOT,
    Server,
    create_token,
    free_port,
    manage_command,
    start_worker,
    stop,
    wait_until_listening,
)

pytestmark = pytest.mark.server

PROCESSES = parse_procfile(PROCFILE.read_text()).processes
SERVERS = [name for name, command in PROCESSES.items() if SERVER_PORT.search(command)]
WORKERS = [name for name, command in PROCESSES.items() if " run_jobs" in command]
(NGINX,) = set(PROCESSES) - set(SERVERS) - set(WORKERS)


class Cluster:
    """The Procfile's processes, each in a session of its own so that one can be stopped."""

    def __init__(self, service: ServiceDatabase) -> None:
        self.service = service
        ports = {name: str(free_port()) for name in ("CLUSTER_HTTP_PORT", "CLUSTER_HTTPS_PORT")}
        ports |= {
            SERVER_PORT.search(PROCESSES[name]).group(1): str(free_port()) for name in SERVERS
        }
        prepared = subprocess.run(
            [sys.executable, "-m", "deploy.prepare_cluster"],
            cwd=ROOT,
            env={**service.env, **ports},
            capture_output=True,
            text=True,
        )
        assert prepared.returncode == 0, prepared.stderr
        self.dir = service.var_dir / "cluster"
        self.env = parse((self.dir / "env").read_text())
        self.https = f"https://127.0.0.1:{self.env['CLUSTER_HTTPS_PORT']}"
        self.tls = ssl.create_default_context(cafile=self.dir / "nginx" / "cert.pem")
        self.access_log = self.dir / "nginx" / "episode-metadata.access.log"
        self.processes: dict[str, subprocess.Popen] = {}

    def port(self, server: str) -> int:
        return int(self.env[SERVER_PORT.search(PROCESSES[server]).group(1)])

    def start(self) -> None:
        env = {
            **self.service.env,
            **self.env,
            "PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}",
            "JOBS_LEASE_SECONDS": "2",
            "JOBS_POLL_SECONDS": "0.2",
        }
        for name, command in PROCESSES.items():
            with (self.dir / f"{name}.log").open("w") as log:
                self.processes[name] = subprocess.Popen(
                    ["/bin/sh", "-c", command],
                    cwd=ROOT,
                    env=env,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    start_new_session=True,
                )
        wait_until_listening(int(self.env["CLUSTER_HTTPS_PORT"]), self.processes[NGINX])
        for server in SERVERS:
            wait_until_listening(self.port(server), self.processes[server])
        self.service.wait_for(
            lambda: len(self.job_processors()) == len(WORKERS), what="the workers to start"
        )

    def stop(self) -> None:
        for process in self.processes.values():
            stop(process, timeout=15)

    def job_processors(self) -> list[str]:
        rows = self.service.rows(
            "SELECT resource_id FROM activity_activitylog "
            "WHERE resource_type = 'job_processor' AND action = 'start'"
        )
        return [name for (name,) in rows]

    def call(self, method: str, path: str, token: str, body: dict | None = None) -> dict:
        request = urllib.request.Request(
            self.https + path,
            method=method,
            data=json.dumps(body).encode() if body is not None else None,
            headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
        )
        with urllib.request.urlopen(request, timeout=10, context=self.tls) as response:
            raw = response.read()
        return json.loads(raw) if raw else {}

    def logged(self, text: str) -> str:
        """The access log once it has a line containing `text`."""

        def log_with_text() -> str:
            log = self.access_log.read_text()
            return log if text in log else ""

        return self.service.wait_for(log_with_text, timeout=5, what=f"{text!r} in the access log")


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    if not (ON_POSTGRES and REDIS):
        pytest.skip("the cluster runs on PostgreSQL and Redis: set DATABASE_URL and REDIS_URL")
    if shutil.which("nginx", path=NGINX_PATH) is None:
        message = "nginx is not installed (Debian package nginx)"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    service = ServiceDatabase(tmp_path_factory.mktemp("cluster") / "var")
    try:
        cluster = Cluster(service)
        try:
            cluster.start()
            yield cluster
        finally:
            cluster.stop()
    finally:
        service.drop()


@pytest.fixture(scope="module")
def token(cluster) -> str:
    return create_token(cluster.service.env)


async def call(cluster: Cluster, method: str, path: str, token: str, body=None) -> dict:
    return await asyncio.to_thread(cluster.call, method, path, token, body)


def through_nginx(cluster: Cluster, token: str):
    return websockets.connect(f"wss{cluster.https[5:]}/ws/events/?token={token}", ssl=cluster.tls)


def direct(cluster: Cluster, server: str, token: str):
    return websockets.connect(f"ws://127.0.0.1:{cluster.port(server)}/ws/events/?token={token}")


async def subscribe(ws, after: int | None = None) -> list[dict]:
    """Subscribes to `episodes`; returns the durable events replayed before the ack."""
    message: dict[str, object] = {"type": "subscribe", "topics": ["episodes"]}
    if after is not None:
        message["after"] = after
    await ws.send(json.dumps(message))
    replayed = []
    while (frame := json.loads(await asyncio.wait_for(ws.recv(), 5)))["event"] != "subscribed":
        if frame["id"] is not None:
            replayed.append(frame)
    return replayed


async def next_event(ws, timeout: float = 5) -> dict:
    while True:
        frame = json.loads(await asyncio.wait_for(ws.recv(), timeout))
        if frame["id"] is not None:
            return frame


async def test_a_write_through_nginx_reaches_clients_of_every_server(cluster, token):
    async with contextlib.AsyncExitStack() as stack:
        clients = [await stack.enter_async_context(direct(cluster, s, token)) for s in SERVERS]
        clients.append(await stack.enter_async_context(through_nginx(cluster, token)))
        for ws in clients:
            await subscribe(ws)
        episode = await call(cluster, "POST", "/api/v1/episodes/", token, {"title": "Everywhere"})
        received = [await next_event(ws) for ws in clients]

    assert {(f["event"], f["data"]["episode"]["id"]) for f in received} == {
        ("episode_created", episode["id"])
    }
    assert len({f["id"] for f in received}) == 1


def test_nginx_passes_the_client_address_and_keeps_a_sane_request_id(cluster, token):
    request_id = f"cluster-{uuid.uuid4().hex[:12]}"
    conn = http.client.HTTPSConnection(
        "127.0.0.1",
        int(cluster.env["CLUSTER_HTTPS_PORT"]),
        context=cluster.tls,
        source_address=("127.0.0.2", 0),
    )
    headers = {
        "Authorization": f"Bearer {token}",
        "Content-Type": "application/json",
        "X-Request-ID": request_id,
        "X-Forwarded-For": "203.0.113.9",  # a client's claim, which nginx replaces
    }
    conn.request("POST", "/api/v1/episodes/", json.dumps({"title": "From afar"}), headers)
    response = conn.getresponse()
    response.read()
    conn.close()

    assert response.status == 201
    assert response.headers["X-Request-ID"] == request_id
    recorded = cluster.service.rows(
        "SELECT host(ip_address) FROM activity_activitylog WHERE request_id = %s", (request_id,)
    )
    assert recorded == [("127.0.0.2",)]
    assert re.search(
        rf'^127\.0\.0\.2 .*"POST /api/v1/episodes/ .* rid={request_id} ',
        cluster.logged(request_id),
        re.MULTILINE,
    )


def test_nginx_makes_the_request_id_the_service_and_its_log_share(cluster, token):
    request = urllib.request.Request(
        f"{cluster.https}/api/v1/episodes/", headers={"Authorization": f"Bearer {token}"}
    )
    with urllib.request.urlopen(request, timeout=10, context=cluster.tls) as response:
        request_id = response.headers["X-Request-ID"]

    assert re.fullmatch(r"[0-9a-f]{32}", request_id)
    assert f"rid={request_id} upstream=127.0.0.1:" in cluster.logged(request_id)


async def test_no_log_keeps_the_websocket_token(cluster, token):
    async with through_nginx(cluster, token) as ws:
        await subscribe(ws)

    log = cluster.logged('"GET /ws/events/?[redacted] HTTP/1.1" 101')
    servers_logs = "".join((cluster.dir / f"{server}.log").read_text() for server in SERVERS)
    assert token not in log
    assert "WebSocket /ws/events/" in servers_logs
    assert token not in servers_logs


def test_static_files_come_from_disk_and_http_goes_to_https(cluster):
    path = "/static/admin/css/base.css"
    with urllib.request.urlopen(cluster.https + path, timeout=10, context=cluster.tls) as response:
        body = response.read()
    conn = http.client.HTTPConnection("127.0.0.1", int(cluster.env["CLUSTER_HTTP_PORT"]))
    conn.request("GET", "/api/v1/episodes/?page=2")
    redirect = conn.getresponse()
    conn.close()

    assert body == (cluster.dir / "static" / "admin" / "css" / "base.css").read_bytes()
    assert f'"GET {path} HTTP/1.1" 200 ' in cluster.logged(path)
    assert re.search(rf'"GET {path} HTTP/1.1" 200 .* upstream=- ', cluster.logged(path))
    assert redirect.status == 308
    assert redirect.headers["Location"] == f"{cluster.https}/api/v1/episodes/?page=2"


def job_rows(cluster: Cluster) -> list[tuple[str, str]]:
    return cluster.service.rows("SELECT status, worker_id FROM jobs_job")


def supervisor_of(worker_id: str) -> str:
    """A job's `worker_id` is `host:pid:slot`; its worker is `host:pid`."""
    return worker_id.rsplit(":", 1)[0]


def test_jobs_spread_across_both_workers(cluster, token):
    payload = {"job_type": "diagnostic", "payload": {"seconds": 1, "steps": 2}}
    ids = {cluster.call("POST", "/api/v1/jobs/", token, payload)["id"] for _ in range(8)}
    cluster.service.wait_for(
        lambda: [status for status, _ in job_rows(cluster)] == ["completed"] * 8,
        what="8 completed jobs",
    )

    assert len(ids) == 8
    took_jobs = {supervisor_of(worker_id) for _, worker_id in job_rows(cluster)}
    assert took_jobs == set(cluster.job_processors())
    assert len(took_jobs) == len(WORKERS)


async def test_a_client_of_a_stopped_server_resumes_through_nginx_missing_nothing(cluster, token):
    # nginx hands each new socket to the server holding the fewest: one on each.
    async with through_nginx(cluster, token) as one, through_nginx(cluster, token) as other:
        for ws in (one, other):
            await subscribe(ws)
        episode = await call(cluster, "POST", "/api/v1/episodes/", token, {"title": "Away"})
        last_seen = (await next_event(one))["id"]
        assert (await next_event(other))["id"] == last_seen

        stop(cluster.processes[SERVERS[0]], timeout=15)
        closed, _ = await asyncio.wait(
            [asyncio.create_task(ws.wait_closed()) for ws in (one, other)],
            timeout=5,
            return_when=asyncio.FIRST_COMPLETED,
        )
        await asyncio.sleep(0.5)
        dropped = [ws for ws in (one, other) if ws.close_code is not None]
        assert len(closed) == 1 and len(dropped) == 1, "one socket on each server"
        (survivor,) = {one, other} - set(dropped)

        path = f"/api/v1/episodes/{episode['id']}/"
        await call(cluster, "PATCH", path, token, {"title": "Away 2"})
        await call(cluster, "PATCH", path, token, {"status": "pending"})
        await call(cluster, "DELETE", path, token)
        missed = [await next_event(survivor) for _ in range(3)]

    async with through_nginx(cluster, token) as back:
        replayed = await subscribe(back, after=last_seen)
        await call(cluster, "POST", f"{path}restore/", token)
        live = await next_event(back)

    assert [(f["id"], f["event"]) for f in replayed] == [(f["id"], f["event"]) for f in missed]
    assert [f["event"] for f in missed] == [
        "episode_updated",
        "episode_updated",
        "episode_deleted",
    ]
    assert live["event"] == "episode_restored" and live["id"] > missed[-1]["id"]


def job(cluster: Cluster, job_id: str) -> dict:
    columns = ("status", "attempts", "worker_id", "progress", "errors")
    query = "SELECT status, attempts, worker_id, progress, errors FROM jobs_job WHERE id = %s"
    return dict(zip(columns, cluster.service.rows(query, (job_id,))[0], strict=True))


def test_a_job_of_a_killed_worker_is_finished_by_the_other(cluster, token):
    payload = {"job_type": "diagnostic", "payload": {"seconds": 4, "steps": 8}}
    job_id = cluster.call("POST", "/api/v1/jobs/", token, payload)["id"]
    cluster.service.wait_for(lambda: job(cluster, job_id)["progress"] > 0, what="the job to run")
    first = supervisor_of(job(cluster, job_id)["worker_id"])
    pid = int(first.rsplit(":", 1)[1])
    (doomed,) = [name for name in WORKERS if os.getpgid(pid) == cluster.processes[name].pid]
    os.killpg(cluster.processes[doomed].pid, signal.SIGKILL)  # the worker and its children
    cluster.processes[doomed].wait(timeout=10)

    cluster.service.wait_for(
        lambda: job(cluster, job_id)["status"] == "completed", timeout=40, what="recovery"
    )
    done = job(cluster, job_id)
    assert done["attempts"] == 2
    assert [error["type"] for error in done["errors"]] == ["WorkerLost"]
    assert supervisor_of(done["worker_id"]) in set(cluster.job_processors()) - {first}


@pytest.fixture
def service(tmp_path):
    database = ServiceDatabase(tmp_path / "var", JOBS_POLL_SECONDS="0.2")
    yield database
    database.drop()


def test_serve_without_a_worker_leaves_jobs_to_run_jobs(service):
    token = create_token(service.env)
    server = Server(service.env, command=manage_command("serve", "--no-worker")).start()
    worker = None
    try:
        request = urllib.request.Request(
            f"{server.http}/api/v1/jobs/",
            method="POST",
            data=json.dumps({"job_type": "diagnostic", "payload": {}}).encode(),
            headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
        )
        with urllib.request.urlopen(request, timeout=10) as response:
            assert response.status == 201
        worker = start_worker(service.env, "--concurrency", "1", quiet=True)
        service.wait_for(
            lambda: service.rows("SELECT status FROM jobs_job") == [("completed",)],
            what="the job to complete",
        )
    finally:
        server.stop()
        if worker is not None:
            stop(worker)

    processors = service.rows(
        "SELECT resource_id FROM activity_activitylog WHERE resource_type = 'job_processor'"
    )
    assert len(processors) == 1  # the worker's; the server started none
    ((worker_id,),) = service.rows("SELECT worker_id FROM jobs_job")
    assert supervisor_of(worker_id) == processors[0][0]
