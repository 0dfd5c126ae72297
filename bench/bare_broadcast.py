"""The floor under the service's fan-out: a minimal ASGI app on the same server stack.

Run as `python -m bench.bare_broadcast PORT`: uvicorn configured as `manage.py serve` runs it
(the same WebSocket protocol, compression off), holding WebSockets that answer a `subscribe`
with `subscribed`, as the service does. `POST /broadcast` takes its time as the event's
timestamp, encodes one envelope around the JSON body it was given and sends that same text to
every socket, then answers with the event's id. No database, no hub, no consumer: what is left
is what the server itself costs, for comparison with the service in the same run.
"""

import itertools
import json
import sys
from datetime import UTC, datetime

import uvicorn

from realtime import websocket_protocol

_sockets: set = set()
_ids = itertools.count(1)
SUBSCRIBED = json.dumps(
    {"id": None, "event": "subscribed", "topic": None, "data": {"topics": ["episodes"]}},
    separators=(",", ":"),
)


async def app(scope, receive, send) -> None:
    if scope["type"] == "websocket":
        await _websocket(receive, send)
    elif scope["type"] == "http":
        await _broadcast(receive, send)


async def _websocket(receive, send) -> None:
    while True:
        message = await receive()
        if message["type"] == "websocket.connect":
            await send({"type": "websocket.accept"})
        elif message["type"] == "websocket.receive":
            if json.loads(message["text"]).get("type") == "subscribe":
                _sockets.add(send)
                await send({"type": "websocket.send", "text": SUBSCRIBED})
        elif message["type"] == "websocket.disconnect":
            _sockets.discard(send)
            return


async def _broadcast(receive, send) -> None:
    timestamp = datetime.now(UTC).isoformat()
    body = b""
    while True:
        message = await receive()
        body += message.get("body", b"")
        if not message.get("more_body"):
            break
    event_id = next(_ids)
    frame = json.dumps(
        {
            "id": event_id,
            "event": "episode_created",
            "topic": "episodes",
            "data": json.loads(body or b"{}"),
            "timestamp": timestamp,
        },
        separators=(",", ":"),
    )
    for socket_send in tuple(_sockets):
        try:
            await socket_send({"type": "websocket.send", "text": frame})
        except Exception:  # a client of an earlier round, going as this one is sent
            _sockets.discard(socket_send)
    answer = json.dumps({"id": event_id}).encode()
    await send(
        {
            "type": "http.response.start",
            "status": 200,
            "headers": [(b"content-type", b"application/json")],
        }
    )
    await send({"type": "http.response.body", "body": answer})


def command(app_path: str, port: int) -> list[str]:
    """A `tests.service_process.Server` command starting this server."""
    return [sys.executable, "-m", "bench.bare_broadcast", str(port)]


if __name__ == "__main__":
    uvicorn.Server(
        uvicorn.Config(
            app,
            port=int(sys.argv[1]),
            access_log=False,
            lifespan="off",
            ws=websocket_protocol.protocol(),
            ws_per_message_deflate=False,
        )
    ).run()
