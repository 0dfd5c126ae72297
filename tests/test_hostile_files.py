"""Uploads and downloads asked for in ways no client should: two files in one upload, byte
ranges that are not ranges."""

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from episodes.models import EpisodeFile
from tests.test_jobs_api import detail, enqueue, run

pytestmark = pytest.mark.django_db

CONTENT = b"FADE IN:\n" + b"line of dialogue\n" * 100


@pytest.fixture(autouse=True)
def media_root(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"
    settings.FILE_UPLOAD_TEMP_DIR = tmp_path / "uploads"
    settings.FILE_UPLOAD_TEMP_DIR.mkdir()
    return settings.MEDIA_ROOT


@pytest.fixture
def files_url(api) -> str:
    episode = api.post("/api/v1/episodes/", {"title": "Pilot"}, format="json").json()
    return f"/api/v1/episodes/{episode['id']}/files/"


@pytest.fixture
def download_url(api, files_url) -> str:
    part = SimpleUploadedFile("script.txt", CONTENT, content_type="text/plain")
    return api.post(files_url, {"file": part}, format="multipart").json()["download_url"]


def body(response) -> bytes:
    return b"".join(response.streaming_content)


def test_two_files_in_one_upload_are_refused_naming_the_field(api, files_url, settings):
    first = SimpleUploadedFile("one.txt", b"first script\n", content_type="text/plain")
    second = SimpleUploadedFile("two.txt", b"second script\n", content_type="text/plain")

    response = api.post(files_url, {"file": [first, second]}, format="multipart")

    assert response.status_code == 400
    assert response.json() == {"file": ["Send one file per upload."]}
    assert not EpisodeFile.objects.exists()
    assert list(settings.FILE_UPLOAD_TEMP_DIR.iterdir()) == []


@pytest.mark.parametrize("before", [True, False])
def test_a_file_in_another_field_is_refused_naming_it(api, files_url, settings, before):
    upload = SimpleUploadedFile("one.txt", b"the script\n", content_type="text/plain")
    extra = SimpleUploadedFile("two.txt", b"a note\n", content_type="text/plain")
    parts = {"notes": extra, "file": upload} if before else {"file": upload, "notes": extra}

    response = api.post(files_url, parts, format="multipart")

    assert response.status_code == 400
    assert response.json() == {"notes": ["Only the `file` field takes a file."]}
    assert not EpisodeFile.objects.exists()
    assert list(settings.FILE_UPLOAD_TEMP_DIR.iterdir()) == []


def test_plain_fields_beside_the_file_are_ignored(api, files_url):
    upload = SimpleUploadedFile("one.txt", b"the script\n", content_type="text/plain")

    response = api.post(files_url, {"file": upload, "comment": "take 2"}, format="multipart")

    assert response.status_code == 201, response.content


@pytest.mark.parametrize("header", ["bytes=5-2", "bytes=100-0", "bytes=x-3", "items=0-3"])
def test_a_range_that_is_not_one_gets_the_whole_file(api, download_url, header):
    response = api.get(download_url, HTTP_RANGE=header)

    assert response.status_code == 200
    assert body(response) == CONTENT
    assert not response.has_header("Content-Range")


@pytest.mark.parametrize(
    "header", [f"bytes={len(CONTENT)}-", f"bytes={len(CONTENT) + 5}-{len(CONTENT) + 9}", "bytes=-0"]
)
def test_a_range_past_the_end_is_a_416_giving_the_size(api, download_url, header):
    response = api.get(download_url, HTTP_RANGE=header)

    assert response.status_code == 416
    assert response["Content-Range"] == f"bytes */{len(CONTENT)}"


@pytest.mark.parametrize(
    "header, expected",
    [
        ("bytes=0-" + "9" * 5000, CONTENT),
        ("bytes=-" + "9" * 5000, CONTENT),
        ("bytes=10-" + "9" * 30, CONTENT[10:]),
    ],
)
def test_huge_range_numbers_stop_at_the_end(api, download_url, header, expected):
    response = api.get(download_url, HTTP_RANGE=header)

    assert response.status_code in (200, 206)
    assert body(response) == expected


def test_a_huge_first_byte_is_past_the_end(api, download_url):
    response = api.get(download_url, HTTP_RANGE="bytes=" + "9" * 5000 + "-")

    assert response.status_code == 416


def test_a_job_file_ignores_an_invalid_range_too(api, user):
    job = run(enqueue(payload={"name": "weekly", "rows": 3}, user=user))
    url = f"{detail(job.pk)}files/csv/"
    whole = body(api.get(url))

    response = api.get(url, HTTP_RANGE="bytes=5-2")

    assert response.status_code == 200
    assert body(response) == whole


def test_a_content_type_longer_than_its_column_is_a_400(api, files_url):
    part = SimpleUploadedFile("notes.txt", b"a note\n", content_type="text/" + "x" * 200)

    response = api.post(files_url, {"file": part}, format="multipart")

    assert response.status_code == 400
    assert response.json() == {"file": ["A content type has at most 127 characters."]}
    assert not EpisodeFile.objects.exists()


def test_a_file_name_longer_than_its_column_is_kept_shortened(api, files_url):
    part = SimpleUploadedFile("a" * 1000 + ".txt", b"a note\n", content_type="text/plain")

    response = api.post(files_url, {"file": part}, format="multipart")

    assert response.status_code == 201, response.content
    assert response.json()["original_name"].endswith(".txt")
