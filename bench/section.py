"""One configuration's benchmarks, run in its own process with that configuration's
environment (Django settings are fixed per process)."""

import io
import os
import sys

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "episode_metadata.settings")

import django

django.setup()

from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.db import connection
from knox.models import AuthToken

from bench import fanout, jobs, mixed, presence, servers, uploads, writes
from tests.service_process import Server


def say(line: str) -> None:
    print(f"  {line}", flush=True)


def main(compare_servers: bool) -> None:
    call_command("migrate", verbosity=0)
    user, _ = get_user_model().objects.get_or_create(username="bench")
    call_command("grant", "approver", "bench", stdout=io.StringIO())
    _, token = AuthToken.objects.create(user=user)
    env = dict(os.environ)
    for line in writes.in_process(token) + writes.over_http(env, token):
        say(line)
    if connection.vendor == "postgresql":  # where workers on many machines share a queue
        for line in jobs.throughput(env):
            say(line)
    for line in jobs.latency(env, token):
        say(line)
    for line in presence.costs():
        say(line)
    if connection.vendor == "sqlite":  # files go to the same storage on both
        for line in uploads.large_file(env, token):
            say(line)
    for line in fanout.sockets(env, token, postgres_and_redis=compare_servers):
        say(line)
    if compare_servers:  # more than one process needs Redis
        say(f"two server processes: {_across_two_processes(env, token)}")
        say("other servers, as they come (uvicorn without the shared frames):")
        for name, command in servers.COMMANDS.items():
            server = Server(env, command=command).start()
            try:
                say(f"{name:>8}: {fanout.latency([server], token, 1000)}")
            finally:
                server.stop()
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


if __name__ == "__main__":
    main(compare_servers="--compare-servers" in sys.argv)
