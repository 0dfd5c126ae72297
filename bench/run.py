"""`make bench`: every benchmark, on the embedded default and on PostgreSQL + Redis.
`make bench-quick` (`--quick`): bench.section's QUICK sections, on PostgreSQL + Redis only.
`python -m bench.run SECTION...`: the sections of bench.section named, on both.

Each configuration runs in its own process (bench.section) with its own environment: a
throwaway SQLite file, and a throwaway PostgreSQL database on DATABASE_URL's server (or the
local one) with REDIS_URL (or the local Redis).
"""

import os
import subprocess
import sys
import tempfile
import uuid

import psycopg

from tests.service_process import ROOT, service_env

POSTGRES = os.environ.get("DATABASE_URL") or "postgres://postgres@127.0.0.1:5432/test"
REDIS = os.environ.get("REDIS_URL") or "redis://127.0.0.1:6379/0"


def run_section(title: str, env: dict[str, str], *args: str) -> None:
    print(f"\n== {title}", flush=True)
    subprocess.run([sys.executable, "-m", "bench.section", *args], cwd=ROOT, env=env, check=True)


def main(quick: bool, sections: list[str]) -> None:
    if not quick:
        with tempfile.TemporaryDirectory(prefix="bench-") as var:
            env = service_env(VAR_DIR=var)
            run_section("embedded default: SQLite, in-memory channel layer", env, *sections)
    server, _ = POSTGRES.rsplit("/", 1)
    name = f"episodes_bench_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(f"{server}/postgres", autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        # A prefix of its own: pub/sub ignores the database number, and another run on the
        # same Redis would otherwise hear this one's events.
        env = service_env(
            DATABASE_URL=f"{server}/{name}",
            REDIS_URL=REDIS,
            REDIS_PREFIX=name,
            SECRET_KEY=uuid.uuid4().hex,
        )
        run_section("PostgreSQL + Redis", env, *(["--quick"] if quick else sections))
    finally:
        with psycopg.connect(f"{server}/postgres", autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


if __name__ == "__main__":
    arguments = sys.argv[1:]
    main(quick="--quick" in arguments, sections=[name for name in arguments if name != "--quick"])
