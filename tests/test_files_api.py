"""Episode files through the API: upload, list, download, delete, limits and lying uploads."""

import hashlib
import io
import os
import shutil
import subprocess
from datetime import timedelta

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone
from PIL import Image

from activity.models import ActivityLog
from episodes.models import EpisodeFile
from jobs import execution, services
from jobs.models import Job, JobStatus
from tests.conftest import bearer_client, with_role

pytestmark = pytest.mark.django_db

EPISODES = "/api/v1/episodes/"
MB = 1024 * 1024
# CI installs ffmpeg; there a missing ffprobe fails the test instead of skipping it.
needs_ffprobe = pytest.mark.skipif(
    shutil.which("ffprobe") is None and not os.environ.get("CI"),
    reason="ffprobe is not installed (Debian package ffmpeg)",
)


@pytest.fixture(autouse=True)
def media_root(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"
    settings.FILE_UPLOAD_TEMP_DIR = tmp_path / "uploads"
    settings.FILE_UPLOAD_TEMP_DIR.mkdir()
    return settings.MEDIA_ROOT


@pytest.fixture
def episode(api) -> dict:
    response = api.post(EPISODES, {"title": "Pilot"}, format="json")
    assert response.status_code == 201
    return response.json()


def png(width=64, height=48, color=(200, 30, 30)) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (width, height), color).save(buffer, format="PNG")
    return buffer.getvalue()


def jpeg(width=64, height=48) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (width, height), (10, 120, 200)).save(buffer, format="JPEG")
    return buffer.getvalue()


def files_url(episode: dict) -> str:
    return f"{EPISODES}{episode['id']}/files/"


def upload(client, episode: dict, name: str, content: bytes, content_type: str):
    part = SimpleUploadedFile(name, content, content_type=content_type)
    return client.post(files_url(episode), {"file": part}, format="multipart")


def run_jobs() -> list[Job]:
    ran = []
    while (job := services.claim(worker_id="test-worker", queues=["default"])) is not None:
        execution.run_claimed(job)
        job.refresh_from_db()
        ran.append(job)
    return ran


def body(response) -> bytes:
    return b"".join(response.streaming_content)


def test_an_uploaded_image_is_stored_with_its_checksum_and_kind(api, episode, user, media_root):
    content = png()
    response = upload(api, episode, "cover.png", content, "image/png")

    assert response.status_code == 201, response.content
    data = response.json()
    assert data["kind"] == "image"
    assert data["content_type"] == "image/png"
    assert data["size"] == len(content)
    assert data["sha256"] == hashlib.sha256(content).hexdigest()
    assert data["original_name"] == "cover.png"
    assert data["uploaded_by"]["username"] == user.username
    assert response["Location"].endswith(f"/episodes/{episode['id']}/files/{data['id']}")
    stored = EpisodeFile.objects.get(pk=data["id"])
    assert (media_root / stored.file.name).read_bytes() == content
    assert stored.file.name == f"episodes/{episode['id']}/files/{data['id']}.png"


def test_the_metadata_job_verifies_the_checksum_and_reads_dimensions(api, episode):
    data = upload(api, episode, "cover.png", png(320, 180), "image/png").json()

    job = Job.objects.get(pk=data["metadata_job"])
    assert job.job_type == "file_metadata"
    assert str(job.episode_id) == episode["id"]
    [ran] = run_jobs()

    assert ran.status == JobStatus.COMPLETED
    detail = api.get(f"{files_url(episode)}{data['id']}/").json()
    assert detail["metadata"] == {
        "checksum_verified": True,
        "width": 320,
        "height": 180,
        "format": "PNG",
    }


@needs_ffprobe
def test_a_video_gets_its_duration_and_resolution_from_ffprobe(api, episode, tmp_path):
    clip = tmp_path / "clip.mp4"
    source = "testsrc=duration=2:size=320x240:rate=10"
    subprocess.run(
        ["ffmpeg", "-v", "error", "-f", "lavfi", "-i", source, "-pix_fmt", "yuv420p", clip],
        check=True,
    )
    data = upload(api, episode, "clip.mp4", clip.read_bytes(), "video/mp4").json()
    assert data["kind"] == "video"

    run_jobs()

    found = EpisodeFile.objects.get(pk=data["id"]).metadata
    assert found["checksum_verified"] is True
    assert (found["width"], found["height"]) == (320, 240)
    assert found["duration_seconds"] == pytest.approx(2.0, abs=0.2)
    assert found["video_codec"]


