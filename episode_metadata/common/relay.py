"""Where this process hands its live events, when a parent process publishes them for it.

A job worker's child does not publish: it passes its events up a pipe to its supervisor,
which does. The child sets the sender here at start-up; the event transport, which knows
nothing of workers, reads it before publishing and, when one is set, hands over instead.
"""

from collections.abc import Callable
from typing import Any

# The kinds a sender is called with: activity committed here (no message), or an ephemeral
# event (its topic, event name and data).
ACTIVITY = "activity"
EPHEMERAL = "ephemeral"

Sender = Callable[[str, dict[str, Any] | None], None]

_sender: Sender | None = None


def set_sender(sender: Sender | None) -> None:
    """Hand this process's live events to `sender` from now on; None publishes them here."""
    global _sender
    _sender = sender


def current_sender() -> Sender | None:
    return _sender
