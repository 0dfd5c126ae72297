"""Settings for the job workers tests/test_periodic.py starts: the project's, with one more
periodic task, due every second, whose runs the test counts."""

from episode_metadata.settings import *  # noqa: F403
from episode_metadata.settings import INSTALLED_APPS

INSTALLED_APPS = [*INSTALLED_APPS, "tests.periodic_app.TickConfig"]
