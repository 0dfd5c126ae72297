from django.urls import path

from realtime.consumers import EventsConsumer

# Django's stubs type a route's target as a view; channels' URLRouter takes ASGI apps.
websocket_urlpatterns = [path("ws/events/", EventsConsumer.as_asgi())]  # type: ignore[arg-type]
