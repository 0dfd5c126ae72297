"""Who is viewing an episode: sockets and REST reads on the real database, layer and stack."""

import asyncio
import contextlib
import time
from datetime import timedelta

import pytest
from channels.db import database_sync_to_async
from django.db import connection
from django.utils import timezone

from episode_metadata.common import counters
from episodes import services
from realtime.hub import stop_hub
from realtime.models import Presence
from realtime.presence import selectors as presence_selectors
from realtime.presence import services as presence
from tests.conftest import bearer_client, with_role
from tests.test_realtime_ws import (
    change,
    connect,
    hub_caught_up,
    make_user,
    receive,
    subscribe,
)

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(autouse=True)
async def _stop_hub():
    yield
    await stop_hub()


async def viewer(name: str):
    user, token = await make_user(name)
    return await database_sync_to_async(with_role)(user, "viewer"), token


@pytest.fixture
async def alice():
    return await viewer("alice")


@pytest.fixture
async def bob():
    return await viewer("bob")


@pytest.fixture
async def episode(alice):
    user, _ = alice
    return await change(user, services.create_episode, data={"title": "Pilot"})


@pytest.fixture
def short_expiry(monkeypatch):
    """Viewings last a second without heartbeats, swept five times a second."""
    monkeypatch.setattr(presence, "TTL_SECONDS", 1.0)
    monkeypatch.setattr(presence, "SWEEP_SECONDS", 0.2)


def topic_of(episode) -> str:
    return f"episode:{episode.pk}"


def names(viewers: list[dict]) -> list[str]:
    return [viewer["username"] for viewer in viewers]


async def presence_event(ws, timeout: float = 3) -> dict:
    """The next presence event, past the pongs of a socket that keeps its own presence up."""
    while True:
        frame = await receive(ws, timeout=timeout)
        if frame["event"] == "presence_changed":
            return frame


@contextlib.asynccontextmanager
async def heartbeats(ws, every: float = 0.25):
    async def beat():
        while True:
            await ws.send_json_to({"type": "ping"})
            await asyncio.sleep(every)

    task = asyncio.create_task(beat())
    try:
        yield
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)


@database_sync_to_async
def viewer_names(episode, **kwargs) -> list[str]:
    return [v.username for v in presence_selectors.episode_viewers(episode_id=episode.pk, **kwargs)]


@database_sync_to_async
def get(user, path: str) -> dict:
    response = bearer_client(user).get(path)
    assert response.status_code == 200, response.content
    return response.json()


async def test_joining_and_leaving_are_announced_to_the_other_viewers(episode, alice, bob):
    (_, alice_token), (bob_user, bob_token) = alice, bob
    watching = await connect(alice_token)
    await subscribe(watching, [topic_of(episode)])

    arriving = await connect(bob_token)
    await subscribe(arriving, [topic_of(episode)])
    joined = await presence_event(watching)
    await arriving.disconnect()
    left = await presence_event(watching)

    assert joined["id"] is None
    assert joined["topic"] == topic_of(episode)
    assert joined["data"]["episode_id"] == str(episode.pk)
    assert joined["data"]["change"] == "joined"
    assert joined["data"]["user"] == {"id": bob_user.pk, "username": "bob"}
    assert names(joined["data"]["viewers"]) == ["alice", "bob"]
    assert set(joined["data"]["viewers"][1]) == {"id", "username", "since"}
    assert left["data"]["change"] == "left"
    assert left["data"]["user"]["username"] == "bob"
    assert names(left["data"]["viewers"]) == ["alice"]
    assert await viewer_names(episode) == ["alice"]
    await watching.disconnect()


async def test_unsubscribing_from_the_episode_leaves_it(episode, alice, bob):
    watching = await connect(alice[1])
    await subscribe(watching, [topic_of(episode)])
    arriving = await connect(bob[1])
    await subscribe(arriving, [topic_of(episode), "episodes"])
    assert (await presence_event(watching))["data"]["change"] == "joined"

    await arriving.send_json_to({"type": "unsubscribe", "topics": [topic_of(episode)]})
    assert (await receive(arriving))["event"] == "unsubscribed"
    left = await presence_event(watching)

    assert left["data"]["change"] == "left"
    assert await viewer_names(episode) == ["alice"]
    await arriving.disconnect()
    await watching.disconnect()


