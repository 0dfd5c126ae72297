"""A process of simulated users for the mixed load (bench/mixed.py).

Run as `python -m bench.mixed_users`, given one JSON line on its input: the users (each a
token and the port of the server it uses), the episode ids they may read and change, how
long to run and how often each user calls the API. Each user holds a WebSocket subscribed to
`episodes`, pinging it as the protocol asks, and an HTTP connection of its own. It prints
`READY` once every socket has its `subscribed` reply, starts on the line `GO`, and once its
time is up waits for `COLLECT EVENTS SECONDS` as bench/clients.py does; then it prints one
JSON line: each call's kind, status and time, each pong's, and the clients' report.
"""

import asyncio
import json
import random
import sys
import time
from collections.abc import Callable

import h11
import uvloop

from bench.clients import ClientProtocol, connect, raise_open_files_limit, report, wait_for_events

PING_SECONDS = 30.0
# A user's calls, by weight: mostly reads, some writes.
CALLS = {"list": 35, "detail": 30, "activity": 20, "patch": 10, "create": 5}
# Seeded per process from its input, so that a run's choices can be made again.
_random = random.Random()  # noqa: S311 - a load pattern, not a secret


class Api:
    """One user's calls, each on a connection of its own: a user's calls come further apart
    than the server keeps an idle connection open (uvicorn's keep-alive, 5 s)."""

    def __init__(self, port: int, token: str) -> None:
        self.port = port
        self.headers = [
            ("Host", f"127.0.0.1:{port}"),
            ("Authorization", f"Bearer {token}"),
            ("Content-Type", "application/json"),
        ]

    async def call(self, method: str, path: str, body: dict | None = None) -> int:
        reader, writer = await asyncio.open_connection("127.0.0.1", self.port)
        try:
            return await self._exchange(reader, writer, method, path, body)
        finally:
            writer.close()

    async def _exchange(self, reader, writer, method: str, path: str, body: dict | None) -> int:
        connection = h11.Connection(h11.CLIENT)
        payload = b"" if body is None else json.dumps(body).encode()
        headers = [*self.headers, ("Content-Length", str(len(payload)))]
        writer.write(
            connection.send(h11.Request(method=method, target=path, headers=headers))
            + connection.send(h11.Data(data=payload))
            + connection.send(h11.EndOfMessage())
        )
        status = 0
        while True:
            event = connection.next_event()
            if event is h11.NEED_DATA:
                connection.receive_data(await reader.read(65536))
            elif isinstance(event, h11.Response):
                status = event.status_code
            elif isinstance(event, h11.EndOfMessage):
                return status
            elif isinstance(event, h11.ConnectionClosed):
                raise ConnectionError("the server closed the connection")


class User:
    # Connected once the user exists: connecting takes its `on_control`.
    socket: ClientProtocol

    def __init__(self, number: int, port: int, token: str, episodes: list[str]) -> None:
        self.number = number
        self.api = Api(port, token)
        self.url = f"ws://127.0.0.1:{port}/ws/events/?token={token}"
        self.episodes = episodes
        self.calls: list[tuple[str, int, float]] = []
        self.pings: list[float] = []
        self.pongs: list[float] = []

    def on_control(self, arrived: float, payload: bytes) -> None:
        if b'"event":"pong"' in payload:
            self.pongs.append(arrived)

    def pong_times(self) -> list[float]:
        """Each pong's time after its ping, in ms (pongs come in the order of the pings)."""
        return [(pong - ping) * 1000 for ping, pong in zip(self.pings, self.pongs, strict=False)]

    async def run(self, until: float, interval: float) -> None:
        loop = asyncio.get_running_loop()
        pinging = loop.create_task(self._ping(until))
        await asyncio.sleep(_random.uniform(0, interval))
        while time.time() < until:
            due = time.monotonic() + interval
            await self._call(_random.choices(list(CALLS), weights=list(CALLS.values()))[0])
            await asyncio.sleep(max(0.0, due - time.monotonic()))
        await pinging

    async def _ping(self, until: float) -> None:
        await asyncio.sleep(_random.uniform(0, PING_SECONDS))
        while time.time() < until:
            self.pings.append(time.time())
            self.socket.send_json({"type": "ping"})
            await asyncio.sleep(PING_SECONDS)

    async def _call(self, kind: str) -> None:
        episode = _random.choice(self.episodes)
        requests: dict[str, Callable[[], tuple[str, str, dict | None]]] = {
            "list": lambda: ("GET", f"/api/v1/episodes/?page={_random.randint(1, 5)}", None),
            "detail": lambda: ("GET", f"/api/v1/episodes/{episode}/", None),
            "activity": lambda: ("GET", "/api/v1/activities/", None),
            "patch": lambda: (
                "PATCH",
                f"/api/v1/episodes/{episode}/",
                {"description": f"Notes by user {self.number} at {time.time():.3f}"},
            ),
            "create": lambda: ("POST", "/api/v1/episodes/", {"title": f"By {self.number}"}),
        }
        started = time.perf_counter()
        try:
            status = await self.api.call(*requests[kind]())
        except (ConnectionError, OSError, h11.ProtocolError):
            status = 0
        self.calls.append((kind, status, (time.perf_counter() - started) * 1000))


async def main() -> None:
    config = json.loads(sys.stdin.readline())
    _random.seed(config["seed"])
    users = [
        User(number, port, token, config["episodes"]) for number, port, token in config["users"]
    ]
    connected = await asyncio.gather(
        *(connect(user.url, 1, ["episodes"], user.on_control) for user in users)
    )
    for user, [socket] in zip(users, connected, strict=True):
        user.socket = socket
    print("READY", flush=True)
    loop = asyncio.get_running_loop()
    await loop.run_in_executor(None, sys.stdin.readline)
    until = time.time() + config["seconds"]
    await asyncio.gather(*(user.run(until, config["interval"]) for user in users))
    print("DONE", flush=True)
    _, events, seconds = (await loop.run_in_executor(None, sys.stdin.readline)).split()
    sockets = [user.socket for user in users]
    await wait_for_events(sockets, int(events), float(seconds))
    result = report(sockets)
    result["calls"] = [call for user in users for call in user.calls]
    result["pongs"] = [pong for user in users for pong in user.pong_times()]
    print(json.dumps(result), flush=True)


if __name__ == "__main__":
    raise_open_files_limit()
    uvloop.run(main())
