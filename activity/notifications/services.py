"""Writes to notifications: made from the activity log, sent by staff, read and removed.

Notifications are made from the committed activity log by the notifier of each server
and worker process (`activity.notifications.runner`), not by the request that made the
change: the write never waits on them or fails because of them, and a crash loses nothing,
since the log is durable and the cursor moves in the same transaction as the notifications
it accounts for.
"""

import logging
import uuid
from collections.abc import Callable, Iterable
from datetime import datetime, timedelta
from functools import partial

from django.contrib.auth import get_user_model
from django.contrib.auth.models import User
from django.db import IntegrityError, transaction
from django.db.models import Max, Q
from django.utils import timezone

from activity import cursors
from activity import services as activity_services
from activity.models import (
    Action,
    ActivityLog,
    Follow,
    Notification,
    NotificationCursor,
    NotificationPreference,
    NotificationType,
    Priority,
)
from activity.notifications import live, rules
from episode_metadata.common.preconditions import IfMatch, check_before_write

logger = logging.getLogger(__name__)

BATCH_SIZE = 500


def deliver_pending(*, limit: int = BATCH_SIZE) -> int:
    """Turn activity committed since the cursor into notifications; returns rows read.

    Safe in many processes at once (the cursor row is locked: `CursorTaken` while another
    process's pass holds it) and after a crash (the cursor moves with the notifications).
    """
    news = cursors.news_after(NotificationCursor)
    if news is False:
        return 0
    with transaction.atomic():
        if news is None:
            _create_cursor()
        cursor = cursors.lock(NotificationCursor)
        batch = _next_batch(cursor.last_activity_id, limit)
        if not batch:
            return 0
        created = [made for entry in _with_rules(batch) for made in _notify(entry)]
        cursor.last_activity_id = batch[-1][0]
        cursor.save(update_fields=["last_activity_id"])
        transaction.on_commit(partial(live.created, created), robust=True)
    return len(batch)


def _create_cursor() -> None:
    # The first run starts from now: history from before notifications existed stays quiet.
    start = ActivityLog.objects.aggregate(last=Max("id"))["last"] or 0
    NotificationCursor.objects.get_or_create(pk=1, defaults={"last_activity_id": start})


def _next_batch(after: int, limit: int) -> list[tuple[int, str, str]]:
    """Id, resource type and action of the next rows: most activity (a job starting, say)
    has no rule, and is passed over without loading it whole."""
    rows = ActivityLog.objects.filter(id__gt=after).order_by("id")
    return list(rows.values_list("id", "resource_type", "action")[:limit])


def _with_rules(batch: list[tuple[int, str, str]]) -> list[ActivityLog]:
    wanted = [pk for pk, resource_type, action in batch if rules.applies_to(resource_type, action)]
    if not wanted:
        return []
    return list(ActivityLog.objects.filter(id__in=wanted).order_by("id"))


def _notify(entry: ActivityLog) -> list[Notification]:
    planned = rules.plan(entry)
    if planned is None or not planned.recipients:
        return []
    recipients = planned.recipients - rules.muted_or_inactive(planned.recipients, planned.type)
    return Notification.objects.bulk_create(
        Notification(
            recipient_id=recipient,
            type=planned.type,
            title=planned.title[:200],
            message=planned.message,
            data=planned.data,
            priority=planned.priority,
            activity_id=entry.id,
        )
        for recipient in sorted(recipients)
    )


