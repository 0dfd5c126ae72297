"""Rate throttles that keep their endpoint working while Redis, where they count, is down."""

from rest_framework.request import Request
from rest_framework.throttling import ScopedRateThrottle
from rest_framework.views import APIView

from episode_metadata.common import outages


class ScopedRateThrottleOpenWhileRedisIsDown(ScopedRateThrottle):
    """DRF's scoped throttle, counting in the cache (Redis when REDIS_URL is set). Without
    Redis it cannot count: rather than a 500 and a traceback for every login, the request
    goes through uncounted, and the outage is logged once as Redis's. Guessing passwords
    stays slow meanwhile: the lockout after failed logins counts in the database."""

    def allow_request(self, request: Request, view: APIView) -> bool:
        try:
            allowed = super().allow_request(request, view)
        except Exception as exc:
            if not outages.is_connection_error(exc):
                raise
            outages.REDIS.failed(exc)
            return True
        outages.REDIS.succeeded()
        return allowed
