"""One POST of a webhook: to a checked address, with timeouts, no redirects followed and at
most a few kilobytes of the answer read."""

import http.client
import socket
import ssl
import time
from dataclasses import dataclass
from urllib.parse import urlsplit

from realtime.webhooks import addresses

CONNECT_TIMEOUT_SECONDS = 5.0
TOTAL_TIMEOUT_SECONDS = 15.0
MAX_RESPONSE_BYTES = 64 * 1024
USER_AGENT = "episode-metadata-webhooks/1.0"


class SendError(Exception):
    """The request got no HTTP answer (refused address, connection, TLS, timeout)."""


@dataclass(frozen=True)
class Answer:
    status: int
    excerpt: str  # the start of the body, for the delivery's record


class _Connection(http.client.HTTPConnection):
    """HTTP to an address resolved and checked beforehand, naming the host in `Host`."""

    def __init__(self, host: str, port: int, address: str) -> None:
        super().__init__(host, port, timeout=CONNECT_TIMEOUT_SECONDS)
        self.address = address

    def connect(self) -> None:
        self.sock = socket.create_connection((self.address, self.port), self.timeout)


class _TLSConnection(_Connection):
    """HTTPS likewise: the certificate is checked against the host name, not the address."""

    def connect(self) -> None:
        super().connect()
        self.sock = ssl.create_default_context().wrap_socket(self.sock, server_hostname=self.host)


def post(url: str, body: bytes, headers: dict[str, str]) -> Answer:
    host, port, address = addresses.target(url)  # RefusedAddress is a ValueError, not sent
    parts = urlsplit(url)
    kind = _TLSConnection if parts.scheme == "https" else _Connection
    connection = kind(host, port, address)
    deadline = time.monotonic() + TOTAL_TIMEOUT_SECONDS
    path = parts.path or "/"
    if parts.query:
        path = f"{path}?{parts.query}"
    try:
        connection.request(
            "POST",
            path,
            body=body,
            headers={**headers, "Content-Type": "application/json", "User-Agent": USER_AGENT},
        )
        _remaining(connection, deadline)
        response = connection.getresponse()
        return Answer(response.status, _read_capped(connection, response, deadline))
    except (OSError, http.client.HTTPException) as exc:
        raise SendError(_describe(exc)) from exc
    finally:
        connection.close()


def _remaining(connection: _Connection, deadline: float) -> None:
    """Every wait after the connection gets what is left of the total time."""
    left = deadline - time.monotonic()
    if left <= 0:
        raise TimeoutError(f"no answer within {TOTAL_TIMEOUT_SECONDS:g} s")
    if connection.sock is not None:
        connection.sock.settimeout(left)


def _read_capped(
    connection: _Connection, response: http.client.HTTPResponse, deadline: float
) -> str:
    received = b""
    while len(received) < MAX_RESPONSE_BYTES:
        _remaining(connection, deadline)
        chunk = response.read1(MAX_RESPONSE_BYTES - len(received))
        if not chunk:
            break
        received += chunk
    return received[:500].decode("utf-8", "replace")


def _describe(exc: BaseException) -> str:
    if isinstance(exc, TimeoutError):
        return f"timed out: {exc}" if str(exc) else "timed out"
    return f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
