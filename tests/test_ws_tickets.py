"""WebSocket tickets: minted over REST with any of the API's credentials, each letting one
socket onto `/ws/events/` once, within seconds; on the real database and WebSocket stack."""

import asyncio
import json
import urllib.error
import urllib.request
from datetime import timedelta

import pytest
import websockets
from asgiref.sync import sync_to_async
from channels.db import database_sync_to_async
from channels.testing import WebsocketCommunicator
from django.utils import timezone
from rest_framework.test import APIClient

from episode_metadata.asgi import application
from episode_metadata.common.throttles import ScopedRateThrottleOpenWhileRedisIsDown
from realtime import services
from realtime.consumers import UNAUTHENTICATED
from realtime.hub import stop_hub
from realtime.models import WebSocketTicket
from tests.service_database import ServiceDatabase
from tests.service_process import Server, create_token
from tests.test_realtime_e2e import call
from tests.test_realtime_ws import make_user, subscribe

TICKET_URL = "/api/v1/realtime/ticket/"


@pytest.fixture(autouse=True)
async def _stop_hub():
    yield
    await stop_hub()


def bearer(token: str) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")
    return client


@sync_to_async
def mint(token: str, body: dict | None = None) -> dict:
    answer = bearer(token).post(TICKET_URL, body, format="json")
    assert answer.status_code == 200, answer.content
    return answer.json()


async def open_with(ticket: str) -> WebsocketCommunicator:
    communicator = WebsocketCommunicator(application, f"/ws/events/?ticket={ticket}")
    connected, _ = await communicator.connect()
    assert connected
    return communicator


async def refused(communicator: WebsocketCommunicator) -> bool:
    """Closed as a socket with a bad token is."""
    closed = await communicator.receive_output(timeout=3)
    return closed == {"type": "websocket.close", "code": UNAUTHENTICATED}


@pytest.mark.django_db(transaction=True)
async def test_a_ticket_lets_one_socket_in_once():
    _, token = await make_user()
    answer = await mint(token)
    assert answer["expires_in"] == 30
    assert len(answer["ticket"]) >= 43

    first = await open_with(answer["ticket"])
    ack, _ = await subscribe(first, ["episodes"])
    second = await open_with(answer["ticket"])

    assert ack["event"] == "subscribed"
    assert await refused(second)
    assert not await database_sync_to_async(WebSocketTicket.objects.exists)()
    await first.disconnect()


@pytest.mark.django_db(transaction=True)
async def test_an_expired_or_unknown_ticket_is_refused():
    _, token = await make_user()
    ticket = (await mint(token))["ticket"]
    await database_sync_to_async(WebSocketTicket.objects.update)(
        expires_at=timezone.now() - timedelta(seconds=1)
    )

    assert await refused(await open_with(ticket))
    assert await refused(await open_with("not-a-ticket-this-service-gave"))
    assert await refused(await open_with("x" * 5000))


@pytest.mark.django_db(transaction=True)
async def test_a_ticket_belongs_to_whoever_asked_whatever_the_body_says():
    alice, alice_token = await make_user("alice", role=None)
    bob, _ = await make_user("bob", role="approver")
    ticket = (await mint(alice_token, {"user": bob.pk, "username": "bob"}))["ticket"]

    row = await database_sync_to_async(WebSocketTicket.objects.get)()
    ws = await open_with(ticket)
    answer, _ = await subscribe(ws, ["episodes"])

    assert row.user_id == alice.pk
    assert answer["event"] == "error"  # alice has no role: she may not follow `episodes`
    assert "episodes.view_episode" in answer["data"]["message"]
    await ws.disconnect()


@pytest.mark.django_db
def test_a_ticket_needs_credentials_and_takes_a_session_too(anon, user, client):
    assert anon.post(TICKET_URL).status_code == 401
    assert bearer("not-a-token").post(TICKET_URL).status_code == 401
    client.force_login(user)

    answer = client.post(TICKET_URL)

    assert answer.status_code == 200
    assert WebSocketTicket.objects.get().user == user


@pytest.mark.django_db
def test_minting_is_rate_limited_per_user(api, staff_api, monkeypatch):
    monkeypatch.setitem(
        ScopedRateThrottleOpenWhileRedisIsDown.THROTTLE_RATES, "websocket_ticket", "2/min"
    )
    assert [api.post(TICKET_URL).status_code for _ in range(3)] == [200, 200, 429]
    assert staff_api.post(TICKET_URL).status_code == 200


