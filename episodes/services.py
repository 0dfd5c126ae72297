"""Writes to episodes: the rules every caller (API, jobs, commands) must follow in one place."""

from functools import partial
from typing import TYPE_CHECKING, Any

from django.db import IntegrityError, transaction
from django.utils import timezone
from rest_framework.exceptions import ValidationError

from episodes import roles, selectors
from episodes.files import services as file_services
from episodes.models import Episode, EpisodeFile, EpisodeStatus

if TYPE_CHECKING:
    from django.contrib.auth.models import User

NUMBER_TAKEN = "A live episode already has this season and episode number."


def _check_number_free(episode: Episode) -> None:
    if selectors.number_taken(
        season_number=episode.season_number,
        episode_number=episode.episode_number,
        exclude_id=episode.pk,
    ):
        raise ValidationError({"episode_number": [NUMBER_TAKEN]})


def _save(episode: Episode) -> Episode:
    """Save, turning the database's own uniqueness verdict (a lost race) into a 400.

    Only within a service's own atomic block, which the 400 leaves: rolled back alone (a
    savepoint, inside a caller's transaction), it leaves that transaction usable, and a block
    of its own here would cost two more round trips a save."""
    try:
        episode.save()
    except IntegrityError as exc:
        # The only unique constraint an insert or update can break here is the number pair.
        if "unique" in str(exc).lower():
            raise ValidationError({"episode_number": [NUMBER_TAKEN]}) from exc
        raise
    return episode


@transaction.atomic
def create_episode(*, user: "User", data: dict[str, Any]) -> Episode:
    """A new episode starts as a draft unless `user` may take it along the workflow to the
    status asked for (episodes/roles.py)."""
    roles.check_creation(user, data.get("status", EpisodeStatus.DRAFT))
    episode = Episode(**data, created_by=user, updated_by=user)
    _check_number_free(episode)
    return _save(episode)


@transaction.atomic
def update_episode(episode: Episode, *, user: "User", data: dict[str, Any]) -> Episode:
    """A change of status is one move of the workflow that `user` may make."""
    if "status" in data:
        roles.check_transition(user, episode.status, data["status"])
    for field, value in data.items():
        setattr(episode, field, value)
    episode.updated_by = user
    _check_number_free(episode)
    return _save(episode)


@transaction.atomic
def soft_delete_episode(episode: Episode, *, user: "User") -> Episode:
    episode.deleted_at = timezone.now()
    episode.updated_by = user
    episode.save(update_fields=["deleted_at", "updated_by", "updated_at"])
    return episode


@transaction.atomic
def restore_episode(episode: Episode, *, user: "User") -> Episode:
    if not episode.is_deleted:
        raise ValidationError({"detail": "This episode is not deleted."})
    episode.deleted_at = None
    episode.updated_by = user
    _check_number_free(episode)
    return _save(episode)


@transaction.atomic
def hard_delete_episode(episode: Episode) -> None:
    """Delete the episode with everything hanging off it, stored bytes included."""
    stored = list(EpisodeFile.objects.filter(episode=episode).values_list("file", flat=True))
    episode.delete()
    transaction.on_commit(partial(file_services.remove_stored, stored))
