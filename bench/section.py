"""One configuration's benchmarks, run in its own process with that configuration's
environment (Django settings are fixed per process).

Each section is a function of the environment the servers run with and a token of an
approver, which prints its figures; `make bench` runs FULL, `make bench-quick` QUICK, and
`python -m bench.run job_throughput` the sections it names.
"""

import io
import os
import sys
from collections.abc import Callable

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "episode_metadata.settings")

import django

django.setup()

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.db import connection
from knox.models import AuthToken

from bench import fanout, jobs, mixed, presence, requests_vs_bare, servers, uploads, writes
from tests.service_process import Server

Section = Callable[[dict[str, str], str], None]


def say(line: str) -> None:
    print(f"  {line}", flush=True)


def requests_against_bare(env: dict[str, str], token: str) -> None:
    for line in requests_vs_bare.compare(env, token, requests_vs_bare.FULL):
        say(line)


def requests_against_bare_quick(env: dict[str, str], token: str) -> None:
    for line in requests_vs_bare.compare(env, token, requests_vs_bare.QUICK):
        say(line)


def write_throughput(env: dict[str, str], token: str) -> None:
    for line in writes.in_process(token) + writes.over_http(env, token):
        say(line)


def job_throughput(env: dict[str, str], token: str) -> None:
    if connection.vendor == "postgresql":  # where workers on many machines share a queue
        for line in jobs.throughput(env):
            say(line)


def job_latency(env: dict[str, str], token: str) -> None:
    for line in jobs.latency(env, token):
        say(line)


def presence_costs(env: dict[str, str], token: str) -> None:
    for line in presence.costs():
        say(line)


def large_file(env: dict[str, str], token: str) -> None:
    if connection.vendor == "sqlite":  # files go to the same storage on both
        for line in uploads.large_file(env, token):
            say(line)


def sockets(env: dict[str, str], token: str) -> None:
    for line in fanout.sockets(env, token, postgres_and_redis=bool(settings.REDIS_URL)):
        say(line)


def compare_servers(env: dict[str, str], token: str) -> None:
    if not settings.REDIS_URL:  # more than one process needs Redis
        return
    say(f"two server processes: {_across_two_processes(env, token)}")
    say("other servers, as they come (uvicorn without the shared frames):")
    for name, command in servers.COMMANDS.items():
        server = Server(env, command=command).start()
        try:
            say(f"{name:>8}: {fanout.latency([server], token, 1000)}")
        finally:
            server.stop()


def mixed_load(env: dict[str, str], token: str) -> None:
    if not settings.REDIS_URL:  # two server processes and a worker
        return
    for line in mixed.run(env):
        say(line)


def _across_two_processes(env: dict[str, str], token: str) -> str:
    """One server process per core, as deployed: half the clients hear through Redis."""
    first, second = Server(env).start(), Server(env).start()
    try:
        return fanout.latency([first, second], token, 1000)
    finally:
        first.stop()
        second.stop()


# First: the bare app gets a copy of the episodes, and it should be the seeded ones alone.
FULL: list[Section] = [
    requests_against_bare,
    write_throughput,
    job_throughput,
    job_latency,
    presence_costs,
    large_file,
    sockets,
    compare_servers,
    mixed_load,
]
# What a change to the request path moves, before and after, in about two minutes.
QUICK: list[Section] = [requests_against_bare_quick]


def main(sections: list[Section]) -> None:
    call_command("migrate", verbosity=0)
    user, _ = get_user_model().objects.get_or_create(username="bench")
    call_command("grant", "approver", "bench", stdout=io.StringIO())
    _, token = AuthToken.objects.create(user=user)
    env = dict(os.environ)
    for section in sections:
        section(env, token)


def chosen(args: list[str]) -> list[Section]:
    """`--quick`, or the sections named (`job_throughput job_latency`), or else all."""
    if "--quick" in args:
        return QUICK
    by_name = {section.__name__: section for section in FULL}
    unknown = set(args) - set(by_name)
    if unknown:
        raise SystemExit(
            f"no such section: {', '.join(sorted(unknown))}; one of {', '.join(by_name)}"
        )
    return [by_name[name] for name in args] or FULL


if __name__ == "__main__":
    main(chosen(sys.argv[1:]))
