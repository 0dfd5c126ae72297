"""How long a failed attempt waits before the next: exponential, capped, with jitter."""

import random


def retry_delay(attempt: int, *, base: float, cap: float) -> float:
    """Seconds to wait after failed attempt number `attempt` (1-based).

    The ceiling doubles from `base` up to `cap`; the delay is drawn from its upper half
    ("equal jitter"), so jobs that failed together do not come back together, yet none
    comes back sooner than half the nominal delay.
    """
    ceiling = min(cap, base * 2 ** (attempt - 1))
    return ceiling / 2 + random.uniform(0, ceiling / 2)  # noqa: S311 - not for security
