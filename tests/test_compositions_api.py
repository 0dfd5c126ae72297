"""The compositions API: CRUD, validation, permissions, versions and revert, the primary
composition, approval and publishing, starting a render, and what the activity log records."""

import hashlib
import io
import threading
import uuid

import pytest
from django.core.files.base import ContentFile
from django.db import IntegrityError, connection, transaction
from django.utils import timezone
from PIL import Image

from activity.models import ActivityLog
from episode_metadata.common.context import ActivityContext, acting
from episodes.compositions import services
from episodes.compositions.tasks import thumbnail_render
from episodes.models import Composition, CompositionVersion, Episode, EpisodeFile
from jobs.models import Job, JobStatus
from tests.conftest import bearer_client, with_role

pytestmark = pytest.mark.django_db

LIST = "/api/v1/compositions/"
RED, GREEN, BLUE, YELLOW = (220, 20, 20), (20, 200, 40), (30, 40, 220), (240, 220, 20)


def detail(pk, suffix: str = "") -> str:
    return f"{LIST}{pk}/{suffix}"


@pytest.fixture(autouse=True)
def media_root(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"
    return settings.MEDIA_ROOT


def image_bytes(color=RED, size=(640, 360), image_format="PNG") -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", size, color).save(buffer, image_format)
    return buffer.getvalue()


def make_file(
    episode: Episode,
    content: bytes,
    *,
    name: str = "still.png",
    kind: str = "image",
    content_type: str = "image/png",
) -> EpisodeFile:
    """An episode file as an upload leaves it: its bytes in the storage, its row beside."""
    file = EpisodeFile(
        episode=episode,
        original_name=name,
        kind=kind,
        content_type=content_type,
        size=len(content),
        sha256=hashlib.sha256(content).hexdigest(),
    )
    file.file.save(name, ContentFile(content), save=False)
    file.save()
    return file


def make_image(episode: Episode, color=RED, size=(640, 360)) -> EpisodeFile:
    return make_file(episode, image_bytes(color, size), name=f"{color}.png")


def run_render(job: Job) -> dict:
    """Run a render job's handler here, acting for the job as a worker does; its result."""
    for_the_job = ActivityContext(
        source="job",
        request_id=f"job:{job.pk}",
        actor_label=f"{job.job_type} job",
        get_user=lambda: job.created_by,
    )
    with acting(for_the_job):
        return thumbnail_render.call(**job.payload)


@pytest.fixture
def episode() -> Episode:
    return Episode.objects.create(title="Pilot")


@pytest.fixture
def images(episode) -> list[EpisodeFile]:
    return [make_image(episode, color) for color in (RED, GREEN, BLUE, YELLOW)]


def create(client, episode: Episode, files: list[EpisodeFile], **fields):
    body = {
        "episode": str(episode.pk),
        "name": "Main thumbnail",
        "layout": "split",
        "assets": [str(file.pk) for file in files],
        "formats": ["youtube", "instagram_square"],
        **fields,
    }
    return client.post(LIST, body, format="json")


@pytest.fixture
def composition(api, episode, images) -> dict:
    response = create(api, episode, images[:2])
    assert response.status_code == 201, response.content
    return response.json()


def errors(response, field: str) -> str:
    assert response.status_code == 400, response.content
    return str(response.json()[field])


# --- Create, read, list -----------------------------------------------------------------------


def test_create_returns_201_with_the_composition_at_version_1(api, user, episode, images):
    response = create(api, episode, images[:2])

    assert response.status_code == 201
    body = response.json()
    assert uuid.UUID(body["id"])
    assert body["episode"] == str(episode.pk)
    assert body["assets"] == [str(images[0].pk), str(images[1].pk)]
    assert body["formats"] == ["youtube", "instagram_square"]
    assert body["status"] == "draft"
    assert body["version"] == 1
    assert body["is_primary"] is False
    assert body["rendered_version"] is None and body["renders"] == {}
    assert body["created_by"] == {"id": user.id, "username": "editor"}
    snapshot = CompositionVersion.objects.get(composition_id=body["id"])
    assert snapshot.version == 1
    assert snapshot.created_by == user
    assert snapshot.snapshot == {
        "name": "Main thumbnail",
        "layout": "split",
        "assets": body["assets"],
        "formats": body["formats"],
    }


def test_read_only_fields_in_the_body_are_ignored(api, episode, images):
    response = create(
        api, episode, images[:2], status="published", version=7, is_primary=True, renders={"a": 1}
    )

    body = response.json()
    assert (body["status"], body["version"], body["is_primary"], body["renders"]) == (
        "draft",
        1,
        False,
        {},
    )


def test_retrieve_returns_the_composition(api, composition):
    response = api.get(detail(composition["id"]))

    assert response.status_code == 200
    assert response.json() == composition


def test_unknown_id_is_404_and_a_malformed_one_400(api):
    assert api.get(detail(uuid.uuid4())).status_code == 404
    response = api.get(detail("nope"))
    assert response.status_code == 400
    assert "not a valid UUID" in str(response.json()["id"])


def test_unauthenticated_requests_are_401(anon, composition):
    assert anon.get(LIST).status_code == 401
    assert anon.post(detail(composition["id"], "render/")).status_code == 401


def test_list_is_paginated_newest_first(api, episode, images):
    made = [create(api, episode, [images[0]], layout="single").json()["id"] for _ in range(3)]

    response = api.get(LIST, {"page_size": 2})

    assert response.status_code == 200
    body = response.json()
    assert set(body) == {"count", "next", "previous", "results"}
    assert body["count"] == 3
    second = api.get(body["next"]).json()
    assert [row["id"] for row in body["results"] + second["results"]] == made[::-1]


def test_list_filters_by_episode_and_status(api, staff_api, episode, images):
    other_episode = Episode.objects.create(title="Other")
    other_image = make_image(other_episode)
    mine = create(api, episode, [images[0]], layout="single").json()
    approved = create(api, episode, [images[1]], layout="single").json()
    staff_api.post(detail(approved["id"], "approve/"))
    theirs = create(api, other_episode, [other_image], layout="single").json()

    def listed(**params) -> set[str]:
        response = api.get(LIST, params)
        assert response.status_code == 200, response.content
        return {row["id"] for row in response.json()["results"]}

    assert listed(episode=str(episode.pk)) == {mine["id"], approved["id"]}
    assert listed(episode=str(other_episode.pk)) == {theirs["id"]}
    assert listed(status="approved") == {approved["id"]}
    assert listed(status="draft,approved", episode=str(episode.pk)) == {
        mine["id"],
        approved["id"],
    }
    assert "episode" in api.get(LIST, {"episode": "nope"}).json()
    assert "status" in api.get(LIST, {"status": "archived"}).json()


def test_compositions_of_a_deleted_episode_are_out_of_view(api, composition, episode):
    episode.deleted_at = timezone.now()
    episode.save()

    assert api.get(LIST).json()["count"] == 0
    assert api.get(detail(composition["id"])).status_code == 404


# --- Validation -------------------------------------------------------------------------------


def test_a_deleted_or_unknown_episode_is_refused(api, episode, images):
    episode.deleted_at = timezone.now()
    episode.save()

    assert "No live episode" in errors(create(api, episode, images[:2]), "episode")
    response = api.post(LIST, {"episode": str(uuid.uuid4())}, format="json")
    assert "No live episode" in errors(response, "episode")


def test_unknown_layout_names_the_layouts(api, episode, images):
    message = errors(create(api, episode, images[:2], layout="mosaic"), "layout")

    assert '"mosaic" is not a layout' in message
    assert "single, split, grid, feature" in message


def test_unknown_format_names_the_formats(api, episode, images):
    response = create(api, episode, images[:2], formats=["youtube", "tiktok"])

    message = errors(response, "formats")
    assert '"tiktok" is not a format' in message
    assert "youtube, instagram_square, instagram_story, twitter" in message


@pytest.mark.parametrize(
    ("formats", "message"),
    [
        ([], "At least one format is required."),
        (["youtube", "twitter", "youtube"], "Formats must be distinct; repeated: ['youtube']"),
        ("youtube", "Expected a list"),
    ],
)
def test_formats_must_be_a_distinct_non_empty_list(api, episode, images, formats, message):
    assert message in errors(create(api, episode, images[:2], formats=formats), "formats")


@pytest.mark.parametrize(
    ("layout", "count", "message"),
    [
        ("single", 2, "The single layout takes exactly 1 image; got 2."),
        ("split", 1, "The split layout takes exactly 2 images; got 1."),
        ("grid", 1, "The grid layout takes 2 to 4 images; got 1."),
        ("feature", 0, "The feature layout takes 2 to 4 images; got 0."),
    ],
)
def test_the_asset_count_must_fit_the_layout(api, episode, images, layout, count, message):
    response = create(api, episode, images[:count], layout=layout)

    assert message in errors(response, "assets")


def test_grid_takes_up_to_four_and_no_layout_more_than_nine(api, episode, images):
    five = [*images, make_image(episode)]
    assert "takes 2 to 4 images; got 5" in errors(
        create(api, episode, five, layout="grid"), "assets"
    )
    ten = {"assets": [str(uuid.uuid4()) for _ in range(10)]}
    assert "no more than 9" in errors(create(api, episode, [], **ten), "assets")


def test_assets_must_be_distinct_uuids(api, episode, images):
    twice = create(api, episode, [images[0], images[0]])
    assert "Assets must be distinct" in errors(twice, "assets")
    malformed = create(api, episode, [], assets=["nope", str(images[0].pk)])
    assert "Must be a valid UUID." in errors(malformed, "assets")


def test_assets_must_be_live_images_of_the_episode(api, episode, images):
    other_image = make_image(Episode.objects.create(title="Other"))
    deleted = make_image(episode)
    deleted.deleted_at = timezone.now()
    deleted.save()
    script = make_file(
        episode, b"INT. STUDIO", name="script.txt", kind="script", content_type="text/plain"
    )

    for asset, message in [
        (other_image, f"No file of this episode has the id {other_image.pk}."),
        (deleted, f"File {deleted.pk} ({deleted.original_name}) is deleted."),
        (script, f"File {script.pk} (script.txt) is a script file, not an image."),
    ]:
        response = create(api, episode, [images[0], asset])
        assert errors(response, "assets") == str([message])
    assert not Composition.objects.exists()


def test_name_is_required_and_bounded(api, episode, images):
    assert "blank" in errors(create(api, episode, images[:2], name=""), "name")
    assert "200" in errors(create(api, episode, images[:2], name="x" * 201), "name")


# --- Updates and versions ---------------------------------------------------------------------


def test_a_content_change_is_a_new_version_with_its_snapshot(api, composition, images, user):
    response = api.patch(
        detail(composition["id"]),
        {"name": "Bold", "assets": [str(images[2].pk), str(images[3].pk)]},
        format="json",
    )

    assert response.status_code == 200, response.content
    body = response.json()
    assert body["version"] == 2
    assert body["name"] == "Bold"
    latest = CompositionVersion.objects.get(composition_id=composition["id"], version=2)
    assert latest.snapshot["assets"] == body["assets"]
    assert latest.snapshot["name"] == "Bold"
    assert latest.created_by == user


def test_saving_the_same_content_keeps_the_version(api, composition):
    response = api.patch(
        detail(composition["id"]),
        {"name": composition["name"], "formats": composition["formats"]},
        format="json",
    )

    assert response.json()["version"] == 1
    assert CompositionVersion.objects.filter(composition_id=composition["id"]).count() == 1


def test_put_replaces_the_content(api, composition, episode, images):
    response = api.put(
        detail(composition["id"]),
        {
            "episode": str(episode.pk),
            "name": "Grid",
            "layout": "grid",
            "assets": [str(image.pk) for image in images[:3]],
            "formats": ["twitter"],
        },
        format="json",
    )

    assert response.status_code == 200, response.content
    assert response.json()["layout"] == "grid" and response.json()["version"] == 2


def test_changing_the_layout_checks_the_assets_against_it(api, composition):
    response = api.patch(detail(composition["id"]), {"layout": "single"}, format="json")

    assert "The single layout takes exactly 1 image; got 2." in errors(response, "assets")
    assert Composition.objects.get(pk=composition["id"]).version == 1


def test_a_composition_stays_with_its_episode(api, composition):
    other = Episode.objects.create(title="Other")

    response = api.patch(detail(composition["id"]), {"episode": str(other.pk)}, format="json")

    assert "cannot move to another episode" in errors(response, "episode")


def test_editing_an_approved_composition_sends_it_back_to_draft(api, staff_api, composition):
    assert staff_api.post(detail(composition["id"], "approve/")).json()["status"] == "approved"

    response = api.patch(detail(composition["id"]), {"name": "Changed"}, format="json")

    assert response.json()["status"] == "draft"
    assert response.json()["version"] == 2


def test_versions_are_listed_newest_first_and_paginated(api, composition):
    for name in ("Second", "Third"):
        api.patch(detail(composition["id"]), {"name": name}, format="json")

    response = api.get(detail(composition["id"], "versions/"), {"page_size": 2})

    assert response.status_code == 200
    body = response.json()
    assert body["count"] == 3
    assert [row["version"] for row in body["results"]] == [3, 2]
    assert body["results"][0]["snapshot"]["name"] == "Third"
    assert set(body["results"][0]) == {"version", "snapshot", "created_by", "created_at"}
    assert [row["version"] for row in api.get(body["next"]).json()["results"]] == [1]


def test_revert_makes_a_new_version_with_the_old_content(api, composition, images):
    api.patch(
        detail(composition["id"]),
        {"name": "Changed", "layout": "single", "assets": [str(images[3].pk)]},
        format="json",
    )

    response = api.post(detail(composition["id"], "revert/"), {"version": 1}, format="json")

    assert response.status_code == 200, response.content
    body = response.json()
    assert body["version"] == 3
    for field in ("name", "layout", "assets", "formats"):
        assert body[field] == composition[field]
    snapshots = CompositionVersion.objects.filter(composition_id=composition["id"])
    assert [v.version for v in snapshots] == [3, 2, 1]


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"version": 5}, "No version 5: this composition has versions 1 to 1."),
        ({"version": 0}, "greater than or equal to 1"),
        ({}, "required"),
    ],
)
def test_revert_to_an_unknown_version_is_400(api, composition, body, message):
    response = api.post(detail(composition["id"], "revert/"), body, format="json")

    assert message in errors(response, "version")


