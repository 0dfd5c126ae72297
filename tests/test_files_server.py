"""Files through a real server process (`manage.py serve`: uvicorn and the job worker):
a 200 MB upload and its download stream through without growing the server's memory."""

import hashlib
import http.client
import json
import time
import uuid
from contextlib import closing
from urllib.parse import urlsplit

import pytest

from tests.service_database import ServiceDatabase
from tests.service_process import Server, create_token, manage_command
from tests.streaming_upload import multipart_stream, peak_rss

pytestmark = pytest.mark.server

MB = 1024 * 1024
UPLOAD_MB = 200
# How much the server may grow while 200 MB pass through it: a few chunks and buffers.
MEMORY_GROWTH_LIMIT = 48 * MB


@pytest.fixture
def served(tmp_path):
    database = ServiceDatabase(tmp_path / "var")
    server = Server(database.env, command=manage_command("serve", "--concurrency", "1")).start()
    token = create_token(database.env)
    yield server, token
    server.stop()
    database.drop()


def request(server: Server, token: str, method: str, path: str, body=None, headers=None):
    connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=120)
    connection.request(
        method, path, body=body, headers={"Authorization": f"Bearer {token}", **(headers or {})}
    )
    return connection, connection.getresponse()


def json_request(server, token, method, path, payload=None) -> dict:
    body = json.dumps(payload).encode() if payload is not None else None
    headers = {"Content-Type": "application/json"} if body else {}
    connection, response = request(server, token, method, path, body, headers)
    with closing(connection):
        return json.loads(response.read())


def test_a_200_mb_upload_and_download_keep_the_server_memory_flat(served):
    server, token = served
    episode = json_request(server, token, "POST", "/api/v1/episodes/", {"title": "Rushes"})
    json_request(server, token, "GET", f"/api/v1/episodes/{episode['id']}/files/")
    before = peak_rss(server)

    sent = hashlib.sha256()
    boundary = uuid.uuid4().hex
    length, body = multipart_stream(boundary, UPLOAD_MB * MB, sent)
    connection, response = request(
        server,
        token,
        "POST",
        f"/api/v1/episodes/{episode['id']}/files/",
        body,
        {"Content-Type": f"multipart/form-data; boundary={boundary}", "Content-Length": length},
    )
    with closing(connection):
        uploaded = json.loads(response.read())
    after_upload = peak_rss(server)

    assert response.status == 201, uploaded
    assert uploaded["kind"] == "video"
    assert uploaded["size"] == UPLOAD_MB * MB
    assert uploaded["sha256"] == sent.hexdigest()

    received = hashlib.sha256()
    connection, response = request(server, token, "GET", urlsplit(uploaded["download_url"]).path)
    with closing(connection):
        assert response.status == 200
        assert int(response.getheader("Content-Length")) == UPLOAD_MB * MB
        while chunk := response.read(MB):
            received.update(chunk)
    after_download = peak_rss(server)

    assert received.hexdigest() == sent.hexdigest()
    print(
        f"server peak RSS: {before / MB:.0f} MB before, {after_upload / MB:.0f} MB after a "
        f"{UPLOAD_MB} MB upload, {after_download / MB:.0f} MB after downloading it"
    )
    assert after_upload - before < MEMORY_GROWTH_LIMIT
    assert after_download - before < MEMORY_GROWTH_LIMIT

    # The worker inside the server reads the stored bytes back and finds them intact.
    detail_path = f"/api/v1/episodes/{episode['id']}/files/{uploaded['id']}/"
    deadline = time.monotonic() + 60
    while not (detail := json_request(server, token, "GET", detail_path))["metadata"]:
        assert time.monotonic() < deadline, "the metadata job did not finish"
        time.sleep(0.2)
    assert detail["metadata"]["checksum_verified"] is True
