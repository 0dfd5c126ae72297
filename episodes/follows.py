"""Following an episode, at /episodes/{id}/follow/: its changes become notifications."""

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from activity.notifications import selectors, services
from activity.notifications.serializers import FollowSerializer
from episode_metadata.common.lookups import parent_or_404
from episode_metadata.common.permissions import requires
from episodes import selectors as episode_selectors
from episodes.models import Episode
from episodes.users import signed_in


@extend_schema(parameters=[OpenApiParameter("id", OpenApiTypes.UUID, OpenApiParameter.PATH)])
class EpisodeFollowView(APIView):
    """Following an episode: its changes become notifications for the follower."""

    permission_classes = [requires("episodes.view_episode")]

    def _episode(self) -> Episode:
        return parent_or_404(episode_selectors.episode_list(), self.kwargs["id"])

    @extend_schema(responses={200: FollowSerializer})
    def get(self, request: Request, **kwargs: str) -> Response:
        episode = self._episode()
        return Response({"following": selectors.is_following(signed_in(request.user), episode.pk)})

    @extend_schema(request=None, responses={201: FollowSerializer, 200: FollowSerializer})
    def post(self, request: Request, **kwargs: str) -> Response:
        started = services.follow(signed_in(request.user), self._episode().pk)
        code = status.HTTP_201_CREATED if started else status.HTTP_200_OK
        return Response({"following": True}, status=code)

    @extend_schema(responses={204: None})
    def delete(self, request: Request, **kwargs: str) -> Response:
        services.unfollow(signed_in(request.user), self._episode().pk)
        return Response(status=status.HTTP_204_NO_CONTENT)
