"""The runbook's commands work as written: an operator copies them in the middle of an outage."""

import io
import re
import shlex
from pathlib import Path

import pytest
from django.core.management import call_command, get_commands, load_command_class

RUNBOOK = Path(__file__).resolve().parent.parent / "docs" / "runbook.md"
# Commands that read only, so the test can run them as written.
READ_ONLY = {"queue_stats", "showmigrations"}


def runbook_commands() -> list[list[str]]:
    found = []
    for match in re.finditer(r"manage\.py ([a-z_]+)([^`\n#]*)", RUNBOOK.read_text()):
        command = [match.group(1), *shlex.split(match.group(2))]
        if command not in found:
            found.append(command)
    return found


COMMANDS = runbook_commands()


def test_the_runbook_names_the_operator_commands():
    names = {command[0] for command in COMMANDS}

    assert {
        "queue_stats",
        "retry_dead_jobs",
        "purge_dead_jobs",
        "prune_activity",
        "prune_notifications",
        "rotate_tokens",
        "migrate",
    } <= names


@pytest.mark.parametrize("command", COMMANDS, ids=" ".join)
def test_each_command_exists_and_takes_its_arguments(command):
    name, *arguments = command
    assert name in get_commands(), f"manage.py {name} does not exist"
    parser = load_command_class(get_commands()[name], name).create_parser("manage.py", name)

    parser.parse_args(arguments)  # an unknown option or a bad value exits here


@pytest.mark.django_db
@pytest.mark.parametrize(
    "command",
    [c for c in COMMANDS if c[0] in READ_ONLY or "--dry-run" in c],
    ids=" ".join,
)
def test_read_only_and_dry_run_commands_run_as_written(command, django_user_model):
    django_user_model.objects.create_user(username="alice")  # the runbook's example user
    out = io.StringIO()

    call_command(*command, stdout=out, stderr=io.StringIO())

    assert out.getvalue().strip()
