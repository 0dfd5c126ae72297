"""A dependency's outage, logged the way an operator reads it.

Many parts of a process notice the same outage of Redis: the channel layer's reader, each
wake-up and each published event, each readiness probe. Logged by each of them, an outage
of a minute was hundreds of lines, tracebacks among them. Instead each of them tells the
dependency's one `Outage` object of their failures and successes, and it logs one WARNING
when the outage starts, a reminder at most every REMIND_SECONDS while it lasts, and one INFO
when it ends.
"""

import logging
import threading
import time
from typing import TypeGuard

from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

logger = logging.getLogger(__name__)

REMIND_SECONDS = 30.0


class Outage:
    """One dependency's state in this process, told by whoever uses the dependency, from any
    thread: a failure starts or continues an outage, a success ends it."""

    def __init__(self, dependency: str) -> None:
        self.dependency = dependency
        self._lock = threading.Lock()
        self._since: float | None = None
        self._reminded_at = 0.0

    @property
    def ongoing(self) -> bool:
        return self._since is not None

    def failed(self, error: BaseException) -> None:
        now = time.monotonic()
        with self._lock:
            if self._since is None:
                self._since = self._reminded_at = now
                logger.warning("%s is unavailable (%s)", self.dependency, describe(error))
            elif now - self._reminded_at >= REMIND_SECONDS:
                self._reminded_at = now
                logger.warning(
                    "%s is still unavailable after %.0f s (%s)",
                    self.dependency,
                    now - self._since,
                    describe(error),
                )

    def succeeded(self) -> None:
        if self._since is None:  # the usual case, and the cheap one: no lock taken
            return
        with self._lock:
            if self._since is not None:
                logger.info(
                    "%s is back after %.0f s", self.dependency, time.monotonic() - self._since
                )
                self._since = None


def describe(error: BaseException) -> str:
    return f"{error.__class__.__name__}: {error}" if str(error) else error.__class__.__name__


REDIS = Outage("Redis")
DATABASE = Outage("The database")


class ConnectionErrorsAsOutage(logging.Filter):
    """For a library's logger that logs a traceback for each connection error it retries by
    itself (channels-redis' pub/sub reader: one a second while Redis is down): the error
    goes to the outage of Redis, and the record is dropped. Any other record passes."""

    def filter(self, record: logging.LogRecord) -> bool:
        error = record.exc_info[1] if record.exc_info else None
        if is_connection_error(error):
            REDIS.failed(error)
            return False
        return True


def is_connection_error(
    error: BaseException | None,
) -> TypeGuard[RedisConnectionError | RedisTimeoutError | OSError]:
    return isinstance(error, RedisConnectionError | RedisTimeoutError | OSError)


class ReadinessAnswers(logging.Filter):
    """For `django.request`, which logs every 5xx answer as a server ERROR: a 503 from
    /ready is the answer its probe asks for, one every few seconds while a dependency is
    down, and the failure behind it is logged as that dependency's outage."""

    def filter(self, record: logging.LogRecord) -> bool:
        match = getattr(getattr(record, "request", None), "resolver_match", None)
        return not (
            getattr(record, "status_code", None) == 503
            and match is not None
            and match.url_name == "ready"
        )
