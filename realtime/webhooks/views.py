from functools import cached_property
from typing import cast

from django.db.models import QuerySet
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import mixins, status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import APIException
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.serializers import BaseSerializer

from episode_metadata.common.lookups import UUIDLookupMixin, parent_or_404
from episode_metadata.common.permissions import ModelPermissions
from realtime.webhooks import selectors, services
from realtime.webhooks.filters import DeliveryFilter
from realtime.webhooks.models import WebhookDelivery, WebhookEndpoint
from realtime.webhooks.serializers import WebhookDeliverySerializer, WebhookEndpointSerializer

ENDPOINT_ID = OpenApiParameter("id", OpenApiTypes.UUID, OpenApiParameter.PATH)
DELIVERY_ID = OpenApiParameter("delivery_id", OpenApiTypes.UUID, OpenApiParameter.PATH)
CONFLICT = OpenApiResponse(
    response={"$ref": "#/components/schemas/ErrorDetail"},
    description="The delivery is being sent already, or its endpoint is disabled.",
)


class DeliveryConflict(APIException):
    status_code = status.HTTP_409_CONFLICT
    default_code = "conflict"


class WebhookEndpointViewSet(UUIDLookupMixin, viewsets.ModelViewSet):
    """Endpoints that receive the events they subscribe to as signed POSTs (Standard
    Webhooks); staff only."""

    serializer_class = WebhookEndpointSerializer
    queryset = WebhookEndpoint.objects.none()  # for the schema; requests use get_queryset()
    permission_classes = [ModelPermissions]
    action_permissions = {"rotate_secret": "realtime.change_webhookendpoint"}
    filter_backends: list = []

    def get_queryset(self) -> QuerySet[WebhookEndpoint]:
        return selectors.endpoint_list()

    def perform_create(self, serializer: BaseSerializer) -> None:
        serializer.instance = services.create_endpoint(
            **serializer.validated_data, user=self.request.user
        )

    def perform_update(self, serializer: BaseSerializer) -> None:
        endpoint = cast(WebhookEndpoint, serializer.instance)
        serializer.instance = services.update_endpoint(endpoint, **serializer.validated_data)

    def perform_destroy(self, instance: WebhookEndpoint) -> None:
        services.delete_endpoint(instance)

    @extend_schema(request=None, responses={200: WebhookEndpointSerializer})
    @action(detail=True, methods=["post"], url_path="rotate-secret")
    def rotate_secret(self, request: Request, pk: str | None = None) -> Response:
        """Replace the endpoint's secret; the next attempt is signed with the new one."""
        endpoint = services.rotate_secret(self.get_object())
        return Response(self.get_serializer(endpoint).data)


@extend_schema(parameters=[ENDPOINT_ID])
class WebhookDeliveryViewSet(
    UUIDLookupMixin, mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet
):
    """What was sent to an endpoint, newest first: each event once, however many attempts."""

    serializer_class = WebhookDeliverySerializer
    filterset_class = DeliveryFilter
    queryset = WebhookDelivery.objects.none()  # for the schema; requests use get_queryset()
    permission_classes = [ModelPermissions]
    action_permissions = {"redeliver": "realtime.change_webhookdelivery"}
    # `id` is the endpoint's, as in every /webhooks/{id}/ path.
    lookup_url_kwarg = "delivery_id"

    @cached_property
    def endpoint(self) -> WebhookEndpoint:
        return parent_or_404(selectors.endpoint_list(), self.kwargs["id"])

    def get_queryset(self) -> QuerySet[WebhookDelivery]:
        return selectors.delivery_list(self.endpoint)

    @extend_schema(
        parameters=[DELIVERY_ID],
        request=None,
        responses={202: WebhookDeliverySerializer, 409: CONFLICT},
    )
    @action(detail=True, methods=["post"])
    def redeliver(
        self, request: Request, id: str | None = None, delivery_id: str | None = None
    ) -> Response:
        """Send the delivery again under the same `webhook-id`, with a fresh set of attempts."""
        try:
            delivery = services.redeliver(self.get_object())
        except services.DeliveryStateError as exc:
            raise DeliveryConflict(str(exc)) from exc
        return Response(self.get_serializer(delivery).data, status=status.HTTP_202_ACCEPTED)
