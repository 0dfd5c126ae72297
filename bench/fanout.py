"""Commit-to-client latency with many connected clients, and idle connections held."""

import json
import statistics
import subprocess
import sys
import time
from pathlib import Path

from bench.http import post_json
from tests.service_process import ROOT, Server

CLIENTS_PER_PROCESS = 2500
EVENT_SPACING_SECONDS = 0.3


def _start_clients(
    servers: list[Server], token: str, count: int, events: int
) -> list[subprocess.Popen]:
    """Client processes of at most CLIENTS_PER_PROCESS each, spread evenly over `servers`."""
    shares = [count // len(servers) + (i < count % len(servers)) for i in range(len(servers))]
    processes = []
    for server, remaining in zip(servers, shares, strict=True):
        url = f"{server.ws}/ws/events/?token={token}"
        while remaining > 0:
            share = min(CLIENTS_PER_PROCESS, remaining)
            processes.append(
                subprocess.Popen(
                    [sys.executable, "-m", "bench.clients", url, str(share), str(events)],
                    cwd=ROOT,
                    stdout=subprocess.PIPE,
                    text=True,
                )
            )
            remaining -= share
    for process in processes:
        line = process.stdout.readline()
        if line.strip() != "READY":
            raise RuntimeError(f"clients failed to connect: {line!r}")
    return processes


def _collect(processes: list[subprocess.Popen]) -> list[float]:
    latencies = []
    for process in processes:
        latencies += json.loads(process.stdout.readline())["latencies"]
        process.wait(timeout=60)
    return latencies


def _percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


def latency(servers: list[Server], token: str, clients: int, events: int = 20) -> str:
    """Writes go through the first server; its hub is woken directly, the others' by Redis."""
    processes = _start_clients(servers, token, clients, events)
    for i in range(events):
        post_json(servers[0], "/api/v1/episodes/", token, {"title": f"Fan-out {clients} #{i}"})
        time.sleep(EVENT_SPACING_SECONDS)
    latencies = _collect(processes)
    expected = clients * events
    if not latencies:
        return f"{clients:>5} clients: nothing delivered (0/{expected} deliveries)"
    return (
        f"{clients:>5} clients: p50 {statistics.median(latencies):6.1f} ms  "
        f"p99 {_percentile(latencies, 0.99):6.1f} ms  max {max(latencies):6.1f} ms  "
        f"({len(latencies)}/{expected} deliveries)"
    )


def rss_kb(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise RuntimeError("no VmRSS")


def idle_connections(server: Server, token: str, clients: int) -> str:
    post_json(server, "/api/v1/episodes/", token, {"title": "Warm-up"})
    time.sleep(1)
    before = rss_kb(server.process.pid)
    processes = _start_clients([server], token, clients, 1)
    time.sleep(2)
    after = rss_kb(server.process.pid)
    post_json(server, "/api/v1/episodes/", token, {"title": "Hello, everyone"})
    delivered = len(_collect(processes))
    per_connection = (after - before) / clients
    return (
        f"{clients} idle connections held by one process: {delivered}/{clients} received an "
        f"event; server RSS {before / 1024:.0f} -> {after / 1024:.0f} MB, "
        f"{per_connection:.1f} KB per connection"
    )
