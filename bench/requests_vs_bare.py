"""Requests per second against a bare Django REST framework app, side by side, in one run.

The bare app (bench/bare/) is what DRF on Django costs for the same rows with nothing of ours:
no activity log, no events, no presence, no roles, no metrics. It runs in its own uvicorn
process on its own database (a throwaway SQLite file, or a throwaway PostgreSQL database on
the service's server), seeded with a copy of the service's episodes. The service runs as
`manage.py serve`, one server process with the activity log, events and presence on.

The targets are ratios of requests/s, ours over the bare app's: at least 0.8 for the episode
list, an episode and a create, and 0.9 for /health. wrk loads one server at a time, in
interleaved rounds (ours, bare, ours, bare, ...), and the ratio is the median of the pairs'
ratios: this machine's speed drifts within a minute, and rounds a second apart see the same
speed. Beside each rate, the server process's CPU time (utime + stime, from /proc) over the
requests wrk counted, and the SQL queries one request makes.
"""

import contextlib
import json
import statistics
import subprocess
import sys
import tempfile
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date, timedelta

import psycopg
from django.contrib.auth.models import User
from django.db import connection
from knox.auth import TokenAuthentication

from bench import cpu, wrk
from bench.endpoints import ENDPOINTS, Endpoint, count_queries
from bench.servers import server_pid
from episodes.models import Episode, EpisodeStatus
from tests.service_process import ROOT, Server, service_env, uvicorn

CONNECTIONS = (4, 32)
SEASONS = 50
EPISODES_PER_SEASON = 20
BARE_APP = "bench.bare.asgi:application"


@dataclass(frozen=True)
class Rounds:
    pairs: int
    seconds: int  # wrk takes whole seconds


FULL = Rounds(pairs=5, seconds=2)
QUICK = Rounds(pairs=5, seconds=1)


@dataclass(frozen=True)
class Target:
    server: Server
    authorization: str


@dataclass
class Side:
    """One server's rounds at one endpoint and number of connections."""

    rates: list[float] = field(default_factory=list)
    cpu_seconds: float = 0.0
    requests: int = 0

    @property
    def cpu_ms_per_request(self) -> float:
        return 1000 * self.cpu_seconds / self.requests


@dataclass(frozen=True)
class Row:
    endpoint: Endpoint
    connections: int
    ours: Side
    bare: Side

    @property
    def ratio(self) -> float:
        return statistics.median(
            o / b for o, b in zip(self.ours.rates, self.bare.rates, strict=True)
        )

    @property
    def met(self) -> bool:
        return self.ratio >= self.endpoint.target


def compare(env: dict[str, str], token: str, rounds: Rounds) -> list[str]:
    episode_id = _seed(_user(token))
    ours_auth = f"Bearer {token}"
    with _bare_env(env) as bare_env, contextlib.ExitStack() as servers:
        bare_auth = f"Token {_bare(bare_env, 'seed', stdin=_episode_rows()).strip()}"
        queries = {
            "ours": count_queries(ours_auth, episode_id),
            "bare": json.loads(_bare(bare_env, "queries", bare_auth, episode_id)),
        }
        ours = Target(_started(servers, Server(env)), ours_auth)
        bare = Target(_started(servers, Server(bare_env, command=uvicorn, app=BARE_APP)), bare_auth)
        rows = []
        for endpoint in ENDPOINTS:
            for i, connections in enumerate(CONNECTIONS):
                # Each server's first requests to an endpoint fill its caches: not counted.
                warm = i == 0
                rows.append(_measure(endpoint, connections, ours, bare, rounds, episode_id, warm))
    return _report(rows, queries, rounds)


def _user(token: str) -> User:
    user, _ = TokenAuthentication().authenticate_credentials(token.encode())
    return user


def _seed(user: User) -> str:
    """A show's worth of episodes, varied as real ones are; returns the newest one's id."""
    statuses = EpisodeStatus.values
    Episode.objects.bulk_create(
        Episode(
            title=f"Season {season}, episode {number}",
            description=f"What happens in episode {number} of season {season}. " * 4,
            season_number=season,
            episode_number=number,
            air_date=date(2020, 1, 6) + timedelta(weeks=season * EPISODES_PER_SEASON + number),
            status=statuses[(season + number) % len(statuses)],
            categories=["drama", f"season-{season}"],
            created_by=user,
            updated_by=user,
        )
        for season in range(1, SEASONS + 1)
        for number in range(1, EPISODES_PER_SEASON + 1)
    )
    return str(Episode.objects.order_by("-created_at").values_list("pk", flat=True).first())


