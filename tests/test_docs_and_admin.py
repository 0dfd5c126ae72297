import re

import pytest
from django.core.management import call_command

from episodes.models import Episode
from tests.conftest import PASSWORD

pytestmark = pytest.mark.django_db


def test_schema_validates_against_openapi_3(tmp_path):
    out = tmp_path / "schema.yaml"

    call_command("spectacular", "--validate", "--fail-on-warn", "--file", str(out))

    assert out.read_text().startswith("openapi: 3")


def test_schema_describes_every_endpoint_with_parameters(api):
    response = api.get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json")

    assert response.status_code == 200
    schema = response.json()
    paths = schema["paths"]
    for path in [
        "/api/v1/auth/login",
        "/api/v1/auth/logout",
        "/api/v1/auth/me",
        "/api/v1/episodes/",
        "/api/v1/episodes/{id}/",
        "/api/v1/episodes/{id}/restore/",
    ]:
        assert path in paths, path
    list_params = {p["name"] for p in paths["/api/v1/episodes/"]["get"]["parameters"]}
    assert {
        "page",
        "page_size",
        "status",
        "category",
        "season_number",
        "air_date_after",
        "air_date_before",
        "created_after",
        "created_before",
        "search",
        "ordering",
        "include_deleted",
    } <= list_params
    assert schema["components"]["securitySchemes"]["bearerAuth"]["scheme"] == "bearer"


def test_schema_is_served_without_signing_in(anon):
    response = anon.get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json")

    assert response.status_code == 200
    assert "/api/v1/episodes/" in response.json()["paths"]


def test_docs_page_is_served_without_signing_in_nor_external_assets(client):
    response = client.get("/api/docs/")

    assert response.status_code == 200
    html = response.content.decode()
    assert "swagger-ui" in html
    assets = re.findall(r'(?:src|href)="([^"]*)"', html)
    assert assets
    assert all(asset.startswith("/") for asset in assets), assets


@pytest.fixture
def admin_client_logged_in(client, django_user_model):
    django_user_model.objects.create_superuser("boss", "boss@example.com", PASSWORD)
    client.login(username="boss", password=PASSWORD)
    return client


def test_admin_lists_searches_and_filters_episodes(admin_client_logged_in):
    Episode.objects.create(title="Pilot", status="draft")
    Episode.objects.create(title="Finale", status="published")

    listing = admin_client_logged_in.get("/admin/episodes/episode/")
    search = admin_client_logged_in.get("/admin/episodes/episode/", {"q": "pilot"})
    filtered = admin_client_logged_in.get(
        "/admin/episodes/episode/", {"status__exact": "published"}
    )

    assert listing.status_code == 200
    assert "Pilot" in listing.text and "Finale" in listing.text
    assert "Pilot" in search.text and "Finale" not in search.text
    assert "Finale" in filtered.text and "Pilot" not in filtered.text


def test_admin_can_add_an_episode(admin_client_logged_in):
    response = admin_client_logged_in.post(
        "/admin/episodes/episode/add/",
        {
            "title": "Added in admin",
            "description": "",
            "status": "draft",
            "categories": '["news"]',
            "season_number": "1",
            "episode_number": "1",
        },
    )

    assert response.status_code == 302, response.content[:2000]
    episode = Episode.objects.get(title="Added in admin")
    assert episode.categories == ["news"]
    assert episode.created_by.username == "boss"


def test_admin_rejects_a_taken_number(admin_client_logged_in):
    Episode.objects.create(title="First", season_number=1, episode_number=1)

    response = admin_client_logged_in.post(
        "/admin/episodes/episode/add/",
        {
            "title": "Second",
            "status": "draft",
            "categories": "[]",
            "season_number": "1",
            "episode_number": "1",
        },
    )

    assert response.status_code == 200
    assert "A live episode already has this season and episode number." in response.text
    assert not Episode.objects.filter(title="Second").exists()


def test_admin_is_closed_to_non_staff(client, user):
    client.login(username="editor", password=PASSWORD)

    response = client.get("/admin/episodes/episode/")

    assert response.status_code == 302
    assert "/admin/login/" in response["Location"]


def test_schema_describes_error_responses(api):
    paths = api.get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json").json()["paths"]

    detail = paths["/api/v1/episodes/{id}/"]
    assert {"400", "401", "403", "404"} <= set(detail["patch"]["responses"])
    assert {"401", "404"} <= set(detail["get"]["responses"])
    login = paths["/api/v1/auth/login"]["post"]["responses"]
    assert {"200", "400", "401", "429"} <= set(login)
    assert "403" not in login
