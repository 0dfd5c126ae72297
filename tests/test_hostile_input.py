"""Request bodies no client should send: each is a 4xx naming the problem, never a 500, and
the log says at most one line of it, without a traceback."""

import logging

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

pytestmark = pytest.mark.django_db

JSON_ENDPOINTS = [
    "/api/v1/episodes/",
    "/api/v1/jobs/",
    "/api/v1/compositions/",
    "/api/v1/auth/login",
]
DEEP = "[" * 3000 + "]" * 3000


def post_raw(client, url: str, body: bytes | str, content_type: str = "application/json"):
    return client.generic("POST", url, body, content_type=content_type)


def assert_no_error_logged(caplog) -> None:
    loud = [r for r in caplog.records if r.levelno >= logging.ERROR or r.exc_info]
    assert loud == [], [r.getMessage() for r in loud]


@pytest.mark.parametrize("url", JSON_ENDPOINTS)
@pytest.mark.parametrize(
    "body",
    [DEEP, '{"title": ' + DEEP + "}", '{"a": ' * 3000 + "1" + "}" * 3000],
    ids=["array", "inside-an-object", "objects"],
)
def test_deeply_nested_json_is_a_400_on_every_endpoint(api, url, body, caplog):
    response = post_raw(api, url, body)

    assert response.status_code == 400
    assert "nested" in response.json()["detail"]
    assert_no_error_logged(caplog)


def test_nesting_up_to_the_limit_is_parsed(api):
    from episode_metadata.common.parsers import MAX_JSON_DEPTH

    # The object itself is one level: the title's list may take the rest.
    title = "[" * (MAX_JSON_DEPTH - 1) + "]" * (MAX_JSON_DEPTH - 1)
    response = post_raw(api, "/api/v1/episodes/", '{"title": ' + title + "}")
    too_deep = post_raw(api, "/api/v1/episodes/", '{"title": [' + title + "]}")

    assert response.status_code == 400
    assert "title" in response.json()  # parsed, then refused by the serializer
    assert too_deep.status_code == 400
    assert "nested" in too_deep.json()["detail"]


def test_brackets_inside_strings_are_not_nesting(api):
    title = "[{" * 2000 + ' \\" ' + "]}" * 2000
    response = post_raw(api, "/api/v1/episodes/", '{"title": "' + title[:250] + '"}')

    assert response.status_code == 201, response.content


def test_a_body_over_the_limit_is_a_413_naming_it(api, settings, caplog):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1024 * 1024
    body = '{"title": "' + "x" * (2 * 1024 * 1024) + '"}'

    with caplog.at_level(logging.INFO):
        response = post_raw(api, "/api/v1/episodes/", body)

    assert response.status_code == 413
    assert response.json() == {"detail": "Request body too large (limit 1 MB)."}
    assert_no_error_logged(caplog)


def test_the_default_body_limit_is_2_5_mb(api, caplog):
    body = '{"title": "' + "x" * (3 * 1024 * 1024) + '"}'

    response = post_raw(api, "/api/v1/jobs/", body)

    assert response.status_code == 413
    assert response.json() == {"detail": "Request body too large (limit 2.5 MB)."}
    assert_no_error_logged(caplog)


