"""A database of its own for service processes started by a test, which the test can query.

PostgreSQL when DATABASE_URL names one (a throwaway database on that server), else SQLite
in a temporary VAR_DIR: the configuration the suite runs under, kept apart from the test
database that pytest-django manages.
"""

import os
import sqlite3
import time
import uuid
from collections.abc import Callable
from pathlib import Path

import psycopg

from tests.service_process import manage, service_env

POSTGRES = os.environ.get("DATABASE_URL", "")
REDIS = os.environ.get("REDIS_URL", "")
ON_POSTGRES = POSTGRES.startswith("postgres")


class ServiceDatabase:
    def __init__(self, var_dir: Path, **env: str) -> None:
        self.var_dir = var_dir
        self.pg_url: str | None = None
        overrides = {"VAR_DIR": str(var_dir), **env}
        if ON_POSTGRES:
            server = POSTGRES.rsplit("/", 1)[0]
            name = f"episodes_svc_{uuid.uuid4().hex[:8]}"
            with psycopg.connect(f"{server}/postgres", autocommit=True) as conn:
                conn.execute(f'CREATE DATABASE "{name}"')
            self.pg_url = f"{server}/{name}"
            overrides |= {"DATABASE_URL": self.pg_url, "SECRET_KEY": uuid.uuid4().hex * 2}
        if REDIS:
            overrides["REDIS_URL"] = REDIS
        self.env = service_env(**overrides)
        manage(self.env, "migrate", "--noinput")

    def rows(self, sql: str, params: tuple = ()) -> list[tuple]:
        if self.pg_url:
            with psycopg.connect(self.pg_url, autocommit=True) as conn:
                return conn.execute(sql, params).fetchall()
        with sqlite3.connect(self.var_dir / "db.sqlite3", timeout=20) as conn:
            return conn.execute(sql.replace("%s", "?"), params).fetchall()

    def wait_for[T](self, check: Callable[[], T], timeout: float = 30, what: str = "") -> T:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            value = check()
            if value:
                return value
            time.sleep(0.1)
        raise TimeoutError(f"gave up waiting for {what or check}")

    def drop(self) -> None:
        if self.pg_url:
            server, name = self.pg_url.rsplit("/", 1)
            with psycopg.connect(f"{server}/postgres", autocommit=True) as conn:
                conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
