"""/ready against real outages: a server process (`manage.py serve`, with its job worker) on
a PostgreSQL cluster and a Redis server of the test's own, each stopped and started again.

Needs redis-server and PostgreSQL's initdb and pg_ctl (Debian: redis-server, postgresql);
as root, also the `postgres` user to run PostgreSQL as. Under CI a missing one fails the test.
"""

import glob
import json
import os
import pwd
import secrets
import shutil
import socket
import subprocess
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path

import psycopg
import pytest

from tests.service_process import Server, free_port, manage, manage_command, service_env

pytestmark = pytest.mark.server

# However an outage looks, a probe gets its answer within the checks' bound and a margin.
PROMPT_SECONDS = 5.0
NO_PERSISTENCE = ("--save", "", "--appendonly", "no")


def require(found: str | None, what: str) -> str:
    if found:
        return found
    if os.environ.get("CI"):
        pytest.fail(f"{what} is not installed")
    pytest.skip(f"{what} is not installed")


def postgres_program(name: str) -> str:
    versions = glob.glob(f"/usr/lib/postgresql/*/bin/{name}")
    newest = max(versions, key=lambda path: int(Path(path).parts[-3]), default=None)
    return require(newest or shutil.which(name), f"PostgreSQL's {name} (Debian package postgresql)")


class PrivateRedis:
    def __init__(self) -> None:
        self.program = require(shutil.which("redis-server"), "redis-server")
        self.port = free_port()
        self.process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        self.process = subprocess.Popen(
            [self.program, "--port", str(self.port), "--bind", "127.0.0.1", *NO_PERSISTENCE],
            stdout=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 10
        while not self._answers():
            assert time.monotonic() < deadline, "redis-server did not start"
            time.sleep(0.05)

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(timeout=10)

    def _answers(self) -> bool:
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=1) as sock:
                sock.sendall(b"PING\r\n")
                return sock.recv(16).startswith(b"+PONG")
        except OSError:
            return False


class PrivatePostgres:
    """A cluster in a directory of its own, run as the `postgres` user when we are root."""

    def __init__(self) -> None:
        self.initdb = postgres_program("initdb")
        self.pg_ctl = postgres_program("pg_ctl")
        self.as_user: list[str] = []
        owner = None
        if os.geteuid() == 0:
            self.as_user = [require(shutil.which("runuser"), "runuser"), "-u", "postgres", "--"]
            try:
                owner = pwd.getpwnam("postgres")
            except KeyError:
                require(None, "the postgres user")
        # In /tmp, not pytest's tmp_path: the postgres user cannot enter root's directories.
        self.directory = Path(tempfile.mkdtemp(prefix="ready-pg-"))
        if owner is not None:
            os.chown(self.directory, owner.pw_uid, owner.pw_gid)
        self.port = free_port()
        self.data = self.directory / "data"

    def url(self, database: str) -> str:
        return f"postgres://postgres@127.0.0.1:{self.port}/{database}"

    def create(self) -> None:
        self._run(self.initdb, "-D", str(self.data), "-U", "postgres", "--auth=trust", "--no-sync")

    def start(self) -> None:
        options = f"-p {self.port} -k {self.directory} -c listen_addresses=127.0.0.1 -c fsync=off"
        log = self.directory / "server.log"
        self._run(self.pg_ctl, "-D", str(self.data), "-l", str(log), "-o", options, "-w", "start")

    def stop(self) -> None:
        self._run(self.pg_ctl, "-D", str(self.data), "-m", "fast", "-w", "stop")

    def remove(self) -> None:
        if (self.data / "postmaster.pid").exists():
            self._run(self.pg_ctl, "-D", str(self.data), "-m", "immediate", "-w", "stop")
        shutil.rmtree(self.directory, ignore_errors=True)

    def _run(self, *command: str) -> None:
        result = subprocess.run(
            [*self.as_user, *command], capture_output=True, text=True, timeout=120
        )
        assert result.returncode == 0, result.stdout + result.stderr


def readiness(server: Server) -> tuple[int, dict, float]:
    started = time.monotonic()
    try:
        with urllib.request.urlopen(f"{server.http}/ready", timeout=30) as response:
            status, body = response.status, response.read()
    except urllib.error.HTTPError as error:
        status, body = error.code, error.read()
    return status, json.loads(body), time.monotonic() - started


def wait_for_readiness(server: Server, status: int, failing: str = "", timeout=90) -> dict:
    """Poll /ready until it answers `status` (with the check `failing` failing), checking
    that every answer on the way comes promptly."""
    deadline = time.monotonic() + timeout
    while True:
        answered, body, took = readiness(server)
        assert took < PROMPT_SECONDS, f"/ready took {took:.1f} s: {body}"
        if answered == status and (not failing or body["checks"][failing]["status"] == "failing"):
            return body
        assert time.monotonic() < deadline, f"/ready still answers {answered}: {body}"
        time.sleep(0.3)


def assert_stays_down(server: Server, failing: str, probes: int = 3) -> None:
    """Later probes in the same outage, past the first failure, are prompt too."""
    for _ in range(probes):
        time.sleep(1)
        answered, body, took = readiness(server)
        assert took < PROMPT_SECONDS, f"/ready took {took:.1f} s: {body}"
        assert answered == 503
        assert body["checks"][failing]["status"] == "failing"


@pytest.fixture(scope="module")
def outages(tmp_path_factory):
    """The servers, and the service on them, ready."""
    redis, postgres = PrivateRedis(), PrivatePostgres()
    server = None
    try:
        postgres.create()
        postgres.start()
        with psycopg.connect(postgres.url("postgres"), autocommit=True) as conn:
            conn.execute("CREATE DATABASE episodes")
        redis.start()
        env = service_env(
            DATABASE_URL=postgres.url("episodes"),
            REDIS_URL=redis.url,
            REDIS_PREFIX="ready",
            SECRET_KEY=secrets.token_hex(32),
            VAR_DIR=str(tmp_path_factory.mktemp("var")),
            # A heartbeat a second: workers count as alive again soon after an outage.
            JOBS_LEASE_SECONDS="3",
        )
        manage(env, "migrate", "--noinput")
        server = Server(env, command=manage_command("serve", "--grace", "1")).start()
        wait_for_readiness(server, 200)
        yield server, redis, postgres
    finally:
        if server is not None:
            server.stop()
        if redis.process is not None and redis.process.poll() is None:
            redis.stop()
        postgres.remove()


def test_ready_is_503_while_redis_is_stopped_and_200_once_it_is_back(outages):
    server, redis, _ = outages
    wait_for_readiness(server, 200)

    redis.stop()
    down = wait_for_readiness(server, 503, failing="channel_layer")
    assert down["status"] == "failing"
    assert down["checks"]["database"] == {"status": "ok"}
    assert "error" in down["checks"]["channel_layer"]
    assert_stays_down(server, "channel_layer")

    redis.start()
    back = wait_for_readiness(server, 200)
    assert back["checks"]["channel_layer"] == {"status": "ok"}


def test_ready_is_503_while_postgres_is_stopped_and_200_once_it_is_back(outages):
    server, _, postgres = outages
    wait_for_readiness(server, 200)

    postgres.stop()
    down = wait_for_readiness(server, 503, failing="database")
    assert down["status"] == "failing"
    assert "error" in down["checks"]["database"]
    assert down["checks"]["channel_layer"] == {"status": "ok"}
    assert_stays_down(server, "database")

    postgres.start()
    back = wait_for_readiness(server, 200)
    assert back["checks"]["workers"]["alive"] == 1
