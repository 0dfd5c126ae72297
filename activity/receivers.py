"""Signal receivers for tracked models. They only hand over to activity.services."""

from activity import services
from activity.tracking import tracker_for


def remember_previous(sender, instance, raw=False, **kwargs) -> None:
    if raw or instance._state.adding:
        return
    instance._activity_previous = services.snapshot_before_save(tracker_for(sender), instance)


def saved(sender, instance, created, raw=False, **kwargs) -> None:
    if raw:
        return
    previous = None if created else getattr(instance, "_activity_previous", None)
    services.record_save(tracker_for(sender), instance, previous=previous)


def deleted(sender, instance, **kwargs) -> None:
    services.record_delete(tracker_for(sender), instance)
