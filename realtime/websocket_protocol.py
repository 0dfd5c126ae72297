"""uvicorn's WebSocket protocol, writing each broadcast frame as bytes encoded once and
logging a client's protocol errors as the client's.

The hub hands the very same event text to every socket subscribed to its topic. uvicorn
would frame it again for each of them (encode the text, build a websockets `Frame`, pack
its header, copy the payload): in a fan-out to a thousand sockets, about a quarter of the
time. A server's frames are unmasked and, with compression off, the same bytes for every
socket, so the frame of the text last seen is kept and written again as it is.

Only a text send on an open socket that takes writes at once goes this way (and the consumer
may write such a text straight away, `write_text_now`, with no coroutine at all); everything
else (the handshake, binary data, closing, a paused or closing socket) is uvicorn's own
`send`, which raises or waits as it always does.

A client's protocol error (invalid UTF-8, a bad opcode, an unmasked or oversized frame, a
continuation with nothing to continue) closes its socket as uvicorn does, with the code
websockets chose, and is logged as the client's mistake: one INFO line, no traceback.

Both lean on attributes of uvicorn's class that are not its public API, so `protocol()` gives
this class only on the uvicorn release it was written for (`UVICORN_WRITTEN_FOR`, checked by
tests/test_library_internals.py) and uvicorn's own protocol on any other: the server then
works as uvicorn does, framing each send itself.
"""

import importlib.metadata
import logging
from functools import cache
from typing import Any

from uvicorn.protocols.utils import get_client_addr, get_path_with_query_string
from uvicorn.protocols.websockets.websockets_sansio_impl import WebSocketsSansIOProtocol
from websockets.frames import CloseCode, Frame, Opcode
from websockets.protocol import State

UVICORN_WRITTEN_FOR = "0.54.0"
UVICORN_OWN = "websockets-sansio"

logger = logging.getLogger(__name__)

# The text last framed and its frame, as one pair, so that no reader sees one without the other.
_last: tuple[str | None, bytes] = (None, b"")


def text_frame(text: str) -> bytes:
    """The frame for `text`, encoded once however many sockets it goes to in a row."""
    global _last
    last_text, frame = _last
    if text is not last_text:
        frame = Frame(Opcode.TEXT, text.encode()).serialize(mask=False, extensions=[])
        _last = (text, frame)
    return frame


@cache
def protocol() -> type[WebSocketsSansIOProtocol] | str:
    """The WebSocket protocol for uvicorn's `ws` option."""
    installed = importlib.metadata.version("uvicorn")
    if installed == UVICORN_WRITTEN_FOR:
        return SharedFrameWebSocketProtocol
    logger.warning(
        "uvicorn %s is installed, not %s: WebSockets use uvicorn's own protocol "
        "(see realtime/websocket_protocol.py)",
        installed,
        UVICORN_WRITTEN_FOR,
    )
    return UVICORN_OWN


class SharedFrameWebSocketProtocol(WebSocketsSansIOProtocol):
    def send_receive_event_to_app(self) -> None:
        """uvicorn finds invalid UTF-8 only as it hands the text over, and logs it with a
        traceback; it is checked here first, closing with the same 1007."""
        if self.curr_msg_data_type == "text" and not self.close_sent:
            try:
                b"".join(self.frames).decode()
            except UnicodeDecodeError as exc:
                self.frames = []
                # As websockets fails a connection on the invalid UTF-8 it finds itself.
                self.conn.fail(CloseCode.INVALID_DATA, f"{exc.reason} at position {exc.start}")
                self.handle_parser_exception()
                return
        super().send_receive_event_to_app()

    def handle_parser_exception(self) -> None:
        close = self.conn.close_sent
        self.logger.info(
            '%s - "WebSocket %s" closed on the client\'s protocol error: %s',
            get_client_addr(self.scope),
            get_path_with_query_string(self.scope),
            close or "a frame before the handshake was answered",
        )
        if close is None:
            # No close frame may precede the handshake's answer, and uvicorn would assert
            # there was one: the connection just ends, and the application sees it end.
            self.transport.close()
            return
        super().handle_parser_exception()

    async def send(self, message: Any) -> None:
        if not (_is_plain_text(message) and self.write_text_now(message["text"])):
            await super().send(message)

    def write_text_now(self, text: str) -> bool:
        """Write a text message if the socket takes it at once, as `send` would, with no
        coroutine and no message dict: the hub's fan-out calls this for every socket. False,
        with nothing written, when `send` has to be awaited instead."""
        if not self._takes_text_now():
            return False
        self.transport.write(text_frame(text))
        return True

    def _takes_text_now(self) -> bool:
        return (
            self.handshake_complete
            and self.initial_response is None
            and not self.close_sent
            and not self.disconnected
            and self.writable.is_set()
            and self.conn.state is State.OPEN
            and not self.conn.expect_continuation_frame
            and not self.conn.extensions
        )


def _is_plain_text(message: Any) -> bool:
    return (
        message["type"] == "websocket.send"
        and isinstance(message.get("text"), str)
        and message.get("bytes") is None
    )
