"""The event stream against clients that break its protocol, by mistake or on purpose.

Every malformed message gets an `error` event on a socket that stays open; a WebSocket
protocol error closes the socket with the code RFC 6455 gives it. Whatever a client does,
its socket is unregistered once it ends, other sockets keep receiving, and the server logs
the client's mistake as the client's: no ERROR line, no traceback.
"""

import asyncio
import contextlib
import contextvars
import dataclasses
import gc
import json
import os
import struct
from dataclasses import dataclass
from pathlib import Path

import pytest
import websockets
from channels.db import database_sync_to_async
from channels.testing import WebsocketCommunicator
from django.contrib.auth import get_user_model
from django.db import OperationalError
from knox.models import AuthToken
from uvicorn.protocols.utils import ClientDisconnected
from websockets.client import ClientProtocol
from websockets.protocol import State
from websockets.uri import parse_uri

from episode_metadata.asgi import application
from episode_metadata.common.context import ActivityContext, acting
from episode_metadata.management.commands.serve import WS_MAX_MESSAGE_BYTES
from episodes import services
from realtime.consumers import BURST, MAX_MESSAGE_BYTES
from realtime.hub import get_hub, stop_hub
from realtime.presence import selectors as presence_selectors
from realtime.subscriber import MAX_QUEUED_FRAMES
from tests.service_database import ServiceDatabase
from tests.service_process import Server, create_token
from tests.test_metrics import async_scrape, value
from tests.test_realtime_e2e import call
from tests.test_realtime_ws import give_role

DEEP = "[" * 1500 + "]" * 1500


def _field_cases(kind: str) -> list[tuple[str, str]]:
    """`kind` messages whose `topics` is of every wrong JSON type and shape."""
    return [
        (f'{{"type": "{kind}"}}', "non-empty list"),
        *(
            (f'{{"type": "{kind}", "topics": {value}}}', "non-empty list")
            for value in ("null", '"episodes"', "{}", "[]", "1", "true", '{"episodes": 1}')
        ),
        *(
            (f'{{"type": "{kind}", "topics": [{value}]}}', "Topic must be a string")
            for value in (
                "1",
                "null",
                "true",
                "{}",
                '["episodes"]',
                "10" * 20,
                "1.5",
                "[" * 300 + "]" * 300,
            )
        ),
        (f'{{"type": "{kind}", "topics": ["weather"]}}', "Unknown topic"),
        (f'{{"type": "{kind}", "topics": ["episode:"]}}', "Unknown topic"),
        (f'{{"type": "{kind}", "topics": ["\\ud800"]}}', "Unknown topic"),
        (f'{{"type": "{kind}", "topics": ["episode:42"]}}', "not a valid UUID"),
        (f'{{"type": "{kind}", "topics": ["episodes", "jobs", 7]}}', "Topic must be a string"),
    ]


