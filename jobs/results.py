"""What handlers return that the jobs API acts on: the files they stored, each offered for
download at /api/v1/jobs/{id}/files/{format}/."""

from rest_framework import serializers


class OutputFileSerializer(serializers.Serializer):
    format = serializers.CharField(help_text="Its name in the download URL.")
    path = serializers.CharField(help_text="Where the file storage keeps it.")
    size = serializers.IntegerField(min_value=0, help_text="In bytes.")
    content_type = serializers.CharField()
    url = serializers.CharField(
        required=False, help_text="Where to download it; the API adds it to the stored result."
    )
