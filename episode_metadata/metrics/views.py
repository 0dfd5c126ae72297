"""`/metrics`: this process's metrics, in the format the scraper asks for."""

from django.http import HttpRequest, HttpResponse
from django.views.decorators.http import require_GET
from prometheus_client import REGISTRY
from prometheus_client.exposition import choose_encoder

from episode_metadata.common import errors
from episode_metadata.metrics.access import may_scrape


@require_GET
def metrics(request: HttpRequest) -> HttpResponse:
    if not may_scrape(request):
        return errors.permission_denied(request)
    # Prometheus asks for OpenMetrics; anything else gets the classic text format.
    encode, content_type = choose_encoder(request.headers.get("Accept", ""))
    return HttpResponse(encode(REGISTRY), content_type=content_type)
