"""Who may do what: Django's model permissions, given by role (a group), with staff allowed
everything. Every door (REST, WebSocket, admin, dashboard) asks `User.has_perm`, through
`allowed` here."""

import functools
from collections.abc import Iterator
from typing import cast

from asgiref.sync import sync_to_async
from django.contrib.auth import get_user_model
from django.contrib.auth.models import (
    AbstractBaseUser,
    AbstractUser,
    AnonymousUser,
    Group,
    Permission,
    PermissionsMixin,
)
from django.contrib.contenttypes.models import ContentType
from django.db import connection
from django.db.models import Field, Model, QuerySet
from django.db.models.expressions import RawSQL
from rest_framework.permissions import BasePermission
from rest_framework.request import Request

# What each HTTP method needs of the view's model, as DRF's DjangoModelPermissions has it,
# except that reading needs `view` too: a user with no role sees nothing.
METHOD_ACTIONS = {
    "GET": "view",
    "HEAD": "view",
    "OPTIONS": "view",
    "POST": "add",
    "PUT": "change",
    "PATCH": "change",
    "DELETE": "delete",
}


class PermissionsOnlyBackend:
    """A backend that answers questions about permissions and nothing else: it signs nobody
    in and loads no user, so Django never takes it for the one that logged a user in."""

    def authenticate(self, request, **credentials) -> None:
        return None


class StaffBackend(PermissionsOnlyBackend):
    """Staff may do everything, in the admin too (superusers already may): every permission
    to active staff, without a query."""

    def has_perm(self, user_obj, perm: str, obj=None) -> bool:
        return is_staff(user_obj)

    async def ahas_perm(self, user_obj, perm: str, obj=None) -> bool:
        return is_staff(user_obj)

    def has_module_perms(self, user_obj, app_label: str) -> bool:
        """The admin shows an app only to those who may do something in it."""
        return is_staff(user_obj)


class PermissionsBackend(PermissionsOnlyBackend):
    """The permissions a user holds, their own and their groups', read in one query where
    Django's ModelBackend makes one each (every request asks about one).

    Listed before ModelBackend, it fills ModelBackend's own cache of them (`_perm_cache`), so
    ModelBackend, which still signs users in, asks nothing more."""

    def get_all_permissions(self, user_obj, obj=None) -> set[str]:
        if not user_obj.is_active or user_obj.is_anonymous or obj is not None:
            return set()
        if not hasattr(user_obj, "_perm_cache"):
            user_obj._perm_cache = {
                f"{app_label}.{codename}" for app_label, codename in _held(user_obj)
            }
        return user_obj._perm_cache

    async def aget_all_permissions(self, user_obj, obj=None) -> set[str]:
        return await sync_to_async(self.get_all_permissions)(user_obj, obj)

    def has_perm(self, user_obj, perm: str, obj=None) -> bool:
        return perm in self.get_all_permissions(user_obj, obj)

    async def ahas_perm(self, user_obj, perm: str, obj=None) -> bool:
        return perm in await self.aget_all_permissions(user_obj, obj)


def _held(user) -> list[tuple[str, str]]:
    """(app label, codename) of each permission `user` holds."""
    if user.is_superuser:
        return list(Permission.objects.values_list("content_type__app_label", "codename"))
    with connection.cursor() as cursor:
        cursor.execute(_held_sql(), [user.pk, user.pk])
        return cursor.fetchall()


@functools.cache
def _held_sql() -> str:
    """One user's permissions, their own and their groups', as SQL built once from the models'
    tables: the ORM would compile the same query again on every request, for most of its cost."""
    quote = connection.ops.quote_name
    return (
        f"SELECT content_type.{quote('app_label')}, permission.{quote('codename')} "
        f"{_held_from('%s')}"
    )


def held_names(model: type[Model], user_field: str) -> RawSQL:
    """An annotation for a query of `model`: the permissions of the user whose id is in its
    field `user_field`, as `app_label.codename` names joined by commas, or None for none.
    `prefill` gives them to the user."""
    quote = connection.ops.quote_name
    # A concrete field of the model's own table, so it has a column.
    field = cast(Field, model._meta.get_field(user_field))
    column = f"{quote(model._meta.db_table)}.{quote(cast(str, field.column))}"
    # Built from the models' table and column names only: no value from outside.
    return RawSQL(_held_names_sql(column), ())  # noqa: S611


