"""The login lockout every door that checks a password shares, through django-axes.

Axes counts each failed `authenticate()` in the database, so all processes see one count, by
the client's address and by the username tried; settings.py sets the limits.
"""

from axes.backends import AxesStandaloneBackend
from axes.handlers.database import AxesDatabaseHandler
from axes.handlers.proxy import AxesProxyHandler
from axes.helpers import get_client_username, get_cool_off, get_credentials
from django.http import HttpRequest


def client_address(request: HttpRequest) -> str | None:
    """The address the server trusts: the peer's, or the client's that a proxy named in
    FORWARDED_ALLOW_IPS forwarded (uvicorn resolves it before Django sees the request).
    A header of the request itself is never believed: it would let a client pick its key."""
    return request.META.get("REMOTE_ADDR") or None


def describe_client(
    username: str | None, ip_address: str | None, user_agent: str, path_info: str, request
) -> str:
    """How axes' log lines name a client: the username quoted, since it is the client's
    own text, then the address and the door (never the password)."""
    return f"{username!r} from {ip_address} at {path_info}"


def is_locked_out(request: HttpRequest, username: str) -> bool:
    return AxesProxyHandler.is_locked(request, get_credentials(username))


def cool_off_seconds(request: HttpRequest) -> int:
    return int(get_cool_off(request).total_seconds())


class LockoutHandler(AxesDatabaseHandler):
    """Axes' database handler, whose reset on a successful login is narrower."""

    def reset_user_attempts(self, request: HttpRequest, credentials: dict | None = None) -> int:
        """Forget only the failures this address made at this account (the user's own typos).
        Axes would forget every failure from the address and every failure at the account:
        logging in to one's own account between guesses would then reset the count of
        guesses at someone else's."""
        return self.reset_attempts(
            ip_address=request.axes_ip_address,  # type: ignore[attr-defined]  # axes sets it
            username=get_client_username(request, credentials),
        )


class LockoutBackend(AxesStandaloneBackend):
    """Axes' backend, which refuses anyone locked out before the others check a password.

    A check with no request behind it (a management command, the shell, the test client's
    login) is no door a client can reach and has no address to count, so it goes on to the
    password check; axes would raise instead.
    """

    def authenticate(self, request: HttpRequest | None, *args, **kwargs) -> None:
        if request is not None:
            super().authenticate(request, *args, **kwargs)
