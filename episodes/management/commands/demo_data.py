"""Fills a new installation with a demo show, so there is something to look at and try."""

import os
import secrets
import sys

from django.core.management.base import BaseCommand, CommandError, CommandParser

from episodes import demo

QUESTION = "The database has no episodes. Fill it with a demo show? [y/N] "


class Command(BaseCommand):
    help = (
        "Fill an empty database with a demo show: a season of episodes in every status, "
        "files, a rendered thumbnail, finished and failed jobs, and the users alice (editor), "
        "carol (approver) and bob (viewer), whose work it is. Their password is "
        "DEMO_PASSWORD's, or a generated one printed at the end. Refuses if there are episodes."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--if-empty",
            action="store_true",
            help="do nothing, quietly, if there are episodes (for `make run`)",
        )
        parser.add_argument(
            "--ask",
            action="store_true",
            help="ask first at a terminal; without one (or under CI) do nothing",
        )

    def handle(self, *args, if_empty: bool, ask: bool, **options) -> None:
        if if_empty and not demo.is_empty():
            return
        if ask and not self._agreed():
            return
        given = os.environ.get("DEMO_PASSWORD")
        password = given or secrets.token_urlsafe(12)
        try:
            summary = demo.load(password=password, say=self.stdout.write)
        except demo.NotEmpty as exc:
            raise CommandError(f"{exc} Nothing was changed.") from None
        jobs = ", ".join(f"{count} {status}" for status, count in summary.jobs.items() if count)
        self.stdout.write(
            self.style.SUCCESS(
                f"Demo show {demo.SHOW!r} loaded: {summary.episodes} episodes, "
                f"{summary.files} files, {summary.compositions} compositions; jobs: {jobs}."
            )
        )
        for name, role in summary.users.items():
            self.stdout.write(f"  {name} ({role})")
        if not given:
            self.stdout.write(f"  password of each: {password}")

    def _agreed(self) -> bool:
        """Only a person at a terminal can say yes; scripts and CI are never asked."""
        if not sys.stdin.isatty() or os.environ.get("CI"):
            return False
        try:
            return input(QUESTION).strip().lower() in {"y", "yes"}
        except EOFError:
            return False
