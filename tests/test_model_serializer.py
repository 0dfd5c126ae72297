"""Model serializers work their fields out from the model once per class; each instance still
gets fields of its own."""

from unittest import mock

import pytest
from rest_framework import serializers

from episode_metadata.common.model_serializer import ModelSerializer
from episodes.models import Episode
from episodes.serializers import EpisodeSerializer


def test_the_model_is_read_for_the_first_instance_only():
    class TitleOnly(ModelSerializer):
        class Meta:
            model = Episode
            fields = ["id", "title"]

    with mock.patch.object(
        serializers.ModelSerializer, "build_field", wraps=TitleOnly().build_field
    ) as build_field:
        first, second = TitleOnly(), TitleOnly()
        assert list(first.fields) == ["id", "title"]
        built_once = build_field.call_count
        assert list(second.fields) == ["id", "title"]

    assert built_once == 2
    assert build_field.call_count == 2


def test_each_instance_has_fields_of_its_own():
    first, second = EpisodeSerializer(), EpisodeSerializer()

    for name in ("title", "categories", "created_by"):
        assert first.fields[name] is not second.fields[name]
        assert first.fields[name].parent is first
        assert second.fields[name].parent is second


@pytest.mark.django_db
def test_a_copy_serializes_and_validates_as_the_model_says(user):
    episode = Episode.objects.create(title="Pilot", created_by=user, updated_by=user)
    built = EpisodeSerializer(episode).data  # the first instance builds the fields

    data = EpisodeSerializer(episode).data
    invalid = EpisodeSerializer(data={"title": "x" * 300, "season_number": -1})

    assert data == built
    assert data["title"] == "Pilot"
    assert data["created_by"] == {"id": user.pk, "username": user.username}
    assert not invalid.is_valid()
    assert set(invalid.errors) == {"title", "season_number"}
