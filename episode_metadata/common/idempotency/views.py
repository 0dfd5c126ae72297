"""The view side: `idempotent` around a create action, or `IdempotentCreateMixin` for a
viewset whose create is DRF's own.

A request without the header costs nothing more. With it, the key is checked, the request's
fingerprint taken, and either the stored answer is sent again or the action runs in one
transaction with the key's row, so that the work and the key commit together or not at all.
"""

import functools
import hashlib
import json
import re
from collections.abc import Callable
from typing import Any, cast

from django.core.files.uploadedfile import UploadedFile
from django.db import transaction
from django.http import QueryDict
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import status
from rest_framework.exceptions import APIException, NotAuthenticated, ValidationError
from rest_framework.request import Request
from rest_framework.response import Response

from episode_metadata.common.idempotency import selectors, services
from episode_metadata.common.idempotency.models import KEY_MAX_LENGTH, IdempotencyKey

HEADER = "Idempotency-Key"
REPLAYED_HEADER = "Idempotent-Replayed"
# Printable ASCII, with no space at either end (a server strips those before we see them).
KEY_PATTERN = f"^[!-~]([ -~]{{0,{KEY_MAX_LENGTH - 2}}}[!-~])?$"
_KEY = re.compile(KEY_PATTERN)
INVALID_KEY = (
    f"An {HEADER} is 1 to {KEY_MAX_LENGTH} printable ASCII characters, with no space at either end."
)
# What an answer says beyond its status and body that a retry must get too.
REPLAYED_HEADERS = ("Location",)
_CHUNK = 1024 * 1024

IDEMPOTENCY_KEY = OpenApiParameter(
    HEADER,
    {"type": "string", "minLength": 1, "maxLength": KEY_MAX_LENGTH, "pattern": KEY_PATTERN},
    OpenApiParameter.HEADER,
    description=(
        "A key of the client's choosing (a UUID, say) that makes retrying this request safe: "
        "for 24 hours, the same request with the same key gets the first answer again, with "
        f"`{REPLAYED_HEADER}: true`, and creates nothing more. Keys are per user."
    ),
)


class KeyReused(APIException):
    status_code = status.HTTP_422_UNPROCESSABLE_ENTITY
    default_code = "idempotency_key_reused"
    default_detail = (
        f"This {HEADER} was used with a different request (method, path or body) in the last "
        "24 hours. Send a new key for a new request."
    )


def idempotent[View: Callable[..., Response]](create: View) -> View:
    """Answer a retried create as the first time instead of creating again."""

    @extend_schema(parameters=[IDEMPOTENCY_KEY])
    @functools.wraps(create)
    def wrapper(view: Any, request: Request, *args: Any, **kwargs: Any) -> Response:
        key = request.headers.get(HEADER)
        if key is None:
            return create(view, request, *args, **kwargs)
        if not _KEY.fullmatch(key):
            raise ValidationError({HEADER: [INVALID_KEY]})
        user_id, fingerprint = _owner(request), fingerprint_of(request)
        held = selectors.live_key(user_id=user_id, key=key)
        if held is None:
            with transaction.atomic():
                held, taken = services.claim(user_id=user_id, key=key, fingerprint=fingerprint)
                if taken:
                    return _kept(held, create(view, request, *args, **kwargs))
        return _replay(held, fingerprint)

    return cast(View, wrapper)


class IdempotentCreateMixin:
    """`idempotent` around DRF's `create`, for a viewset that does not write its own."""

    @idempotent
    def create(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return super().create(request, *args, **kwargs)  # type: ignore[misc]


def _owner(request: Request) -> int:
    """Keys are per user. The action's permissions let no anonymous caller through; one that
    got here all the same is refused."""
    if request.user.pk is None:
        raise NotAuthenticated
    return request.user.pk


def _kept(taken: IdempotencyKey, response: Response) -> Response:
    """The answer, kept with its key in the transaction of the work that made it."""
    headers = {name: response[name] for name in REPLAYED_HEADERS if response.has_header(name)}
    services.record_response(
        taken, status=response.status_code, data=response.data, headers=headers
    )
    return response


def _replay(held: IdempotencyKey, fingerprint: str) -> Response:
    if held.fingerprint != fingerprint:
        raise KeyReused
    headers = {**held.response_headers, REPLAYED_HEADER: "true"}
    return Response(json.loads(held.response_data), status=held.response_status, headers=headers)


def fingerprint_of(request: Request) -> str:
    """SHA-256 of the method, the path with its query, and the body as parsed: a body the
    action would refuse is refused here first, as always. A form's files count by their
    content, hashed as they streamed in when the upload handler did, read again otherwise."""
    body = json.dumps(
        _comparable(request.data), sort_keys=True, separators=(",", ":"), ensure_ascii=False
    )
    digest = hashlib.sha256(f"{request.method} {request.get_full_path()}\n".encode())
    digest.update(body.encode())
    return digest.hexdigest()


def _comparable(data: Any) -> Any:
    if isinstance(data, QueryDict):
        return {name: [_part(value) for value in values] for name, values in data.lists()}
    return data


def _part(value: Any) -> Any:
    if not isinstance(value, UploadedFile):
        return value
    return {
        "name": value.name,
        "content_type": value.content_type,
        "size": value.size,
        "sha256": getattr(value, "sha256", None) or _sha256(value),
    }


def _sha256(upload: UploadedFile) -> str:
    digest = hashlib.sha256()
    for chunk in upload.chunks(_CHUNK):
        digest.update(chunk)
    upload.seek(0)
    return digest.hexdigest()