def _episode_rows() -> str:
    """Every episode of the service, column by column, for the bare app's copy."""
    columns = [f.attname for f in Episode._meta.concrete_fields]
    return json.dumps(list(Episode.objects.values(*columns)), default=str)


@contextlib.contextmanager
def _bare_env(env: dict[str, str]) -> Iterator[dict[str, str]]:
    """The bare app's environment: its settings, and a database of its own beside ours."""
    settings = {"DJANGO_SETTINGS_MODULE": "bench.bare.settings"}
    if connection.vendor != "postgresql":
        with tempfile.TemporaryDirectory(prefix="bench-bare-") as var:
            yield service_env(**settings, VAR_DIR=var)
        return
    server = env["DATABASE_URL"].rsplit("/", 1)[0]
    name = f"episodes_bare_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(f"{server}/postgres", autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield service_env(**settings, DATABASE_URL=f"{server}/{name}")
    finally:
        with psycopg.connect(f"{server}/postgres", autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _bare(env: dict[str, str], command: str, *args: str, stdin: str = "") -> str:
    """Runs `bench.bare.<command>` in a process with the bare settings; returns its output."""
    completed = subprocess.run(
        [sys.executable, "-m", f"bench.bare.{command}", *args],
        cwd=ROOT,
        env=env,
        input=stdin,
        capture_output=True,
        text=True,
        timeout=300,
    )
    if completed.returncode:
        raise RuntimeError(f"bench.bare.{command} failed:\n{completed.stderr}")
    return completed.stdout


def _started(servers: contextlib.ExitStack, server: Server) -> Server:
    servers.callback(server.stop)
    return server.start()


def _measure(
    endpoint: Endpoint,
    connections: int,
    ours: Target,
    bare: Target,
    rounds: Rounds,
    episode_id: str,
    warm: bool,
) -> Row:
    if warm:
        for target in (ours, bare):
            _round(target, endpoint, connections, rounds.seconds, episode_id, Side())
    row = Row(endpoint, connections, Side(), Side())
    for _ in range(rounds.pairs):
        _round(ours, endpoint, connections, rounds.seconds, episode_id, row.ours)
        _round(bare, endpoint, connections, rounds.seconds, episode_id, row.bare)
    return row


def _round(
    target: Target,
    endpoint: Endpoint,
    connections: int,
    seconds: int,
    episode_id: str,
    side: Side,
) -> None:
    pid = server_pid(target.server)
    before = cpu.process_seconds(pid)
    result = wrk.run(
        target.server.http + endpoint.url_path(episode_id),
        connections=connections,
        seconds=seconds,
        authorization=target.authorization,
        method=endpoint.method,
        body=endpoint.body,
    )
    side.cpu_seconds += cpu.process_seconds(pid) - before
    # Requests still queued when wrk stopped are not its to count, nor the next round's.
    cpu.wait_until_idle(pid)
    side.requests += result.requests
    side.rates.append(result.rate)


def _report(rows: list[Row], queries: dict[str, dict[str, int]], rounds: Rounds) -> list[str]:
    lines = [
        f"requests/s against a bare DRF app (wrk, one thread; {rounds.pairs} pairs of "
        f"{rounds.seconds} s rounds, ours then bare; ratio: median of the pairs'; CPU: the "
        "server process's, a request; SQL: queries a request):",
        f"{'endpoint':<9}{'conns':>6}{'ours/s':>9}{'bare/s':>9}{'ratio':>7}  {'target':<17}"
        f"{'CPU ms ours':>12}{'bare':>6}{'SQL ours':>10}{'bare':>6}",
    ]
    for row in rows:
        name = row.endpoint.name
        verdict = f">= {row.endpoint.target:.2f} {'met' if row.met else 'NOT met'}"
        lines.append(
            f"{name:<9}{row.connections:>6}{statistics.median(row.ours.rates):>9.0f}"
            f"{statistics.median(row.bare.rates):>9.0f}{row.ratio:>7.2f}  {verdict:<17}"
            f"{row.ours.cpu_ms_per_request:>12.2f}{row.bare.cpu_ms_per_request:>6.2f}"
            f"{queries['ours'][name]:>10}{queries['bare'][name]:>6}"
        )
    return lines
