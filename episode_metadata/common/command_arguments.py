"""Arguments and date arithmetic shared by the operator commands (prune, purge, rotate)."""

import argparse
from datetime import datetime, timedelta

from django.core.management.base import CommandError, CommandParser
from django.utils import timezone


def positive_int(raw: str) -> int:
    try:
        value = int(raw)
    except ValueError:
        raise argparse.ArgumentTypeError(f"'{raw}' is not a whole number of days.") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1 day, not {value}.")
    return value


def positive_hours(raw: str) -> float:
    try:
        value = float(raw)
    except ValueError:
        raise argparse.ArgumentTypeError(f"'{raw}' is not a number of hours.") from None
    if not value > 0:
        raise argparse.ArgumentTypeError(f"must be more than 0 hours, not {raw}.")
    return value


def days_ago(days: int, option: str = "--older-than") -> datetime:
    """The cutoff `days` before now; a number of days reaching past year 1 is the user's error."""
    try:
        return timezone.now() - timedelta(days=days)
    except OverflowError:
        raise CommandError(f"{option} {days} reaches back before the year 1.") from None


def add_retention_arguments(parser: CommandParser, deletes: str) -> None:
    """`--older-than DAYS` and `--dry-run`, alike in every command that deletes by age."""
    parser.add_argument(
        "--older-than",
        type=positive_int,
        required=True,
        metavar="DAYS",
        help=f"Delete {deletes} more than DAYS days ago.",
    )
    parser.add_argument(
        "--dry-run", action="store_true", help="Report what would be deleted; delete nothing."
    )