def test_without_ffprobe_a_video_keeps_its_checksum_and_says_why_it_has_no_duration(
    api, episode, settings
):
    settings.FFPROBE = "no-such-ffprobe"
    data = upload(api, episode, "clip.mp4", b"\x00\x00\x00\x18ftypmp42" + bytes(64), "").json()

    run_jobs()

    assert EpisodeFile.objects.get(pk=data["id"]).metadata == {
        "checksum_verified": True,
        "video_probe": "ffprobe is not installed",
    }


def test_a_file_whose_stored_bytes_changed_fails_its_metadata_job(api, episode, media_root):
    data = upload(api, episode, "cover.png", png(), "image/png").json()
    stored = EpisodeFile.objects.get(pk=data["id"])
    (media_root / stored.file.name).write_bytes(png(10, 10))

    job = Job.objects.get(pk=data["metadata_job"])
    job.max_attempts = 1
    job.save(update_fields=["max_attempts"])
    [ran] = run_jobs()

    assert ran.status == JobStatus.FAILED
    assert "hash to" in ran.last_error


def test_a_script_and_an_other_file_are_told_apart_by_content(api, episode):
    script = upload(api, episode, "ep1.fountain", b"INT. STUDIO - DAY\n\nHello.\n", "")
    pdf = upload(api, episode, "ep1.pdf", b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n1 0 obj\n", "")
    csv_file = upload(api, episode, "cues.csv", b"time,cue\n00:01,intro\n", "text/csv")

    assert script.status_code == pdf.status_code == csv_file.status_code == 201
    assert (script.json()["kind"], script.json()["content_type"]) == ("script", "text/x-fountain")
    assert (pdf.json()["kind"], pdf.json()["content_type"]) == ("script", "application/pdf")
    assert (csv_file.json()["kind"], csv_file.json()["content_type"]) == ("other", "text/csv")


def test_a_content_type_that_lies_about_the_content_is_refused(api, episode):
    text_as_png = upload(api, episode, "cover.png", b"just some text, not pixels", "image/png")
    jpeg_as_png = upload(api, episode, "cover.png", jpeg(), "image/png")
    png_as_video = upload(api, episode, "clip.mp4", png(), "video/mp4")
    zip_as_text = upload(api, episode, "notes.txt", b"PK\x03\x04" + bytes(40), "text/plain")

    assert text_as_png.status_code == 400
    assert text_as_png.json()["file"] == ["The file is text, not image/png."]
    assert jpeg_as_png.status_code == 400
    assert jpeg_as_png.json()["file"] == ["The file's content is image/jpeg, not image/png."]
    assert png_as_video.status_code == 400
    assert png_as_video.json()["file"] == ["The file's content is image/png, not video/mp4."]
    assert zip_as_text.status_code == 400
    assert not EpisodeFile.objects.exists()


def test_an_extension_alone_does_not_make_an_image(api, episode):
    response = upload(api, episode, "cover.png", bytes(range(256)) * 4, "")

    assert response.status_code == 400
    assert response.json()["file"] == ["The file's content is not image/png."]


def test_a_truncated_image_is_refused(api, episode):
    response = upload(api, episode, "cover.png", png()[:40], "image/png")

    assert response.status_code == 400
    assert response.json()["file"] == ["The image cannot be read."]


def test_an_empty_or_missing_file_is_a_400(api, episode):
    empty = upload(api, episode, "empty.txt", b"", "text/plain")
    missing = api.post(files_url(episode), {"name": "x"}, format="multipart")
    as_json = api.post(files_url(episode), {"file": "x"}, format="json")

    assert empty.status_code == 400
    assert empty.json()["file"] == ["The file is empty."]
    assert missing.status_code == 400
    assert missing.json()["file"] == ["No file was submitted in the `file` field."]
    assert as_json.status_code == 415


def test_each_kind_has_its_size_limit_answered_with_413(api, episode, settings):
    settings.FILES_MAX_BYTES = {"video": 3 * MB, "image": 1 * MB, "script": 1 * MB, "other": MB}
    noisy = Image.frombytes("RGB", (800, 800), bytes(range(256)) * 7500)
    buffer = io.BytesIO()
    noisy.save(buffer, format="PNG", compress_level=0)
    big_png = buffer.getvalue()
    assert len(big_png) > MB

    claimed = upload(api, episode, "big.png", big_png, "image/png")
    unclaimed = upload(api, episode, "big.bin", big_png, "application/octet-stream")

    assert claimed.status_code == 413
    assert claimed.json()["file"] == ["The limit for image files is 1 MB."]
    # Not claimed an image, it streams against the largest limit, then meets the image one.
    assert unclaimed.status_code == 413
    assert unclaimed.json()["file"] == ["The limit for image files is 1 MB."]
    assert not EpisodeFile.objects.exists()
    assert list(settings.FILE_UPLOAD_TEMP_DIR.iterdir()) == []


@pytest.fixture
def full_disk(tmp_path):
    """A real filesystem with 256 KB of room, mounted for the test (needs root)."""
    mount_point = tmp_path / "small-disk"
    mount_point.mkdir()
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=256k", "tmpfs", str(mount_point)],
        capture_output=True,
        text=True,
    )
    if mounted.returncode != 0:
        if os.environ.get("CI"):
            pytest.fail(f"cannot mount a small filesystem: {mounted.stderr}")
        pytest.skip(f"cannot mount a small filesystem (needs root): {mounted.stderr.strip()}")
    yield mount_point
    subprocess.run(["umount", str(mount_point)], check=True)