def test_revert_to_content_whose_asset_was_deleted_since_is_400(api, composition, images):
    api.patch(
        detail(composition["id"]),
        {"assets": [str(images[2].pk), str(images[3].pk)]},
        format="json",
    )
    images[0].deleted_at = timezone.now()
    images[0].save()

    response = api.post(detail(composition["id"], "revert/"), {"version": 1}, format="json")

    assert "is deleted" in errors(response, "assets")
    assert Composition.objects.get(pk=composition["id"]).version == 2


# --- Delete -----------------------------------------------------------------------------------


def test_the_creator_can_delete_and_its_versions_go_with_it(api, composition):
    assert api.delete(detail(composition["id"])).status_code == 204
    assert api.get(detail(composition["id"])).status_code == 404
    assert not CompositionVersion.objects.exists()


def test_staff_can_delete_anyones_composition(staff_api, composition):
    assert staff_api.delete(detail(composition["id"])).status_code == 204


def test_another_user_can_edit_but_not_delete(composition, django_user_model):
    other = django_user_model.objects.create_user(username="other", password="x")
    other = bearer_client(with_role(other, "editor"))

    edited = other.patch(detail(composition["id"]), {"name": "Theirs"}, format="json")
    refused = other.delete(detail(composition["id"]))

    assert edited.status_code == 200
    assert refused.status_code == 403
    assert refused.json()["detail"] == (
        "Only the composition's creator can delete it, or someone with the permission "
        "episodes.delete_composition."
    )
    assert Composition.objects.filter(pk=composition["id"]).exists()


