"""Notifications reach the recipient's open sockets, and nobody else's."""

import asyncio
import json

import pytest
import websockets
from channels.db import database_sync_to_async

from activity.notifications import services
from episodes import services as episode_services
from tests.service_database import ServiceDatabase
from tests.service_process import Server, create_token, manage, manage_command
from tests.test_realtime_ws import change, connect, make_user, receive, subscribe

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(autouse=True)
async def _stop_hub():
    from realtime.hub import stop_hub

    yield
    await stop_hub()


deliver = database_sync_to_async(services.deliver_pending)


async def listening(token: str):
    """A socket whose consumer has registered its user's topic: the handshake is answered
    before the token is checked, so only an answer to a message shows it done."""
    ws = await connect(token)
    await ws.send_json_to({"type": "ping"})
    assert (await receive(ws))["event"] == "pong"
    return ws


async def test_a_notification_reaches_every_tab_of_its_recipient_only():
    await deliver()  # the cursor starts here
    writer, writer_token = await make_user("writer")
    producer, producer_token = await make_user("producer", is_staff=True)
    _, other_token = await make_user("other")
    tabs = [await listening(producer_token), await listening(producer_token)]
    writer_ws, other_ws = await listening(writer_token), await listening(other_token)

    await change(writer, episode_services.create_episode, data={"title": "Pilot"})
    await deliver()

    for tab in tabs:
        created, count = await receive(tab), await receive(tab)
        assert created["event"] == "notification_created"
        assert created["id"] is None and created["topic"] == f"user:{producer.pk}"
        assert created["data"]["title"] == "New episode: Pilot"
        assert created["data"]["type"] == "episode_created"
        assert count["event"] == "unread_count_changed"
        assert count["data"] == {"unread": 1, "capped": False}
    assert await writer_ws.receive_nothing(timeout=0.3)
    assert await other_ws.receive_nothing(timeout=0.1)
    for ws in (*tabs, writer_ws, other_ws):
        await ws.disconnect()


async def test_reading_elsewhere_updates_the_count_on_open_tabs():
    producer, producer_token = await make_user("producer", is_staff=True)
    ws = await listening(producer_token)
    sent = await database_sync_to_async(services.announce)(
        sender=(await make_user("boss", is_staff=True))[0], title="Wrap party", message=""
    )
    assert (await receive(ws))["event"] == "notification_created"
    assert (await receive(ws))["data"]["unread"] == 1

    await database_sync_to_async(services.mark_read)(sent[0])

    frame = await receive(ws)
    assert (frame["event"], frame["topic"]) == ("unread_count_changed", f"user:{producer.pk}")
    assert frame["data"] == {"unread": 0, "capped": False}
    await ws.disconnect()


async def test_no_client_can_subscribe_to_someone_elses_notifications():
    _, token = await make_user("curious")
    ws = await connect(token)

    error, _ = await subscribe(ws, ["user:1"])

    assert error["event"] == "error"
    assert "Unknown topic" in error["data"]["message"]
    await ws.disconnect()


@pytest.mark.server
async def test_a_write_through_the_api_notifies_a_staff_dashboard_of_the_running_service(
    tmp_path,
):
    database = await asyncio.to_thread(ServiceDatabase, tmp_path / "var")
    server = await asyncio.to_thread(
        Server(database.env, command=manage_command("serve", "--concurrency", "1")).start
    )
    try:
        code = (
            "from django.contrib.auth import get_user_model\n"
            "get_user_model().objects.create_user('producer', is_staff=True)\n"
        )
        await asyncio.to_thread(manage, database.env, "shell", "-c", code)
        producer_token = await asyncio.to_thread(create_token, database.env, "producer")
        writer_token = await asyncio.to_thread(create_token, database.env, "writer")
        async with websockets.connect(f"{server.ws}/ws/events/?token={producer_token}") as ws:
            await asyncio.to_thread(_create_episode, server, writer_token)
            frame = json.loads(await asyncio.wait_for(ws.recv(), 10))
        assert frame["event"] == "notification_created"
        assert frame["data"]["title"] == "New episode: Live pilot"
    finally:
        await asyncio.to_thread(server.stop)
        await asyncio.to_thread(database.drop)


def _create_episode(server: Server, token: str) -> None:
    import urllib.request

    request = urllib.request.Request(
        f"{server.http}/api/v1/episodes/",
        method="POST",
        data=json.dumps({"title": "Live pilot"}).encode(),
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        assert response.status == 201
