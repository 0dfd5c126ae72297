from rest_framework.routers import DefaultRouter

from realtime.webhooks.views import WebhookDeliveryViewSet, WebhookEndpointViewSet

router = DefaultRouter()
router.include_root_view = False
router.trailing_slash = "/?"
router.register("webhooks", WebhookEndpointViewSet, basename="webhook")
router.register(
    r"webhooks/(?P<id>[^/.]+)/deliveries", WebhookDeliveryViewSet, basename="webhook-delivery"
)

urlpatterns = router.urls