# --- Primary ----------------------------------------------------------------------------------


def test_make_primary_moves_the_one_primary_of_the_episode(api, episode, images):
    first = create(api, episode, images[:2]).json()
    second = create(api, episode, images[2:]).json()
    elsewhere = Episode.objects.create(title="Other")
    other = create(api, elsewhere, [make_image(elsewhere)], layout="single").json()

    for pick in (first, second, other):
        response = api.post(detail(pick["id"], "make-primary/"))
        assert response.status_code == 200
        assert response.json()["is_primary"] is True

    primaries = Composition.objects.filter(is_primary=True)
    assert {str(c.pk) for c in primaries} == {second["id"], other["id"]}
    # Asking again changes nothing.
    assert api.post(detail(second["id"], "make-primary/")).json()["is_primary"] is True
    assert Composition.objects.filter(episode=episode, is_primary=True).count() == 1


def test_the_database_refuses_two_primaries_for_one_episode(api, episode, images):
    first = create(api, episode, images[:2]).json()
    second = create(api, episode, images[2:]).json()
    api.post(detail(first["id"], "make-primary/"))

    with pytest.raises(IntegrityError), transaction.atomic():
        Composition.objects.filter(pk=second["id"]).update(is_primary=True)


@pytest.mark.django_db(transaction=True)
def test_concurrent_make_primary_calls_leave_exactly_one(user, episode, images):
    singles = [
        services.create_composition(
            user=user,
            data={
                "episode": episode,
                "name": f"Option {image.pk}",
                "layout": "single",
                "assets": [str(image.pk)],
                "formats": ["youtube"],
            },
        )
        for image in images
    ]
    start = threading.Barrier(len(singles))
    failures = []

    def pick(composition: Composition) -> None:
        try:
            start.wait()
            services.make_primary(composition)
        except Exception as exc:
            failures.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=pick, args=(c,)) for c in singles]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert failures == []
    assert Composition.objects.filter(episode=episode, is_primary=True).count() == 1


