"""File events on the live stream, through channels' WebsocketCommunicator on the real layer."""

import io

import pytest
from channels.db import database_sync_to_async
from django.core.files.uploadedfile import SimpleUploadedFile
from PIL import Image

from episodes import services as episode_services
from tests.conftest import bearer_client, with_role
from tests.test_realtime_ws import change, connect, make_user, receive, subscribe

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(autouse=True)
def _media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"


@pytest.fixture(autouse=True)
async def _stop_hub():
    from realtime.hub import stop_hub

    yield
    await stop_hub()


def png() -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (32, 32), (0, 200, 0)).save(buffer, format="PNG")
    return buffer.getvalue()


@database_sync_to_async
def upload(user, episode) -> dict:
    part = SimpleUploadedFile("cover.png", png(), content_type="image/png")
    response = bearer_client(user).post(
        f"/api/v1/episodes/{episode.pk}/files/", {"file": part}, format="multipart"
    )
    assert response.status_code == 201, response.content
    return response.json()


@database_sync_to_async
def delete(user, episode, file_id) -> None:
    response = bearer_client(user).delete(f"/api/v1/episodes/{episode.pk}/files/{file_id}/")
    assert response.status_code == 204


@database_sync_to_async
def download(user, url) -> None:
    assert bearer_client(user).get(url).status_code == 200


async def test_upload_and_delete_go_out_on_episodes_and_the_episode_topic():
    user, token = await make_user()
    await database_sync_to_async(with_role)(user, "editor")  # uploads and deletes below
    episode = await change(user, episode_services.create_episode, data={"title": "Pilot"})
    collection, single = await connect(token), await connect(token)
    await subscribe(collection, ["episodes"])
    await subscribe(single, [f"episode:{episode.pk}"])

    uploaded = await upload(user, episode)
    await delete(user, episode, uploaded["id"])

    for ws, topic in ((collection, "episodes"), (single, f"episode:{episode.pk}")):
        # The episode's own topic also carries its jobs (the file's metadata and purge).
        frames = [await receive(ws) for _ in range(2 if topic == "episodes" else 4)]
        first, second = [f for f in frames if f["event"].startswith("file_")]
        assert [first["event"], second["event"]] == ["file_uploaded", "file_deleted"]
        assert {first["topic"], second["topic"]} == {topic}
        assert first["data"]["file"]["original_name"] == "cover.png"
        assert first["data"]["file"]["sha256"] == uploaded["sha256"]
        assert first["data"]["actor"]["id"] == user.pk
        assert second["data"]["file"]["deleted_at"] is not None
        await ws.disconnect()


async def test_a_dashboard_that_reconnects_gets_the_file_events_it_missed():
    user, token = await make_user()
    await database_sync_to_async(with_role)(user, "editor")  # uploads and deletes below
    episode = await change(user, episode_services.create_episode, data={"title": "Pilot"})
    ws = await connect(token)
    await subscribe(ws, ["episodes"])
    first = await upload(user, episode)
    seen = (await receive(ws))["id"]
    await ws.disconnect()

    second = await upload(user, episode)
    await download(user, second["download_url"])
    await delete(user, episode, first["id"])

    ws = await connect(token)
    _, missed = await subscribe(ws, ["episodes"], after=seen)
    # Rows the hub had not read yet when the subscription began follow the ack.
    while len(missed) < 3:
        missed.append(await receive(ws))

    assert [frame["event"] for frame in missed] == [
        "file_uploaded",
        "file_downloaded",
        "file_deleted",
    ]
    assert [frame["data"]["resource_id"] for frame in missed] == [
        second["id"],
        second["id"],
        first["id"],
    ]
    assert all(frame["id"] > seen for frame in missed)
    assert await ws.receive_nothing(timeout=0.3)
    await ws.disconnect()
