"""The cursor rows the log followers (the notifier, the webhook dispatcher) keep their place
in the activity log with: one row each, which one process at a time holds for a pass.

A follower that finds its cursor held does not wait for it. The holder is making what this
pass would make; waiting would only hold a pooled connection and a thread, in every other
process at once, for as long as the holder's pass lasts. The follower tries again shortly
instead (`activity.log_follower`), for the rows committed after the holder read its batch.
"""

from django.db.models import Exists, Model, OuterRef

from activity.models import ActivityLog


class CursorTaken(Exception):
    """Another process's pass holds the cursor."""


def lock[M: Model](model: type[M]) -> M:
    """The cursor row (pk 1, which must exist), locked until the transaction ends.

    On SQLite, which has no row locks, the transaction's write lock does the same: passes
    run one at a time, the second waiting for the first.
    """
    cursor = model._default_manager.select_for_update(skip_locked=True).filter(pk=1).first()
    if cursor is None:
        raise CursorTaken
    return cursor


def news_after(model: type[Model]) -> bool | None:
    """Whether activity was committed after the cursor; None when it has no row yet. One
    query, which every follower in every process runs on each wake-up and poll."""
    after = ActivityLog.objects.filter(id__gt=OuterRef("last_activity_id"))
    found = model._default_manager.filter(pk=1).values_list(Exists(after), flat=True)
    return next(iter(found), None)
