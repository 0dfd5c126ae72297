"""The few statements a hot path runs over and over, prepared by PostgreSQL once per
connection.

Django's psycopg cursors bind parameters on the client and leave psycopg's prepared
statements off, as connection poolers in transaction mode need: every execution quotes each
value into the text, and the server parses and plans the statement anew. For the job
worker's claim, planning cost the server as much as running it. Statements run here go
through psycopg's server-binding cursor instead, which prepares a statement once it has run
it `prepare_threshold` times (settings.py); the rest of the project keeps Django's defaults.
PostgreSQL only.

The cursor is wrapped as Django wraps its own, so the driver's errors come out as Django's
and the statements are logged where queries are (`assert_num_queries`, DEBUG). That takes
three Django internals, all tested (tests/test_prepared_statements.py): the raw connection
(`connection.connection`), the cursor wrappers of `django.db.backends.utils`, and
`wrap_database_errors`.
"""

from collections.abc import Sequence

import psycopg
from django.db import DEFAULT_DB_ALIAS, connections
from django.db.backends.utils import CursorDebugWrapper, CursorWrapper

# First in a transaction whose last fraction of a second may be lost should PostgreSQL crash:
# its commit returns without waiting for the WAL to reach the disk. Each user says why.
WITHOUT_WAITING_FOR_THE_DISK = "SET LOCAL synchronous_commit TO OFF"


def execute(sql: str, params: Sequence, *, first: Sequence[str] = ()) -> CursorWrapper:
    """Run `sql`, after the parameterless statements `first` (a SAVEPOINT, say) in the same
    round trip. The cursor holds `sql`'s result."""
    # The connection itself, not the `django.db.connection` proxy, which looks this thread's
    # up again on every attribute read.
    connection = connections[DEFAULT_DB_ALIAS]
    connection.validate_thread_sharing()
    connection.ensure_connection()
    raw = connection.connection
    wrapper = CursorDebugWrapper if connection.queries_logged else CursorWrapper
    cursor = wrapper(psycopg.Cursor(raw), connection)
    if not first:
        cursor.execute(sql, params)
        return cursor
    # In a pipeline the server's answers, errors included, arrive as it ends.
    with connection.wrap_database_errors, raw.pipeline():
        setup = psycopg.Cursor(raw)
        for statement in first:
            setup.execute(statement)
        cursor.execute(sql, params)
    return cursor
