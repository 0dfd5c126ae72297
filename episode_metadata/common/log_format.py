"""Log records as one JSON object a line, for log collectors, or as text for people; settings
choose which (LOG_FORMAT).

Both keep credentials out: WebSocket clients may put an API token or a ticket in the URL's
query string, and the server's lines, Django's and any exception's text can quote a URL.
Every `token` and `ticket` query value is written `[redacted]`, whoever logged it, and so are
the cookies and credentials of the headers the WebSocket library lists at DEBUG.

Each JSON line names the request, user and job it happened in, as the acting context
(`episode_metadata.common.context`) knows them where the record was made: HTTP requests, WebSocket
consumers and job workers set it.
"""

import json
import logging
import re
from datetime import UTC, datetime
from typing import Any
from urllib.parse import unquote_plus

from episode_metadata.common import context

SECRET_PARAMETERS = frozenset({"token", "ticket"})
REDACTED = "[redacted]"
# A query parameter: after `?` or `&`, up to the next `&`, `?`, `#` or whitespace. A quote
# ends the value only where whitespace follows it, as in `"WebSocket /ws/events/?token=..."`.
_PARAMETER = re.compile(r"""([?&])([^=&?#\s]+)=((?:[^&?#\s"']|["'](?!\s|$))*)""")


# A handshake header as websockets logs it at DEBUG, a line's message: `< cookie: sessionid=...`.
_SECRET_HEADER = re.compile(
    r"((?:^|\s)[<>] (?:cookie|set-cookie|authorization): ).+$", re.IGNORECASE | re.MULTILINE
)


def redact(text: str) -> str:
    """`text` with the value of every `token` or `ticket` query parameter replaced, its name
    compared as a server decodes it (`%74oken` is `token`), and of a logged secret header."""
    text = _SECRET_HEADER.sub(rf"\g<1>{REDACTED}", text)
    if "=" not in text:
        return text

    def hide(match: re.Match[str]) -> str:
        if unquote_plus(match.group(2)).lower() not in SECRET_PARAMETERS:
            return match.group(0)
        return f"{match.group(1)}{match.group(2)}={REDACTED}"

    return _PARAMETER.sub(hide, text)


class TextFormatter(logging.Formatter):
    """The text line, its traceback included, with credentials in URLs redacted."""

    def format(self, record: logging.LogRecord) -> str:
        return redact(super().format(record))


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "timestamp": datetime.fromtimestamp(record.created, UTC).isoformat(
                timespec="milliseconds"
            ),
            "level": record.levelname,
            "logger": record.name,
            "message": redact(record.getMessage()),
        }
        if record.exc_info:
            entry["exception"] = redact(self.formatException(record.exc_info))
        if record.stack_info:
            entry["stack"] = redact(self.formatStack(record.stack_info))
        entry.update(_acting_ids(record))
        return json.dumps(entry, default=str)


def _acting_ids(record: logging.LogRecord) -> dict[str, Any]:
    """The ids of the acting context, without loading anything (see `get_user_id`).

    Django logs a request's 4xx and 5xx answers once the middleware has returned, outside
    the context; such records carry the request, which keeps its context.
    """
    request = getattr(record, "request", None)
    acting = getattr(request, "activity_context", None) or context.current()
    ids = {
        "request_id": acting.request_id,
        "user_id": acting.get_user_id(),
        "job_id": acting.job_id,
    }
    return {name: value for name, value in ids.items() if value}
