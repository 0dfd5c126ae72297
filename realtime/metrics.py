"""What the live event stream of this process sends, holds back and loses."""

from prometheus_client import Counter, Gauge

# The label of frames that belong to no topic: acknowledgements, errors, pongs.
CONTROL = "control"
# Notifications' personal topics (`user:<id>`) and control frames; each registered topic
# adds its own family (realtime.topics).
FAMILIES = ("user", CONTROL)

OVERFLOW = "overflow"
SEND_FAILED = "send_failed"
PUBLISH_FAILED = "publish_failed"

CONNECTIONS = Gauge(
    "episodes_websocket_connections",
    "Authenticated WebSocket connections to /ws/events/ open in this process.",
)
_SENT = Counter(
    "episodes_websocket_events_sent",
    "Messages written to WebSocket clients, by topic family (each collection topic, each "
    "single-resource topic kind, user; control for acknowledgements, errors and pongs).",
    ["family"],
)
_DROPPED = Counter(
    "episodes_websocket_events_dropped",
    "Events that never reached a client: overflow (queued to a client too slow to keep up, "
    "which is disconnected with 4008), send_failed (queued to a socket whose write failed), "
    "publish_failed (ephemeral events the channel layer could not carry to other processes).",
    ["reason"],
)
REPLAYED = Counter(
    "episodes_websocket_events_replayed",
    "Stored events sent to clients resuming with `after`.",
)
RESYNCS = Counter(
    "episodes_websocket_resyncs",
    "resync_required messages sent: a resume from before the kept history, or too far behind.",
)

# Resolved once: the write loop counts every frame to every socket.
_sent_by_family = {family: _SENT.labels(family) for family in FAMILIES}
_dropped_by_reason = {
    reason: _DROPPED.labels(reason) for reason in (OVERFLOW, SEND_FAILED, PUBLISH_FAILED)
}


def family_of(topic: str | None) -> str:
    """`episode:<id>` is of the `episode` family; a collection topic is its own family."""
    return CONTROL if topic is None else topic.partition(":")[0]


def count_family(family: str) -> None:
    """Count the frames of this family too, from zero."""
    _sent_by_family.setdefault(family, _SENT.labels(family))


def sent(family: str) -> None:
    _sent_by_family[family].inc()


def dropped(reason: str, count: int = 1) -> None:
    _dropped_by_reason[reason].inc(count)
