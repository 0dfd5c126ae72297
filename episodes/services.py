"""Writes to episodes: the rules every caller (API, jobs, commands) must follow in one place."""

from functools import partial
from typing import TYPE_CHECKING, Any

from django.db import IntegrityError, transaction
from django.utils import timezone
from rest_framework.exceptions import ValidationError

from episode_metadata.common.preconditions import IfMatch, check_before_write, check_written
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


def _save(episode: Episode, if_match: IfMatch | None = None, **options: Any) -> Episode:
    """Save, turning the database's own uniqueness verdict (a lost race) into a 400, and a
    version the request did not expect (another write came first) into a 412.

    Only within a service's own atomic block, which the 400 or 412 leaves: rolled back alone
    (a savepoint, inside a caller's transaction), it leaves that transaction usable, and a
    block of its own here would cost two more round trips a save."""
    try:
        episode.save(**options)
    except IntegrityError as exc:
        # The only unique constraint an insert or update can break here is the number pair.
        if "unique" in str(exc).lower():
            raise ValidationError({"episode_number": [NUMBER_TAKEN]}) from exc
        raise
    check_written(if_match, episode.version)
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
def update_episode(
    episode: Episode, *, user: "User", data: dict[str, Any], if_match: IfMatch | None = None
) -> Episode:
    """A change of status is one move of the workflow that `user` may make. With `if_match`,
    only a change of a version it accepts is made (412 otherwise)."""
    check_before_write(if_match, episode.version)
    if "status" in data:
        roles.check_transition(user, episode.status, data["status"])
    for field, value in data.items():
        setattr(episode, field, value)
    episode.updated_by = user
    _check_number_free(episode)
    return _save(episode, if_match)


@transaction.atomic
def soft_delete_episode(
    episode: Episode, *, user: "User", if_match: IfMatch | None = None
) -> Episode:
    check_before_write(if_match, episode.version)
    episode.deleted_at = timezone.now()
    episode.updated_by = user
    return _save(episode, if_match, update_fields=["deleted_at", "updated_by", "updated_at"])


@transaction.atomic
def restore_episode(episode: Episode, *, user: "User", if_match: IfMatch | None = None) -> Episode:
    check_before_write(if_match, episode.version)
    if not episode.is_deleted:
        raise ValidationError({"detail": "This episode is not deleted."})
    episode.deleted_at = None
    episode.updated_by = user
    _check_number_free(episode)
    return _save(episode, if_match)


@transaction.atomic
def hard_delete_episode(episode: Episode, *, if_match: IfMatch | None = None) -> None:
    """Delete the episode with everything hanging off it, stored bytes included. A delete
    changes no version to check afterwards: with `if_match`, the row is locked and checked
    first."""
    if if_match is not None:
        check_before_write(if_match, selectors.locked_version(episode))
    stored = list(EpisodeFile.objects.filter(episode=episode).values_list("file", flat=True))
    episode.delete()
    transaction.on_commit(partial(file_services.remove_stored, stored))
