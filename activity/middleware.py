import random
import re
import uuid
from collections.abc import Callable

from django.contrib.auth.models import User
from django.http import HttpRequest, HttpResponse
from django.utils.functional import SimpleLazyObject

from episode_metadata.common.context import ActivityContext, Source, acting

REQUEST_ID_HEADER = "X-Request-ID"
_VALID_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:-]{1,64}$")


def request_id_for(request: HttpRequest) -> str:
    """Keep a caller's (or proxy's) request id when it is sane, so logs line up end to end.

    A new one is a random version 4 UUID all the same, drawn from `random` rather than by
    `uuid.uuid4`: a request id must be unique, not unguessable, and `uuid4` reads
    `os.urandom`, which lets go of the interpreter lock. Under load, winning the lock back
    cost each request a wait of milliseconds (in a profile of the mixed load, a tenth of the
    samples of a server's request threads). The module's generator is seeded afresh in a forked
    child, so two processes do not draw the same ids.
    """
    given = request.headers.get(REQUEST_ID_HEADER, "")
    if _VALID_REQUEST_ID.match(given):
        return given
    return uuid.UUID(int=random.getrandbits(128), version=4).hex


def _authenticated_user(request: HttpRequest) -> User | None:
    user = getattr(request, "user", None)
    return user if user is not None and user.is_authenticated else None


def _loaded_user_id(request: HttpRequest) -> int | None:
    """The user's id if authentication has loaded the user already; None rather than load it.

    Bearer authentication puts the user itself on the request; a session user stays lazy,
    and Django keeps it in `_cached_user` once something has asked for it.
    """
    user = getattr(request, "user", None)
    if isinstance(user, SimpleLazyObject):
        user = getattr(request, "_cached_user", None)
    return user.pk if user is not None and user.is_authenticated else None


class ActivityContextMiddleware:
    """Tells the activity log who acts and from where for everything this request changes."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        request_id = request_id_for(request)
        context = ActivityContext(
            source=Source.ADMIN if request.path.startswith("/admin/") else Source.API,
            request_id=request_id,
            ip_address=request.META.get("REMOTE_ADDR") or None,
            user_agent=request.headers.get("User-Agent", "")[:512],
            get_user=lambda: _authenticated_user(request),
            get_user_id=lambda: _loaded_user_id(request),
        )
        # Also on the request, for the lines Django logs about it once this has returned.
        # The stubs give HttpRequest no room for what a middleware adds to it.
        request.activity_context = context  # type: ignore[attr-defined]
        with acting(context):
            response = self.get_response(request)
        response[REQUEST_ID_HEADER] = request_id
        return response
