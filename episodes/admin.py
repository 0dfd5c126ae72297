from typing import TYPE_CHECKING, TypedDict

from django import forms
from django.contrib import admin
from django.contrib.admin.widgets import FilteredSelectMultiple
from django.contrib.auth import get_user_model
from django.contrib.auth.admin import GroupAdmin as DjangoGroupAdmin
from django.contrib.auth.models import Group
from django.db import models
from django.db.models import Count, QuerySet
from django.http import HttpRequest

from episode_metadata.common.form_fields import JSONField
from episodes import roles
from episodes.models import Composition, Episode, EpisodeFile
from episodes.roles import ROLES
from episodes.users import signed_in

if TYPE_CHECKING:
    from django_stubs_ext import WithAnnotations


class _Members(TypedDict):
    member_count: int


class DeletedFilter(admin.SimpleListFilter):
    title = "deleted"
    parameter_name = "deleted"

    def lookups(self, request, model_admin):
        return [("no", "Live"), ("yes", "Deleted")]

    def queryset(self, request, queryset):
        if self.value() == "no":
            return queryset.filter(deleted_at__isnull=True)
        if self.value() == "yes":
            return queryset.filter(deleted_at__isnull=False)
        return queryset


class EpisodeAdminForm(forms.ModelForm):
    """Staff may make every move of the workflow (episodes/roles.py), but only its moves."""

    def clean_status(self) -> str:
        status = self.cleaned_data["status"]
        if self.instance.pk is not None:
            problem = roles.transition_problem(self.instance.status, status)
            if problem is not None:
                raise forms.ValidationError(problem)
        return status


@admin.register(Episode)
class EpisodeAdmin(admin.ModelAdmin):
    form = EpisodeAdminForm
    list_display = [
        "title",
        "season_number",
        "episode_number",
        "status",
        "air_date",
        "created_by",
        "updated_at",
        "deleted_at",
    ]
    list_filter = ["status", DeletedFilter, "air_date", "created_at"]
    search_fields = ["title", "description"]
    date_hierarchy = "created_at"
    ordering = ["-created_at"]
    list_select_related = ["created_by"]
    readonly_fields = ["id", "created_by", "updated_by", "created_at", "updated_at"]
    formfield_overrides = {models.JSONField: {"form_class": JSONField}}

    def save_model(self, request: HttpRequest, obj: Episode, form, change: bool) -> None:
        if not change:
            obj.created_by = signed_in(request.user)
        obj.updated_by = signed_in(request.user)
        super().save_model(request, obj, form, change)


@admin.register(EpisodeFile)
class EpisodeFileAdmin(admin.ModelAdmin):
    """Files are uploaded through the API; here staff find them, and clear `deleted at` to
    bring back one deleted by mistake before its bytes are purged."""

    list_display = ["original_name", "episode", "kind", "size", "uploaded_by", "created_at"]
    list_filter = ["kind", DeletedFilter, "created_at"]
    search_fields = ["original_name", "sha256", "=id", "=episode__id"]
    date_hierarchy = "created_at"
    list_select_related = ["episode", "uploaded_by"]
    readonly_fields = [
        field.name for field in EpisodeFile._meta.fields if field.name != "deleted_at"
    ]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False


@admin.register(Composition)
class CompositionAdmin(admin.ModelAdmin):
    list_display = ["name", "episode", "layout", "status", "is_primary", "version", "updated_at"]
    list_filter = ["status", "layout", "is_primary"]
    search_fields = ["name", "=id", "=episode__id"]
    list_select_related = ["episode"]
    readonly_fields = [field.name for field in Composition._meta.fields]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False


class GroupForm(forms.ModelForm):
    """A group with its members: a role is given and taken on the group's own page, not only
    user by user as Django's form has it."""

    users = forms.ModelMultipleChoiceField(
        queryset=get_user_model().objects.order_by("username"),
        required=False,
        widget=FilteredSelectMultiple("users", is_stacked=False),
    )

    class Meta:
        model = Group
        fields = ["name", "permissions", "users"]

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        if self.instance.pk:
            self.initial["users"] = list(self.instance.user_set.values_list("pk", flat=True))
        if self.instance.name in ROLES:
            self.fields["permissions"].help_text = (
                "A role's permissions are those episodes/roles.py names: every migrate sets "
                "them back."
            )

    def _save_m2m(self) -> None:
        # Django's private hook for saving many-to-many data, absent from the stubs.
        super()._save_m2m()  # type: ignore[misc]
        self.instance.user_set.set(self.cleaned_data["users"])


admin.site.unregister(Group)


@admin.register(Group)
class GroupAdmin(DjangoGroupAdmin):
    form = GroupForm
    list_display = ["name", "members"]

    def get_queryset(self, request: HttpRequest) -> QuerySet[Group]:
        return super().get_queryset(request).annotate(member_count=Count("user"))

    @admin.display(description="members", ordering="member_count")
    def members(self, group: "WithAnnotations[Group, _Members]") -> int:
        return group.member_count
