"""The `episode-metadata` command of an installed service: `manage.py` without a checkout."""

import os
import sys


def main() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "episode_metadata.settings")
    from django.core.management import execute_from_command_line

    execute_from_command_line(sys.argv)
