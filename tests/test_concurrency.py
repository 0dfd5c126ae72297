"""Optimistic concurrency: every write to an episode, a composition or notification
preferences increments its version, answers carry it as a strong ETag, and a write whose
If-Match no longer matches is refused with 412 and the current version, atomically."""

import io
import threading

import pytest
from django.db import connection
from PIL import Image

from activity.models import ActivityLog
from episode_metadata.common.preconditions import PreconditionFailed, parse
from episodes import services
from episodes.compositions import services as composition_services
from episodes.files.services import store_generated_file
from episodes.models import Composition, Episode
from tests.conftest import bearer_client, with_role

pytestmark = pytest.mark.django_db

EPISODES = "/api/v1/episodes/"
COMPOSITIONS = "/api/v1/compositions/"
PREFERENCES = "/api/v1/notifications/preferences/"


@pytest.fixture
def episode(user) -> Episode:
    return services.create_episode(user=user, data={"title": "Pilot"})


@pytest.fixture
def other_api(django_user_model):
    """A second editor, as another person at another desk."""
    other = django_user_model.objects.create_user(username="colleague", password="x")
    return bearer_client(with_role(other, "approver"))


def url(episode: Episode, suffix: str = "") -> str:
    return f"{EPISODES}{episode.pk}/{suffix}"


def updates_of(episode: Episode) -> list[ActivityLog]:
    return list(ActivityLog.objects.filter(resource_id=str(episode.pk), action="update"))


def test_reads_and_writes_carry_the_version_as_a_strong_etag(api, episode):
    read = api.get(url(episode))
    written = api.patch(url(episode), {"title": "Renamed"}, HTTP_IF_MATCH='"1"')
    created = api.post(EPISODES, {"title": "Second"})

    assert (read["ETag"], read.json()["version"]) == ('"1"', 1)
    assert (written["ETag"], written.json()["version"]) == ('"2"', 2)
    assert (created.status_code, created["ETag"]) == (201, '"1"')


def test_a_lost_update_is_refused_with_the_current_version(api, other_api, episode):
    mine, theirs = api.get(url(episode)), other_api.get(url(episode))

    won = api.patch(url(episode), {"title": "Mine"}, HTTP_IF_MATCH=mine["ETag"])
    lost = other_api.patch(url(episode), {"title": "Theirs"}, HTTP_IF_MATCH=theirs["ETag"])

    assert won.status_code == 200
    assert lost.status_code == 412, lost.content
    assert lost.json()["version"] == 2
    assert lost["ETag"] == '"2"'
    episode.refresh_from_db()
    assert (episode.title, episode.version) == ("Mine", 2)
    assert [entry.changes["title"] for entry in updates_of(episode)] == [["Pilot", "Mine"]]


def test_a_write_racing_past_the_check_is_undone_in_its_transaction(api, user, episode):
    """The request loaded version 1 before another write committed version 2: its own
    UPDATE finds version 2, so it is rolled back, activity row and all."""
    stale = Episode.objects.get(pk=episode.pk)
    assert api.patch(url(episode), {"title": "First"}).status_code == 200

    with pytest.raises(PreconditionFailed) as refused:
        services.update_episode(stale, user=user, data={"title": "Second"}, if_match=parse('"1"'))

    assert refused.value.current == 2
    stored = Episode.objects.get(pk=episode.pk)
    assert (stored.title, stored.version) == ("First", 2)
    assert len(updates_of(episode)) == 1


