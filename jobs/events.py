"""What the job runtime reports as it goes, for whoever shows it live.

The queue sits below the event stream and cannot publish: a listener plugged in at start-up
(the realtime app's) does. With none plugged in, a report goes nowhere.
"""

from dataclasses import dataclass
from typing import Any, Protocol


@dataclass(frozen=True)
class Progress:
    job_id: str
    job_type: str
    percent: int
    message: str
    # Whose job it is and which episode it is on: who may see the report depends on them.
    created_by_id: int | None = None
    episode_id: str | None = None


class Listener(Protocol):
    def progress(self, progress: Progress) -> None:
        """A running job's handler reported progress."""

    def activity_committed(self) -> None:
        """Worker children committed activity: said once per supervisor pass, however many
        children did."""

    def event_relayed(self, event: dict[str, Any]) -> None:
        """An event a worker child's code published, passed up for this process to publish."""


_listeners: list[Listener] = []


def plug(listener: Listener) -> None:
    if listener not in _listeners:
        _listeners.append(listener)


def progress(progress: Progress) -> None:
    for listener in _listeners:
        listener.progress(progress)


def activity_committed() -> None:
    for listener in _listeners:
        listener.activity_committed()


def event_relayed(event: dict[str, Any]) -> None:
    for listener in _listeners:
        listener.event_relayed(event)
