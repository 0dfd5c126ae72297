"""A mixed load as a team makes it: many users, each with a dashboard's socket open and
calling the API now and then, against the service deployed as in production (two server
processes and a job worker, on PostgreSQL and Redis).

Each user (bench/mixed_users.py) holds a socket subscribed to `episodes`, pings it every
30 s as the protocol asks, and makes one REST call every INTERVAL_SECONDS: mostly reads
(episode list, detail, activity), some writes (episode PATCH and create). Users are split
between the two servers, so half the sockets hear of each write through Redis. Printed: the
REST latency (the target is its p99), each event's delivery, checked against the rows the
service logged on `episodes` meanwhile (every user should get every one, exactly once), the
pings' round trips, the CPU each part took (servers, worker, simulated users, the rest), and
how long the garbage collector held each server process (its runs stall every request and
socket of the process at once). Beside the clients' REST latency it
prints the servers' own (their request-duration histograms, from a request's having been
received whole to its response, its wait for a free thread included, and that wait apart): on
one machine the simulated users share the cores, and the gap between the clients' figures and
the servers' is time spent outside the request threads, in the kernel's queues, the servers'
event loops or the clients.
"""

import io
import json
import os
import statistics
import subprocess
import sys
import time
import urllib.request
from collections import Counter
from collections.abc import Callable, Iterator

from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.db import connection
from knox.models import AuthToken
from prometheus_client.metrics_core import Metric
from prometheus_client.parser import text_string_to_metric_families
from prometheus_client.samples import Sample

from bench import cpu
from bench.clients import raise_open_files_limit
from bench.fanout import GRACE_SECONDS, LATEST, Deliveries, met, percentile
from bench.servers import server_pid
from episodes import services as episodes
from realtime import selectors
from tests.service_process import ROOT, Server, start_worker, stop

USERS = 1000
USERS_PER_PROCESS = 250
SECONDS = 60
INTERVAL_SECONDS = 10
EPISODES = 200
REST_P99_TARGET_MS = 150
GC_PAUSES = "episodes_gc_pause_seconds"
REQUEST_SECONDS = "episodes_http_request_duration_seconds"
WAIT_SECONDS = "episodes_http_request_wait_seconds"


def run(env: dict[str, str]) -> Iterator[str]:
    tokens = _users(USERS)
    episode_ids = _episodes(EPISODES)
    _analyze()
    yield (
        f"mixed load: {USERS:,} users for {SECONDS} s, each with a socket on `episodes` "
        f"(a ping every 30 s) and a REST call every {INTERVAL_SECONDS} s, against two server "
        "processes and a job worker:"
    )
    raise_open_files_limit()
    servers = [Server(env).start(), Server(env).start()]
    worker = start_worker(env, quiet=True)
    try:
        yield from _load(servers, worker, tokens, episode_ids)
        yield "  garbage collector pauses, per server process: " + "; ".join(
            _gc_pauses(server) for server in servers
        )
    finally:
        stop(worker)
        for server in servers:
            server.stop()


def _users(count: int) -> list[str]:
    """Tokens of `count` approvers (who may make every call of the mix)."""
    model = get_user_model()
    names = [f"bench-user-{n}" for n in range(count)]
    model.objects.bulk_create([model(username=name) for name in names], ignore_conflicts=True)
    call_command("grant", "approver", *names, stdout=io.StringIO())
    users = model.objects.filter(username__in=names).order_by("username")
    return [AuthToken.objects.create(user=user)[1] for user in users]


def _episodes(count: int) -> list[str]:
    author = get_user_model().objects.get(username="bench-user-0")
    return [
        str(episodes.create_episode(user=author, data={"title": f"Mixed {n}"}).pk)
        for n in range(count)
    ]