# --- Approve and publish ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("step", "permission"),
    [("approve/", "approve_composition"), ("publish/", "publish_composition")],
)
def test_only_approvers_approve_or_publish(composition, step, permission, django_user_model):
    editor = django_user_model.objects.create_user(username="writer", password="x")
    response = bearer_client(with_role(editor, "editor")).post(detail(composition["id"], step))

    assert response.status_code == 403
    assert response.json()["detail"] == f"You do not have the permission episodes.{permission}."
    assert Composition.objects.get(pk=composition["id"]).status == "draft"


def test_approve_takes_a_draft_only(staff_api, composition):
    assert staff_api.post(detail(composition["id"], "approve/")).json()["status"] == "approved"

    again = staff_api.post(detail(composition["id"], "approve/"))

    assert errors(again, "status") == str(
        ["Only a draft can be approved; this composition is approved."]
    )


def test_publishing_a_draft_is_400(staff_api, composition):
    response = staff_api.post(detail(composition["id"], "publish/"))

    assert errors(response, "status") == str(["Approve the composition before publishing it."])


def test_publishing_needs_a_render_of_the_current_version(api, staff_api, composition):
    staff_api.post(detail(composition["id"], "approve/"))

    unrendered = staff_api.post(detail(composition["id"], "publish/"))
    assert "Render version 1 first" in errors(unrendered, "status")

    run_render(Job.objects.get(pk=api.post(detail(composition["id"], "render/")).json()["id"]))
    published = staff_api.post(detail(composition["id"], "publish/"))
    assert published.status_code == 200, published.content
    assert published.json()["status"] == "published"
    assert published.json()["rendered_version"] == 1

    again = staff_api.post(detail(composition["id"], "publish/"))
    assert "published already" in errors(again, "status")


