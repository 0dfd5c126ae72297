from typing import cast

from django.conf import settings
from django.contrib.auth.models import User
from drf_spectacular.utils import extend_schema
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from episode_metadata.common.throttles import ScopedRateThrottleOpenWhileRedisIsDown
from realtime import services
from realtime.serializers import TicketSerializer


class TicketView(APIView):
    """For clients that cannot send the session cookie: connect to
    `/ws/events/?ticket=<ticket>` within `expires_in` seconds. A ticket lets one socket in,
    once, as the user who asked for it, so it is worth nothing in a log. Any signed-in user
    may ask: what the stream shows them is decided per topic."""

    throttle_classes = [ScopedRateThrottleOpenWhileRedisIsDown]
    throttle_scope = "websocket_ticket"

    @extend_schema(
        request=None,
        responses={200: TicketSerializer},
        summary="A single-use ticket to open the live event stream (/ws/events/) with",
    )
    def post(self, request: Request) -> Response:
        # The default permission (IsAuthenticated) let no anonymous caller this far.
        ticket = services.issue_ticket(cast(User, request.user))
        body = {"ticket": ticket, "expires_in": settings.WEBSOCKET_TICKET_SECONDS}
        return Response(TicketSerializer(body).data)
