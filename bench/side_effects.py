"""Switching the activity log and broadcasting off, for measuring what they cost."""

from contextlib import contextmanager

from django.db.models.signals import post_delete, post_save, pre_save

from activity import events
from activity import receivers as activity_receivers
from episodes.models import Episode
from realtime.activity_listener import BROADCASTER

_UID = f"activity:{Episode._meta.label}"


def disconnect() -> None:
    pre_save.disconnect(sender=Episode, dispatch_uid=_UID)
    post_save.disconnect(sender=Episode, dispatch_uid=_UID)
    post_delete.disconnect(sender=Episode, dispatch_uid=_UID)
    events.unplug(BROADCASTER)


def reconnect() -> None:
    pre_save.connect(activity_receivers.remember_previous, sender=Episode, dispatch_uid=_UID)
    post_save.connect(activity_receivers.saved, sender=Episode, dispatch_uid=_UID)
    post_delete.connect(activity_receivers.deleted, sender=Episode, dispatch_uid=_UID)
    events.plug(BROADCASTER)


@contextmanager
def off():
    disconnect()
    try:
        yield
    finally:
        reconnect()
