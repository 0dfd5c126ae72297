"""Sending a stored file: streamed a chunk at a time, resumable with a Range header.

Local storage is streamed by the service; a remote store (S3) is left to serve its own
bytes, through a redirect to the signed URL it hands out.
"""

import inspect
import re
from collections.abc import AsyncIterator, Iterator

from asgiref.sync import sync_to_async
from django.core.files.storage import FileSystemStorage, Storage, default_storage, storages
from django.core.handlers.asgi import ASGIRequest
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect, StreamingHttpResponse
from django.utils.http import content_disposition_header

from episodes.models import EpisodeFile

CHUNK = 256 * 1024
_RANGE = re.compile(r"bytes=(\d*)-(\d*)")


class UnsatisfiableRange(ValueError):
    pass


def file_response(request: HttpRequest, episode_file: EpisodeFile) -> HttpResponse:
    name = episode_file.file.name
    storage = storages["default"]
    if not isinstance(storage, FileSystemStorage):
        return HttpResponseRedirect(_remote_url(storage, episode_file))
    size = episode_file.size
    try:
        start, end = _requested_range(request, episode_file)
    except UnsatisfiableRange:
        response = HttpResponse(status=416)
        response["Content-Range"] = f"bytes */{size}"
        return response
    length = end - start + 1
    chunks = _async_chunks if isinstance(request, ASGIRequest) else _chunks
    response = StreamingHttpResponse(
        chunks(name, start, length),
        status=206 if length < size else 200,
        content_type=episode_file.content_type,
    )
    response["Content-Length"] = str(length)
    if length < size:
        response["Content-Range"] = f"bytes {start}-{end}/{size}"
    response["Content-Disposition"] = content_disposition_header(True, episode_file.original_name)
    response["ETag"] = f'"{episode_file.sha256}"'
    response["Accept-Ranges"] = "bytes"
    response["Cache-Control"] = "private"
    return response


def _remote_url(storage: Storage, episode_file: EpisodeFile) -> str:
    """S3 signs response headers into its URLs: the download keeps its name and type."""
    if "parameters" not in inspect.signature(storage.url).parameters:
        return storage.url(episode_file.file.name)
    headers = {
        "ResponseContentDisposition": content_disposition_header(True, episode_file.original_name),
        "ResponseContentType": episode_file.content_type,
    }
    return storage.url(episode_file.file.name, parameters=headers)


def _requested_range(request: HttpRequest, episode_file: EpisodeFile) -> tuple[int, int]:
    """The one byte range asked for, or the whole file (also for ranges we don't serve)."""
    whole = (0, episode_file.size - 1)
    header = request.headers.get("Range", "")
    if_range = request.headers.get("If-Range")
    match = _RANGE.fullmatch(header.strip())
    if match is None or (if_range and if_range != f'"{episode_file.sha256}"'):
        return whole
    first, last = match.groups()
    size = episode_file.size
    if not first and not last:
        return whole
    if not first:  # the last N bytes
        start, end = max(0, size - int(last)), size - 1
    else:
        start, end = int(first), min(int(last), size - 1) if last else size - 1
    if start >= size or start > end:
        raise UnsatisfiableRange
    return start, end


def _chunks(name: str, start: int, length: int) -> Iterator[bytes]:
    with default_storage.open(name, "rb") as stored:
        stored.seek(start)
        while length > 0:
            chunk = stored.read(min(CHUNK, length))
            if not chunk:
                return
            length -= len(chunk)
            yield chunk


async def _async_chunks(name: str, start: int, length: int) -> AsyncIterator[bytes]:
    """The same chunks for an ASGI server, read off the event loop.

    Django would otherwise read a sync iterator whole into memory before sending it.
    """
    chunks = _chunks(name, start, length)
    read = sync_to_async(next, thread_sensitive=False)
    try:
        while (chunk := await read(chunks, None)) is not None:
            yield chunk
    finally:
        await sync_to_async(chunks.close, thread_sensitive=False)()
