"""Who is acting and from where, for whatever code records activity further down the call.

Set once at the edge (HTTP middleware, WebSocket consumer, job worker) so that services and
signal receivers need no request argument to know the actor.
"""

import contextvars
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from django.db import models

if TYPE_CHECKING:
    from django.contrib.auth.models import User


class Source(models.TextChoices):
    API = "api"
    ADMIN = "admin"
    JOB = "job"
    SYSTEM = "system"


def _nobody():
    return None


@dataclass(frozen=True)
class ActivityContext:
    source: str = Source.SYSTEM
    request_id: str = ""
    ip_address: str | None = None
    user_agent: str = ""
    actor_label: str = ""
    # A getter, not a user: DRF authenticates inside the view, after the middleware ran.
    get_user: Callable[[], "User | None"] = field(default=_nobody)
    # The user's id once something else has loaded the user, never loading it: log lines
    # read it, and one logged while the user loads (a failed query) would recurse.
    get_user_id: Callable[[], int | None] = field(default=_nobody)
    job_id: str = ""


_SYSTEM = ActivityContext()
_current: contextvars.ContextVar[ActivityContext | None] = contextvars.ContextVar(
    "activity_context", default=None
)


def current() -> ActivityContext:
    return _current.get() or _SYSTEM


@contextmanager
def acting(context: ActivityContext) -> Iterator[ActivityContext]:
    token = _current.set(context)
    try:
        yield context
    finally:
        _current.reset(token)