def test_a_render_of_an_older_version_does_not_allow_publishing(api, staff_api, composition):
    job = Job.objects.get(pk=api.post(detail(composition["id"], "render/")).json()["id"])
    run_render(job)
    api.patch(detail(composition["id"]), {"name": "Renamed"}, format="json")
    staff_api.post(detail(composition["id"], "approve/"))

    response = staff_api.post(detail(composition["id"], "publish/"))

    assert "Render version 2 first" in errors(response, "status")


def test_a_deleted_render_file_must_be_rendered_again(api, staff_api, composition):
    run_render(Job.objects.get(pk=api.post(detail(composition["id"], "render/")).json()["id"]))
    staff_api.post(detail(composition["id"], "approve/"))
    rendered = Composition.objects.get(pk=composition["id"]).renders["youtube"]
    EpisodeFile.objects.filter(pk=rendered).update(deleted_at=timezone.now())

    response = staff_api.post(detail(composition["id"], "publish/"))

    assert "Render version 1 first" in errors(response, "status")


def test_editing_a_published_composition_sends_it_back_to_draft(api, staff_api, composition):
    run_render(Job.objects.get(pk=api.post(detail(composition["id"], "render/")).json()["id"]))
    staff_api.post(detail(composition["id"], "approve/"))
    staff_api.post(detail(composition["id"], "publish/"))

    response = api.patch(detail(composition["id"]), {"formats": ["twitter"]}, format="json")

    assert response.json()["status"] == "draft"
    assert response.json()["version"] == 2
    assert response.json()["rendered_version"] == 1


