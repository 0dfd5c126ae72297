"""Presence across real server processes sharing one database, one of them killed outright."""

import asyncio
import contextlib
import json
import os
import signal
import time

import pytest
import websockets

from tests.service_database import ON_POSTGRES, REDIS, ServiceDatabase
from tests.service_process import Server, create_tokens
from tests.test_realtime_e2e import call

pytestmark = pytest.mark.server

# The processes read their expiry from the environment; the sweep runs five times per TTL.
TTL = 2.0
SWEEP = TTL / 5


@pytest.fixture
def database(tmp_path):
    database = ServiceDatabase(tmp_path / "var", PRESENCE_TTL_SECONDS=str(TTL))
    yield database
    database.drop()


def names(viewers: list[dict]) -> list[str]:
    return [viewer["username"] for viewer in viewers]


async def subscribe(ws, topics: list[str]) -> dict:
    await ws.send(json.dumps({"type": "subscribe", "topics": topics}))
    while True:
        frame = json.loads(await asyncio.wait_for(ws.recv(), 5))
        if frame["event"] == "subscribed":
            return frame


async def presence_event(ws, timeout: float = 5) -> dict:
    deadline = time.monotonic() + timeout
    while True:
        frame = json.loads(await asyncio.wait_for(ws.recv(), deadline - time.monotonic()))
        if frame["event"] == "presence_changed":
            return frame


@contextlib.asynccontextmanager
async def heartbeats(ws, every: float = TTL / 4):
    async def beat():
        while True:
            await ws.send(json.dumps({"type": "ping"}))
            await asyncio.sleep(every)

    task = asyncio.create_task(beat())
    try:
        yield
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)


def kill(server: Server) -> None:
    """As a crash or the OOM killer would: no disconnect handler runs."""
    os.killpg(server.process.pid, signal.SIGKILL)
    server.process.wait()


async def test_a_killed_process_viewers_leave_another_process_lists(database):
    alice, bob = create_tokens(database.env, ("alice", "approver"), ("bob", "approver"))
    first, second = Server(database.env).start(), Server(database.env).start()
    try:
        episode = await call(first, "POST", "/api/v1/episodes/", alice, {"title": "Shared"})
        detail = f"/api/v1/episodes/{episode['id']}/"
        crashing = await websockets.connect(f"{second.ws}/ws/events/?token={bob}")
        await subscribe(crashing, [f"episode:{episode['id']}"])
        subscribed_at = time.monotonic()
        seen_by_alice = await call(first, "GET", detail, alice)
        listed = await call(first, "GET", f"{detail}viewers/", alice)

        kill(second)
        # The first process has no sockets, so nothing sweeps: its lists leave the row out.
        while "bob" in names(await call(first, "GET", f"{detail}viewers/", alice)):
            await asyncio.sleep(0.1)
        gone_after = time.monotonic() - subscribed_at
        rows = database.rows("SELECT COUNT(*) FROM realtime_presence WHERE connection <> 'http'")
        crashing.transport.abort()
    finally:
        first.stop()
        second.stop()

    assert names(seen_by_alice["viewers"]) == ["bob"]
    assert names(listed) == ["bob", "alice"]
    assert gone_after < TTL + 1
    assert rows == [(1,)]


@pytest.mark.skipif(
    not (ON_POSTGRES and REDIS),
    reason="needs DATABASE_URL (PostgreSQL) and REDIS_URL: events reach other processes "
    "through Redis",
)
async def test_a_viewer_of_one_process_is_seen_from_another_until_its_process_dies(database):
    alice, bob = create_tokens(database.env, ("alice", "approver"), ("bob", "approver"))
    first, second = Server(database.env).start(), Server(database.env).start()
    try:
        episode = await call(first, "POST", "/api/v1/episodes/", alice, {"title": "Shared"})
        topic = f"episode:{episode['id']}"
        async with websockets.connect(f"{first.ws}/ws/events/?token={alice}") as watching:
            await subscribe(watching, [topic])
            async with heartbeats(watching):
                crashing = await websockets.connect(f"{second.ws}/ws/events/?token={bob}")
                bob_ack = await subscribe(crashing, [topic])
                last_heartbeat = time.monotonic()
                joined = await presence_event(watching)

                kill(second)
                left = await presence_event(watching, timeout=TTL + SWEEP + 5)
                waited = time.monotonic() - last_heartbeat
                listed = await call(
                    first, "GET", f"/api/v1/episodes/{episode['id']}/viewers/", alice
                )
            crashing.transport.abort()
        bob_rows = database.rows(
            "SELECT COUNT(*) FROM realtime_presence p JOIN auth_user u ON u.id = p.user_id "
            "WHERE u.username = 'bob'"
        )
    finally:
        first.stop()
        second.stop()

    assert names(bob_ack["data"]["viewers"][episode["id"]]) == ["alice", "bob"]
    assert joined["data"]["change"] == "joined"
    assert joined["data"]["user"]["username"] == "bob"
    assert names(joined["data"]["viewers"]) == ["alice", "bob"]
    assert left["data"]["change"] == "left"
    assert left["data"]["user"]["username"] == "bob"
    assert names(left["data"]["viewers"]) == ["alice"]
    assert waited < TTL + SWEEP + 1.5
    assert names(listed) == ["alice"]
    # The first process's sweeper deleted the dead process's row, and announced it once.
    assert bob_rows == [(0,)]