@pytest.mark.django_db(transaction=True)
def test_of_two_concurrent_patches_with_the_same_version_exactly_one_wins(user):
    episode = services.create_episode(user=user, data={"title": "Pilot"})
    loaded, start = threading.Barrier(2), threading.Barrier(2)
    outcomes = []

    def edit(title: str) -> None:
        try:
            mine = Episode.objects.get(pk=episode.pk)  # each thread's own connection
            loaded.wait()
            start.wait()
            services.update_episode(mine, user=user, data={"title": title}, if_match=parse('"1"'))
            outcomes.append("won")
        except PreconditionFailed as refused:
            outcomes.append(f"412 at {refused.current}")
        finally:
            connection.close()

    threads = [threading.Thread(target=edit, args=(title,)) for title in ("A", "B")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert sorted(outcomes) == ["412 at 2", "won"]
    assert Episode.objects.get(pk=episode.pk).version == 2
    assert len(updates_of(episode)) == 1


def test_if_match_required_answers_428_without_it(api, episode, settings):
    settings.REQUIRE_IF_MATCH = True

    missing = api.patch(url(episode), {"title": "Renamed"})
    deleting = api.delete(url(episode))
    given = api.patch(url(episode), {"title": "Renamed"}, HTTP_IF_MATCH='"1"')

    assert (missing.status_code, deleting.status_code, given.status_code) == (428, 428, 200)
    assert "If-Match" in missing.json()["detail"]
    assert api.get(url(episode)).status_code == 200


@pytest.mark.parametrize(
    ("if_match", "status"),
    [
        ("*", 200),
        ('"7", "1"', 200),
        ('"a,b" , "1" ,', 200),
        ('W/"1"', 412),  # If-Match compares strongly: a weak tag never matches
        ('"2"', 412),
        ("1", 412),  # not an entity tag: it matches nothing
        ('w/"1"', 412),
        ('"1" and more', 412),
        ('*, "2"', 412),
        ("", 412),
    ],
)
def test_if_match_compares_strongly(api, episode, if_match, status):
    response = api.patch(url(episode), {"title": "Renamed"}, HTTP_IF_MATCH=if_match)

    assert response.status_code == status, response.content


def test_a_delete_with_a_stale_version_is_refused(api, staff_api, episode):
    api.patch(url(episode), {"title": "Renamed"})

    soft = api.delete(url(episode), HTTP_IF_MATCH='"1"')
    hard = staff_api.delete(f"{url(episode)}?hard=true", HTTP_IF_MATCH='"1"')

    assert (soft.status_code, hard.status_code) == (412, 412)
    assert soft.json()["version"] == hard.json()["version"] == 2
    assert Episode.objects.get(pk=episode.pk).deleted_at is None
    assert api.delete(url(episode), HTTP_IF_MATCH='"2"').status_code == 204


def test_every_write_to_an_episode_increments_its_version(api, staff_api, episode):
    steps = [
        lambda: api.patch(url(episode), {"title": "Renamed"}),
        lambda: api.put(url(episode), {"title": "Put", "description": "All of it"}),
        lambda: api.patch(url(episode), {"status": "pending"}),  # a workflow move
        lambda: api.delete(url(episode)),
        lambda: api.post(url(episode, "restore/")),
    ]
    versions = []
    for step in steps:
        assert step().status_code < 300
        versions.append(Episode.objects.get(pk=episode.pk).version)

    assert versions == [2, 3, 4, 5, 6]
    assert api.get(url(episode))["ETag"] == '"6"'


def test_any_save_increments_the_version_in_its_own_update(episode):
    """The admin, the shell and every service save through `save()`, with or without
    `update_fields`: none can leave the version behind."""
    loaded = Episode.objects.get(pk=episode.pk)
    loaded.description = "From the admin"
    loaded.save()
    loaded.air_date = None
    loaded.save(update_fields=["air_date"])

    assert loaded.version == 3
    assert Episode.objects.get(pk=episode.pk).version == 3


# --- Compositions -----------------------------------------------------------------------------


def _png() -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (64, 36), (220, 20, 20)).save(buffer, "PNG")
    return buffer.getvalue()


@pytest.fixture
def composition(settings, tmp_path, user, episode) -> Composition:
    settings.MEDIA_ROOT = tmp_path / "media"
    image = store_generated_file(
        episode=episode, name="still.png", content=_png(), content_type="image/png"
    )
    return composition_services.create_composition(
        user=user,
        data={
            "episode": episode,
            "name": "Main",
            "layout": "single",
            "assets": [str(image.pk)],
            "formats": ["youtube"],
        },
    )


def test_every_write_to_a_composition_increments_its_revision(api, composition):
    at = f"{COMPOSITIONS}{composition.pk}/"
    steps = [
        lambda: api.patch(at, {"name": "Renamed"}, HTTP_IF_MATCH='"1"'),
        lambda: api.post(f"{at}revert/", {"version": 1}, HTTP_IF_MATCH='"2"'),
        lambda: api.post(f"{at}approve/", HTTP_IF_MATCH='"3"'),
        lambda: api.post(f"{at}make-primary/", HTTP_IF_MATCH='"4"'),
    ]
    for revision, step in enumerate(steps, start=2):
        response = step()
        assert response.status_code == 200, response.content
        assert (response["ETag"], response.json()["revision"]) == (f'"{revision}"', revision)

    # The render job's recording of its files is a write too.
    composition_services.render_composition(composition_id=str(composition.pk), version=3)
    composition.refresh_from_db()
    assert (composition.revision, composition.version, composition.status) == (6, 3, "approved")
    # And so is losing the primary place to another composition.
    other = composition_services.create_composition(
        user=composition.created_by,
        data={name: getattr(composition, name) for name in ("episode", "layout", "assets")}
        | {"name": "Other", "formats": ["youtube"]},
    )
    composition_services.make_primary(other)
    composition.refresh_from_db()
    assert (composition.is_primary, composition.revision) == (False, 7)


def test_a_stale_composition_write_is_refused_with_its_revision(api, composition):
    at = f"{COMPOSITIONS}{composition.pk}/"
    api.post(f"{at}approve/")

    renamed = api.patch(at, {"name": "Renamed"}, HTTP_IF_MATCH='"1"')
    deleted = api.delete(at, HTTP_IF_MATCH='"1"')

    assert (renamed.status_code, deleted.status_code) == (412, 412)
    assert renamed.json()["revision"] == 2
    assert deleted["ETag"] == '"2"'
    assert Composition.objects.get(pk=composition.pk).name == "Main"
    assert api.delete(at, HTTP_IF_MATCH='"2"').status_code == 204


# --- Notification preferences -----------------------------------------------------------------


def test_preferences_are_versioned_from_0_before_their_first_save(api):
    before = api.get(PREFERENCES)
    first = api.put(PREFERENCES, {"muted_types": ["announcement"]}, HTTP_IF_MATCH='"0"')
    stale = api.put(PREFERENCES, {"muted_types": []}, HTTP_IF_MATCH='"0"')
    second = api.put(PREFERENCES, {"muted_types": []}, HTTP_IF_MATCH="*")

    assert (before["ETag"], before.json()["version"]) == ('"0"', 0)
    assert (first.status_code, first["ETag"]) == (200, '"1"')
    assert (stale.status_code, stale.json()["version"]) == (412, 1)
    assert (second.status_code, second.json()["version"]) == (200, 2)
