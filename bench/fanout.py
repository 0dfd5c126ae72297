"""Commit-to-client latency with many connected clients, against a bare broadcast of the
same frames to as many sockets; and idle sockets held, each counted as it gets every event.

Every figure is taken only once every client has its `subscribed` reply, and every client
is checked against the events it should have had: the ids the service logged on `episodes`
(or the bare server handed out), each delivered exactly once.
"""

import json
import os
import statistics
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.client import HTTPConnection
from pathlib import Path

from bench import bare_broadcast
from bench.clients import raise_open_files_limit
from bench.http import post_json
from bench.servers import server_pid
from realtime import selectors
from tests.service_process import ROOT, Server

FAN_OUT_CLIENTS = (100, 1000, 5000)
IDLE_SOCKETS_PER_PROCESS = 10_000
CLIENTS_PER_PROCESS = 2500
EVENT_SPACING_SECONDS = 0.3
IDLE_EVENTS = 5
IDLE_EVENT_SPACING_SECONDS = 1.0
# How long after the last event the clients wait for the rest before reporting what they have.
GRACE_SECONDS = 30
# Targets, on PostgreSQL + Redis: p99 commit-to-client (ms) per number of clients.
P99_TARGETS_MS = {1000: 25, 5000: 150}
LATEST = 2**63 - 1


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


@dataclass
class Deliveries:
    """What a set of clients received, against the events each should have had."""

    clients: int
    expected: list[int]
    latencies: list[float] = field(default_factory=list)
    # Clients per distinct list of event ids received.
    received: Counter = field(default_factory=Counter)
    repeated: int = 0
    closed: int = 0
    # CPU seconds the server processes spent while the events went out (and idle meanwhile).
    server_cpu: float = float("nan")

    def add(self, report: dict) -> None:
        self.latencies += report["latencies"]
        self.received.update(report["received"])
        self.repeated += report["repeated"]
        self.closed += report["closed"]

    @property
    def complete(self) -> int:
        """Clients that got every expected event and nothing else."""
        return self.received[",".join(map(str, sorted(self.expected)))]

    @property
    def missing(self) -> int:
        wanted = set(self.expected)
        return sum(
            clients * len(wanted - {int(i) for i in ids.split(",") if i})
            for ids, clients in self.received.items()
        )

    @property
    def all_delivered(self) -> bool:
        return bool(self.expected) and self.complete == self.clients and not self.repeated

    def p50(self) -> float:
        return statistics.median(self.latencies) if self.latencies else float("nan")

    def p99(self) -> float:
        return percentile(self.latencies, 0.99) if self.latencies else float("nan")

    def counts(self) -> str:
        return (
            f"{self.complete}/{self.clients} clients got all {len(self.expected)} events "
            f"({self.missing} missing, {self.repeated} repeated, {self.closed} closed)"
        )


