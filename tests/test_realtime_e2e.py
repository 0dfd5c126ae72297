"""The event stream end to end: real server processes, the `websockets` client, HTTP writes."""

import asyncio
import json
import os
import urllib.request
import uuid

import psycopg
import pytest
import websockets

from tests.service_process import Server, create_token, manage, service_env

pytestmark = pytest.mark.server


def http(server: Server, method: str, path: str, token: str, body: dict | None = None) -> dict:
    request = urllib.request.Request(
        server.http + path,
        method=method,
        data=json.dumps(body).encode() if body is not None else None,
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=30) as response:
        raw = response.read()
    return json.loads(raw) if raw else {}


async def call(server, method, path, token, body=None) -> dict:
    return await asyncio.to_thread(http, server, method, path, token, body)


async def next_event(ws, timeout: float = 5) -> dict:
    while True:
        frame = json.loads(await asyncio.wait_for(ws.recv(), timeout))
        if frame["id"] is not None or frame["event"] == "resync_required":
            return frame


async def subscribe(ws, topics, after=None) -> list[dict]:
    message = {"type": "subscribe", "topics": topics}
    if after is not None:
        message["after"] = after
    await ws.send(json.dumps(message))
    replayed: list[dict] = []
    while True:
        frame = json.loads(await asyncio.wait_for(ws.recv(), 5))
        if frame["event"] == "subscribed":
            return replayed
        replayed.append(frame)


@pytest.fixture(scope="module")
def embedded(tmp_path_factory):
    env = service_env(VAR_DIR=str(tmp_path_factory.mktemp("var")))
    manage(env, "migrate", "--noinput")
    token = create_token(env)
    server = Server(env).start()
    yield server, token
    server.stop()


async def test_http_writes_reach_a_websocket_client(embedded):
    server, token = embedded
    async with websockets.connect(f"{server.ws}/ws/events/?token={token}") as ws:
        await subscribe(ws, ["episodes"])
        episode = await call(server, "POST", "/api/v1/episodes/", token, {"title": "E2E"})
        created = await next_event(ws)
        await call(
            server, "PATCH", f"/api/v1/episodes/{episode['id']}/", token, {"status": "pending"}
        )
        updated = await next_event(ws)

    assert created["event"] == "episode_created"
    assert created["data"]["episode"]["id"] == episode["id"]
    assert updated["event"] == "episode_updated"
    assert updated["data"]["changed_fields"] == ["status"]


async def test_reconnecting_with_after_receives_exactly_the_missed_events(embedded):
    server, token = embedded
    async with websockets.connect(f"{server.ws}/ws/events/?token={token}") as ws:
        await subscribe(ws, ["episodes"])
        episode = await call(server, "POST", "/api/v1/episodes/", token, {"title": "Resume"})
        last_seen = (await next_event(ws))["id"]

    path = f"/api/v1/episodes/{episode['id']}/"
    await call(server, "PATCH", path, token, {"title": "Resume 2"})
    await call(server, "DELETE", path, token)

    async with websockets.connect(f"{server.ws}/ws/events/?token={token}") as ws:
        frames = await subscribe(ws, ["episodes"], after=last_seen)
        await call(server, "POST", f"{path}restore/", token)
        # What the server had not read yet when the subscription began follows live.
        while not frames or frames[-1]["event"] != "episode_restored":
            frames.append(await next_event(ws))

    assert [f["event"] for f in frames] == [
        "episode_updated",
        "episode_deleted",
        "episode_restored",
    ]
    ids = [f["id"] for f in frames]
    assert ids == sorted(set(ids)) and ids[0] > last_seen


async def test_unauthenticated_socket_is_closed_with_4401(embedded):
    server, _ = embedded
    async with websockets.connect(f"{server.ws}/ws/events/") as ws:
        with pytest.raises(websockets.ConnectionClosed) as closed:
            await asyncio.wait_for(ws.recv(), 5)

    assert closed.value.rcvd.code == 4401


POSTGRES = os.environ.get("DATABASE_URL", "")
REDIS = os.environ.get("REDIS_URL", "")


@pytest.fixture
def postgres_database():
    """A database of its own for the server processes, dropped afterwards."""
    name = f"episodes_e2e_{uuid.uuid4().hex[:8]}"
    admin_url = POSTGRES.rsplit("/", 1)[0] + "/postgres"
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    yield POSTGRES.rsplit("/", 1)[0] + f"/{name}"
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.mark.skipif(
    not (POSTGRES.startswith("postgres") and REDIS),
    reason="needs DATABASE_URL (PostgreSQL) and REDIS_URL",
)
async def test_a_write_through_one_server_reaches_a_client_of_another(postgres_database):
    env = service_env(
        DATABASE_URL=postgres_database, REDIS_URL=REDIS, SECRET_KEY="e2e-" + uuid.uuid4().hex
    )
    manage(env, "migrate", "--noinput")
    token = create_token(env)
    first, second = Server(env).start(), Server(env).start()
    try:
        async with websockets.connect(f"{first.ws}/ws/events/?token={token}") as ws:
            await subscribe(ws, ["episodes"])
            episode = await call(second, "POST", "/api/v1/episodes/", token, {"title": "Across"})
            # Under the hubs' poll interval: the wake-up came through Redis, not the fallback poll.
            frame = await next_event(ws, timeout=1.5)
    finally:
        first.stop()
        second.stop()

    assert frame["event"] == "episode_created"
    assert frame["data"]["episode"]["id"] == episode["id"]
