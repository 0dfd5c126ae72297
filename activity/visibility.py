"""Which rows of the activity log a reader may see.

The log is the team's shared history, but a row tells what happened to a resource, and a
reader who may not see the resource may not see its history either: the same rule the event
stream applies to live events. Each app says, at start-up, who may read the rows about its
resources: everyone with a permission, or a filter of its own (a job's rows go to whoever may
see the job). Rows of a type nobody registered are for every reader of the log.
"""

from collections.abc import Callable

from django.contrib.auth.models import AbstractBaseUser, AnonymousUser
from django.db.models import Q

from episode_metadata.common.permissions import allowed, is_staff

# A reader's share of one resource type's rows, as a filter on ActivityLog; None for all.
RowsFor = Callable[[AbstractBaseUser | AnonymousUser], Q | None]

_rules: dict[str, RowsFor] = {}


def register(
    resource_type: str, *, permission: str | None = None, rows: RowsFor | None = None
) -> None:
    """Rows of `resource_type` are read with `permission`, or as far as `rows` lets."""
    if rows is not None and permission is None:
        _rules[resource_type] = rows
    elif permission is not None and rows is None:
        _rules[resource_type] = _with_permission(permission)
    else:
        raise ValueError("Give a visibility rule a permission or a `rows` function, not both.")


def _with_permission(permission: str) -> RowsFor:
    def rows(user: AbstractBaseUser | AnonymousUser) -> Q | None:
        return None if allowed(user, permission) else Q(pk__in=[])

    return rows


def readable_rows(user: AbstractBaseUser | AnonymousUser) -> Q | None:
    """The rows `user` may read, as a filter; None when they may read every row.

    One filter over every registered type: types read in full are one `IN`, so the common
    reader (one who may read everything they follow) costs a single condition."""
    if is_staff(user):
        return None
    whole, partial = [], []
    for resource_type, rows in _rules.items():
        share = rows(user)
        if share is None:
            whole.append(resource_type)
        else:
            partial.append(Q(resource_type=resource_type) & share)
    if not partial:
        return None
    unruled = ~Q(resource_type__in=list(_rules))
    return Q(unruled | Q(resource_type__in=whole), *partial, _connector=Q.OR)
