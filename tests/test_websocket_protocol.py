"""The server's WebSocket protocol: one encoding per broadcast frame, uvicorn's behaviour kept.

A real uvicorn server with the protocol, in the test's event loop, and real `websockets`
clients; the application is a bare ASGI one that sends one text to every socket, as the hub
does.
"""

import asyncio

import pytest
import uvicorn
from uvicorn.protocols.utils import ClientDisconnected
from websockets.asyncio.client import connect
from websockets.frames import Frame, Opcode

from realtime.websocket_protocol import SharedFrameWebSocketProtocol
from tests.service_process import free_port


class BroadcastApp:
    def __init__(self) -> None:
        self.sends: list = []
        self.disconnects = 0

    async def __call__(self, scope, receive, send) -> None:
        await receive()
        await send({"type": "websocket.accept"})
        self.sends.append(send)
        while (await receive())["type"] != "websocket.disconnect":
            pass
        self.disconnects += 1

    async def broadcast(self, text: str) -> list[BaseException | None]:
        """Send `text` to every socket, as one object; what each send raised, if anything."""
        outcomes: list[BaseException | None] = []
        for send in self.sends:
            try:
                await send({"type": "websocket.send", "text": text})
                outcomes.append(None)
            except Exception as exc:
                outcomes.append(exc)
        return outcomes


@pytest.fixture
async def served():
    app = BroadcastApp()
    port = free_port()
    config = uvicorn.Config(
        app,
        host="127.0.0.1",
        port=port,
        ws=SharedFrameWebSocketProtocol,
        ws_per_message_deflate=False,
        lifespan="off",
        log_config=None,
    )
    server = uvicorn.Server(config)
    serving = asyncio.create_task(server.serve())
    while not server.started:
        await asyncio.sleep(0.01)
    yield app, f"ws://127.0.0.1:{port}/"
    server.should_exit = True
    await serving


async def _connected(app: BroadcastApp, url: str, count: int, **options) -> list:
    clients = [await connect(url, **options) for _ in range(count)]
    while len(app.sends) < count:
        await asyncio.sleep(0.01)
    return clients


@pytest.fixture
def server_text_frames(monkeypatch) -> list[bytes]:
    """Every unmasked text frame encoded in this process: the server's, not the clients'."""
    encoded = []
    serialize = Frame.serialize

    def counting(frame, *, mask, extensions=None):
        data = serialize(frame, mask=mask, extensions=extensions)
        if frame.opcode is Opcode.TEXT and not mask:
            encoded.append(data)
        return data

    monkeypatch.setattr(Frame, "serialize", counting)
    return encoded


async def test_a_broadcast_is_encoded_once_for_all_its_sockets(served, server_text_frames):
    app, url = served
    clients = await _connected(app, url, 3)
    # Lengths that take each of the three header forms: 7-bit, 16-bit and 64-bit.
    texts = ["short é", "m" * 300, "l" * 70_000]
    for text in texts:
        assert await app.broadcast(text) == [None, None, None]
    for client in clients:
        assert [await client.recv() for _ in texts] == texts
        await client.close()
    assert len(server_text_frames) == len(texts)


async def test_a_socket_its_client_closed_is_not_written_to(served):
    app, url = served
    leaving, staying = await _connected(app, url, 2)
    await leaving.close()
    while app.disconnects < 1:
        await asyncio.sleep(0.01)
    outcomes = await app.broadcast("after the close")
    assert isinstance(outcomes[0], ClientDisconnected)
    assert outcomes[1] is None
    assert await staying.recv() == "after the close"
    await staying.close()


async def test_a_socket_that_stopped_reading_holds_the_sender_and_loses_nothing(served):
    app, url = served
    # The client reads one message ahead at most, so the server's buffers fill.
    (reader,) = await _connected(app, url, 1, max_size=None, max_queue=1)
    texts = [f"{i:04d}" + "x" * 1_000_000 for i in range(40)]

    async def send_all() -> None:
        for text in texts:
            assert await app.broadcast(text) == [None]

    sending = asyncio.create_task(send_all())
    await asyncio.sleep(0.5)
    assert not sending.done(), "sends went on while the socket could take no more"
    received = [await reader.recv() for _ in texts]
    await sending
    assert [text[:4] for text in received] == [text[:4] for text in texts]
    assert received == texts
    await reader.close()


async def test_a_text_written_at_once_is_the_shared_frame_with_no_send(served, server_text_frames):
    app, url = served
    clients = await _connected(app, url, 2)

    written = [send.__self__.write_text_now("at once") for send in app.sends]

    assert written == [True, True]
    for client in clients:
        assert await client.recv() == "at once"
        await client.close()
    assert len(server_text_frames) == 1


async def test_a_socket_that_cannot_take_a_text_at_once_is_not_written_to(served):
    app, url = served
    (reader,) = await _connected(app, url, 1, max_size=None, max_queue=1)
    protocol = app.sends[0].__self__

    async def fill() -> None:
        while True:
            await app.broadcast("x" * 1_000_000)

    filling = asyncio.create_task(fill())
    while protocol.writable.is_set():
        await asyncio.sleep(0.01)
    assert protocol.write_text_now("while full") is False

    filling.cancel()
    await reader.close()
    while app.disconnects < 1:
        await asyncio.sleep(0.01)
    assert protocol.write_text_now("after the close") is False
