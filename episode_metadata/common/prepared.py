"""The few statements a hot path runs over and over, prepared by PostgreSQL once per
connection.

Django's psycopg cursors bind parameters on the client and leave psycopg's prepared
statements off, as connection poolers in transaction mode need: every execution quotes each
value into the text, and the server parses and plans the statement anew. For the job
worker's claim, planning cost the server as much as running it. Statements run here go
through psycopg's server-binding cursor instead, prepared on their first execution; the rest
of the project keeps Django's defaults. PostgreSQL only.

Two Django internals are used, both tested (tests/test_prepared_statements.py): the raw
connection (`connection.connection`) and the wrapper that turns the driver's errors into
Django's (`connection.wrap_database_errors`), so callers catch what the ORM raises.
"""

from collections.abc import Sequence

import psycopg
from django.db import connection


def execute(sql: str, params: Sequence, *, after: str | None = None) -> psycopg.Cursor:
    """Run `sql`, prepared; with `after`, a parameterless statement (a SAVEPOINT, say) runs
    first in the same round trip. The cursor holds `sql`'s result."""
    connection.validate_thread_sharing()
    connection.ensure_connection()
    raw = connection.connection
    with connection.wrap_database_errors:
        cursor = psycopg.Cursor(raw)
        if after is None:
            return cursor.execute(sql, params, prepare=True)
        with raw.pipeline():
            psycopg.Cursor(raw).execute(after, prepare=True)
            cursor.execute(sql, params, prepare=True)
        return cursor
