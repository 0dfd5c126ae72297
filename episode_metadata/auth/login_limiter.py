"""Counts failed logins per client address, so guessing passwords is slow but a typo is not."""

from django.core.cache import cache

MAX_FAILURES = 5
WINDOW_SECONDS = 15 * 60


def _key(client: str) -> str:
    return f"login-failures:{client}"


def is_blocked(client: str) -> bool:
    return cache.get(_key(client), 0) >= MAX_FAILURES


def record_failure(client: str) -> None:
    key = _key(client)
    if not cache.add(key, 1, timeout=WINDOW_SECONDS):
        try:
            cache.incr(key)
        except ValueError:
            cache.set(key, 1, timeout=WINDOW_SECONDS)


def reset(client: str) -> None:
    cache.delete(_key(client))