async def test_the_subscription_ack_carries_the_viewers_of_each_new_episode(episode, alice, bob):
    watching = await connect(alice[1])
    await subscribe(watching, [topic_of(episode)])
    elsewhere = await change(alice[0], services.create_episode, data={"title": "Other"})
    await hub_caught_up()

    arriving = await connect(bob[1])
    ack, frames = await subscribe(arriving, [topic_of(episode), topic_of(elsewhere), "episodes"])
    again, _ = await subscribe(arriving, [topic_of(episode)])
    collection_only = await connect(bob[1])
    plain, _ = await subscribe(collection_only, ["episodes"])

    assert frames == []
    viewers = ack["data"]["viewers"]
    assert set(viewers) == {str(episode.pk), str(elsewhere.pk)}
    assert names(viewers[str(episode.pk)]) == ["alice", "bob"]
    assert names(viewers[str(elsewhere.pk)]) == ["bob"]
    # Nothing new to view, nothing to list; nor for a subscription without an episode.
    assert "viewers" not in again["data"]
    assert "viewers" not in plain["data"]
    for ws in (watching, arriving, collection_only):
        await ws.disconnect()


async def test_an_episode_that_does_not_exist_has_no_viewers_and_is_no_failure(alice):
    failures = counters.value(counters.PRESENCE_FAILURES)
    ws = await connect(alice[1])

    ack, _ = await subscribe(ws, ["episode:00000000-0000-4000-8000-000000000000"])
    await ws.send_json_to({"type": "ping"})

    assert ack["data"]["viewers"] == {"00000000-0000-4000-8000-000000000000": []}
    assert (await receive(ws))["event"] == "pong"
    assert counters.value(counters.PRESENCE_FAILURES) == failures
    await ws.disconnect()


async def test_several_tabs_of_one_user_are_one_viewer(episode, alice, bob):
    watching = await connect(alice[1])
    await subscribe(watching, [topic_of(episode)])

    first_tab, second_tab = await connect(bob[1]), await connect(bob[1])
    await subscribe(first_tab, [topic_of(episode)])
    joined = await presence_event(watching)
    second_ack, _ = await subscribe(second_tab, [topic_of(episode)])
    assert await watching.receive_nothing(timeout=0.3)
    await first_tab.disconnect()
    assert await watching.receive_nothing(timeout=0.3)
    assert await viewer_names(episode) == ["alice", "bob"]
    await second_tab.disconnect()
    left = await presence_event(watching)

    assert joined["data"]["change"] == "joined"
    assert names(second_ack["data"]["viewers"][str(episode.pk)]) == ["alice", "bob"]
    assert left["data"]["change"] == "left"
    assert await viewer_names(episode) == ["alice"]
    await watching.disconnect()


async def test_a_rest_reader_is_a_viewer_seen_by_sockets_and_other_readers(episode, alice, bob):
    (alice_user, alice_token), (bob_user, bob_token) = alice, bob
    detail = f"/api/v1/episodes/{episode.pk}/"
    watching = await connect(alice_token)
    await subscribe(watching, [topic_of(episode)])

    read_by_bob = await get(bob_user, detail)
    joined = await presence_event(watching)
    read_by_alice = await get(alice_user, detail)
    listed = await get(alice_user, f"{detail}viewers/")
    # Bob's socket is the same viewer as his read: nobody hears of it.
    tab = await connect(bob_token)
    await subscribe(tab, [topic_of(episode)])
    assert await watching.receive_nothing(timeout=0.3)
    await tab.disconnect()
    assert await watching.receive_nothing(timeout=0.3)

    assert joined["data"]["change"] == "joined"
    assert joined["data"]["user"] == {"id": bob_user.pk, "username": "bob"}
    assert names(read_by_bob["viewers"]) == ["alice"]
    assert read_by_bob["title"] == "Pilot"
    assert names(read_by_alice["viewers"]) == ["bob"]
    assert names(listed) == ["alice", "bob"]
    assert set(listed[1]) == {"id", "username", "since"}
    await watching.disconnect()


async def test_a_read_expires_into_a_departure(episode, alice, bob, short_expiry):
    watching = await connect(alice[1])
    await subscribe(watching, [topic_of(episode)])

    async with heartbeats(watching):
        await get(bob[0], f"/api/v1/episodes/{episode.pk}/")
        joined = await presence_event(watching)
        left = await presence_event(watching)

    assert (joined["data"]["change"], left["data"]["change"]) == ("joined", "left")
    assert left["data"]["user"]["username"] == "bob"
    await watching.disconnect()


async def test_a_crashed_connection_expires_without_its_disconnect(
    episode, alice, bob, short_expiry, monkeypatch
):
    watching = await connect(alice[1])
    await subscribe(watching, [topic_of(episode)])

    async with heartbeats(watching):
        crashing = await connect(bob[1])
        await subscribe(crashing, [topic_of(episode)])
        assert (await presence_event(watching))["data"]["change"] == "joined"
        last_heartbeat = time.monotonic()

        # Gone without a word, as when its process dies: the socket's viewings are not
        # ended, since a dead process ends nothing.
        async def ends_nothing(self) -> None:
            pass

        monkeypatch.setattr(presence.SocketPresence, "close", ends_nothing)
        crashing.future.cancel()
        await asyncio.sleep(0.5)
        assert await viewer_names(episode) == ["alice", "bob"]
        left = await presence_event(watching)
        waited = time.monotonic() - last_heartbeat
        # Alice's own pings kept her viewing for many lifetimes of an unrenewed row.
        await asyncio.sleep(1.5)
        still = await viewer_names(episode)

    assert left["data"]["change"] == "left"
    assert left["data"]["user"]["username"] == "bob"
    assert names(left["data"]["viewers"]) == ["alice"]
    assert waited < presence.TTL_SECONDS + presence.SWEEP_SECONDS + 1
    assert still == ["alice"]
    await watching.disconnect()


