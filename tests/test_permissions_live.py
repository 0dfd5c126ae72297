"""The roles on the event stream: who may follow which topic (the WebSocket half of the role x
action table of docs/permissions.md), whose events reach whom, live and replayed, and role
changes reaching open sockets at once. Through channels' WebsocketCommunicator on the real
database and channel layer, as tests/test_realtime_ws.py."""

import asyncio
import io
import json
import time

import pytest
import websockets
from channels.db import database_sync_to_async
from django.core.management import call_command
from django.db.models import Max

from activity.models import ActivityLog
from episodes import services
from jobs import registry, runtime
from jobs import services as job_services
from realtime.hub import stop_hub
from tests.service_database import ServiceDatabase
from tests.service_process import Server, create_token
from tests.service_process import manage as manage_service
from tests.test_jobs_processes import enqueue as enqueue_in_service
from tests.test_realtime_ws import change, connect, make_user, receive, subscribe

pytestmark = pytest.mark.django_db(transaction=True)

ROLES = (None, "viewer", "editor", "approver", "staff")
READERS = {"viewer", "editor", "approver", "staff"}
# Each kind of topic, and the roles that may follow it. The jobs are another user's unless
# said otherwise.
MAY_FOLLOW = {
    "episodes": READERS,
    "episode:<id>": READERS,
    "jobs": READERS,
    "job:<id> on an episode": READERS,
    "job:<id> of their own": READERS,
    "job:<id> on no episode": {"staff"},
}
# What a refusal names: to a user with no role, the permission missing; to one with a role,
# that the job is neither theirs nor on an episode they may read.
MISSING = {
    "episodes": "episodes.view_episode",
    "episode:<id>": "episodes.view_episode",
    "jobs": "jobs.view_job",
    "job:<id> on an episode": "jobs.view_job",
    "job:<id> of their own": "jobs.view_job",
    "job:<id> on no episode": "jobs.view_job",
}
NOT_THEIRS = "it is not a job of yours or on an episode you may read (episodes.view_episode)"


@pytest.fixture(autouse=True)
async def _stop_hub():
    yield
    await stop_hub()


@database_sync_to_async
def enqueue(user, episode=None):
    kind = registry.get("diagnostic")
    return job_services.enqueue(kind, {}, user=user, episode_id=episode and episode.pk)


@database_sync_to_async
def report_progress(job, percent: int) -> None:
    """As a running job's handler reports, and the worker's heartbeat sends."""
    state = runtime.RunningJob(job=job)
    state.report(percent, f"{percent} of 100")
    state.flush()


@database_sync_to_async
def latest_id() -> int:
    return ActivityLog.objects.aggregate(latest=Max("id"))["latest"] or 0


def manage(*args: str):
    return database_sync_to_async(call_command)(*args, stdout=io.StringIO())


async def topic_of(kind: str, user, owner) -> str:
    if kind in ("episodes", "jobs"):
        return kind
    episode = await change(owner, services.create_episode, data={"title": "Theirs"})
    if kind == "episode:<id>":
        return f"episode:{episode.pk}"
    job = {
        "job:<id> on an episode": lambda: enqueue(owner, episode),
        "job:<id> of their own": lambda: enqueue(user),
        "job:<id> on no episode": lambda: enqueue(owner),
    }[kind]
    return f"job:{(await job()).pk}"


@pytest.mark.parametrize("role", ROLES, ids=lambda role: role or "no role")
@pytest.mark.parametrize("kind", MAY_FOLLOW)
async def test_who_may_follow_each_kind_of_topic(kind, role):
    user, token = await make_user("subject", role=role)
    owner, _ = await make_user("owner", role="editor")
    topic = await topic_of(kind, user, owner)
    ws = await connect(token)

    answer, _ = await subscribe(ws, [topic])

    if role in MAY_FOLLOW[kind]:
        assert answer["event"] == "subscribed"
        assert answer["data"]["topics"] == [topic]
    else:
        assert answer["event"] == "error"
        message = answer["data"]["message"]
        assert message.startswith(f"You may not follow '{topic}': ")
        assert message.endswith(f"{MISSING[kind] if role is None else NOT_THEIRS}.")
        await ws.send_json_to({"type": "unsubscribe", "topics": [topic]})
        assert (await receive(ws))["data"]["topics"] == []  # nothing was subscribed
    await ws.disconnect()


