"""Signal receivers for tracked models, connected by `activity.tracking.track`. They only
hand over to activity.services, whose functions any writer that bypasses `save()` calls too."""

from activity import services


def remember_previous(sender, instance, raw=False, **kwargs) -> None:
    if raw or instance._state.adding:
        return
    instance._activity_previous = services.snapshot_before_save(instance)


def saved(sender, instance, created, raw=False, **kwargs) -> None:
    if raw:
        return
    previous = None if created else getattr(instance, "_activity_previous", None)
    services.record_save(instance, previous=previous)


def deleted(sender, instance, **kwargs) -> None:
    services.record_delete(instance)
