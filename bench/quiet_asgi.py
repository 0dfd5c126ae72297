"""The service with the activity log and broadcasting switched off: the baseline for writes."""

import os

import django

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "episode_metadata.settings")
django.setup()

from bench import side_effects
from episode_metadata.asgi import application

side_effects.disconnect()

__all__ = ["application"]
