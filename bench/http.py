import http.client
import json

from tests.service_process import Server


def post_json(server: Server, path: str, token: str, body: dict) -> dict:
    return request(http.client.HTTPConnection("127.0.0.1", server.port), "POST", path, token, body)


def request(
    connection: http.client.HTTPConnection, method: str, path: str, token: str, body: dict
) -> dict:
    connection.request(
        method,
        path,
        body=json.dumps(body),
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
    )
    response = connection.getresponse()
    payload = response.read()
    if response.status >= 300:
        raise RuntimeError(f"{method} {path}: {response.status} {payload[:200]!r}")
    return json.loads(payload) if payload else {}