async def test_a_heartbeat_after_a_lapse_joins_again(episode, alice, bob):
    watching = await connect(alice[1])
    await subscribe(watching, [topic_of(episode)])
    lapsing = await connect(bob[1])
    await subscribe(lapsing, [topic_of(episode)])
    assert (await presence_event(watching))["data"]["change"] == "joined"

    @database_sync_to_async
    def lapse_and_sweep() -> int:
        Presence.objects.filter(user=bob[0]).update(expires_at=timezone.now())
        return presence.expire()

    assert await lapse_and_sweep() == 1
    left = await presence_event(watching)
    # Bob's socket hears of its own lapse, as every subscriber of the episode does.
    assert (await presence_event(lapsing))["data"]["change"] == "left"
    await lapsing.send_json_to({"type": "ping"})
    # The pong follows the renewal, which found the lapse and joined again.
    heard = [await receive(lapsing), await receive(lapsing)]
    rejoined = await presence_event(watching)

    assert [(f["event"], f["data"].get("change")) for f in heard] == [
        ("presence_changed", "joined"),
        ("pong", None),
    ]

    assert left["data"]["change"] == "left"
    assert rejoined["data"]["change"] == "joined"
    assert names(rejoined["data"]["viewers"]) == ["alice", "bob"]
    await lapsing.disconnect()
    await watching.disconnect()


def test_expired_rows_leave_the_lists_before_any_sweep_and_depart_once(user, django_user_model):
    other = with_role(
        django_user_model.objects.create_user(username="other", password="pw-12345-long"), "viewer"
    )
    episode = services.create_episode(user=user, data={"title": "Pilot"})
    start = timezone.now()
    ttl = timedelta(seconds=presence.TTL_SECONDS)

    def viewing(after: timedelta) -> list[str]:
        return [
            v.username
            for v in presence_selectors.episode_viewers(episode_id=episode.pk, now=start + after)
        ]

    assert presence.record(episode_id=episode.pk, user_id=user.pk, connection="a", now=start)
    assert presence.record(episode_id=episode.pk, user_id=other.pk, connection="b", now=start)
    assert not presence.record(episode_id=episode.pk, user_id=other.pk, connection="c", now=start)
    assert presence.refresh(connection="a", now=start + ttl / 2) == 1

    assert viewing(ttl / 4) == ["editor", "other"]
    assert viewing(ttl + timedelta(seconds=1)) == ["editor"]
    assert presence.expire(now=start + ttl + timedelta(seconds=1)) == 1
    assert presence.expire(now=start + ttl + timedelta(seconds=1)) == 0
    assert Presence.objects.filter(user=other).count() == 0
    assert viewing(2 * ttl) == []
    assert presence.refresh(connection="a", now=start + 2 * ttl) == 0


def test_reading_again_soon_writes_nothing_and_later_renews(user, django_user_model):
    other = with_role(
        django_user_model.objects.create_user(username="other", password="pw-12345-long"), "viewer"
    )
    episode = services.create_episode(user=user, data={"title": "Pilot"})
    start = timezone.now()
    ttl = timedelta(seconds=presence.TTL_SECONDS)
    renew_after = timedelta(seconds=presence.RENEW_AFTER_SECONDS)

    def read(who, after: timedelta) -> list[str]:
        return [
            v.username
            for v in presence.read_by(episode_id=episode.pk, user_id=who.pk, now=start + after)
        ]

    def expiry():
        return Presence.objects.get(user=user, connection=presence.HTTP).expires_at

    assert read(other, timedelta(0)) == []
    assert read(user, timedelta(0)) == ["other"]
    first = expiry()
    assert read(user, renew_after / 2) == ["other"]
    assert expiry() == first
    assert read(user, renew_after * 2) == ["other"]
    assert expiry() == start + renew_after * 2 + ttl
    assert read(other, renew_after * 2 + ttl * 2) == []  # everyone's viewing lapsed
    assert read(user, renew_after * 2 + ttl * 2) == ["other"]
    assert expiry() == start + renew_after * 2 + ttl * 3


