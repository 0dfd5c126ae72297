"""Writing the activity log. Recording must never break the change being recorded."""

import json
import logging
from functools import partial
from typing import Any

from django.core.serializers.json import DjangoJSONEncoder
from django.db import connection, models, transaction

from activity import context
from activity.models import Action, ActivityLog
from activity.signals import activity_committed
from activity.tracking import Tracker
from episode_metadata import counters

logger = logging.getLogger(__name__)

# Any constant works; it names the lock that puts activity ids in commit order on PostgreSQL.
_ID_ORDER_LOCK = 7_233_001


def _jsonable(value: Any) -> Any:
    return json.loads(json.dumps(value, cls=DjangoJSONEncoder))


def snapshot(tracker: Tracker, instance: models.Model) -> dict[str, Any]:
    return _jsonable({f.name: getattr(instance, f.attname) for f in tracker.fields()})


def snapshot_stored(tracker: Tracker, pk: Any) -> dict[str, Any] | None:
    """The row as the database holds it before this save, to diff against."""
    stored = tracker.model._base_manager.filter(pk=pk).first()
    return None if stored is None else snapshot(tracker, stored)


def _summary(tracker: Tracker, instance: models.Model) -> dict[str, Any]:
    return _jsonable({name: getattr(instance, name) for name in tracker.summary_fields})


def _action_for_update(tracker: Tracker, changes: dict[str, list]) -> str:
    if tracker.soft_delete_field in changes:
        before, after = changes[tracker.soft_delete_field]
        if before is None and after is not None:
            return Action.DELETE
        if before is not None and after is None:
            return Action.RESTORE
    return Action.UPDATE


def record_save(
    tracker: Tracker, instance: models.Model, *, previous: dict[str, Any] | None
) -> ActivityLog | None:
    current = snapshot(tracker, instance)
    if previous is None:
        return record(tracker, instance, action=Action.CREATE, changes=current)
    changes = {
        name: [previous.get(name), value]
        for name, value in current.items()
        if previous.get(name) != value
    }
    if not changes:
        return None
    return record(tracker, instance, action=_action_for_update(tracker, changes), changes=changes)


def record_delete(tracker: Tracker, instance: models.Model) -> ActivityLog | None:
    return record(tracker, instance, action=Action.DELETE, changes=snapshot(tracker, instance))


def record(
    tracker: Tracker,
    instance: models.Model,
    *,
    action: str,
    changes: dict[str, Any],
    metadata: dict[str, Any] | None = None,
) -> ActivityLog | None:
    """Write one activity row inside the caller's transaction; announce it once that commits."""
    acting = context.current()
    user = acting.get_user()
    entry = ActivityLog(
        actor=user,
        actor_label=acting.actor_label or (user.get_username() if user else ""),
        action=action,
        resource_type=tracker.resource_type,
        resource_id=str(instance.pk),
        resource_repr=str(instance)[:255],
        episode_id=tracker.episode(instance),
        changes=changes,
        metadata={"summary": _summary(tracker, instance), **(metadata or {})},
        request_id=acting.request_id,
        ip_address=acting.ip_address,
        user_agent=acting.user_agent,
        source=acting.source,
    )
    try:
        # A savepoint: if this insert fails, the caller's transaction is still usable.
        with transaction.atomic():
            _hold_id_order_lock()
            entry.save()
    except Exception:
        counters.increment(counters.ACTIVITY_WRITE_FAILURES)
        logger.exception(
            "activity log write failed for %s %s %s (request %s); the change itself is kept",
            action,
            tracker.resource_type,
            instance.pk,
            acting.request_id or "-",
        )
        return None
    transaction.on_commit(
        partial(activity_committed.send, sender=ActivityLog, entry=entry), robust=True
    )
    return entry


def _hold_id_order_lock() -> None:
    """Make id order equal commit order, so a reader tailing by id never skips a late commit.

    PostgreSQL hands out sequence values before commit, so two writers could commit 11 before
    10; holding this lock from id assignment to commit serializes them. SQLite's single writer
    already guarantees it.
    """
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(%s)", [_ID_ORDER_LOCK])
