"""Writing the activity log. Recording must never break the change being recorded."""

import logging
from collections.abc import Collection, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from functools import partial
from typing import Any

from django.core.serializers.json import DjangoJSONEncoder
from django.db import models, transaction

from activity import events, inserts
from activity.models import Action, ActivityLog
from activity.tracking import Tracker, remember_values, remember_written, tracker_for
from episode_metadata.common import context, counters

logger = logging.getLogger(__name__)


_ENCODER = DjangoJSONEncoder()
# The rows `written_together` holds back, when one is open.
_held: ContextVar[list[ActivityLog] | None] = ContextVar("activity_held", default=None)
_JSON_NATIVE = (str, int, float, bool, type(None))


def _jsonable(value: Any) -> Any:
    """What the value looks like once stored as JSON (dates as ISO strings, UUIDs as text)."""
    if isinstance(value, _JSON_NATIVE):
        return value
    if isinstance(value, list | tuple):
        return [_jsonable(item) for item in value]
    if isinstance(value, dict):
        return {str(key): _jsonable(item) for key, item in value.items()}
    try:
        return _ENCODER.default(value)
    except TypeError:
        return str(value)  # a type JSON cannot hold (a stored file, say): its text is its record


def _values(fields: list[models.Field], source: dict[str, Any]) -> dict[str, Any]:
    """Field values by name; fields that were never loaded (deferred) are left out."""
    return {f.name: _jsonable(source[f.attname]) for f in fields if f.attname in source}


def _snapshot(tracker: Tracker, instance: models.Model) -> dict[str, Any]:
    return _values(tracker.fields(), instance.__dict__)


def _chosen(tracker: Tracker, names: Collection[str] | None) -> list[models.Field]:
    """The tracked fields among `names`, or all of them."""
    fields = tracker.fields()
    if names is None:
        return fields
    return [f for f in fields if f.name in names or f.attname in names]


def snapshot_before_save(
    instance: models.Model, *, fields: Collection[str] | None = None
) -> dict[str, Any] | None:
    """The row as it was before this save: as loaded, or else as the database holds it.

    Called by the `pre_save` receiver, and by any writer that changes a tracked row
    without `save()` (a job's guarded UPDATE) before it writes; one that knows which
    fields it writes names them, and only those are read.
    """
    tracker = tracker_for(type(instance))
    chosen = _chosen(tracker, fields)
    loaded = getattr(instance, "_activity_loaded", None)
    if loaded is not None:
        return _values(chosen, loaded)
    stored = tracker.model._base_manager.filter(pk=instance.pk).first()
    return None if stored is None else _values(chosen, stored.__dict__)


def _summary(tracker: Tracker, instance: models.Model) -> dict[str, Any]:
    return _jsonable({name: getattr(instance, name) for name in tracker.summary_fields})


def _action_for_update(tracker: Tracker, changes: dict[str, list]) -> str:
    named = tracker.action_for(changes)
    if named is not None:
        return named
    if tracker.soft_delete_field in changes:
        before, after = changes[tracker.soft_delete_field]
        if before is None and after is not None:
            return Action.DELETE
        if before is not None and after is None:
            return Action.RESTORE
    return Action.UPDATE


def record_save(
    instance: models.Model,
    *,
    previous: dict[str, Any] | None,
    fields: Collection[str] | None = None,
) -> None:
    """The one place a saved change becomes an activity row (and, once committed, an event).

    Called by the `post_save` receiver, and by any writer that changes a tracked row without
    `save()` (a job's guarded UPDATE) after it wrote, with what `snapshot_before_save` gave
    for the same `fields`: a worker writes a few of a job's fields twice a job, and
    comparing every field before and after cost it more than its UPDATE.
    """
    tracker = tracker_for(type(instance))
    chosen = _chosen(tracker, fields)
    current = _values(chosen, instance.__dict__)
    # What was just saved is the 'before' of this instance's next save.
    loaded = instance.__dict__
    saved = {f.attname: loaded[f.attname] for f in chosen if f.attname in loaded}
    if fields is None:
        remember_values(instance, saved)
    else:
        remember_written(instance, saved)
    if previous is None:
        record(instance, action=tracker.create_action, changes=current)
        return
    changes = {
        name: [previous[name], value]
        for name, value in current.items()
        if name in previous and previous[name] != value
    }
    if changes:
        record(instance, action=_action_for_update(tracker, changes), changes=changes)


