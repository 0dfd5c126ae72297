"""JSON errors everywhere an API client can land, so no client ever has to parse an HTML page."""

import logging

from django.conf import settings
from django.core.exceptions import RequestDataTooBig, TooManyFieldsSent, TooManyFilesSent
from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import HttpRequest, JsonResponse
from rest_framework import exceptions
from rest_framework.response import Response
from rest_framework.serializers import as_serializer_error
from rest_framework.views import exception_handler

from episode_metadata.common.preconditions import PreconditionFailed

logger = logging.getLogger(__name__)

_MB = 1024 * 1024
# The OpenAPI schema's body of a 400 (and of any error naming fields): `{field: [messages]}`.
FIELD_ERRORS_SCHEMA = {"$ref": "#/components/schemas/FieldErrors"}


def api_exception_handler(exc: Exception, context: dict) -> Response | None:
    """DRF's handler, plus Django's ValidationError (raised by model code) as a 400, a body
    over Django's limits as the client error it is, and a 412 with the current version."""
    if isinstance(exc, PreconditionFailed):
        return exc.response()
    if isinstance(exc, DjangoValidationError):
        exc = exceptions.ValidationError(as_serializer_error(exc))
    refusal = body_refusal(exc)
    if refusal is not None:
        status, detail = refusal
        return Response({"detail": detail}, status=status)
    return exception_handler(exc, context)


def body_refusal(exc: Exception | None) -> tuple[int, str] | None:
    """The status and message for a body past one of Django's DATA_UPLOAD_* limits."""
    if isinstance(exc, RequestDataTooBig):
        limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE / _MB
        return 413, f"Request body too large (limit {limit:g} MB)."
    if isinstance(exc, TooManyFieldsSent):
        return 400, f"Too many form fields (limit {settings.DATA_UPLOAD_MAX_NUMBER_FIELDS})."
    if isinstance(exc, TooManyFilesSent):
        return 400, f"Too many files (limit {settings.DATA_UPLOAD_MAX_NUMBER_FILES})."
    return None


def not_found(request: HttpRequest, exception: Exception | None = None) -> JsonResponse:
    return JsonResponse({"detail": "Not found."}, status=404)


def server_error(request: HttpRequest) -> JsonResponse:
    return JsonResponse({"detail": "Internal server error."}, status=500)


def bad_request(request: HttpRequest, exception: Exception | None = None) -> JsonResponse:
    status, detail = body_refusal(exception) or (400, "Bad request.")
    return JsonResponse({"detail": detail}, status=status)


def permission_denied(request: HttpRequest, exception: Exception | None = None) -> JsonResponse:
    return JsonResponse(
        {"detail": "You do not have permission to perform this action."}, status=403
    )
