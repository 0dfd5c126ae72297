"""Write throughput with the activity log and broadcasting on, against both off, in one run.

The target (a ratio of at least 0.9) is for write requests per second: measured over HTTP,
several clients at once, against two uvicorn processes on the same database, one of them
serving the application with the side effects switched off. In-process, one write at a time through Django's test client,
the same comparison shows what a single write waits for the activity row and its wake-up,
round trips included: a latency figure, printed beside it. Rounds are short and come in
on/off pairs, and the ratio is the median of the pairs' ratios: this machine's speed drifts by
tens of percent within a minute, and a pair of rounds a second apart sees the same speed.
"""

import http.client
import json
import statistics
import threading
import time

from django.test import Client

from bench import side_effects
from bench.http import request
from tests.service_process import Server, uvicorn

ROUNDS = 20
WRITES_PER_ROUND = 50
HTTP_ROUNDS = 30
HTTP_SECONDS = 1.0
HTTP_CLIENTS = 4


def _create_then_update(call, n: int) -> None:
    ids = [call("POST", "/api/v1/episodes/", {"title": f"Bench {i}"})["id"] for i in range(n)]
    for episode_id in ids:
        call("PATCH", f"/api/v1/episodes/{episode_id}/", {"status": "pending"})


def _in_process_round(client: Client) -> float:
    def call(method: str, path: str, body: dict) -> dict:
        response = client.generic(
            method, path, data=json.dumps(body), content_type="application/json"
        )
        if response.status_code >= 300:
            raise RuntimeError(response.content)
        return response.json()

    started = time.perf_counter()
    _create_then_update(call, WRITES_PER_ROUND // 2)
    return WRITES_PER_ROUND / (time.perf_counter() - started)


def in_process(token: str) -> list[str]:
    client = Client(HTTP_AUTHORIZATION=f"Bearer {token}", HTTP_HOST="localhost")
    _in_process_round(client)
    on, off = [], []
    for _ in range(ROUNDS):
        on.append(_in_process_round(client))
        with side_effects.off():
            off.append(_in_process_round(client))
    return _report_latency(on, off)


def _http_round(server: Server, token: str) -> float:
    done = [0] * HTTP_CLIENTS
    deadline = time.perf_counter() + HTTP_SECONDS

    def worker(slot: int) -> None:
        connection = http.client.HTTPConnection("127.0.0.1", server.port)

        def call(method, path, body):
            answer = request(connection, method, path, token, body)
            done[slot] += 1
            return answer

        while time.perf_counter() < deadline:
            _create_then_update(call, 1)

    started = time.perf_counter()
    threads = [threading.Thread(target=worker, args=(i,)) for i in range(HTTP_CLIENTS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return sum(done) / (time.perf_counter() - started)


def over_http(env: dict[str, str], token: str) -> list[str]:
    normal = Server(env, command=uvicorn).start()
    quiet = Server(env, command=uvicorn, app="bench.quiet_asgi:application").start()
    try:
        _http_round(normal, token)
        _http_round(quiet, token)
        on, off = [], []
        for i in range(HTTP_ROUNDS):
            # Each goes first in half the pairs, so neither always meets the other's wake.
            first, second = (normal, quiet) if i % 2 == 0 else (quiet, normal)
            rates = {first: _http_round(first, token), second: _http_round(second, token)}
            on.append(rates[normal])
            off.append(rates[quiet])
    finally:
        normal.stop()
        quiet.stop()
    ratios = sorted(a / b for a, b in zip(on, off, strict=True))
    ratio = statistics.median(ratios)
    quarter = len(ratios) // 4
    return [
        f"write requests/s over HTTP, {HTTP_CLIENTS} clients: with activity+broadcast "
        f"{statistics.median(on):.0f}, without {statistics.median(off):.0f}; ratio of each "
        f"pair of rounds: median {ratio:.3f}, middle half {ratios[quarter]:.2f}-"
        f"{ratios[-quarter - 1]:.2f}, {HTTP_ROUNDS} pairs "
        f"(target >= 0.90: {'met' if ratio >= 0.9 else 'NOT met'})"
    ]


def _report_latency(on: list[float], off: list[float]) -> list[str]:
    with_ms, without_ms = 1000 / statistics.median(on), 1000 / statistics.median(off)
    return [
        f"one write at a time, in-process: {with_ms:.2f} ms with activity+broadcast, "
        f"{without_ms:.2f} ms without (+{(with_ms - without_ms) * 1000:.0f} us a write, "
        f"ratio {without_ms / with_ms:.2f})"
    ]
