"""Failure counters for side effects that must not fail the write that caused them.

In-process counts, readable by health and metrics endpoints; the log carries the details.
"""

import threading
from collections import Counter

_lock = threading.Lock()
_counts: Counter[str] = Counter()

ACTIVITY_WRITE_FAILURES = "activity_write_failures"
BROADCAST_FAILURES = "broadcast_failures"
PRESENCE_FAILURES = "presence_failures"


def increment(name: str) -> None:
    with _lock:
        _counts[name] += 1


def value(name: str) -> int:
    with _lock:
        return _counts[name]