@pytest.mark.parametrize("full", ["uploads", "media"])
def test_a_full_disk_is_a_507_and_leaves_nothing_behind(api, episode, settings, full_disk, full):
    noise = os.urandom(512 * 1024)
    if full == "uploads":
        settings.FILE_UPLOAD_TEMP_DIR = full_disk
    else:
        settings.MEDIA_ROOT = full_disk
        # On another filesystem than the uploads, storing one is a copy, which runs out of room.
    response = upload(api, episode, "notes.bin", noise, "application/octet-stream")

    assert response.status_code == 507
    assert response.json()["file"] == ["The server has no room for this file now. Try again later."]
    assert not EpisodeFile.objects.exists()
    assert not Job.objects.exists()
    assert sorted(p.name for p in full_disk.rglob("*") if p.is_file()) == []
    assert list(settings.FILE_UPLOAD_TEMP_DIR.iterdir()) == []


def test_a_request_larger_than_any_limit_is_refused_before_reading_it(api, episode, settings):
    settings.FILES_MAX_BYTES = {"video": MB, "image": MB, "script": MB, "other": MB}
    response = api.generic(
        "POST",
        files_url(episode),
        data=b"x" * 10,
        content_type="multipart/form-data; boundary=xyz",
        CONTENT_LENGTH=str(2 * MB),
    )

    assert response.status_code == 413


def test_list_filters_by_kind_and_name_and_paginates(api, episode):
    upload(api, episode, "cover.png", png(), "image/png")
    upload(api, episode, "Episode One.txt", b"FADE IN:\n", "text/plain")
    upload(api, episode, "alt cover.png", png(8, 8), "image/png")

    listed = api.get(files_url(episode)).json()
    images = api.get(files_url(episode), {"kind": "image"}).json()
    named = api.get(files_url(episode), {"name": "COVER"}).json()
    bad_kind = api.get(files_url(episode), {"kind": "hologram"})

    assert listed["count"] == 3
    assert [f["original_name"] for f in listed["results"]] == [
        "alt cover.png",
        "Episode One.txt",
        "cover.png",
    ]
    assert {f["kind"] for f in images["results"]} == {"image"}
    assert images["count"] == 2
    assert {f["original_name"] for f in named["results"]} == {"cover.png", "alt cover.png"}
    assert bad_kind.status_code == 400
    assert "kind" in bad_kind.json()


def test_an_episode_that_does_not_exist_has_no_files(api):
    missing = api.get(f"{EPISODES}00000000-0000-0000-0000-000000000000/files/")
    malformed = api.get(f"{EPISODES}nope/files/")

    assert missing.status_code == 404
    assert malformed.status_code == 404


