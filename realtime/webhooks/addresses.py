"""Where a webhook may be sent: public addresses only, unless WEBHOOKS_ALLOW_PRIVATE.

A host name is resolved and every address it gives is checked; the request then goes to a
checked address, never to a second lookup, so a name that turns inward between the check
and the connection (DNS rebinding) still cannot reach the service's own network.
"""

import ipaddress
import socket
from urllib.parse import urlsplit

from django.conf import settings

Address = ipaddress.IPv4Address | ipaddress.IPv6Address


class RefusedAddress(ValueError):
    """The URL may not be called; the message says why."""


def resolve(host: str, port: int) -> list[str]:
    """The host's addresses, as the system resolver gives them (tests replace this)."""
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return list(dict.fromkeys(str(info[4][0]) for info in infos))


def target(url: str) -> tuple[str, int, str]:
    """(host, port, address to connect to) for a URL, or RefusedAddress."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise RefusedAddress("The URL must be http:// or https:// with a host.")
    try:
        port = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError:
        raise RefusedAddress("The URL's port is not a number from 1 to 65535.") from None
    host = parts.hostname
    try:
        found = resolve(host, port)
    except (OSError, UnicodeError) as exc:
        raise RefusedAddress(f"The host {host} does not resolve ({exc}).") from None
    if not found:
        raise RefusedAddress(f"The host {host} does not resolve.")
    if not settings.WEBHOOKS_ALLOW_PRIVATE:
        inward = [address for address in found if not _public(ipaddress.ip_address(address))]
        if inward:
            raise RefusedAddress(
                f"The host {host} resolves to {', '.join(inward)}, which is not a public "
                "address. Webhooks go to public addresses only (WEBHOOKS_ALLOW_PRIVATE)."
            )
    return host, port, found[0]


def _public(address: Address) -> bool:
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return _public(address.ipv4_mapped)
    refused = (
        address.is_loopback
        or address.is_private
        or address.is_link_local
        or address.is_multicast
        or address.is_reserved
        or address.is_unspecified
    )
    return address.is_global and not refused
