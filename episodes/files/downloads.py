"""Sending an episode file: streamed by the service from local storage; a remote store (S3)
serves its own bytes, through a redirect to the signed URL it hands out."""

import inspect

from django.core.files.storage import FileSystemStorage, Storage, storages
from django.http import HttpRequest, HttpResponseBase, HttpResponseRedirect
from django.utils.http import content_disposition_header

from episode_metadata.common.streaming import stored_file_response
from episodes.models import EpisodeFile


def file_response(request: HttpRequest, episode_file: EpisodeFile) -> HttpResponseBase:
    storage = storages["default"]
    if not isinstance(storage, FileSystemStorage):
        return HttpResponseRedirect(_remote_url(storage, episode_file))
    return stored_file_response(
        request,
        episode_file.stored_name,
        size=episode_file.size,
        content_type=episode_file.content_type,
        filename=episode_file.original_name,
        etag=f'"{episode_file.sha256}"',
    )


def _remote_url(storage: Storage, episode_file: EpisodeFile) -> str:
    """S3 signs response headers into its URLs: the download keeps its name and type."""
    if "parameters" not in inspect.signature(storage.url).parameters:
        return storage.url(episode_file.stored_name)
    headers = {
        "ResponseContentDisposition": content_disposition_header(True, episode_file.original_name),
        "ResponseContentType": episode_file.content_type,
    }
    # The signature was checked above: S3's storage takes `parameters`, the base class does not.
    return storage.url(episode_file.stored_name, parameters=headers)  # type: ignore[call-arg]
