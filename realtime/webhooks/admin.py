from typing import Any

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import ValidationError
from django.db.models import QuerySet
from django.http import HttpRequest
from rest_framework import serializers

from realtime.webhooks import catalogue, services
from realtime.webhooks.models import WebhookDelivery, WebhookEndpoint
from realtime.webhooks.serializers import validate_url

# What staff set; the rest the service keeps.
EDITABLE = ["url", "event_types", "description", "is_active"]


class WebhookEndpointForm(forms.ModelForm):
    event_types = forms.MultipleChoiceField(
        choices=lambda: [(name, name) for name in catalogue.event_types()],
        widget=forms.CheckboxSelectMultiple,
        help_text="The events to send.",
    )

    class Meta:
        model = WebhookEndpoint
        fields = EDITABLE

    def clean_url(self) -> str:
        url = self.cleaned_data["url"]
        try:
            validate_url(url)
        except serializers.ValidationError as exc:
            raise ValidationError(exc.detail) from None
        return url


@admin.register(WebhookEndpoint)
class WebhookEndpointAdmin(admin.ModelAdmin):
    form = WebhookEndpointForm
    list_display = ["url", "is_active", "event_count", "consecutive_dead", "created_at"]
    list_filter = ["is_active"]
    search_fields = ["url", "description"]
    readonly_fields = ["id", "secret", "consecutive_dead", "disabled_reason", "created_at"]
    actions = ["rotate_secrets"]

    @admin.display(description="events")
    def event_count(self, endpoint: WebhookEndpoint) -> int:
        return len(endpoint.event_types)

    def save_model(self, request: HttpRequest, obj: WebhookEndpoint, form, change: bool) -> None:
        fields = {name: form.cleaned_data[name] for name in EDITABLE}
        if change:
            stored = WebhookEndpoint.objects.get(pk=obj.pk)
            services.update_endpoint(stored, **fields)
        else:
            created = services.create_endpoint(**fields, user=request.user)
            obj.pk = created.pk  # the admin's message and redirect name the new endpoint

    @admin.action(description="Rotate the secret of the selected endpoints")
    def rotate_secrets(self, request: HttpRequest, queryset: QuerySet[WebhookEndpoint]) -> None:
        for endpoint in queryset:
            services.rotate_secret(endpoint)
        self.message_user(request, f"Rotated {queryset.count()} secrets.", messages.SUCCESS)


@admin.register(WebhookDelivery)
class WebhookDeliveryAdmin(admin.ModelAdmin):
    list_display = [
        "event_type",
        "endpoint",
        "status",
        "attempts",
        "response_code",
        "duration_ms",
        "created_at",
    ]
    list_filter = ["status"]
    list_select_related = ["endpoint"]
    show_full_result_count = False
    readonly_fields = [field.name for field in WebhookDelivery._meta.fields]
    actions = ["redeliver_selected"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    @admin.action(description="Redeliver the selected deliveries")
    def redeliver_selected(self, request: HttpRequest, queryset: QuerySet[WebhookDelivery]) -> None:
        sent, refused = 0, []
        for delivery in queryset:
            try:
                services.redeliver(delivery)
            except services.DeliveryStateError as exc:
                refused.append(str(exc))
                continue
            sent += 1
        if sent:
            self.message_user(request, f"Redelivering {sent}.", messages.SUCCESS)
        for reason in sorted(set(refused)):
            self.message_user(request, reason, messages.WARNING)
