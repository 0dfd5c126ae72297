"""Failure counters for side effects that must not fail the write that caused them.

Prometheus counters of this process, scraped with the other metrics (`/metrics`); the log
carries the details of each failure.
"""

from prometheus_client import Counter

ACTIVITY_WRITE_FAILURES = "activity_write_failures"
BROADCAST_FAILURES = "broadcast_failures"
PRESENCE_FAILURES = "presence_failures"

_COUNTERS = {
    ACTIVITY_WRITE_FAILURES: Counter(
        "episodes_activity_write_failures",
        "Activity log rows that could not be written; the change they describe was kept.",
    ),
    BROADCAST_FAILURES: Counter(
        "episodes_broadcast_failures",
        "Wake-ups and ephemeral events the channel layer could not carry to other processes "
        "(failed, or skipped while publishing pauses after a failure).",
    ),
    PRESENCE_FAILURES: Counter(
        "episodes_presence_failures",
        "Presence records, renewals and sweeps that failed; the request or socket went on.",
    ),
}


def increment(name: str, amount: int = 1) -> None:
    _COUNTERS[name].inc(amount)


def value(name: str) -> int:
    (family,) = _COUNTERS[name].collect()
    return int(next(sample.value for sample in family.samples if sample.name.endswith("_total")))
