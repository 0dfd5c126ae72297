"""Who may read the metrics: a scraper with the token, or one on an allowed network."""

import hmac
import ipaddress

from django.conf import settings
from django.http import HttpRequest

BEARER = "Bearer "


def may_scrape(request: HttpRequest) -> bool:
    return _has_token(request) or _from_allowed_address(request)


def _has_token(request: HttpRequest) -> bool:
    expected = settings.METRICS_TOKEN
    given = request.headers.get("Authorization", "")
    if not expected or not given.startswith(BEARER):
        return False
    return hmac.compare_digest(given.removeprefix(BEARER).encode(), expected.encode())


def _from_allowed_address(request: HttpRequest) -> bool:
    """REMOTE_ADDR is the connecting address, or the client's when the server trusts the
    proxy that forwarded it (FORWARDED_ALLOW_IPS); an untrusted proxy's own address would
    let anyone through it, so it must not be allowed."""
    try:
        address = ipaddress.ip_address(request.META.get("REMOTE_ADDR", ""))
    except ValueError:
        return False
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped  # an IPv4 peer of a server listening on `::`
    return any(address in network for network in settings.METRICS_ALLOWED_ADDRESSES)
