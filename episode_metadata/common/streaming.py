"""Sending a stored file a chunk at a time, resumable with a Range header.

Django reads a synchronous iterator whole into memory before an ASGI server sends it (and a
FileResponse is one), so under ASGI the chunks come from an asynchronous iterator that reads
them off the event loop.
"""

import re
from collections.abc import AsyncIterator, Generator, Iterator

from asgiref.sync import sync_to_async
from django.core.files.storage import default_storage
from django.core.handlers.asgi import ASGIRequest
from django.http import HttpRequest, HttpResponse, HttpResponseBase, StreamingHttpResponse
from django.utils.http import content_disposition_header

CHUNK = 256 * 1024
# Beyond the size of any stored file.
FAR = 10**18
_RANGE = re.compile(r"bytes=(\d*)-(\d*)")


class UnsatisfiableRange(ValueError):
    pass


def stored_file_response(
    request: HttpRequest,
    name: str,
    *,
    size: int,
    content_type: str,
    filename: str,
    etag: str | None = None,
) -> HttpResponseBase:
    """The stored file `name` as an attachment, or the byte range the request asks for."""
    try:
        start, end = _requested_range(request, size, etag)
    except UnsatisfiableRange:
        unsatisfiable = HttpResponse(status=416)
        unsatisfiable["Content-Range"] = f"bytes */{size}"
        return unsatisfiable
    length = end - start + 1
    chunks = _async_chunks if isinstance(request, ASGIRequest) else _chunks
    response = StreamingHttpResponse(
        chunks(name, start, length),
        status=206 if length < size else 200,
        content_type=content_type,
    )
    response["Content-Length"] = str(length)
    if length < size:
        response["Content-Range"] = f"bytes {start}-{end}/{size}"
    response["Content-Disposition"] = content_disposition_header(True, filename)
    if etag:
        response["ETag"] = etag
    response["Accept-Ranges"] = "bytes"
    response["Cache-Control"] = "private"
    return response


def _requested_range(request: HttpRequest, size: int, etag: str | None) -> tuple[int, int]:
    """The one byte range asked for, or the whole file: also when the Range header is not one
    valid range, which RFC 9110 (section 14.2) has a server ignore, and when If-Range is stale.
    """
    whole = (0, size - 1)
    if_range = request.headers.get("If-Range")
    match = _RANGE.fullmatch(request.headers.get("Range", "").strip())
    if match is None or (if_range and if_range != etag):
        return whole
    first, last = match.groups()
    if not first and not last:
        return whole
    if not first:  # the last N bytes; the last 0 bytes are no bytes at all
        suffix = _position(last)
        if suffix == 0:
            raise UnsatisfiableRange
        return max(0, size - suffix), size - 1
    start = _position(first)
    end = _position(last) if last else FAR
    if end < start:  # not a range (RFC 9110, section 14.1.1)
        return whole
    if start >= size:
        raise UnsatisfiableRange
    return start, min(end, size - 1)


def _position(digits: str) -> int:
    """A byte position; one too long to read is past the end of any file, like FAR."""
    return int(digits) if len(digits) < len(str(FAR)) else FAR


def _chunks(name: str, start: int, length: int) -> Generator[bytes]:
    with default_storage.open(name, "rb") as stored:
        stored.seek(start)
        while length > 0:
            chunk = stored.read(min(CHUNK, length))
            if not chunk:
                return
            length -= len(chunk)
            yield chunk


async def _async_chunks(name: str, start: int, length: int) -> AsyncIterator[bytes]:
    chunks = _chunks(name, start, length)
    read = sync_to_async(_next_chunk, thread_sensitive=False)
    try:
        while (chunk := await read(chunks)) is not None:
            yield chunk
    finally:
        await sync_to_async(chunks.close, thread_sensitive=False)()


def _next_chunk(chunks: Iterator[bytes]) -> bytes | None:
    return next(chunks, None)
