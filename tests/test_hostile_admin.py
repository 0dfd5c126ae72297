"""The admin's JSON fields read what staff type as the API reads a body: a document the
service cannot store or decode is an error on the form, never a 500."""

import pytest

from episodes.models import Episode
from tests.conftest import PASSWORD

pytestmark = pytest.mark.django_db

HOSTILE = {
    "deep nesting": "[" * 3000 + "]" * 3000,
    "a NUL character": '["news\\u0000"]',
    "an unpaired surrogate": '["\\ud800"]',
}


@pytest.fixture
def staff_client(client, django_user_model):
    django_user_model.objects.create_superuser("boss", "boss@example.com", PASSWORD)
    client.login(username="boss", password=PASSWORD)
    return client


@pytest.mark.parametrize("categories", HOSTILE.values(), ids=HOSTILE.keys())
def test_hostile_json_in_the_admin_is_a_form_error(staff_client, categories):
    response = staff_client.post(
        "/admin/episodes/episode/add/",
        {
            "title": "Typed in the admin",
            "status": "draft",
            "categories": categories,
            "season_number": "1",
            "episode_number": "1",
        },
    )

    assert response.status_code == 200
    assert "errorlist" in response.text
    assert not Episode.objects.filter(title="Typed in the admin").exists()