# --- Render -----------------------------------------------------------------------------------


def test_render_answers_202_with_the_queued_job(api, user, composition, episode):
    response = api.post(detail(composition["id"], "render/"))

    assert response.status_code == 202, response.content
    body = response.json()
    assert body["job_type"] == "thumbnail_render"
    assert body["status"] == "pending"
    assert body["payload"] == {"composition_id": composition["id"], "version": 1}
    assert body["episode"] == str(episode.pk)
    assert body["created_by"] == {"id": user.id, "username": "editor"}
    job = Job.objects.get(pk=body["id"])
    assert job.status == JobStatus.PENDING and job.created_by == user


def test_render_is_refused_when_an_asset_is_gone(api, composition, images):
    images[1].deleted_at = timezone.now()
    images[1].save()

    response = api.post(detail(composition["id"], "render/"))

    assert "is deleted" in errors(response, "assets")
    assert not Job.objects.exists()


def test_the_render_result_names_the_files_and_becomes_the_renders(api, composition, episode):
    job = Job.objects.get(pk=api.post(detail(composition["id"], "render/")).json()["id"])

    result = run_render(job)

    assert result["composition_id"] == composition["id"] and result["version"] == 1
    assert [f["format"] for f in result["files"]] == ["youtube", "instagram_square"]
    body = api.get(detail(composition["id"])).json()
    assert body["rendered_version"] == 1
    assert body["renders"] == {f["format"]: f["file_id"] for f in result["files"]}
    for entry in result["files"]:
        stored = EpisodeFile.objects.get(pk=entry["file_id"])
        assert stored.episode == episode and stored.kind == "image"
        assert stored.content_type == "image/jpeg"
        assert stored.original_name == f"main-thumbnail-v1-{entry['format']}.jpg"


# --- Activity ---------------------------------------------------------------------------------


def composition_actions(composition_id) -> list[tuple[str, str]]:
    rows = ActivityLog.objects.filter(resource_type="composition", resource_id=composition_id)
    return [(row.action, row.actor_label) for row in rows.order_by("id")]


def test_each_change_is_in_the_activity_log_with_its_actor(api, staff_api, composition, episode):
    pk = composition["id"]
    api.patch(detail(pk), {"name": "Renamed"}, format="json")
    staff_api.post(detail(pk, "approve/"))
    run_render(Job.objects.get(pk=api.post(detail(pk, "render/")).json()["id"]))
    staff_api.post(detail(pk, "publish/"))
    staff_api.delete(detail(pk))

    assert composition_actions(pk) == [
        ("create", "editor"),
        ("update", "editor"),
        ("approve", "producer"),
        ("update", "thumbnail_render job"),  # the render's files become its renders
        ("publish", "producer"),
        ("delete", "producer"),
    ]
    rows = ActivityLog.objects.filter(resource_id=pk).order_by("id")
    assert rows[1].changes == {"name": ["Main thumbnail", "Renamed"], "version": [1, 2]}
    assert rows[2].changes == {"status": ["draft", "approved"]}
    assert set(rows[3].changes) == {"renders", "rendered_version"}
    assert {row.episode_id for row in rows} == {episode.pk}


def test_the_episode_history_lists_its_compositions(api, composition, episode):
    response = api.get(f"/api/v1/episodes/{episode.pk}/activity/")

    entries = [e for e in response.json()["results"] if e["resource_type"] == "composition"]
    assert [(e["action"], e["resource_id"]) for e in entries] == [("create", composition["id"])]
