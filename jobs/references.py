"""Which episodes a new job may name, and which a user may read.

A job only holds its episode's id (`Job.episode`); which episodes a job may be created for
(live ones), and which a user may read (whose jobs they see), is for the app that owns them to
say, and it says so at start-up.
"""

from collections.abc import Callable

from django.contrib.auth.models import AbstractBaseUser
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


def _none_for(user: AbstractBaseUser | None) -> QuerySet:
    return _none()


_readable_episodes: Callable[[AbstractBaseUser | None], QuerySet] = _none_for


def allow_reading(episodes: Callable[[AbstractBaseUser | None], QuerySet]) -> None:
    """Register the episodes a user may read, as a function of the user returning them."""
    global _readable_episodes
    _readable_episodes = episodes


def readable_episodes(user: AbstractBaseUser | None) -> QuerySet:
    return _readable_episodes(user)
