"""ASGI entry point: HTTP goes to Django, WebSockets to the realtime app's consumers."""

import gc
import os
from typing import Any, cast

import django

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "episode_metadata.settings")
# As get_asgi_application() does: the script prefix comes from each request.
django.setup(set_prefix=False)

# These imports need Django set up first.
from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402

from episode_metadata.common.http_handler import SyncRequestHandler  # noqa: E402
from realtime.routing import websocket_urlpatterns  # noqa: E402

django_asgi_app = SyncRequestHandler()

application = ProtocolTypeRouter(
    {
        "http": django_asgi_app,
        # The consumer authenticates (realtime/auth.py): no session middleware around it.
        # channels' stub asks for patterns typed as ASGI routes, which Django's path() is not.
        "websocket": URLRouter(cast("list[Any]", websocket_urlpatterns)),
    }
)

# A server holding thousands of sockets keeps hundreds of thousands of long-lived objects;
# with the default thresholds, full collections of them stalled every socket for 0.5 s at
# 5,000 clients. Startup objects go to the permanent generation, and collections run less
# often (`make bench` shows the effect on fan-out latency).
gc.freeze()
gc.set_threshold(50_000, 20, 100)
