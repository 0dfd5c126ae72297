"""An app declaring a periodic task that leaves one row per run (a group named after the
time it ran), for tests/periodic_settings.py."""

from datetime import timedelta

from django.apps import AppConfig

TICK_SECONDS = 1.0


def tick() -> int:
    from django.contrib.auth.models import Group
    from django.utils import timezone

    Group.objects.create(name=f"tick {timezone.now().timestamp():.6f}")
    return 1


class TickConfig(AppConfig):
    name = "tests"
    label = "periodic_tick"

    def ready(self) -> None:
        from jobs import periodic

        periodic.register("tick", every=timedelta(seconds=TICK_SECONDS), run=tick)
