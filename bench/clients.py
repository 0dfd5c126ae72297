"""A process holding many WebSocket clients, timing when each event reaches each client.

Run by the benchmarks as `python -m bench.clients URL COUNT EVENTS`. Prints READY once every
client has subscribed to `episodes`, then, once COUNT x EVENTS deliveries are in (or after a
timeout), one JSON line with each delivery's latency in ms: arrival here minus the event's
own timestamp, which is taken when its activity row is written, before the commit. Each
arrival is noted with the raw frame, and timestamps are parsed only after the run, so that
a client's own work delays the next client's reading as little as possible.

The clients are a minimal RFC 6455 implementation on asyncio protocols (unmasked server
frames are simple to read), because a full client library spends more CPU per message than
the server does and would measure itself instead of the server.
"""

import asyncio
import base64
import json
import os
import re
import struct
import sys
import time
from datetime import datetime
from urllib.parse import urlsplit

import uvloop

CONNECT_BATCH = 200
_TIMESTAMP = re.compile(rb'"timestamp":"([^"]+)"')


def _masked_text_frame(text: str) -> bytes:
    payload = text.encode()
    mask = os.urandom(4)
    header = bytes([0x81])
    if len(payload) < 126:
        header += bytes([0x80 | len(payload)])
    else:
        header += bytes([0x80 | 126]) + struct.pack("!H", len(payload))
    masked = bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
    return header + mask + masked


def _latency_ms(arrived: float, payload: bytes) -> float:
    sent = datetime.fromisoformat(_TIMESTAMP.search(payload).group(1).decode())
    return (arrived - sent.timestamp()) * 1000


class ClientProtocol(asyncio.Protocol):
    def __init__(self, host: str, path: str, arrivals: list[tuple[float, bytes]]) -> None:
        self.request = (
            f"GET {path} HTTP/1.1\r\nHost: {host}\r\nUpgrade: websocket\r\n"
            "Connection: Upgrade\r\nSec-WebSocket-Version: 13\r\n"
            f"Sec-WebSocket-Key: {base64.b64encode(os.urandom(16)).decode()}\r\n\r\n"
        ).encode()
        self.arrivals = arrivals
        self.buffer = b""
        self.upgraded = False
        self.subscribed = asyncio.get_running_loop().create_future()

    def connection_made(self, transport) -> None:
        self.transport = transport
        transport.write(self.request)

    def data_received(self, data: bytes) -> None:
        arrived = time.time()
        self.buffer += data
        if not self.upgraded:
            head, sep, rest = self.buffer.partition(b"\r\n\r\n")
            if not sep:
                return
            if b" 101 " not in head.split(b"\r\n", 1)[0]:
                self.subscribed.set_exception(RuntimeError(head[:200]))
                return
            self.upgraded, self.buffer = True, rest
            self.transport.write(
                _masked_text_frame(json.dumps({"type": "subscribe", "topics": ["episodes"]}))
            )
        for payload in self._frames():
            if payload.startswith(b'{"id":null'):
                if b'"subscribed"' in payload and not self.subscribed.done():
                    self.subscribed.set_result(True)
            elif payload.startswith(b'{"id":'):
                self.arrivals.append((arrived, payload))

    def _frames(self):
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
            self.buffer = self.buffer[offset + length :]
            yield payload

    def connection_lost(self, exc) -> None:
        if not self.subscribed.done():
            self.subscribed.set_exception(ConnectionError("closed before subscribing"))


async def main(url: str, count: int, events: int) -> None:
    parts = urlsplit(url)
    path = f"{parts.path}?{parts.query}"
    loop = asyncio.get_running_loop()
    arrivals: list[tuple[float, bytes]] = []
    protocols = []
    for start in range(0, count, CONNECT_BATCH):
        batch = []
        for _ in range(min(CONNECT_BATCH, count - start)):
            _, protocol = await loop.create_connection(
                lambda: ClientProtocol(parts.netloc, path, arrivals),
                parts.hostname,
                parts.port,
            )
            batch.append(protocol.subscribed)
            protocols.append(protocol)
        await asyncio.wait_for(asyncio.gather(*batch), 120)
    print("READY", flush=True)
    deadline = time.monotonic() + 60 + events * 2
    while len(arrivals) < count * events and time.monotonic() < deadline:
        await asyncio.sleep(0.05)
    print(json.dumps({"latencies": [_latency_ms(*arrival) for arrival in arrivals]}), flush=True)
    for protocol in protocols:
        protocol.transport.close()


if __name__ == "__main__":
    uvloop.run(main(sys.argv[1], int(sys.argv[2]), int(sys.argv[3])))