def _analyze() -> None:
    """A database in service has its statistics (autovacuum keeps them); one seeded a moment
    ago has none, and PostgreSQL would plan a page of episodes as a sort of every row."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE")


def _load(
    servers: list[Server], worker: subprocess.Popen, tokens: list[str], episode_ids: list[str]
) -> Iterator[str]:
    processes = []
    for first in range(0, len(tokens), USERS_PER_PROCESS):
        users = [
            (n, servers[n % len(servers)].port, tokens[n])
            for n in range(first, min(first + USERS_PER_PROCESS, len(tokens)))
        ]
        config = {
            "users": users,
            "episodes": episode_ids,
            "seconds": SECONDS,
            "interval": INTERVAL_SECONDS,
            "seed": first,
        }
        process = subprocess.Popen(
            [sys.executable, "-m", "bench.mixed_users"],
            cwd=ROOT,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        assert process.stdin is not None  # started with a pipe
        process.stdin.write(json.dumps(config) + "\n")
        process.stdin.flush()
        processes.append(process)
    try:
        _expect(processes, "READY")
        after = selectors.latest_activity_id()
        usage = Usage(
            {
                "servers": [server_pid(server) for server in servers],
                "job worker": [worker.pid, *cpu.descendants(worker.pid)],
                "simulated users": [process.pid for process in processes],
            }
        )
        _tell(processes, "GO")
        _expect(processes, "DONE")
        used = usage.line()
        rows = selectors.activity_for_topics(
            {"episodes"}, after_id=after, up_to_id=LATEST, limit=1_000_000
        )
        expected = [row.id for row in rows]
        _tell(processes, f"COLLECT {len(expected)} {GRACE_SECONDS}")
        deliveries = Deliveries(len(tokens), expected)
        calls, pongs = [], []
        for process in processes:
            assert process.stdout is not None  # started with a pipe
            result = json.loads(process.stdout.readline())
            deliveries.add(result)
            calls += result["calls"]
            pongs += result["pongs"]
    finally:
        for process in processes:
            if process.poll() is None:
                process.kill()
            process.wait()
    yield used
    yield from _rest_lines(calls)
    yield _in_servers(servers)
    yield _waits_in_servers(servers)
    yield (
        f"  events: {len(expected):,} logged on `episodes`, "
        f"{len(expected) * len(tokens):,} deliveries expected, {len(deliveries.latencies):,} "
        f"received; {deliveries.counts()}"
    )
    yield f"    delivery {_summary(deliveries.latencies)}"
    yield (
        f"  target: every event delivered to every user, exactly once: "
        f"{met(deliveries.all_delivered)}"
    )
    yield f"  pings: {len(pongs):,}, pong {_summary(pongs)}"


class Usage:
    """The CPU the load took, by group of processes, from here on: on one machine the
    simulated users share the cores with the service, and a machine near 100% busy queues
    every request."""

    def __init__(self, groups: dict[str, list[int]]) -> None:
        self.groups = groups
        self.spent = self._spent()
        self.machine = cpu.machine_seconds()
        self.started = time.monotonic()

    def _spent(self) -> dict[str, float]:
        return {
            name: sum(cpu.process_seconds(pid) for pid in pids)
            for name, pids in self.groups.items()
        }

    def line(self) -> str:
        spent = self._spent()
        busy_now, total_now = cpu.machine_seconds()
        busy, total = busy_now - self.machine[0], total_now - self.machine[1]
        elapsed = time.monotonic() - self.started
        cores = os.cpu_count() or 1
        by_group = {name: (spent[name] - self.spent[name]) / elapsed for name in self.groups}
        rest = busy / elapsed - sum(by_group.values())
        groups = ", ".join(f"{name} {used:.2f}" for name, used in by_group.items())
        return (
            f"  CPU during the load, in cores of {cores}: {groups}, everything else (the "
            f"database, Redis, ...) {rest:.2f}; the machine {busy / total:.0%} busy"
        )


def _rest_lines(calls: list[list]) -> Iterator[str]:
    times = [spent for _, _, spent in calls]
    failed = [status for _, status, _ in calls if not 200 <= status < 300]
    yield (
        f"  REST: {len(calls):,} calls, {_summary(times)}; {len(failed)} failed{_statuses(failed)}"
    )
    kinds = sorted({kind for kind, _, _ in calls})
    yield "    " + "; ".join(
        f"{kind} {_summary([spent for k, _, spent in calls if k == kind])}" for kind in kinds
    )
    p99 = percentile(times, 0.99) if times else float("inf")
    yield (
        f"  target: REST p99 under {REST_P99_TARGET_MS} ms with no call failed: "
        f"{met(p99 < REST_P99_TARGET_MS and not failed)}"
    )


def _family(server: Server, name: str) -> Metric:
    with urllib.request.urlopen(f"{server.http}/metrics") as response:
        text = response.read().decode()
    (family,) = [f for f in text_string_to_metric_families(text) if f.name == name]
    return family


def _in_servers(servers: list[Server]) -> str:
    """The API calls as the servers timed them, from having been received whole to the
    response, summed over both processes."""
    counts = _bucket_counts(
        servers, REQUEST_SECONDS, lambda s: s.labels["route"].startswith("api/")
    )
    return (
        f"  REST in the servers (their request-duration histograms, "
        f"{_total(counts):,.0f} calls): {_bounds(counts)}"
    )


def _waits_in_servers(servers: list[Server]) -> str:
    """Of that, the wait for a free thread (every request, not only the API's)."""
    counts = _bucket_counts(servers, WAIT_SECONDS, lambda s: True)
    return f"    of which waiting for a thread ({_total(counts):,.0f} requests): {_bounds(counts)}"


def _bucket_counts(servers: list[Server], name: str, wanted: Callable[[Sample], bool]) -> dict:
    """A histogram's cumulative counts by bucket bound, summed over the processes."""
    counts: dict[float, float] = {}
    for server in servers:
        for sample in _family(server, name).samples:
            if sample.name.endswith("_bucket") and wanted(sample):
                bound = float(sample.labels["le"])
                counts[bound] = counts.get(bound, 0.0) + sample.value
    return counts


def _total(counts: dict[float, float]) -> float:
    return counts[max(counts)]


def _bounds(counts: dict[float, float]) -> str:
    """The bucket bounds that p50 and p99 fall within."""
    bounds = sorted(counts)

    def within(share: float) -> str:
        bound = next(b for b in bounds if counts[b] >= share * _total(counts))
        return f"{bound * 1000:.0f} ms" if bound != float("inf") else "over the last bucket"

    return f"p50 within {within(0.5)}, p99 within {within(0.99)}"


def _gc_pauses(server: Server) -> str:
    """Every run of the collector holds the whole process: how many, how long in all, and
    how many held it over 5 ms, as the server's /metrics counts them since it started."""
    family = _family(server, GC_PAUSES)
    runs = sum(s.value for s in family.samples if s.name.endswith("_count"))
    seconds = sum(s.value for s in family.samples if s.name.endswith("_sum"))
    short = sum(
        s.value for s in family.samples if s.name.endswith("_bucket") and s.labels["le"] == "0.005"
    )
    return f"{runs:.0f} runs, {seconds * 1000:.0f} ms in all, {runs - short:.0f} over 5 ms"


def _statuses(failed: list[int]) -> str:
    if not failed:
        return ""
    counts = sorted(Counter(failed).items())
    return " (" + ", ".join(f"{status or 'no answer'}: {n}" for status, n in counts) + ")"


def _summary(values: list[float]) -> str:
    if not values:
        return "none"
    return f"p50 {statistics.median(values):.1f} ms, p99 {percentile(values, 0.99):.1f} ms"


def _expect(processes: list[subprocess.Popen], word: str) -> None:
    for process in processes:
        assert process.stdout is not None  # started with a pipe
        line = process.stdout.readline().strip()
        if line != word:
            raise RuntimeError(f"a user process said {line!r}, not {word}")


def _tell(processes: list[subprocess.Popen], line: str) -> None:
    for process in processes:
        assert process.stdin is not None  # started with a pipe
        process.stdin.write(line + "\n")
        process.stdin.flush()