async def test_a_refused_topic_refuses_the_whole_subscribe():
    _, token = await make_user("subject", role=None)
    ws = await connect(token)

    error, _ = await subscribe(ws, ["episodes", "jobs"])
    await ws.send_json_to({"type": "ping"})

    assert error["data"]["message"] == (
        "You may not follow 'episodes': you do not have the permission episodes.view_episode. "
        "You may not follow 'jobs': you do not have the permission jobs.view_job."
    )
    assert (await receive(ws))["event"] == "pong"  # and the socket is open
    await ws.disconnect()


async def test_a_viewer_hears_episodes_but_not_someone_elses_job_progress():
    _, viewer_token = await make_user("watcher", role="viewer")
    editor, editor_token = await make_user("maker", role="editor")
    watching, owning = await connect(viewer_token), await connect(editor_token)
    await subscribe(watching, ["episodes", "jobs"])
    await subscribe(owning, ["jobs"])

    job = await enqueue(editor)
    created = await receive(owning)
    await report_progress(job, 40)
    progress = await receive(owning)
    await change(editor, services.create_episode, data={"title": "For everyone"})
    heard = await receive(watching)

    assert (created["event"], created["data"]["job"]["created_by_id"]) == ("job_created", editor.pk)
    assert (progress["event"], progress["data"]["progress"]) == ("job_progress", 40)
    assert heard["event"] == "episode_created"  # the first the viewer hears: no job before it
    assert heard["data"]["episode"]["title"] == "For everyone"
    assert await watching.receive_nothing(timeout=0.3)
    await watching.disconnect()
    await owning.disconnect()


async def test_a_viewer_hears_the_jobs_on_episodes_they_may_read():
    _, viewer_token = await make_user("watcher", role="viewer")
    editor, _ = await make_user("maker", role="editor")
    episode = await change(editor, services.create_episode, data={"title": "Shared"})
    watching = await connect(viewer_token)
    await subscribe(watching, ["jobs"])

    job = await enqueue(editor, episode)
    created = await receive(watching)
    await report_progress(job, 70)
    progress = await receive(watching)

    assert (created["event"], created["data"]["resource_id"]) == ("job_created", str(job.pk))
    assert (progress["event"], progress["data"]["job_id"]) == ("job_progress", str(job.pk))
    await watching.disconnect()


async def test_replay_leaves_out_what_the_user_may_not_see():
    _, viewer_token = await make_user("watcher", role="viewer")
    editor, _ = await make_user("maker", role="editor")
    before = await latest_id()
    hidden = await enqueue(editor)
    episode = await change(editor, services.create_episode, data={"title": "Shared"})
    shown = await enqueue(editor, episode)
    ws = await connect(viewer_token)

    ack, replayed = await subscribe(ws, ["episodes", "jobs"], after=before)

    assert ack["event"] == "subscribed"
    assert [(f["event"], f["data"]["resource_id"]) for f in replayed] == [
        ("episode_created", str(episode.pk)),
        ("job_created", str(shown.pk)),
    ]
    assert str(hidden.pk) not in {f["data"]["resource_id"] for f in replayed}
    await ws.disconnect()


async def test_after_revoke_the_open_socket_stops_receiving_within_a_second():
    viewer, token = await make_user("leaving", role="viewer")
    editor, _ = await make_user("staying", role="editor")
    ws = await connect(token)
    await subscribe(ws, ["episodes"])
    await change(editor, services.create_episode, data={"title": "Before"})
    assert (await receive(ws))["event"] == "episode_created"

    revoked_at = time.monotonic()
    await manage("revoke", "viewer", "leaving")
    told = await receive(ws, timeout=1)
    dropped = await receive(ws, timeout=1)
    took = time.monotonic() - revoked_at
    await change(editor, services.create_episode, data={"title": "After"})

    assert took < 1
    assert (told["event"], told["topic"]) == ("user_revoked", f"user:{viewer.pk}")
    assert told["data"]["user"] == {"id": viewer.pk, "username": "leaving", "role": "viewer"}
    assert (dropped["event"], dropped["topic"]) == ("error", "episodes")
    assert dropped["data"]["message"] == (
        "No longer following 'episodes': you do not have the permission episodes.view_episode."
    )
    assert await ws.receive_nothing(timeout=0.5)
    await ws.send_json_to({"type": "ping"})
    assert (await receive(ws))["event"] == "pong"  # the socket itself stays open
    await ws.disconnect()


