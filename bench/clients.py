"""A process holding many WebSocket clients, noting which events reach each and when.

Run by the benchmarks as `python -m bench.clients URL COUNT`. It connects COUNT clients,
each subscribing to `episodes`, and prints `READY <first connect> <last subscribed>` (Unix
times) once every one of them has its `subscribed` reply. It then waits for the line
`COLLECT EVENTS SECONDS` on its input: once every client holds EVENTS distinct events (or
SECONDS have passed), it prints one JSON line with every delivery's latency in ms (arrival here
minus the event's own timestamp, which is taken when its activity row is written, before the
commit), and which event ids each client received, and exits. An event arriving whole is
only noted with its time as it comes, and read after the run, so that a client's own work
delays the next client's reading as little as possible. Server pings are answered at once, as
any client must (uvicorn closes a socket that leaves one unanswered for 20 s).

The clients are a minimal RFC 6455 implementation on asyncio protocols (unmasked server
frames are simple to read), because a full client library spends more CPU per message than
the server does and would measure itself instead of the server.
"""

import asyncio
import base64
import json
import os
import re
import resource
import struct
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterator
from datetime import datetime
from urllib.parse import urlsplit

import uvloop

CONNECT_BATCH = 200
SUBSCRIBE_TIMEOUT_SECONDS = 120
READ_SECONDS = 0.2
_TIMESTAMP = re.compile(rb'"timestamp":"([^"]+)"')
_ID = re.compile(rb'^\{"id":(\d+)')
TEXT, PING, PONG = 0x1, 0x9, 0xA

# Hears each text frame that is no durable event, with its time of arrival.
OnControl = Callable[[float, bytes], None]


def raise_open_files_limit() -> None:
    """Each socket is a file: take the hard limit, for this process and those it starts."""
    _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


def masked_frame(payload: bytes, opcode: int = TEXT) -> bytes:
    mask = os.urandom(4)
    header = bytes([0x80 | opcode])
    if len(payload) < 126:
        header += bytes([0x80 | len(payload)])
    else:
        header += bytes([0x80 | 126]) + struct.pack("!H", len(payload))
    masked = bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
    return header + mask + masked


def latency_ms(arrived: float, payload: bytes) -> float:
    sent = datetime.fromisoformat(_field(_TIMESTAMP, payload).decode())
    return (arrived - sent.timestamp()) * 1000


def event_id(payload: bytes) -> int:
    return int(_field(_ID, payload))


def _field(pattern: re.Pattern[bytes], payload: bytes) -> bytes:
    """What `pattern`'s group finds in an event, which every durable event carries."""
    found = pattern.search(payload)
    if found is None:
        raise ValueError(f"no {pattern.pattern!r} in the event {payload[:200]!r}")
    return found.group(1)


def _single_text_payload(data: bytes) -> bytes | None:
    """The payload when `data` is exactly one whole unfragmented text frame, as a server
    nearly always sends an event; None for anything else."""
    if len(data) < 2 or data[0] != 0x81:
        return None
    length = data[1]
    if length < 126:
        return data[2:] if len(data) == 2 + length else None
    if length == 126 and len(data) >= 4 and len(data) == 4 + int.from_bytes(data[2:4]):
        return data[4:]
    return None


