import json
from typing import Any

from django.contrib import admin
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString

from activity import selectors
from activity.models import Action, ActivityLog

ACTOR_CHOICES_LIMIT = 50


class ActorFilter(admin.SimpleListFilter):
    """Only users the log names, and at most a screenful: the user table may be large."""

    title = "actor"
    parameter_name = "actor"

    def lookups(self, request, model_admin):
        return [
            (str(user.pk), user.get_username())
            for user in selectors.actors_in_log(limit=ACTOR_CHOICES_LIMIT)
        ]

    def queryset(self, request, queryset: QuerySet) -> QuerySet:
        if self.value():
            return queryset.filter(actor_id=self.value())
        return queryset


def _shown(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)


def _is_diff(entry: ActivityLog) -> bool:
    """An update stores `{field: [before, after]}`; a create or hard delete the whole record.

    Soft deletes and restores are diffs too, so the action alone cannot tell.
    """
    changes = entry.changes or {}
    return (
        entry.action != Action.CREATE
        and bool(changes)
        and all(isinstance(pair, list) and len(pair) == 2 for pair in changes.values())
    )


def changes_table(entry: ActivityLog) -> SafeString:
    changes = entry.changes or {}
    if _is_diff(entry):
        return _table(
            ["field", "before", "after"],
            [[name, _shown(before), _shown(after)] for name, (before, after) in changes.items()],
        )
    return _table(["field", "value"], [[name, _shown(value)] for name, value in changes.items()])


def _table(headers: list[str], rows: list[list[str]]) -> SafeString:
    return format_html(
        '<table class="activity-changes"><tr>{}</tr>{}</table>',
        _cells("th", headers),
        format_html_join("", "<tr>{}</tr>", ((_cells("td", row),) for row in rows)),
    )


def _cells(tag: str, values: list[str]) -> SafeString:
    return format_html_join("", f"<{tag}>{{}}</{tag}>", ((value,) for value in values))


# An entry's page, all read-only. A tuple: a list of names is not what the admin's stubs
# declare for both attributes.
_ENTRY_FIELDS = (
    "id",
    "timestamp",
    "actor",
    "actor_label",
    "action",
    "resource_type",
    "resource_id",
    "resource_repr",
    "episode_id",
    "changes_table",
    "metadata",
    "request_id",
    "ip_address",
    "user_agent",
    "source",
)


@admin.register(ActivityLog)
class ActivityLogAdmin(admin.ModelAdmin):
    """Read-only: the log is evidence, and evidence that can be edited proves nothing."""

    list_display = [
        "id",
        "timestamp",
        "actor_label",
        "action",
        "resource_type",
        "resource_repr",
        "source",
        "request_id",
    ]
    list_filter = ["action", "resource_type", "source", "timestamp", ActorFilter]
    search_fields = ["resource_repr", "resource_id", "request_id"]
    date_hierarchy = "timestamp"
    ordering = ["-id"]
    # Counting the whole log for "N total" on every page would be slow once it is large.
    show_full_result_count = False
    actions = None
    fields = _ENTRY_FIELDS
    readonly_fields = _ENTRY_FIELDS

    @admin.display(description="changes")
    def changes_table(self, entry: ActivityLog) -> SafeString:
        return changes_table(entry)

    def has_view_permission(self, request: HttpRequest, obj: ActivityLog | None = None) -> bool:
        """Every staff member may read the log, as every API user may; the site checks staff."""
        return True

    def has_module_permission(self, request: HttpRequest) -> bool:
        return True

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: ActivityLog | None = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: ActivityLog | None = None) -> bool:
        return False
