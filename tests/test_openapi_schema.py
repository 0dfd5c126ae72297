"""The OpenAPI schema says what the service answers, and the service takes what the schema
allows and refuses what it does not: each answer here is checked against the schema by
Schemathesis, in process, on the test database."""

import re

import pytest
import requests
import schemathesis
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from schemathesis.core.transport import Response

from jobs import execution, services
from jobs.models import Job, JobStatus

pytestmark = pytest.mark.django_db

API = "/api/v1"
WORKER = "test-host:1:0"


@pytest.fixture
def schema(api):
    return schemathesis.openapi.from_dict(api.get("/api/schema/?format=json").json())


def conforms(schema, response, template: str):
    """The response, once checked against the schema of the operation it answers."""
    method = response.request["REQUEST_METHOD"]
    request = requests.Request(method, f"http://testserver{response.request['PATH_INFO']}")
    streamed = getattr(response, "streaming", False)
    answer = Response(
        status_code=response.status_code,
        headers={name: [value] for name, value in response.headers.items()},
        content=b"".join(response.streaming_content) if streamed else response.content,
        request=request.prepare(),
        elapsed=0,
        verify=True,
    )
    schema[f"{API}{template}"][method].validate_response(answer)
    return response


def parameter(schema, path: str, method: str, name: str) -> dict:
    operation = schema.raw_schema["paths"][f"{API}{path}"][method]
    return next(found for found in operation["parameters"] if found["name"] == name)


def test_me_without_an_email_matches_its_schema(schema, api, user):
    user.email = ""
    user.save()

    response = conforms(schema, api.get(f"{API}/auth/me"), "/auth/me")

    assert response.json()["email"] == ""


def test_preferences_never_set_match_their_schema(schema, api):
    url = "/notifications/preferences/"

    response = conforms(schema, api.get(f"{API}{url}"), url)

    assert response.json() == {"muted_types": [], "updated_at": None, "version": 0}


def test_an_error_per_list_item_matches_the_field_errors_schema(schema, api):
    body = {"title": "Pilot", "categories": ["", "x" * 51]}

    response = conforms(schema, api.post(f"{API}/episodes/", body, format="json"), "/episodes/")

    assert response.status_code == 400
    assert set(response.json()["categories"]) == {"0", "1"}


def test_a_page_past_the_last_is_a_documented_404(schema, api):
    answers = schema.raw_schema["paths"][f"{API}/episodes/"]["get"]["responses"]

    response = conforms(schema, api.get(f"{API}/episodes/", {"page": 5}), "/episodes/")

    assert response.status_code == 404
    assert "404" in answers


def test_json_is_the_one_body_documented_and_accepted(schema, api):
    bodies = schema.raw_schema["paths"][f"{API}/episodes/"]["post"]["requestBody"]["content"]

    response = api.post(f"{API}/episodes/", {"title": "Pilot"}, format="multipart")

    assert list(bodies) == ["application/json"]
    assert response.status_code == 415


@pytest.mark.parametrize("method", ["POST", "DELETE"])
def test_an_unknown_api_path_is_a_json_404_whatever_the_method(method):
    response = Client(enforce_csrf_checks=True).generic(method, f"{API}/episodes/0.5/follow/")

    assert response.status_code == 404
    assert response.json() == {"detail": "Not found."}


@pytest.mark.parametrize(
    "body",
    [{"title": 0}, {"title": "Pilot", "categories": [0]}],
    ids=["number-for-title", "number-for-category"],
)
def test_a_number_where_the_schema_says_string_is_refused(api, body):
    response = api.post(f"{API}/episodes/", body, format="json")

    assert response.status_code == 400


def test_an_empty_string_is_not_a_null_reference(api):
    body = {"job_type": "diagnostic", "payload": {}, "episode": ""}

    response = api.post(f"{API}/jobs/", body, format="json")

    assert response.status_code == 400
    assert "episode" in response.json()