def test_download_streams_the_bytes_with_headers_and_is_logged(api, episode):
    content = png()
    data = upload(api, episode, "Cover Art.png", content, "image/png").json()

    response = api.get(data["download_url"])

    assert response.status_code == 200
    assert body(response) == content
    assert response["Content-Type"] == "image/png"
    assert response["Content-Length"] == str(len(content))
    assert response["Content-Disposition"] == 'attachment; filename="Cover Art.png"'
    assert response["ETag"] == f'"{data["sha256"]}"'
    actions = ActivityLog.objects.filter(resource_type="file", resource_id=data["id"])
    assert list(actions.order_by("id").values_list("action", flat=True)) == ["upload", "download"]


def test_download_serves_byte_ranges(api, episode):
    content = b"FADE IN:\n" + b"line of dialogue\n" * 100
    data = upload(api, episode, "script.txt", content, "text/plain").json()
    url = data["download_url"]

    middle = api.get(url, HTTP_RANGE="bytes=9-24")
    tail = api.get(url, HTTP_RANGE="bytes=-10")
    beyond = api.get(url, HTTP_RANGE=f"bytes={len(content)}-")
    stale = api.get(url, HTTP_RANGE="bytes=0-3", HTTP_IF_RANGE='"other"')

    assert middle.status_code == 206
    assert body(middle) == content[9:25]
    assert middle["Content-Range"] == f"bytes 9-24/{len(content)}"
    assert body(tail) == content[-10:]
    assert beyond.status_code == 416
    assert beyond["Content-Range"] == f"bytes */{len(content)}"
    assert stale.status_code == 200
    assert body(stale) == content
    # Only the requests that start at the first byte count as downloads.
    assert ActivityLog.objects.filter(action="download", resource_id=data["id"]).count() == 1


def test_remote_storage_downloads_redirect_to_its_url(api, episode, settings):
    # A storage with no local path, as S3 is; it hands out the URL to fetch the bytes from.
    settings.STORAGES = {
        **settings.STORAGES,
        "default": {
            "BACKEND": "django.core.files.storage.InMemoryStorage",
            "OPTIONS": {"base_url": "https://bucket.example.com/"},
        },
    }
    data = upload(api, episode, "cover.png", png(), "image/png").json()
    stored = EpisodeFile.objects.get(pk=data["id"])

    response = api.get(data["download_url"])

    assert response.status_code == 302
    assert response["Location"] == f"https://bucket.example.com/{stored.file.name}"


def test_delete_hides_the_file_and_purges_its_bytes_after_the_grace_period(
    api, episode, media_root, settings
):
    data = upload(api, episode, "cover.png", png(), "image/png").json()
    run_jobs()
    stored = EpisodeFile.objects.get(pk=data["id"])
    path = media_root / stored.file.name

    response = api.delete(f"{files_url(episode)}{data['id']}/")

    assert response.status_code == 204
    assert api.get(f"{files_url(episode)}{data['id']}/").status_code == 404
    assert api.get(data["download_url"]).status_code == 404
    assert api.get(files_url(episode)).json()["count"] == 0
    purge = Job.objects.get(job_type="file_purge")
    expected = timedelta(hours=settings.FILES_PURGE_AFTER_HOURS)
    assert abs(purge.run_after - timezone.now() - expected) < timedelta(minutes=1)
    assert run_jobs() == []  # not due yet
    assert path.exists()

    # The grace period passes.
    EpisodeFile.objects.filter(pk=data["id"]).update(deleted_at=timezone.now() - expected)
    Job.objects.filter(pk=purge.pk).update(run_after=timezone.now())
    [ran] = run_jobs()

    assert ran.status == JobStatus.COMPLETED
    assert ran.result == {"purged": True}
    assert not path.exists()
    stored.refresh_from_db()
    assert stored.purged_at is not None


def test_a_file_restored_before_the_purge_keeps_its_bytes(api, episode, media_root):
    data = upload(api, episode, "cover.png", png(), "image/png").json()
    api.delete(f"{files_url(episode)}{data['id']}/")
    EpisodeFile.objects.filter(pk=data["id"]).update(deleted_at=None)
    Job.objects.filter(job_type="file_purge").update(run_after=timezone.now())

    results = [job.result for job in run_jobs() if job.job_type == "file_purge"]

    assert results == [{"purged": False}]
    assert (media_root / EpisodeFile.objects.get(pk=data["id"]).file.name).exists()


