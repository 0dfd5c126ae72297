"""Which episodes a new job may name.

A job only holds its episode's id (`Job.episode`); which episodes a job may be created for
(live ones) is for the app that owns them to say, and it says so at start-up.
"""

from collections.abc import Callable

from django.db.models import QuerySet

from jobs.models import Job


def _none() -> QuerySet:
    """Until an app says which, no episode may be named."""
    return Job.episode.field.related_model._default_manager.none()


_referable_episodes: Callable[[], QuerySet] = _none


def allow_episodes(episodes: Callable[[], QuerySet]) -> None:
    """Register the episodes a new job may name, as a function returning them."""
    global _referable_episodes
    _referable_episodes = episodes


def referable_episodes() -> QuerySet:
    return _referable_episodes()
