"""The episodes_export job: its payload, the files it writes, progress and cancellation."""

import csv
import io
import json

import pytest
from django.core.files.storage import default_storage
from rest_framework.exceptions import ValidationError

from episode_metadata.common import context
from episodes import exports
from episodes.tasks import EpisodesExportPayload, episodes_export
from jobs import execution, registry, runtime, services
from jobs.models import JobStatus

pytestmark = pytest.mark.django_db

EPISODES = "/api/v1/episodes/"


@pytest.fixture(autouse=True)
def media_root(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"
    return settings.MEDIA_ROOT


def create(client, **fields) -> dict:
    response = client.post(EPISODES, fields, format="json")
    assert response.status_code == 201, response.content
    return response.json()


def update(client, episode: dict, **fields) -> None:
    response = client.patch(f"{EPISODES}{episode['id']}/", fields, format="json")
    assert response.status_code == 200, response.content


def delete(client, episode: dict) -> None:
    assert client.delete(f"{EPISODES}{episode['id']}/").status_code == 204


@pytest.fixture
def season_one(api) -> dict[str, dict]:
    """Season 1 has a pilot (renamed and approved since), a finale and a deleted episode;
    season 2 has one episode."""
    pilot = create(
        api,
        title="Pilot",
        season_number=1,
        episode_number=1,
        categories=["drama"],
        status="pending",
    )
    update(api, pilot, title="The Pilot", status="approved")
    finale = create(
        api, title="=Finale", season_number=1, episode_number=2, categories=["drama", "live"]
    )
    dropped = create(api, title="Dropped", season_number=1, episode_number=3)
    delete(api, dropped)
    other = create(api, title="Next season", season_number=2, episode_number=1)
    return {"pilot": pilot, "finale": finale, "dropped": dropped, "other": other}


def payload_errors(data: dict) -> dict:
    payload = EpisodesExportPayload(data=data)
    assert not payload.is_valid()
    return payload.errors


def read_json(result: dict) -> dict:
    (entry,) = [f for f in result["files"] if f["format"] == "json"]
    with default_storage.open(entry["path"]) as stored:
        return json.loads(stored.read().decode())


def read_csv(result: dict) -> list[dict]:
    (entry,) = [f for f in result["files"] if f["format"] == "csv"]
    with default_storage.open(entry["path"]) as stored:
        return list(csv.DictReader(io.StringIO(stored.read().decode(), newline="")))


def stored_files(media_root) -> list:
    return [path for path in media_root.rglob("*") if path.is_file()]


# --- payload ----------------------------------------------------------------------------------


def test_is_a_registered_job_type_with_a_half_hour_limit():
    declared = registry.get("episodes_export")
    assert declared.task is episodes_export
    assert declared.payload is EpisodesExportPayload
    assert declared.timeout_seconds == 30 * 60
    assert declared.max_attempts == registry.DEFAULT_MAX_ATTEMPTS


def test_payload_defaults():
    payload = EpisodesExportPayload(data={})
    assert payload.is_valid(), payload.errors
    assert payload.validated_data == {
        "filters": {},
        "include_deleted": False,
        "formats": ["json", "csv"],
        "include_activity": True,
    }


def test_payload_accepts_the_list_filters_as_query_parameters():
    filters = {
        "status": ["draft", "approved"],
        "category": "drama",
        "season_number": 1,
        "air_date_after": "2026-01-01",
        "air_date_before": "2026-12-31",
        "created_after": "2026-01-01T00:00:00Z",
        "search": "pilot",
        "ordering": "-air_date",
    }
    payload = EpisodesExportPayload(data={"filters": filters, "formats": ["csv", "json", "csv"]})
    assert payload.is_valid(), payload.errors
    assert payload.validated_data["filters"] == filters
    assert payload.validated_data["formats"] == ["json", "csv"]


def test_bad_filter_values_are_rejected_with_the_list_apis_messages():
    errors = payload_errors(
        {"filters": {"status": "draft,bogus", "season_number": 0, "air_date_after": "soon"}}
    )["filters"]
    assert "bogus is not one of the available choices" in str(errors["status"][0])
    assert "greater than or equal to 1" in str(errors["season_number"][0])
    assert "valid date" in str(errors["air_date"][0])


def test_unknown_filters_are_rejected_by_name():
    errors = payload_errors({"filters": {"stauts": "draft", "page": 2, "status": "x"}})["filters"]
    assert set(errors) == {"stauts", "page", "status"}
    assert "Unknown filter" in str(errors["stauts"][0])
    assert "status" in str(errors["stauts"][0])


def test_filter_values_must_be_scalars_or_lists_of_them():
    errors = payload_errors({"filters": {"search": {"title": "x"}}})["filters"]
    assert "string, a number or a list" in str(errors["search"][0])


@pytest.mark.parametrize(
    ("formats", "message"), [([], "may not be empty"), (["xml"], "not a valid choice")]
)
def test_formats_must_be_a_non_empty_subset(formats, message):
    assert message in str(payload_errors({"formats": formats})["formats"])


def test_only_staff_may_export_deleted_episodes(user, staff_user):
    with context.acting(context.ActivityContext(get_user=lambda: user)):
        assert "Only staff" in str(payload_errors({"include_deleted": True})["include_deleted"])
    with context.acting(context.ActivityContext(get_user=lambda: staff_user)):
        assert EpisodesExportPayload(data={"include_deleted": True}).is_valid()


def test_enqueueing_a_bad_payload_is_refused():
    with pytest.raises(ValidationError) as refused:
        episodes_export.enqueue(filters={"season_number": "one"})
    assert "season_number" in refused.value.detail["filters"]


# --- the export -------------------------------------------------------------------------------


def test_exports_the_filtered_live_episodes_with_their_history(season_one, user):
    result = episodes_export.call(filters={"season_number": 1})

    assert result["count"] == 2
    assert [f["format"] for f in result["files"]] == ["json", "csv"]
    for entry, suffix, content_type in zip(
        result["files"], [".json", ".csv"], ["application/json", "text/csv"], strict=True
    ):
        assert entry["path"].startswith("exports/")
        assert entry["path"].endswith(suffix)
        assert entry["content_type"] == content_type
        assert entry["size"] == default_storage.size(entry["path"]) > 0
        assert "url" not in entry

    document = read_json(result)
    assert document["count"] == 2
    assert document["filters"] == {"season_number": 1}
    assert document["exported_at"].endswith("Z")
    by_title = {episode["title"]: episode for episode in document["episodes"]}
    assert set(by_title) == {"The Pilot", "=Finale"}
    pilot = by_title["The Pilot"]
    assert pilot["id"] == season_one["pilot"]["id"]
    assert pilot["status"] == "approved"
    assert pilot["created_by"] == {"id": user.pk, "username": "editor"}
    assert [entry["action"] for entry in pilot["activity"]] == ["create", "update"]
    change = pilot["activity"][1]
    assert set(change) == {"id", "timestamp", "actor", "action", "changes", "source", "request_id"}
    assert change["changes"]["title"] == ["Pilot", "The Pilot"]
    assert change["actor"] == {"id": user.pk, "username": "editor"}
    assert change["source"] == "api"
    assert change["request_id"]

    rows = {row["id"]: row for row in read_csv(result)}
    assert set(rows) == {season_one["pilot"]["id"], season_one["finale"]["id"]}
    pilot_row = rows[season_one["pilot"]["id"]]
    assert pilot_row["title"] == "The Pilot"
    assert pilot_row["created_by"] == "editor"
    assert pilot_row["deleted_at"] == ""
    assert pilot_row["activity_count"] == "2"
    assert pilot_row["last_changed_at"] == pilot["activity"][-1]["timestamp"]
    finale_row = rows[season_one["finale"]["id"]]
    assert finale_row["categories"] == "drama; live"
    assert finale_row["title"] == "'=Finale"  # not a formula when opened in a spreadsheet


def test_deleted_episodes_are_exported_only_when_asked(season_one):
    dropped = season_one["dropped"]["id"]
    default = read_json(episodes_export.call(filters={"season_number": 1}))
    assert dropped not in {episode["id"] for episode in default["episodes"]}

    result = episodes_export.call(filters={"season_number": 1}, include_deleted=True)
    assert result["count"] == 3
    (exported,) = [e for e in read_json(result)["episodes"] if e["id"] == dropped]
    assert exported["deleted_at"] is not None
    assert [entry["action"] for entry in exported["activity"]] == ["create", "delete"]
    assert {row["id"] for row in read_csv(result)} >= {dropped}


def test_the_export_follows_the_requested_ordering(season_one):
    result = episodes_export.call(filters={"ordering": "-episode_number", "season_number": 1})
    assert [e["title"] for e in read_json(result)["episodes"]] == ["=Finale", "The Pilot"]
    assert [row["title"] for row in read_csv(result)] == ["'=Finale", "The Pilot"]


def test_without_activity_and_in_one_format(season_one):
    result = episodes_export.call(formats=["csv"], include_activity=False)
    assert [f["format"] for f in result["files"]] == ["csv"]
    rows = read_csv(result)
    assert len(rows) == result["count"] == 3
    assert "activity_count" not in rows[0]
    assert "last_changed_at" not in rows[0]

    document = read_json(episodes_export.call(formats=["json"], include_activity=False))
    assert all("activity" not in episode for episode in document["episodes"])


def test_an_export_of_nothing_is_still_well_formed():
    result = episodes_export.call(filters={"search": "no such episode"})
    assert result["count"] == 0
    assert read_json(result)["episodes"] == []
    assert read_csv(result) == []


def test_exports_in_chunks_reporting_progress(api):
    for number in range(1, 6):
        create(api, title=f"Episode {number}", season_number=1, episode_number=number)
    calls = []

    result = exports.export_episodes(
        filters={"ordering": "episode_number"},
        export_id="chunked",
        chunk_size=2,
        progress=lambda done, total: calls.append((done, total)),
    )

    assert calls == [(0, 5), (2, 5), (4, 5), (5, 5)]
    document = read_json(result)
    assert [e["episode_number"] for e in document["episodes"]] == [1, 2, 3, 4, 5]
    assert all(len(e["activity"]) == 1 for e in document["episodes"])
    assert len(read_csv(result)) == 5


def test_an_abandoned_export_leaves_no_files(api, media_root):
    for number in range(1, 4):
        create(api, title=f"Episode {number}", season_number=1, episode_number=number)

    def stop_after_first_chunk(done: int, total: int) -> None:
        if done:
            raise runtime.JobCancelled("cancelled on request")

    with pytest.raises(runtime.JobCancelled):
        exports.export_episodes(
            filters={}, export_id="abandoned", chunk_size=1, progress=stop_after_first_chunk
        )
    assert stored_files(media_root) == []


# --- as a job ---------------------------------------------------------------------------------


def claimed_export(**payload):
    episodes_export.enqueue(**payload)
    job = services.claim(worker_id="test-worker", queues=["default"])
    assert job is not None and job.job_type == "episodes_export"
    return job


def test_a_cancelled_job_stops_before_writing_anything(season_one, media_root):
    job = claimed_export()
    with runtime.running(job) as state:
        state.cancel_requested.set()
        with pytest.raises(runtime.JobCancelled):
            episodes_export.call(**job.payload)
    assert stored_files(media_root) == []


def test_a_running_job_reports_its_progress(season_one):
    job = claimed_export(filters={"season_number": 1})
    with runtime.running(job) as state:
        episodes_export.call(**job.payload)
        state.flush()
    job.refresh_from_db()
    assert job.progress == 99  # the job's completion makes it 100
    assert job.progress_message == "2 of 2 episodes"


@pytest.mark.django_db(transaction=True)
def test_a_worker_runs_the_export_to_completion(season_one):
    job = claimed_export(filters={"status": "approved"}, formats=["json"])

    execution.run_claimed(job)

    job.refresh_from_db()
    assert job.status == JobStatus.COMPLETED
    assert job.result["count"] == 1
    assert job.progress == 100
    document = read_json(job.result)
    assert [e["title"] for e in document["episodes"]] == ["The Pilot"]
    assert document["filters"] == {"status": "approved"}
