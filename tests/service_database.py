"""A database of its own for service processes started by a test, which the test can query.

PostgreSQL when DATABASE_URL names one (a throwaway database on that server), else SQLite
in a temporary VAR_DIR: the configuration the suite runs under, kept apart from the test
database that pytest-django manages. Each starts as a copy of one database migrated once per
test run, which costs a fraction of a `migrate` of its own.
"""

import atexit
import functools
import os
import shutil
import sqlite3
import tempfile
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
        var_dir.mkdir(parents=True, exist_ok=True)
        if ON_POSTGRES:
            self.pg_url = _create_postgres(template=_migrated_template())
            overrides |= {"DATABASE_URL": self.pg_url, "SECRET_KEY": uuid.uuid4().hex * 2}
        else:
            _copy_sqlite(Path(_migrated_template()), var_dir / "db.sqlite3")
        if REDIS:
            overrides["REDIS_URL"] = REDIS
        self.env = service_env(**overrides)

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
            _drop_postgres(self.pg_url)


@functools.cache
def _migrated_template() -> str:
    """The URL of a PostgreSQL database, or the path of a SQLite file, holding every
    migration; dropped when the test run ends."""
    if ON_POSTGRES:
        url = _create_postgres()
        atexit.register(_drop_postgres, url)
        manage(
            service_env(DATABASE_URL=url, SECRET_KEY=uuid.uuid4().hex * 2), "migrate", "--noinput"
        )
        return url
    var_dir = Path(tempfile.mkdtemp(prefix="episodes-template-"))
    atexit.register(shutil.rmtree, var_dir, ignore_errors=True)
    manage(service_env(VAR_DIR=str(var_dir)), "migrate", "--noinput")
    return str(var_dir / "db.sqlite3")


def _create_postgres(template: str | None = None) -> str:
    server = POSTGRES.rsplit("/", 1)[0]
    name = f"episodes_svc_{uuid.uuid4().hex[:8]}"
    copied = f' TEMPLATE "{template.rsplit("/", 1)[1]}"' if template else ""
    with psycopg.connect(f"{server}/postgres", autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"{copied}')
    return f"{server}/{name}"


def _drop_postgres(url: str) -> None:
    server, name = url.rsplit("/", 1)
    with psycopg.connect(f"{server}/postgres", autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _copy_sqlite(source: Path, target: Path) -> None:
    with sqlite3.connect(source) as origin, sqlite3.connect(target) as copy:
        origin.backup(copy)