def test_a_purge_asked_for_before_the_grace_period_ends_keeps_the_bytes(api, episode, media_root):
    data = upload(api, episode, "cover.png", png(), "image/png").json()
    api.delete(f"{files_url(episode)}{data['id']}/")
    early = api.post(
        "/api/v1/jobs/", {"job_type": "file_purge", "payload": {"file_id": data["id"]}}
    )
    assert early.status_code == 201

    results = [job.result for job in run_jobs() if job.job_type == "file_purge"]

    assert results == [{"purged": False}]
    assert (media_root / EpisodeFile.objects.get(pk=data["id"]).file.name).exists()


def test_only_the_uploader_or_staff_delete_a_file(api, staff_api, episode, django_user_model):
    data = upload(api, episode, "cover.png", png(), "image/png").json()
    other = django_user_model.objects.create_user("other", password="x" * 12)
    other = bearer_client(with_role(other, "editor"))  # may upload, and delete their own
    url = f"{files_url(episode)}{data['id']}/"

    refused = other.delete(url)
    allowed = staff_api.delete(url)

    assert refused.status_code == 403
    assert allowed.status_code == 204


def test_files_need_authentication(anon, api, episode):
    data = upload(api, episode, "cover.png", png(), "image/png").json()

    assert anon.get(files_url(episode)).status_code == 401
    assert anon.get(data["download_url"]).status_code == 401
    assert upload(anon, episode, "x.png", png(), "image/png").status_code == 401


def test_activity_records_upload_download_and_delete(api, episode, user):
    data = upload(api, episode, "cover.png", png(), "image/png").json()
    api.get(data["download_url"])
    api.delete(f"{files_url(episode)}{data['id']}/")

    rows = ActivityLog.objects.filter(resource_type="file", resource_id=data["id"]).order_by("id")

    assert [row.action for row in rows] == ["upload", "download", "delete"]
    assert {row.actor_id for row in rows} == {user.pk}
    assert {str(row.episode_id) for row in rows} == {episode["id"]}
    assert rows[0].changes["sha256"] == data["sha256"]
    assert list(rows[2].changes) == ["deleted_at"]
    history = api.get(f"{EPISODES}{episode['id']}/activity/", {"resource_type": "file"}).json()
    assert [row["action"] for row in history["results"]] == ["delete", "download", "upload"]


def test_hard_deleting_an_episode_removes_its_stored_files(
    staff_api, episode, media_root, django_capture_on_commit_callbacks
):
    data = upload(staff_api, episode, "cover.png", png(), "image/png").json()
    path = media_root / EpisodeFile.objects.get(pk=data["id"]).file.name

    with django_capture_on_commit_callbacks(execute=True):
        response = staff_api.delete(f"{EPISODES}{episode['id']}/?hard=true")

    assert response.status_code == 204
    assert not EpisodeFile.objects.filter(pk=data["id"]).exists()
    assert not path.exists()


def test_staff_find_files_in_the_admin_and_bring_back_a_deleted_one(
    api, episode, client, django_user_model
):
    data = upload(api, episode, "cover.png", png(), "image/png").json()
    upload(api, episode, "script.txt", b"FADE IN:\n", "text/plain")
    api.delete(f"{files_url(episode)}{data['id']}/")
    django_user_model.objects.create_superuser("boss", "boss@example.com", "pw-long-enough-1")
    client.login(username="boss", password="pw-long-enough-1")

    deleted = client.get("/admin/episodes/episodefile/", {"deleted": "yes"})
    images = client.get("/admin/episodes/episodefile/", {"kind__exact": "image"})
    change_url = f"/admin/episodes/episodefile/{data['id']}/change/"
    restored = client.post(change_url, {"deleted_at_0": "", "deleted_at_1": ""})

    assert "cover.png" in deleted.text and "script.txt" not in deleted.text
    assert "cover.png" in images.text and "script.txt" not in images.text
    assert restored.status_code == 302
    assert api.get(f"{files_url(episode)}{data['id']}/").status_code == 200
    assert ActivityLog.objects.filter(resource_id=data["id"], action="restore").count() == 1


def test_the_schema_describes_the_upload(api):
    schema = api.get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json").json()

    upload_op = schema["paths"]["/api/v1/episodes/{id}/files/"]["post"]
    assert "multipart/form-data" in upload_op["requestBody"]["content"]
    assert {"201", "400", "413"} <= set(upload_op["responses"])
    assert "/api/v1/episodes/{id}/files/{file_id}/download/" in schema["paths"]
