"""A 1 GB upload and its download through one server process: throughput, and the server's
peak memory, which must stay flat however large the file."""

import hashlib
import http.client
import json
import time
import uuid
from urllib.parse import urlsplit

from bench.http import post_json
from tests.service_process import Server
from tests.streaming_upload import multipart_stream, peak_rss

SIZE_MB = 1024
MB = 1024 * 1024


def large_file(env: dict[str, str], token: str) -> list[str]:
    server = Server(env).start()
    try:
        episode = post_json(server, "/api/v1/episodes/", token, {"title": "Bench rushes"})
        before = peak_rss(server)
        started = time.perf_counter()
        uploaded = _upload(server, token, episode["id"])
        upload_seconds = time.perf_counter() - started
        after_upload = peak_rss(server)
        started = time.perf_counter()
        _download(server, token, urlsplit(uploaded["download_url"]).path)
        download_seconds = time.perf_counter() - started
        after_download = peak_rss(server)
    finally:
        server.stop()
    return [
        f"{SIZE_MB} MB upload: {SIZE_MB / upload_seconds:.0f} MB/s; download: "
        f"{SIZE_MB / download_seconds:.0f} MB/s",
        f"server peak RSS: {before / MB:.0f} MB before, {after_upload / MB:.0f} MB after the "
        f"upload, {after_download / MB:.0f} MB after the download",
    ]


def _upload(server: Server, token: str, episode_id: str) -> dict:
    boundary = uuid.uuid4().hex
    length, body = multipart_stream(boundary, SIZE_MB * MB, hashlib.sha256())
    connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=600)
    connection.request(
        "POST",
        f"/api/v1/episodes/{episode_id}/files/",
        body=body,
        headers={
            "Authorization": f"Bearer {token}",
            "Content-Type": f"multipart/form-data; boundary={boundary}",
            "Content-Length": str(length),
        },
    )
    response = connection.getresponse()
    payload = response.read()
    connection.close()
    if response.status != 201:
        raise RuntimeError(f"upload: {response.status} {payload[:200]!r}")
    return json.loads(payload)


def _download(server: Server, token: str, path: str) -> None:
    connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=600)
    connection.request("GET", path, headers={"Authorization": f"Bearer {token}"})
    response = connection.getresponse()
    while response.read(MB):
        pass
    connection.close()
