"""Log records as one JSON object a line, for log collectors; settings choose it (LOG_FORMAT).

Each line names the request, user and job it happened in, as the acting context
(`episode_metadata.common.context`) knows them where the record was made: HTTP requests, WebSocket
consumers and job workers set it.
"""

import json
import logging
from datetime import UTC, datetime
from typing import Any

from episode_metadata.common import context


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "timestamp": datetime.fromtimestamp(record.created, UTC).isoformat(
                timespec="milliseconds"
            ),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        if record.stack_info:
            entry["stack"] = self.formatStack(record.stack_info)
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