# Each message with a fragment of the error it must earn.
MALFORMED: list[tuple[str, str]] = [
    ("not json", "not valid JSON"),
    ("", "not valid JSON"),
    ('{"type": "ping"', "not valid JSON"),
    ("[1, 2]", "JSON object"),
    ('"ping"', "JSON object"),
    ("null", "JSON object"),
    ("{}", "'type' string"),
    *(
        (f'{{"type": {value}}}', "'type' string")
        for value in ('["x"]', "[]", "{}", "null", "1", "true", "1.5", '{"type": "ping"}')
    ),
    ('{"type": "dance"}', "Unknown message type"),
    ('{"type": "\\ud800"}', "Unknown message type"),
    ('{"type": "PING"}', "Unknown message type"),
    (DEEP, "nests too deeply"),
    ('{"type": "ping", "extra": ' + DEEP + "}", "nests too deeply"),
    ("x" * (MAX_MESSAGE_BYTES + 1), "too large"),
    # Fewer characters than the limit, more bytes.
    ('{"type": "ping", "pad": "' + "é" * (MAX_MESSAGE_BYTES // 2) + '"}', "too large"),
    *_field_cases("subscribe"),
    *_field_cases("unsubscribe"),
    *(
        (f'{{"type": "subscribe", "topics": ["episodes"], "after": {value}}}', "non-negative")
        for value in (
            '"1"',
            '"x"',
            "1.5",
            "1.0",
            "true",
            "false",
            "-1",
            str(2**63),
            "1" + "0" * 100,
            "[]",
            "{}",
            "NaN",
            "Infinity",
            "1e400",
        )
    ),
    ('{"type": "subscribe", "topics": ["jobs"], "after": ' + "9" * 5000 + "}", "not valid JSON"),
    (
        json.dumps(
            {
                "type": "subscribe",
                "topics": [f"job:{i:08x}-0000-4000-8000-000000000000" for i in range(101)],
            }
        ),
        "At most 100 topics",
    ),
]

# Messages with more than the protocol asks for: the extras are ignored.
TOLERATED: list[tuple[str, str]] = [
    ('{"type": "ping", "topics": [1, {}], "after": "x"}', "pong"),
    ('{"type": "subscribe", "topics": ["jobs"], "after": null, "extra": [[[]]]}', "subscribed"),
    ('{"type": "unsubscribe", "topics": ["jobs"], "after": -1}', "unsubscribed"),
]


async def gauge() -> float:
    return value(await async_scrape(), "episodes_websocket_connections")


async def sent(family: str) -> float:
    return value(await async_scrape(), "episodes_websocket_events_sent_total", family=family)


# Through channels' communicator, in this process: the hub, the gauge and presence are ours
# to look at.


@pytest.fixture
async def _stop_hub():
    yield
    await stop_hub()


@database_sync_to_async
def make_user(name: str = "fuzzed"):
    user = give_role(
        get_user_model().objects.create_user(username=name, password="pw-12345-long"), "approver"
    )
    return user, AuthToken.objects.create(user=user)[1]


@database_sync_to_async
def create_episode(user, title: str):
    with acting(ActivityContext(source="api", get_user=lambda: user)):
        return services.create_episode(user=user, data={"title": title})


async def connect(token: str) -> WebsocketCommunicator:
    communicator = WebsocketCommunicator(application, f"/ws/events/?token={token}")
    connected, _ = await communicator.connect()
    assert connected
    return communicator


async def answer(communicator: WebsocketCommunicator, message: dict | str) -> dict:
    if isinstance(message, dict):
        message = json.dumps(message)
    # Sent as input: the communicator's `send_to` refuses an empty text.
    await communicator.send_input({"type": "websocket.receive", "text": message})
    return json.loads(await communicator.receive_from(timeout=3))


@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("_stop_hub")
async def test_every_malformed_message_gets_an_error_and_the_socket_answers_on():
    _, token = await make_user()
    wrong = []
    for raw, expected in [*MALFORMED, *TOLERATED]:
        ws = await connect(token)
        reply = await answer(ws, raw)
        pong = await answer(ws, {"type": "ping"})
        text = reply["data"].get("message", reply["event"])
        if expected not in text or pong["event"] != "pong":
            wrong.append((raw[:80], reply, pong["event"]))
        await ws.disconnect()

    ws = await connect(token)
    await ws.send_to(bytes_data=b'{"type": "ping"}')
    binary = json.loads(await ws.receive_from(timeout=3))
    await ws.disconnect()

    assert wrong == []
    assert binary["data"]["message"] == "Send text frames holding JSON."


@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("_stop_hub")
async def test_a_socket_stays_registered_through_malformed_messages_and_leaves_on_close():
    _, token = await make_user()
    hub, before = get_hub(), await gauge()
    ws = await connect(token)

    for raw in ('{"type": ["x"]}', '{"type": []}', '{"type": {}}', DEEP):
        assert (await answer(ws, raw))["event"] == "error"
    registered, counted = hub.connection_count(), await gauge()
    await ws.disconnect()

    assert (registered, counted) == (1, before + 1)
    assert (hub.connection_count(), await gauge()) == (0, before)


@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("_stop_hub")
async def test_a_socket_whose_consumer_failed_is_unregistered_everywhere(monkeypatch):
    user, token = await make_user()
    episode = await create_episode(user, "Watched")
    hub, before = get_hub(), await gauge()
    healthy = await connect(token)
    assert (await answer(healthy, {"type": "subscribe", "topics": ["episodes"]}))["event"] == (
        "subscribed"
    )
    failing = await connect(token)

    def database_gone():
        raise OperationalError("server closed the connection unexpectedly")

    # The database goes away in the middle of a resume, once the socket joined the hub
    # and the episode's viewers.
    monkeypatch.setattr("realtime.selectors.pruned_through", database_gone)
    await failing.send_json_to(
        {"type": "subscribe", "topics": ["episodes", f"episode:{episode.pk}"], "after": 0}
    )
    with pytest.raises(OperationalError):
        await failing.wait(timeout=3)
    monkeypatch.undo()
    viewers = await database_sync_to_async(presence_selectors.episode_viewers)(
        episode_id=episode.pk
    )
    registered, counted = hub.connection_count(), await gauge()
    sent_before = await sent("episodes")

    await create_episode(user, "After the failure")
    created = json.loads(await healthy.receive_from(timeout=3))
    await healthy.disconnect()

    assert list(viewers) == []
    assert (registered, counted) == (1, before + 1)
    assert created["event"] == "episode_created"
    assert await sent("episodes") - sent_before == 1  # to the healthy socket alone
    assert (hub.connection_count(), await gauge()) == (0, before)


HOSTILE_TOKENS = ["%00abc", "%00" * 20, "%ff%fe", "x" * 5000, "", "a&token=b", "%E2%80%AE"]


@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("_stop_hub")
@pytest.mark.parametrize("token", HOSTILE_TOKENS)
async def test_a_hostile_token_is_refused_with_4401(token):
    _, valid = await make_user()
    for query in [f"token={token}"] + ([f"token={valid}{token}"] if token else []):
        ws = WebsocketCommunicator(application, f"/ws/events/?{query}")
        await ws.connect()
        assert await ws.receive_output(timeout=3) == {"type": "websocket.close", "code": 4401}


class StalledCommunicator(WebsocketCommunicator):
    """A server whose socket takes no more writes once accepted, as uvicorn's when its client
    reads nothing: each send waits until the client is gone, then fails as uvicorn's does."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.gone = asyncio.Event()

    @property
    def future(self):
        if self._future is None:

            async def send(message: dict) -> None:
                if message["type"] != "websocket.accept":
                    await self.gone.wait()
                    raise ClientDisconnected()
                await self.output_queue.put(message)

            self._future = contextvars.Context().run(
                asyncio.create_task, self.application(self.scope, self.input_queue.get, send)
            )
        return self._future


@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("_stop_hub")
async def test_a_flood_from_a_client_that_reads_nothing_ends_without_an_error():
    _, token = await make_user()
    loop, unhandled = asyncio.get_running_loop(), []
    loop.set_exception_handler(lambda _, context: unhandled.append(context))
    ws = StalledCommunicator(application, f"/ws/events/?token={token}")
    assert (await ws.connect())[0]

    # Every answer beyond the first waits on the socket, until the queue overflows.
    for _ in range(MAX_QUEUED_FRAMES + 10):
        await ws.send_input({"type": "websocket.receive", "text": '{"type": "ping"}'})
    while not ws.input_queue.empty():
        await asyncio.sleep(0.05)
    await asyncio.sleep(0.2)
    ws.gone.set()
    await ws.send_input({"type": "websocket.disconnect", "code": 1006})
    await ws.wait(timeout=3)
    gc.collect()
    loop.set_exception_handler(None)

    assert [context["message"] for context in unhandled] == []
    assert get_hub().connection_count() == 0


# Against a real server process, over TCP, with the `websockets` client and raw frames.


@dataclass
class Tally:
    sent: int = 0
    errors: int = 0
    dropped_without_close: int = 0

    def __str__(self) -> str:
        return (
            f"messages sent: {self.sent}, error events received: {self.errors}, "
            f"sockets dropped without a close frame: {self.dropped_without_close}"
        )


@dataclass
class Served:
    server: Server
    token: str
    log: Path
    since: int = 0  # where in the log the test began

    @property
    def url(self) -> str:
        return f"{self.server.ws}/ws/events/?token={self.token}"

    def log_problems(self) -> list[str]:
        """Lines of the server's log at ERROR or above, or holding a traceback."""
        problems = []
        with self.log.open("rb") as log:
            log.seek(self.since)
            lines = log.read().decode().splitlines()
        for line in lines:
            try:
                level = json.loads(line).get("level")
            except ValueError:
                level = None
            if level in ("ERROR", "CRITICAL") or "Traceback" in line:
                problems.append(line)
        return problems


@pytest.fixture(scope="module")
def server_process(tmp_path_factory):
    """One server, on PostgreSQL and Redis when DATABASE_URL and REDIS_URL name them, else
    on the embedded default; its log (JSON lines, as deployed) goes to a file."""
    var = tmp_path_factory.mktemp("hostile")
    database = ServiceDatabase(var / "var")
    log = var / "server.log"
    server = Server(database.env, log=log).start()
    yield Served(server, create_token(database.env, "fuzzer"), log)
    server.stop()
    database.drop()


@pytest.fixture
def served(server_process: Served) -> Served:
    """The module's server, its log read from where this test began."""
    return dataclasses.replace(server_process, since=server_process.log.stat().st_size)


async def recv(ws, timeout: float = 5) -> dict:
    return json.loads(await asyncio.wait_for(ws.recv(), timeout))


async def until(ws, event: str) -> dict:
    while (frame := await recv(ws))["event"] != event:
        pass
    return frame


async def still_served(served: Served, ws, tally: Tally) -> None:
    """The socket answers a ping, and a change made over HTTP reaches it."""
    await ws.send('{"type": "ping"}')
    tally.sent += 1
    assert (await recv(ws))["event"] == "pong", tally
    episode = await call(served.server, "POST", "/api/v1/episodes/", served.token, {"title": "Up"})
    created = await until(ws, "episode_created")
    assert created["data"]["episode"]["id"] == episode["id"], tally


async def subscribed_socket(served: Served, tally: Tally):
    ws = await websockets.connect(served.url, max_size=None)
    await ws.send('{"type": "subscribe", "topics": ["episodes"]}')
    tally.sent += 1
    await until(ws, "subscribed")
    return ws


async def quiet_log(served: Served, tally: Tally) -> None:
    """Once the server answered a new socket, it logged all it will about what came before."""
    async with websockets.connect(served.url) as ws:
        await ws.send('{"type": "ping"}')
        tally.sent += 1
        assert (await recv(ws))["event"] == "pong"
    await asyncio.sleep(0.2)
    print(f"\n{tally}")
    assert served.log_problems() == [], tally
    assert tally.dropped_without_close == 0, tally


def frame(
    opcode: int, payload: bytes = b"", *, fin: bool = True, mask: bool = True, **header: int
) -> bytes:
    """One client frame as bytes, valid or not: `length` claims another payload length
    than the payload's, `rsv` sets reserved bits."""
    length = header.get("length", len(payload))
    data = bytes([(0x80 if fin else 0) | header.get("rsv", 0) << 4 | opcode])
    masked = 0x80 if mask else 0
    if length < 126:
        data += bytes([masked | length])
    elif length < 2**16:
        data += bytes([masked | 126]) + struct.pack("!H", length)
    else:
        data += bytes([masked | 127]) + struct.pack("!Q", length)
    if mask:
        key = os.urandom(4)
        data += key
        payload = bytes(byte ^ key[i % 4] for i, byte in enumerate(payload))
    return data + payload


class RawSocket:
    """A WebSocket whose handshake is done by the book and whose frames are any bytes."""

    def __init__(self, url: str) -> None:
        self.uri = parse_uri(url)
        self.protocol = ClientProtocol(self.uri)

    async def open(self, wait_for_handshake: bool = True) -> "RawSocket":
        self.reader, self.writer = await asyncio.open_connection(self.uri.host, self.uri.port)
        self.protocol.send_request(self.protocol.connect())
        self.writer.write(b"".join(self.protocol.data_to_send()))
        await self.writer.drain()
        while wait_for_handshake and self.protocol.state is State.CONNECTING:
            self.protocol.receive_data(await asyncio.wait_for(self.reader.read(65536), 5))
        return self

    async def write(self, data: bytes) -> None:
        self.writer.write(data)
        await self.writer.drain()

    async def close_code(self, timeout: float = 5) -> int | None:
        """The code of the server's close frame, read up to the end of the connection; None
        when the connection ended without one."""
        while chunk := await asyncio.wait_for(self.reader.read(65536), timeout):
            self.protocol.receive_data(chunk)
        self.protocol.receive_eof()
        self.writer.close()
        close = self.protocol.close_rcvd
        return None if close is None else close.code


PROTOCOL_ERRORS = {
    "invalid UTF-8 in a text frame": (frame(0x1, b'{"type": "\xff"}'), 1007),
    "invalid UTF-8 across fragments": (
        frame(0x1, b'{"type": "\xe2\x82', fin=False) + frame(0x0, b'\xff"}'),
        1007,
    ),
    "invalid UTF-8 in a close reason": (frame(0x8, struct.pack("!H", 1000) + b"\xff"), 1007),
    "a reserved opcode": (frame(0x3, b"x"), 1002),
    "an unmasked frame": (frame(0x1, b'{"type": "ping"}', mask=False), 1002),
    "a continuation with nothing to continue": (frame(0x0, b"x"), 1002),
    "reserved bits set": (frame(0x1, b'{"type": "ping"}', rsv=0b100), 1002),
    "a fragmented ping": (frame(0x9, b"x", fin=False), 1002),
    "a ping too long for a control frame": (frame(0x9, b"x" * 126), 1002),
    "an invalid close code": (frame(0x8, struct.pack("!H", 999)), 1002),
    "a new message inside a fragmented one": (
        frame(0x1, b"{", fin=False) + frame(0x1, b"}"),
        1002,
    ),
    # The header alone: the server refuses it before any of the payload arrives.
    "a frame over the server's message limit": (
        frame(0x2, length=WS_MAX_MESSAGE_BYTES + 1)[:14],
        1009,
    ),
}


@pytest.mark.server
async def test_malformed_messages_to_a_real_server(served):
    tally = Tally()
    cases = [*MALFORMED, *TOLERATED]
    # A dozen cases a socket, each with its ping: within the burst the rate limit allows.
    for start in range(0, len(cases), 12):
        ws = await subscribed_socket(served, tally)
        try:
            for raw, expected in cases[start : start + 12]:
                await ws.send(raw)
                reply = await recv(ws)
                await ws.send('{"type": "ping"}')
                tally.sent += 2
                tally.errors += reply["event"] == "error"
                assert expected in reply["data"].get("message", reply["event"]), raw[:80]
                assert (await recv(ws))["event"] == "pong", raw[:80]
            await ws.send(b'{"type": "ping"}')
            tally.sent += 1
            assert (await recv(ws))["data"]["message"] == "Send text frames holding JSON."
            tally.errors += 1
            await still_served(served, ws, tally)
        except websockets.ConnectionClosed as closed:
            tally.dropped_without_close += closed.rcvd is None
            raise AssertionError(f"socket closed: {closed}; {tally}") from None
        finally:
            await ws.close()

    assert tally.errors == len(MALFORMED) + len(range(0, len(cases), 12)), tally
    await quiet_log(served, tally)


@pytest.mark.server
async def test_a_flood_is_slowed_down_and_the_socket_kept(served):
    tally = Tally()
    ws = await subscribed_socket(served, tally)
    flood = BURST * 3
    for _ in range(flood):
        await ws.send('{"type": "ping"}')
    tally.sent += flood
    replies = [(await recv(ws))["event"] for _ in range(flood)]
    tally.errors += replies.count("error")
    await asyncio.sleep(0.5)  # the bucket refills at 10 a second
    await still_served(served, ws, tally)
    await ws.close()

    assert replies.count("pong") < BURST + 10, tally
    assert replies.count("pong") + tally.errors == flood, tally
    await quiet_log(served, tally)


@pytest.mark.server
@pytest.mark.parametrize("case", PROTOCOL_ERRORS)
async def test_a_protocol_error_closes_that_socket_alone(served, case):
    data, code = PROTOCOL_ERRORS[case]
    tally = Tally()
    bystander = await subscribed_socket(served, tally)
    hostile = RawSocket(served.url)
    await hostile.open()
    await hostile.write(data)
    tally.sent += 1
    closed_with = await hostile.close_code()
    tally.dropped_without_close += closed_with is None

    await still_served(served, bystander, tally)
    await bystander.close()
    async with websockets.connect(served.url) as fresh:
        await fresh.send('{"type": "ping"}')
        tally.sent += 1
        assert (await recv(fresh))["event"] == "pong"

    assert closed_with == code, tally
    await quiet_log(served, tally)


@pytest.mark.server
async def test_hostile_credentials_over_a_real_server(served):
    tally = Tally()
    urls = [f"{served.server.ws}/ws/events/?token={token}" for token in HOSTILE_TOKENS]
    urls += [f"{served.url}{token}" for token in HOSTILE_TOKENS if token]
    attempts = [(url, {}) for url in urls] + [
        (f"{served.server.ws}/ws/events/", {"Origin": "http://localhost", "Cookie": cookie})
        for cookie in ("sessionid=abc%00", "sessionid=" + "a" * 5000, "sessionid=;;;=")
    ]
    for url, headers in attempts:
        async with websockets.connect(url, additional_headers=headers) as ws:
            with pytest.raises(websockets.ConnectionClosed) as closed:
                await recv(ws)
        tally.sent += 1
        tally.dropped_without_close += closed.value.rcvd is None
        assert closed.value.rcvd is not None and closed.value.rcvd.code == 4401, url[:120]

    await quiet_log(served, tally)


@pytest.mark.server
async def test_frames_sent_before_the_handshake_is_answered(served):
    """A client that does not wait for the server's answer: its bad frame may come while
    the application is still accepting, when no close frame can be sent yet."""
    tally = Tally()
    for _ in range(20):
        hostile = await RawSocket(served.url).open(wait_for_handshake=False)
        await asyncio.sleep(0.0005)
        await hostile.write(frame(0x3, b"x"))
        tally.sent += 1
        # uvicorn drops what came in one read with the handshake, and waits for more.
        with contextlib.suppress(TimeoutError):
            await hostile.close_code(timeout=0.5)
        hostile.writer.close()
    bystander = await subscribed_socket(served, tally)
    await still_served(served, bystander, tally)
    await bystander.close()

    await quiet_log(served, tally)