class ClientProtocol(asyncio.Protocol):
    """One socket subscribed to `topics`. Once subscribed, a text frame arriving whole is
    only noted, with its time, and read later (`read`), so that a client delays the next
    one's reading as little as possible: durable events (those with an id) go to `arrivals`,
    every other text frame to `on_control`. Anything else is read as it comes (a ping is
    answered at once: unanswered, the server closes the socket)."""

    def __init__(
        self, host: str, path: str, topics: list[str], on_control: OnControl | None = None
    ) -> None:
        self.request = (
            f"GET {path} HTTP/1.1\r\nHost: {host}\r\nUpgrade: websocket\r\n"
            "Connection: Upgrade\r\nSec-WebSocket-Version: 13\r\n"
            f"Sec-WebSocket-Key: {base64.b64encode(os.urandom(16)).decode()}\r\n\r\n"
        ).encode()
        self.topics = topics
        self.on_control = on_control
        self.arrivals: list[tuple[float, bytes]] = []
        self.unread: list[tuple[float, bytes]] = []
        self.buffer = b""
        self.upgraded = False
        self.ready = False
        self.closed = False
        self.subscribed = asyncio.get_running_loop().create_future()

    def connection_made(self, transport) -> None:
        self.transport = transport
        transport.write(self.request)

    def send_json(self, message: dict) -> None:
        self.transport.write(masked_frame(json.dumps(message).encode()))

    def data_received(self, data: bytes) -> None:
        arrived = time.time()
        if self.ready and not self.buffer:
            payload = _single_text_payload(data)
            if payload is not None:
                self.unread.append((arrived, payload))
                return
        self.buffer += data
        if not self.upgraded and not self._upgrade():
            return
        for opcode, payload in self._frames():
            if opcode == PING:
                self.transport.write(masked_frame(payload, PONG))
            elif opcode == TEXT:
                self.unread.append((arrived, payload))
        if not self.ready:
            self.read()

    def read(self) -> None:
        """Sort the text frames noted since the last read."""
        unread, self.unread = self.unread, []
        for arrived, payload in unread:
            if payload.startswith(b'{"id":null'):
                if b'"subscribed"' in payload and not self.subscribed.done():
                    self.ready = True
                    self.subscribed.set_result(True)
                elif self.on_control is not None:
                    self.on_control(arrived, payload)
            elif payload.startswith(b'{"id":'):
                self.arrivals.append((arrived, payload))

    def _upgrade(self) -> bool:
        head, sep, rest = self.buffer.partition(b"\r\n\r\n")
        if not sep:
            return False
        if b" 101 " not in head.split(b"\r\n", 1)[0]:
            self.subscribed.set_exception(RuntimeError(head[:200]))
            self.buffer = b""
            return False
        self.upgraded, self.buffer = True, rest
        self.send_json({"type": "subscribe", "topics": self.topics})
        return True

    def _frames(self) -> Iterator[tuple[int, bytes]]:
        """Complete frames in the buffer, as (opcode, payload); servers send them whole."""
        while len(self.buffer) >= 2:
            length = self.buffer[1] & 0x7F
            offset = 2
            if length == 126:
                if len(self.buffer) < 4:
                    return
                (length,) = struct.unpack("!H", self.buffer[2:4])
                offset = 4
            elif length == 127:
                if len(self.buffer) < 10:
                    return
                (length,) = struct.unpack("!Q", self.buffer[2:10])
                offset = 10
            if len(self.buffer) < offset + length:
                return
            payload = self.buffer[offset : offset + length]
            opcode = self.buffer[0] & 0x0F
            self.buffer = self.buffer[offset + length :]
            yield opcode, payload

    def distinct_events(self) -> int:
        return len({event_id(payload) for _, payload in self.arrivals})

    def connection_lost(self, exc) -> None:
        self.closed = True
        if not self.subscribed.done():
            self.subscribed.set_exception(ConnectionError("closed before subscribing"))


async def connect(
    url: str, count: int, topics: list[str], on_control: OnControl | None = None
) -> list[ClientProtocol]:
    """COUNT clients connected and subscribed, CONNECT_BATCH at a time."""
    parts = urlsplit(url)
    if parts.hostname is None or parts.port is None:
        raise ValueError(f"{url} names no host and port")
    path = f"{parts.path}?{parts.query}"
    loop = asyncio.get_running_loop()
    protocols = []
    for start in range(0, count, CONNECT_BATCH):
        batch = []
        for _ in range(min(CONNECT_BATCH, count - start)):
            _, protocol = await loop.create_connection(
                lambda: ClientProtocol(parts.netloc, path, topics, on_control),
                parts.hostname,
                parts.port,
            )
            batch.append(protocol.subscribed)
            protocols.append(protocol)
        await asyncio.wait_for(asyncio.gather(*batch), SUBSCRIBE_TIMEOUT_SECONDS)
    return protocols


def report(protocols: list[ClientProtocol]) -> dict:
    """Latencies of every delivery; the ids each client received, as a count of the clients
    per distinct sorted list (most clients share one); repeated deliveries; closed sockets."""
    latencies = []
    received: Counter[str] = Counter()
    repeated = 0
    for protocol in protocols:
        ids = [event_id(payload) for _, payload in protocol.arrivals]
        latencies += [latency_ms(*arrival) for arrival in protocol.arrivals]
        received[",".join(map(str, sorted(set(ids))))] += 1
        repeated += len(ids) - len(set(ids))
    return {
        "latencies": latencies,
        "received": dict(received),
        "repeated": repeated,
        "closed": sum(protocol.closed for protocol in protocols),
    }


async def wait_for_events(protocols: list[ClientProtocol], events: int, seconds: float) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        for protocol in protocols:
            protocol.read()
        if all(protocol.distinct_events() >= events for protocol in protocols):
            return
        await asyncio.sleep(READ_SECONDS)


async def main(url: str, count: int) -> None:
    started = time.time()
    protocols = await connect(url, count, ["episodes"])
    print(f"READY {started} {time.time()}", flush=True)
    command = await asyncio.get_running_loop().run_in_executor(None, sys.stdin.readline)
    _, events, seconds = command.split()
    await wait_for_events(protocols, int(events), float(seconds))
    print(json.dumps(report(protocols)), flush=True)
    for protocol in protocols:
        protocol.transport.close()


if __name__ == "__main__":
    raise_open_files_limit()
    uvloop.run(main(sys.argv[1], int(sys.argv[2])))