class Clients:
    """Client processes (bench/clients.py) of at most CLIENTS_PER_PROCESS sockets each,
    spread evenly over the servers' URLs."""

    def __init__(self, urls: list[str], count: int) -> None:
        raise_open_files_limit()
        self.count = count
        shares = [count // len(urls) + (i < count % len(urls)) for i in range(len(urls))]
        self.processes: list[subprocess.Popen] = []
        for url, remaining in zip(urls, shares, strict=True):
            while remaining > 0:
                share = min(CLIENTS_PER_PROCESS, remaining)
                self.processes.append(
                    subprocess.Popen(
                        [sys.executable, "-m", "bench.clients", url, str(share)],
                        cwd=ROOT,
                        stdin=subprocess.PIPE,
                        stdout=subprocess.PIPE,
                        text=True,
                    )
                )
                remaining -= share

    def __enter__(self) -> "Clients":
        return self

    def __exit__(self, *exc) -> None:
        for process in self.processes:
            if process.poll() is None:
                process.kill()
            process.wait()

    def subscribed(self) -> float:
        """Wait until every client has its `subscribed` reply; the sockets connected and
        subscribed per second, from the first connection to the last reply."""
        started, finished = [], []
        for process in self.processes:
            assert process.stdout is not None  # started with a pipe
            line = process.stdout.readline().split()
            if not line or line[0] != "READY":
                raise RuntimeError(f"clients failed to connect: {line!r}")
            started.append(float(line[1]))
            finished.append(float(line[2]))
        return self.count / (max(finished) - min(started))

    def collect(self, expected: list[int]) -> Deliveries:
        for process in self.processes:
            assert process.stdin is not None  # started with a pipe
            process.stdin.write(f"COLLECT {len(expected)} {GRACE_SECONDS}\n")
            process.stdin.flush()
        deliveries = Deliveries(self.count, expected)
        for process in self.processes:
            assert process.stdout is not None  # started with a pipe
            deliveries.add(json.loads(process.stdout.readline()))
            process.wait(timeout=60)
        return deliveries


class ServiceEvents:
    """Episodes created through the service's API; the events are the rows it logged on
    `episodes` meanwhile."""

    def __init__(self, server: Server, token: str) -> None:
        self.server, self.token = server, token
        self.after = selectors.latest_activity_id()

    def emit(self, label: str) -> None:
        post_json(self.server, "/api/v1/episodes/", self.token, {"title": label})

    def ids(self) -> list[int]:
        rows = selectors.activity_for_topics(
            {"episodes"}, after_id=self.after, up_to_id=LATEST, limit=100_000
        )
        return [row.id for row in rows]


class BareEvents:
    """Broadcasts of the bare server, each with a body the size of an episode's event."""

    BODY = json.dumps(
        {
            "action": "create",
            "resource_type": "episode",
            "resource_id": "6f1c0c8e-5a3e-4a44-9d0e-2b8a9b2f1c11",
            "episode": {"title": "Fan-out", "status": "draft", "season_number": None},
            "actor": {"id": 1, "name": "bench"},
            "source": "api",
            "request_id": "0b6c8d4e5f0a4b1c9d8e7f6a5b4c3d2e",
        }
    )

    def __init__(self, server: Server) -> None:
        self.server = server
        self.url = f"{server.ws}/ws/"
        self._ids: list[int] = []

    def emit(self, label: str) -> None:
        connection = HTTPConnection("127.0.0.1", self.server.port)
        connection.request("POST", "/broadcast", body=self.BODY)
        self._ids.append(json.loads(connection.getresponse().read())["id"])
        connection.close()

    def ids(self) -> list[int]:
        return list(self._ids)


def bare_server(env: dict[str, str]) -> Server:
    return Server(env, command=bare_broadcast.command)


def against_bare(
    ours: list[Server], bare: Server, token: str, clients: int, events: int = 20
) -> tuple[Deliveries, Deliveries]:
    """The service and the bare broadcast, each with as many clients, all connected at once,
    their events taking turns, so that both see the same moments of a noisy machine. The
    service's writes go through its first server (whose hub is woken directly, the others'
    by Redis)."""
    service, floor = ServiceEvents(ours[0], token), BareEvents(bare)
    urls = [f"{server.ws}/ws/events/?token={token}" for server in ours]
    with Clients(urls, clients) as mine, Clients([floor.url], clients) as base:
        mine.subscribed()
        base.subscribed()
        cpu = {server: cpu_seconds(server) for server in [*ours, bare]}
        for i in range(events):
            for emitter in (service, floor):
                emitter.emit(f"Fan-out {clients} #{i}")
                time.sleep(EVENT_SPACING_SECONDS)
        spent = {server: cpu_seconds(server) - before for server, before in cpu.items()}
        got, floor_got = mine.collect(service.ids()), base.collect(floor.ids())
    got.server_cpu = sum(spent[server] for server in ours)
    floor_got.server_cpu = spent[bare]
    return got, floor_got


def cpu_seconds(server: Server) -> float:
    """CPU time (user and system) the server process has used so far."""
    fields = Path(f"/proc/{server_pid(server)}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def latency(servers: list[Server], token: str, clients: int, events: int = 20) -> str:
    """The service alone: one line."""
    urls = [f"{server.ws}/ws/events/?token={token}" for server in servers]
    service = ServiceEvents(servers[0], token)
    with Clients(urls, clients) as group:
        group.subscribed()
        for i in range(events):
            service.emit(f"Fan-out {clients} #{i}")
            time.sleep(EVENT_SPACING_SECONDS)
        got = group.collect(service.ids())
    return f"{clients:>5} clients: {_latencies(got)}; {got.counts()}"


def comparison(
    clients: int, mine: Deliveries, base: Deliveries, target_ms: float | None
) -> list[str]:
    lines = [
        f"{clients:>5} clients, ours: {_latencies(mine)}; {mine.counts()}",
        f"{'':>5}          bare: {_latencies(base)}; {base.counts()}",
        f"{'':>5}          ours/bare: p50 {mine.p50() / base.p50():.2f}x, "
        f"p99 {mine.p99() / base.p99():.2f}x; server CPU per event "
        f"{_cpu_per_event(mine):.1f} ms (its write request included) against "
        f"{_cpu_per_event(base):.1f} ms",
    ]
    if target_ms is not None:
        lines.append(
            f"{'':>5}          target: ours p99 under {target_ms} ms with every event "
            f"delivered: {met(mine.p99() < target_ms and mine.all_delivered)}"
        )
    return lines


def _cpu_per_event(deliveries: Deliveries) -> float:
    return deliveries.server_cpu / max(1, len(deliveries.expected)) * 1000


def _latencies(deliveries: Deliveries) -> str:
    longest = max(deliveries.latencies, default=float("nan"))
    return f"p50 {deliveries.p50():6.1f} ms  p99 {deliveries.p99():6.1f} ms  max {longest:6.1f} ms"


def met(condition: bool) -> str:
    return "met" if condition else "NOT met"


def idle_sockets(servers: list[Server], token: str, per_process: int) -> list[str]:
    """`per_process` sockets on each server, connected and subscribed, then a few events,
    each of which every socket must get; memory is the servers' RSS growth per socket."""
    post_json(servers[0], "/api/v1/episodes/", token, {"title": "Warm-up"})
    time.sleep(1)
    service = ServiceEvents(servers[0], token)
    before = [rss_kb(server_pid(server)) for server in servers]
    count = per_process * len(servers)
    urls = [f"{server.ws}/ws/events/?token={token}" for server in servers]
    with Clients(urls, count) as group:
        rate = group.subscribed()
        after = [rss_kb(server_pid(server)) for server in servers]
        for i in range(IDLE_EVENTS):
            service.emit(f"Idle sockets #{i}")
            time.sleep(IDLE_EVENT_SPACING_SECONDS)
        got = group.collect(service.ids())
    where = "one process" if len(servers) == 1 else f"{len(servers)} processes"
    per_socket = (sum(after) - sum(before)) / count
    return [
        f"{count:,} idle sockets on {where}: connected and subscribed at {rate:,.0f}/s; "
        f"server RSS {sum(before) / 1024:.0f} -> {sum(after) / 1024:.0f} MB, "
        f"{per_socket:.1f} KB per socket",
        f"  {got.counts()}; {_latencies(got)}",
        f"  target: {per_process:,} idle sockets per process all delivered: "
        f"{met(got.all_delivered)}",
    ]


def sockets(env: dict[str, str], token: str, postgres_and_redis: bool) -> Iterator[str]:
    """This file's benchmarks, as `bench.section` runs them, line by line as they come."""
    raise_open_files_limit()  # before the servers start: they inherit it
    yield (
        "commit-to-client latency, `manage.py serve` against a bare broadcast of one frame "
        "(uvicorn as serve runs it, bench/bare_broadcast.py), in turn:"
    )
    server, bare = Server(env).start(), bare_server(env).start()
    try:
        for clients in FAN_OUT_CLIENTS:
            mine, base = against_bare([server], bare, token, clients)
            target = P99_TARGETS_MS.get(clients) if postgres_and_redis else None
            yield from comparison(clients, mine, base, target)
    finally:
        server.stop()
        bare.stop()
    for count in (1, 2) if postgres_and_redis else (1,):  # more than one needs Redis
        servers = [Server(env).start() for _ in range(count)]
        try:
            yield from idle_sockets(servers, token, IDLE_SOCKETS_PER_PROCESS)
        finally:
            for server in servers:
                server.stop()


def rss_kb(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise RuntimeError("no VmRSS")
