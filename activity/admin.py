from django.contrib import admin
from django.contrib.admin.views.main import ChangeList
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString

from activity import formatting, selectors
from activity.models import ActivityLog

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


def changes_table(entry: ActivityLog) -> SafeString:
    """Each changed field by its label, its values in words; a created or deleted record's
    fields with the one value they had."""
    fields = [(change["label"], *formatting.in_words(change)) for change in _changes(entry)]
    if any(before is not None and after is not None for _, before, after in fields):
        return _table(
            ["field", "before", "after"],
            [[label, before or "", after or ""] for label, before, after in fields],
        )
    return _table(
        ["field", "value"], [[label, after or before or ""] for label, before, after in fields]
    )


def changes_line(entry: ActivityLog) -> str:
    lines = []
    for change in _changes(entry):
        before, after = formatting.in_words(change)
        if before is not None and after is not None:
            lines.append(f"{change['label']}: {before}{formatting.ARROW}{after}")
        else:
            lines.append(change["label"])
    return "; ".join(lines)


def _changes(entry: ActivityLog) -> list[formatting.FieldChange]:
    return formatting.description(entry).fields


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
    "description",
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

    list_display = ["id", "timestamp", "description", "changes_line", "source", "request_id"]
    list_filter = ["action", "resource_type", "source", "timestamp", ActorFilter]
    search_fields = ["resource_repr", "resource_id", "request_id"]
    date_hierarchy = "timestamp"
    ordering = ["-id"]
    # Counting the whole log for "N total" on every page would be slow once it is large.
    show_full_result_count = False
    actions = None
    fields = _ENTRY_FIELDS
    readonly_fields = _ENTRY_FIELDS

    def get_changelist_instance(self, request: HttpRequest) -> ChangeList:
        """Describe the page's rows together: one query names every user they mention."""
        changelist = super().get_changelist_instance(request)
        changelist.result_list = formatting.describe_rows(changelist.result_list)
        return changelist

    @admin.display(description="what happened")
    def description(self, entry: ActivityLog) -> str:
        return formatting.description(entry).text

    @admin.display(description="changes")
    def changes_line(self, entry: ActivityLog) -> str:
        return changes_line(entry)

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
