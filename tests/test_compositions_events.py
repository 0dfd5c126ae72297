"""Composition events on the live stream, as they happen and replayed after a reconnect."""

import pytest
from channels.db import database_sync_to_async

from episode_metadata.common.context import ActivityContext, acting
from episodes.compositions import services
from episodes.compositions.tasks import thumbnail_render
from episodes.models import Episode
from realtime.hub import stop_hub
from tests.test_compositions_api import BLUE, RED, make_image
from tests.test_realtime_ws import connect, hub_caught_up, make_user, receive, subscribe

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(autouse=True)
async def _stop_hub():
    yield
    await stop_hub()


@pytest.fixture(autouse=True)
def media_root(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"


@database_sync_to_async
def act(actor, operation, *args, **kwargs):
    """Run a composition service as `actor` would through the API."""
    with acting(ActivityContext(source="api", get_user=lambda: actor)):
        return operation(*args, **kwargs)


@database_sync_to_async
def make_composition(user):
    with acting(ActivityContext(source="api", get_user=lambda: user)):
        episode = Episode.objects.create(title="Pilot")
        assets = [str(make_image(episode, color).pk) for color in (RED, BLUE)]
        data = {
            "episode": episode,
            "name": "Main",
            "layout": "split",
            "assets": assets,
            "formats": ["youtube"],
        }
        return services.create_composition(user=user, data=data)


@database_sync_to_async
def render(user, composition):
    with acting(ActivityContext(source="job", get_user=lambda: user)):
        thumbnail_render.call(composition_id=str(composition.pk), version=composition.version)


async def lifecycle(editor, producer, composition):
    """Everything after creation: an edit, approval, a render, publishing, deletion."""
    composition = await act(
        editor, services.update_composition, composition, user=editor, data={"name": "Bold"}
    )
    await act(producer, services.approve_composition, composition)
    await render(editor, composition)
    await act(producer, services.publish_composition, composition)
    await act(producer, services.delete_composition, composition)


LIFECYCLE = [
    "composition_updated",
    "composition_approved",
    "composition_updated",
    "composition_published",
    "composition_deleted",
]


async def composition_frames(ws, count: int) -> list[dict]:
    """The next `count` composition events; the render's file and job events are skipped."""
    frames: list[dict] = []
    while len(frames) < count:
        frame = await receive(ws)
        if frame["data"].get("resource_type") == "composition":
            frames.append(frame)
    return frames


@pytest.fixture
async def people():
    editor, token = await make_user("editor")
    producer, _ = await make_user("producer", is_staff=True)
    return editor, producer, token


async def test_each_change_goes_out_live_as_its_event(people):
    editor, producer, token = people
    ws = await connect(token)
    await subscribe(ws, ["episodes"])

    composition = await make_composition(editor)
    [created] = await composition_frames(ws, 1)
    await lifecycle(editor, producer, composition)
    frames = await composition_frames(ws, len(LIFECYCLE))

    assert created["event"] == "composition_created"
    assert created["topic"] == "episodes"
    assert created["data"]["resource_id"] == str(composition.pk)
    assert created["data"]["composition"]["name"] == "Main"
    assert created["data"]["actor"] == {"id": editor.id, "name": "editor"}
    assert [frame["event"] for frame in frames] == LIFECYCLE
    edited, approved, rendered, published, deleted = frames
    assert edited["data"]["changed_fields"] == ["name", "version"]
    assert approved["data"]["actor"]["name"] == "producer"
    assert approved["data"]["composition"]["status"] == "approved"
    assert rendered["data"]["changed_fields"] == ["rendered_version", "renders"]
    assert published["data"]["composition"]["status"] == "published"
    assert deleted["data"]["composition"]["id"] == str(composition.pk)
    await ws.disconnect()


async def test_a_reconnecting_client_gets_the_composition_events_it_missed(people):
    editor, producer, token = people
    composition = await make_composition(editor)
    topic = f"episode:{composition.episode_id}"
    ws = await connect(token)
    ack, _ = await subscribe(ws, [topic])
    seen = ack["data"]["last_id"]
    await ws.disconnect()

    await lifecycle(editor, producer, composition)
    await hub_caught_up()  # or the last of them come live, after the replay

    ws = await connect(token)
    ack, replayed = await subscribe(ws, [topic], after=seen)
    missed = [f for f in replayed if f["data"].get("resource_type") == "composition"]

    assert [frame["event"] for frame in missed] == LIFECYCLE
    assert all(frame["topic"] == topic for frame in replayed)
    ids = [frame["id"] for frame in replayed]
    assert ids == sorted(ids) and ids[0] > seen and ack["data"]["last_id"] == ids[-1]
    await ws.disconnect()
