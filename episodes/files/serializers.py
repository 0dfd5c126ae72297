from django.urls import reverse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from episode_metadata.common.model_serializer import ModelSerializer
from episode_metadata.common.serializer_fields import ShapedJSONField
from episode_metadata.common.user_serializers import UserSummarySerializer
from episodes.models import EpisodeFile


class FileMetadataSerializer(serializers.Serializer):
    """What the `file_metadata` job learned: each key is there only when it applies."""

    checksum_verified = serializers.BooleanField(
        required=False, help_text="The stored bytes hash to the checksum taken at upload."
    )
    width = serializers.IntegerField(required=False, allow_null=True, help_text="In pixels.")
    height = serializers.IntegerField(required=False, allow_null=True, help_text="In pixels.")
    format = serializers.CharField(
        required=False, help_text="An image's format, as Pillow names it."
    )
    duration_seconds = serializers.FloatField(required=False, help_text="A video's.")
    video_codec = serializers.CharField(required=False, allow_null=True)
    video_probe = serializers.CharField(
        required=False, help_text="Why a video's duration and resolution are missing."
    )


class EpisodeFileSerializer(ModelSerializer):
    uploaded_by = UserSummarySerializer(read_only=True)
    metadata = ShapedJSONField(
        FileMetadataSerializer, help_text="Empty until the `file_metadata` job has read the file."
    )
    download_url = serializers.SerializerMethodField()

    class Meta:
        model = EpisodeFile
        fields = [
            "id",
            "episode",
            "original_name",
            "kind",
            "content_type",
            "size",
            "sha256",
            "metadata",
            "uploaded_by",
            "created_at",
            "download_url",
        ]
        read_only_fields = fields

    @extend_schema_field(OpenApiTypes.URI)
    def get_download_url(self, episode_file: EpisodeFile) -> str:
        path = reverse(
            "episode-file-download",
            kwargs={"id": str(episode_file.episode_id), "file_id": str(episode_file.pk)},
        )
        request = self.context.get("request")
        return request.build_absolute_uri(path) if request else path


class UploadSerializer(serializers.Serializer):
    """The multipart form of an upload; the file itself is received by the upload handler."""

    file = serializers.FileField(help_text="The file's bytes; its part's content type is checked.")


class UploadedSerializer(EpisodeFileSerializer):
    metadata_job = serializers.UUIDField(
        read_only=True, help_text="The job reading the file's metadata; follow it on job:<id>."
    )

    class Meta(EpisodeFileSerializer.Meta):
        fields = [*EpisodeFileSerializer.Meta.fields, "metadata_job"]
        read_only_fields = fields