def test_a_departure_also_clears_the_users_expired_rows(user):
    episode = services.create_episode(user=user, data={"title": "Pilot"})
    start = timezone.now()
    later = start + timedelta(seconds=presence.TTL_SECONDS + 1)
    presence.record(episode_id=episode.pk, user_id=user.pk, connection="crashed", now=start)
    presence.record(episode_id=episode.pk, user_id=user.pk, connection="open", now=later)

    assert presence.remove(episode_id=episode.pk, user_id=user.pk, connection="open", now=later)
    assert not Presence.objects.exists()
    # The sweeper finds nothing left to announce.
    assert presence.expire(now=later) == 0


# --- Failures ---------------------------------------------------------------------------------

REFUSAL = "presence writes refused"


@contextlib.contextmanager
def refused(*operations: str):
    """Make the database refuse these writes to the presence table, as a broken one would."""
    table = Presence._meta.db_table
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute(
                "CREATE FUNCTION presence_refused() RETURNS trigger LANGUAGE plpgsql AS "
                f"$$ BEGIN RAISE EXCEPTION '{REFUSAL}'; END $$"
            )
            cursor.execute(
                f"CREATE TRIGGER presence_refused BEFORE {' OR '.join(operations)} ON {table} "
                "FOR EACH ROW EXECUTE FUNCTION presence_refused()"
            )
        else:
            for operation in operations:
                cursor.execute(
                    f"CREATE TRIGGER presence_refused_{operation} BEFORE {operation} ON {table} "
                    f"BEGIN SELECT RAISE(ABORT, '{REFUSAL}'); END"
                )
    try:
        yield
    finally:
        with connection.cursor() as cursor:
            if connection.vendor == "postgresql":
                cursor.execute(f"DROP TRIGGER presence_refused ON {table}")
                cursor.execute("DROP FUNCTION presence_refused()")
            else:
                for operation in operations:
                    cursor.execute(f"DROP TRIGGER presence_refused_{operation}")


@contextlib.asynccontextmanager
async def refused_meanwhile(*operations: str):
    refusal = refused(*operations)
    await database_sync_to_async(refusal.__enter__)()
    try:
        yield
    finally:
        await database_sync_to_async(refusal.__exit__)(None, None, None)


def test_a_read_carries_on_when_presence_cannot_be_written(user, django_user_model, caplog):
    other = with_role(
        django_user_model.objects.create_user(username="other", password="pw-12345-long"), "viewer"
    )
    episode = services.create_episode(user=user, data={"title": "Pilot"})
    bearer_client(other).get(f"/api/v1/episodes/{episode.pk}/")
    failures = counters.value(counters.PRESENCE_FAILURES)

    with refused("INSERT", "UPDATE"):
        response = bearer_client(user).get(f"/api/v1/episodes/{episode.pk}/")

    assert response.status_code == 200
    assert names(response.json()["viewers"]) == ["other"]
    assert counters.value(counters.PRESENCE_FAILURES) == failures + 1
    assert REFUSAL in caplog.text


async def test_a_socket_carries_on_when_presence_cannot_be_written(episode, alice):
    failures = counters.value(counters.PRESENCE_FAILURES)
    ws = await connect(alice[1])

    async with refused_meanwhile("INSERT", "UPDATE"):
        ack, _ = await subscribe(ws, [topic_of(episode)])
        await ws.send_json_to({"type": "ping"})
        pong = await receive(ws)
        await ws.disconnect()

    assert ack["data"]["topics"] == [topic_of(episode)]
    assert ack["data"]["viewers"] == {str(episode.pk): []}
    assert pong["event"] == "pong"
    # The join, and the heartbeat's second try at it.
    assert counters.value(counters.PRESENCE_FAILURES) == failures + 2


async def test_the_sweeper_carries_on_after_a_failed_sweep(episode, alice, bob, short_expiry):
    @database_sync_to_async
    def crashed_viewer():
        long_ago = timezone.now() - timedelta(minutes=5)
        Presence.objects.create(
            episode=episode,
            user=bob[0],
            connection="crashed",
            since=long_ago,
            expires_at=long_ago + timedelta(minutes=1),
        )

    await crashed_viewer()
    failures = counters.value(counters.PRESENCE_FAILURES)
    watching = await connect(alice[1])

    async with heartbeats(watching):
        async with refused_meanwhile("DELETE"):
            ack, _ = await subscribe(watching, [topic_of(episode)])
            deadline = time.monotonic() + 5
            while counters.value(counters.PRESENCE_FAILURES) < failures + 2:
                assert time.monotonic() < deadline, "the sweeper stopped after a failure"
                await asyncio.sleep(0.05)
        left = await presence_event(watching)

    assert names(ack["data"]["viewers"][str(episode.pk)]) == ["alice"]
    assert left["data"]["change"] == "left"
    assert left["data"]["user"]["username"] == "bob"
    assert names(left["data"]["viewers"]) == ["alice"]
    await watching.disconnect()
