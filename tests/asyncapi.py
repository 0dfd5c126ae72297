"""Every frame the server sends in the suite, checked against the AsyncAPI document.

In this process every server frame is made by `realtime.events.envelope` (a durable event, an
acknowledgement, an ephemeral event alike); a server running as a process of its own is
checked by what its `websockets` clients receive on `/ws/events/`. Each test's frames are
checked when it ends, each against the message its `event` names among those the server
sends; a frame naming no such message fails the test too.
"""

import json
from collections import Counter
from collections.abc import Iterator
from functools import cache
from typing import Any
from urllib.parse import urlsplit

import pytest
import yaml
from jsonschema import Draft7Validator, FormatChecker  # type: ignore[import-untyped]  # no stubs
from jsonschema.exceptions import best_match  # type: ignore[import-untyped]  # no stubs
from websockets.asyncio.client import ClientConnection

from realtime import events
from realtime.asyncapi import DOCUMENT

EVENTS_PATH = "/ws/events/"
# How many frames of each event the suite checked, for its summary.
checked: Counter[str] = Counter()


def document() -> dict[str, Any]:
    return yaml.safe_load(DOCUMENT.read_text())


def _at(document: dict[str, Any], pointer: str) -> Any:
    target: Any = document
    for part in pointer.removeprefix("#/").split("/"):
        target = target[part]
    return target


def _message_pointer(document: dict[str, Any], reference: dict[str, Any]) -> str:
    """Where the message a chain of local references ends at is."""
    pointer = reference["$ref"]
    while "$ref" in (node := _at(document, pointer)):
        pointer = node["$ref"]
    return pointer


def _server_messages(document: dict[str, Any]) -> Iterator[dict[str, Any]]:
    """What the server sends: the messages of its `send` operations and of every reply."""
    for operation in document["operations"].values():
        if operation["action"] == "send":
            yield from operation["messages"]
        yield from operation.get("reply", {}).get("messages", [])


@cache
def validators() -> dict[str, Draft7Validator]:
    """One validator per server event, compiled once a session. Each takes the whole document
    as its root, so that the payload's references to the components resolve."""
    loaded = document()
    found = {}
    for reference in _server_messages(loaded):
        pointer = _message_pointer(loaded, reference)
        schema = {**loaded, "$ref": f"{pointer}/payload"}
        found[_at(loaded, pointer)["name"]] = Draft7Validator(
            schema, format_checker=FormatChecker()
        )
    return found


def problem(frame: str) -> str | None:
    """Why this frame breaks the contract, or None when it keeps it."""
    try:
        message = json.loads(frame)
    except ValueError:
        return "not JSON"
    event = message.get("event") if isinstance(message, dict) else None
    validator = validators().get(event) if isinstance(event, str) else None
    if validator is None:
        return f"no server message of the AsyncAPI document is named {event!r}"
    error = best_match(validator.iter_errors(message))
    if error is not None:
        where = "/".join(str(part) for part in error.absolute_path) or "the frame"
        return f"{event}: at {where}: {error.message}"
    checked[event] += 1
    return None


class Frames:
    """The server frames seen during one test."""

    def __init__(self) -> None:
        self.seen: list[str] = []

    def check(self) -> None:
        broken: dict[str, str] = {}
        for frame in dict.fromkeys(self.seen):
            why = problem(frame)
            if why is not None:
                broken.setdefault(why, frame)
        if broken:
            lines = [f"{why}\n    {frame[:500]}" for why, frame in broken.items()]
            pytest.fail(
                f"{len(broken)} server frame(s) break {DOCUMENT.name}:\n" + "\n".join(lines),
                pytrace=False,
            )


def record(monkeypatch: pytest.MonkeyPatch) -> Frames:
    """Note every frame the server makes or a client receives on the stream, changing
    nothing of either."""
    frames = Frames()
    envelope = events.envelope
    receive = ClientConnection.recv

    def recording_envelope(*args: Any, **kwargs: Any) -> str:
        frame = envelope(*args, **kwargs)
        frames.seen.append(frame)
        return frame

    async def recording_receive(self: ClientConnection, *args: Any, **kwargs: Any) -> Any:
        data = await receive(self, *args, **kwargs)
        if isinstance(data, str) and urlsplit(self.request.path).path == EVENTS_PATH:
            frames.seen.append(data)
        return data

    monkeypatch.setattr(events, "envelope", recording_envelope)
    monkeypatch.setattr(ClientConnection, "recv", recording_receive)
    return frames


def summary_lines() -> list[str]:
    if not checked:
        return []
    unseen = sorted(set(validators()) - set(checked))
    lines = [f"AsyncAPI: {sum(checked.values())} server frames of {len(checked)} events checked"]
    if unseen:
        lines.append(f"AsyncAPI: events no test made: {', '.join(unseen)}")
    return lines