@transaction.atomic
def announce(
    *,
    sender: User,
    title: str,
    message: str,
    priority: str = Priority.NORMAL,
    recipients: Iterable[User] | None = None,
    expires_at: datetime | None = None,
) -> list[Notification]:
    """A staff message to chosen users, or to every active user when none are chosen."""
    users = get_user_model().objects.filter(is_active=True).exclude(pk=sender.pk)
    if recipients is not None:
        users = users.filter(pk__in=[user.pk for user in recipients])
    user_ids = set(users.values_list("pk", flat=True))
    if priority != Priority.CRITICAL:  # critical ones reach even those who muted them
        user_ids -= rules.muted_or_inactive(user_ids, NotificationType.ANNOUNCEMENT)
    announcement_id = uuid.uuid4().hex
    activity_services.record_event(
        resource_type="announcement",
        resource_id=announcement_id,
        resource_repr=title,
        action=Action.CREATE,
        metadata={"summary": {"title": title, "priority": priority, "recipients": len(user_ids)}},
    )
    created = Notification.objects.bulk_create(
        Notification(
            recipient_id=user_id,
            type=NotificationType.ANNOUNCEMENT,
            title=title,
            message=message,
            data={"announcement_id": announcement_id, "sender_id": sender.pk},
            priority=priority,
            expires_at=expires_at,
        )
        for user_id in sorted(user_ids)
    )
    transaction.on_commit(partial(live.created, created), robust=True)
    return created


def mark_read(notification: Notification) -> Notification:
    if notification.read_at is None:
        notification.read_at = timezone.now()
        notification.save(update_fields=["read_at"])
        _after_commit(live.unread_count_changed, notification.recipient_id)
    return notification


def mark_all_read(user: User) -> int:
    marked = Notification.objects.filter(recipient=user, read_at__isnull=True).update(
        read_at=timezone.now()
    )
    if marked:
        _after_commit(live.unread_count_changed, user.pk)
    return marked


def delete(notification: Notification) -> None:
    was_unread = notification.read_at is None
    notification.delete()
    if was_unread:
        _after_commit(live.unread_count_changed, notification.recipient_id)


def _after_commit(send: Callable[[int], None], user_id: int) -> None:
    transaction.on_commit(partial(send, user_id), robust=True)


def follow(user: User, episode_id: uuid.UUID) -> bool:
    """Returns whether this started a follow (False: the user followed it already)."""
    _, created = Follow.objects.get_or_create(user=user, episode_id=episode_id)
    return created


def unfollow(user: User, episode_id: uuid.UUID) -> bool:
    deleted, _ = Follow.objects.filter(user=user, episode_id=episode_id).delete()
    return bool(deleted)


@transaction.atomic
def set_muted_types(
    user: User, muted_types: list[str], *, if_match: IfMatch | None = None
) -> NotificationPreference:
    """With `if_match`, only preferences of a version it accepts are replaced (412
    otherwise); a user who never saved any has version 0."""
    preference = NotificationPreference.objects.select_for_update().filter(user=user).first()
    if preference is None:
        check_before_write(if_match, 0)
        try:
            with transaction.atomic():
                return NotificationPreference.objects.create(
                    user=user, muted_types=sorted(set(muted_types))
                )
        except IntegrityError:
            # Another request saved the first preferences meanwhile: decide against those.
            return set_muted_types(user, muted_types, if_match=if_match)
    check_before_write(if_match, preference.version)
    preference.muted_types = sorted(set(muted_types))
    preference.save()
    return preference


def prunable(*, read_older_than_days: int, now: datetime | None = None):
    """Expired notifications, and read ones older than the given age."""
    now = now or timezone.now()
    cutoff = now - timedelta(days=read_older_than_days)
    return Notification.objects.filter(
        Q(expires_at__lte=now) | Q(read_at__isnull=False, created_at__lt=cutoff)
    )


def prune(
    *,
    read_older_than_days: int,
    batch_size: int = 1000,
    progress: Callable[[int], None] = lambda deleted: None,
) -> int:
    """Delete in batches, so a large backlog never holds one long lock."""
    deleted = 0
    while True:
        batch = list(
            prunable(read_older_than_days=read_older_than_days).values_list("pk", flat=True)[
                :batch_size
            ]
        )
        if not batch:
            return deleted
        deleted += Notification.objects.filter(pk__in=batch).delete()[0]
        progress(deleted)
