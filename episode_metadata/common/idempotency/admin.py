from django.contrib import admin
from django.http import HttpRequest

from episode_metadata.common.idempotency.models import IdempotencyKey


@admin.register(IdempotencyKey)
class IdempotencyKeyAdmin(admin.ModelAdmin):
    """Read-only: a key's answer is what its client was told, and a retry is told it again."""

    list_display = ["key", "user", "response_status", "created_at"]
    list_filter = ["response_status", "created_at"]
    search_fields = ["key", "user__username"]
    date_hierarchy = "created_at"
    ordering = ["-created_at"]
    list_select_related = ["user"]
    show_full_result_count = False
    actions = None
    readonly_fields = [
        "user",
        "key",
        "fingerprint",
        "response_status",
        "response_data",
        "response_headers",
        "created_at",
    ]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj=None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj=None) -> bool:
        return False
