from django.http import HttpRequest, JsonResponse
from rest_framework import viewsets

from bench.bare.models import Episode
from bench.bare.serializers import EpisodeSerializer


class EpisodeViewSet(viewsets.ModelViewSet):
    queryset = Episode.objects.all()
    serializer_class = EpisodeSerializer


def health(request: HttpRequest) -> JsonResponse:
    return JsonResponse({"status": "ok"})
