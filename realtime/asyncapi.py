"""The AsyncAPI document of `/ws/events/`: the protocol as a contract clients can build on.

The test suite checks every frame the server sends against it (tests/asyncapi.py), so the
document cannot fall behind the code.
"""

from functools import cache
from pathlib import Path

from django.http import HttpRequest, HttpResponse
from django.views.decorators.http import require_safe

DOCUMENT = Path(__file__).with_name("asyncapi.yaml")


@cache
def _text() -> bytes:
    return DOCUMENT.read_bytes()


@require_safe
def document(request: HttpRequest) -> HttpResponse:
    """Served to anyone, as the OpenAPI schema is: a client generator fetches it by URL, and
    it describes the protocol, not anyone's data."""
    return HttpResponse(_text(), content_type="application/yaml; charset=utf-8")