def test_a_user_id_must_be_a_json_integer(staff_api, user):
    response = staff_api.post(
        f"{API}/notifications/", {"title": "Hi", "recipients": [str(user.pk)]}, format="json"
    )

    assert response.status_code == 400
    assert "recipients" in response.json()


def component(schema, ref: str) -> dict:
    return schema.raw_schema["components"]["schemas"][ref.rsplit("/", 1)[-1]]


@pytest.mark.parametrize("name", ["JobCreateRequest", "Job"])
def test_each_job_type_is_a_variant_told_apart_by_its_job_type(schema, name):
    job = component(schema, name)
    mapping = job["discriminator"]["mapping"]

    variant = component(schema, mapping["diagnostic"])
    payload = component(schema, "DiagnosticPayload")

    assert job["discriminator"]["propertyName"] == "job_type"
    assert {"diagnostic", "episodes_export", "file_metadata"} <= set(mapping)
    assert [found["$ref"] for found in job["oneOf"]] == list(mapping.values())
    assert variant["properties"]["job_type"]["enum"] == ["diagnostic"]
    assert payload["additionalProperties"] is False
    assert set(payload["properties"]) == {"seconds", "steps", "fail_attempts"}


def test_a_job_s_result_has_its_type_s_shape(schema):
    export = component(schema, "EpisodesExportJob")["properties"]["result"]
    result = component(schema, export["allOf"][0]["$ref"])

    assert export["nullable"] is True
    assert set(result["properties"]) == {"count", "files"}
    assert set(result["properties"]["files"]["items"]["properties"]) >= {"format", "url"}


