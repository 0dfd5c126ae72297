"""Role changes in the activity log: a user joining or leaving a group (each group is a role)
a user becoming or ceasing to be staff, and an account deactivated, reactivated or deleted
(the `active` role), however it happens (the admin, the shell, an
operator's command). Each change is one `grant` or `revoke` row about the user, with the actor,
so the log answers who gave whom which access and when. The row is also how the user's open
sockets learn that their access changed: the event stream reads every row.

Who was given which role is read by those who may view users (staff) and by the user
concerned.

Changes made with `QuerySet.update()` send no signal and are not seen; everything Django's own
tools do (forms, `groups.add/remove/set/clear` from either side, `save()`) is.
"""

from typing import Any

from django.contrib.auth import get_user_model
from django.contrib.auth.models import AbstractBaseUser, AnonymousUser, Group, User
from django.db import models
from django.db.models import Q
from django.db.models.signals import m2m_changed, post_delete, post_save, pre_save

from activity import services, visibility
from activity.models import Action
from episode_metadata.common.permissions import allowed

RESOURCE_TYPE = "user"
# Roles that are flags on the user rather than groups: staff, and the account itself, whose
# deactivation (or deletion) is the revoke of `active`.
STAFF = "staff"
ACTIVE = "active"
FLAGS = {"is_staff": STAFF, "is_active": ACTIVE}
VIEW_USERS = "auth.view_user"


def connect() -> None:
    user_model = get_user_model()
    uid = "activity.role_changes"
    m2m_changed.connect(_groups_changed, sender=user_model.groups.through, dispatch_uid=uid)
    pre_save.connect(_remember_flags, sender=user_model, dispatch_uid=uid)
    post_save.connect(_flags_saved, sender=user_model, dispatch_uid=uid)
    post_delete.connect(_user_deleted, sender=user_model, dispatch_uid=uid)
    visibility.register(RESOURCE_TYPE, rows=_readable)


def _readable(reader: AbstractBaseUser | AnonymousUser) -> Q | None:
    if allowed(reader, VIEW_USERS):
        return None
    return Q(resource_id=str(reader.pk))


def record(*, user_id: int, username: str, role: str, granted: bool) -> None:
    """One role gained or lost, as a row about the user."""
    services.record_event(
        resource_type=RESOURCE_TYPE,
        resource_id=str(user_id),
        resource_repr=username,
        action=Action.GRANT if granted else Action.REVOKE,
        changes={"role": [None, role] if granted else [role, None]},
        metadata={"summary": {"id": user_id, "username": username, "role": role}},
    )


def _groups_changed(
    sender: type[models.Model],
    instance: models.Model,
    action: str,
    reverse: bool,
    pk_set: set[int] | None,
    **kwargs: Any,
) -> None:
    """`instance` is a user whose groups change or, from the group's side (`reverse`), a group
    whose users change. Before a removal or a clear, note which memberships really exist: a
    removal names what was asked for, members or not, and a clear names nothing."""
    if action == "pre_remove":
        instance.__dict__["_role_changes_leaving"] = _memberships(sender, instance, reverse, pk_set)
    elif action == "pre_clear":
        instance.__dict__["_role_changes_leaving"] = _memberships(sender, instance, reverse, None)
    elif action in ("post_remove", "post_clear"):
        _record_all(instance.__dict__.pop("_role_changes_leaving", []), granted=False)
    elif action == "post_add" and pk_set is not None:
        # Django passes only the memberships it inserted: one that existed is not a change.
        _record_all(_pairs(instance, reverse, pk_set), granted=True)


def _pairs(instance: models.Model, reverse: bool, pk_set: set[int]) -> list[tuple[int, int]]:
    """(user id, group id) for each id the change names."""
    if reverse:
        return [(user_id, instance.pk) for user_id in sorted(pk_set)]
    return [(instance.pk, group_id) for group_id in sorted(pk_set)]


def _memberships(
    through: type[models.Model], instance: models.Model, reverse: bool, pk_set: set[int] | None
) -> list[tuple[int, int]]:
    """The (user id, group id) memberships of `instance` that exist, among `pk_set` if given."""
    rows = through._default_manager.filter(**{"group_id" if reverse else "user_id": instance.pk})
    if pk_set is not None:
        rows = rows.filter(**{"user_id__in" if reverse else "group_id__in": pk_set})
    return list(rows.order_by("user_id", "group_id").values_list("user_id", "group_id"))


def _record_all(pairs: list[tuple[int, int]], *, granted: bool) -> None:
    if not pairs:
        return
    user_model = get_user_model()
    usernames = dict(
        user_model._default_manager.filter(pk__in={user for user, _ in pairs}).values_list(
            "pk", user_model.USERNAME_FIELD
        )
    )
    roles = dict(
        Group.objects.filter(pk__in={group for _, group in pairs}).values_list("pk", "name")
    )
    for user_id, group_id in pairs:
        record(
            user_id=user_id,
            username=usernames.get(user_id, ""),
            role=roles.get(group_id, str(group_id)),
            granted=granted,
        )


def _remember_flags(
    sender: type[models.Model],
    instance: models.Model,
    raw: bool = False,
    update_fields: frozenset[str] | None = None,
    **kwargs: Any,
) -> None:
    """The stored `is_staff` and `is_active`, when this save may change them (a login's save
    of `last_login` cannot, and costs nothing here)."""
    if raw or instance._state.adding:
        return
    if update_fields is not None and not set(FLAGS) & set(update_fields):
        return
    stored = sender._base_manager.filter(pk=instance.pk).values(*FLAGS).first()
    instance.__dict__["_role_changes_flags"] = stored


def _flags_saved(
    sender: type[models.Model],
    instance: User,
    created: bool,
    raw: bool = False,
    **kwargs: Any,
) -> None:
    before = instance.__dict__.pop("_role_changes_flags", None)
    if created or raw or before is None:
        return
    for flag, role in FLAGS.items():
        now = getattr(instance, flag)
        if before[flag] != now:
            record(user_id=instance.pk, username=instance.get_username(), role=role, granted=now)


def _user_deleted(sender: type[models.Model], instance: User, **kwargs: Any) -> None:
    """A deleted user's account is gone: the same as its deactivation to whoever reads it."""
    if instance.is_active:
        record(user_id=instance.pk, username=instance.get_username(), role=ACTIVE, granted=False)