def test_a_form_body_over_the_limit_is_a_413_outside_the_api_too(client, caplog, settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 512 * 1024
    response = client.post(
        "/api-auth/login/",
        "username=" + "x" * (600 * 1024),
        content_type="application/x-www-form-urlencoded",
    )

    assert response.status_code == 413
    assert response.json() == {"detail": "Request body too large (limit 0.5 MB)."}
    assert_no_error_logged(caplog)


def test_too_many_form_fields_is_a_400_saying_so(client, settings, caplog):
    settings.DATA_UPLOAD_MAX_NUMBER_FIELDS = 10
    body = "&".join(f"f{n}=1" for n in range(50))

    response = client.post("/api-auth/login/", body, "application/x-www-form-urlencoded")

    assert response.status_code == 400
    assert response.json() == {"detail": "Too many form fields (limit 10)."}
    assert_no_error_logged(caplog)


@pytest.fixture
def files_url(api, settings, tmp_path) -> str:
    settings.MEDIA_ROOT = tmp_path / "media"
    settings.FILE_UPLOAD_TEMP_DIR = tmp_path
    episode = api.post("/api/v1/episodes/", {"title": "Pilot"}, format="json").json()
    return f"/api/v1/episodes/{episode['id']}/files/"


def test_too_many_fields_in_an_upload_is_a_400_saying_so(api, files_url, settings, caplog):
    settings.DATA_UPLOAD_MAX_NUMBER_FIELDS = 10
    parts = {f"f{n}": "1" for n in range(50)}

    response = api.post(files_url, parts, format="multipart")

    assert response.status_code == 400
    assert response.json() == {"detail": "Too many form fields (limit 10)."}
    assert_no_error_logged(caplog)


def test_too_many_files_in_a_form_is_a_400_saying_so(client, settings, caplog):
    settings.DATA_UPLOAD_MAX_NUMBER_FILES = 2
    parts = {f"f{n}": SimpleUploadedFile(f"{n}.txt", b"x") for n in range(5)}

    response = client.post("/api-auth/login/", parts)

    assert response.status_code == 400
    assert response.json() == {"detail": "Too many files (limit 2)."}
    assert_no_error_logged(caplog)


@pytest.mark.parametrize("number", ["1e400", "-1e400", "NaN", "Infinity", "-Infinity"])
def test_numbers_json_cannot_carry_are_a_400(api, number):
    response = post_raw(
        api, "/api/v1/jobs/", '{"job_type": "x", "payload": {"rows": ' + number + "}}"
    )

    assert response.status_code == 400
    assert "number" in response.json()["detail"]


@pytest.mark.parametrize(
    "body",
    [
        '{"title": "a\\u0000b"}',
        '{"title": "ok", "categories": ["a\\u0000"]}',
        '{"title": "ok", "description": "\\u0000"}',
    ],
)
def test_nul_characters_are_a_400(api, body):
    response = post_raw(api, "/api/v1/episodes/", body)

    assert response.status_code == 400
    assert "NUL" in str(response.json())


def test_nul_in_a_json_payload_is_a_400(api):
    response = post_raw(api, "/api/v1/jobs/", '{"job_type": "x", "payload": {"name": "a\\u0000"}}')

    assert response.status_code == 400
    assert "NUL" in response.json()["detail"]


def test_an_escaped_backslash_before_u0000_is_plain_text(api):
    response = post_raw(api, "/api/v1/episodes/", '{"title": "C:\\\\u0000"}')

    assert response.status_code == 201, response.content
    assert response.json()["title"] == "C:\\u0000"


@pytest.mark.parametrize("field", ["season_number", "episode_number"])
@pytest.mark.parametrize("value", ["1" + "0" * 30, "-" + "1" + "0" * 30, "1" + "0" * 5000])
def test_huge_integers_in_a_body_are_a_400(api, field, value):
    response = post_raw(api, "/api/v1/episodes/", f'{{"title": "t", "{field}": {value}}}')

    assert response.status_code == 400


def test_strings_longer_than_their_column_are_a_400(api):
    response = post_raw(api, "/api/v1/episodes/", '{"title": "' + "t" * 300 + '"}')

    assert response.status_code == 400
    assert "title" in response.json()


def test_a_body_that_is_not_utf8_is_a_400(api):
    response = post_raw(api, "/api/v1/episodes/", b'{"title": "\xff\xfe"}')

    assert response.status_code == 400


@pytest.mark.parametrize(
    "body",
    [
        '{"title": "\\ud800"}',
        '{"title": "ok", "status": "\\udfff"}',
        '{"title": "ok", "\\ud83d": 1}',
        '{"title": "\\ude00\\ud83d"}',
    ],
)
def test_unpaired_surrogate_escapes_are_a_400(api, body):
    response = post_raw(api, "/api/v1/episodes/", body)

    assert response.status_code == 400
    assert "surrogate" in response.json()["detail"]


def test_a_surrogate_pair_is_the_character_it_encodes(api):
    response = post_raw(api, "/api/v1/episodes/", '{"title": "Pilot \\ud83c\\udfac"}')

    assert response.status_code == 201, response.content
    assert response.json()["title"] == "Pilot \U0001f3ac"
