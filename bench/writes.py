"""Write throughput with the activity log and broadcasting on, against both off, in one run.

Two measurements: in-process through Django's test client (isolates what recording and
announcing a change costs the application), and over HTTP against two server processes on
the same database, one of them with the side effects switched off. Rounds alternate on/off
so drift in the machine's speed hits both alike.
"""

import http.client
import json
import statistics
import threading
import time

from django.test import Client

from bench import side_effects
from bench.http import request
from tests.service_process import Server

ROUNDS = 5
WRITES_PER_ROUND = 200
HTTP_ROUNDS = 5
HTTP_SECONDS = 4.0
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
    return _report("in-process", on, off)


def _http_round(server: Server, token: str) -> float:
    done = [0] * HTTP_CLIENTS
    deadline = time.perf_counter() + HTTP_SECONDS

    def worker(slot: int) -> None:
        connection = http.client.HTTPConnection("127.0.0.1", server.port)

        def call(method, path, body):
            done[slot] += 1
            return request(connection, method, path, token, body)

        while time.perf_counter() < deadline:
            _create_then_update(call, 10)

    started = time.perf_counter()
    threads = [threading.Thread(target=worker, args=(i,)) for i in range(HTTP_CLIENTS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return sum(done) / (time.perf_counter() - started)


def over_http(env: dict[str, str], token: str) -> list[str]:
    normal = Server(env).start()
    quiet = Server(env, app="bench.quiet_asgi:application").start()
    try:
        _http_round(normal, token)
        on, off = [], []
        for _ in range(HTTP_ROUNDS):
            on.append(_http_round(normal, token))
            off.append(_http_round(quiet, token))
    finally:
        normal.stop()
        quiet.stop()
    return _report(f"over HTTP, {HTTP_CLIENTS} clients", on, off)


def _report(label: str, on: list[float], off: list[float]) -> list[str]:
    median_on, median_off = statistics.median(on), statistics.median(off)
    rounds = ", ".join(f"{a:.0f}/{b:.0f}" for a, b in zip(on, off, strict=True))
    return [
        f"writes/s {label}: with activity+broadcast {median_on:.0f}, without {median_off:.0f}, "
        f"ratio {median_on / median_off:.2f} (target >= 0.90; rounds on/off: {rounds})"
    ]