@pytest.mark.django_db
def test_expired_tickets_are_purged_and_cleared_away_by_the_next_one(user):
    services.issue_ticket(user)
    services.issue_ticket(user)
    WebSocketTicket.objects.update(expires_at=timezone.now() - timedelta(seconds=1))
    services.issue_ticket(user)  # clears the two expired ones on its way
    live = WebSocketTicket.objects.get()
    WebSocketTicket.objects.update(expires_at=timezone.now())

    assert services.purge_expired_tickets() == 1
    assert not WebSocketTicket.objects.filter(pk=live.pk).exists()


# Two server processes sharing one database, as two machines would, one logging JSON and the
# other text, both at DEBUG, where the WebSocket library logs each handshake's request line


@pytest.fixture(scope="module")
def two_servers(tmp_path_factory):
    var = tmp_path_factory.mktemp("var")
    database = ServiceDatabase(var)
    token = create_token(database.env)
    servers = [
        Server(
            {**database.env, "LOG_FORMAT": log_format, "LOG_LEVEL": "DEBUG"}, log=var / log_format
        )
        for log_format in ("json", "text")
    ]
    for server in servers:
        server.start()
    yield servers, token
    for server in servers:
        server.stop()
    database.drop()


async def gets_in(server: Server, ticket: str) -> bool:
    """True once the socket is subscribed; False when the server closes it as unauthenticated."""
    async with websockets.connect(f"{server.ws}/ws/events/?ticket={ticket}") as ws:
        try:
            await ws.send(json.dumps({"type": "subscribe", "topics": ["episodes"]}))
            frame = json.loads(await asyncio.wait_for(ws.recv(), 5))
        except websockets.ConnectionClosed as closed:
            assert closed.rcvd is not None and closed.rcvd.code == UNAUTHENTICATED
            return False
        assert frame["event"] == "subscribed"
        return True


@pytest.mark.server
async def test_one_ticket_raced_by_sockets_on_two_processes_lets_exactly_one_in(two_servers):
    servers, token = two_servers
    for _ in range(5):
        ticket = (await call(servers[0], "POST", TICKET_URL, token))["ticket"]
        racing = [gets_in(server, ticket) for server in servers for _ in range(2)]

        assert sorted(await asyncio.gather(*racing)) == [False, False, False, True]


def get_status(url: str) -> int:
    try:
        with urllib.request.urlopen(url, timeout=10) as response:
            return response.status
    except urllib.error.HTTPError as error:
        return error.code


@pytest.mark.server
async def test_no_log_line_holds_a_token_or_a_ticket(two_servers):
    servers, token = two_servers
    for server in servers:
        ticket = (await call(server, "POST", TICKET_URL, token))["ticket"]
        # At DEBUG the WebSocket library lists the handshake's headers.
        cookie = {"Cookie": f"sessionid={ticket[::-1]}", "Authorization": f"Bearer {token}"}
        async with websockets.connect(
            f"{server.ws}/ws/events/?token={token}", additional_headers=cookie
        ) as ws:
            await subscribe_over(ws)
        async with websockets.connect(f"{server.ws}/ws/events/?ticket={ticket}") as ws:
            await subscribe_over(ws)
        # Over HTTP the token is no credential, but a client may send it all the same.
        assert (
            await asyncio.to_thread(get_status, f"{server.http}/api/v1/episodes/?token={token}")
            == 401
        )
        assert await asyncio.to_thread(get_status, f"{server.http}/nothing?ticket={ticket}") == 404

        log = server.log.read_text()
        assert "/ws/events/?token=[redacted]" in log
        assert "/ws/events/?ticket=[redacted]" in log
        assert token not in log
        assert ticket not in log
        assert ticket[::-1] not in log
        assert "< cookie: [redacted]" in log
    json_log, _ = (server.log.read_text() for server in servers)
    assert all(json.loads(line) for line in json_log.splitlines())


async def subscribe_over(ws) -> None:
    await ws.send(json.dumps({"type": "subscribe", "topics": ["episodes"]}))
    assert json.loads(await asyncio.wait_for(ws.recv(), 5))["event"] == "subscribed"