def test_an_export_job_answers_as_its_variant_says(schema, api, settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    body = {"job_type": "episodes_export", "payload": {"formats": ["csv"]}}
    job = api.post(f"{API}/jobs/", body).json()
    execution.run_claimed(services.claim(worker_id=WORKER, queues=["default"]))

    response = conforms(schema, api.get(f"{API}/jobs/{job['id']}/"), "/jobs/{id}/")

    assert response.json()["result"]["files"][0]["url"].endswith("/files/csv/")


JSON_COLUMNS = [
    ("ActivityLog", "changes"),
    ("ActivityLog", "metadata"),
    ("Notification", "data"),
    ("EpisodeFile", "metadata"),
    ("Composition", "renders"),
    ("CompositionVersion", "snapshot"),
]


@pytest.mark.parametrize(("name", "field"), JSON_COLUMNS)
def test_a_json_column_has_the_shape_stored_in_it(schema, name, field):
    found = component(schema, name)["properties"][field]

    shape = component(schema, found["allOf"][0]["$ref"]) if "allOf" in found else found

    assert shape["type"] == "object"
    assert {"properties", "additionalProperties"} & set(shape)


def test_an_export_names_each_filter_typed_as_the_episode_list_reads_it(schema):
    """A client builds an export's filters as it builds the list's query: every filter
    parameter of the list, with the same schema, and nothing else."""
    listing = schema.raw_schema["paths"][f"{API}/episodes/"]["get"]["parameters"]
    unfiltered = {"page", "page_size", "include_deleted"}
    parameters = {p["name"]: p["schema"] for p in listing if p["name"] not in unfiltered}

    filters = component(schema, "EpisodesExportPayload")["properties"]["filters"]

    assert filters["properties"] == parameters
    assert filters["additionalProperties"] is False


def test_a_snapshot_names_its_content(schema):
    assert set(component(schema, "CompositionContent")["properties"]) == {
        "name",
        "layout",
        "assets",
        "formats",
    }


@pytest.mark.parametrize("status", ["400", "413", "507"])
def test_upload_errors_have_their_body(schema, status):
    upload = schema.raw_schema["paths"][f"{API}/episodes/{{id}}/files/"]["post"]["responses"]

    body = upload[status]["content"]["application/json"]["schema"]

    assert body == {"$ref": "#/components/schemas/FieldErrors"}


def test_a_too_large_upload_matches_its_error_schema(schema, api, settings):
    settings.FILES_MAX_BYTES = {"video": 8, "image": 8, "script": 8, "other": 8}
    episode = api.post(f"{API}/episodes/", {"title": "Pilot"}).json()
    upload = {"file": SimpleUploadedFile("pilot.fountain", b"INT. STUDIO - DAY\n")}
    url = f"/episodes/{episode['id']}/files/"

    response = api.post(f"{API}{url}", upload, format="multipart")

    assert response.status_code == 413
    conforms(schema, response, "/episodes/{id}/files/")
    assert "file" in response.json()


def test_filters_state_the_bounds_they_enforce(schema, api):
    season = parameter(schema, "/episodes/", "get", "season_number")
    actor = parameter(schema, "/activities/", "get", "actor")
    page_size = parameter(schema, "/episodes/", "get", "page_size")

    assert season["schema"]["minimum"] == 1
    assert actor["schema"] == {"type": "integer", "minimum": -(2**63), "maximum": 2**63 - 1}
    assert page_size["schema"]["minimum"] == 1
    assert api.get(f"{API}/episodes/", {"season_number": 0}).status_code == 400


def test_date_time_filters_state_the_offsets_they_take(schema, api):
    created = parameter(schema, "/episodes/", "get", "created_after")
    pattern = re.compile(created["schema"]["pattern"])
    beyond = "2026-01-01T00:00:00+16:00"

    assert pattern.search("2026-01-01T00:00:00+15:59")
    assert pattern.search("2026-01-01T00:00:00Z")
    assert not pattern.search(beyond)
    assert api.get(f"{API}/episodes/", {"created_after": beyond}).status_code == 400


@pytest.mark.parametrize("value", ["maybe", "1", "null"])
def test_unread_is_true_or_false_and_nothing_else(api, value):
    response = api.get(f"{API}/notifications/", {"unread": value})

    assert response.status_code == 400
    assert "unread" in response.json()


def test_unread_true_still_filters(api):
    assert api.get(f"{API}/notifications/", {"unread": "true"}).status_code == 200


def test_downloads_document_the_file_s_own_content_type(schema):
    operation = schema.raw_schema["paths"][f"{API}/episodes/{{id}}/files/{{file_id}}/download/"]

    answers = operation["get"]["responses"]

    assert list(answers["200"]["content"]) == ["*/*"]
    assert {"206", "302", "416"} <= set(answers)


def test_a_job_s_json_file_matches_its_download_schema(schema, api, user, settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    path = default_storage.save("reports/weekly.json", ContentFile(b'{"rows": 3}'))
    entry = {"format": "json", "path": path, "size": 11, "content_type": "application/json"}
    job = Job.objects.create(
        job_type="diagnostic",
        status=JobStatus.COMPLETED,
        created_by=user,
        result={"files": [entry]},
    )
    url = f"/jobs/{job.pk}/files/json/"

    response = conforms(schema, api.get(f"{API}{url}"), "/jobs/{id}/files/{file_format}/")

    assert response["Content-Type"] == "application/json"


def test_creating_links_to_what_can_be_done_with_the_created(schema):
    created = schema.raw_schema["paths"][f"{API}/episodes/"]["post"]["responses"]["201"]
    to_files = created["links"][f"GET {API}/episodes/{{id}}/files/"]

    assert to_files["parameters"] == {"id": "$response.body#/id"}
    assert f"DELETE {API}/episodes/{{id}}/" in created["links"]


def test_ordering_is_documented_as_the_repeated_list_it_accepts(schema):
    for path in ("/episodes/", "/jobs/"):
        ordering = parameter(schema, path, "get", "ordering")

        assert ordering["explode"] is True
        assert ordering["schema"]["type"] == "array"


def test_an_episode_is_named_id_in_every_path(schema):
    names = {
        found["name"]
        for path, operations in schema.raw_schema["paths"].items()
        if path.startswith(f"{API}/episodes/{{")
        for operation in operations.values()
        for found in operation.get("parameters", [])
        if found["in"] == "path"
    }

    assert names == {"id", "file_id"}