async def test_a_grant_lets_the_open_socket_follow_at_once():
    _, token = await make_user("arriving", role=None)
    editor, _ = await make_user("maker", role="editor")
    ws = await connect(token)
    refused, _ = await subscribe(ws, ["episodes"])

    await manage("grant", "viewer", "arriving")
    told = await receive(ws, timeout=1)
    ack, _ = await subscribe(ws, ["episodes"])
    await change(editor, services.create_episode, data={"title": "Now visible"})

    assert refused["event"] == "error"
    assert (told["event"], told["data"]["user"]["role"]) == ("user_granted", "viewer")
    assert ack["event"] == "subscribed"
    assert (await receive(ws))["data"]["episode"]["title"] == "Now visible"
    await ws.disconnect()


async def test_losing_staff_drops_the_jobs_only_staff_may_follow():
    staff, token = await make_user("boss", role="staff")
    owner, _ = await make_user("owner", role="editor")
    job = await enqueue(owner)
    ws = await connect(token)
    await subscribe(ws, [f"job:{job.pk}"])

    staff.is_staff = False
    await database_sync_to_async(staff.save)()
    told = await receive(ws, timeout=1)
    dropped = await receive(ws, timeout=1)
    await report_progress(job, 10)

    assert (told["event"], told["data"]["user"]["role"]) == ("user_revoked", "staff")
    assert (dropped["event"], dropped["topic"]) == ("error", f"job:{job.pk}")
    assert "jobs.view_job" in dropped["data"]["message"]
    assert await ws.receive_nothing(timeout=0.3)
    await ws.disconnect()


async def test_a_deactivated_users_open_socket_is_closed_as_signed_out():
    user, token = await make_user("departing", role="approver")
    ws = await connect(token)
    await subscribe(ws, ["episodes"])

    user.is_active = False
    await database_sync_to_async(user.save)()
    told = await receive(ws, timeout=1)
    closed = await ws.receive_output(timeout=1)

    assert (told["event"], told["data"]["user"]["role"]) == ("user_revoked", "active")
    assert closed == {"type": "websocket.close", "code": 4401}
    revoked = await database_sync_to_async(
        ActivityLog.objects.filter(resource_type="user", resource_id=str(user.pk)).get
    )()
    assert (revoked.action, revoked.changes) == ("revoke", {"role": ["active", None]})


async def test_a_deleted_users_open_socket_is_closed_as_signed_out():
    user, token = await make_user("removed", role="viewer")
    ws = await connect(token)
    await subscribe(ws, ["episodes"])

    await database_sync_to_async(user.delete)()
    told = await receive(ws, timeout=1)
    closed = await ws.receive_output(timeout=1)

    assert (told["event"], told["data"]["user"]["role"]) == ("user_revoked", "active")
    assert closed == {"type": "websocket.close", "code": 4401}


async def test_another_users_role_change_leaves_a_socket_alone():
    _, token = await make_user("unmoved", role="viewer")
    await make_user("moved", role="viewer")
    ws = await connect(token)
    await subscribe(ws, ["episodes"])

    await manage("revoke", "viewer", "moved")

    assert await ws.receive_nothing(timeout=0.5)
    await ws.disconnect()


async def frame(ws) -> dict:
    return json.loads(await asyncio.wait_for(ws.recv(), 5))


@pytest.mark.server
async def test_a_revoke_in_another_process_reaches_the_servers_sockets(tmp_path):
    service = ServiceDatabase(tmp_path / "var")
    server = Server(service.env).start()
    try:
        token = create_token(service.env, "boss")
        manage_service(service.env, "grant", "staff", "boss")
        (job_id,) = enqueue_in_service(service)  # the system's, on no episode: staff's to see
        async with websockets.connect(f"{server.ws}/ws/events/?token={token}") as ws:
            await ws.send(json.dumps({"type": "subscribe", "topics": [f"job:{job_id}"]}))
            assert (await frame(ws))["event"] == "subscribed"
            await asyncio.to_thread(manage_service, service.env, "revoke", "staff", "boss")
            told, dropped = await frame(ws), await frame(ws)
    finally:
        server.stop()
        service.drop()

    assert (told["event"], told["data"]["user"]["role"]) == ("user_revoked", "staff")
    assert (dropped["event"], dropped["topic"]) == ("error", f"job:{job_id}")
