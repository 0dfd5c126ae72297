"""Oversized and hostile bodies through a real server process (uvicorn under `manage.py
serve`), whose requests Django reads from a spooled file: the same answers as in-process,
and nothing louder than a WARNING in the server's log."""

import http.client
import json
import secrets
import socket
import time
from contextlib import closing

import pytest

from tests.service_database import ServiceDatabase
from tests.service_process import Server, create_token, manage_command

pytestmark = pytest.mark.server

MB = 1024 * 1024


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    var_dir = tmp_path_factory.mktemp("hostile") / "var"
    database = ServiceDatabase(var_dir)
    log = var_dir / "server.log"
    command = manage_command("serve", "--no-worker")
    server = Server(database.env, port=18100 + secrets.randbelow(900), command=command, log=log)
    server.start()
    yield server, create_token(database.env), log
    server.stop()
    database.drop()


def post(served, body: bytes) -> tuple[int, dict]:
    server, token, _ = served
    connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=60)
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
    connection.request("POST", "/api/v1/episodes/", body=body, headers=headers)
    with closing(connection):
        response = connection.getresponse()
        return response.status, json.loads(response.read())


def log_levels(log) -> set[str]:
    return {json.loads(line)["level"] for line in log.read_text().splitlines() if line[:1] == "{"}


def test_a_50_mb_body_is_a_413_naming_the_limit(served):
    status, body = post(served, b'{"title": "' + b"x" * (50 * MB) + b'"}')

    assert status == 413
    assert body == {"detail": "Request body too large (limit 2.5 MB)."}


def test_deep_nesting_is_a_400(served):
    status, body = post(served, b"[" * 3000 + b"]" * 3000)

    assert status == 400
    assert "nested" in body["detail"]


def test_the_server_logs_no_error_for_any_of_them(served):
    post(served, b'{"title": "' + b"x" * (3 * MB) + b'"}')
    post(served, b"[" * 3000 + b"]" * 3000)

    assert "WARNING" in log_levels(served[2])
    assert log_levels(served[2]) <= {"INFO", "WARNING"}


def leave_after_sending(served, body: bytes, *, send: int | None = None) -> None:
    """A client that sends a POST (all of it, or its first `send` bytes) and goes away
    without reading the answer."""
    server, token, _ = served
    head = (
        f"POST /api/v1/episodes/ HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {token}\r\n"
        f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n"
    ).encode()
    with socket.create_connection(("127.0.0.1", server.port), timeout=10) as client:
        client.sendall((head + body)[: None if send is None else len(head) + send])


def test_clients_that_go_away_mid_request_leave_no_error_and_lose_no_write(served):
    server, token, log = served
    titles = [f"Abandoned {secrets.token_hex(4)}" for _ in range(30)]
    for title in titles:
        leave_after_sending(served, json.dumps({"title": title}).encode())
    leave_after_sending(served, b'{"title": "' + b"x" * (1 * MB) + b'"}', send=100_000)

    def created() -> set[str]:
        connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=30)
        with closing(connection):
            connection.request(
                "GET",
                "/api/v1/episodes/?search=Abandoned&page_size=100",
                headers={"Authorization": f"Bearer {token}"},
            )
            return {row["title"] for row in json.loads(connection.getresponse().read())["results"]}

    deadline = time.monotonic() + 20
    while created() != set(titles) and time.monotonic() < deadline:
        time.sleep(0.2)

    assert created() == set(titles)
    lines = log.read_text()
    assert "Traceback" not in lines
    assert log_levels(log) <= {"INFO", "WARNING"}