@functools.cache
def _held_names_sql(user_id_column: str) -> str:
    quote = connection.ops.quote_name
    name = f"content_type.{quote('app_label')} || '.' || permission.{quote('codename')}"
    joined = (
        f"STRING_AGG({name}, ',')"
        if connection.vendor == "postgresql"
        else f"GROUP_CONCAT({name}, ',')"
    )
    return f"(SELECT {joined} {_held_from(user_id_column)})"


def _held_from(user_id: str) -> str:
    """FROM and WHERE of the permissions held by the user whose id `user_id` gives (a
    placeholder or a column)."""
    quote = connection.ops.quote_name
    user_model = get_user_model()
    own = user_model.user_permissions.through._meta
    membership = user_model.groups.through._meta
    granted = Group.permissions.through._meta

    def table(meta) -> str:
        return quote(meta.db_table)

    def column(meta, name: str) -> str:
        return quote(meta.get_field(name).column)

    # Names come from the models' metadata, quoted; the user's id is a placeholder or a column.
    return (
        f"FROM {table(Permission._meta)} permission "  # noqa: S608
        f"JOIN {table(ContentType._meta)} content_type "
        f"ON content_type.{quote('id')} = permission.{column(Permission._meta, 'content_type')} "
        f"WHERE permission.{quote('id')} IN ("
        f"SELECT {column(own, 'permission')} FROM {table(own)} "
        f"WHERE {column(own, 'user')} = {user_id} "
        f"UNION SELECT granted.{column(granted, 'permission')} FROM {table(granted)} granted "
        f"JOIN {table(membership)} membership "
        f"ON membership.{column(membership, 'group')} = granted.{column(granted, 'group')} "
        f"WHERE membership.{column(membership, 'user')} = {user_id})"
    )


def with_permissions(users: QuerySet) -> Iterator:
    """These users, each with their permissions read in the same query: asking about many
    users costs one query, not one each."""
    held = held_names(users.model, users.model._meta.pk.name)
    for user in users.annotate(held_permissions=held):
        prefill(user, user.held_permissions)
        yield user


def prefill(user, names: str | None) -> None:
    """Give `user` the permissions read with it (`held_names`), so that no check reads
    them again. A superuser holds every permission, which the subquery does not list: theirs
    are read as before, if ever asked for."""
    if not user.is_superuser:
        user._perm_cache = set(names.split(",")) if names else set()


def is_staff(user: AbstractBaseUser | AnonymousUser) -> bool:
    """Active staff see and may do everything. Staff is a flag of AbstractUser, which the
    service's user model is; the anonymous user is never staff."""
    return isinstance(user, AbstractUser) and user.is_active and user.is_staff


def allowed(user: AbstractBaseUser | AnonymousUser | None, permission: str) -> bool:
    """`permission` is `app_label.codename`, as `User.has_perm` takes it. No user, or a user
    model without PermissionsMixin (the service's has it), holds any."""
    return isinstance(user, PermissionsMixin | AnonymousUser) and user.has_perm(permission)


def model_permission(model: type[Model], action: str) -> str:
    return f"{model._meta.app_label}.{action}_{model._meta.model_name}"


def refusal(permission: str) -> str:
    return f"You do not have the permission {permission}."


class ModelPermissions(BasePermission):
    """The view's model permission for the request's method; a view names other ones per
    action in `action_permissions` (e.g. `{"restore": "episodes.restore_episode"}`)."""

    message = "You do not have permission to perform this action."

    def has_permission(self, request: Request, view) -> bool:
        if not request.user or not request.user.is_authenticated:
            return False
        if not hasattr(view, (request.method or "").lower()):
            return True  # nothing answers this method here: a 405 says so, not a 403
        permission = self.required(request, view)
        if allowed(request.user, permission):
            return True
        self.message = refusal(permission)
        return False

    def required(self, request: Request, view) -> str:
        named = getattr(view, "action_permissions", {}).get(getattr(view, "action", None))
        if named is not None:
            return named
        # The class's queryset names the model without a lookup: a view's get_queryset may
        # 404 on a missing parent, which would tell a refused user what exists.
        queryset = getattr(view, "queryset", None)
        if queryset is None:
            queryset = view.get_queryset()
        return model_permission(queryset.model, METHOD_ACTIONS.get(request.method or "", "change"))


def requires(permission: str) -> type[BasePermission]:
    """A permission class for one named permission, its refusal naming it."""

    class Requires(BasePermission):
        message = refusal(permission)

        def has_permission(self, request: Request, view) -> bool:
            return allowed(request.user, permission)

    Requires.__name__ = f"Requires[{permission}]"
    return Requires
