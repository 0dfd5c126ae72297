"""Role changes in the activity log: a user joining or leaving a group (each group is a role)
and a user becoming or ceasing to be staff, however it happens (the admin, the shell, an
operator's command). Each change is one `grant` or `revoke` row about the user, with the actor,
so the log answers who gave whom which access and when. The row is also how the user's open
sockets learn that their access changed: the event stream reads every row.

Changes made with `QuerySet.update()` send no signal and are not seen; everything Django's own
tools do (forms, `groups.add/remove/set/clear` from either side, `save()`) is.
"""

from typing import Any

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.db import models
from django.db.models.signals import m2m_changed, post_save, pre_save

from activity import services
from activity.models import Action

RESOURCE_TYPE = "user"
# The role that is a flag on the user rather than a group.
STAFF = "staff"


def connect() -> None:
    user_model = get_user_model()
    uid = "activity.role_changes"
    m2m_changed.connect(_groups_changed, sender=user_model.groups.through, dispatch_uid=uid)
    pre_save.connect(_remember_staff, sender=user_model, dispatch_uid=uid)
    post_save.connect(_staff_saved, sender=user_model, dispatch_uid=uid)


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
        instance._role_changes_leaving = _memberships(sender, instance, reverse, pk_set)
    elif action == "pre_clear":
        instance._role_changes_leaving = _memberships(sender, instance, reverse, None)
    elif action in ("post_remove", "post_clear"):
        _record_all(instance.__dict__.pop("_role_changes_leaving", []), granted=False)
    elif action == "post_add":
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


def _remember_staff(
    sender: type[models.Model],
    instance: models.Model,
    raw: bool = False,
    update_fields: frozenset[str] | None = None,
    **kwargs: Any,
) -> None:
    """The stored `is_staff`, when this save may change it (a login's save of `last_login`
    cannot, and costs nothing here)."""
    if raw or instance._state.adding:
        return
    if update_fields is not None and "is_staff" not in update_fields:
        return
    stored = sender._base_manager.filter(pk=instance.pk).values_list("is_staff", flat=True)
    instance._role_changes_staff = stored.first()


def _staff_saved(
    sender: type[models.Model],
    instance: models.Model,
    created: bool,
    raw: bool = False,
    **kwargs: Any,
) -> None:
    before = instance.__dict__.pop("_role_changes_staff", None)
    if created or raw or before is None or before == instance.is_staff:
        return
    record(
        user_id=instance.pk,
        username=instance.get_username(),
        role=STAFF,
        granted=instance.is_staff,
    )