def record_delete(instance: models.Model) -> None:
    tracker = tracker_for(type(instance))
    record(instance, action=Action.DELETE, changes=_snapshot(tracker, instance))


def record(
    instance: models.Model,
    *,
    action: str,
    changes: dict[str, Any],
    metadata: dict[str, Any] | None = None,
) -> None:
    """Write one activity row for a tracked instance (see `record_event`)."""
    tracker = tracker_for(type(instance))
    record_event(
        resource_type=tracker.resource_type,
        resource_id=str(instance.pk),
        resource_repr=str(instance),
        action=action,
        episode_id=tracker.episode(instance),
        changes=changes,
        metadata={"summary": _summary(tracker, instance), **(metadata or {})},
    )


def record_event(
    *,
    resource_type: str,
    resource_id: str,
    action: str,
    resource_repr: str = "",
    episode_id: Any = None,
    changes: dict[str, Any] | None = None,
    metadata: dict[str, Any] | None = None,
) -> None:
    """Write one activity row inside the caller's transaction; announce it once that commits.

    Activity ids must follow commit order, so that a reader tailing the log by id never
    skips a transaction that committed late. SQLite's single writer guarantees it; on
    PostgreSQL, which hands out sequence values before commit, a trigger numbers the row
    as its transaction commits (migration 0006), so until then `entry.pk` is a placeholder.
    """
    acting = context.current()
    user = acting.get_user()
    entry = ActivityLog(
        actor=user,
        actor_label=acting.actor_label or (user.get_username() if user else ""),
        action=action,
        resource_type=resource_type,
        resource_id=resource_id,
        resource_repr=resource_repr[:255],
        episode_id=episode_id,
        changes=changes or {},
        metadata=metadata or {},
        request_id=acting.request_id,
        ip_address=acting.ip_address,
        user_agent=acting.user_agent,
        source=acting.source,
    )
    held = _held.get()
    if held is not None:
        held.append(entry)
    else:
        _write([entry])


@contextmanager
def written_together() -> Iterator[list[ActivityLog]]:
    """Rows recorded inside are written by one INSERT as the block ends, still inside the
    caller's transaction: a job worker records two changes a commit (an answer and its next
    claim), and every INSERT is a round trip. Until then a row has no id. The list of rows
    held is yielded, so that a caller that undoes part of its work drops their rows too.
    Nothing is written if the block raises."""
    held: list[ActivityLog] = []
    token = _held.set(held)
    try:
        yield held
    finally:
        _held.reset(token)
    if held:
        _write(held)


def _write(entries: list[ActivityLog]) -> None:
    """Insert the rows; announce them once the transaction commits. A failure is logged and
    the change being recorded is kept, unless the database dropped the transaction."""
    try:
        inserts.insert(entries)
    except inserts.TransactionLost:
        counters.increment(counters.ACTIVITY_WRITE_FAILURES, len(entries))
        for entry in entries:
            logger.error(
                "activity log write failed for %s %s %s (request %s) and the database "
                "dropped the whole transaction: the change is not saved",
                entry.action,
                entry.resource_type,
                entry.resource_id,
                entry.request_id or "-",
            )
        raise
    except Exception:
        counters.increment(counters.ACTIVITY_WRITE_FAILURES, len(entries))
        for entry in entries:
            logger.exception(
                "activity log write failed for %s %s %s (request %s); the change itself is kept",
                entry.action,
                entry.resource_type,
                entry.resource_id,
                entry.request_id or "-",
            )
        return
    for entry in entries:
        transaction.on_commit(partial(events.activity_committed, entry), robust=True)
