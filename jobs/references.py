"""Which episodes a new job may name, and whose jobs on episodes a user sees.

A job only holds its episode's id (`Job.episode`); which episodes a job may be created for
(live ones), and which permission lets a user read episodes (and so see the jobs on them), is
for the app that owns episodes to say, and it says so at start-up.
"""

from collections.abc import Callable

from django.contrib.auth.models import AbstractBaseUser, AnonymousUser
from django.db.models import QuerySet

from episode_metadata.common.permissions import allowed
from jobs.models import Job


def _none() -> QuerySet:
    """Until an app says which, no episode may be named."""
    return Job.episode.field.related_model._default_manager.none()


_referable_episodes: Callable[[], QuerySet] = _none
# The permission to read episodes; until an app names it, nobody sees others' jobs by episode.
_episode_readers: str | None = None


def allow_episodes(episodes: Callable[[], QuerySet]) -> None:
    """Register the episodes a new job may name, as a function returning them."""
    global _referable_episodes
    _referable_episodes = episodes


def referable_episodes() -> QuerySet:
    return _referable_episodes()


def read_jobs_on_episodes_with(permission: str) -> None:
    """Whoever holds `permission` may read episodes, and so sees every job on one, whether the
    episode is live or soft-deleted: a job is part of the episode's history."""
    global _episode_readers
    _episode_readers = permission


def reads_episodes(user: AbstractBaseUser | AnonymousUser) -> bool:
    return _episode_readers is not None and allowed(user, _episode_readers)
